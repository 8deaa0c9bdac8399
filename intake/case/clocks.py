"""The legal and local clocks of a complaint: when they start, when they warn, overdue and escalate.

A clock is a set of timer rows named "<clock>:<step>": "warning" (yellow card at warning_percent of the limit),
"overdue" (red card, the first rung of the escalation ladder, told to the handling department) and
"escalate:<i>" (the further rungs: county supervisor, city office). All rows of one clock share created_at,
the instant the clock started, so a schedule can always be recomputed from the start, the configured limit,
the approved extensions and the pauses, which are events on the complaint's timeline.

Call `start_clocks_for` after every transition: the transition bumped the version, so this re-arms the clocks
that keep running (same due times, new version), cancels those that stopped and starts the new ones.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from intake.delivery.outbox import dispatch_desk, notify_department
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.models import AppState, Complaint, Department, Event, EventKind, Jurisdiction, Status, Timer
from intake.foundation.settings import ClockSettings, Settings
from intake.foundation.transitions import record
from intake.registry.directory import department

from . import timers

log = logging.getLogger(__name__)

ACTOR = "system:clock"
LABELS = {"acknowledge": "签收", "contact": "首次联系", "accept": "受理决定", "reply": "办理答复",
          "investigate": "立案调查", "follow_up": "回访确认"}
CLOCKS = frozenset(LABELS)
# The clocks that run in each status, and those that start afresh on entering it (the others carry on).
RUNNING: dict[Status, frozenset[str]] = {
    Status.ROUTED: frozenset({"acknowledge", "contact", "accept", "reply"}),
    Status.ACKNOWLEDGED: frozenset({"contact", "accept", "reply"}),
    Status.ACCEPTED: frozenset({"contact", "reply"}),
    Status.IN_PROGRESS: frozenset({"reply"}),
    Status.INVESTIGATING: frozenset({"investigate"}),
    Status.REOPENED: frozenset({"reply"}),
    Status.RESOLVED: frozenset({"follow_up"}),
    # A returned case keeps its legal clocks (counted from receipt) while the dispatch desk re-routes it.
    Status.RETURNED: frozenset({"contact", "accept", "reply"}),
}
RESTART: dict[Status, frozenset[str]] = {
    Status.ROUTED: frozenset({"acknowledge"}),
    Status.RESOLVED: frozenset({"follow_up"}),
    Status.INVESTIGATING: frozenset({"investigate"}),
    Status.REOPENED: frozenset({"reply"}),
}
CONFIG_KEY = "clock_configuration"
EXTENSIBLE = {"reply": "reply_extension_max_days", "investigate": "investigate_extension_max_days"}
# The timeline events a clock's schedule depends on, besides its start.
HISTORY_KINDS = (EventKind.CLOCKS_PAUSED, EventKind.CLOCKS_RESUMED, EventKind.CLOCK_EXTENDED)
# Every timer of a complaint (start_clocks_for runs after every transition), built once.
_TIMERS = select(Timer).where(Timer.complaint_id == bindparam("complaint_id")).order_by(Timer.id)
_DURATION = re.compile(r"\s*(\d+)\s*(m|h|wm|wh|wd)\s*")


class ClockError(ValueError):
    """A clock operation that the rules do not allow (message for staff, in Chinese)."""


@dataclass(frozen=True)
class Duration:
    amount: int
    unit: str  # m, h: round the clock; wm, wh: working minutes / hours; wd: working days

    @classmethod
    def parse(cls, text: str) -> Duration:
        match = _DURATION.fullmatch(text) if isinstance(text, str) else None
        if match is None:
            raise ValueError(f"duration must look like 30m, 2h, 1wh, 90wm or 5wd, not {text!r}")
        return cls(int(match.group(1)), match.group(2))

    @property
    def working(self) -> bool:
        return self.unit.startswith("w")

    def after(self, calendar: WorkingCalendar, start: datetime) -> datetime:
        """The instant this long after start; working days end at the close of the last one (start not counted)."""
        if self.amount == 0:
            return start
        if self.unit in ("m", "h"):
            return start + timedelta(minutes=self.amount * (60 if self.unit == "h" else 1))
        if self.unit in ("wm", "wh"):
            return calendar.add_working_time(start, self.amount * (60 if self.unit == "wh" else 1))
        day = calendar.add_working_days(start.astimezone(calendar.timezone).date(), self.amount)
        return datetime.combine(day, calendar.periods[-1][1], calendar.timezone)

    def later(self, calendar: WorkingCalendar, moment: datetime) -> datetime:
        """An offset from a deadline: working days keep the time of day (+1wd from Mon 09:30 is Tue 09:30)."""
        if self.unit != "wd" or self.amount == 0:
            return self.after(calendar, moment)
        day_minutes = sum((datetime.combine(moment.date(), e) - datetime.combine(moment.date(), s)).seconds // 60
                          for s, e in calendar.periods)
        return calendar.add_working_time(moment, self.amount * day_minutes)

    def round_the_clock(self) -> Duration:
        """The same length in plain time (a working day as 24 hours), for priorities that never wait."""
        plain = {"wm": (1, "m"), "wh": (1, "h"), "wd": (24, "h")}
        factor, unit = plain.get(self.unit, (1, self.unit))
        return Duration(self.amount * factor, unit)


def limit_for(settings: ClockSettings, clock: str, priority: str) -> Duration:
    table = dict(getattr(settings, clock))
    if priority not in table:
        raise ValueError(f"clocks.{clock} has no limit for priority {priority!r}")
    return Duration.parse(table[priority])


def validate(settings: ClockSettings) -> None:
    """Fail at start-up, not at the first timer, on a malformed limit or ladder."""
    for clock in CLOCKS:
        for _priority, text in getattr(settings, clock):
            Duration.parse(text)
    if not settings.escalation:
        raise ValueError("clocks.escalation needs at least one rung (the red card)")
    for _level, text in settings.escalation:
        Duration.parse(text)
    if not 0 < settings.warning_percent < 100:
        raise ValueError("clocks.warning_percent must be between 1 and 99")


def next_working_instant(calendar: WorkingCalendar, moment: datetime) -> datetime:
    """moment itself if inside working time (a period's end included), else the next period's start."""
    local = moment.astimezone(calendar.timezone)
    day = local.date()
    while True:
        if calendar.is_working_day(day):
            for begin, end in calendar.periods:
                if datetime.combine(day, end, calendar.timezone) >= local:
                    return max(datetime.combine(day, begin, calendar.timezone), local)
        day += timedelta(days=1)


# --- schedules ------------------------------------------------------------------------------------------


def schedule(clock: str, priority: str, start: datetime, calendar: WorkingCalendar, settings: ClockSettings,
             extension_days: int = 0, pauses: Iterable[tuple[datetime, datetime]] = ()) -> dict[str, datetime]:
    """Step -> fire time for a clock started at `start`; "due" is the deadline itself (not a timer)."""
    limit = limit_for(settings, clock, priority)
    due = limit.after(calendar, start)
    if extension_days:
        due = Duration(extension_days, "wd").later(calendar, due)
    if limit.working:
        warning = calendar.add_working_time(
            start, calendar.working_minutes_between(start, due) * settings.warning_percent // 100)
    else:
        warning = start + (due - start) * settings.warning_percent / 100
    steps = {"warning": warning, "due": due}
    urgent = priority in settings.round_the_clock
    for i, (_level, offset) in enumerate(settings.escalation):
        step = Duration.parse(offset)
        step = step.round_the_clock() if urgent else step
        steps["overdue" if i == 0 else f"escalate:{i}"] = step.later(calendar, due)
    for paused, resumed in pauses:
        if limit.working:
            minutes = calendar.working_minutes_between(paused, resumed)
            steps = {k: calendar.add_working_time(v, minutes) for k, v in steps.items()}
        else:
            steps = {k: v + (resumed - paused) for k, v in steps.items()}
    if not urgent:
        steps = {k: v if k == "due" else next_working_instant(calendar, v) for k, v in steps.items()}
    return steps


def _history_events(session: Session, complaint_ids: Iterable[int]) -> dict[int, list[tuple[str, dict]]]:
    """The pause, resume and extension events of the complaints, oldest first, as (kind, data) per complaint."""
    found: dict[int, list[tuple[str, dict]]] = {i: [] for i in complaint_ids}
    if found:
        rows = session.execute(select(Event.complaint_id, Event.kind, Event.data)
                               .where(Event.complaint_id.in_(found),
                                      Event.kind.in_(HISTORY_KINDS))
                               .order_by(Event.id))
        for complaint_id, kind, data in rows:
            found[complaint_id].append((kind, data))
    return found


def _fold_history(events: Iterable[tuple[str, dict]], clock: str, start: datetime):
    """Approved extension days and completed pauses of a clock since it started."""
    extension, pauses, paused_at = 0, [], None
    for kind, data in events:
        at = datetime.fromisoformat(data["at"])
        if at < start:
            continue
        if kind == EventKind.CLOCK_EXTENDED and data.get("clock") == clock:
            extension += int(data["days"])
        elif kind == EventKind.CLOCKS_PAUSED and paused_at is None:
            paused_at = at
        elif kind == EventKind.CLOCKS_RESUMED and paused_at is not None:
            pauses.append((paused_at, at))
            paused_at = None
    return extension, pauses


def _history(session: Session, complaint_id: int, clock: str, start: datetime):
    """Approved extension days and completed pauses of a clock since it started, from the timeline."""
    return _fold_history(_history_events(session, [complaint_id])[complaint_id], clock, start)


def _schedule_of(session: Session, complaint: Complaint, clock: str, start: datetime, calendar: WorkingCalendar,
                 settings: ClockSettings) -> dict[str, datetime]:
    extension, pauses = _history(session, complaint.id, clock, start)
    return schedule(clock, complaint.priority, start, calendar, settings, extension, pauses)


def _steps(clock: str, steps: dict[str, datetime], after: datetime | None = None) -> list[tuple[str, datetime]]:
    """The clock's timers (timer clock, due at): one per step after `after`; "due" itself is the warning's end."""
    return [(f"{clock}:{step}", at) for step, at in steps.items() if step != "due" and (after is None or at > after)]


# --- deadlines on the complaint row ---------------------------------------------------------------------


def deadline_entry(start: datetime, warn: datetime, due: datetime, working: bool) -> dict[str, Any]:
    """One clock as the console shows it: started, yellow from `warn`, red from `due`."""
    return {"start": start.isoformat(), "warn": warn.isoformat(), "due": due.isoformat(), "working": working,
            "paused": False}


def store_deadlines(complaint: Complaint, deadlines: dict[str, dict[str, Any]]) -> None:
    """Replace the complaint's deadlines (a new dict, so the JSON column sees the change) and its queue key."""
    complaint.deadlines = deadlines
    dues = [datetime.fromisoformat(d["due"]) for d in deadlines.values() if not d.get("paused")]
    complaint.next_due_at = min(dues) if dues else None


def _with_schedule(complaint: Complaint, clock: str, start: datetime, steps: dict[str, datetime],
                   settings: ClockSettings, **extra) -> None:
    entry = deadline_entry(start, steps["warning"], steps["due"],
                           limit_for(settings, clock, complaint.priority).working)
    store_deadlines(complaint, {**(complaint.deadlines or {}), clock: {**entry, **extra}})


def stop_clock(session: Session, complaint: Complaint, clock: str) -> int:
    """A clock met early (first contact made): its timers are cancelled and its deadline leaves the queue."""
    cancelled = timers.cancel_timers(session, complaint, [clock])
    store_deadlines(complaint, {c: d for c, d in (complaint.deadlines or {}).items() if c != clock})
    return cancelled


# --- operations -----------------------------------------------------------------------------------------


def start_clocks_for(session: Session, complaint: Complaint, transition_to: Status | str, now: datetime,
                     calendar: WorkingCalendar, settings: ClockSettings, flush: bool = True) -> list[str]:
    """Bring the complaint's clocks in line with the status it just entered; returns the clocks started.

    A clock starts once per complaint (again only where RESTART says so): one that ran out, or that was met
    early (first contact recorded), is not started afresh by a later transition. flush=False leaves the case
    row's deadlines to the caller's next flush (a route writes the row once).
    """
    status = Status(transition_to)
    running, restart = RUNNING.get(status, frozenset()), RESTART.get(status, frozenset())
    every = list(session.scalars(_TIMERS, {"complaint_id": complaint.id}))
    for timer in every:
        if timer.state not in (timers.PENDING, timers.PAUSED):
            continue
        name = timers.clock_name(timer.clock)
        if timers.is_sticky(name):  # a deadline set by hand (挂牌督办): it runs until the case is closed
            if status is Status.CLOSED:
                timer.state = timers.CANCELLED
            else:
                timer.version = complaint.version
        elif name == timers.CONFIRM_CLOCK:
            timer.state = timers.CANCELLED  # a new status: its reminders are over (办结 sets them afresh)
        elif name not in CLOCKS:
            continue  # another module's clock (e.g. routing's): not ours to manage
        elif name in running and name not in restart:
            timer.version = complaint.version
        else:
            timer.state = timers.CANCELLED
    store_deadlines(complaint, {c: d for c, d in (complaint.deadlines or {}).items()
                                if (c in running and c not in restart)
                                or (timers.is_sticky(c) and status is not Status.CLOSED)})
    ever = {timers.clock_name(t.clock) for t in every}
    started = sorted(c for c in running if c in restart or c not in ever)
    due = []
    for clock in started:
        steps = schedule(clock, complaint.priority, now, calendar, settings)
        due += _steps(clock, steps)
        _with_schedule(complaint, clock, now, steps, settings)
    timers.add_timers(session, complaint, now, due)
    if flush:
        session.flush()
    return started


def start_clocks_from(session: Session, complaint: Complaint, status: Status | str, start: datetime, now: datetime,
                      calendar: WorkingCalendar, settings: ClockSettings) -> list[str]:
    """The clocks of a case that began before it reached this service (an imported backlog case), computed from
    when it began. A deadline already past is recorded as overdue on the timeline, so the queue and the figures
    count it late, but nobody is sent a card for it: an import of a few hundred old cases must not bury the
    inboxes. Only the steps still ahead become timers."""
    started = sorted(RUNNING.get(Status(status), frozenset()))
    due = []
    for clock in started:
        steps = schedule(clock, complaint.priority, start, calendar, settings)
        late = steps["due"] <= now
        due += _steps(clock, steps, after=max(now, steps.get("overdue", now)) if late else now)
        _with_schedule(complaint, clock, start, steps, settings)
        if late:
            rung = _rung("overdue", settings)
            record(session, complaint, EventKind.CLOCK_OVERDUE, actor=ACTOR,
                   data={"clock": clock, "level": rung.level, "card": rung.card, "due_at": steps["due"].isoformat(),
                         "imported": True})
    timers.add_timers(session, complaint, start, due)
    session.flush()
    return started


def pause_clocks(session: Session, complaint: Complaint, now: datetime, *, actor: str = ACTOR,
                 reason: str | None = None, duplicate: bool = False) -> int:
    """Stop the complaint's clocks (waiting for the worker's material, or a duplicate while another complaint
    carries on: `duplicate` keeps that pause off the worker's timeline); returns the timers paused."""
    pending = [t for t in timers.open_timers(session, complaint.id)
               if t.state == timers.PENDING and timers.clock_name(t.clock) in CLOCKS]
    if not pending:
        return 0
    for timer in pending:
        timer.state = timers.PAUSED
    paused = {timers.clock_name(t.clock) for t in pending}
    store_deadlines(complaint, {c: {**d, "paused": d.get("paused") or c in paused}
                                for c, d in (complaint.deadlines or {}).items()})
    record(session, complaint, EventKind.CLOCKS_PAUSED, actor=actor, note=reason,
           data={"at": now.isoformat(), **({"duplicate": True} if duplicate else {})})
    return len(pending)


def resume_clocks(session: Session, complaint: Complaint, now: datetime, calendar: WorkingCalendar,
                  settings: ClockSettings, *, actor: str = ACTOR, duplicate: bool = False) -> int:
    """Restart paused clocks, each due later by the working time (round-the-clock time if so) it was paused."""
    paused = [t for t in timers.open_timers(session, complaint.id) if t.state == timers.PAUSED]
    if not paused:
        return 0
    record(session, complaint, EventKind.CLOCKS_RESUMED, actor=actor,
           data={"at": now.isoformat(), **({"duplicate": True} if duplicate else {})})
    _reschedule(session, complaint, paused, calendar, settings)
    for timer in paused:
        timer.state, timer.version = timers.PENDING, complaint.version
    store_deadlines(complaint, {c: {**d, "paused": False} for c, d in (complaint.deadlines or {}).items()})
    session.flush()
    return len(paused)


def extend_clock(session: Session, complaint: Complaint, clock: str, days: int, now: datetime,
                 calendar: WorkingCalendar, settings: ClockSettings, *, actor: str, approved_by: str) -> Event:
    """An approved extension of a reply or investigation clock, within the configured total."""
    if clock not in EXTENSIBLE:
        raise ClockError(f"{LABELS.get(clock, clock)}时限不能延期")
    open_ = [t for t in timers.open_timers(session, complaint.id) if timers.clock_name(t.clock) == clock]
    if not open_:
        raise ClockError(f"{LABELS[clock]}时限未在计时，无法延期")
    start = open_[0].created_at
    used, _ = _history(session, complaint.id, clock, start)
    allowed = getattr(settings, EXTENSIBLE[clock])
    if days <= 0 or used + days > allowed:
        raise ClockError(f"{LABELS[clock]}最多延期 {allowed} 个工作日，已延期 {used} 个工作日")
    event = record(session, complaint, EventKind.CLOCK_EXTENDED, actor=actor,
                   data={"at": now.isoformat(), "clock": clock, "days": days, "approved_by": approved_by})
    state = open_[0].state
    for timer in open_:
        timer.state = timers.CANCELLED
    steps = _schedule_of(session, complaint, clock, start, calendar, settings)
    timers.add_timers(session, complaint, start, _steps(clock, steps, after=now), state)
    if clock in (complaint.deadlines or {}):
        _with_schedule(complaint, clock, start, steps, settings, paused=complaint.deadlines[clock].get("paused"))
    session.flush()
    return event


def may_return(session: Session, complaint: Complaint, now: datetime, calendar: WorkingCalendar,
               settings: ClockSettings) -> bool:
    """A department may return a misrouted case only within return_within_days of its assignment."""
    routed_at = session.scalar(select(Event.created_at).where(Event.complaint_id == complaint.id,
                                                              Event.to_status == Status.ROUTED.value)
                               .order_by(Event.id.desc()).limit(1))
    return routed_at is not None and now <= Duration(settings.return_within_days, "wd").after(calendar, routed_at)


def recompute_due(session: Session, calendar: WorkingCalendar, settings: ClockSettings,
                  batch: int = 1000) -> int:
    """Recompute every open timer of our clocks after the calendar or the limits changed; returns changed."""
    changed, last_id = 0, 0
    while True:
        rows = list(session.scalars(select(Timer)
                                    .where(Timer.state.in_((timers.PENDING, timers.PAUSED)), Timer.id > last_id)
                                    .order_by(Timer.id).limit(batch)))
        if not rows:
            return changed
        last_id = rows[-1].id
        by_complaint: dict[int, list[Timer]] = {}
        for timer in rows:
            if timers.clock_name(timer.clock) in CLOCKS:
                by_complaint.setdefault(timer.complaint_id, []).append(timer)
        for complaint_id, complaint_timers in by_complaint.items():
            changed += _reschedule(session, session.get(Complaint, complaint_id), complaint_timers, calendar,
                                   settings)
        session.flush()


def recompute_if_changed(session: Session, calendar: WorkingCalendar, settings: Settings) -> int | None:
    """Recompute open clocks when [calendar] or [clocks] differ from what they were computed with (say the
    year's holidays were added), so a deadline always follows the configuration in force; None when unchanged.

    Workers call it as they start; the row lock on PostgreSQL (SQLite's write lock) keeps two from doing it twice.
    """
    config = json.dumps({"calendar": dataclasses.asdict(settings.calendar),
                         "clocks": dataclasses.asdict(settings.clocks)}, sort_keys=True, ensure_ascii=False)
    fingerprint = hashlib.sha256(config.encode()).hexdigest()
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(AppState).values(key=CONFIG_KEY, value="").on_conflict_do_nothing())
    state = session.get(AppState, CONFIG_KEY, with_for_update=True, populate_existing=True)
    if state.value == fingerprint:
        return None
    changed = recompute_due(session, calendar, settings.clocks)
    state.value = fingerprint
    session.flush()
    log.info("clock configuration changed: %s open timers recomputed", changed)
    return changed


def reschedule_open(session: Session, complaint: Complaint, calendar: WorkingCalendar,
                    settings: ClockSettings) -> int:
    """Recompute the complaint's open clocks from their start, e.g. after its priority rose."""
    ours = [t for t in timers.open_timers(session, complaint.id) if timers.clock_name(t.clock) in CLOCKS]
    changed = _reschedule(session, complaint, ours, calendar, settings)
    session.flush()
    return changed


def _reschedule(session: Session, complaint: Complaint, clock_timers: list[Timer], calendar: WorkingCalendar,
                settings: ClockSettings) -> int:
    changed, cache = 0, {}
    for timer in clock_timers:
        name, step = timer.clock.split(":", 1)
        key = (name, timer.created_at)
        if key not in cache:
            cache[key] = _schedule_of(session, complaint, name, timer.created_at, calendar, settings)
            shown = (complaint.deadlines or {}).get(name)
            if shown is not None and datetime.fromisoformat(shown["start"]) == timer.created_at:
                _with_schedule(complaint, name, timer.created_at, cache[key], settings, paused=shown.get("paused"))
        new = cache[key].get(step)
        if new is not None and new != timer.due_at:
            timer.due_at = new
            changed += 1
    return changed


# --- firing ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rung:
    event_kind: EventKind
    level: str
    card: str | None


def _rung(step: str, settings: ClockSettings) -> Rung:
    if step == "warning":
        return Rung(EventKind.CLOCK_WARNING, settings.escalation[0][0], "yellow")
    if step == "overdue":
        return Rung(EventKind.CLOCK_OVERDUE, settings.escalation[0][0], "red")
    index = int(step.split(":", 1)[1])
    return Rung(EventKind.ESCALATED, settings.escalation[index][0], "red")


def level_department(session: Session, complaint: Complaint, level: str, settings: ClockSettings):
    if level == "department":
        return complaint.department
    county = complaint.department.jurisdiction if complaint.department else complaint.jurisdiction
    if level == "county":
        code = county.code if county is not None and county.kind != "city" else None
        kind = settings.county_supervisor_kind
    elif level == "city":
        code = county.parent_code if county is not None and county.parent_code else None
        if code is None:
            code = session.scalar(select(Jurisdiction.code).where(Jurisdiction.kind == "city").limit(1))
        kind = settings.city_supervisor_kind
    else:
        raise ValueError(f"clocks.escalation: unknown level {level!r} (department, county or city)")
    if code is None:
        return None
    return department(session, code, kind)


def _text(rung: Rung, complaint: Complaint, label: str, due: datetime, calendar: WorkingCalendar) -> str:
    when = due.astimezone(calendar.timezone).strftime("%m月%d日%H:%M")
    handler = complaint.department.name if complaint.department else "承办单位"
    if rung.event_kind is EventKind.CLOCK_WARNING:
        return f"【黄牌预警】投诉 {complaint.ticket_no} 的{label}时限将于{when}到期，请及时办理。"
    if rung.event_kind is EventKind.CLOCK_OVERDUE:
        return f"【红牌超期】投诉 {complaint.ticket_no} 的{label}时限已于{when}到期，请立即办理。"
    return f"【超期督办】投诉 {complaint.ticket_no}（{handler}承办）的{label}时限已于{when}超期，请督促办理。"


def _prepare_batch(session: Session, context: timers.FireContext) -> dict[int, list[tuple[str, dict]]]:
    """On a batch's first clock timer: the pause/extension history of all its complaints, their departments and
    jurisdictions in the identity map, in three queries instead of several per timer."""
    complaints = [c for t, c in context.batch if c is not None and timers.clock_name(t.clock) in CLOCKS]
    department_ids = {c.department_id for c in complaints if c.department_id is not None}
    if department_ids:
        departments = list(session.scalars(select(Department).where(Department.id.in_(department_ids))))
        codes = {d.jurisdiction_code for d in departments}
    else:
        codes = set()
    codes |= {c.jurisdiction_code for c in complaints if c.department_id is None and c.jurisdiction_code}
    if codes:
        list(session.scalars(select(Jurisdiction).where(Jurisdiction.code.in_(codes))))
    return _history_events(session, {c.id for c in complaints})


def fire_clock(session: Session, timer: Timer, complaint: Complaint, context: timers.FireContext) -> None:
    """Record the yellow card, red card or escalation on the timeline and tell the rung's department."""
    settings, calendar = context.settings, context.calendar
    name, step = timer.clock.split(":", 1)
    rung = _rung(step, settings.clocks)
    history = context.cached("clocks.history", lambda: _prepare_batch(session, context))
    if complaint.id not in history:  # a complaint outside the batch (a handler fired by hand)
        history.update(_history_events(session, [complaint.id]))
    extension, pauses = _fold_history(history[complaint.id], name, timer.created_at)
    key = ("clocks.schedule", name, complaint.priority, timer.created_at, extension, tuple(pauses))
    due = context.cached(key, lambda: schedule(name, complaint.priority, timer.created_at, calendar,
                                               settings.clocks, extension, pauses))["due"]
    data: dict[str, Any] = {"clock": name, "level": rung.level, "card": rung.card, "due_at": due.isoformat(),
                            "timer_id": timer.id}
    record(session, complaint, rung.event_kind, actor=ACTOR, data=data, flush=False)
    target = context.cached(("clocks.level", rung.level, complaint.department_id, complaint.jurisdiction_code),
                            lambda: level_department(session, complaint, rung.level, settings.clocks))
    payload = {"kind": rung.event_kind, **data, "ticket_no": complaint.ticket_no,
               "text": _text(rung, complaint, LABELS[name], due, calendar)}
    if target is None:
        target = context.cached("clocks.dispatch_desk", lambda: dispatch_desk(session))
    notify_department(session, target, payload, complaint.id, context.now, flush=False)

