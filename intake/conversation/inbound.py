"""Every chat delivery, on every channel: stored once under the provider's message id, answered once.

The rule "every inbound webhook is idempotent on the provider's message id" lives here: the insert is the
transaction's first statement (on PostgreSQL the first part of it, see intake.conversation.rows) and the unique
constraint on (channel, provider_message_id) decides (ON CONFLICT DO NOTHING), so a retry racing the first delivery
waits for it and then reads its reply. Functions flush, never
commit: the webhook handler commits once and answers.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from intake.delivery.outbox import dispatch_desk, enqueue, notify_department, sealed
from intake.delivery.sms_templates import REPLY
from intake.foundation.encryption import chat_user
from intake.foundation.models import InboundMessage
from intake.foundation.settings import Settings
from intake.foundation.validation import clean_text, mask_numbers
from intake.reading.photos import Photo

from . import rows
from .dialogue import open_conversation, take_turn

CHANNEL_NAMES = {"wechat": "微信公众号", "sms": "短信"}
# Delivery reports of outbound texts are kept as rows of this pseudo-channel, one per provider message id.
STATUS_CHANNEL = "sms-status"
# Delivery states in the order they happen; a report never moves a message back to an earlier one, so a late
# "sent" does not overwrite "delivered". Unknown states rank lowest.
STATUS_RANK = {"accepted": 1, "scheduled": 1, "queued": 1, "sending": 2, "sent": 3,
               "delivered": 4, "undelivered": 4, "failed": 4, "canceled": 4, "read": 5}

@dataclass(frozen=True)
class Inbound:
    """One verified delivery. `reply` set means: answer this and do not run the dialogue (e.g. unheard voice)."""

    channel: str
    message_id: str
    user_id: str
    text: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    site_scene: str | None = None
    phone: str | None = None
    attachments: tuple[Photo, ...] = ()
    reply: str | None = None
    truncated: bool = False  # the channel cut an over-long text: the worker is told only the first part is kept


# The width of the id and sender columns: no provider's id or address comes near it.
ID_MAX = 128


class BadDelivery(ValueError):
    """A delivery whose id or sender no provider would send (too long to store): refused, never a database error."""


class ForeignRepeat(ValueError):
    """A message id delivered before from another sender: a provider never does this, so it is refused."""


def receive(session: Session, settings: Settings, inbound: Inbound, *, now: datetime,
            reply_to: str | None = None) -> str | None:
    """Store the delivery, run the dialogue once and store its reply; a repeat gets the stored reply.

    The sender is stored as the conversation has it (an SMS number as its identity, `chat_user`).

    `reply_to` ("sms:<number>") is for gateways that cannot answer in the HTTP response (mainland SMS): the
    reply is written to the outbox in the same transaction, so it goes out once per message id, or never
    without the delivery being stored.

    A repeat from another sender raises ForeignRepeat: the stored reply (which may sum up the first sender's
    complaint) is theirs alone. Control characters are taken out of the stored payload (the dialogue cleans the
    text it reads): PostgreSQL cannot store a NUL.
    """
    inbound = replace(inbound, payload=cleaned_payload(inbound.payload))
    _check_ids(inbound.message_id, inbound.user_id)  # the number as sent, before it becomes its identity
    who = chat_user(inbound.channel, inbound.user_id) if inbound.user_id else inbound.user_id
    if inbound.reply is not None:
        row_id = first_delivery(session, inbound.channel, inbound.message_id, who, inbound.payload, now)
        if row_id is None:
            return _stored_reply(session, inbound, who)
        text = inbound.reply
        session.execute(rows.STORE_REPLY, {"b_delivery": row_id, "b_reply": text})
    else:
        _check_ids(inbound.message_id, who)
        opened = open_conversation(session, inbound.channel, who, now,
                                   _delivery(inbound.channel, inbound.message_id, who, inbound.payload, now),
                                   phone=inbound.phone)
        if opened is None:
            return _stored_reply(session, inbound, who)
        conversation, row_id = opened
        answer = take_turn(session, settings, conversation, inbound.text, now=now, site_scene=inbound.site_scene,
                           has_phone=inbound.phone is not None, phone=inbound.phone,
                           attachments=inbound.attachments, delivery_id=row_id, truncated=inbound.truncated)
        text = answer.text
        if answer.human_requested:
            _call_staff(session, inbound, who)
    if reply_to and text:
        enqueue(session, reply_to, {"kind": REPLY, "text": text}, flush=False)
    return text


def _stored_reply(session: Session, inbound: Inbound, who: str | None) -> str | None:
    """A repeat's answer: the reply stored with the first delivery, to its own sender only."""
    table = rows.INBOUND
    sender, reply = session.execute(select(table.c.sender, table.c.reply).where(
        table.c.channel == inbound.channel, table.c.provider_message_id == inbound.message_id)).one()
    if sender != who:
        raise ForeignRepeat("this message id was delivered before, from another sender")
    return reply


def _delivery(channel: str, message_id: str, sender: str | None, payload: dict[str, Any],
              now: datetime) -> dict[str, Any]:
    """rows.FIRST_DELIVERY's parameters."""
    return {"b_channel": channel, "b_message_id": message_id, "b_sender": sender, "b_payload": payload,
            "b_now": now}


def first_delivery(session: Session, channel: str, message_id: str, sender: str | None,
                   payload: dict[str, Any], now: datetime) -> int | None:
    """Insert the delivery's row; its id, or None when this (channel, id) was stored before."""
    _check_ids(message_id, sender)
    return session.execute(rows.FIRST_DELIVERY[session.get_bind().dialect.name],
                           _delivery(channel, message_id, sender, payload, now)).scalar_one_or_none()


def _check_ids(message_id: str, sender: str | None) -> None:
    if not message_id or len(message_id) > ID_MAX or (sender is not None and len(sender) > ID_MAX):
        raise BadDelivery(f"the message id and the sender must be 1 to {ID_MAX} characters")


def record_status(session: Session, gateway: str, provider_message_id: str, status: str, now: datetime,
                  error: str | None = None) -> None:
    """Keep the latest delivery state of an outbound text; reports may come twice and out of order."""
    key = f"{gateway}:{provider_message_id}"
    payload = {"status": status, "error": error}
    if first_delivery(session, STATUS_CHANNEL, key, None, payload, now) is not None:
        return
    row = session.scalar(select(InboundMessage).where(InboundMessage.channel == STATUS_CHANNEL,
                                                      InboundMessage.provider_message_id == key).with_for_update())
    if STATUS_RANK.get(status, 0) > STATUS_RANK.get(row.payload.get("status"), 0):
        row.payload = payload


def cleaned_payload(value: Any) -> Any:
    """The payload with `clean_text` applied to every string in it: it holds what the sender wrote, too; and
    phone and ID numbers masked, which the complainant's encrypted fields keep instead."""
    if isinstance(value, str):
        return mask_numbers(clean_text(value))
    if isinstance(value, dict):
        return {key: cleaned_payload(item) for key, item in value.items()}
    if isinstance(value, list):
        return [cleaned_payload(item) for item in value]
    return value


def _call_staff(session: Session, inbound: Inbound, who: str) -> None:
    """"人工": the dispatch desk is asked to call back (the worker was told so, and given the hotline); the number
    is in the text the desk reads, encrypted at rest."""
    contact = inbound.phone or f"{inbound.channel} 用户 {inbound.user_id}"
    notify_department(session, dispatch_desk(session), {
        "kind": "human_requested", "channel": inbound.channel, "user_id": who,
        **sealed(f"有工人在{CHANNEL_NAMES.get(inbound.channel, inbound.channel)}请求人工帮助：{contact}，请尽快联系。")},
        complaint_id=None)
