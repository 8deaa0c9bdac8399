"""A user's queue: the cases in scope, most urgent deadline first, filtered and keyset-paged; and each clock as
staff read it (green, yellow, red, paused, with the working time left).

The order comes from one indexed column (complaints.next_due_at, kept by intake.case.clocks), so a page costs the
same on the first and the ten-thousandth case.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, aliased, selectinload

from intake.foundation.calendar import WorkingCalendar
from intake.foundation.models import CoHandling, Complaint, Department, Event, EventKind, Jurisdiction, Site, Status
from intake.foundation.settings import UnitSettings
from intake.people.access import Scope, in_county
from intake.registry.directory import DISPATCH_DESK, LEADING_GROUP_OFFICE, department

from .clocks import LABELS
from .co_clocks import remind_at

PAGE_SIZE = 50
CLOCK_LABELS = {**LABELS, "supervise": "督办期限", "co_step": "协办答复"}
OPEN = "open"


@dataclass(frozen=True)
class Filters:
    status: str = OPEN  # a status, "open" (not closed) or "all"
    priority: str = ""
    county: str = ""
    industry: str = ""
    overdue: bool = False
    collective: bool = False
    supervised: bool = False
    officer: str = ""  # "mine": the user's own cases; "none": cases no officer has taken
    received_from: datetime | None = None  # received at or after
    received_before: datetime | None = None


@dataclass(frozen=True)
class Page:
    complaints: list[Complaint]
    next_cursor: str | None


@dataclass(frozen=True)
class ClockView:
    clock: str
    label: str
    state: str  # green | yellow | red | paused
    due: datetime
    left: str


def _conditions(scope: Scope, filters: Filters, now: datetime) -> list:
    found = [scope.complaints()]
    if filters.status == OPEN:
        found += [Complaint.status != Status.CLOSED.value, Complaint.status != Status.DUPLICATE.value]
    elif filters.status != "all":
        found.append(Complaint.status == filters.status)
    if filters.priority:
        found.append(Complaint.priority == filters.priority)
    if filters.county:
        found.append(in_county(filters.county))
    if filters.industry:
        found.append(Complaint.site_id.in_(select(Site.id).where(Site.industry == filters.industry)))
    if filters.overdue:
        found.append(_late(scope, now))
    if filters.collective:
        found.append(Complaint.collective_id.is_not(None))
    if filters.supervised:
        found.append(Complaint.supervised.is_(True))
    if filters.officer == "mine":
        found.append(Complaint.officer_id == scope.user_id)
    elif filters.officer == "none":
        found.append(Complaint.officer_id.is_(None))
    if filters.received_from:
        found.append(Complaint.created_at >= filters.received_from)
    if filters.received_before:
        found.append(Complaint.created_at < filters.received_before)
    return found


def _late(scope: Scope, now: datetime) -> ColumnElement[bool]:
    """Past a running deadline: the case's; for a department, the cases it holds and those where its own reply as
    a co-handler is late (the holder's clocks are not the co-handler's to meet)."""
    late = Complaint.next_due_at < now
    if scope.department_id is None:
        return late
    my_late_replies = select(CoHandling.complaint_id).where(
        CoHandling.department_id == scope.department_id, CoHandling.due_at < now, CoHandling.replied_at.is_(None))
    return or_(and_(late, Complaint.department_id == scope.department_id),
               and_(Complaint.id.in_(my_late_replies), Complaint.status != Status.CLOSED.value))


def parse_cursor(cursor: str) -> tuple[datetime | None, int] | None:
    """A cursor "<due iso or ->|<id>" as (due, id); None when it is not one."""
    due_text, _, id_text = cursor.partition("|")
    try:
        due, last_id = (None if due_text == "-" else datetime.fromisoformat(due_text)), int(id_text)
    except ValueError:
        return None
    if (due is not None and due.tzinfo is None) or not 0 < last_id < 2 ** 31:  # ids are 32-bit integers
        return None
    return due, last_id


def _after(cursor: str | None) -> list:
    """Rows after the cursor in (next_due_at NULLS LAST, id) order."""
    parsed = parse_cursor(cursor) if cursor else None
    if parsed is None:
        return []
    due, last_id = parsed
    if due is None:
        return [Complaint.next_due_at.is_(None), Complaint.id > last_id]
    return [or_(Complaint.next_due_at > due, and_(Complaint.next_due_at == due, Complaint.id > last_id),
                Complaint.next_due_at.is_(None))]


def queue_page(session: Session, scope: Scope, filters: Filters, now: datetime, cursor: str | None = None,
               size: int = PAGE_SIZE) -> Page:
    query = (select(Complaint).where(*_conditions(scope, filters, now), *_after(cursor))
             .order_by(Complaint.next_due_at.asc().nulls_last(), Complaint.id).limit(size + 1)
             .options(selectinload(Complaint.site), selectinload(Complaint.department),
                      selectinload(Complaint.complainant)))
    rows = list(session.scalars(query))
    more = len(rows) > size
    rows = rows[:size]
    next_cursor = None
    if more:
        last = rows[-1]
        next_cursor = f"{last.next_due_at.isoformat() if last.next_due_at else '-'}|{last.id}"
    return Page(rows, next_cursor)


# Whose steps on a case answer the worker: staff in the console, client systems through the API.
ANSWERING_ACTORS = ("staff:", "api:")


def unanswered(session: Session, complaint_ids: list[int]) -> dict[int, int]:
    """Per case, the worker's messages since staff last took a step on it (a reply, a contact, any action):
    the marker in the queue and on the case page. One grouped query for a page of cases."""
    if not complaint_ids:
        return {}
    staff = aliased(Event)
    answered = select(func.max(staff.id)).where(
        staff.complaint_id == Event.complaint_id,
        or_(*(staff.actor.startswith(p) for p in ANSWERING_ACTORS))).scalar_subquery()
    rows = session.execute(
        select(Event.complaint_id, func.count())
        .where(Event.complaint_id.in_(complaint_ids), Event.kind == EventKind.WORKER_WROTE,
               Event.id > func.coalesce(answered, 0))
        .group_by(Event.complaint_id))
    return dict(rows.all())


def clock_views(complaint: Complaint, now: datetime, calendar: WorkingCalendar) -> list[ClockView]:
    """The case's running clocks, most urgent first."""
    views = []
    for clock, entry in (complaint.deadlines or {}).items():
        due, warn = datetime.fromisoformat(entry["due"]), datetime.fromisoformat(entry["warn"])
        if entry.get("paused"):
            state = "paused"
        else:
            state = "red" if now >= due else "yellow" if now >= warn else "green"
        views.append(ClockView(clock, CLOCK_LABELS.get(clock, clock), state, due,
                               "已暂停（等待工人补充材料）" if state == "paused"
                               else time_left(now, due, calendar, bool(entry.get("working")))))
    return sorted(views, key=lambda v: (v.state == "paused", v.due))


@dataclass(frozen=True)
class CoStepView:
    """A co-handler of a case and its reply clock (replied: green, "已于…答复")."""

    department: Department
    roles: list[str]
    replied_at: datetime | None
    clock: ClockView


def co_step_views(session: Session, complaint_ids: list[int], now: datetime, calendar: WorkingCalendar,
                  settings: UnitSettings, department_id: int | None = None) -> dict[int, list[CoStepView]]:
    """Per case, each co-handler's reply clock, soonest first; only `department_id`'s when given (a co-handler's
    own queue). A closed case's clocks have stopped (its timers were cancelled at 销号). One query for a page."""
    if not complaint_ids:
        return {}
    query = (select(CoHandling, Department, Complaint.status)
             .join(Department, Department.id == CoHandling.department_id)
             .join(Complaint, Complaint.id == CoHandling.complaint_id)
             .where(CoHandling.complaint_id.in_(complaint_ids), CoHandling.due_at.is_not(None))
             .order_by(CoHandling.due_at, Department.name))
    if department_id is not None:
        query = query.where(CoHandling.department_id == department_id)
    found: dict[int, list[CoStepView]] = {}
    for co, unit, status in session.execute(query):
        if co.replied_at is not None:
            replied = co.replied_at.astimezone(calendar.timezone)
            view = ClockView("co_step", CLOCK_LABELS["co_step"], "green", co.due_at, f"已于{replied:%m-%d %H:%M}答复")
        elif status == Status.CLOSED.value:
            view = ClockView("co_step", CLOCK_LABELS["co_step"], "green", co.due_at, "案件已销号，不再计时")
        else:
            reminder = remind_at(co.due_at, calendar, settings)
            state = "red" if now >= co.due_at else "yellow" if reminder is not None and now >= reminder else "green"
            view = ClockView("co_step", CLOCK_LABELS["co_step"], state, co.due_at,
                             time_left(now, co.due_at, calendar, True))
        found.setdefault(co.complaint_id, []).append(CoStepView(unit, list(co.roles or []), co.replied_at, view))
    return found


def time_left(now: datetime, due: datetime, calendar: WorkingCalendar, working: bool) -> str:
    """"剩余 2个工作日3小时" or "超期 40分钟": working time for working-day limits, plain time otherwise."""
    if working:
        minutes = calendar.working_minutes_between(now, due)
        day = sum((e.hour * 60 + e.minute) - (s.hour * 60 + s.minute) for s, e in calendar.periods)
        unit = "个工作日"
    else:
        minutes = int((due - now).total_seconds() // 60)
        day, unit = 24 * 60, "天"
    word = "剩余" if minutes >= 0 else "超期"
    minutes = abs(minutes)
    if minutes >= day:
        days, rest = divmod(minutes, day)
        return f"{word} {days}{unit}" + (f"{rest // 60}小时" if rest >= 60 else "")
    if minutes >= 60:
        return f"{word} {minutes // 60}小时" + (f"{minutes % 60}分" if minutes % 60 else "")
    return f"{word} {minutes}分钟"


def inbox_destinations(session: Session, scope: Scope, supervisor_kind: str) -> list[str]:
    """The console inboxes a user reads: their department's; a county supervisor's, the county's supervising
    department; the city administrator's, the city's dispatch desk and leading-group office."""
    if scope.department_id is not None:
        ids = [scope.department_id]
    elif scope.jurisdiction_code is not None:
        found = department(session, scope.jurisdiction_code, supervisor_kind)
        ids = [found.id] if found is not None else []
    else:
        ids = list(session.scalars(select(Department.id).join(Jurisdiction).where(
            Jurisdiction.parent_code.is_(None), Department.kind.in_((DISPATCH_DESK, LEADING_GROUP_OFFICE)))))
    return [f"department:{i}" for i in ids]
