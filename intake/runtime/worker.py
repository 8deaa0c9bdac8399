"""The worker loop: fire due timers (complaints' clocks, warnings' deadlines, member units' reminders), evaluate
the warning indicators (once a day, and after new payroll records), deliver due outbox messages, fetch evidence
photos that providers hold, then write the ledger exports staff asked for. It owns its transactions.

Route timers are fired one per transaction: routing a complaint is the heaviest work a timer does, and the
worker must hold the collective's advisory lock (on SQLite the write lock) no longer than one complaint's
routing, so intake in a wave never waits on a batch. On PostgreSQL other timers are fired in batches, one
transaction a batch (row locks leave intake free), so a crash mid-batch rolls the whole batch back and the next
pass repeats none of its effects; on SQLite, whose one writer would keep intake waiting, each timer has a
transaction of its own. Messages are delivered, and photos fetched, one transaction each: a
crash can at worst resend the one message, or refetch the one photo, in flight. On PostgreSQL any number of
workers on any number of machines share the work (SKIP LOCKED); on SQLite run one.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from intake.case import cases, clocks, co_clocks, timers
from intake.delivery import media, outbox
from intake.enforcement import clearing, crosscheck, orders, plans, police
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.models import utcnow
from intake.foundation.settings import Settings
from intake.supervision import exports
from intake.units import digest, inspections, tasks
from intake.warnings import ledger as warnings

log = logging.getLogger(__name__)

# Every clock a timer can carry, and what fires it: the one place a new kind of timer is added.
TIMER_HANDLERS: Mapping[str, timers.Handler] = {
    cases.ROUTE_CLOCK: crosscheck.fire_route,
    cases.SUPERVISE_CLOCK: cases.fire_supervision,
    timers.PAYMENT_ORDER_CLOCK: orders.fire_order,
    timers.POLICE_CLOCK: police.fire_police,
    timers.PLAN_CLOCK: plans.fire_step,
    timers.CLEARING_CLOCK: clearing.fire_notice,
    cases.MATERIAL_CLOCK: cases.fire_material,
    cases.CONFIRM_CLOCK: cases.fire_confirm,
    timers.CO_STEP_CLOCK: co_clocks.fire,
    tasks.TASK_CLOCK: tasks.fire_reminder,
    inspections.ITEM_CLOCK: inspections.fire_reminder,
    **{clock: warnings.fire_deadline
       for clock in (warnings.RECTIFY_CLOCK, warnings.VERIFY_CLOCK, warnings.REPORT_CLOCK)},
    **{clock: clocks.fire_clock for clock in sorted(clocks.CLOCKS)},
}
# Timers fired alone, one transaction each (see the module's docstring).
ALONE = frozenset({cases.ROUTE_CLOCK})


@dataclass
class PassReport:
    fired: int = 0
    stale: int = 0
    errors: int = 0
    sent: int = 0
    failed: int = 0
    fetched: int = 0
    exported: int = 0
    warnings: warnings.PassCounts = field(default_factory=warnings.PassCounts)

    @property
    def idle(self) -> bool:
        return not (self.fired or self.stale or self.errors or self.sent or self.failed or self.fetched
                    or self.exported or self.warnings.any)


def run_once(sessions: sessionmaker[Session], senders: Mapping[str, outbox.Sender], calendar: WorkingCalendar,
             settings: Settings, now: datetime | None = None, rng: random.Random | None = None,
             fetchers: Mapping[str, media.Fetcher] | None = None,
             handlers: Mapping[str, timers.Handler] = TIMER_HANDLERS,
             exporter: exports.Exporter | None = None) -> PassReport:
    """One pass: every timer due at `now` (default: the clock), then every message and photo fetch due at `now`,
    then the ledger exports asked for (one file per transaction) and the deletion of expired ones.

    A message for a channel without a sender fails over to its fallbacks at once (every worker of a deployment
    has the same channels); with no senders at all, delivery is not this worker's job and is skipped. A photo
    whose source has no fetcher here waits.
    """
    now = now or utcnow()
    config = settings.worker
    report = PassReport()
    pause = _pause(config.item_delay_ms)
    policy = outbox.RetryPolicy(config.max_attempts, config.backoff_base_seconds, config.backoff_max_seconds)
    firing = timers.Firing(handlers, settings, calendar, policy)
    with sessions.begin() as session:
        digest.send_due(session, settings, calendar, now)
    for limit, only, exclude in _timer_rounds(sessions, config.batch_size):
        while True:
            try:
                with sessions.begin() as session:
                    result = timers.fire_due(session, now, limit, firing, between=pause, clocks=only, exclude=exclude)
            except timers.TimerFailed as failed:
                log.error("%s", failed, exc_info=failed.__cause__)
                with sessions.begin() as session:
                    timers.record_failure(session, failed.timer_id, firing, now, failed.__cause__)
                result = timers.FireResult(errors=1)
            report.fired += result.fired
            report.stale += result.stale
            report.errors += result.errors
            if result.fired + result.stale + result.errors == 0:
                break
    with sessions.begin() as session:
        report.warnings = warnings.run_due(session, now, settings, calendar)
    if senders:
        def give_up(session: Session, row) -> None:
            outbox.give_up_unsendable(session, row, now)
            report.failed += 1

        failed_destinations: list[str] = []

        def send(session: Session, row) -> None:
            if outbox.deliver(session, row, senders, now, policy, rng):
                report.sent += 1
            else:
                report.failed += 1
                failed_destinations.append(row.destination)

        _one_at_a_time(sessions, lambda s: outbox.claim_unsendable(
            s, now, senders, timedelta(minutes=config.unsendable_wait_minutes)), give_up, None)
        _one_at_a_time(sessions, lambda s: outbox.claim_next(s, now, senders, skip=failed_destinations), send, pause)
    if fetchers:
        def fetch(session: Session, attachment) -> None:
            if media.fetch(session, attachment, fetchers, now, policy, settings.uploads.max_photo_bytes, rng):
                report.fetched += 1

        _one_at_a_time(sessions, lambda s: media.claim_next(s, now, fetchers), fetch, pause)
    if exporter is not None:
        def export(session: Session, job) -> None:
            exporter.produce(session, job, now)
            report.exported += 1

        _one_at_a_time(sessions, exporter.claim_next, export, pause)
        with sessions.begin() as session:
            exporter.expire(session, now)
    return report


def _timer_rounds(sessions: sessionmaker[Session],
                  batch_size: int) -> tuple[tuple[int, frozenset[str] | None, frozenset[str]], ...]:
    """(limit, clocks, excluded clocks) of each round of timers: routes alone, then batches of the rest. SQLite
    has one writer, so there every timer has a transaction of its own: intake never waits on a batch."""
    if sessions.kw["bind"].dialect.name == "sqlite":
        return ((1, None, frozenset()),)
    return ((1, ALONE, frozenset()), (batch_size, None, ALONE))


def _one_at_a_time(sessions: sessionmaker[Session], claim: Callable[[Session], Any],
                   handle: Callable[[Session, Any], None],
                   pause: Callable[[], None] | None) -> None:
    """Claim and handle one row per transaction until none is left, so a crash repeats at most the row in hand."""
    while True:
        with sessions.begin() as session:
            row = claim(session)
            if row is None:
                return
            handle(session, row)
        if pause:
            pause()


def run_forever(sessions: sessionmaker[Session], senders: Mapping[str, outbox.Sender], calendar: WorkingCalendar,
                settings: Settings, stop: threading.Event,
                fetchers: Mapping[str, media.Fetcher] | None = None, exporter: exports.Exporter | None = None) -> None:
    """Pass after pass until `stop` is set; sleeps idle_seconds after a pass that found nothing to do.

    A pass that raises (the database went away) is logged and retried after the idle sleep, so a restart of
    PostgreSQL does not need a restart of every worker.
    """
    log.info("worker started (handlers: %s; senders: %s; fetchers: %s)", ", ".join(sorted(TIMER_HANDLERS)),
             ", ".join(sorted(senders)) or "none", ", ".join(sorted(fetchers or ())) or "none")
    while not stop.is_set():
        try:
            report = run_once(sessions, senders, calendar, settings, fetchers=fetchers, exporter=exporter)
        except Exception:
            log.exception("worker pass failed")
            report = PassReport()
        if report.idle:
            stop.wait(settings.worker.idle_seconds)
        else:
            log.info("worker pass: %s", report)
    log.info("worker stopped")


def _pause(milliseconds: int):
    return (lambda: time.sleep(milliseconds / 1000)) if milliseconds > 0 else None
