"""Links sent to one worker that let them act on their case without logging in (today: confirm the money).

They are signed with the secret key and expire, so only the person who received the notice can use one; a
ticket number and four phone digits are not enough to close someone's case.
"""
from __future__ import annotations

from itsdangerous import BadSignature, URLSafeTimedSerializer

from intake.foundation.settings import Settings

CONFIRM_SALT = "qingling.confirm"
CONFIRM_MAX_AGE_DAYS = 90


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=CONFIRM_SALT)


def confirm_url(settings: Settings, complaint_id: int) -> str:
    return settings.public_url(f"/c/{_serializer(settings).dumps(complaint_id)}")


def confirmed_complaint_id(settings: Settings, token: str) -> int | None:
    """The complaint a confirm link was made for; None when forged, altered or expired."""
    try:
        value = _serializer(settings).loads(token, max_age=CONFIRM_MAX_AGE_DAYS * 86400)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None
