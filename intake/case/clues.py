"""Complaints that other systems submit (12345 work orders, national-platform clues, city systems), stored by
intake.case.complaints.create_complaint like every channel's, and never twice:

- a client's Idempotency-Key: a retry after a timeout finds the first complaint; the same key with another
  request is refused (the client has a bug, and guessing which request it meant would be worse);
- a clue's (source system, external id): the same work order sent again, by any client, is the same complaint;
  but only the client that sent it first, or one whose scope holds the case, is given it back: any other is
  refused (ClueSeenElsewhere) and learns nothing of the case.

Both are unique constraints tried inside a savepoint, never check-then-insert, so two concurrent requests cannot
both create one: on PostgreSQL the second waits for the first to commit and then finds its row.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.foundation.models import Complaint, ExternalRef, IdempotencyKey

from .complaints import NewComplaint, create_complaint


class IdempotencyMismatch(ValueError):
    """The Idempotency-Key was used before for a different request."""


class ClueSeenElsewhere(ValueError):
    """The clue was filed before by another client, for a case outside this client's scope."""


@dataclass(frozen=True)
class Clue:
    source: str
    external_id: str


def submit(session: Session, client_id: int, new: NewComplaint, *, request_hash: str, in_scope: ColumnElement[bool],
           idempotency_key: str | None = None, clue: Clue | None = None) -> tuple[Complaint, bool]:
    """(complaint, created); created is False for a retried request or a clue seen before. `in_scope`: the
    client's scope over complaints (intake.people.access.Scope.complaints)."""
    if not idempotency_key:
        return _create(session, client_id, new, clue, in_scope)
    key_row = IdempotencyKey(client_id=client_id, key=idempotency_key, request_hash=request_hash)
    try:
        with session.begin_nested():
            session.add(key_row)
            session.flush()
    except IntegrityError:
        first = session.scalars(select(IdempotencyKey).where(IdempotencyKey.client_id == client_id,
                                                             IdempotencyKey.key == idempotency_key)).one()
        if first.request_hash != request_hash:
            raise IdempotencyMismatch(idempotency_key) from None
        return session.get(Complaint, first.complaint_id), False
    complaint, created = _create(session, client_id, new, clue, in_scope)
    key_row.complaint_id = complaint.id
    session.flush()
    return complaint, created


def _create(session: Session, client_id: int, new: NewComplaint, clue: Clue | None,
            in_scope: ColumnElement[bool]) -> tuple[Complaint, bool]:
    if clue is None:
        return create_complaint(session, new)
    try:
        with session.begin_nested():
            complaint, _ = create_complaint(session, new)
            session.add(ExternalRef(complaint_id=complaint.id, source=clue.source, external_id=clue.external_id,
                                    client_id=client_id))
            session.flush()
            return complaint, True
    except IntegrityError:
        first = session.scalars(select(ExternalRef).where(
            ExternalRef.source == clue.source, ExternalRef.external_id == clue.external_id)).one()
        complaint = session.scalar(select(Complaint).where(
            Complaint.id == first.complaint_id, true() if first.client_id == client_id else in_scope))
        if complaint is None:
            raise ClueSeenElsewhere(clue) from None
        return complaint, False


def external_refs(session: Session, complaint_ids: list[int]) -> dict[int, ExternalRef]:
    """The clue origin of each of these complaints that has one, in one query."""
    if not complaint_ids:
        return {}
    return {ref.complaint_id: ref for ref in session.scalars(
        select(ExternalRef).where(ExternalRef.complaint_id.in_(complaint_ids)))}
