"""Petitions (上访): workers who took their unpaid wages to a government office, recorded against the case (or a
new case opened for them when none exists), or against a site when no one case is named (a group visit over a
project). A case's petition names the case's handling department and county at the time, a site's the department
that owns the site (routing.site_department) and the site's county; they answer for it: it is on the timelines
(every case of the site open when it is recorded), tagged in the queue, listed per site and counted in the figures.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session, selectinload

from intake.delivery.outbox import notify_department
from intake.foundation.actions import CaseAction
from intake.foundation.models import Channel, Complaint, Event, EventKind, Jurisdiction, Petition, Site, Status
from intake.foundation.transitions import record
from intake.foundation.validation import WORKERS_MAX
from intake.people.access import Scope
from intake.people.staff import Role

from .cases import CaseContext, CaseError
from .complaints import NewComplaint, create_complaint
from .routing import site_department

TEXT_MAX = 200
NOTE_MAX = 2000
LIST_MAX = 200


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
    place, who, note = _checked(ctx, petitioned_at, place, people, who, note)
    department = complaint.department
    county = department.jurisdiction_code if department is not None else complaint.jurisdiction_code
    session.add(Petition(complaint_id=complaint.id, site_id=complaint.site_id, petitioned_at=petitioned_at,
                         place=place, people=people, who=who, note=note, department_id=complaint.department_id,
                         jurisdiction_code=county, recorded_by=actor, created_at=ctx.now))
    return record(session, complaint, EventKind.PETITIONED, actor=actor,
                  note=_sentence(ctx, petitioned_at, place, people, who, note),
                  data={"petitioned_at": petitioned_at.isoformat(), "place": place, "people": people, "who": who,
                        "department_id": complaint.department_id})


def _checked(ctx: CaseContext, petitioned_at: datetime, place: str, people: int, who: str,
             note: str) -> tuple[str, str, str]:
    place, who = _text(place, "上访地点", TEXT_MAX), _text(who, "上访人", TEXT_MAX)
    note = _text(note, "情况说明", NOTE_MAX, required=False)
    if petitioned_at > ctx.now:
        raise CaseError("上访时间不能晚于现在")
    if not 1 <= people <= WORKERS_MAX:
        raise CaseError(f"上访人数应在1到{WORKERS_MAX}之间")
    return place, who, note


def _sentence(ctx: CaseContext, petitioned_at: datetime, place: str, people: int, who: str, note: str) -> str:
    when = petitioned_at.astimezone(ctx.calendar.timezone)
    return f"{when:%Y-%m-%d %H:%M}在{place}上访，{people}人（{who}）" + (f"：{note}" if note else "")


def site_in_scope(session: Session, scope: Scope, code: str) -> Site | None:
    return session.scalar(select(Site).where(Site.code == (code or "").strip(), scope.sites()))


def record_site_petition(session: Session, ctx: CaseContext, scope: Scope, *, site_code: str,
                         petitioned_at: datetime, place: str, people: int, who: str, note: str = "") -> Petition:
    """A petition against a site, no case named: the department that owns the site and the site's county answer
    for it; every open case of the site has it on its timeline, and the department is told."""
    scope.require(CaseAction.PETITION)
    site = site_in_scope(session, scope, site_code)
    if site is None:
        raise CaseError("没有这个工地编号，或不在您的范围内")
    place, who, note = _checked(ctx, petitioned_at, place, people, who, note)
    owner = site_department(session, site, ctx.settings)
    petition = Petition(site_id=site.id, petitioned_at=petitioned_at, place=place, people=people, who=who,
                        note=note, department_id=owner.id if owner is not None else None,
                        jurisdiction_code=site.jurisdiction_code, recorded_by=scope.actor, created_at=ctx.now)
    session.add(petition)
    sentence = f"工地“{site.name}”有工人上访：" + _sentence(ctx, petitioned_at, place, people, who, note)
    for complaint in session.scalars(select(Complaint).where(
            Complaint.site_id == site.id, Complaint.status != Status.CLOSED.value,
            Complaint.duplicate_of_id.is_(None)).order_by(Complaint.id)):
        record(session, complaint, EventKind.PETITIONED, actor=scope.actor, note=sentence, flush=False,
               data={"petitioned_at": petitioned_at.isoformat(), "place": place, "people": people, "who": who,
                     "site_id": site.id})
    if owner is not None:
        notify_department(session, owner, {"kind": "site_petition", "text": f"【清零】{sentence}。请贵单位牵头处理该工地的欠薪问题。"},
                          None, ctx.now, flush=False)
    session.flush()
    return petition


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
    """Petitions per case, its own and its site's recorded since it came in, for a page of the queue in one
    query."""
    if not complaint_ids:
        return {}
    on_site = and_(Petition.complaint_id.is_(None), Petition.site_id == Complaint.site_id,
                   Petition.created_at >= Complaint.created_at)
    return dict(session.execute(
        select(Complaint.id, func.count()).join(Petition, or_(Petition.complaint_id == Complaint.id, on_site))
        .where(Complaint.id.in_(complaint_ids)).group_by(Complaint.id)).all())


def listed(session: Session, scope: Scope, site: Site | None = None) -> list[Petition]:
    """The petitions the user's scope answers for (by the department and county they name), newest first; those
    against one site (its own and its cases') when a site is given."""
    query = select(Petition).where(scope.units(Petition.department_id, Petition.jurisdiction_code))
    if site is not None:
        query = query.where(Petition.site_id == site.id)
    return list(session.scalars(query.options(
        selectinload(Petition.complaint), selectinload(Petition.site), selectinload(Petition.department),
        selectinload(Petition.jurisdiction)).order_by(Petition.petitioned_at.desc(), Petition.id.desc())
        .limit(LIST_MAX)))


def per_site(session: Session, site_ids: list[int]) -> dict[int, int]:
    """Petitions per site (its own and its cases'), for a page of the sites in one query."""
    if not site_ids:
        return {}
    return dict(session.execute(select(Petition.site_id, func.count()).where(Petition.site_id.in_(site_ids))
                                .group_by(Petition.site_id)).all())
