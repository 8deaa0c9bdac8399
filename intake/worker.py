"""The worker loop: fire due timers, deliver due outbox messages, then fetch evidence photos that providers
hold. It owns its transactions.

Timers are fired in batches, one transaction a batch, so a crash mid-batch rolls the whole batch back and the
next pass repeats none of its effects. Messages are delivered, and photos fetched, one transaction each: a
crash can at worst resend the one message, or refetch the one photo, in flight. On PostgreSQL any number of
workers on any number of machines share the work (SKIP LOCKED); on SQLite run one.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from . import media, outbox, timers
from .calendar import WorkingCalendar
from .models import utcnow
from .settings import Settings

log = logging.getLogger(__name__)


@dataclass
class PassReport:
    fired: int = 0
    stale: int = 0
    errors: int = 0
    sent: int = 0
    failed: int = 0
    fetched: int = 0

    @property
    def idle(self) -> bool:
        return not (self.fired or self.stale or self.errors or self.sent or self.failed or self.fetched)


def run_once(sessions: sessionmaker[Session], senders: Mapping[str, outbox.Sender], calendar: WorkingCalendar,
             settings: Settings, now: datetime | None = None, rng: random.Random | None = None,
             fetchers: Mapping[str, media.Fetcher] | None = None) -> PassReport:
    """One pass: every timer due at `now` (default: the clock), then every message and photo fetch due at `now`.

    A message for a channel without a sender fails over to its fallbacks at once (every worker of a deployment
    has the same channels); with no senders at all, delivery is not this worker's job and is skipped. A photo
    whose source has no fetcher here waits.
    """
    now = now or utcnow()
    config = settings.worker
    report = PassReport()
    pause = _pause(config.item_delay_ms)
    policy = outbox.RetryPolicy(config.max_attempts, config.backoff_base_seconds, config.backoff_max_seconds)
    extra = {"settings": settings, "calendar": calendar, "retry": policy}
    while True:
        with sessions.begin() as session:
            result = timers.fire_due(session, now, config.batch_size, extra, between=pause)
        report.fired += result.fired
        report.stale += result.stale
        report.errors += result.errors
        if result.fired + result.stale + result.errors == 0:
            break
    if senders:
        while True:
            with sessions.begin() as session:
                row = outbox.claim_unsendable(session, now, senders)
                if row is None:
                    break
                outbox.give_up_unsendable(session, row, now)
                report.failed += 1
        failed_destinations: list[str] = []
        while True:
            with sessions.begin() as session:
                row = outbox.claim_next(session, now, senders, skip=failed_destinations)
                if row is None:
                    break
                if outbox.deliver(session, row, senders, now, policy, rng):
                    report.sent += 1
                else:
                    report.failed += 1
                    failed_destinations.append(row.destination)
            if pause:
                pause()
    if fetchers:
        while True:
            with sessions.begin() as session:
                attachment = media.claim_next(session, now, fetchers)
                if attachment is None:
                    break
                if media.fetch(session, attachment, fetchers, now, policy, settings.uploads.max_photo_bytes, rng):
                    report.fetched += 1
            if pause:
                pause()
    return report


def run_forever(sessions: sessionmaker[Session], senders: Mapping[str, outbox.Sender], calendar: WorkingCalendar,
                settings: Settings, stop: threading.Event,
                fetchers: Mapping[str, media.Fetcher] | None = None) -> None:
    """Pass after pass until `stop` is set; sleeps idle_seconds after a pass that found nothing to do.

    A pass that raises (the database went away) is logged and retried after the idle sleep, so a restart of
    PostgreSQL does not need a restart of every worker.
    """
    log.info("worker started (handlers: %s; senders: %s; fetchers: %s)", ", ".join(timers.load_handlers(())),
             ", ".join(sorted(senders)) or "none", ", ".join(sorted(fetchers or ())) or "none")
    while not stop.is_set():
        try:
            report = run_once(sessions, senders, calendar, settings, fetchers=fetchers)
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
