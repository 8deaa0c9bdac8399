"""The hash chain over a case's timeline: each event carries its place in the case's chain, the hash of the event
before it and its own, so a later change to any event (or a deletion in the middle) shows when `qingling
evidence verify` recomputes the chain.

Events are sealed when the transaction that wrote them commits, not while it runs (`install` wires this into
every session of the factory, so no code path that writes an Event can forget it). The transaction's events are
written first; then, as the very last step before COMMIT, the chains they join are locked in one sweep in case-id
order (on PostgreSQL a transaction-level advisory lock per case; SQLite has one writer at a time anyway), their
heads read and the new events given their places and hashes (a case the transaction itself created has no
chain yet and cannot be seen by another writer: it needs neither). No row of the complaint is locked, so a writer that
adds to a case never waits for a chain; locks taken all at once, in one order, by a transaction that then waits
for nothing else cannot close a cycle, so two writers crossing the same cases in opposite orders only take turns.
A unique index on (complaint_id, chain_index) refuses a fork should two sealers ever meet.
"""
from __future__ import annotations

import hashlib
import json
from datetime import timezone
from itertools import groupby

from sqlalchemy import Integer, and_, bindparam, func, select
from sqlalchemy import event as sa_event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import instance_state

from .models import Complaint, Event

CHAIN_LOCKS = 0x636861  # the first key of pg_advisory_xact_lock(int, int): the evidence chains' key space
_PENDING = "qingling_chain_pending"
_CREATED = "qingling_chain_created"  # the complaints this transaction inserted


def event_hash(event: Event) -> str:
    """SHA-256 over the event's content and the hash before it, in a canonical form that survives a round trip
    through either database (JSON with sorted keys, the time in UTC to the microsecond)."""
    body = [event.prev_hash, event.complaint_id, event.kind, event.from_status, event.to_status, event.actor,
            event.note, event.data or {}, event.created_at.astimezone(timezone.utc).isoformat(timespec="microseconds")]
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def install(factory: sessionmaker[Session]) -> None:
    """Seal every session's events at commit; install it after the factory's other before_commit hooks, so the
    chains' locks are the last a transaction takes."""
    sa_event.listen(factory, "after_flush", _note_events)
    sa_event.listen(factory, "before_commit", seal_pending)
    sa_event.listen(factory, "after_transaction_end", _forget)


def _note_events(session: Session, _flush_context) -> None:
    new = [obj for obj in session.new if isinstance(obj, Event)]
    if new:
        session.info.setdefault(_PENDING, []).extend(new)
    created = [obj for obj in session.new if isinstance(obj, Complaint)]
    if created:
        session.info.setdefault(_CREATED, []).extend(created)


def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
        session.info.pop(_CREATED, None)


def seal_pending(session: Session) -> None:
    """before_commit of the whole transaction (it also runs as each savepoint is released, when more may follow):
    chain the transaction's surviving events (a savepoint rolled back leaves its events transient, skipped here)."""
    if not session.info.get(_PENDING) or session.in_nested_transaction():
        return
    session.flush()
    events = sorted((e for e in session.info.pop(_PENDING) if instance_state(e).persistent and e.hash is None),
                    key=lambda e: (e.complaint_id, e.id))
    if not events:
        return
    created = {c.id for c in session.info.pop(_CREATED, ()) if instance_state(c).persistent}
    case_ids = sorted({e.complaint_id for e in events} - created)
    if session.get_bind().dialect.name == "postgresql":
        for case_id in case_ids:
            session.execute(_LOCK, {"case_id": case_id})
    # A statement of its own: it must see what the lock's last holder committed.
    heads = _heads(session, case_ids) if case_ids else {}
    for case_id, chained in groupby(events, key=lambda e: e.complaint_id):
        index, head = heads.get(case_id, (0, None))
        for event in chained:
            index += 1
            event.chain_index, event.prev_hash = index, head
            event.hash = head = event_hash(event)


def _last_places():
    last = (select(Event.complaint_id, func.max(Event.chain_index).label("chain_index"))
            .where(Event.complaint_id.in_(bindparam("case_ids", expanding=True)), Event.chain_index.is_not(None))
            .group_by(Event.complaint_id).subquery())
    return select(Event.complaint_id, Event.chain_index, Event.hash).join(
        last, and_(Event.complaint_id == last.c.complaint_id, Event.chain_index == last.c.chain_index))


# Built once: every commit that wrote an event runs them.
_LOCK = select(func.pg_advisory_xact_lock(CHAIN_LOCKS, bindparam("case_id", type_=Integer)))
_HEADS = _last_places()


def _heads(session: Session, case_ids: list[int]) -> dict[int, tuple[int, str]]:
    """Each case's last sealed place and hash, for the cases that have a chain."""
    rows = session.execute(_HEADS, {"case_ids": case_ids})
    return {case_id: (index, hash_) for case_id, index, hash_ in rows}
