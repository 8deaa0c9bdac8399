"""Timers as rows (after RapidPro mailroom): each carries the complaint version it was set for.

A timer fires only if its complaint is still at that version; otherwise it is marked stale and does nothing,
so a transition never has to chase the timers it made obsolete. The timer's state change and its handler's
effects (events, outbox rows) share one transaction, so an effect happens once however often a pass runs or
crashes. Handlers are looked up by clock name in the table the caller passes (the worker's is
`intake.runtime.worker.TIMER_HANDLERS`). A timer may instead carry a warning (intake.warnings: a rectification,
verify or report-back deadline): it has no complaint and no version, its handler receives None for the complaint and reads
`timer.warning`, and whoever closes the warning cancels it.
"""
from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, Select, bindparam, select
from sqlalchemy.orm import Session

from intake.delivery.outbox import RetryPolicy, notify_department
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.models import Complaint, Timer
from intake.foundation.settings import Settings

log = logging.getLogger(__name__)

PENDING, FIRED, STALE, CANCELLED, PAUSED, ERROR = "pending", "fired", "stale", "cancelled", "paused", "error"


@dataclass(frozen=True)
class Firing:
    """What every timer of a pass shares: the handler per clock name, settings, calendar and the retry policy
    for a handler that raises (none: it stays in error at once)."""

    handlers: Mapping[str, Handler]
    settings: Settings
    calendar: WorkingCalendar
    retry: RetryPolicy | None = None


@dataclass(frozen=True)
class FireContext:
    """What a handler may need beyond the timer and its complaint.

    `batch` is every (timer, complaint) fired with this context, so a handler can load what the whole batch
    needs in one query on its first call and keep it in `cache` (a fresh dict per batch) for the others.
    Handlers should add their rows without flushing: `fire_due` flushes the batch once.
    """

    now: datetime
    settings: Settings
    calendar: WorkingCalendar
    batch: Sequence[tuple[Timer, Complaint]] = ()
    cache: dict[str, Any] = field(default_factory=dict, compare=False)

    def cached(self, key: Any, compute: Callable[[], Any]) -> Any:
        """cache[key], computed on first use."""
        if key not in self.cache:
            self.cache[key] = compute()
        return self.cache[key]


# A case's timer is fired with its complaint; a member unit's task timer (Timer.unit_task_id) with None.
Handler = Callable[[Session, Timer, Complaint | None, FireContext], None]
# A deadline that no status change makes obsolete (挂牌督办, an order to pay's time limit, the police's answer to a
# transfer, a step of the case's plan, the housing department's reply to a clearing-out notice, a co-handler's
# reply): intake.case.clocks carries its timers over to each new version until the case is closed.
SUPERVISE_CLOCK, PAYMENT_ORDER_CLOCK, POLICE_CLOCK, PLAN_CLOCK = "supervise", "payment_order", "police_transfer", "plan"
CLEARING_CLOCK, CO_STEP_CLOCK = "clearing", "co_step"
STICKY_CLOCKS = frozenset({SUPERVISE_CLOCK, PAYMENT_ORDER_CLOCK, POLICE_CLOCK, PLAN_CLOCK, CLEARING_CLOCK,
                           CO_STEP_CLOCK})
# The reminders to confirm the money after 办结 (intake.case.cases.fire_confirm): any status change ends them.
CONFIRM_CLOCK = "confirm"


def clock_name(timer_clock: str) -> str:
    """The handler key of a timer: the part before the first ':' ("acknowledge:warning" -> "acknowledge")."""
    return timer_clock.split(":", 1)[0]


def is_sticky(clock: str) -> bool:
    return clock in STICKY_CLOCKS


def set_timer(session: Session, complaint: Complaint, clock: str, due_at: datetime) -> Timer:
    """A pending timer for the complaint's current version."""
    timer = Timer(complaint_id=complaint.id, clock=clock, due_at=due_at, version=complaint.version,
                  state=PENDING)
    session.add(timer)
    session.flush()
    return timer


# On the table, not the mapped class: the ORM's bulk insert costs more than the statement, and adds nothing here.
_INSERT = Timer.__table__.insert()


def add_timers(session: Session, complaint: Complaint, started_at: datetime, due: Iterable[tuple[str, datetime]],
               state: str = PENDING) -> None:
    """Timers (clock, due_at) for the complaint's current version whose clock began at started_at, in one INSERT
    (a route sets sixteen at once; SQLite cannot batch ORM inserts that must return their ids). The rows are not
    loaded into the session: later queries find them."""
    rows = [{"complaint_id": complaint.id, "clock": clock, "due_at": due_at, "version": complaint.version,
             "state": state, "attempts": 0, "created_at": started_at} for clock, due_at in due]
    if rows:
        session.execute(_INSERT, rows)


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


def claim_due(session: Session, now: datetime, limit: int, clocks: Collection[str] | None = None,
              exclude: Collection[str] = ()) -> list[tuple[Timer, Complaint | None]]:
    """Due pending timers (only of `clocks` if given, none of `exclude`), oldest first, each with its complaint
    fresh from the database, in one query; on PostgreSQL both rows locked for this transaction.

    SKIP LOCKED lets several workers share the work without waiting on or repeating each other, and leaves a
    complaint in the middle of a transition (its timers stay pending) for the next pass: the lock makes a
    concurrent transition either commit before us (the timer is stale) or wait for us, and a worker never waits
    while holding locks, so workers and transitions cannot deadlock. It is FOR NO KEY UPDATE (the worker changes
    no key): a webhook adding a worker's message, photo or timer to the case (rows that reference it, so they
    take KEY SHARE) never waits for a batch. SQLite has no row locks: the rows are read inside the write
    transaction, which is safe for the one worker a SQLite deployment runs.

    Timers of a member unit's task or of a warning have no complaint (PostgreSQL cannot lock the empty side of an
    outer join): when no clocks are named they are claimed first, on their own, and complaints' timers fill the
    rest of the limit.
    """
    found: list[tuple[Timer, Complaint | None]] = []
    dialect = session.get_bind().dialect.name
    clocks = None if clocks is None else frozenset(clocks)
    if clocks is None:
        alone = _claim_query(False, clocks, frozenset(exclude), dialect)
        found = [(timer, None) for timer in session.scalars(alone, {"now": now, "limit": limit})]
    if len(found) < limit:
        query = _claim_query(True, clocks, frozenset(exclude), dialect)
        found += [(timer, complaint) for timer, complaint
                  in session.execute(query, {"now": now, "limit": limit - len(found)})]
    return found


@functools.lru_cache(maxsize=32)
def _claim_query(of_complaints: bool, clocks: frozenset[str] | None, exclude: frozenset[str], dialect: str) -> Select:
    """claim_due's statement (complaints' timers with their complaints, or the others alone) for these clocks,
    built once: every route runs it."""
    if of_complaints:
        query = select(Timer, Complaint).join(Complaint, Complaint.id == Timer.complaint_id)
        tables: tuple = (Timer.__table__, Complaint.__table__)
    else:
        query = select(Timer).where(Timer.complaint_id.is_(None))
        tables = (Timer.__table__,)
    query = query.where(Timer.state == PENDING, Timer.due_at <= bindparam("now"))
    if clocks is not None:
        query = query.where(Timer.clock.in_(sorted(clocks)))
    if exclude:
        query = query.where(Timer.clock.not_in(sorted(exclude)))
    query = (query.order_by(Timer.due_at, Timer.id).limit(bindparam("limit", type_=Integer))
             .execution_options(populate_existing=True))
    return _locking(query, tables, dialect)


def _locked(session: Session, query: Select, tables: tuple) -> Select:
    return _locking(query, tables, session.get_bind().dialect.name)


def _locking(query: Select, tables: tuple, dialect: str) -> Select:
    if dialect == "postgresql":
        return query.with_for_update(skip_locked=True, key_share=True, of=tables)
    return query


@dataclass
class FireResult:
    fired: int = 0
    stale: int = 0
    errors: int = 0

    def count(self, state: str) -> None:
        self.fired += state == FIRED
        self.stale += state == STALE
        self.errors += state == ERROR


def _context(firing: Firing, now: datetime, batch: Sequence[tuple[Timer, Complaint | None]]) -> FireContext:
    return FireContext(now=now, settings=firing.settings, calendar=firing.calendar, batch=batch)


def _fire_loaded(session: Session, timer: Timer, complaint: Complaint | None, firing: Firing,
                 context: FireContext) -> str:
    """Fire one timer whose complaint the caller loaded (and locked), or a task's or warning's timer (no
    complaint); does not flush. The timer's row is written once, after the handler (its state and time together)."""
    if timer.complaint_id is not None and (complaint is None or complaint.version != timer.version):
        state = STALE
    elif (handler := firing.handlers.get(clock_name(timer.clock))) is None:
        log.error("timer %s: no handler for clock %r in the worker's timer table", timer.id, timer.clock)
        state = ERROR
    else:
        handler(session, timer, complaint, context)
        state = FIRED
    timer.state, timer.fired_at = state, context.now
    return state


def _retry_later(session: Session, timer: Timer, complaint: Complaint | None, now: datetime,
                 retry: RetryPolicy | None, exc: Exception) -> None:
    """A failing handler (the database blinked, a directory row is missing) is retried with backoff; after the
    last attempt the timer stays in error and the dispatch desk is told, so no case silently stops moving."""
    timer.attempts += 1
    retry_at = retry.next_try(timer.attempts, False, now) if retry is not None else None
    if retry_at is not None:
        timer.due_at = retry_at
    else:
        timer.state, timer.fired_at = ERROR, now
        ticket = complaint.ticket_no if complaint is not None else timer.complaint_id
        if timer.complaint_id is not None:
            what = f"案件{ticket}"
        elif timer.warning_id is not None:
            what = f"预警{timer.warning_id}"
        else:
            what = f"成员单位任务{timer.unit_task_id}"
        notify_department(session, None, {
            "kind": "timer_failed", "timer_id": timer.id, "ticket_no": ticket,
            "text": f"{what}的自动处理（{timer.clock}）多次失败：{type(exc).__name__}，请人工处理。",
        }, timer.complaint_id, now)
    session.flush()


def fire_due(session: Session, now: datetime, limit: int, firing: Firing,
             between: Callable[[], None] | None = None, clocks: Collection[str] | None = None,
             exclude: Collection[str] = ()) -> FireResult:
    """Claim and fire up to `limit` due timers (of `clocks`, none of `exclude`) in the caller's transaction.

    The batch runs in one savepoint with one flush at the end: the timers and their complaints are loaded (and
    locked) in one query, handlers share a per-batch cache (`FireContext.cache`, e.g. the timeline history of every complaint
    of the batch, loaded at once) and their rows are inserted together. If anything in it raises, the
    savepoint rolls the whole batch back and it is run again one timer at a time, each in its own savepoint:
    a handler that raises then rolls back only its own effects and leaves its timer in state "error" (logged)
    instead of blocking every later pass. `between` runs after each timer.

    A limit of one (a route, or any timer on SQLite) is the transaction's only work, so it needs no savepoint: a
    handler that raises is raised as TimerFailed, the caller rolls the transaction back and counts the attempt in
    a new one (`record_failure`).
    """
    result = FireResult()
    batch = claim_due(session, now, limit, clocks, exclude)
    if not batch:
        return result
    if limit == 1:
        result.count(_fire_only(session, *batch[0], firing, now, between))
        return result
    try:
        with session.begin_nested():
            states = []
            context = _context(firing, now, batch)
            for timer, complaint in batch:
                states.append(_fire_loaded(session, timer, complaint, firing, context))
                if between is not None:
                    between()
            session.flush()
    except Exception:
        log.warning("a batch of %s timers failed; firing them one at a time", len(batch), exc_info=True)
        states = [_fire_alone(session, timer, complaint, now, firing, between) for timer, complaint in batch]
    for state in states:
        result.count(state)
    return result


class TimerFailed(Exception):
    """A timer fired as its transaction's only work raised (the cause is chained): roll back, then
    `record_failure` in a new transaction."""

    def __init__(self, timer_id: int):
        super().__init__(f"timer {timer_id} failed")
        self.timer_id = timer_id


def _fire_only(session: Session, timer: Timer, complaint: Complaint | None, firing: Firing, now: datetime,
               between: Callable[[], None] | None) -> str:
    try:
        state = _fire_loaded(session, timer, complaint, firing, _context(firing, now, [(timer, complaint)]))
        session.flush()
    except Exception as exc:
        raise TimerFailed(timer.id) from exc
    if between is not None:
        between()
    return state


def record_failure(session: Session, timer_id: int, firing: Firing, now: datetime, exc: BaseException) -> None:
    """Count a failed attempt of a timer whose transaction was rolled back: it is retried later, or stays in error
    and the dispatch desk is told (`_retry_later`). Nothing if another worker holds or already fired it."""
    query = _locked(session, select(Timer).where(Timer.id == timer_id, Timer.state == PENDING), (Timer.__table__,))
    timer = session.scalar(query)
    if timer is not None:
        complaint = session.get(Complaint, timer.complaint_id) if timer.complaint_id is not None else None
        _retry_later(session, timer, complaint, now, firing.retry, exc)


def _fire_alone(session: Session, timer: Timer, complaint: Complaint | None, now: datetime,
                firing: Firing, between: Callable[[], None] | None) -> str:
    try:
        with session.begin_nested():
            state = _fire_loaded(session, timer, complaint, firing, _context(firing, now, [(timer, complaint)]))
            session.flush()
    except Exception as exc:
        log.exception("timer %s (%s) failed", timer.id, timer.clock)
        _retry_later(session, timer, complaint, now, firing.retry, exc)
        state = ERROR
    if between is not None:
        between()
    return state
