"""Twilio, the first SMS gateway: `POST /sms/twilio` (inbound texts, answered with TwiML), `POST
/sms/twilio/status` (delivery reports) and the outbound sender.

Twilio signs the full public URL, so it is rebuilt from `public_base_url` (correct behind a proxy) rather than
taken from the request.
"""
from __future__ import annotations

import re
from dataclasses import replace
from functools import cache
from typing import Any

import requests
from flask import Request, Response, abort, request
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http import HttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.messaging_response import MessagingResponse

from intake.delivery.media import FetchResult
from intake.delivery.outbox import SendResult
from intake.foundation.models import utcnow
from intake.foundation.settings import Settings
from intake.reading.photos import Photo

from ..runtime import db, services
from .receive import webhook_blueprint
from .sms import ID_MAX, InboundSms, checked_sms, receive, record_status

NAME = "twilio"
# An MMS picture's source is "twilio-media:<path on api.twilio.com>"; the worker fetches it with the account's
# credentials, so only Twilio's own media URLs are taken (never a URL the sender could point elsewhere).
MEDIA_SCHEME = "twilio-media"
MEDIA_HOST = "https://api.twilio.com"
MEDIA_PATH = re.compile(r"/2010-04-01/Accounts/AC[0-9a-f]{32}/Messages/MM[0-9a-f]{32}/Media/ME[0-9a-f]{32}")
MEDIA_TYPE = "application/x-twilio-media"
PHOTO_NAME = "彩信图片"
MAX_MEDIA = 10  # Twilio's limit per message
API_TIMEOUT = 30
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
            sms = checked_sms(form.get("MessageSid"), form.get("From"), form.get("Body", ""))
        except ValueError as exc:
            abort(400, description=f"MessageSid, From and Body: {exc}")
        return replace(sms, photos=_pictures(form))

    def render(self, text: str | None) -> Response:
        twiml = MessagingResponse()
        if text:
            twiml.message(text)
        return Response(str(twiml), mimetype="application/xml")


def _pictures(form) -> tuple[Photo, ...]:
    """An MMS's pictures (NumMedia, MediaUrl0..n, MediaContentType0..n) as photos the worker fetches; other
    media (a contact card, a video) are not evidence photos and are left out."""
    number = form.get("NumMedia") or "0"
    if not number.isdigit() or int(number) > MAX_MEDIA:
        abort(400, description=f"NumMedia must be a number from 0 to {MAX_MEDIA}")
    photos = []
    for i in range(int(number)):
        url, kind = form.get(f"MediaUrl{i}", ""), form.get(f"MediaContentType{i}", "")
        path = url.removeprefix(MEDIA_HOST)
        if not (url.startswith(MEDIA_HOST + "/") and MEDIA_PATH.fullmatch(path)):
            abort(400, description=f"MediaUrl{i} is not a Twilio media URL")
        if kind.startswith("image/"):
            photos.append(Photo(filename=PHOTO_NAME, content_type=MEDIA_TYPE, content=b"",
                                source=f"{MEDIA_SCHEME}:{path}"))
    return tuple(photos)


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


class TwilioMediaFetcher:
    """"twilio-media:<path>": an MMS picture, downloaded from Twilio with the account's credentials (Twilio
    answers with a redirect to its media store, which requests follows without the credentials)."""

    def __init__(self, account_sid: str, auth_token: str, http: requests.Session | None = None):
        self.auth = (account_sid, auth_token)
        self.http = http or requests.Session()

    def fetch(self, source: str) -> FetchResult:
        url = MEDIA_HOST + source.split(":", 1)[1]
        try:
            response = self.http.get(url, auth=self.auth, timeout=API_TIMEOUT)
        except requests.RequestException as exc:
            return FetchResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        if response.status_code != 200:  # 404: deleted or never there; no retry brings it back
            return FetchResult(ok=False, permanent=response.status_code == 404,
                               error=f"Twilio HTTP {response.status_code}")
        return FetchResult(ok=True, content=response.content, content_type=response.headers.get("Content-Type"))


def make_sender(settings: Settings, http_client: HttpClient | None = None) -> TwilioSender:
    """`http_client` replaces Twilio's servers in tests; delivery reports come back when the URL is public."""
    t = settings.twilio
    callback = settings.public_url("/sms/twilio/status") if settings.public_base_url else None
    return TwilioSender(Client(t.account_sid, t.auth_token, http_client=http_client), t.from_number, callback)
