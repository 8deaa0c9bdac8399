"""Links sent to one worker that let them act on their case without logging in: confirm the money, download their
case's documents. A case with several workers (claim lines) gives each its own confirm link, so each answers only
for themselves.

A link carries a random reference (Complaint.link_ref or ClaimLine.link_ref), never the sequential row id, signed
under a key derived from the secret key for this purpose alone, and expires: only the person who received the
notice can use one, and a ticket number and four phone digits are not enough to close someone's case.
"""
from __future__ import annotations

import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.foundation.encryption import purpose_key
from intake.foundation.models import ClaimLine, Complaint
from intake.foundation.settings import Settings

CONFIRM_PURPOSE = "confirm link"
CONFIRM_MAX_AGE_DAYS = 90
DOCUMENTS_PURPOSE = "documents link"
DOCUMENTS_MAX_AGE_DAYS = 7


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(purpose_key(settings.secret_key, purpose), salt=purpose)


def _reference(holder: Complaint | ClaimLine) -> str:
    """The complaint's or claim line's random reference, made on first use (the caller commits)."""
    if holder.link_ref is None:
        holder.link_ref = secrets.token_urlsafe(18)
    return holder.link_ref


def _reference_in(settings: Settings, token: str, purpose: str, max_age_days: int) -> str | None:
    """The reference a token was signed with for this purpose; None when forged, altered, expired or another
    purpose's."""
    try:
        ref = _serializer(settings, purpose).loads(token, max_age=max_age_days * 86400)
    except BadSignature:
        return None
    return ref if isinstance(ref, str) else None


def confirm_url(settings: Settings, complaint: Complaint, line: ClaimLine | None = None) -> str:
    """The 工资到手了吗 link of this complaint's worker, or of one worker of it."""
    holder = line if line is not None else complaint
    return settings.public_url(f"/c/{_serializer(settings, CONFIRM_PURPOSE).dumps(_reference(holder))}")


def confirmed_complaint(session: Session, settings: Settings,
                        token: str) -> tuple[Complaint, ClaimLine | None] | None:
    """The complaint a confirm link was made for, with the worker's claim line when it was made for one; None when
    forged, altered or expired."""
    ref = _reference_in(settings, token, CONFIRM_PURPOSE, CONFIRM_MAX_AGE_DAYS)
    if ref is None:
        return None
    complaint = session.scalar(select(Complaint).where(Complaint.link_ref == ref))
    if complaint is not None:
        return complaint, None
    line = session.scalar(select(ClaimLine).where(ClaimLine.link_ref == ref))
    return (line.complaint, line) if line is not None else None


def documents_token(settings: Settings, complaint: Complaint) -> str:
    """The worker's key to their own case's documents (the dossier, the orders to pay), for DOCUMENTS_MAX_AGE_DAYS;
    a confirm link's token does not open them, nor theirs a confirm link."""
    return _serializer(settings, DOCUMENTS_PURPOSE).dumps(_reference(complaint))


def documents_complaint(session: Session, settings: Settings, token: str) -> Complaint | None:
    ref = _reference_in(settings, token, DOCUMENTS_PURPOSE, DOCUMENTS_MAX_AGE_DAYS)
    return None if ref is None else session.scalar(select(Complaint).where(Complaint.link_ref == ref))
