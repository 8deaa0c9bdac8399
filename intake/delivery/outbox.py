"""Every outbound message is an outbox row, written in the same transaction as the change that causes it.

Destinations are "<scheme>:<address>" (sms:13800000000, wechat:<openid>, wechat-template:<openid>, email:a@b.cn,
webhook:https://..., department:<id> for a department's console inbox). They are resolved to concrete addresses when
the row is written, so backoff and dead-lettering apply to the endpoint that fails, and the row records who was
told. A phone number is stored as its identity (sms:#<hmac>, also in the fallbacks), the number itself encrypted in
the row's `phone`; a text that gives staff a worker's number to call is stored masked, the whole text encrypted
beside it (`sealed`): the outbox never holds a number in clear. Delivery (after FixMyStreet's send loop) claims one
row at a time with FOR UPDATE SKIP LOCKED on PostgreSQL; a failure backs off every pending row of that destination,
so one dead phone does not hold up the rest. After `max_attempts`, or at once on a permanent error, the row is dead
and the payload's `fallbacks` are tried in order; when none is left, the city dispatch desk is alerted.
"""
from __future__ import annotations

import functools
import logging
import random
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Select, bindparam, or_, select, update
from sqlalchemy.orm import Session

from intake.foundation import encryption
from intake.foundation.encryption import identity, is_identity
from intake.foundation.models import Conversation, Department, Outbox, utcnow
from intake.foundation.validation import mask_numbers, mask_phone
from intake.registry.directory import DISPATCH_DESK, city_department

log = logging.getLogger(__name__)

PENDING, SENT, FAILED, DEAD = "pending", "sent", "failed", "dead"
DEAD_LETTER = "dead_letter"
CONTACT_SCHEMES = ("sms", "wechat", "email", "webhook")
# Staff have rarely written to the official account in the last 48 hours, so their WeChat contact gets
# template messages, which WeChat allows at any time.
CONTACT_SCHEME_FOR = {"wechat": "wechat-template"}
INBOX = "department"
_MOBILE = re.compile(r"1\d{10}")
# The payload key of a sealed text: the whole text, encrypted, beside its masked "text".
SEALED_TEXT = "sealed_text"


@dataclass(frozen=True)
class SendResult:
    ok: bool
    permanent: bool = False
    error: str | None = None
    provider_id: str | None = None


class Sender(Protocol):
    """A provider adapter for one destination scheme; it must not raise for provider-side failures."""

    def send(self, destination: str, payload: dict[str, Any]) -> SendResult: ...


class PiecewiseSender(Sender, Protocol):
    """A sender whose channel carries only so much per message (mainland SMS templates)."""

    def pieces(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        """The payloads of the messages that together carry this one; [payload] when it fits."""


class InboxSender:
    """The `department:<id>` scheme: the row itself is the department's console inbox, so storing it delivers."""

    def send(self, destination: str, payload: dict[str, Any]) -> SendResult:
        return SendResult(ok=True)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: int = 30
    max_seconds: int = 3600

    def delay(self, attempts: int, rng: random.Random | None = None) -> timedelta:
        """Exponential backoff with "equal jitter": half the step fixed, half random, so retries spread."""
        step = min(self.max_seconds, self.base_seconds * 2 ** max(0, attempts - 1))
        return timedelta(seconds=step / 2 + (rng or random).uniform(0, step / 2))

    def next_try(self, attempts: int, permanent: bool, now: datetime,
                 rng: random.Random | None = None) -> datetime | None:
        """When to try again after the `attempts`-th failure; None when it is time to give up."""
        if permanent or attempts >= self.max_attempts:
            return None
        return now + self.delay(attempts, rng)


def scheme(destination: str) -> str:
    return destination.split(":", 1)[0]


def address(row: Outbox) -> str:
    """Where the row goes as its sender needs it: a text's number decrypted."""
    kind, _, to = row.destination.partition(":")
    return f"sms:{row.phone}" if kind == "sms" and is_identity(to) and row.phone else row.destination


def sealed(text: str) -> dict[str, str]:
    """A payload's text that names a worker's phone number (for staff to call back): masked for whatever reads the
    row, and whole but encrypted for the sender and the console (`opened`)."""
    return {"text": mask_numbers(text), SEALED_TEXT: encryption.encrypt(text)}


def opened(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload as it is sent and shown to staff: a sealed text opened into "text"."""
    token = payload.get(SEALED_TEXT)
    if not token:
        return payload
    return {key: value for key, value in payload.items() if key != SEALED_TEXT} | {"text": encryption.decrypt(token)}


def sms_destination(number: str) -> str:
    """The destination column of a text to this number."""
    return f"sms:{identity(number)}"


def shown(destination: str | Outbox) -> str:
    """A destination (or a row's) as logs and pages may show it: a worker's phone or WeChat id is personal data."""
    kind, _, address_ = (address(destination) if isinstance(destination, Outbox) else destination).partition(":")
    if kind == "sms" and is_identity(address_):
        return "sms:（号码已加密）"
    if kind == "sms":
        return f"sms:{mask_phone(address_)}"
    if kind in ("wechat", "wechat-template", "email"):
        return f"{kind}:{address_[:3]}***"
    return f"{kind}:{address_}"


def in_schemes(column: ColumnElement[str], schemes: Iterable[str]) -> ColumnElement[bool]:
    """`column` holds "<scheme>:..." for one of `schemes`."""
    return or_(*(column.startswith(f"{s}:", autoescape=True) for s in schemes))


def claim_first(session: Session, query: Select) -> Any:
    """The first row of `query`, locked for this transaction. On PostgreSQL, rows another worker holds are
    skipped (SKIP LOCKED), so workers share the work without waiting; SQLite has no row locks and runs one."""
    return session.scalar(_claiming(query, session.get_bind().dialect.name))


def _claiming(query: Select, dialect: str) -> Select:
    query = query.limit(1)
    return query.with_for_update(skip_locked=True) if dialect == "postgresql" else query


def enqueue(session: Session, destination: str, payload: dict[str, Any], complaint_id: int | None = None,
            now: datetime | None = None, flush: bool = True, phone: str | None = None) -> Outbox:
    """One message; flush=False lets a batch (the timer worker) insert its rows together. `phone` is the number
    behind an "sms:#..." destination or fallback that is already stored as its identity. A department's console
    inbox row is delivered by being stored, so it is stored sent: the worker spends no transaction on it (in a
    wave that was one delivery round per routed complaint)."""
    if ":" not in destination:
        raise ValueError(f"destination must be '<scheme>:<address>', got {destination!r}")
    (destination, *fallbacks), phone = _sealed([destination, *(payload.get("fallbacks") or [])], phone)
    if fallbacks:
        payload = {**payload, "fallbacks": fallbacks}
    row = Outbox(destination=destination, phone=phone, payload=payload, complaint_id=complaint_id, state=PENDING,
                 attempts=0)
    if now is not None:
        row.next_try_at = row.created_at = now
    if scheme(destination) == INBOX:
        row.state, row.attempts, row.sent_at = SENT, 1, now or utcnow()
    session.add(row)
    if flush:
        session.flush()
    return row


def _sealed(destinations: list[str], phone: str | None) -> tuple[list[str], str | None]:
    """The destinations as stored, each SMS number as its identity, and the number: one a row, since a row and its
    fallbacks reach one person."""
    stored = []
    for destination in destinations:
        kind, _, to = destination.partition(":")
        if kind == "sms" and not is_identity(to):
            if phone not in (None, to):
                raise ValueError("an outbox row and its fallbacks text one phone number at most")
            phone, destination = to, sms_destination(to)
        stored.append(destination)
    return stored, phone


def department_destinations(department: Department) -> list[str]:
    """Where a department is told: its console inbox always, then its contacts ({"sms": [...], "wechat": "...",
    "email": ..., "webhook": ...}) or, without any, its phone when that is a mobile number."""
    found: list[str] = []
    contacts = department.contacts or {}
    for key in CONTACT_SCHEMES:
        values = contacts.get(key) or []
        scheme = CONTACT_SCHEME_FOR.get(key, key)
        found += [f"{scheme}:{v}" for v in ([values] if isinstance(values, str) else values) if v]
    if not found and department.phone and _MOBILE.fullmatch(department.phone):
        found.append(f"sms:{department.phone}")
    return [f"{INBOX}:{department.id}", *found]


def dispatch_desk(session: Session) -> Department:
    return city_department(session, DISPATCH_DESK)


def notify_department(session: Session, department: Department | None, payload: dict[str, Any],
                      complaint_id: int | None, now: datetime | None = None, flush: bool = True) -> list[Outbox]:
    """Enqueue to every destination of the department; no department (none could be found) means the desk."""
    department = department if department is not None else dispatch_desk(session)
    return [enqueue(session, t, payload, complaint_id, now, flush) for t in department_destinations(department)]


def claim_next(session: Session, now: datetime, schemes: Iterable[str], skip: Iterable[str] = ()) -> Outbox | None:
    """The oldest deliverable row for a scheme we can send, skipping destinations that failed this pass."""
    query = _deliverable(tuple(sorted(schemes)), session.get_bind().dialect.name)
    skip = list(skip)
    if skip:
        query = query.where(Outbox.destination.not_in(skip))
    return session.scalar(query, {"now": now})


@functools.lru_cache(maxsize=16)
def _deliverable(schemes: tuple[str, ...], dialect: str) -> Select:
    """claim_next's statement for a worker's schemes, built once (every message delivered runs it)."""
    return _claiming(select(Outbox).where(Outbox.state == PENDING, Outbox.next_try_at <= bindparam("now"),
                                          in_schemes(Outbox.destination, schemes))
                     .order_by(Outbox.next_try_at, Outbox.id), dialect)


def claim_unsendable(session: Session, now: datetime, schemes: Iterable[str], wait: timedelta) -> Outbox | None:
    """The oldest due row for a channel this deployment has not configured (say SMS in a city without a gateway),
    once it has waited `wait` since its notice was queued: long enough for a channel being switched on, short
    enough that the worker is still reached another way or by a person."""
    query = (select(Outbox).where(Outbox.state == PENDING, Outbox.next_try_at <= now, Outbox.created_at <= now - wait,
                                  ~in_schemes(Outbox.destination, schemes))
             .order_by(Outbox.next_try_at, Outbox.id))
    return claim_first(session, query)


def give_up_unsendable(session: Session, row: Outbox, now: datetime) -> None:
    """Its channel stayed off: its fallbacks are tried now, and with none left the desk is alerted, so a person
    calls the worker instead."""
    row.last_error = f"{scheme(row.destination)} 渠道未配置"
    _give_up(session, row, now)
    session.flush()


def deliver(session: Session, row: Outbox, senders: Mapping[str, Sender], now: datetime, policy: RetryPolicy,
            rng: random.Random | None = None) -> bool:
    """Send one claimed row and record the outcome in the caller's transaction; True when it went out."""
    sender = senders[scheme(row.destination)]
    try:
        _split(session, row, sender, now)
        result = sender.send(address(row), opened(row.payload))
    except Exception as exc:  # an adapter bug or a network error the adapter did not catch: retry it
        log.exception("sender for %s raised", shown(row))
        result = SendResult(ok=False, error=f"{type(exc).__name__}: {exc}")
    row.attempts += 1
    if result.ok:
        row.state, row.sent_at, row.last_error, row.provider_id = SENT, now, None, result.provider_id
        log.info("outbox %s sent to %s (provider id %s)", row.id, shown(row), result.provider_id)
        session.flush()
        return True
    row.last_error = result.error or "unknown error"
    retry_at = policy.next_try(row.attempts, result.permanent, now, rng)
    if retry_at is None:
        _give_up(session, row, now)
    else:
        row.next_try_at = retry_at
        # The whole destination backs off: its other pending rows wait at least as long as this one.
        session.execute(update(Outbox).where(Outbox.destination == row.destination, Outbox.state == PENDING,
                                             Outbox.id != row.id, Outbox.next_try_at < row.next_try_at)
                        .values(next_try_at=row.next_try_at))
    session.flush()
    return False


def _split(session: Session, row: Outbox, sender: Sender, now: datetime) -> None:
    """A message the channel cannot carry whole becomes one row per piece: this row keeps the first piece and
    the others queue behind it (same destination, later ids), so a failure retries one piece and repeats none
    that went out. It happens in the delivery's transaction: a crash before the commit leaves the row whole."""
    if not hasattr(sender, "pieces"):
        return
    first, *rest = [{**piece, **sealed(piece["text"])} if SEALED_TEXT in row.payload else piece
                    for piece in sender.pieces(opened(row.payload))]
    if rest:
        row.payload = first
        for piece in rest:
            enqueue(session, row.destination, piece, row.complaint_id, now, phone=row.phone)


def _give_up(session: Session, row: Outbox, now: datetime) -> None:
    fallbacks = list(row.payload.get("fallbacks") or [])
    if fallbacks:
        row.state = FAILED
        fallback = enqueue(session, fallbacks[0], {**row.payload, "fallbacks": fallbacks[1:]}, row.complaint_id, now,
                           phone=row.phone)
        fallback.created_at = row.created_at  # a switched-off channel's wait runs from the notice, not anew
        log.warning("outbox %s to %s failed (%s): falling back to %s", row.id, shown(row), row.last_error,
                    shown(fallback))
        return
    row.state = DEAD
    if row.payload.get("kind") == DEAD_LETTER:
        # An alert about a dead message that itself cannot be delivered: alerting again would loop.
        log.error("outbox %s: alert to %s is undeliverable: %s", row.id, shown(row), row.last_error)
        return
    log.error("outbox %s to %s is dead after %s attempts: %s", row.id, shown(row), row.attempts, row.last_error)
    alert = {"kind": DEAD_LETTER, "outbox_id": row.id, "destination": row.destination,
             "error": row.last_error, "attempts": row.attempts,
             "ticket_no": row.payload.get("ticket_no"),
             "text": f"消息无法送达：{shown(row)}（已尝试 {row.attempts} 次，{row.last_error}），请人工联系。"}
    for target in department_destinations(dispatch_desk(session)):
        if target != row.destination:
            enqueue(session, target, alert, row.complaint_id, now)


def dead_letters(session: Session, limit: int) -> list[Outbox]:
    """The messages that could not be delivered, newest first: the dispatch desk's list to call or resend."""
    return list(session.scalars(select(Outbox).where(Outbox.state == DEAD).order_by(Outbox.id.desc()).limit(limit)))


def retry_dead(session: Session, outbox_id: int, now: datetime) -> Outbox | None:
    """Queue a dead message again from scratch (say the provider's outage is over, or the number was fixed);
    None when there is no such dead message (already retried by someone else)."""
    row = session.scalar(select(Outbox).where(Outbox.id == outbox_id, Outbox.state == DEAD).with_for_update())
    if row is None:
        return None
    row.state, row.attempts, row.next_try_at = PENDING, 0, now
    session.flush()
    return row


def is_opted_out(session: Session, channel: str, user_id: str) -> bool:
    """Whether notices to this user (as `Conversation.user_id` has it) on this channel must not be sent (SMS 退订
    until they write again)."""
    return session.scalar(_OPTED_OUT, {"channel": channel, "user_id": user_id}) or False


_OPTED_OUT = select(Conversation.opted_out_at.is_not(None)).where(
    Conversation.channel == bindparam("channel"), Conversation.user_id == bindparam("user_id"))
