"""Every case event (an Event row: transition or record) goes to the webhook of each client system whose scope
holds the case, as an outbox row written in the event's own transaction; the signed webhook sender delivers it
with the outbox's retries.

It is wired into every session (`install`, from intake.foundation.db), so no code path that writes an Event can forget to
publish it. The hot paths stay as they were when nobody subscribes: the subscriber list is cached per process
and database (SUBSCRIBERS_SECONDS; a change made in this process clears it at once, one made by another process
shows within that while), and with none, a flush costs no query at all. With subscribers, a flush only notes
the new events' ids; at commit one query per subscriber picks the events whose case is in its scope (the scope's
own SQL condition, intake.people.access) and one multi-row INSERT writes the outbox rows. Events rolled back with a
savepoint are simply not found then.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from intake.foundation.models import ApiClient, Complaint, Department, Event, ExternalRef, Outbox
from intake.foundation.refcache import RefCache
from intake.foundation.texts import event_sentence

from .access import Scope

SUBSCRIBERS_SECONDS = 30.0
KIND = "case_event"
_PENDING = "qingling_publish_event_ids"
_cache = RefCache(seconds=SUBSCRIBERS_SECONDS)


@dataclass(frozen=True)
class Subscriber:
    scope: Scope
    destination: str


def install(factory: sessionmaker[Session]) -> None:
    sa_event.listen(factory, "after_flush", _note_events)
    sa_event.listen(factory, "before_commit", _publish)
    sa_event.listen(factory, "after_transaction_end", _forget)


def subscribers_changed() -> None:
    """A client was created, disabled or given a webhook: this process reads the list afresh."""
    _cache.clear()


def subscribers(session: Session) -> tuple[Subscriber, ...]:
    return _cache.get(session, "subscribers", lambda: tuple(
        Subscriber(Scope.of(client), f"webhook:{client.webhook_url}") for client in session.scalars(
            select(ApiClient).where(ApiClient.active.is_(True), ApiClient.webhook_url.is_not(None))
            .options(selectinload(ApiClient.department).selectinload(Department.jurisdiction)))))


def _note_events(session: Session, _flush_context) -> None:
    if not subscribers(session):
        return
    ids = [obj.id for obj in session.new if isinstance(obj, Event)]
    if ids:
        session.info.setdefault(_PENDING, set()).update(ids)


def _publish(session: Session) -> None:
    """At the commit of the whole transaction (before_commit also runs as each savepoint is released, when the
    transaction's later rows, such as a clue's external id, are not written yet)."""
    if not session.info.get(_PENDING) or session.in_nested_transaction():
        return
    session.flush()  # events still pending join the ones noted
    ids = sorted(session.info.pop(_PENDING, ()))
    rows = [row for subscriber in subscribers(session) for row in _rows_for(session, subscriber, ids)]
    if rows:
        session.execute(insert(Outbox.__table__), rows)


def _forget(session: Session, transaction) -> None:
    if transaction.parent is None:
        session.info.pop(_PENDING, None)


def _rows_for(session: Session, subscriber: Subscriber, ids: list[int]) -> list[dict[str, Any]]:
    found = session.execute(
        select(Event, Complaint.ticket_no, Complaint.status, ExternalRef.source, ExternalRef.external_id)
        .join(Complaint, Event.complaint_id == Complaint.id)
        .outerjoin(ExternalRef, ExternalRef.complaint_id == Complaint.id)
        .where(Event.id.in_(ids), subscriber.scope.complaints()).order_by(Event.id))
    return [{"destination": subscriber.destination, "complaint_id": event.complaint_id,
             "payload": payload(event, ticket_no, status, source, external_id)}
            for event, ticket_no, status, source, external_id in found]


def payload(event: Event, ticket_no: str, status: str, source: str | None, external_id: str | None) -> dict:
    """The webhook body (before the sender adds sent_at and the delivery id); receivers dedupe on event.id."""
    return {
        "kind": KIND,
        "text": event_sentence(event.kind, ticket_no),
        "ticket_no": ticket_no,
        "event": {"id": event.id, "kind": event.kind, "from_status": event.from_status,
                  "to_status": event.to_status, "actor": event.actor, "note": event.note, "data": event.data,
                  "at": event.created_at.isoformat()},
        "complaint": {"ticket_no": ticket_no, "status": status,
                      "source": {"system": source, "external_id": external_id} if source else None},
    }
