"""Evidence photos that a provider holds: the worker fetches them into their attachment rows.

A chat webhook must answer within seconds and makes no provider API call, so a photo sent in a chat is stored
as an empty attachment with a `source` ("wechat-media:<MediaId>") and `fetch_next_at` set. The worker claims
one due row at a time (like the outbox: SKIP LOCKED on PostgreSQL, one transaction each), fetches it with the
`Fetcher` for its scheme, and keeps it only if `check_photo` accepts the bytes (the cleaned copy, and the bytes as
fetched beside it as the original). Retryable failures back off
with the outbox's RetryPolicy; a permanent failure, or the last attempt, puts an "evidence_lost" event on the
complaint so staff ask the worker for the photo again (WeChat keeps temporary media for 3 days only).
"""
from __future__ import annotations

import logging
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.foundation.models import Attachment, EventKind
from intake.foundation.transitions import record, record_evidence
from intake.reading.photos import EvidenceError, check_photo

from .outbox import RetryPolicy, claim_first, in_schemes, scheme

log = logging.getLogger(__name__)

ACTOR = "system:evidence"
EVIDENCE_LOST = EventKind.EVIDENCE_LOST  # the kind this module writes; tests look events up by it


@dataclass(frozen=True)
class FetchResult:
    """`content_type` is what the provider declared; the stored type comes from decoding the bytes."""

    ok: bool
    content: bytes | None = None
    content_type: str | None = None
    permanent: bool = False
    error: str | None = None


class Fetcher(Protocol):
    """A provider adapter for one source scheme; it must not raise for provider-side failures."""

    def fetch(self, source: str) -> FetchResult: ...


def claim_next(session: Session, now: datetime, schemes: Iterable[str]) -> Attachment | None:
    """The longest-due empty attachment whose source a fetcher here can fetch."""
    return claim_first(session, select(Attachment)
                       .where(Attachment.fetch_next_at <= now, Attachment.size == 0,
                              in_schemes(Attachment.source, schemes))
                       .order_by(Attachment.fetch_next_at, Attachment.id))


def fetch(session: Session, row: Attachment, fetchers: Mapping[str, Fetcher], now: datetime, policy: RetryPolicy,
          max_bytes: int, rng: random.Random | None = None) -> bool:
    """Fetch one claimed attachment and record the outcome in the caller's transaction; True when it is stored."""
    try:
        result = fetchers[scheme(row.source)].fetch(row.source)
    except Exception as exc:  # an adapter bug or a network error the adapter did not catch: retry it
        log.exception("fetcher for %s raised", row.source)
        result = FetchResult(ok=False, error=f"{type(exc).__name__}: {exc}")
    row.fetch_attempts += 1
    if result.ok:
        try:
            photo = check_photo(row.filename, result.content or b"", max_bytes)
        except EvidenceError as exc:  # an error page or a file that is no photo: fetching again gives the same
            result = FetchResult(ok=False, permanent=True, error=str(exc))
        else:
            for column, value in photo.stored().items():
                setattr(row, column, value)
            row.received_at, row.fetch_next_at, row.fetch_error = now, None, None
            log.info("attachment %s fetched from %s (%s bytes, declared %s)", row.id, row.source, row.size,
                     result.content_type)
            record_evidence(session, row.complaint, row, actor=ACTOR)
            return True
    row.fetch_error = result.error or "unknown error"
    row.fetch_next_at = policy.next_try(row.fetch_attempts, result.permanent, now, rng)
    if row.fetch_next_at is None:
        log.error("attachment %s from %s is lost after %s attempts: %s", row.id, row.source, row.fetch_attempts,
                  row.fetch_error)
        record(session, row.complaint, EventKind.EVIDENCE_LOST, actor=ACTOR,
               note=f"工人发来的证据照片未能取回（{row.fetch_error}），请联系工人重新发送这张照片。",
               data={"attachment_id": row.id, "source": row.source, "attempts": row.fetch_attempts})
    session.flush()
    return False
