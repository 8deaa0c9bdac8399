"""The WeChat official account: `GET /wechat` (server URL verification), `POST /wechat` (messages and events, in
plaintext or safe mode), the outbound sender (customer-service text, template message) and the media fetcher.

A scan of a site poster's WeChat QR code (a subscribe or SCAN event whose scene is the site's public token) is
also one scan of the site for the day, as the poster's web link is (intake.warnings.posters.count_scan).

Messages are deduplicated on MsgId, events (which have none) on FromUserName + CreateTime + Event: WeChat
retries a delivery it got no answer for within 5 s. An image is recorded by its MediaId (and PicUrl, in the
stored payload) only; downloading it is an API call, which is the worker's job (`WeChatMediaFetcher`), not the
webhook's.

Replays: a request whose timestamp is more than 5 minutes from now is refused in either mode. With
`encoding_aes_key` configured (safe mode) only encrypted messages are taken, and their msg_signature covers the
body, so a signed URL seen in a proxy's or server's log cannot carry another body; an exact replay within the 5
minutes is a repeat of its MsgId and gets the stored reply. Without the key (plaintext mode, for accounts that
chose it) the signature covers only token, timestamp and nonce: whoever sees a signed URL can, for 5 minutes,
post any message as any follower. Such a forgery reaches only that follower's conversation, but it can file a
complaint in their name; accounts that cannot accept this must use safe mode.

A MsgId already taken from another follower gets a 400, not a silent "success": WeChat never sends one, so it
is a forgery (after someone else's stored reply), and an error status shows it in the webhook's logs.
"""
from __future__ import annotations

import re
import time
from functools import cache
from typing import Any
from xml.parsers.expat import ExpatError

import requests
from flask import Response, abort, request
from sqlalchemy import select
from wechatpy import WeChatClient, parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import ClickEvent, ScanEvent, SubscribeEvent, SubscribeScanEvent
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException, WeChatClientException
from wechatpy.messages import BaseMessage, ImageMessage, TextMessage, VoiceMessage
from wechatpy.replies import create_reply
from wechatpy.utils import check_signature

from intake.conversation.inbound import Inbound
from intake.delivery.media import FetchResult
from intake.delivery.outbox import SendResult
from intake.foundation.models import Channel, InboundMessage, utcnow
from intake.foundation.settings import Settings
from intake.reading.photos import Photo
from intake.registry.sites import site_by_token
from intake.warnings.posters import count_scan

from ..runtime import db, services
from .receive import take, webhook_blueprint

TEXT_SCHEME = "wechat"
TEMPLATE_SCHEME = "wechat-template"
# An image's source is "wechat-media:<MediaId>"; the worker downloads it (WeChat keeps temporary media 3 days).
MEDIA_SCHEME = "wechat-media"
PHOTO_NAME = "微信图片"
# The attachment's content type until the download replaces it with the decoded image's.
MEDIA_TYPE = "application/x-wechat-media-id"
# Menu buttons (EventKey of a click) and what pressing one says to the dialogue.
MENU = {"COMPLAIN": "我要投诉", "STATUS": "查询进度", "HUMAN": "人工"}
VOICE_UNHEARD = "没听清语音，请打字说一下情况，或拨打{hotline}。"
UNSUPPORTED = "请用文字说一下情况，也可以发照片，或拨打{hotline}。"
# WeChat errors no retry can cure: 45015 outside the 48-hour window, 43004 not a follower, 40003 bad openid,
# 43101 the user declined, 40037 bad template id. The outbox then tries the payload's fallbacks at once.
PERMANENT_ERRORS = {45015, 43004, 40003, 43101, 40037}
# 40007: the MediaId is invalid or expired (after 3 days), so no retry can fetch it.
PERMANENT_MEDIA_ERRORS = {40007}
# Seconds to connect and between bytes read; without it a stalled API call would hold the worker for good.
API_TIMEOUT = 30
_DTD = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
# How far a request's signed timestamp may be from now, either way, before it counts as a replay.
MAX_CLOCK_SKEW = 300
# Bounds on what the webhook stores, so that ids and the event key built from them fit the String(128) columns:
# an openid is 28 characters, a MsgId a 64-bit number, a CreateTime Unix seconds, a MediaId 64 characters (the
# attachment's source, String(200), takes 128). A text is far longer than anyone types into a chat; a longer one
# is cut there.
ID_MAX = 64
MEDIA_ID_MAX = 128
EVENT_MAX = 32
TEXT_MAX = 4096
_NUMBER = re.compile(r"[0-9]{1,20}")


def configured(settings: Settings) -> bool:
    return bool(settings.wechat.token)


bp = webhook_blueprint("wechat", __name__, configured)


@bp.get("/wechat")
def verify_url():
    _check_signature()
    return Response(request.args.get("echostr", ""), mimetype="text/plain")


@bp.post("/wechat")
def receive():
    _check_signature()
    settings = services().settings.wechat
    encrypted = request.args.get("encrypt_type") == "aes"
    if settings.encoding_aes_key and not encrypted:
        abort(403, description="[wechat] encoding_aes_key is configured: only safe-mode (encrypt_type=aes) "
                               "messages are accepted")
    if encrypted and not settings.encoding_aes_key:
        abort(400, description="encrypt_type=aes but [wechat] encoding_aes_key is not configured")
    xml = _no_dtd(request.get_data())
    try:
        if encrypted:
            crypto = _crypto(settings.token, settings.encoding_aes_key, settings.app_id)
            xml = _no_dtd(crypto.decrypt_message(xml, request.args.get("msg_signature", ""),
                                                 request.args["timestamp"], request.args["nonce"]))
        message = parse_message(xml)
    except (InvalidSignatureException, InvalidAppIdException):
        abort(403, description="msg_signature or AppId of the encrypted message does not match")
    except (ExpatError, ValueError, KeyError, TypeError, AttributeError) as exc:
        abort(400, description=f"not a WeChat message: {type(exc).__name__}: {exc}")
    if message is None:
        abort(400, description="empty body")
    inbound = _inbound(message)
    if inbound and inbound.site_scene:
        _count_poster_scan(inbound)
    text = take(inbound) if inbound else None
    if not text:
        return Response("success", mimetype="text/plain")
    reply = create_reply(text, message, render=True)
    if encrypted:
        reply = crypto.encrypt_message(reply, request.args["nonce"], request.args["timestamp"])
    return Response(reply, mimetype="application/xml")


def _count_poster_scan(inbound: Inbound) -> None:
    """A poster's WeChat QR code scanned (subscribe or SCAN; its scene is the site's public token): one scan of
    the site for the local day, nothing about who, committed with the delivery and not counted again for WeChat's
    retry of the same event (stored by then)."""
    session = db()
    site = site_by_token(session, inbound.site_scene)
    if site is None or session.scalar(select(InboundMessage.id).where(
            InboundMessage.channel == inbound.channel, InboundMessage.provider_message_id == inbound.message_id)):
        return
    count_scan(session, site, utcnow().astimezone(services().calendar.timezone).date())


@cache
def _crypto(token: str, encoding_aes_key: str, app_id: str) -> WeChatCrypto:
    """One per account and process, not one per message: it holds only the token, AppId and decoded key."""
    return WeChatCrypto(token, encoding_aes_key, app_id)


def _check_signature() -> None:
    """The query's signature, and its timestamp within MAX_CLOCK_SKEW of now: old signed URLs stay in logs."""
    args = request.args
    try:
        check_signature(services().settings.wechat.token, args.get("signature", ""), args.get("timestamp", ""),
                        args.get("nonce", ""))
    except InvalidSignatureException:
        abort(403, description="signature does not match token, timestamp and nonce")
    try:
        skew = abs(time.time() - int(args["timestamp"]))
    except (KeyError, ValueError):
        skew = float("inf")
    if skew > MAX_CLOCK_SKEW:
        abort(403, description="timestamp is more than 5 minutes from now")


def _no_dtd(xml: bytes | str) -> bytes | str:
    """WeChat never sends a DTD; refusing any keeps entity expansion (billion laughs, XXE) out of the parser."""
    if _DTD.search(xml if isinstance(xml, bytes) else xml.encode()):
        abort(400, description="XML with a DTD or entity declarations is not accepted")
    return xml


def _plain(data: dict[str, Any], name: str, max_length: int | None = ID_MAX, *, optional: bool = False,
           pattern: re.Pattern[str] | None = None) -> str | None:
    """One element's text, else 400: xmltodict gives a dict for a nested element, a list for a repeated one and
    None for a missing or empty one, and none of those may reach the database or the dialogue."""
    value = data.get(name)
    if value is None and optional:
        return None
    too_long = max_length is not None and len(value or "") > max_length
    if not isinstance(value, str) or too_long or (pattern and not pattern.fullmatch(value)):
        abort(400, description=f"{name} must be one element of plain text, at most {max_length} characters")
    return value


def _inbound(message: BaseMessage) -> Inbound | None:
    """What a message or event says to the dialogue; None for events that need no answer (unsubscribe, ...)."""
    data: dict[str, Any] = dict(message._data)
    hotline = services().settings.dialogue.hotline
    user = _plain(data, "FromUserName")
    _plain(data, "ToUserName")  # the reply's sender
    if message.type == "event":
        key = f"{user}:{_plain(data, 'CreateTime', pattern=_NUMBER)}:{_plain(data, 'Event', EVENT_MAX)}"
        base = dict(channel=Channel.WECHAT.value, message_id=key, user_id=user, payload=data)
        if isinstance(message, (SubscribeScanEvent, ScanEvent)):
            return Inbound(**base, site_scene=_plain(data, "EventKey", optional=True))
        if isinstance(message, SubscribeEvent):
            return Inbound(**base)
        button = _plain(data, "EventKey", optional=True) if isinstance(message, ClickEvent) else None
        if button not in MENU:
            return None
        # Two different buttons in the same second are two clicks (a menu key is short: the id still fits).
        return Inbound(**{**base, "message_id": f"{key}:{button}"}, text=MENU[button])
    base = dict(channel=Channel.WECHAT.value, message_id=_plain(data, "MsgId", pattern=_NUMBER), user_id=user,
                payload=data)
    if isinstance(message, TextMessage):
        text = _plain(data, "Content", None, optional=True)
        if text is None or len(text) <= TEXT_MAX:
            return Inbound(**base, text=text)
        # Longer than anyone types: the first part is kept (in the stored payload too) and the worker told, never
        # a 400, which WeChat shows the worker as "该公众号暂时无法提供服务".
        data["Content"] = text[:TEXT_MAX]
        return Inbound(**base, text=data["Content"], truncated=True)
    if isinstance(message, VoiceMessage):
        recognition = _plain(data, "Recognition", TEXT_MAX, optional=True)
        if recognition and recognition.strip():
            return Inbound(**base, text=recognition)
        return Inbound(**base, reply=VOICE_UNHEARD.format(hotline=hotline))
    if isinstance(message, ImageMessage):
        source = f"{MEDIA_SCHEME}:{_plain(data, 'MediaId', MEDIA_ID_MAX)}"
        return Inbound(**base, attachments=(Photo(filename=PHOTO_NAME, content_type=MEDIA_TYPE, content=b"",
                                                  source=source),))
    return Inbound(**base, reply=UNSUPPORTED.format(hotline=hotline))


def make_client(settings: Settings) -> WeChatClient:
    """The API client for the CLI and the worker, one per account and process: a new access token ends the old
    one within 5 minutes, so the sender and the fetcher must share theirs. It is kept in wechatpy's memory
    storage; several worker processes would each fetch one, so give them a shared storage before scaling."""
    return _client(settings.wechat.app_id, settings.wechat.app_secret)


@cache
def _client(app_id: str, app_secret: str) -> WeChatClient:
    return WeChatClient(app_id, app_secret, timeout=API_TIMEOUT)


class WeChatSender:
    """"wechat:<openid>" as a customer-service text (only within 48 h of the worker's last message), and
    "wechat-template:<openid>" as a template message, the usual fallback after that."""

    def __init__(self, client: WeChatClient, template_id: str):
        self.client = client
        self.template_id = template_id

    def send(self, destination: str, payload: dict[str, Any]) -> SendResult:
        kind, openid = destination.split(":", 1)
        try:
            if kind == TEMPLATE_SCHEME:
                if not self.template_id:
                    return SendResult(ok=False, permanent=True, error="[wechat] template_id is not configured")
                data = payload.get("template_data") or {"content": {"value": payload["text"]}}
                result = self.client.message.send_template(openid, self.template_id, data, url=payload.get("url"))
            else:
                result = self.client.message.send_text(openid, payload["text"])
        except WeChatClientException as exc:
            return SendResult(ok=False, permanent=exc.errcode in PERMANENT_ERRORS,
                              error=f"WeChat {exc.errcode}: {exc.errmsg}")
        msgid = result.get("msgid")
        return SendResult(ok=True, provider_id=str(msgid) if msgid is not None else None)


class WeChatMediaFetcher:
    """"wechat-media:<MediaId>": a photo a worker sent the official account, from WeChat's temporary media."""

    def __init__(self, client: WeChatClient):
        self.client = client

    def fetch(self, source: str) -> FetchResult:
        media_id = source.split(":", 1)[1]
        try:
            response = self.client.media.download(media_id)
        except WeChatClientException as exc:  # an errcode answer (45009, -1, ...) or an HTTP error status
            if exc.errcode is None and exc.response is not None:
                return FetchResult(ok=False, error=f"WeChat HTTP {exc.response.status_code}")
            return FetchResult(ok=False, permanent=exc.errcode in PERMANENT_MEDIA_ERRORS,
                               error=f"WeChat {exc.errcode}: {exc.errmsg}")
        except requests.RequestException as exc:  # timeouts, refused connections
            return FetchResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        if not isinstance(response, requests.Response):  # JSON without an error: a video's URL, not a file
            return FetchResult(ok=False, permanent=True, error=f"WeChat answered {response}, not a file")
        return FetchResult(ok=True, content=response.content, content_type=response.headers.get("Content-Type"))
