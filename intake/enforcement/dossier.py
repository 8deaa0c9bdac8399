"""A case's documents as plain data: the order to pay as served on the employer, and the dossier for arbitration,
court or police (facts, claim lines, orders, timeline with each event's place and hash in the case's chain, and
every stored file with the SHA-256 the chain sealed, its original as received beside it). handlers/ lays them out
on paper and packs the ZIP.

The order names the worker only when the complaint is not anonymous. The worker's own dossier holds what their
status page shows (the timeline in the worker's words, no internal notes, no official's name) beside the files,
originals included: they are the worker's own.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.foundation.encryption import DataKeyError
from intake.foundation.models import Attachment, Complaint, Event, EventKind, PaymentOrder
from intake.foundation.texts import EVENT_LABELS, event_text, when_text
from intake.people.actors import actor_names

from . import evidence
from .orders import EXPIRED, PAID

ORDER_STATES = {"served": "已送达，待支付", PAID: "已按期支付", EXPIRED: "逾期未支付"}
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "application/pdf": "pdf"}
NO_DEPARTMENT = "承办部门"


@dataclass(frozen=True)
class OrderPaper:
    """责令限期支付 as printed: what, by when, on whom, at what rate of compensation if ignored."""

    reference: str
    department: str
    ticket_no: str
    employer: str
    amount: int
    due: str
    issued: str
    compensation_percent: int
    complainant: str
    project: str
    state: str


@dataclass(frozen=True)
class Original:
    """A file as it was received; `path` is the cleaned copy's when the two are the same (a PDF), and `content` is
    then empty: the ZIP holds those bytes once."""

    path: str
    content: bytes
    sha256: str  # of the original's bytes as exported
    sealed_sha256: str | None  # as the case's chain registered it

    @property
    def same_as_cleaned(self) -> bool:
        return not self.content


@dataclass(frozen=True)
class DossierFile:
    attachment_id: int
    path: str  # inside the ZIP
    filename: str  # as the worker or channel named it
    received: str  # as people read it
    received_at: str  # ISO 8601 in the deployment's time zone, for the manifest
    content: bytes
    sha256: str  # of the bytes exported
    sealed_sha256: str | None  # as the case's chain registered it
    chain_index: int | None
    original: Original | None  # None: none kept (stored before originals were), or it no longer opens


@dataclass(frozen=True)
class Dossier:
    ticket_no: str
    department: str
    facts: list[tuple[str, str]]
    claim_lines: list[tuple[str, str, str]]
    orders: list[tuple[str, str, str, str, str]]
    timeline: list[tuple[str, str, str, str, str, str]]  # place, when, what, who, note, hash
    files: list[DossierFile]
    chain_head: str | None
    findings: list[str]
    for_worker: bool


def _department(complaint: Complaint) -> str:
    return complaint.department.name if complaint.department else NO_DEPARTMENT


def _project(complaint: Complaint) -> str:
    if complaint.site:
        return f"{complaint.site.name}（{complaint.site.code}）"
    return complaint.project_name or "工地不明"


def order_of(session: Session, complaint: Complaint, order_id: int) -> PaymentOrder | None:
    order = session.get(PaymentOrder, order_id)
    return order if order is not None and order.complaint_id == complaint.id else None


def order_paper(complaint: Complaint, order: PaymentOrder, timezone: str) -> OrderPaper:
    issued = order.issued_at.astimezone(ZoneInfo(timezone))
    return OrderPaper(
        reference=f"清零〔{issued.year}〕{complaint.ticket_no}-{order.id}号", department=_department(complaint),
        ticket_no=complaint.ticket_no, employer=order.employer, amount=order.amount,
        due=when_text(order.due_at, timezone), issued=f"{issued.year}年{issued.month}月{issued.day}日",
        compensation_percent=order.compensation_percent,
        complainant="匿名投诉（不公开投诉人身份）" if complaint.anonymous else (complaint.complainant.name or "未留姓名"),
        project=_project(complaint), state=ORDER_STATES[order.state])


def dossier(session: Session, complaint: Complaint, timezone: str, *, for_worker: bool = False) -> Dossier:
    """Everything a case holds, read once; the chain is verified as it stands now and its findings included."""
    events = list(session.scalars(select(Event).where(Event.complaint_id == complaint.id).order_by(Event.id)))
    chained = sorted((e for e in events if e.chain_index is not None), key=lambda e: e.chain_index)
    sealed = {e.data.get("attachment_id"): e for e in chained if e.kind == EventKind.EVIDENCE_STORED}
    files = [_file(a, sealed.get(a.id), timezone) for a in session.scalars(
        select(Attachment).where(Attachment.complaint_id == complaint.id).order_by(Attachment.id)) if a.content]
    orders = session.scalars(select(PaymentOrder).where(PaymentOrder.complaint_id == complaint.id)
                             .order_by(PaymentOrder.id))
    report = evidence.verify(session, complaint.ticket_no)
    return Dossier(
        ticket_no=complaint.ticket_no, department=_department(complaint), facts=_facts(complaint, timezone),
        claim_lines=[(line.worker_name or "—", _yuan(line.amount_claimed), _yuan(line.amount_paid))
                     for line in complaint.claim_lines],
        orders=[(o.employer, _yuan(o.amount), when_text(o.due_at, timezone), ORDER_STATES[o.state],
                 _yuan(o.compensation) if o.compensation is not None else "—") for o in orders],
        timeline=_worker_timeline(events, timezone) if for_worker else _timeline(session, events, timezone),
        files=files, chain_head=chained[-1].hash if chained else None,
        findings=[f.what for f in report.findings], for_worker=for_worker)


def _yuan(amount: int | None) -> str:
    return "—" if amount is None else f"{amount:,} 元"


def _facts(complaint: Complaint, timezone: str) -> list[tuple[str, str]]:
    worker = "匿名" if complaint.anonymous else (complaint.complainant.name or "未留姓名")
    return [("案件编号", complaint.ticket_no), ("收到时间", when_text(complaint.created_at, timezone)),
            ("承办部门", _department(complaint)), ("投诉人", worker), ("项目", _project(complaint)),
            ("欠薪方", (complaint.claim or {}).get("employer") or "—"),
            ("人数", f"{complaint.workers or 1} 人"), ("欠薪金额", _yuan(complaint.amount)),
            ("拖欠月数", f"{complaint.months} 个月" if complaint.months else "—"),
            ("已追回", _yuan(complaint.amount_recovered or 0)), ("反映内容", complaint.free_text or "—")]


def _timeline(session: Session, events: list[Event], timezone: str) -> list[tuple[str, str, str, str, str, str]]:
    names = actor_names(session, (e.actor for e in events))
    return [(_place(e), when_text(e.created_at, timezone), EVENT_LABELS.get(e.kind, e.kind), names.get(e.actor, e.actor),
             e.note or "", e.hash or "未入链") for e in _in_chain_order(events)]


def _worker_timeline(events: list[Event], timezone: str) -> list[tuple[str, str, str, str, str, str]]:
    return [(_place(e), when_text(e.created_at, timezone), text, "", "", e.hash or "未入链")
            for e in _in_chain_order(events) if (text := event_text(e)) is not None]


def _in_chain_order(events: list[Event]) -> list[Event]:
    """Events before the chain first (by id), then the chain by place."""
    return sorted(events, key=lambda e: (e.chain_index is not None, e.chain_index or 0, e.id))


def _place(event: Event) -> str:
    return str(event.chain_index) if event.chain_index is not None else "—"


def _file(attachment: Attachment, sealed: Event | None, timezone: str) -> DossierFile:
    extension = EXTENSIONS.get(attachment.content_type, "bin")
    path, received = f"files/{attachment.id}.{extension}", attachment.received_at or attachment.created_at
    return DossierFile(
        attachment_id=attachment.id, path=path, filename=attachment.filename, received=when_text(received, timezone),
        received_at=received.astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds"), content=attachment.content,
        sha256=hashlib.sha256(attachment.content).hexdigest(),
        sealed_sha256=sealed.data.get("sha256") if sealed else None,
        chain_index=sealed.chain_index if sealed else None,
        original=_original(attachment, sealed, f"originals/{attachment.id}.{extension}", path))


def _original(attachment: Attachment, sealed: Event | None, path: str, cleaned_path: str) -> Original | None:
    """The original to export; one that does not open is left out (the chain's findings, printed in the dossier,
    say so)."""
    try:
        content = evidence.original_of(attachment)
    except DataKeyError:
        return None
    if content is None:
        return None
    same = content == attachment.content
    return Original(path=cleaned_path if same else path, content=b"" if same else content,
                    sha256=hashlib.sha256(content).hexdigest(),
                    sealed_sha256=sealed.data.get("original_sha256") if sealed else None)
