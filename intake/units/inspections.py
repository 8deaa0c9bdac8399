"""Inspections (督查): the leading group's office, or a county's supervisors within their county, record a visit to a
county (and within it a department or a site): who went, what they found, and each finding to be put right
(整改事项) with its owner unit and a deadline. The owner unit answers each of its items once; an item unanswered
past its deadline is overdue, and the office lists those.

Who records and follows: the roles with the "tasks" power, like tasks (intake.units.tasks), whose rules for units
in reach, who answers for a unit and deadline states these share.

An item's unit is reminded `[units] remind_days` working days before the item's deadline and told when it has
passed, as a task's units are: two timer rows of the item ("rectification:remind", "rectification:overdue") that
the worker fires, cancelled when the unit answers.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select, true
from sqlalchemy.orm import Session, selectinload

from intake.case import timers
from intake.case.co_clocks import remind_at
from intake.delivery.outbox import notify_department
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.models import Complaint, Inspection, Jurisdiction, RectificationItem, Site, Timer
from intake.foundation.settings import UnitSettings
from intake.people.access import Scope
from intake.people.staff import Role
from intake.registry.directory import department

from .tasks import MAX_TEXT, OVERDUE, REMIND, TaskError, answerable, answers_for, check_units, deadline_state, unit_name

MAX_ITEMS = 20
ITEM_CLOCK = "rectification"


@dataclass(frozen=True)
class NewItem:
    finding: str
    owner: str  # "department:<id>" or "county:<code>", as the form's choice says
    due_on: date


@dataclass(frozen=True)
class ItemRow:
    item: RectificationItem
    unit: str
    state: str  # as tasks.deadline_state: on_time, late, overdue, open


def _text(value: str, label: str, limit: int, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise TaskError(f"请填写{label}")
    if len(value) > limit:
        raise TaskError(f"{label}不能超过{limit}字")
    return value


def _owner(session: Session, scope: Scope, owner: str) -> tuple[int | None, str | None]:
    kind, _, value = (owner or "").partition(":")
    if kind == "department" and value.isdigit():
        return check_units(session, scope, [int(value)], [])[0][0], None
    if kind == "county" and value:
        return None, check_units(session, scope, [], [value])[1][0]
    raise TaskError("请为每个整改事项选择责任单位")


def record(session: Session, scope: Scope, *, inspected_on: date, county: str, department_id: int | None,
           site_code: str, inspectors: str, summary: str, items: list[NewItem], now: datetime,
           calendar: WorkingCalendar, settings: UnitSettings) -> Inspection:
    """An inspection and its rectification items, each due at the close of work on its day, and their reminders."""
    scope.require("tasks")
    today = now.astimezone(calendar.timezone).date()
    if inspected_on > today:
        raise TaskError("督查日期不能晚于今天")
    check_units(session, scope, [department_id] if department_id else [], [county])
    site = None
    if site_code.strip():
        site = session.scalar(select(Site).where(Site.code == site_code.strip(), Site.jurisdiction_code == county))
        if site is None:
            raise TaskError(f"该区县没有编号为“{site_code.strip()}”的工地")
    inspection = Inspection(inspected_on=inspected_on, jurisdiction_code=county, department_id=department_id,
                            site=site, inspectors=_text(inspectors, "督查人员", 200),
                            summary=_text(summary, "督查情况", MAX_TEXT, required=False), recorded_by=scope.username,
                            created_at=now)
    if not items:
        raise TaskError("请至少填写一个整改事项")
    if len(items) > MAX_ITEMS:
        raise TaskError(f"整改事项最多{MAX_ITEMS}个")
    for item in items:
        if item.due_on < today:
            raise TaskError("整改期限不能早于今天")
        owner_department, owner_county = _owner(session, scope, item.owner)
        inspection.items.append(RectificationItem(
            finding=_text(item.finding, "整改事项", MAX_TEXT), department_id=owner_department,
            jurisdiction_code=owner_county,
            due_at=datetime.combine(item.due_on, calendar.periods[-1][1], calendar.timezone)))
    session.add(inspection)
    session.flush()
    for item in inspection.items:
        for step, when in ((REMIND, remind_at(item.due_at, calendar, settings)), (OVERDUE, item.due_at)):
            if when is not None and when > now:
                session.add(Timer(rectification_item_id=item.id, clock=f"{ITEM_CLOCK}:{step}", due_at=when,
                                  version=0, state=timers.PENDING, created_at=now))
    session.flush()
    return inspection


def fire_reminder(session: Session, timer: Timer, _complaint: Complaint | None, context: timers.FireContext) -> None:
    """Remind the item's unit before the deadline, or tell it the deadline has passed: a department in its console
    inbox and contacts, a county through its supervising department. An answer cancels these timers."""
    item = session.get(RectificationItem, timer.rectification_item_id)
    when = item.due_at.astimezone(context.calendar.timezone).strftime("%m月%d日%H:%M")
    county = item.inspection.jurisdiction.name
    if timer.clock.split(":", 1)[1] == REMIND:
        kind, text = ("rectification_reminder",
                      f"【整改提醒】{county}督查整改事项“{item.finding[:40]}”须于{when}前整改到位并报送，请及时办理。")
    else:
        kind, text = ("rectification_overdue",
                      f"【整改逾期】{county}督查整改事项“{item.finding[:40]}”已于{when}到期，本单位尚未报送整改情况，请尽快报送。")
    unit = item.department or department(session, item.jurisdiction_code, context.settings.routing.supervisor_kind)
    if unit is not None:
        notify_department(session, unit, {"kind": kind, "inspection_id": item.inspection_id, "text": text}, None,
                          context.now, flush=False)


def _loaded(query):
    return query.options(selectinload(Inspection.items).selectinload(RectificationItem.department),
                         selectinload(Inspection.items).selectinload(RectificationItem.jurisdiction),
                         selectinload(Inspection.jurisdiction), selectinload(Inspection.department),
                         selectinload(Inspection.site))


def _followed(scope: Scope):
    """The inspections this user follows as the office: all for the city, the county's for its supervisors."""
    if scope.role is Role.ADMIN:
        return true()
    if scope.role is Role.COUNTY:
        return Inspection.jurisdiction_code == scope.jurisdiction_code
    return None


def followed(session: Session, scope: Scope) -> list[Inspection]:
    condition = _followed(scope)
    if condition is None:
        return []
    return list(session.scalars(_loaded(select(Inspection)).where(condition)
                                .order_by(Inspection.inspected_on.desc(), Inspection.id.desc())))


def inspection_for(session: Session, scope: Scope, inspection_id: int) -> Inspection | None:
    """An inspection the user follows or owns an item of; None (so: 404) otherwise."""
    found = session.scalar(_loaded(select(Inspection)).where(Inspection.id == inspection_id))
    if found is None:
        return None
    if scope.role is Role.ADMIN or scope.role is Role.COUNTY and found.jurisdiction_code == scope.jurisdiction_code:
        return found
    return found if any(answers_for(scope, i) for i in found.items) else None


def rows(inspection: Inspection, now: datetime) -> list[ItemRow]:
    """Each item with its unit and state, overdue first."""
    order = {"overdue": 0, "late": 1, "open": 2, "on_time": 3}
    found = [ItemRow(i, unit_name(i), deadline_state(i.due_at, i.answered_at, now)) for i in inspection.items]
    return sorted(found, key=lambda r: (order[r.state], r.item.due_at, r.item.id))


def my_items(session: Session, scope: Scope, now: datetime) -> list[ItemRow]:
    """The items this user's unit must put right, unanswered and soonest due first."""
    condition = answerable(scope, RectificationItem)
    if condition is None:
        return []
    items = session.scalars(select(RectificationItem).where(condition)
                            .options(selectinload(RectificationItem.inspection).selectinload(Inspection.jurisdiction))
                            .order_by(RectificationItem.answered_at.is_not(None), RectificationItem.due_at,
                                      RectificationItem.id))
    return [ItemRow(i, unit_name(i), deadline_state(i.due_at, i.answered_at, now)) for i in items]


def overdue(session: Session, scope: Scope, now: datetime) -> list[ItemRow]:
    """Every item past its deadline unanswered, over the inspections the user follows, oldest deadline first."""
    found = [r for inspection in followed(session, scope) for r in rows(inspection, now) if r.state == "overdue"]
    return sorted(found, key=lambda r: (r.item.due_at, r.item.id))


def item_for(session: Session, scope: Scope, item_id: int) -> RectificationItem | None:
    """An item the user answers for; None (so: 404) otherwise."""
    item = session.get(RectificationItem, item_id)
    return item if item is not None and answers_for(scope, item) else None


def answer(session: Session, scope: Scope, item: RectificationItem, text: str, now: datetime) -> RectificationItem:
    """The owner unit says how it put the finding right, once; after the deadline it is kept and counted late."""
    if not answers_for(scope, item):
        raise TaskError("这个整改事项不是本单位的")
    if item.answered_at is not None:
        raise TaskError("本单位已报送整改情况，不能重复报送")
    item.answer = _text(text, "整改情况", MAX_TEXT)
    item.answered_at, item.answered_by = now, scope.username
    for timer in session.scalars(select(Timer).where(Timer.rectification_item_id == item.id,
                                                     Timer.state == timers.PENDING)):
        timer.state = timers.CANCELLED
    session.flush()
    return item


def counties_to_choose(session: Session, scope: Scope) -> list[Jurisdiction]:
    query = select(Jurisdiction).where(Jurisdiction.parent_code.is_not(None)).order_by(Jurisdiction.code)
    if scope.role is Role.COUNTY:
        query = query.where(Jurisdiction.code == scope.jurisdiction_code)
    return list(session.scalars(query))
