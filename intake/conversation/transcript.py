"""The chat that led to a complaint, as staff read it: what the worker sent and what the service answered."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from intake.foundation.models import Channel, Complaint, InboundMessage

CHAT_CHANNELS = frozenset({Channel.WECHAT.value, Channel.SMS.value})
BEFORE = timedelta(days=1)  # a conversation expires long before this (dialogue.draft_keep_days aside)
AFTER = timedelta(minutes=10)
LIMIT = 200


@dataclass(frozen=True)
class Turn:
    at: datetime
    said: str
    reply: str | None


def _said(payload: dict) -> str:
    for key in ("text", "Content", "Recognition"):
        if payload.get(key):
            return str(payload[key])
    if payload.get("MediaId") or payload.get("PicUrl"):
        return "［照片］"
    if payload.get("Event"):
        return f"［{payload['Event']} {payload.get('EventKey') or ''}］".replace(" ］", "］")
    return "［消息］"


def chat_messages(complaint: Complaint) -> Select | None:
    """The worker's messages on the complaint's channel from a day before it was filed until just after; None
    for a complaint that came by no chat."""
    if complaint.channel not in CHAT_CHANNELS or not complaint.channel_user_id:
        return None
    return select(InboundMessage).where(
        InboundMessage.channel == complaint.channel, InboundMessage.sender == complaint.channel_user_id,
        InboundMessage.received_at >= complaint.created_at - BEFORE,
        InboundMessage.received_at <= complaint.created_at + AFTER)


def transcript(session: Session, complaint: Complaint) -> list[Turn]:
    query = chat_messages(complaint)
    if query is None:
        return []
    rows = session.scalars(query.order_by(InboundMessage.id).limit(LIMIT))
    return [Turn(r.received_at, _said(r.payload or {}), r.reply) for r in rows]
