"""Twilio, the first SMS gateway: `POST /sms/twilio` (inbound texts, answered with TwiML), `POST
/sms/twilio/status` (delivery reports) and the outbound sender.

Twilio signs the full public URL, so it is rebuilt from `public_base_url` (correct behind a proxy) rather than
taken from the request.
"""
from __future__ import annotations

from functools import cache
from typing import Any

import requests
from flask import Request, Response, abort, request
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from intake.delivery.outbox import SendResult
from intake.foundation.models import utcnow
from intake.foundation.settings import Settings

from ..runtime import db, services
from .receive import webhook_blueprint
from .sms import ID_MAX, InboundSms, checked_sms, receive, record_status

NAME = "twilio"
# Errors that no retry can cure; the outbox then tries the payload's fallbacks at once.
PERMANENT_ERRORS = {
    21211: "invalid 'To' number",
    21408: "no permission to send to this region",
    21610: "the recipient has opted out (replied STOP)",
    21612: "this 'To' number cannot be reached from the 'From' number",
    21614: "'To' is not a mobile number",
}


def configured(settings: Settings) -> bool:
    t = settings.twilio
    return settings.sms.provider == NAME and bool(t.account_sid and t.auth_token and t.from_number)


STATUS_MAX = 32  # a delivery state ("delivered") or an error code ("30003")
bp = webhook_blueprint("twilio_sms", __name__, configured)


@cache
def _validator(auth_token: str) -> RequestValidator:
    """One per auth token and process, not one per request: it holds only the token."""
    return RequestValidator(auth_token)


class Gateway:
    name = NAME

    def __init__(self, settings: Settings):
        self.settings = settings
        self.validator = _validator(settings.twilio.auth_token)

    def verified_form(self, req: Request):
        """The POSTed parameters, once X-Twilio-Signature matches the public URL and those parameters."""
        # Twilio's URLs are ASCII; any other byte must not fail here (500) but the signature check (403).
        query = req.query_string.decode("ascii", "replace")
        url = self.settings.public_url(req.path) + (f"?{query}" if query else "")
        if not self.validator.validate(url, req.form, req.headers.get("X-Twilio-Signature", "")):
            abort(403, description=f"X-Twilio-Signature does not match the request to {url}")
        return req.form

    def parse(self, req: Request) -> InboundSms:
        form = self.verified_form(req)
        try:
            return checked_sms(form.get("MessageSid"), form.get("From"), form.get("Body", ""))
        except ValueError as exc:
            abort(400, description=f"MessageSid, From and Body: {exc}")

    def render(self, text: str | None) -> Response:
        twiml = MessagingResponse()
        if text:
            twiml.message(text)
        return Response(str(twiml), mimetype="application/xml")


@bp.post("/sms/twilio")
def inbound():
    return receive(Gateway(services().settings))


@bp.post("/sms/twilio/status")
def status():
    form = Gateway(services().settings).verified_form(request)
    sid, state, error = form.get("MessageSid", ""), form.get("MessageStatus", ""), form.get("ErrorCode")
    if not 0 < len(sid) <= ID_MAX or not 0 < len(state) <= STATUS_MAX or len(error or "") > STATUS_MAX:
        abort(400, description=f"MessageSid (at most {ID_MAX} characters), MessageStatus and ErrorCode (at most "
                               f"{STATUS_MAX}) are required")
    record_status(db(), NAME, sid, state, utcnow(), error)
    db().commit()
    return "", 204


class TwilioSender:
    """Sends "sms:<number>" through Twilio's Messages API; mainland numbers are written +86..."""

    def __init__(self, client: Client, from_number: str, status_callback: str | None = None):
        self.client = client
        self.from_number = from_number
        self.status_callback = status_callback

    def send(self, destination: str, payload: dict[str, Any]) -> SendResult:
        number = destination.split(":", 1)[1]
        to = number if number.startswith("+") else f"+86{number}"
        extra = {"status_callback": self.status_callback} if self.status_callback else {}
        try:
            message = self.client.messages.create(to=to, from_=self.from_number, body=payload["text"], **extra)
        except TwilioRestException as exc:
            reason = PERMANENT_ERRORS.get(exc.code) or exc.msg
            return SendResult(ok=False, permanent=exc.code in PERMANENT_ERRORS, error=f"Twilio {exc.code}: {reason}")
        except (TwilioException, requests.RequestException) as exc:
            return SendResult(ok=False, error=f"Twilio unreachable: {type(exc).__name__}: {exc}")
        return SendResult(ok=True, provider_id=message.sid)


def make_sender(settings: Settings, http_client: HttpClient | None = None) -> TwilioSender:
    """`http_client` replaces Twilio's servers in tests; delivery reports come back when the URL is public."""
    t = settings.twilio
    callback = settings.public_url("/sms/twilio/status") if settings.public_base_url else None
    return TwilioSender(Client(t.account_sid, t.auth_token, http_client=http_client), t.from_number, callback)
