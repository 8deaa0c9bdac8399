"""A co-handler's own clock: a department told to co-handle a case (发改, 财政, 国资 ...) owes its reply (协办答复)
by the close of the `[units] co_step_days`-th working day after it was told, on the working calendar. It is
reminded `remind_days` working days before (at the start of that day) and told when the deadline passes; the
overdue step is on the case's timeline and goes to the county's supervisors too. Its reply stops the clock.

The deadline is kept on the co-handling row (so the unit's queue shows it and filters on it) and its two
moments are timer rows "co_step:<department id>:remind|overdue", carried over the case's transitions like
挂牌督办 (sticky) until the case is closed.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from intake.delivery.outbox import notify_department
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.models import CoHandling, Complaint, Department, EventKind, Timer
from intake.foundation.settings import UnitSettings
from intake.foundation.transitions import record

from . import timers
from .clocks import ACTOR, Duration, level_department

REMIND, OVERDUE = "remind", "overdue"


def remind_at(due: datetime, calendar: WorkingCalendar, settings: UnitSettings) -> datetime | None:
    """The start of the working day `remind_days` before the deadline's day; None when no reminder is wanted."""
    if not settings.remind_days:
        return None
    day = calendar.add_working_days(due.astimezone(calendar.timezone).date(), -settings.remind_days)
    return datetime.combine(day, calendar.periods[0][0], calendar.timezone)


def start(session: Session, complaint: Complaint, co: CoHandling, now: datetime, calendar: WorkingCalendar,
          settings: UnitSettings) -> None:
    """Start the unit's reply clock, once: a unit told again (the case re-routed) keeps its first deadline."""
    if co.due_at is not None or co.replied_at is not None:
        return
    co.due_at = Duration(settings.co_step_days, "wd").after(calendar, now)
    reminder = remind_at(co.due_at, calendar, settings)
    due = [(_clock(co.department_id, REMIND), reminder)] if reminder is not None and reminder > now else []
    timers.add_timers(session, complaint, now, [*due, (_clock(co.department_id, OVERDUE), co.due_at)])


def stop(session: Session, co: CoHandling, now: datetime) -> None:
    """The unit replied: its clock stops and its pending reminders are cancelled."""
    if co.replied_at is None:
        co.replied_at = now
    for timer in timers.open_timers(session, co.complaint_id):
        if timer.clock.startswith(_clock(co.department_id, "")):
            timer.state = timers.CANCELLED
    session.flush()


def _clock(department_id: int, step: str) -> str:
    return f"{timers.CO_STEP_CLOCK}:{department_id}:{step}"


def fire(session: Session, timer: Timer, complaint: Complaint | None, context: timers.FireContext) -> None:
    """Remind the co-handling unit, or tell it (and the county's supervisors) that its reply is overdue."""
    _, department_id, step = timer.clock.split(":")
    co = session.get(CoHandling, (complaint.id, int(department_id)))
    if co is None or co.replied_at is not None or co.due_at is None:
        return
    unit = session.get(Department, co.department_id)
    when = co.due_at.astimezone(context.calendar.timezone).strftime("%m月%d日%H:%M")
    if step == REMIND:
        notify_department(session, unit, {
            "kind": "co_step_reminder", "ticket_no": complaint.ticket_no,
            "text": f"【协办提醒】投诉 {complaint.ticket_no} 请{unit.name}于{when}前提交协办答复。"},
            complaint.id, context.now, flush=False)
        return
    text = f"【协办超期】投诉 {complaint.ticket_no} 的协办答复已于{when}到期，{unit.name}尚未答复，请立即办理。"
    record(session, complaint, EventKind.CO_STEP_OVERDUE, actor=ACTOR, note=f"{unit.name}：协办答复已于{when}到期",
           data={"department_id": unit.id, "due_at": co.due_at.isoformat(), "timer_id": timer.id})
    payload = {"kind": "co_step_overdue", "ticket_no": complaint.ticket_no, "text": text}
    notify_department(session, unit, payload, complaint.id, context.now, flush=False)
    supervisor = level_department(session, complaint, "county", context.settings.clocks)
    if supervisor is not None and supervisor.id != unit.id:
        notify_department(session, supervisor, payload, complaint.id, context.now, flush=False)
