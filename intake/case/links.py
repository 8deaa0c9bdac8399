"""Links sent to one worker that let them act on their case without logging in (today: confirm the money).

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


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(purpose_key(settings.secret_key, CONFIRM_PURPOSE), salt=CONFIRM_PURPOSE)


def confirm_url(settings: Settings, complaint: Complaint) -> str:
    """The 工资到手了吗 link of this complaint; its reference is made on first use."""
    if complaint.link_ref is None:
        complaint.link_ref = secrets.token_urlsafe(18)
    return settings.public_url(f"/c/{_serializer(settings).dumps(complaint.link_ref)}")


def confirmed_complaint(session: Session, settings: Settings, token: str) -> Complaint | None:
    """The complaint a confirm link was made for; None when forged, altered or expired."""
    try:
        ref = _serializer(settings).loads(token, max_age=CONFIRM_MAX_AGE_DAYS * 86400)
    except BadSignature:
        return None
    if not isinstance(ref, str):
        return None
    return session.scalar(select(Complaint).where(Complaint.link_ref == ref))
