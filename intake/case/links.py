"""Links sent to one worker that let them act on their case without logging in: confirm the money, download their
case's documents.

A link carries a random reference (Complaint.link_ref), never the sequential row id, signed under a key derived
from the secret key for this purpose alone, and expires: only the person who received the notice can use one,
and a ticket number and four phone digits are not enough to close someone's case.
"""
from __future__ import annotations

import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.foundation.encryption import purpose_key
from intake.foundation.models import Complaint
from intake.foundation.settings import Settings

CONFIRM_PURPOSE = "confirm link"
CONFIRM_MAX_AGE_DAYS = 90
DOCUMENTS_PURPOSE = "documents link"
DOCUMENTS_MAX_AGE_DAYS = 7


def _serializer(settings: Settings, purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(purpose_key(settings.secret_key, purpose), salt=purpose)


def _reference(complaint: Complaint) -> str:
    """The complaint's random reference, made on first use (the caller commits)."""
    if complaint.link_ref is None:
        complaint.link_ref = secrets.token_urlsafe(18)
    return complaint.link_ref


def _linked(session: Session, settings: Settings, token: str, purpose: str, max_age_days: int) -> Complaint | None:
    try:
        ref = _serializer(settings, purpose).loads(token, max_age=max_age_days * 86400)
    except BadSignature:
        return None
    if not isinstance(ref, str):
        return None
    return session.scalar(select(Complaint).where(Complaint.link_ref == ref))


def confirm_url(settings: Settings, complaint: Complaint) -> str:
    """The 工资到手了吗 link of this complaint."""
    return settings.public_url(f"/c/{_serializer(settings, CONFIRM_PURPOSE).dumps(_reference(complaint))}")


def confirmed_complaint(session: Session, settings: Settings, token: str) -> Complaint | None:
    """The complaint a confirm link was made for; None when forged, altered or expired."""
    return _linked(session, settings, token, CONFIRM_PURPOSE, CONFIRM_MAX_AGE_DAYS)


def documents_token(settings: Settings, complaint: Complaint) -> str:
    """The worker's key to their own case's documents (the dossier, the orders to pay), for DOCUMENTS_MAX_AGE_DAYS;
    a confirm link's token does not open them, nor theirs a confirm link."""
    return _serializer(settings, DOCUMENTS_PURPOSE).dumps(_reference(complaint))


def documents_complaint(session: Session, settings: Settings, token: str) -> Complaint | None:
    return _linked(session, settings, token, DOCUMENTS_PURPOSE, DOCUMENTS_MAX_AGE_DAYS)
