"""The SMS provider interface. Twilio cannot do two-way SMS with mainland (+86) numbers, so a deployment in
China adds its domestic gateway's uplink ("reply") callback as one more module beside `twilio_sms`.

A gateway module provides:
- `configured(settings) -> bool`: on when `[sms] provider` names it and its credentials are set;
- a `Gateway` (below): verify and parse an inbound request, render the reply in the provider's format;
- `bp`: a `webhook_blueprint` whose inbound route returns `receive(gateway)`, and whose delivery-report
  route calls `record_status`;
- `make_sender(settings) -> Sender` for outbound texts ("sms:<number>"), wired in `build_senders`.

Mainland gateways (`aliyun_sms`, `tencent_sms`) differ in three ways, served by the second half of this module:
they push JSON (often a batch of items) to a URL carrying `[sms] callback_secret`, they want a fixed JSON
acknowledgement instead of an answer, and they send approved templates only. So a `CallbackGateway` reads
one item at a time, `receive_uplinks` runs each item in its own transaction with the reply written to the
outbox, and `TemplateSender` maps outbound texts onto the configured templates.
"""
from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from dataclasses import dataclass
from typing import Any, Callable, Protocol

from flask import Blueprint, Request, Response, abort, jsonify, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from intake.conversation.inbound import Inbound, record_status
from intake.delivery.outbox import SendResult
from intake.delivery.sms_templates import Templates
from intake.foundation.models import Channel, utcnow
from intake.foundation.settings import Settings
from intake.foundation.validation import mask_phone, normalise_phone
from intake.reading.photos import Photo

from ..errors import unavailable
from ..runtime import db, services
from .receive import take, webhook_blueprint

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class InboundSms:
    provider_message_id: str
    from_number: str
    text: str
    photos: tuple[Photo, ...] = ()  # MMS pictures, held by the provider until the worker fetches them


class Gateway(Protocol):
    name: str  # prefixes provider ids, so two gateways' ids never collide

    def parse(self, req: Request) -> InboundSms:
        """Verify the request came from the provider (else abort 403) and read it (else abort 400)."""

    def render(self, text: str | None) -> Response:
        """The webhook's answer, carrying the reply text when there is one."""


def receive(gateway: Gateway) -> Response:
    """One inbound text: verify, run the shared step, answer in the provider's format."""
    return gateway.render(take(_inbound(gateway.name, gateway.parse(request))))


def _inbound(gateway: str, sms: InboundSms) -> Inbound:
    phone = normalise_phone(sms.from_number) or sms.from_number
    payload = {"from": sms.from_number, "text": sms.text, **({"media": len(sms.photos)} if sms.photos else {})}
    return Inbound(channel=Channel.SMS.value, message_id=f"{gateway}:{sms.provider_message_id}", user_id=phone,
                   text=sms.text, phone=phone, payload=payload, attachments=sms.photos)


# ---------------------------------------------------------------- mainland gateways

# Bounds on one pushed item, so that ids fit the String(128) columns; a text is far longer than anyone types.
ID_MAX = 64
PHONE_MAX = 32
TEXT_MAX = 4096


@dataclass(frozen=True)
class DeliveryReport:
    provider_message_id: str
    status: str  # a STATUS_RANK state: "delivered" or "undelivered"
    error: str | None = None


class CallbackGateway(Protocol):
    name: str
    report_id: str  # the key of a delivery report (回执) that holds the id SendSms returned

    def uplink(self, item: Any) -> InboundSms:
        """One pushed reply of a worker; ValueError when the item is not one."""

    def delivered(self, report: dict[str, Any]) -> bool:
        """Whether a delivery report says the phone received the text."""

    def failure(self, report: dict[str, Any]) -> str:
        """A failed report's reason, as the provider's codes say it."""

    def answer(self, ok: bool) -> dict[str, Any]:
        """The acknowledgement the provider expects; not ok makes it push the batch again."""


def callback_blueprint(name: str, import_name: str, configured: Callable[[Settings], bool],
                       gateway: CallbackGateway) -> Blueprint:
    """The gateway's two callbacks, `POST /sms/<name>/<secret>` (replies) and `.../<secret>/report`."""
    bp = webhook_blueprint(f"{name}_sms", import_name, configured)

    @bp.post(f"/sms/{name}", defaults={"secret": ""})  # a push without the secret is refused (403), not lost
    @bp.post(f"/sms/{name}/<secret>")
    def uplink(secret: str):
        return receive_uplinks(gateway, secret)

    @bp.post(f"/sms/{name}/<secret>/report")
    def report(secret: str):
        return receive_reports(gateway, secret)

    return bp


def checked_sms(message_id: Any, from_number: Any, text: Any) -> InboundSms:
    """An uplink's fields as the shared step needs them; ValueError names what is wrong."""
    if not isinstance(message_id, str | int) or isinstance(message_id, bool) or not str(message_id):
        raise ValueError("no message id")
    if not isinstance(from_number, str) or not from_number or len(from_number) > PHONE_MAX:
        raise ValueError("no phone number")
    if not isinstance(text, str) or len(text) > TEXT_MAX:
        raise ValueError("the text is missing or too long")
    if len(str(message_id)) > ID_MAX:
        raise ValueError("the message id is too long")
    return InboundSms(str(message_id), from_number, text)


def receive_uplinks(gateway: CallbackGateway, secret: str) -> Response:
    """Workers' replies, item by item: each stored with its dialogue turn and the answer's outbox row in one
    transaction, so a bad item costs only itself and a repeated batch repeats nothing."""
    def store(sms: InboundSms) -> None:
        inbound = _inbound(gateway.name, sms)
        take(inbound, reply_to=f"sms:{inbound.user_id}")

    return _each_item(gateway, secret, gateway.uplink, store)


def receive_reports(gateway: CallbackGateway, secret: str) -> Response:
    """Delivery reports, item by item, kept as Twilio's are (`record_status`)."""
    key = gateway.report_id

    def read(item: Any) -> DeliveryReport:
        if not isinstance(item, dict) or not isinstance(item.get(key), str) or not 0 < len(item[key]) <= ID_MAX:
            raise ValueError(f"a delivery report must be a JSON object with {key} (at most {ID_MAX} characters)")
        if gateway.delivered(item):
            return DeliveryReport(item[key], "delivered")
        return DeliveryReport(item[key], "undelivered", gateway.failure(item))

    def store(report: DeliveryReport) -> None:
        record_status(db(), gateway.name, report.provider_message_id, report.status, utcnow(), report.error)
        db().commit()

    return _each_item(gateway, secret, read, store)


def _each_item(gateway: CallbackGateway, secret: str, read: Callable[[Any], Any],
               store: Callable[[Any], None]) -> Response:
    """Authenticate, then read and store every pushed item on its own. An item that cannot be read (or that
    the shared step refuses) is logged and listed in the answer's "refused"; retrying cannot mend it. An item
    that failed to store (the database blinked) makes the answer an error, so the provider pushes the batch
    again and the items already stored are recognised by their ids."""
    _authenticate(secret)
    refused, failed = [], 0
    for index, item in enumerate(_pushed_items()):
        try:
            store(read(item))
        except (ValueError, HTTPException) as exc:
            db().rollback()
            refused.append(index)
            log.warning("%s callback: item %s refused: %s", gateway.name, index, getattr(exc, "description", exc))
        except Exception as exc:
            db().rollback()
            if isinstance(exc, DBAPIError) and not unavailable(exc):
                refused.append(index)  # this item's data, not the database: pushing the batch again cannot help
            else:
                failed += 1
            log.exception("%s callback: item %s could not be stored", gateway.name, index)
    body = gateway.answer(failed == 0)
    if refused:
        body["refused"] = refused
    return jsonify(body), 200 if failed == 0 else 500


def _authenticate(secret: str) -> None:
    """The URL's secret, compared in constant time, and the sender's address when an allow-list is set."""
    sms = services().settings.sms
    if not sms.callback_secret or not hmac.compare_digest(secret.encode(), sms.callback_secret.encode()):
        abort(403, description="the callback secret in the URL does not match [sms] callback_secret")
    if sms.callback_allowed_ips:
        try:
            address = ipaddress.ip_address(request.remote_addr or "")
        except ValueError:  # a forwarded-for header that is no address
            abort(403, description=f"{request.remote_addr!r} is not an address in [sms] callback_allowed_ips")
        if not any(address in ipaddress.ip_network(net, strict=False) for net in sms.callback_allowed_ips):
            abort(403, description=f"{address} is not in [sms] callback_allowed_ips")


def _pushed_items() -> list[Any]:
    """The JSON body as a list of items: providers push an array, or (Tencent's replies) a single object."""
    try:
        data = json.loads(request.get_data())
    except (ValueError, UnicodeDecodeError) as exc:
        abort(400, description=f"the body is not JSON: {exc}")
    if isinstance(data, dict):
        return [data]
    if not isinstance(data, list):
        abort(400, description="the body must be a JSON array or object")
    return data


# Sends one approved template (code, variables) to one 11-digit mainland number through a provider's SDK.
SendTemplate = Callable[[str, str, dict[str, str]], SendResult]


class TemplateSender:
    """A mainland gateway's outbox sender: pick the template for the payload's kind, spread the text over its
    variables, split what is too long (`pieces`, used by the outbox); `send_template` makes the SDK call."""

    def __init__(self, templates: Templates, send_template: SendTemplate):
        self.templates = templates
        self.send_template = send_template

    def pieces(self, payload: dict[str, Any]) -> list[dict[str, Any]]:
        texts = self.templates.pieces(payload["text"])
        return [payload] if len(texts) == 1 else [{**payload, "text": text} for text in texts]

    def send(self, destination: str, payload: dict[str, Any]) -> SendResult:
        kind = payload.get("kind", "")
        code = self.templates.code_for(kind)
        if code is None:
            return SendResult(ok=False, permanent=True, error=f"no SMS template for {kind!r} in [sms] templates")
        address = destination.split(":", 1)[1]
        number = normalise_phone(address)
        if number is None:
            return SendResult(ok=False, permanent=True, error=f"{mask_phone(address)} is not a mainland mobile number")
        return self.send_template(number, code, self.templates.values(payload["text"]))
