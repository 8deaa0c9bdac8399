"""The complaint state machine. The status column is only ever changed here, always with an Event.

Each transition bumps the complaint's version, so timers set for an earlier version become no-ops.
"""
from __future__ import annotations

from sqlalchemy.orm import Session

from .models import Complaint, Event, Status

S = Status
ALLOWED: dict[Status, frozenset[Status]] = {
    S.RECEIVED: frozenset({S.ROUTED}),
    S.ROUTED: frozenset({S.ACKNOWLEDGED, S.RETURNED, S.ROUTED}),
    S.ACKNOWLEDGED: frozenset({S.ACCEPTED, S.REJECTED, S.RETURNED, S.ROUTED}),
    S.ACCEPTED: frozenset({S.IN_PROGRESS, S.INVESTIGATING, S.RESOLVED, S.ROUTED}),
    S.REJECTED: frozenset({S.REOPENED, S.CLOSED}),
    S.IN_PROGRESS: frozenset({S.INVESTIGATING, S.RESOLVED, S.ROUTED}),
    S.INVESTIGATING: frozenset({S.RESOLVED}),
    S.RESOLVED: frozenset({S.CLOSED, S.REOPENED}),
    S.CLOSED: frozenset({S.REOPENED}),
    S.RETURNED: frozenset({S.ROUTED}),
    S.REOPENED: frozenset({S.IN_PROGRESS, S.RESOLVED}),
}


class TransitionError(ValueError):
    """A move the state machine does not allow; precise, for staff and API clients."""


def transition(session: Session, complaint: Complaint, to: Status | str, *, actor: str, kind: str | None = None,
               note: str | None = None, data: dict | None = None) -> Event:
    to = Status(to)
    current = Status(complaint.status)
    if to not in ALLOWED[current]:
        raise TransitionError(f"complaint {complaint.ticket_no}: {current.value} -> {to.value} is not allowed")
    event = Event(complaint_id=complaint.id, kind=kind or to.value, from_status=current.value, to_status=to.value,
                  actor=actor, note=note, data=data or {})
    complaint.status = to.value
    complaint.version += 1
    session.add(event)
    session.flush()
    return event


def record(session: Session, complaint: Complaint, kind: str, *, actor: str, note: str | None = None,
           data: dict | None = None) -> Event:
    """An event that changes no status (a contact made, a co-handler notified, a reminder sent)."""
    event = Event(complaint_id=complaint.id, kind=kind, actor=actor, note=note, data=data or {})
    session.add(event)
    session.flush()
    return event
