"""Ledger exports off the request path: the console asks for one (a job row), the worker writes the file, and
its requester downloads it until it expires.

A ledger of 100,000 rows takes longer than a web worker may be held (and holds one of the few while it runs),
so the worker streams the rows into a file under the instance folder, with the filters, scope and labels the
request would have used; the scope is the requester's as it is when the file is written. Every file written and
every download is in the audit log.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.delivery.outbox import claim_first
from intake.foundation.models import ExportJob, StaffUser
from intake.people.access import Scope
from intake.people.audit import audit

from . import ledger
from .figures import Filters
from .spreadsheet import write_csv, write_xlsx

log = logging.getLogger(__name__)

PENDING, DONE, FAILED, EXPIRED = "pending", "done", "failed", "expired"
# kind -> (what the audit log calls it, file name suffix, extension)
KINDS = {"ledger_xlsx": ("ledger", "", ".xlsx"), "ledger_csv": ("ledger", "", ".csv"),
         "ledger_lines_csv": ("ledger_lines", "-工人明细", ".csv"),
         "ledger_warnings_csv": ("ledger_warnings", "-预警", ".csv"),
         "ledger_findings_csv": ("ledger_findings", "-摸排线索", ".csv")}
_DATES = ("start", "end")


class ExportError(ValueError):
    """An export that cannot be asked for (an unknown kind); the message is for staff."""


def filters_data(filters: Filters) -> dict[str, Any]:
    """The filters as the job keeps them (JSON)."""
    return {"start": filters.start.isoformat() if filters.start else None,
            "end": filters.end.isoformat() if filters.end else None, "county": filters.county,
            "department_id": filters.department_id, "industry": filters.industry, "investment": filters.investment}


def filters_of(data: dict[str, Any]) -> Filters:
    return Filters(**{**data, **{k: date.fromisoformat(data[k]) if data.get(k) else None for k in _DATES}})


def request_export(session: Session, scope: Scope, kind: str, filters: Filters, now: datetime) -> ExportJob:
    """A job for the worker. The same export still waiting for the same user is reused (a double click, a
    reload of the old link), so asking twice writes one file."""
    if kind not in KINDS:
        raise ExportError("没有这种导出")
    data = filters_data(filters)
    waiting = session.scalars(select(ExportJob).where(ExportJob.user_id == scope.user_id, ExportJob.kind == kind,
                                                      ExportJob.state == PENDING)).all()
    same = next((job for job in waiting if job.filters == data), None)
    if same is not None:
        return same
    job = ExportJob(user_id=scope.user_id, kind=kind, filters=data, state=PENDING, created_at=now)
    session.add(job)
    session.flush()
    return job


def job_for(session: Session, scope: Scope, job_id: int) -> ExportJob | None:
    """The user's own export; anyone else's does not exist for them (the file holds their scope's cases)."""
    job = session.get(ExportJob, job_id)
    return job if job is not None and scope.principal == "staff" and job.user_id == scope.user_id else None


def recent(session: Session, scope: Scope, limit: int = 5) -> list[ExportJob]:
    return list(session.scalars(select(ExportJob).where(ExportJob.user_id == scope.user_id)
                                .order_by(ExportJob.id.desc()).limit(limit)))


def download_name(job: ExportJob) -> str:
    """台账-<start>至<end>[-工人明细].<ext>, as the in-request export named it."""
    _, suffix, extension = KINDS[job.kind]
    filters = job.filters
    end = filters.get("end") or job.created_at.date().isoformat()
    return f"台账-{filters.get('start') or ''}至{end}{suffix}{extension}"


@dataclass(frozen=True)
class Sheet:
    """A sheet a package above supervision adds to the ledger (the warnings' 预警): in the XLSX after the ledger's
    own, and alone as a CSV kind."""
    title: str
    header: Sequence[str]
    rows: Callable[[Session, Scope, Filters, str], Iterable[Sequence[Any]]]


@dataclass(frozen=True)
class Exporter:
    """What the worker needs to write exports: where the files go, how staff name statuses and channels, the
    reporting time zone, and how long a file is kept."""

    directory: Path
    labels: ledger.Labels
    timezone: str
    keep: timedelta
    extra: Mapping[str, Sheet] = field(default_factory=dict)  # its CSV kind -> a sheet from above supervision

    def path(self, job: ExportJob) -> Path:
        """The job's file: its id and the moment it was asked for (two databases sharing a folder never meet)."""
        return self.directory / f"ledger-{job.id}-{job.created_at:%Y%m%d%H%M%S%f}{KINDS[job.kind][2]}"

    def claim_next(self, session: Session) -> ExportJob | None:
        return claim_first(session, select(ExportJob).where(ExportJob.state == PENDING).order_by(ExportJob.id))

    def produce(self, session: Session, job: ExportJob, now: datetime) -> None:
        """Write the job's file (to a partial name first, so a crash never leaves half a file to download)."""
        user = session.get(StaffUser, job.user_id)
        scope = Scope.of(user)
        if not user.active or not scope.may("export"):
            job.state, job.error, job.finished_at = FAILED, "账号已无导出权限", now
            session.flush()
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.path(job)
        partial = path.with_name(path.name + ".part")
        with partial.open("wb") as out:
            rows = self._write(session, job.kind, out, scope, filters_of(job.filters))
        partial.replace(path)
        job.state, job.rows, job.finished_at, job.expires_at = DONE, rows, now, now + self.keep
        job.file_name = download_name(job)
        what = KINDS[job.kind][0]
        audit(session, user_id=user.id, username=user.username, action="export",
              detail={"what": what, "rows": rows, "format": path.suffix[1:], "job_id": job.id,
                      "filters": {k: v for k, v in job.filters.items() if v}})
        log.info("export %s (%s) written: %s rows", job.id, job.kind, rows)

    def _write(self, session: Session, kind: str, out: BinaryIO, scope: Scope, filters: Filters) -> int:
        if kind in self.extra:
            sheet = self.extra[kind]
            return write_csv(out, sheet.header, sheet.rows(session, scope, filters, self.timezone))
        lines = ledger.claim_lines(session, scope, filters, self.timezone)
        if kind == "ledger_lines_csv":
            return write_csv(out, ledger.LINES_HEADER, lines)
        rows = ledger.rows(session, scope, filters, self.timezone, self.labels)
        if kind == "ledger_csv":
            return write_csv(out, ledger.HEADER, rows)
        return write_xlsx(out, [("台账", ledger.HEADER, rows), ("工人明细", ledger.LINES_HEADER, lines),
                                *((s.title, s.header, s.rows(session, scope, filters, self.timezone))
                                  for s in self.extra.values())])

    def expire(self, session: Session, now: datetime) -> int:
        """Delete the files whose time is up; their jobs say so."""
        due = session.scalars(select(ExportJob).where(ExportJob.state == DONE, ExportJob.expires_at <= now)).all()
        for job in due:
            self.path(job).unlink(missing_ok=True)
            job.state = EXPIRED
        session.flush()
        return len(due)
