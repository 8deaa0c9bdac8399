"""What every provider webhook shares: the blueprint guard, the HTTP answer around the core's inbound pipeline
(intake.conversation.inbound), and the single commit.

Webhooks answer from the database alone (WeChat waits 5 s at most): no provider API call on the request path.
"""
from __future__ import annotations

from typing import Callable

from flask import Blueprint, Response, abort, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from intake.conversation.inbound import BadDelivery, ForeignRepeat, Inbound, receive
from intake.foundation.models import utcnow
from intake.foundation.settings import Settings

from ..errors import MESSAGES, when_unavailable
from ..runtime import db, services

# A chat message or status callback is a few kB; anything far bigger is not from the provider.
WEBHOOK_MAX_BYTES = 64 * 1024
# What a provider gets while the database cannot store its delivery. Nothing was stored, so the answer must not
# look like success: WeChat retries a delivery that got no good answer (3 attempts in all) and then shows the
# follower "该公众号暂时无法提供服务，请稍后再试" itself, so the worker knows to write again; a passive reply with
# our apology would count as delivered and the message would be lost. Twilio retries on a 5xx when the webhook
# URL asks for it (connection overrides, e.g. "#rc=5&rp=5xx,ct,rt") and otherwise calls the fallback URL.
UNAVAILABLE = "503 Service Unavailable: the database is unavailable; nothing was stored, send it again later\n"


def take(inbound: Inbound, reply_to: str | None = None) -> str | None:
    """The core stores and answers the delivery; this commits once, or answers 400 for a foreign repeat or an
id no provider sends."""
    session = db()
    try:
        text = receive(session, services().settings, inbound, now=utcnow(), reply_to=reply_to)
    except (ForeignRepeat, BadDelivery) as exc:
        session.rollback()
        abort(400, description=str(exc))
    session.commit()
    return text


def webhook_blueprint(name: str, import_name: str, enabled: Callable[[Settings], bool]) -> Blueprint:
    """A blueprint for provider callbacks: absent (404) while its channel is not configured, small bodies only,
    errors as plain text that a provider's webhook log shows, and a 503 while the database is unavailable."""
    bp = Blueprint(name, import_name)

    @bp.before_request
    def _guard() -> None:
        if not enabled(services().settings):
            abort(404, description=f"the {name} channel is not configured")
        request.max_content_length = WEBHOOK_MAX_BYTES

    def _plain(error: HTTPException):
        return f"{error.code} {error.name}: {error.description}\n", error.code, {"Content-Type": "text/plain"}

    for code in MESSAGES:  # by code, as the app's Chinese pages are, so these win inside this blueprint
        bp.register_error_handler(code, _plain)
    bp.register_error_handler(DBAPIError, when_unavailable(lambda: Response(UNAVAILABLE, mimetype="text/plain")))
    return bp
