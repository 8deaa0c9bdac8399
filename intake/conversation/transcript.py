"""The thread of a complaint as staff read it, oldest first: the chat that led to it (what the worker sent and
what the service answered), then what the worker added afterwards on any channel and what staff wrote back."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from intake.foundation.models import Channel, Complaint, Event, EventKind, InboundMessage

CHAT_CHANNELS = frozenset({Channel.WECHAT.value, Channel.SMS.value})
BEFORE = timedelta(days=1)  # a conversation expires long before this (dialogue.draft_keep_days aside)
AFTER = timedelta(minutes=10)
LIMIT = 200


@dataclass(frozen=True)
class Turn:
    """One message and the answer to it: the worker's words with the service's reply, or staff's own message
    (`staff` names its author's actor; `said` is then what they sent)."""

    at: datetime
    said: str
    reply: str | None
    staff: str | None = None


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
    """The filing chat, then the worker's later messages (worker_wrote) and staff's messages to the worker
    (worker_messaged), in time order. A chat message within the filing chat's window is its inbound row, a later
    one its event, so each is shown once."""
    query = chat_messages(complaint)
    turns = [] if query is None else [
        Turn(r.received_at, _said(r.payload or {}), r.reply)
        for r in session.scalars(query.order_by(InboundMessage.id).limit(LIMIT))]
    own_chat = f"worker:{complaint.channel}" if query is not None else None
    chat_ends = complaint.created_at + AFTER
    for event in session.scalars(select(Event).where(
            Event.complaint_id == complaint.id,
            Event.kind.in_((EventKind.WORKER_WROTE, EventKind.WORKER_MESSAGED))).order_by(Event.id).limit(LIMIT)):
        if event.kind == EventKind.WORKER_MESSAGED:
            turns.append(Turn(event.created_at, event.note or "", None, staff=event.actor))
        elif not (event.actor == own_chat and event.created_at <= chat_ends):
            photos = event.data.get("photos") or 0
            said = " ".join(part for part in (event.note, f"［照片{photos}张］" if photos else "") if part)
            turns.append(Turn(event.created_at, said or "［消息］", None))
    return sorted(turns, key=lambda t: t.at)
