"""The SMS provider interface. Twilio cannot do two-way SMS with mainland (+86) numbers, so a deployment in
China adds its domestic gateway's uplink ("reply") callback as one more module beside `twilio_sms`.

A gateway module provides:
- `configured(settings) -> bool`: on when `[sms] provider` names it and its credentials are set;
- a `Gateway` (below): verify and parse an inbound request, render the reply in the provider's format;
- `bp`: a `webhook_blueprint` whose inbound route returns `receive(gateway)`, and whose delivery-report
  route calls `record_status`;
- `make_sender(settings) -> Sender` for outbound texts ("sms:<number>"), wired in `build_senders`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flask import Request, Response, request
from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.models import Channel, InboundMessage
from intake.validation import normalise_phone

from . import Inbound, first_delivery, take

STATUS_CHANNEL = "sms-status"
# Delivery states in the order they happen; a report never moves a message back to an earlier one, so a late
# "sent" does not overwrite "delivered". Unknown states rank lowest.
STATUS_RANK = {"accepted": 1, "scheduled": 1, "queued": 1, "sending": 2, "sent": 3,
               "delivered": 4, "undelivered": 4, "failed": 4, "canceled": 4, "read": 5}


@dataclass(frozen=True)
class InboundSms:
    provider_message_id: str
    from_number: str
    text: str


class Gateway(Protocol):
    name: str  # prefixes provider ids, so two gateways' ids never collide

    def parse(self, req: Request) -> InboundSms:
        """Verify the request came from the provider (else abort 403) and read it (else abort 400)."""

    def render(self, text: str | None) -> Response:
        """The webhook's answer, carrying the reply text when there is one."""


def receive(gateway: Gateway) -> Response:
    """One inbound text: verify, run the shared step, answer in the provider's format."""
    sms = gateway.parse(request)
    phone = normalise_phone(sms.from_number)
    reply = take(Inbound(channel=Channel.SMS.value, message_id=f"{gateway.name}:{sms.provider_message_id}",
                         user_id=phone or sms.from_number, text=sms.text, phone=phone or sms.from_number,
                         payload={"from": sms.from_number, "text": sms.text}))
    return gateway.render(reply)


def record_status(session: Session, gateway: str, provider_message_id: str, status: str,
                  error: str | None = None) -> None:
    """Keep the latest delivery state of an outbound text; reports may come twice and out of order."""
    key = f"{gateway}:{provider_message_id}"
    payload = {"status": status, "error": error}
    if first_delivery(session, STATUS_CHANNEL, key, None, payload) is not None:
        return
    row = session.scalar(select(InboundMessage).where(InboundMessage.channel == STATUS_CHANNEL,
                                                      InboundMessage.provider_message_id == key).with_for_update())
    if STATUS_RANK.get(status, 0) > STATUS_RANK.get(row.payload.get("status"), 0):
        row.payload = payload
