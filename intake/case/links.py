"""Links sent to one worker that let them act on their case without logging in (today: confirm the money).
A case with several workers (claim lines) gives each its own link, so each answers only for themselves.

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
from intake.foundation.models import ClaimLine, Complaint
from intake.foundation.settings import Settings

CONFIRM_PURPOSE = "confirm link"
CONFIRM_MAX_AGE_DAYS = 90


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(purpose_key(settings.secret_key, CONFIRM_PURPOSE), salt=CONFIRM_PURPOSE)


def confirm_url(settings: Settings, complaint: Complaint, line: ClaimLine | None = None) -> str:
    """The 工资到手了吗 link of this complaint's worker, or of one worker of it; its reference is made on first use."""
    holder = line if line is not None else complaint
    if holder.link_ref is None:
        holder.link_ref = secrets.token_urlsafe(18)
    return settings.public_url(f"/c/{_serializer(settings).dumps(holder.link_ref)}")


def confirmed_complaint(session: Session, settings: Settings,
                        token: str) -> tuple[Complaint, ClaimLine | None] | None:
    """The complaint a confirm link was made for, with the worker's claim line when it was made for one; None when
    forged, altered or expired."""
    try:
        ref = _serializer(settings).loads(token, max_age=CONFIRM_MAX_AGE_DAYS * 86400)
    except BadSignature:
        return None
    if not isinstance(ref, str):
        return None
    complaint = session.scalar(select(Complaint).where(Complaint.link_ref == ref))
    if complaint is not None:
        return complaint, None
    line = session.scalar(select(ClaimLine).where(ClaimLine.link_ref == ref))
    return (line.complaint, line) if line is not None else None
