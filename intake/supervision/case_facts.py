"""The per-case facts supervisors count (models.CaseFacts), kept in step with the timeline.

Every session from `intake.foundation.db.make_session_factory` runs `keep_case_facts` after each flush: the events just
written update their complaints' fact rows in the same transaction, so a figure never disagrees with the
timeline it is drawn from, whichever code wrote the event (transitions, clocks, intake).

Definitions, from the Event rows:
- A clock (acknowledge, contact, accept, reply) is *met on time* when it stopped before any "clock_overdue"
  event for that clock (data["clock"]); it is *missed* once such an event exists, also when the case acts
  afterwards: a case acknowledged late counts as late, and one transferred and overdue at its second
  department too. A paused clock does not count the pause: pausing and resuming reschedule the timers, so
  the overdue event comes only when the time without the pause has run out.
- A clock stops: acknowledge at the "acknowledged" transition, contact at the "contacted" event, accept at
  the "accepted" or "rejected" transition (受理 or 不予受理), reply at the "resolved" transition (办结).
- Missed wins over met whatever the order of the events, so the facts are the same however they are
  replayed (see `rebuild`).
- 受理 and 立案 dates are the first ones; 不予受理 and 办结 the latest; the 销号 date is that of the latest
  closure, cleared when the case is reopened.
"""
from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby

from sqlalchemy import Connection, bindparam, func, inspect, select, update
from sqlalchemy.orm import Session

from intake.foundation.models import CaseFacts, Complaint, Event, EventKind, Site, Status, UTCDateTime
from intake.reading.names import is_named

from . import tallies
from .employers import normalise_name

CLOCK_COLUMNS = {"acknowledge": "acknowledged_on_time", "contact": "contact_on_time",
                 "accept": "accept_on_time", "reply": "reply_on_time"}
STOPPED_BY_STATUS = {Status.ACKNOWLEDGED.value: "acknowledge", Status.ACCEPTED.value: "accept",
                     Status.REJECTED.value: "accept", Status.RESOLVED.value: "reply"}
STOPPED_BY_KIND = {EventKind.CONTACTED: "contact"}
FIRST_DATES = {Status.ACCEPTED.value: "accepted_at", Status.INVESTIGATING.value: "investigated_at"}
LATEST_DATES = {Status.REJECTED.value: "rejected_at", Status.RESOLVED.value: "resolved_at",
                Status.CLOSED.value: "closed_at"}
REPLAY_BATCH = 5000
F = CaseFacts
_ID, _AT = bindparam("id"), bindparam("at", type_=UTCDateTime())
_MISSED = {clock: update(F).where(F.complaint_id == _ID).values({column: False})
           for clock, column in CLOCK_COLUMNS.items()}
_MET = {clock: update(F).where(F.complaint_id == _ID, getattr(F, column).is_(None)).values({column: True})
        for clock, column in CLOCK_COLUMNS.items()}
_FIRST = {status: update(F).where(F.complaint_id == _ID).values({column: func.coalesce(getattr(F, column), _AT)})
          for status, column in FIRST_DATES.items()}
_LATEST = {status: update(F).where(F.complaint_id == _ID).values({column: _AT})
           for status, column in LATEST_DATES.items()}
_REOPENED = update(F).where(F.complaint_id == _ID).values(closed_at=None)


def keep_case_facts(session: Session, _flush_context) -> None:
    """after_flush: the events this flush wrote update their complaints' facts (new complaints get a row); the
    cases whose facts or counted attributes changed are noted for the daily tallies, brought up to date at
    commit (intake.supervision.tallies)."""
    events = sorted((o for o in session.new if isinstance(o, Event)), key=lambda e: e.id)
    changed = {c.id for c in session.dirty if isinstance(c, Complaint) and _counted_change(c)}
    if not events and not changed:
        return
    connection = session.connection()
    new = [e.complaint_id for e in events if e.kind == EventKind.RECEIVED]
    if new:
        _insert_rows(connection, new)
    _apply(connection, events)
    tallies.touch(session, changed | {e.complaint_id for e in events})


def _counted_change(complaint: Complaint) -> bool:
    state = inspect(complaint)
    return any(state.attrs[name].history.has_changes() for name in tallies.TALLIED_ATTRIBUTES)


def rebuild(connection: Connection) -> None:
    """Facts for complaints that have none (e.g. written before this table existed), by replaying their
    timelines through the same statements the flush hook runs."""
    missing = list(connection.scalars(select(Complaint.id).where(
        Complaint.id.not_in(select(F.complaint_id))).order_by(Complaint.id)))
    for start in range(0, len(missing), REPLAY_BATCH):
        chunk = missing[start:start + REPLAY_BATCH]
        _insert_rows(connection, chunk)
        _apply(connection, connection.execute(
            select(Event.complaint_id, Event.kind, Event.to_status, Event.data, Event.created_at)
            .where(Event.complaint_id.in_(chunk)).order_by(Event.id)))
        tallies.refresh(connection, chunk)


def _insert_rows(connection: Connection, complaint_ids: list[int]) -> None:
    rows = connection.execute(select(Complaint.id, Complaint.claim, Site.general_contractor)
                              .outerjoin(Site, Site.id == Complaint.site_id).where(Complaint.id.in_(complaint_ids)))
    values = [{"complaint_id": cid, "employer": employer_of(claim, contractor)} for cid, claim, contractor in rows]
    if values:
        connection.execute(F.__table__.insert(), values)


def employer_of(claim: dict | None, general_contractor: str | None) -> str | None:
    """Who the complaint is against: the employer the worker named, else the site's general contractor
    (who answers for the wages on a construction site). A role word (老板, 包工头 ...) names nobody and is never
    a register entry."""
    named = (claim or {}).get("employer")
    chosen = named if isinstance(named, str) and is_named(named) else general_contractor
    return normalise_name(chosen) if is_named(chosen) else None


def _apply(connection: Connection, events: Iterable) -> None:
    effects = [effect for event in events for effect in _effects(event)]
    for statement, group in groupby(effects, key=lambda e: e[0]):
        connection.execute(statement, [params for _, params in group])


def _effects(event) -> list[tuple]:
    """(statement, parameters) for one event, in the order they must run."""
    found, ident = [], {"id": event.complaint_id}
    clock = (event.data or {}).get("clock")
    if event.kind == EventKind.CLOCK_OVERDUE and clock in CLOCK_COLUMNS:
        found.append((_MISSED[clock], ident))
    stopped = STOPPED_BY_STATUS.get(event.to_status) or STOPPED_BY_KIND.get(event.kind)
    if stopped:
        found.append((_MET[stopped], ident))
    if event.to_status in FIRST_DATES:
        found.append((_FIRST[event.to_status], {**ident, "at": event.created_at}))
    if event.to_status in LATEST_DATES:
        found.append((_LATEST[event.to_status], {**ident, "at": event.created_at}))
    if event.to_status == Status.REOPENED.value:
        found.append((_REOPENED, ident))
    return found
