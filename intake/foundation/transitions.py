"""The complaint state machine. The status column is only ever changed here, always with an Event.

Each transition bumps the complaint's version, so timers set for an earlier version become no-ops. Every event's
kind is an EventKind: a string that is none (a typo) raises ValueError here rather than write a kind nothing reads.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy.orm import Session

from .models import Attachment, Complaint, Event, EventKind, Status

ALLOWED: dict[Status, frozenset[Status]] = {
    Status.RECEIVED: frozenset({Status.ROUTED}),
    Status.ROUTED: frozenset({Status.ACKNOWLEDGED, Status.RETURNED, Status.ROUTED, Status.DUPLICATE}),
    Status.ACKNOWLEDGED: frozenset({Status.ACCEPTED, Status.REJECTED, Status.RETURNED, Status.ROUTED,
                                    Status.DUPLICATE}),
    Status.ACCEPTED: frozenset({Status.IN_PROGRESS, Status.INVESTIGATING, Status.RESOLVED, Status.ROUTED,
                                Status.DUPLICATE}),
    Status.REJECTED: frozenset({Status.REOPENED, Status.CLOSED}),
    Status.IN_PROGRESS: frozenset({Status.INVESTIGATING, Status.RESOLVED, Status.ROUTED, Status.DUPLICATE}),
    Status.INVESTIGATING: frozenset({Status.RESOLVED, Status.DUPLICATE}),
    Status.RESOLVED: frozenset({Status.CLOSED, Status.REOPENED}),
    Status.CLOSED: frozenset({Status.REOPENED}),
    Status.RETURNED: frozenset({Status.ROUTED}),
    Status.REOPENED: frozenset({Status.IN_PROGRESS, Status.RESOLVED, Status.DUPLICATE}),
    Status.DUPLICATE: frozenset(),
}
# Statuses that are left only by undoing the step that entered them: back to a status that may reach them (the
# caller passes the one recorded when the step was taken). Kept out of ALLOWED so that no action derived from the
# state machine (intake.case.actions) is offered there.
UNDOABLE = frozenset({Status.DUPLICATE})


class TransitionError(ValueError):
    """A move the state machine does not allow; precise, for staff and API clients."""


def transition(session: Session, complaint: Complaint, to: Status | str, *, actor: str,
               kind: EventKind | None = None, note: str | None = None, data: dict | None = None,
               flush: bool = True) -> Event:
    """Move the complaint to `to`; the event's kind is the new status unless the step has a kind of its own.
    flush=False leaves the writes to the caller's next flush (routing writes the case row once)."""
    to = Status(to)
    current = Status(complaint.status)
    if to not in ALLOWED[current] and not (current in UNDOABLE and current in ALLOWED[to]):
        raise TransitionError(f"complaint {complaint.ticket_no}: {current.value} -> {to.value} is not allowed")
    kind = EventKind(kind or to.value)
    event = Event(complaint_id=complaint.id, kind=kind, from_status=current.value, to_status=to.value,
                  actor=actor, note=note, data=data or {})
    complaint.status = to.value
    complaint.version += 1
    session.add(event)
    if flush:
        session.flush()
    return event


def record(session: Session, complaint: Complaint, kind: EventKind, *, actor: str, note: str | None = None,
           data: dict | None = None, flush: bool = True) -> Event:
    """An event that changes no status (a contact made, a co-handler notified, a reminder sent); flush=False
    leaves its insert to the caller's next flush (a batch's events are inserted together)."""
    event = Event(complaint_id=complaint.id, kind=EventKind(kind), actor=actor, note=note, data=data or {})
    session.add(event)
    if flush:
        session.flush()
    return event


def record_evidence(session: Session, complaint: Complaint, attachment: Attachment, *, actor: str) -> Event:
    """Put a stored file into the case's hash chain: an event naming it with its SHA-256 and size, and its
    original's SHA-256 and the time it was received, so neither copy can change unseen."""
    data = {"attachment_id": attachment.id, "sha256": attachment.sha256, "size": attachment.size,
            "filename": attachment.filename, "original_sha256": attachment.original_sha256,
            "received_at": received_text(attachment.received_at)}
    return record(session, complaint, EventKind.EVIDENCE_STORED, actor=actor, data=data)


def received_text(at: datetime | None) -> str | None:
    """A file's time of receipt as the chain seals it: UTC to the microsecond, the same from either database."""
    return None if at is None else at.astimezone(timezone.utc).isoformat(timespec="microseconds")
