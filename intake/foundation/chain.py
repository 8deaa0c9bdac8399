"""The hash chain over a case's timeline: each event carries the hash of the one before, so a later change to any
event (or a deletion in the middle) shows when `qingling evidence verify` recomputes the chain.

Every place that writes an Event calls `seal` before adding it. The head of each case's chain is read once per
transaction (or savepoint) under a row lock on the complaint (so two writers cannot both append to the same head and fork the
chain) and then kept in the session for the transaction's further events, which lets a batch seal many events
without flushing between them.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from .models import Complaint, Event, utcnow

_HEADS = "evidence_chain_heads"


def event_hash(event: Event) -> str:
    """SHA-256 over the event's content and the hash before it, in a canonical form that survives a round trip
    through either database (JSON with sorted keys, the time in UTC to the microsecond)."""
    body = [event.prev_hash, event.complaint_id, event.kind, event.from_status, event.to_status, event.actor,
            event.note, event.data or {}, event.created_at.astimezone(timezone.utc).isoformat(timespec="microseconds")]
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _heads(session: Session) -> dict[int, str | None]:
    """The chain heads by complaint id known in the innermost transaction. Any change of transaction (a commit,
    a rollback, a savepoint begun, released or rolled back) starts again from the database, which then holds
    exactly the events that survived: a batch rolled back to its savepoint leaves no head behind."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    cached = session.info.get(_HEADS)
    if cached is None or cached[0] is not transaction:
        cached = session.info[_HEADS] = (transaction, {})
    return cached[1]


def prime(session: Session, complaint_ids: Iterable[int]) -> None:
    """Read the chain heads of a batch's cases in one query; the caller holds their rows locked."""
    heads = _heads(session)
    wanted = set(complaint_ids) - set(heads)
    if not wanted:
        return
    latest = select(func.max(Event.id)).where(Event.complaint_id.in_(wanted)).group_by(Event.complaint_id)
    heads.update(dict.fromkeys(wanted))
    with session.no_autoflush:  # what this transaction added is already in `heads`
        heads.update((complaint_id, head) for complaint_id, head in session.execute(
            select(Event.complaint_id, Event.hash).where(Event.id.in_(latest.scalar_subquery()))))


def seal(session: Session, event: Event) -> Event:
    """Give the event its time, the hash of the case's previous event and its own hash. Flushes nothing."""
    heads = _heads(session)
    if event.complaint_id not in heads:
        with session.no_autoflush:
            session.execute(select(Complaint.id).where(Complaint.id == event.complaint_id).with_for_update())
            heads[event.complaint_id] = session.scalar(
                select(Event.hash).where(Event.complaint_id == event.complaint_id).order_by(Event.id.desc()).limit(1))
    event.created_at = event.created_at or utcnow()
    event.prev_hash = heads[event.complaint_id]
    event.hash = heads[event.complaint_id] = event_hash(event)
    return event
