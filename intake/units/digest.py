"""The morning digest: on working days at `[targets] digest_at` (local time, e.g. 08:30), each county's supervising
department (`[routing] supervisor_kind`) gets, in its console inbox and by e-mail, what is open, what is late and
what is due this week, with its 清零 forecast.

An empty digest_at (the default) turns it off. The worker loop calls `send_due` on every pass; the day it was last sent is an app_state row, locked while it is
written, so of several workers on PostgreSQL exactly one sends it, once a day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.delivery.outbox import INBOX, department_destinations, enqueue
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.models import AppState, Complaint, Jurisdiction, Status
from intake.foundation.settings import Settings
from intake.people.access import Scope, in_county
from intake.people.staff import Role
from intake.registry.directory import department

from . import countdown as cd

STATE_KEY = "units_digest_day"
KIND = "units_digest"
SCHEMES = (INBOX, "email")  # a digest is long: never by SMS or WeChat


@dataclass(frozen=True)
class Digest:
    county: str
    name: str
    open: int
    late: int
    due_this_week: int
    forecasts: list[str]

    @property
    def text(self) -> str:
        lines = [f"【清零】{self.name}每日提示：未销号{self.open}件，已超期{self.late}件，本周内到期{self.due_this_week}件。",
                 *self.forecasts]
        return "\n".join(lines)


def digest_of(session: Session, code: str, settings: Settings, now: datetime, calendar: WorkingCalendar) -> Digest:
    """One county's digest at `now`: open cases, those past a running deadline, those due by Sunday night."""
    local = now.astimezone(calendar.timezone)
    week_end = datetime.combine(local.date() + timedelta(days=7 - local.isoweekday()), time.max, calendar.timezone)
    open_case = (in_county(code), Complaint.status.not_in((Status.CLOSED.value, Status.DUPLICATE.value)))
    open_, late, due = session.execute(select(
        func.count(), func.count().filter(Complaint.next_due_at < now),
        func.count().filter(Complaint.next_due_at >= now, Complaint.next_due_at <= week_end)).where(*open_case)).one()
    scope = Scope(user_id=0, username="digest", role=Role.COUNTY, department_id=None, jurisdiction_code=code)
    found = cd.countdown(session, scope, settings.targets, local.date(), settings.targets.forecast_days, county=code)
    name = session.get(Jurisdiction, code).name
    forecasts = [cd.forecast_text(name, t) for c in found for t in c.targets if t.open]
    return Digest(code, name, open_, late, due, forecasts)


def _claim(session: Session, today: date) -> bool:
    """Mark today's digest as sent unless it already is; False when another worker got there first. Read first
    without a lock, so the passes after the day's digest lock nothing."""
    if session.scalar(select(AppState.value).where(AppState.key == STATE_KEY, AppState.value >= today.isoformat())):
        return False
    state = session.scalar(select(AppState).where(AppState.key == STATE_KEY).with_for_update())
    if state is None:
        try:
            with session.begin_nested():
                session.add(AppState(key=STATE_KEY, value=today.isoformat()))
        except IntegrityError:
            return False
        return True
    if state.value >= today.isoformat():
        return False
    state.value = today.isoformat()
    return True


def send_due(session: Session, settings: Settings, calendar: WorkingCalendar, now: datetime) -> int:
    """Send today's digests if it is a working day past digest_at and they have not gone yet; returns how many
    counties were sent one."""
    local = now.astimezone(calendar.timezone)
    at = settings.targets.digest_at
    if not at or not calendar.is_working_day(local.date()) or local.time() < time.fromisoformat(at):
        return 0
    if not _claim(session, local.date()):
        return 0
    sent = 0
    counties = session.scalars(select(Jurisdiction.code).where(Jurisdiction.parent_code.is_not(None))
                               .order_by(Jurisdiction.code))
    for code in list(counties):
        supervisor = department(session, code, settings.routing.supervisor_kind)
        digest = digest_of(session, code, settings, now, calendar)
        if supervisor is None or not digest.open:
            continue
        payload = {"kind": KIND, "subject": f"清零每日提示：{digest.name}（{local:%m-%d}）", "text": digest.text}
        for destination in department_destinations(supervisor):
            if destination.split(":", 1)[0] in SCHEMES:
                enqueue(session, destination, payload, now=now, flush=False)
        sent += 1
    session.flush()
    return sent
