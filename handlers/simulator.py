"""`/demo/chat`: a local chat simulator, registered only in demo mode, for trying the conversation without a WeChat
account or an SMS gateway.

Every message goes through `take(Inbound(...))` exactly as the WeChat and SMS adapters call it, so what a
newcomer sees here is the real dialogue with the real idempotency: a message id is minted when the page (or the
previous answer) is rendered, so a double click or a retried post repeats the stored reply and changes nothing.
The history shown is read back from the stored inbound rows, with the notices the worker is sent later (签收,
受理, staff's messages, 工资到手了吗 ...) read from the outbox and put in time order, so the page also works
without JavaScript; the page's script asks for new notices every few seconds, as a phone would receive them.
"""
from __future__ import annotations

import re
import secrets
import uuid

from flask import Blueprint, abort, jsonify, redirect, render_template, request, session, url_for
from sqlalchemy import select

from intake.conversation import replies
from intake.conversation.inbound import Inbound
from intake.delivery.sms_templates import REPLY
from intake.foundation.encryption import chat_user
from intake.foundation.models import Channel, InboundMessage, Outbox, Site
from intake.foundation.validation import normalise_phone
from intake.registry.sites import site_by_token

from .channels.receive import take
from .runtime import db, services

bp = Blueprint("simulator", __name__, url_prefix="/demo")
MODES = {Channel.WECHAT.value: "微信", Channel.SMS.value: "短信"}
HISTORY = 60
MAX_TEXT = 500
_MESSAGE_ID = re.compile(r"[0-9a-f]{32}")


@bp.get("/chat")
def chat():
    return _page()


@bp.post("/chat/identity")
def identity():
    """Choose WeChat or SMS (with the sender's phone); "新用户" starts over as a WeChat user never seen before."""
    mode = request.form.get("mode", Channel.WECHAT.value)
    if mode not in MODES:
        abort(400)
    if request.form.get("new"):
        session["demo_wechat_user"] = _new_wechat_user()
    if mode == Channel.SMS.value:
        phone = normalise_phone(request.form.get("phone", ""))
        if not phone:
            return _page(mode=mode, phone_error="请填写11位手机号，例如13812345678")
        session["demo_phone"] = phone
    session["demo_mode"] = mode
    return redirect(url_for(".chat"), 303)


@bp.post("/chat")
def send():
    """One message (or a QR scan in WeChat mode) through the shared channel step; JSON for the page's script."""
    message_id = request.form.get("message_id", "")
    text = request.form.get("text", "").strip()[:MAX_TEXT]
    channel, user_id, phone = _who()
    site = site_by_token(db(), request.form.get("site", "")) if channel == Channel.WECHAT.value else None
    if not _MESSAGE_ID.fullmatch(message_id) or not (text or site):
        abort(400)
    said = text if site is None else f"（扫描了{site.name}的二维码）"
    reply = take(Inbound(channel=channel, message_id=f"demo:{message_id}", user_id=user_id, text=text or None,
                         site_scene=site.public_token if site else None, phone=phone,
                         payload={"simulator": True, "text": said}))
    if request.accept_mimetypes.best == "application/json":
        return jsonify(said=said, reply=reply, message_id=uuid.uuid4().hex)
    return redirect(url_for(".chat", _anchor="end"), 303)


@bp.get("/chat/notices")
def notices():
    """The notices sent to this browser's worker after the outbox row `after`, oldest first, for the script."""
    after = request.args.get("after", "0")
    if not after.isdigit() or len(after) > 18:
        abort(400)
    channel, user_id, _phone = _who()
    rows = _notices(channel, user_id, int(after))
    return jsonify(notices=[{"id": row.id, "text": row.payload.get("text", "")} for row in rows],
                   last=rows[-1].id if rows else int(after))


def _notices(channel: str, user_id: str, after: int = 0) -> list[Outbox]:
    """The newest notices to the worker's own address on this channel (their fallbacks go elsewhere), oldest
    first; the chat's answers are the inbound rows' replies, not repeated here."""
    rows = db().scalars(select(Outbox).where(Outbox.destination == f"{channel}:{chat_user(channel, user_id)}", Outbox.id > after)
                        .order_by(Outbox.id.desc()).limit(HISTORY)).all()
    return [row for row in reversed(rows) if row.payload.get("kind") != REPLY]


def _page(mode: str | None = None, phone_error: str | None = None):
    """The chat; in SMS mode also the steps that connect a real gateway (README: "Channels")."""
    channel, user_id, _phone = _who()
    settings = services().settings
    rows = db().scalars(select(InboundMessage).where(InboundMessage.channel == channel,
                                                     InboundMessage.sender == chat_user(channel, user_id))
                        .order_by(InboundMessage.id.desc()).limit(HISTORY)).all()
    told = _notices(channel, user_id)
    history = sorted([(row.received_at, row.payload.get("text", ""), row.reply) for row in rows]
                     + [(row.created_at, None, row.payload.get("text", "")) for row in told],
                     key=lambda item: item[0])[-HISTORY:]
    sites = db().execute(select(Site.public_token, Site.name).order_by(Site.code).limit(100)).all()
    page = render_template("chat.html", mode=mode or channel, channel=channel, modes=MODES,
                           phone=session.get("demo_phone", ""), phone_error=phone_error,
                           history=[(said, reply) for _at, said, reply in history],
                           last_notice=told[-1].id if told else 0,
                           sites=sites, message_id=uuid.uuid4().hex, max_text=MAX_TEXT,
                           example=replies.EXAMPLE, sms_provider=settings.sms.provider,
                           public_url=settings.public_url("") or request.host_url.rstrip("/"))
    return page, 400 if phone_error else 200


def _who() -> tuple[str, str, str | None]:
    """This browser's channel, user id and (SMS) phone; a WeChat user id is made on first sight and kept in the
    signed session cookie, so each browser is its own follower."""
    if session.get("demo_mode") == Channel.SMS.value and session.get("demo_phone"):
        return Channel.SMS.value, session["demo_phone"], session["demo_phone"]
    if "demo_wechat_user" not in session:
        session["demo_wechat_user"] = _new_wechat_user()
    return Channel.WECHAT.value, session["demo_wechat_user"], None


def _new_wechat_user() -> str:
    return f"demo-{secrets.token_hex(8)}"
