"""The WeChat official account against wechatpy itself: requests signed and encrypted with its own crypto,
replies decrypted with it, and WeChat's API servers replaced at the HTTP boundary of `requests`."""
from __future__ import annotations

import io
import json
import threading
import time
from dataclasses import replace
from datetime import timedelta
from hashlib import sha256
from urllib.parse import parse_qsl, urlencode, urlparse

import pytest
import requests
from flask.cli import ScriptInfo
from PIL import Image
from sqlalchemy import select
from wechatpy.crypto import WeChatCrypto

from handlers import create_app
from handlers.channels.wechat import MEDIA_TYPE, WeChatSender, make_client
from handlers.channels.wiring import build_fetchers
from handlers.cli import main
from handlers.cli.doctor import check_wechat
from handlers.runtime import services
from intake.conversation import replies as R
from intake.delivery.media import EVIDENCE_LOST
from intake.foundation.models import Attachment, Complaint, Conversation, Event, InboundMessage, Outbox, Site, utcnow
from intake.foundation.settings import WeChatSettings, WorkerSettings
from intake.runtime.worker import run_once
from tests.helpers import (
    CAL,
    OPENID,
    WECHAT,
    WECHAT_AES_KEY,
    WECHAT_APP_ID,
    WECHAT_CRYPTO,
    WECHAT_TOKEN,
    count,
    jpeg,
    parse_envelope,
    phone_photo,
    reply_text,
    signed_query,
    text_xml,
    wechat_post,
)

PLAIN = replace(WECHAT, encoding_aes_key="")


@pytest.fixture
def app(configured_app):
    """The suite's app with the WeChat channel configured, in safe mode (an EncodingAESKey), as recommended."""
    return configured_app(wechat=WECHAT)


@pytest.fixture
def plain_client(make_settings, app):
    """The account in plaintext mode (no EncodingAESKey), for accounts that chose it."""
    return create_app(make_settings(wechat=PLAIN)).test_client()


@pytest.fixture(params=["safe", "plaintext"])
def any_client(request, client, plain_client):
    return client if request.param == "safe" else plain_client


def event_xml(event: str, key: str = "", create_time: int = 1700000000, user: str = OPENID) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_account]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>")


def conversation(session, user: str = OPENID) -> Conversation:
    session.expire_all()
    return session.scalar(select(Conversation).where(Conversation.user_id == user))


@pytest.fixture
def site(session) -> Site:
    site = Site(code="LS-001", name="兰山区阳光城工地", jurisdiction_code="371302", public_token="sceneToken_123")
    session.add(site)
    session.commit()
    return site


# ---------------------------------------------------------------- URL verification and switches

def test_url_verification_echoes_when_signed_and_refuses_a_forgery(client):
    assert client.get("/wechat?" + urlencode(signed_query(echostr="e-123"))).data == b"e-123"
    forged = {**signed_query(echostr="e-123"), "signature": "0" * 40}
    response = client.get("/wechat?" + urlencode(forged))
    assert response.status_code == 403
    assert b"signature does not match" in response.data


def test_channel_off_means_no_such_route(make_settings, session):
    client = create_app(make_settings()).test_client()
    assert client.get("/wechat?" + urlencode(signed_query(echostr="x"))).status_code == 404
    assert wechat_post(client, text_xml("你好", 1)).status_code == 404
    assert count(session, InboundMessage) == 0


# ---------------------------------------------------------------- one turn, both modes

def test_plaintext_message_is_answered_by_the_dialogue(plain_client, session):
    text = reply_text(wechat_post(plain_client, text_xml("兰山区阳光城工地，老板欠我们8个人三万五", 1001)))
    assert text == R.QUESTIONS["name"]
    stored = session.scalar(select(InboundMessage))
    assert (stored.channel, stored.provider_message_id, stored.sender, stored.reply) == ("wechat", "1001", OPENID, text)


def test_safe_mode_request_is_decrypted_and_the_reply_encrypted(client, session):
    response = wechat_post(client, text_xml("兰山区阳光城工地，老板欠我们8个人三万五", 2001))
    assert "Content" not in parse_envelope(response.data)
    assert reply_text(response) == R.QUESTIONS["name"]
    assert count(session, InboundMessage) == 1


def test_a_whole_complaint_over_wechat_gets_a_ticket(client, session):
    for msg_id, said in enumerate(["兰山区阳光城工地，老板欠我们8个人三万五", "张三", "13812345678"], start=1):
        wechat_post(client, text_xml(said, msg_id))
    done = reply_text(wechat_post(client, text_xml("确认", 9)))
    complaint = session.scalar(select(Complaint))
    assert complaint.channel == "wechat" and complaint.ticket_no in done


def test_after_the_receipt_texts_photos_and_status_questions_go_on_the_same_case(any_client, session):
    for msg_id, said in enumerate(["兰山区阳光城工地，老板欠我们8个人三万五", "张三", "13812345678", "确认"], 1):
        wechat_post(any_client, text_xml(said, msg_id))
    complaint = session.scalar(select(Complaint))
    said = reply_text(wechat_post(any_client, text_xml("老板今天给了一半钱，还差一万七", 11)))
    assert said == R.FOLLOW_UP.format(ticket=complaint.ticket_no, department="处理部门")
    assert reply_text(wechat_post(any_client, text_xml("老板今天给了一半钱，还差一万七", 11))) == said  # a retry
    sent = reply_text(wechat_post(any_client, image_xml("media-iou", 12)))
    assert sent == R.FOLLOW_UP_PHOTOS.format(ticket=complaint.ticket_no, department="处理部门", count=1)
    assert complaint.ticket_no in reply_text(wechat_post(any_client, text_xml("到哪一步了", 13)))
    assert count(session, Complaint) == 1 and count(session, Attachment) == 1
    notes = session.scalars(select(Event.note).where(Event.kind == "worker_wrote")).all()
    assert notes == ["老板今天给了一半钱，还差一万七", None]


# ---------------------------------------------------------------- idempotency and concurrency

def test_a_retried_delivery_gets_the_same_reply_and_changes_nothing(client, session):
    first = wechat_post(client, text_xml("兰山区阳光城工地，老板欠我们8个人三万五", 3001))
    version = conversation(session).version
    again = wechat_post(client, text_xml("兰山区阳光城工地，老板欠我们8个人三万五", 3001))
    assert reply_text(again) == reply_text(first)
    assert count(session, InboundMessage) == 1
    assert conversation(session).version == version
    assert conversation(session).draft["texts"] == ["兰山区阳光城工地，老板欠我们8个人三万五"]


def test_another_sender_reusing_a_msgid_is_refused_and_gets_nothing(any_client, session):
    said = "兰山区阳光城工地，老板欠我们8个人三万五"
    answer = reply_text(wechat_post(any_client, text_xml(said, 3101)))
    stolen = wechat_post(any_client, text_xml(said, 3101, user="oAttacker"))
    assert stolen.status_code == 400 and answer.encode() not in stolen.data
    assert count(session, InboundMessage) == 1 and conversation(session, "oAttacker") is None
    assert reply_text(wechat_post(any_client, text_xml(said, 3101))) == answer


def test_three_messages_at_once_are_each_taken_once(app, session):
    said = ["兰山区阳光城工地", "老板欠我们8个人", "一共三万五"]
    results: list = []

    def send(i: int) -> None:
        results.append(wechat_post(app.test_client(), text_xml(said[i], 4000 + i)).status_code)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200, 200, 200]
    assert count(session, InboundMessage) == 3
    assert sorted(conversation(session).draft["texts"]) == sorted(said)


def test_a_repeated_event_is_taken_once(client, session, site):
    for _ in range(2):
        assert site.name in reply_text(wechat_post(client, event_xml("subscribe", f"qrscene_{site.public_token}")))
    assert count(session, InboundMessage) == 1


# ---------------------------------------------------------------- replays of logged requests

@pytest.mark.parametrize("offset", [-301, 301, -86400])
def test_a_stale_or_future_timestamp_is_refused(any_client, session, offset):
    query = signed_query(timestamp=int(time.time()) + offset)
    assert wechat_post(any_client, text_xml("你好", 3201), query).status_code == 403
    assert any_client.get("/wechat?" + urlencode({**query, "echostr": "e"})).status_code == 403
    assert count(session, InboundMessage) == 0


def test_a_logged_query_cannot_carry_another_body_in_safe_mode(client, session):
    """Proxy logs keep signature, timestamp, nonce and msg_signature; only the exact request can be replayed."""
    query = signed_query()
    envelope = WECHAT_CRYPTO.encrypt_message(text_xml("兰山区阳光城工地，老板欠我们8个人三万五", 3301), query["nonce"],
                                             query["timestamp"])
    logged = {**query, "encrypt_type": "aes", "msg_signature": parse_envelope(envelope)["MsgSignature"]}
    answer = reply_text(wechat_post(client, envelope, logged))
    forged = text_xml("确认", 3302, user="oAttacker")
    reencrypted = WECHAT_CRYPTO.encrypt_message(forged, query["nonce"], query["timestamp"])
    assert wechat_post(client, reencrypted, logged).status_code == 403
    assert wechat_post(client, forged, {**logged, "encrypt_type": "raw"}).status_code == 403
    plain = client.post("/wechat?" + urlencode(query), data=forged, content_type="text/xml")
    assert plain.status_code == 403 and b"encrypt_type=aes" in plain.data
    assert reply_text(wechat_post(client, envelope, logged)) == answer
    assert count(session, InboundMessage) == 1 and conversation(session, "oAttacker") is None


# ---------------------------------------------------------------- message kinds

def test_scanning_a_site_code_names_the_site(client, session, site):
    greeting = R.SITE_GREETING.format(site=site.name)
    assert reply_text(wechat_post(client, event_xml("subscribe", f"qrscene_{site.public_token}"))).startswith(greeting)
    assert reply_text(wechat_post(client, event_xml("SCAN", site.public_token,
                                                    create_time=1700000100))).startswith(greeting)
    assert conversation(session).draft["site_id"] == site.id


def test_plain_follow_is_welcomed_and_unfollow_is_not_answered(client, session):
    assert reply_text(wechat_post(client, event_xml("subscribe"))) == R.WELCOME
    assert wechat_post(client, event_xml("unsubscribe", create_time=1700000200)).data == b"success"


@pytest.mark.parametrize("key, expected", [("COMPLAIN", R.WELCOME), ("STATUS", R.ASK_TICKET)])
def test_menu_buttons(client, key, expected):
    assert reply_text(wechat_post(client, event_xml("CLICK", key))) == expected


def test_voice_uses_recognition_or_asks_to_type(client, session):
    voice = ("<xml><ToUserName>gh</ToUserName><FromUserName>{u}</FromUserName><CreateTime>1</CreateTime>"
             "<MsgType>voice</MsgType><MediaId>m1</MediaId><Format>amr</Format>{rec}<MsgId>{id}</MsgId></xml>")
    heard = reply_text(wechat_post(client, voice.format(u=OPENID, id=5001,
                                                        rec="<Recognition>兰山区阳光城工地，老板欠我们8个人三万五</Recognition>")))
    assert heard == R.QUESTIONS["name"]
    unheard = reply_text(wechat_post(client, voice.format(u="oOther", id=5002, rec="<Recognition></Recognition>")))
    assert "打字" in unheard and "12333" in unheard
    assert conversation(session, "oOther") is None


def image_xml(media_id: str, msg_id: int) -> str:
    return (f"<xml><ToUserName>gh</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>1</CreateTime>"
            f"<MsgType>image</MsgType><PicUrl>http://mmbiz.qpic.cn/abc</PicUrl><MediaId>{media_id}</MediaId>"
            f"<MsgId>{msg_id}</MsgId></xml>")


def test_an_image_is_recorded_as_evidence_without_fetching_it(client, session):
    assert "收到1张照片" in reply_text(wechat_post(client, image_xml("MEDIA-9", 6001)))
    photo = conversation(session).draft["photos"][0]
    assert (photo["filename"], photo["content_type"], photo["source"], photo["content"]) == \
        ("微信图片", MEDIA_TYPE, "wechat-media:MEDIA-9", "")
    assert session.scalar(select(InboundMessage)).payload["PicUrl"] == "http://mmbiz.qpic.cn/abc"


@pytest.mark.parametrize("content", ["", "😀😀👍"])
def test_empty_and_emoji_only_messages_get_the_welcome(client, content):
    assert reply_text(wechat_post(client, text_xml(content, 7001))) == R.WELCOME


def test_asking_for_a_human_alerts_the_dispatch_desk(client, session):
    assert "12333" in reply_text(wechat_post(client, text_xml("人工", 7101)))
    assert "请求人工帮助" in session.scalar(select(Outbox)).payload["text"]


# ---------------------------------------------------------------- bad input

def test_forged_signature_is_refused_and_nothing_stored(any_client, session):
    response = wechat_post(any_client, text_xml("你好", 8001), {**signed_query(), "signature": "f" * 40})
    assert response.status_code == 403
    assert count(session, InboundMessage) == 0 and count(session, Conversation) == 0


def test_forged_encrypted_message_is_refused(client, session):
    query = signed_query(encrypt_type="aes", msg_signature="0" * 40)
    envelope = WeChatCrypto(WECHAT_TOKEN, WECHAT_AES_KEY, WECHAT_APP_ID).encrypt_message(text_xml("你好", 8002),
                                                                                         query["nonce"],
                                                                                         query["timestamp"])
    assert wechat_post(client, envelope, query).status_code == 403
    assert count(session, InboundMessage) == 0


BILLION_LAUGHS = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "ha"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">'
                  '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><xml><ToUserName>gh</ToUserName>'
                  f'<FromUserName>{OPENID}</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType>'
                  '<Content>&c;</Content><MsgId>8003</MsgId></xml>')
EXTERNAL_ENTITY = ('<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml>'
                   f'<ToUserName>gh</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>1</CreateTime>'
                   '<MsgType>text</MsgType><Content>&e;</Content><MsgId>8004</MsgId></xml>')


@pytest.mark.parametrize("xml", [BILLION_LAUGHS, EXTERNAL_ENTITY, "<xml><MsgType>text", "not xml", ""])
def test_dtds_entities_and_malformed_xml_are_refused(any_client, session, xml):
    response = wechat_post(any_client, xml)
    assert response.status_code == 400
    assert count(session, InboundMessage) == 0 and count(session, Conversation) == 0


def message_xml(**elements: str | list[str] | None) -> str:
    """A signed-looking text message with some elements changed: a value is the element's content (raw XML,
    so it may nest), a list repeats the element, None leaves it out."""
    fields = {"ToUserName": "gh_account", "FromUserName": OPENID, "CreateTime": str(int(time.time())),
              "MsgType": "text", "Content": "兰山区阳光城工地", "MsgId": "9201", **elements}
    return "<xml>" + "".join(f"<{name}>{value}</{name}>" for name, values in fields.items() if values is not None
                             for value in (values if isinstance(values, list) else [values])) + "</xml>"


CLICK = {"MsgType": "event", "Event": "CLICK", "Content": None, "MsgId": None}


@pytest.mark.parametrize("xml", [
    pytest.param(message_xml(FromUserName=None), id="no sender"),
    pytest.param(message_xml(FromUserName="<a>oX</a>"), id="nested sender"),
    pytest.param(message_xml(FromUserName=[OPENID, "oOther"]), id="two senders"),
    pytest.param(message_xml(FromUserName="o" * 200), id="long sender"),
    pytest.param(message_xml(ToUserName="<a/>"), id="nested recipient"),
    pytest.param(message_xml(Content="<b>欠薪</b>"), id="nested text"),
    pytest.param(message_xml(Content=["欠薪", "三万五"]), id="two texts"),
    pytest.param(message_xml(MsgId=None), id="no MsgId"),
    pytest.param(message_xml(MsgId="1" * 200), id="long MsgId"),
    pytest.param(message_xml(MsgId="12ab"), id="MsgId not a number"),
    pytest.param(message_xml(MsgId=["1", "2"]), id="two MsgIds"),
    pytest.param(message_xml(MsgType="voice", Content=None, MediaId="m1", Recognition="<r>欠薪</r>"),
                 id="nested recognition"),
    pytest.param(message_xml(MsgType="image", Content=None, MediaId="m" * 200), id="long MediaId"),
    pytest.param(message_xml(**CLICK, EventKey="<k>COMPLAIN</k>"), id="nested EventKey"),
    pytest.param(message_xml(**CLICK, EventKey="COMPLAIN", CreateTime=None), id="event without CreateTime"),
    pytest.param(message_xml(**CLICK, EventKey="COMPLAIN", CreateTime="1" * 200), id="long CreateTime"),
])
def test_a_signed_but_malformed_message_is_refused_and_nothing_stored(any_client, session, xml):
    response = wechat_post(any_client, xml)
    assert response.status_code == 400, response.data
    assert count(session, InboundMessage) == 0 and count(session, Conversation) == 0


def test_an_over_long_text_is_kept_in_part_and_the_worker_told(any_client, session):
    response = wechat_post(any_client, text_xml("兰山区阳光城工地欠我们8个人三万五" + "欠" * 5000, 8006))
    assert response.status_code == 200
    assert reply_text(response).startswith(R.TRUNCATED) and R.QUESTIONS["name"] in reply_text(response)
    stored = session.scalar(select(InboundMessage))
    assert len(stored.payload["Content"]) == 4096
    assert conversation(session).draft["texts"][0].startswith("兰山区阳光城工地欠我们8个人三万五")


def test_two_menu_buttons_in_one_second_are_two_clicks(client, session):
    wechat_post(client, event_xml("CLICK", "COMPLAIN", create_time=1700000100))
    assert R.HUMAN.split("{")[0] in reply_text(wechat_post(client, event_xml("CLICK", "HUMAN", create_time=1700000100)))
    assert count(session, InboundMessage) == 2


def test_a_one_megabyte_body_is_too_large(client, session):
    response = wechat_post(client, text_xml("欠" * 350_000, 8005))
    assert response.status_code == 413
    assert count(session, InboundMessage) == 0


# ---------------------------------------------------------------- WeChat's API servers, faked at the HTTP boundary

class FakeWeChatServers:
    """Stands in for api.weixin.qq.com under `requests`: records calls (the JSON body, or a GET's query) and
    answers from a path -> answer table. An answer is JSON (a dict), a file ((content type, bytes)) or an
    exception to raise; a list of answers is given out in turn, its last one for every later call."""

    def __init__(self):
        self.calls: list[tuple[str, dict]] = []
        self.answers: dict[str, object] = {"/cgi-bin/token": {"access_token": "ACCESS", "expires_in": 7200}}

    def send(self, request, **_kwargs):
        url = urlparse(request.url)
        self.calls.append((url.path, json.loads(request.body) if request.body else dict(parse_qsl(url.query))))
        answer = self.answers.get(url.path, {"errcode": 0, "errmsg": "ok"})
        if isinstance(answer, list):
            answer = answer.pop(0) if len(answer) > 1 else answer[0]
        if isinstance(answer, Exception):
            raise answer
        content_type, body = answer if isinstance(answer, tuple) else ("application/json", json.dumps(answer).encode())
        response = requests.Response()
        response.status_code = 200
        response._content = body
        response.headers["Content-Type"] = content_type
        response.encoding, response.url, response.request = "utf-8", request.url, request
        return response


@pytest.fixture
def wechat_servers(monkeypatch):
    servers = FakeWeChatServers()
    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", lambda _adapter, request, **kw: servers.send(request))
    return servers


def sender(make_settings) -> WeChatSender:
    return WeChatSender(make_client(make_settings(wechat=WECHAT)), WECHAT.template_id)


def test_customer_service_text_is_sent(make_settings, wechat_servers):
    wechat_servers.answers["/cgi-bin/message/custom/send"] = {"errcode": 0, "errmsg": "ok"}
    result = sender(make_settings).send(f"wechat:{OPENID}", {"text": "已受理"})
    assert result.ok
    assert wechat_servers.calls[-1] == ("/cgi-bin/message/custom/send",
                                        {"touser": OPENID, "msgtype": "text", "text": {"content": "已受理"}})


def test_outside_the_48_hour_window_is_permanent_and_the_template_goes_out(make_settings, wechat_servers):
    wechat_servers.answers["/cgi-bin/message/custom/send"] = {"errcode": 45015, "errmsg": "response out of time limit"}
    wechat_servers.answers["/cgi-bin/message/template/send"] = {"errcode": 0, "errmsg": "ok", "msgid": 42}
    late = sender(make_settings).send(f"wechat:{OPENID}", {"text": "已受理"})
    assert (late.ok, late.permanent) == (False, True) and "45015" in late.error
    template = sender(make_settings).send(f"wechat-template:{OPENID}", {"text": "已受理"})
    assert (template.ok, template.provider_id) == (True, "42")
    assert wechat_servers.calls[-1][1]["template_id"] == "TEMPLATE-1"
    assert wechat_servers.calls[-1][1]["data"] == {"content": {"value": "已受理"}}


def test_a_busy_server_is_retried_later(make_settings, wechat_servers):
    wechat_servers.answers["/cgi-bin/message/custom/send"] = {"errcode": -1, "errmsg": "system busy"}
    result = sender(make_settings).send(f"wechat:{OPENID}", {"text": "x"})
    assert (result.ok, result.permanent) == (False, False)


def test_qrcodes_command_stores_each_sites_code(make_settings, session, site, wechat_servers):
    wechat_servers.answers["/cgi-bin/qrcode/create"] = {"ticket": "T+1", "url": "http://weixin.qq.com/q/abc"}
    app = create_app(make_settings(wechat=WECHAT))
    run = lambda *args: app.test_cli_runner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app))
    result = run("wechat", "qrcodes", "--county", "兰山区")
    assert result.exit_code == 0, result.output
    assert wechat_servers.calls[-1][1] == {"action_name": "QR_LIMIT_STR_SCENE",
                                           "action_info": {"scene": {"scene_str": site.public_token}}}
    session.expire_all()
    assert session.get(Site, site.id).wechat_qr_url == "http://weixin.qq.com/q/abc"
    calls = len(wechat_servers.calls)
    assert "已有 1 个" in run("wechat", "qrcodes", "--county", "371302").output
    assert len(wechat_servers.calls) == calls


def test_doctor_refuses_a_half_configured_account(make_settings):
    assert check_wechat(make_settings()).ok
    half = check_wechat(make_settings(wechat=WeChatSettings(token="t")))
    assert not half.ok and "QINGLING_WECHAT_APP_ID" in half.detail
    assert check_wechat(make_settings(wechat=WECHAT)).ok


# ---------------------------------------------------------------- photos fetched by the worker

IOU = jpeg()


def complaint_with_photo(client, session, media_id: str = "MEDIA-9") -> Attachment:
    """A WeChat conversation with one photo, confirmed: the complaint's attachment, not yet fetched."""
    wechat_post(client, image_xml(media_id, 6001))
    for msg_id, said in enumerate(["兰山区阳光城工地，老板欠我们8个人三万五", "张三", "13812345678", "确认"],
                                  start=6002):
        wechat_post(client, text_xml(said, msg_id))
    session.expire_all()
    return session.scalar(select(Attachment))


def worker_pass(app, now=None, **worker):
    settings = services(app).settings
    if worker:
        settings = replace(settings, worker=replace(WorkerSettings(), **worker))
    return run_once(services(app).sessions, {}, CAL, settings, now=now, fetchers=build_fetchers(settings))


def media_calls(servers) -> list[str]:
    return [query["media_id"] for path, query in servers.calls if path == "/cgi-bin/media/get"]


def reloaded(session, row):
    session.expire_all()
    return session.get(type(row), row.id)


def lost_events(session) -> list[Event]:
    return list(session.scalars(select(Event).where(Event.kind == EVIDENCE_LOST)))


def test_a_photo_sent_in_the_chat_is_fetched_by_the_worker_once(app, client, session, wechat_servers):
    pending = complaint_with_photo(client, session)
    assert (pending.content, pending.size, pending.source) == (b"", 0, "wechat-media:MEDIA-9")
    assert pending.fetch_next_at is not None and media_calls(wechat_servers) == []
    wechat_servers.answers["/cgi-bin/media/get"] = ("image/jpeg", IOU)
    assert worker_pass(app).fetched == 1
    photo = reloaded(session, pending)
    assert (photo.content, photo.size, photo.sha256, photo.content_type) == \
        (IOU, len(IOU), sha256(IOU).hexdigest(), "image/jpeg")
    assert (photo.fetch_next_at, photo.fetch_error, photo.fetch_attempts) == (None, None, 1)
    assert worker_pass(app, now=utcnow() + timedelta(days=1)).fetched == 0
    assert media_calls(wechat_servers) == ["MEDIA-9"]


def test_a_fetched_photo_loses_its_location_and_camera_data(app, client, session, wechat_servers):
    pending = complaint_with_photo(client, session)
    wechat_servers.answers["/cgi-bin/media/get"] = ("image/jpeg", phone_photo())
    assert worker_pass(app).fetched == 1
    photo = reloaded(session, pending)
    assert not Image.open(io.BytesIO(photo.content)).getexif() and b"HUAWEI" not in photo.content
    assert photo.sha256 == sha256(photo.content).hexdigest() and photo.size == len(photo.content)
    assert photo.original == phone_photo() and photo.original_sha256 == sha256(phone_photo()).hexdigest()
    assert photo.received_at is not None


def test_a_failing_download_is_retried_until_the_photo_comes(app, client, session, wechat_servers):
    pending = complaint_with_photo(client, session)
    wechat_servers.answers["/cgi-bin/media/get"] = [{"errcode": -1, "errmsg": "system busy"},
                                                    requests.exceptions.ReadTimeout("read timed out"),
                                                    ("image/jpeg", IOU)]
    now = utcnow()
    assert worker_pass(app, now).fetched == 0
    busy = reloaded(session, pending)
    assert busy.fetch_attempts == 1 and "-1" in busy.fetch_error and busy.fetch_next_at > now
    assert worker_pass(app, now).fetched == 0 and len(media_calls(wechat_servers)) == 1  # backing off
    assert worker_pass(app, now + timedelta(hours=2)).fetched == 0
    assert "ReadTimeout" in reloaded(session, pending).fetch_error
    assert worker_pass(app, now + timedelta(hours=4)).fetched == 1
    photo = reloaded(session, pending)
    assert (photo.content, photo.fetch_attempts, photo.fetch_error) == (IOU, 3, None)
    assert lost_events(session) == []


def test_an_expired_media_id_is_lost_at_once_and_staff_are_told(app, client, session, wechat_servers):
    pending = complaint_with_photo(client, session, media_id="EXPIRED")
    wechat_servers.answers["/cgi-bin/media/get"] = {"errcode": 40007, "errmsg": "invalid media_id"}
    assert worker_pass(app).fetched == 0
    lost = reloaded(session, pending)
    assert (lost.content, lost.fetch_next_at, lost.fetch_attempts) == (b"", None, 1) and "40007" in lost.fetch_error
    [event] = lost_events(session)
    assert event.complaint_id == lost.complaint_id and "重新发送" in event.note
    assert event.data["attachment_id"] == lost.id
    worker_pass(app, now=utcnow() + timedelta(days=1))
    assert media_calls(wechat_servers) == ["EXPIRED"]


def test_an_error_page_instead_of_a_photo_is_refused(app, client, session, wechat_servers):
    pending = complaint_with_photo(client, session)
    wechat_servers.answers["/cgi-bin/media/get"] = ("text/html", b"<html><body>502 Bad Gateway</body></html>")
    assert worker_pass(app).fetched == 0
    refused = reloaded(session, pending)
    assert (refused.content, refused.fetch_next_at) == (b"", None) and "不是照片" in refused.fetch_error
    assert len(lost_events(session)) == 1


def test_a_photo_that_never_comes_is_lost_after_the_last_attempt(app, client, session, wechat_servers):
    pending = complaint_with_photo(client, session)
    wechat_servers.answers["/cgi-bin/media/get"] = {"errcode": 45009, "errmsg": "api freq out of limit"}
    now = utcnow()
    worker_pass(app, now, max_attempts=2)
    assert lost_events(session) == []
    worker_pass(app, now + timedelta(hours=2), max_attempts=2)
    lost = reloaded(session, pending)
    assert (lost.fetch_attempts, lost.fetch_next_at) == (2, None) and "45009" in lost.fetch_error
    assert len(lost_events(session)) == 1


def test_menu_command_shows_what_it_would_push_then_pushes_it(make_settings, wechat_servers):
    app = create_app(make_settings(wechat=WECHAT))
    run = lambda *args: app.test_cli_runner().invoke(main, list(args), obj=ScriptInfo(create_app=lambda: app))  # noqa: E731
    dry = run("wechat", "menu", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "我要投诉" in dry.output and "https://qingling.test/rights" in dry.output and "没有推送" in dry.output
    assert [path for path, _ in wechat_servers.calls] == []
    done = run("wechat", "menu")
    assert done.exit_code == 0, done.output
    (path, body), = [(p, b) for p, b in wechat_servers.calls if p == "/cgi-bin/menu/create"]
    assert [(b["type"], b["name"]) for b in body["button"]] == [("click", "我要投诉"), ("click", "查询进度"),
                                                                ("view", "维权须知")]
    assert {b.get("key") for b in body["button"][:2]} == {"COMPLAIN", "STATUS"}
    wechat_servers.answers["/cgi-bin/menu/create"] = {"errcode": 40018, "errmsg": "invalid button name size"}
    failed = run("wechat", "menu")
    assert failed.exit_code != 0 and "40018" in failed.output
    assert create_app(make_settings()).test_client().get("/rights").status_code == 200
