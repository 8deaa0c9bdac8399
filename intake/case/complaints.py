"""Complaint operations: every channel ends here. They change state and flush; the caller commits.

A complaint is committed by the caller before the worker is told "received", so the ticket number a worker
sees always exists. Routing happens in the worker, from a "route" timer due at once, so the request that
stored the complaint stays fast and a crash between the two loses nothing.
"""
from __future__ import annotations

import dataclasses
import functools
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Text, case, literal, or_, select, type_coerce, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from intake.foundation import encryption
from intake.foundation.models import Attachment, Complainant, Complaint, Event, EventKind, Status, UTCDateTime, utcnow
from intake.foundation.settings import RISK_WORDS
from intake.foundation.transitions import record_evidence
from intake.foundation.validation import mask_id_number
from intake.reading.extract import extract_claim
from intake.reading.photos import Photo

from .timers import set_timer

TICKET_TZ = ZoneInfo("Asia/Shanghai")
ROUTE_CLOCK = "route"
LOOKUP_TRIES = 5
LOOKUP_LOCK = timedelta(hours=1)
_TICKET_ATTEMPTS = 20
TICKET_RANDOM_DIGITS = 6
TICKET_DIGITS = 6 + TICKET_RANDOM_DIGITS


@dataclass
class NewComplaint:
    channel: str
    phone: str | None
    channel_user_id: str | None = None
    name: str | None = None
    id_number: str | None = None
    anonymous: bool = False
    site_id: int | None = None
    jurisdiction_code: str | None = None
    project_name: str | None = None
    workers: int | None = None
    amount: int | None = None
    months: int | None = None
    free_text: str = ""
    claim: dict = field(default_factory=dict)
    photos: list[Photo] = field(default_factory=list)
    submission_key: str | None = None
    email: str | None = None
    risk_words: tuple[tuple[str, str], ...] = RISK_WORDS  # the configured [reading] list, for the free text


def new_ticket_no(now: datetime | None = None) -> str:
    """Twelve digits, date first: easy to read out and to type on a keypad, never a phone number (11 digits),
    and a million numbers a day, so guessing another worker's is hopeless."""
    now = (now or utcnow()).astimezone(TICKET_TZ)
    return now.strftime("%y%m%d") + f"{secrets.randbelow(10 ** TICKET_RANDOM_DIGITS):0{TICKET_RANDOM_DIGITS}d}"


def create_complaint(session: Session, new: NewComplaint) -> tuple[Complaint, bool]:
    """Store a complaint with its first event; returns (complaint, created).

    A repeated submission (same submission_key: a double tap, a resent form) returns the first complaint
    unchanged. The unique constraints decide, inside a savepoint, so two concurrent requests cannot both win.
    """
    for _ in range(_TICKET_ATTEMPTS):
        ticket_no = new_ticket_no()
        try:
            with session.begin_nested():
                complaint = _insert(session, new, ticket_no)
            return complaint, True
        except IntegrityError:
            if new.submission_key:
                existing = session.scalar(select(Complaint).where(Complaint.submission_key == new.submission_key))
                if existing is not None and existing.complainant.phone == new.phone:
                    return existing, False
                if existing is not None:  # someone else's key (a shared phone's old page): never their receipt
                    new = dataclasses.replace(new, submission_key=None)
                    continue
            if session.scalar(select(Complaint.id).where(Complaint.ticket_no == ticket_no)) is None:
                raise  # not a ticket collision: a real error, not something another number would fix
    raise RuntimeError("could not allocate a unique ticket number")


def _insert(session: Session, new: NewComplaint, ticket_no: str) -> Complaint:
    complainant = Complainant(name=new.name or None, phone=new.phone or None, email=new.email or None)
    if new.id_number:
        complainant.id_number = new.id_number
        complainant.id_number_masked = mask_id_number(new.id_number)
    complaint = Complaint(
        ticket_no=ticket_no,
        submission_key=new.submission_key,
        channel=new.channel,
        channel_user_id=new.channel_user_id,
        site_id=new.site_id,
        jurisdiction_code=new.jurisdiction_code,
        project_name=new.project_name,
        complainant=complainant,
        anonymous=new.anonymous,
        free_text=new.free_text,
        claim=_with_text_findings(new),
        workers=new.workers,
        amount=new.amount,
        months=new.months,
        status=Status.RECEIVED.value,
        version=1,
    )
    session.add(complaint)
    session.flush()
    session.add(Event(complaint_id=complaint.id, kind=EventKind.RECEIVED, to_status=Status.RECEIVED.value,
                      actor=f"worker:{new.channel}", data={"photos": len(new.photos)}))
    attach_photos(session, complaint, new.photos, complaint.created_at, actor=f"worker:{new.channel}")
    set_timer(session, complaint, ROUTE_CLOCK, complaint.created_at)
    return complaint


def attach_photos(session: Session, complaint: Complaint, photos: Iterable[Photo], now: datetime, *,
                  actor: str) -> None:
    """Evidence on the case (the cleaned copy and the original, received `now`), each stored file sealed into the
    case's hash chain; a photo a provider holds (`source`) is fetched by the worker from `now` on (and sealed then)."""
    attachments = [Attachment(complaint_id=complaint.id, **photo.stored(), source=photo.source,
                              received_at=now if photo.content else None, fetch_next_at=now if photo.source else None)
                   for photo in photos]
    session.add_all(attachments)
    session.flush()
    for attachment in attachments:
        if attachment.content:
            record_evidence(session, complaint, attachment, actor=actor)


def _with_text_findings(new: NewComplaint) -> dict:
    """Risk words and the employer named in the free text, for every channel (the web form has no fields for
    them); what a channel already extracted is kept."""
    claim = dict(new.claim)
    if "risk_flags" not in claim or "employer" not in claim:
        draft = extract_claim(new.free_text, sites=(), counties=(), risk_words=new.risk_words)
        claim.setdefault("risk_flags", list(draft.risk_flags))
        claim.setdefault("employer", draft.employer)
    return claim


def find_for_worker(session: Session, ticket_no: str, phone_last4: str, now: datetime | None = None) -> Complaint | None:
    """The case only when both the ticket number and the phone's last four digits match.

    Four digits are a weak secret (an employer knows the phone number), so a ticket that has been tried with
    wrong digits LOOKUP_TRIES times is locked for LOOKUP_LOCK; every answer is the same "not found". A ticket
    that does not exist, a locked one and wrong digits cost the same work (one select, one decryption, one
    update), so the answer's timing does not tell which tickets exist. The caller commits, so the count
    survives a failed look-up.
    """
    now = now or utcnow()
    ticket_no = (ticket_no or "").strip()
    if not (ticket_no.isdigit() and len(phone_last4 or "") == 4 and phone_last4.isdigit()):
        return None
    found = session.execute(select(Complaint, type_coerce(Complainant.phone, Text)).join(
        Complainant, Complaint.complainant_id == Complainant.id).where(Complaint.ticket_no == ticket_no)).first()
    complaint, stored_phone = found if found is not None else (None, None)
    phone = encryption.decrypt(stored_phone or _decoy_phone())
    unlocked = complaint is not None and (complaint.lookup_locked_until is None or complaint.lookup_locked_until <= now)
    if stored_phone and unlocked and hmac.compare_digest(phone[-4:], phone_last4):
        complaint.lookup_failures = 0
        return complaint
    failures = Complaint.lookup_failures + 1
    session.execute(update(Complaint).where(Complaint.ticket_no == ticket_no, or_(
        Complaint.lookup_locked_until.is_(None), Complaint.lookup_locked_until <= now)).values(
        lookup_failures=case((failures >= LOOKUP_TRIES, 0), else_=failures),
        lookup_locked_until=case((failures >= LOOKUP_TRIES, literal(now + LOOKUP_LOCK, UTCDateTime())),
                                 else_=Complaint.lookup_locked_until)).execution_options(synchronize_session=False))
    return None


@functools.cache
def _decoy(keys: encryption.DataKeys) -> str:
    return keys.fernets[0].encrypt(b"00000000000").decode("ascii")


def _decoy_phone() -> str:
    """A stored phone number to decrypt when the ticket has none, under the current keys."""
    return _decoy(encryption.current())
