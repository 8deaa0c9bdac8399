"""Petitions (上访): workers who took their unpaid wages to a government office, recorded against the case (or a
new case opened for them when none exists). The petition names the case's handling department and county at the
time, which answer for it: it is on the case's timeline, tagged in the queue and counted in the figures.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.foundation.actions import CaseAction
from intake.foundation.models import Channel, Complaint, Event, EventKind, Jurisdiction, Petition
from intake.foundation.transitions import record
from intake.foundation.validation import WORKERS_MAX
from intake.people.access import Scope
from intake.people.staff import Role

from .cases import CaseContext, CaseError
from .complaints import NewComplaint, create_complaint

TEXT_MAX = 200
NOTE_MAX = 2000


def _text(value: str | None, label: str, limit: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise CaseError(f"请填写{label}")
    if len(value) > limit:
        raise CaseError(f"{label}不能超过{limit}字")
    return value


def record_petition(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str,
                    petitioned_at: datetime, place: str, people: int, who: str, note: str = "") -> Event:
    """A petition over this case: when, where, how many, who led or came; flushed, never committed."""
    place, who = _text(place, "上访地点", TEXT_MAX), _text(who, "上访人", TEXT_MAX)
    note = _text(note, "情况说明", NOTE_MAX, required=False)
    if petitioned_at > ctx.now:
        raise CaseError("上访时间不能晚于现在")
    if not 1 <= people <= WORKERS_MAX:
        raise CaseError(f"上访人数应在1到{WORKERS_MAX}之间")
    department = complaint.department
    county = department.jurisdiction_code if department is not None else complaint.jurisdiction_code
    session.add(Petition(complaint_id=complaint.id, petitioned_at=petitioned_at, place=place, people=people,
                         who=who, note=note, department_id=complaint.department_id, jurisdiction_code=county,
                         recorded_by=actor, created_at=ctx.now))
    when = petitioned_at.astimezone(ctx.calendar.timezone)
    return record(session, complaint, EventKind.PETITIONED, actor=actor,
                  note=f"{when:%Y-%m-%d %H:%M}在{place}上访，{people}人（{who}）" + (f"：{note}" if note else ""),
                  data={"petitioned_at": petitioned_at.isoformat(), "place": place, "people": people, "who": who,
                        "department_id": complaint.department_id})


def open_case(session: Session, ctx: CaseContext, scope: Scope, *, county: str, project_name: str,
              phone: str | None, petitioned_at: datetime, place: str, people: int, who: str,
              note: str = "") -> Complaint:
    """Petitioners with no case yet: a case is opened for them (a walk-in complaint, routed like any other) and
    the petition recorded on it; a county supervisor opens one only in the county."""
    scope.require(CaseAction.PETITION)
    actor = scope.actor
    project_name = _text(project_name, "工地或项目名称", 300)
    found = session.get(Jurisdiction, county or "")
    if found is None or found.parent_code is None or scope.role is Role.COUNTY and county != scope.jurisdiction_code:
        raise CaseError("请选择您范围内的区县")
    complaint, _ = create_complaint(session, NewComplaint(
        channel=Channel.WALK_IN.value, phone=phone, name=_text(who, "上访人", TEXT_MAX), workers=people,
        free_text=_text(note, "情况说明", NOTE_MAX), jurisdiction_code=county, project_name=project_name,
        claim={"entered_by": actor, "petition": True}))
    record_petition(session, complaint, ctx, actor=actor, petitioned_at=petitioned_at, place=place, people=people,
                    who=who, note=note)
    return complaint


def counts(session: Session, complaint_ids: list[int]) -> dict[int, int]:
    """Petitions per case, for a page of the queue in one query."""
    if not complaint_ids:
        return {}
    return dict(session.execute(select(Petition.complaint_id, func.count()).where(
        Petition.complaint_id.in_(complaint_ids)).group_by(Petition.complaint_id)).all())
