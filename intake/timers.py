"""Timers as rows (after RapidPro mailroom): each carries the complaint version it was set for.

A timer fires only if its complaint is still at that version; otherwise it is marked stale and does nothing,
so a transition never has to chase the timers it made obsolete. The timer's state change and its handler's
effects (events, outbox rows) share one transaction, so an effect happens once however often a pass runs or
crashes. Handlers are looked up in a registry by clock name: modules register themselves and the composition
root imports them (`load_handlers`), so the worker never names them.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import Complaint, Timer

log = logging.getLogger(__name__)

PENDING, FIRED, STALE, CANCELLED, PAUSED, ERROR = "pending", "fired", "stale", "cancelled", "paused", "error"


@dataclass(frozen=True)
class FireContext:
    """What a handler may need beyond the timer and its complaint; `extra` carries settings and calendar."""

    now: datetime
    extra: dict[str, Any]


Handler = Callable[[Session, Timer, Complaint, FireContext], None]
_HANDLERS: dict[str, Handler] = {}


def clock_name(timer_clock: str) -> str:
    """The registry key of a timer: the part before the first ':' ("acknowledge:warning" -> "acknowledge")."""
    return timer_clock.split(":", 1)[0]


def register(clock: str) -> Callable[[Handler], Handler]:
    """Decorator: `@register("route")` makes fn the handler of every timer whose clock name is "route"."""

    def decorate(fn: Handler) -> Handler:
        existing = _HANDLERS.get(clock)
        if existing is not None and existing is not fn:
            raise ValueError(f"clock {clock!r} already has a handler: {existing.__module__}.{existing.__name__}")
        _HANDLERS[clock] = fn
        return fn

    return decorate


def load_handlers(modules: Iterable[str]) -> list[str]:
    """Import the modules whose import registers handlers; returns the registered clock names."""
    for name in modules:
        importlib.import_module(name)
    return sorted(_HANDLERS)


def set_timer(session: Session, complaint: Complaint, clock: str, due_at: datetime, *,
              started_at: datetime | None = None) -> Timer:
    """A pending timer for the complaint's current version; started_at (default now) is when its clock began."""
    timer = Timer(complaint_id=complaint.id, clock=clock, due_at=due_at, version=complaint.version,
                  state=PENDING)
    if started_at is not None:
        timer.created_at = started_at
    session.add(timer)
    session.flush()
    return timer


def cancel_timers(session: Session, complaint: Complaint, clocks: Iterable[str] | None = None) -> int:
    """Cancel the complaint's pending and paused timers, all or only those of the given clock names."""
    wanted = None if clocks is None else set(clocks)
    count = 0
    for timer in open_timers(session, complaint.id):
        if wanted is None or clock_name(timer.clock) in wanted:
            timer.state = CANCELLED
            count += 1
    session.flush()
    return count


def open_timers(session: Session, complaint_id: int) -> list[Timer]:
    return list(session.scalars(select(Timer).where(Timer.complaint_id == complaint_id,
                                                    Timer.state.in_((PENDING, PAUSED))).order_by(Timer.id)))


def claim_due(session: Session, now: datetime, limit: int) -> list[Timer]:
    """Due pending timers, oldest first, locked for this transaction.

    On PostgreSQL, FOR UPDATE SKIP LOCKED lets several workers share the work without waiting on or repeating
    each other. SQLite has no row locks: the rows are read inside the write transaction, which is safe for
    the one worker a SQLite deployment runs.
    """
    query = (select(Timer).where(Timer.state == PENDING, Timer.due_at <= now)
             .order_by(Timer.due_at, Timer.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return list(session.scalars(query))


@dataclass
class FireResult:
    fired: int = 0
    stale: int = 0
    errors: int = 0


def fire(session: Session, timer: Timer, context: FireContext) -> str:
    """Fire one claimed timer inside the caller's transaction; returns the state it ends in.

    The caller holds the complaint's row lock (see `fire_due`), so the version read here is the latest.
    """
    complaint = session.get(Complaint, timer.complaint_id, populate_existing=True)
    timer.fired_at = context.now
    if complaint is None or complaint.version != timer.version:
        timer.state = STALE
        session.flush()
        return STALE
    handler = _HANDLERS.get(clock_name(timer.clock))
    if handler is None:
        log.error("timer %s: no handler registered for clock %r (is its module in worker.handler_modules?)",
                  timer.id, timer.clock)
        timer.state = ERROR
        session.flush()
        return ERROR
    handler(session, timer, complaint, context)
    timer.state = FIRED
    session.flush()
    return FIRED


def fire_due(session: Session, now: datetime, limit: int, extra: dict[str, Any],
             between: Callable[[], None] | None = None) -> FireResult:
    """Claim and fire up to `limit` due timers in the caller's transaction.

    Each timer runs in a savepoint: a handler that raises rolls back only its own effects and leaves the
    timer in state "error" (logged) instead of blocking every later pass. `between` runs after each timer.
    """
    result = FireResult()
    context = FireContext(now=now, extra=extra)
    claimed = claim_due(session, now, limit)
    if claimed and session.get_bind().dialect.name == "postgresql":
        # Lock the complaints too, so a concurrent transition either committed before (the timer is stale)
        # or waits for us. SKIP LOCKED: a complaint in the middle of a transition is left for the next pass,
        # and a worker never waits while holding timer locks, so workers and transitions cannot deadlock.
        ids = sorted({t.complaint_id for t in claimed})
        locked = set(session.scalars(select(Complaint.id).where(Complaint.id.in_(ids)).order_by(Complaint.id)
                                     .with_for_update(skip_locked=True)))
        claimed = [t for t in claimed if t.complaint_id in locked]
    for timer in claimed:
        try:
            with session.begin_nested():
                state = fire(session, timer, context)
        except Exception:
            log.exception("timer %s (%s) failed", timer.id, timer.clock)
            timer.state, timer.fired_at = ERROR, now
            session.flush()
            state = ERROR
        result.fired += state == FIRED
        result.stale += state == STALE
        result.errors += state == ERROR
        if between is not None:
            between()
    return result
