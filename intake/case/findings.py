"""摸排: the register of hidden arrears found in inspections, apart from the cases.

An inspector who finds workers unpaid on a site writes down where (a registered site, or a place in words when the
site is not registered), the employer, the estimated amount and number of workers, who found it and when. No
worker has complained and no worker's identity is needed. A finding then either becomes a case (one click: a
proactive complaint of channel "survey", routed like any other, the finding linked to it and marked 已立案) or is
closed as resolved on the spot (已当场解决, with the amount paid). Both are one conditional update on the finding's
status, so a double click or two staff at once do it once and the other is told it is done. The 两个清零 figures
and the ledger count the register (`totals`, `ledger_rows`).

Findings come from the console (one by one) or from the backlog import's 摸排 rows (intake.case.backlog), whose
original number (`reference`) is unique per county, so importing the same file again adds nothing.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, false, func, select, true, update
from sqlalchemy.orm import Session, joinedload

from intake.foundation.models import Channel, Complaint, Finding, Jurisdiction, Site
from intake.people.access import Role, Scope

from .complaints import NewComplaint, create_complaint

OPEN, CASE, RESOLVED = "open", "case", "resolved"
STATUS_TEXT = {OPEN: "待处置", CASE: "已立案", RESOLVED: "已当场解决"}
TEXT_MAX, NAME_MAX = 2000, 300
AMOUNT_MAX, WORKERS_MAX = 10_000_000_000, 100_000
LIST_MAX = 500


class FindingError(ValueError):
    """What is wrong with a finding or a step on it, in staff's words."""


@dataclass
class Totals:
    """The register as the 两个清零 figures count it: findings and their estimated amounts by outcome."""
    open: int = 0
    cases: int = 0
    resolved: int = 0
    amount_open: int = 0
    amount_cases: int = 0
    amount_paid: int = 0  # paid on the spot


def in_scope(scope: Scope) -> ColumnElement[bool]:
    """The findings a user sees: the city's all of them, everyone else their county's."""
    if scope.role is Role.ADMIN or scope.city_level:
        return true()
    if scope.jurisdiction_code is None:
        return false()
    return Finding.jurisdiction_code == scope.jurisdiction_code


def counties(session: Session, scope: Scope) -> list[Jurisdiction]:
    """The counties a user may enter findings for."""
    query = select(Jurisdiction).where(Jurisdiction.parent_code.is_not(None)).order_by(Jurisdiction.code)
    if not (scope.role is Role.ADMIN or scope.city_level):
        query = query.where(Jurisdiction.code == scope.jurisdiction_code)
    return list(session.scalars(query))


def findings_for(session: Session, scope: Scope, *, status: str = "", county: str = "") -> list[Finding]:
    query = (select(Finding).where(in_scope(scope)).order_by(Finding.found_on.desc(), Finding.id.desc())
             .options(joinedload(Finding.site), joinedload(Finding.jurisdiction), joinedload(Finding.complaint))
             .limit(LIST_MAX))
    if status:
        query = query.where(Finding.status == status)
    if county:
        query = query.where(Finding.jurisdiction_code == county)
    return list(session.scalars(query))


def finding_for(session: Session, scope: Scope, finding_id: int) -> Finding | None:
    return session.scalar(select(Finding).where(Finding.id == finding_id, in_scope(scope)))


def add_finding(session: Session, *, county: str, site: Site | None, place: str, employer: str,
                amount: int | None, workers: int | None, found_by: str, found_on: date, note: str, actor: str,
                today: date, reference: str | None = None) -> Finding:
    """A new open finding, checked; flushes, never commits. The caller has checked the county is the user's."""
    place, employer, found_by, note = (" ".join((v or "").split()) for v in (place, employer, found_by, note))
    if site is not None and site.jurisdiction_code != county:
        raise FindingError("该工地不在所选区县")
    if site is None and not place:
        raise FindingError("请填写工地编号，或未登记工地的地点")
    if not employer:
        raise FindingError("请填写欠薪单位")
    if not found_by:
        raise FindingError("请填写发现人")
    if found_on > today:
        raise FindingError("发现日期不能晚于今天")
    if max(len(place), len(employer)) > NAME_MAX or len(found_by) > 100 or len(note) > TEXT_MAX:
        raise FindingError("内容过长")
    finding = Finding(jurisdiction_code=county, site_id=site.id if site else None, place=None if site else place,
                      employer=employer, amount=amount, workers=workers, found_by=found_by, found_on=found_on,
                      note=note or None, reference=reference, created_by=actor)
    session.add(finding)
    session.flush()
    return finding


def where(finding: Finding) -> str:
    return finding.site.name if finding.site is not None else finding.place or ""


def _claim(session: Session, finding: Finding, status: str, actor: str, now: datetime, **values: Any) -> None:
    """Move an open finding to `status` in one conditional update: of two clicks (or two staff) only one gets it."""
    done = session.execute(update(Finding).where(Finding.id == finding.id, Finding.status == OPEN)
                           .values(status=status, closed_by=actor, closed_at=now, **values)
                           .execution_options(synchronize_session=False))
    if done.rowcount != 1:
        session.refresh(finding)
        raise FindingError(f"该线索{STATUS_TEXT.get(finding.status, '已处理')}，不能再处理")
    session.refresh(finding)


def open_case(session: Session, finding: Finding, *, actor: str, now: datetime) -> Complaint:
    """立案: a proactive complaint (channel "survey") for the finding, routed by the worker like any complaint; no
    worker's identity. Flushes, never commits."""
    _claim(session, finding, CASE, actor, now)
    amount = f"约{finding.amount}元" if finding.amount else "金额待核实"
    workers = f"约{finding.workers}名工人" if finding.workers else "工人"
    complaint, _ = create_complaint(session, NewComplaint(
        channel=Channel.SURVEY.value, phone=None, site_id=finding.site_id, jurisdiction_code=finding.jurisdiction_code,
        project_name=where(finding), workers=finding.workers, amount=finding.amount,
        free_text=f"摸排发现：{finding.found_on.isoformat()}{finding.found_by}在{where(finding)}发现{finding.employer}"
                  f"拖欠{workers}工资，{amount}。{finding.note or ''}"[:TEXT_MAX],
        claim={"employer": finding.employer, "finding_id": finding.id}, submission_key=f"finding:{finding.id}"))
    finding.complaint_id = complaint.id
    session.flush()
    return complaint


def resolve_on_spot(session: Session, finding: Finding, *, amount_paid: int | None, actor: str,
                    now: datetime) -> Finding:
    """已当场解决: the employer paid while the inspectors were there. Flushes, never commits."""
    if amount_paid is None:
        raise FindingError("请填写当场支付的金额")
    _claim(session, finding, RESOLVED, actor, now, amount_paid=amount_paid)
    return finding


def totals(session: Session, scope: Scope, county: str = "") -> Totals:
    query = (select(Finding.status, func.count(), func.coalesce(func.sum(Finding.amount), 0),
                    func.coalesce(func.sum(Finding.amount_paid), 0))
             .where(in_scope(scope)).group_by(Finding.status))
    if county:
        query = query.where(Finding.jurisdiction_code == county)
    found = Totals()
    for status, count, amount, paid in session.execute(query):
        if status == OPEN:
            found.open, found.amount_open = count, int(amount)
        elif status == CASE:
            found.cases, found.amount_cases = count, int(amount)
        elif status == RESOLVED:
            found.resolved, found.amount_paid = count, int(paid)
    return found


LEDGER_HEADER = ("线索编号", "原编号", "所在区县", "工地或地点", "欠薪单位", "估计人数", "估计金额", "发现人", "发现日期",
                 "状态", "案件编号", "当场支付金额", "处置人", "处置时间")


def ledger_rows(session: Session, scope: Scope, filters: Any, timezone: str) -> Iterator[tuple]:
    """The 摸排 sheet of the ledger export: the findings in scope found within the dashboard's dates and county
    (`filters`: start, end, county), oldest first."""
    zone = ZoneInfo(timezone)
    query = (select(Finding).where(in_scope(scope)).order_by(Finding.id)
             .options(joinedload(Finding.site), joinedload(Finding.jurisdiction), joinedload(Finding.complaint)))
    if filters.start:
        query = query.where(Finding.found_on >= filters.start)
    if filters.end:
        query = query.where(Finding.found_on < filters.end + timedelta(days=1))
    if filters.county:
        query = query.where(Finding.jurisdiction_code == filters.county)
    for f in session.scalars(query):
        closed = f.closed_at.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0) if f.closed_at else None
        yield (f.id, f.reference or "", f.jurisdiction.name, where(f), f.employer, f.workers, f.amount, f.found_by,
               f.found_on, STATUS_TEXT[f.status], f.complaint.ticket_no if f.complaint else "", f.amount_paid,
               f.closed_by or "", closed)

