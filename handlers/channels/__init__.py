"""Chat channels (WeChat, SMS gateways): each adapter verifies and parses its provider's webhook into an
`Inbound`, and `take` does the rest the same way for all of them.

Webhooks answer from the database alone (WeChat waits 5 s at most): no provider API call on the request path.
Anything sent later goes through the outbox, by the senders `build_senders` makes for the worker; photos that
a provider holds are downloaded by the worker too, with the fetchers `build_fetchers` makes.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

from flask import Blueprint, Response, abort, request
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from intake.conversation.dialogue import handle_message
from intake.delivery.media import Fetcher
from intake.delivery.outbox import Sender, dispatch_desk, enqueue, notify_department
from intake.delivery.sms_templates import REPLY
from intake.foundation.models import InboundMessage, utcnow
from intake.foundation.settings import Settings
from intake.foundation.validation import clean_text
from intake.reading.photos import Photo

from .. import db, services
from ..errors import MESSAGES, when_unavailable

# A chat message or status callback is a few kB; anything far bigger is not from the provider.
WEBHOOK_MAX_BYTES = 64 * 1024
# Statements built once per process: composing one costs more than running it on this request path. They are on
# the table, not the mapped class, so the session runs them as plain SQL: the ORM's bulk-insert and
# update-synchronisation steps cost more than the statements, and no object of this request holds these rows.
_INBOUND = InboundMessage.__table__
_FIRST_DELIVERY = {dialect: insert(_INBOUND).on_conflict_do_nothing(
    index_elements=["channel", "provider_message_id"]).returning(_INBOUND.c.id)
    for dialect, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))}
_STORE_REPLY = update(_INBOUND).where(_INBOUND.c.id == bindparam("b_id")).values(reply=bindparam("b_reply"))
CHANNEL_NAMES = {"wechat": "微信公众号", "sms": "短信"}


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


def take(inbound: Inbound, reply_to: str | None = None) -> str | None:
    """Store the delivery, run the dialogue once, store its reply and commit; a repeat gets the stored reply.

    `reply_to` ("sms:<number>") is for gateways that cannot answer in the HTTP response (mainland SMS): the
    reply is written to the outbox in the same transaction, so it goes out once per message id, or never
    without the delivery being stored.

    The insert is the transaction's first statement and the unique constraint decides (ON CONFLICT DO NOTHING),
    so a PostgreSQL retry racing the first delivery waits for it and then reads its reply.

    A repeat from another sender is refused (400): a provider never gives two senders one message id, and the
    stored reply (which may sum up the first sender's complaint) is theirs alone. Control characters are taken out
    of the stored payload (the dialogue cleans the text it reads): PostgreSQL cannot store a NUL.
    """
    inbound = replace(inbound, payload=_cleaned(inbound.payload))
    session = db()
    row_id = first_delivery(session, inbound.channel, inbound.message_id, inbound.user_id, inbound.payload)
    if row_id is None:
        sender, reply = session.execute(select(_INBOUND.c.sender, _INBOUND.c.reply).where(
            _INBOUND.c.channel == inbound.channel, _INBOUND.c.provider_message_id == inbound.message_id)).one()
        session.rollback()
        if sender != inbound.user_id:
            abort(400, description="this message id was delivered before, from another sender")
        return reply
    settings = services().settings
    text = inbound.reply
    if text is None:
        answer = handle_message(session, settings, inbound.channel, inbound.user_id, inbound.text, now=utcnow(),
                                site_scene=inbound.site_scene, has_phone=inbound.phone is not None,
                                phone=inbound.phone, attachments=inbound.attachments)
        text = answer.text
        if answer.human_requested:
            _call_staff(session, inbound)
    if reply_to and text:
        enqueue(session, reply_to, {"kind": REPLY, "text": text}, flush=False)
    session.execute(_STORE_REPLY, {"b_id": row_id, "b_reply": text})
    session.commit()
    return text


def _cleaned(value: Any) -> Any:
    """The payload with `clean_text` applied to every string in it: it holds what the sender wrote, too."""
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, dict):
        return {key: _cleaned(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_cleaned(item) for item in value]
    return value


def first_delivery(session: Session, channel: str, message_id: str, sender: str | None,
                   payload: dict[str, Any]) -> int | None:
    """Insert the delivery's row; its id, or None when this (channel, id) was stored before."""
    values = dict(channel=channel, provider_message_id=message_id, sender=sender, payload=payload,
                  received_at=utcnow())
    return session.execute(_FIRST_DELIVERY[session.get_bind().dialect.name], values).scalar_one_or_none()


def _call_staff(session: Session, inbound: Inbound) -> None:
    """"人工": the dispatch desk is asked to call back (the worker was told so, and given the hotline)."""
    who = inbound.phone or f"{inbound.channel} 用户 {inbound.user_id}"
    notify_department(session, dispatch_desk(session), {
        "kind": "human_requested", "channel": inbound.channel, "user_id": inbound.user_id,
        "text": f"有工人在{CHANNEL_NAMES.get(inbound.channel, inbound.channel)}请求人工帮助：{who}，请尽快联系。"},
        complaint_id=None)


# What a provider gets while the database cannot store its delivery. Nothing was stored, so the answer must not
# look like success: WeChat retries a delivery that got no good answer (3 attempts in all) and then shows the
# follower "该公众号暂时无法提供服务，请稍后再试" itself, so the worker knows to write again; a passive reply with
# our apology would count as delivered and the message would be lost. Twilio retries on a 5xx when the webhook
# URL asks for it (connection overrides, e.g. "#rc=5&rp=5xx,ct,rt") and otherwise calls the fallback URL.
UNAVAILABLE = "503 Service Unavailable: the database is unavailable; nothing was stored, send it again later\n"


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


def build_senders(settings: Settings) -> dict[str, Sender]:
    """The outbox's senders for every configured channel, keyed by destination scheme; the worker's wiring."""
    from . import aliyun_sms, tencent_sms, twilio_sms, wechat

    senders: dict[str, Sender] = {}
    if wechat.configured(settings):
        sender = wechat.WeChatSender(wechat.make_client(settings), settings.wechat.template_id)
        senders.update({wechat.TEXT_SCHEME: sender, wechat.TEMPLATE_SCHEME: sender})
    if twilio_sms.configured(settings):
        senders["sms"] = twilio_sms.make_sender(settings)
    for gateway in (aliyun_sms, tencent_sms):
        if gateway.configured(settings):
            senders["sms"] = gateway.make_sender(settings)
    return senders


def build_fetchers(settings: Settings) -> dict[str, Fetcher]:
    """The media fetchers for every configured channel, keyed by source scheme; the worker's wiring."""
    from . import wechat

    if wechat.configured(settings):
        return {wechat.MEDIA_SCHEME: wechat.WeChatMediaFetcher(wechat.make_client(settings))}
    return {}
