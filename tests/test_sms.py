"""SMS through Twilio, against the twilio library itself: requests signed with its RequestValidator, replies read
as TwiML, and Twilio's servers replaced by a `twilio.http.HttpClient` that records requests."""
from __future__ import annotations

import json
import logging
import threading

import pytest
import requests
from sqlalchemy import event, select
from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator

from handlers import create_app
from handlers.channels.twilio_sms import MEDIA_SCHEME, TwilioMediaFetcher, make_sender
from handlers.cli.doctor import check_sms
from handlers.runtime import services
from intake.conversation import replies as R
from intake.conversation.inbound import STATUS_CHANNEL
from intake.foundation.encryption import identity
from intake.foundation.models import Attachment, Complaint, Conversation, InboundMessage
from intake.foundation.settings import SmsSettings, TwilioSettings
from intake.runtime.worker import run_once
from tests.helpers import (
    CAL,
    PUBLIC_BASE_URL,
    TWILIO,
    TWILIO_AUTH_TOKEN,
    TWILIO_PHONE,
    count,
    jpeg,
    routed,
    signed_post,
    text_in,
    twiml_reply,
)


@pytest.fixture
def app(configured_app):
    """The suite's app with Twilio configured."""
    return configured_app(twilio=TWILIO)


# ---------------------------------------------------------------- inbound texts

def test_a_signed_text_is_answered_with_twiml(client, session):
    assert twiml_reply(text_in(client, "兰山区阳光城工地，老板欠我们8个人三万五", "SM1")) == R.QUESTIONS["name"]
    stored = session.scalar(select(InboundMessage))
    assert (stored.channel, stored.provider_message_id, stored.sender) == ("sms", "twilio:SM1", identity("13812345678"))


# A first text from a new sender, in statements: on SQLite BEGIN IMMEDIATE, the delivery, the conversation's
# upsert, the look-up of the sender's cases, the conversation's outcome and the reply stored with the delivery; on
# PostgreSQL the delivery, the upsert and the sender's open cases are one statement, and the outcome and the reply
# another. Pinned so that round trips cannot creep back into the busiest request (a first turn took 6 on SQLite
# and 5 on PostgreSQL, each through the ORM, at a quarter of a bare webhook's throughput).
FIRST_TURN_STATEMENTS = {"sqlite": 6, "postgresql": 2}


def test_a_first_text_costs_a_fixed_few_statements(app, client, session):
    claim = "兰山区阳光城工地，老板欠我们8个人三万五"
    text_in(client, claim, "SM-warm", sender="+8613900000001")  # the site and county lists are read once, then kept
    engine, seen = services(app).engine, []

    def note(_connection, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        reply = twiml_reply(text_in(client, claim, "SM-first", sender="+8613900000002"))
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert reply == R.QUESTIONS["name"]
    assert count(session, InboundMessage) == 2 and count(session, Conversation) == 2
    assert len(seen) == FIRST_TURN_STATEMENTS[session.get_bind().dialect.name], seen


def test_a_first_text_from_the_number_of_an_open_case_is_news_on_that_case(app, client, session, settings,
                                                                         lanshan_site):
    """The number filed a case on the web form; its first text opens a new SMS conversation, whose open cases are
    read with it (on PostgreSQL by the same statement): the text goes on the case, it is not a new complaint."""
    case = routed(app, session, settings, lanshan_site, phone=TWILIO_PHONE.removeprefix("+86"))
    news = R.FOLLOW_UP.format(ticket=case.ticket_no, department=case.department.name)
    assert twiml_reply(text_in(client, "老板今天又说下个月才发", "SM-news")) == news
    assert twiml_reply(text_in(client, "工地已经停工了", "SM-news-2")) == news  # the conversation's second turn
    assert count(session, Complaint) == 1 and count(session, Conversation) == 1


def test_forged_signature_is_refused_and_nothing_stored(client, session):
    params = {"MessageSid": "SM2", "From": TWILIO_PHONE, "Body": "你好"}
    forged = signed_post(client, "/sms/twilio", params, token="not-the-auth-token")
    assert forged.status_code == 403
    assert b"X-Twilio-Signature does not match" in forged.data
    missing = client.post("/sms/twilio", data=params)
    assert missing.status_code == 403
    assert count(session, InboundMessage) == 0 and count(session, Conversation) == 0


def test_the_signature_is_checked_against_the_public_url_not_the_proxys(client, session):
    internal = signed_post(client, "/sms/twilio", {"MessageSid": "SM3", "From": TWILIO_PHONE, "Body": "你好"},
                           url="http://localhost/sms/twilio")
    assert internal.status_code == 403
    assert count(session, InboundMessage) == 0


def test_channel_off_means_no_such_route(make_settings, session):
    client = create_app(make_settings()).test_client()
    assert text_in(client, "你好", "SM4").status_code == 404
    other = create_app(make_settings(twilio=TWILIO, sms=SmsSettings(provider="aliyun"))).test_client()
    assert text_in(other, "你好", "SM4").status_code == 404
    assert count(session, InboundMessage) == 0


def test_a_retried_delivery_gets_the_same_reply_and_the_dialogue_runs_once(client, session):
    first = text_in(client, "兰山区阳光城工地，老板欠我们8个人三万五", "SM5")
    again = text_in(client, "兰山区阳光城工地，老板欠我们8个人三万五", "SM5")
    assert again.data == first.data
    assert count(session, InboundMessage) == 1
    conversation = session.scalar(select(Conversation))
    assert conversation.version == 1 and len(conversation.draft["texts"]) == 1


@pytest.mark.parametrize("body", ["", "😀🙏"])
def test_empty_and_emoji_only_texts_get_the_welcome(client, body):
    assert twiml_reply(text_in(client, body, "SM6")) == R.WELCOME


def test_three_texts_at_once_are_each_taken_once(app, session):
    said = ["兰山区阳光城工地", "老板欠我们8个人", "一共三万五"]
    codes: list[int] = []
    threads = [threading.Thread(target=lambda i=i: codes.append(text_in(app.test_client(), said[i], f"SM7{i}")
                                                                .status_code)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [200, 200, 200]
    assert count(session, InboundMessage) == 3
    assert sorted(session.scalar(select(Conversation)).draft["texts"]) == sorted(said)


def test_two_workers_on_one_phone_file_two_complaints(client, session):
    for sid, (said) in enumerate(["兰山区阳光城工地，老板欠我8000元，就我一个", "张三", "确认"]):
        last = twiml_reply(text_in(client, said, f"SM8{sid}"))
    assert R.SUBMITTED.split("{")[0] in last
    for sid, said in enumerate(["河东区凤凰城工地欠我两万，就我一个", "李四", "确认"]):
        last = twiml_reply(text_in(client, said, f"SM9{sid}"))
    complaints = session.scalars(select(Complaint).order_by(Complaint.id)).all()
    assert len(complaints) == 2
    assert complaints[0].ticket_no != complaints[1].ticket_no
    assert [c.complainant.name for c in complaints] == ["张三", "李四"]
    assert {c.complainant.phone for c in complaints} == {"13812345678"}


def test_a_message_sid_from_another_number_is_refused_and_gets_nothing(client, session):
    answer = twiml_reply(text_in(client, "兰山区阳光城工地，老板欠我们8个人三万五", "SM11"))
    stolen = text_in(client, "你好", "SM11", sender="+8613900000000")
    assert stolen.status_code == 400 and answer not in stolen.get_data(as_text=True)
    assert count(session, InboundMessage) == 1 and count(session, Conversation) == 1


def test_control_characters_are_taken_out_before_anything_is_stored(client, session):
    """A NUL cannot be stored by PostgreSQL: kept in the draft, it would fail every later turn."""
    for sid, said in enumerate(["兰山区阳光城工地\x00，老板欠我8000元，\x1b就我一个", "张\x00三\x07", "确认"]):
        last = twiml_reply(text_in(client, said, f"SM12{sid}"))
    assert R.SUBMITTED.split("{")[0] in last
    assert session.scalar(select(Complaint)).complainant.name == "张三"
    stored = [m.payload["text"] for m in session.scalars(select(InboundMessage).order_by(InboundMessage.id))]
    assert stored == ["兰山区阳光城工地，老板欠我8000元，就我一个", "张三", "确认"]


def test_a_query_string_that_is_not_utf8_fails_the_signature_check(client, session):
    params = {"MessageSid": "SM13", "From": TWILIO_PHONE, "Body": "你好"}
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(PUBLIC_BASE_URL + "/sms/twilio", params)
    response = client.post("/sms/twilio", data=params, headers={"X-Twilio-Signature": signature},
                           environ_overrides={"QUERY_STRING": "x=\xff"})  # WSGI's latin-1: the raw byte 0xff
    assert response.status_code == 403
    assert count(session, InboundMessage) == 0


def test_a_one_megabyte_body_is_too_large(client, session):
    assert text_in(client, "欠" * 350_000, "SM10").status_code == 413
    assert count(session, InboundMessage) == 0


# ---------------------------------------------------------------- delivery reports

def report(client, sid: str, status: str):
    return signed_post(client, "/sms/twilio/status", {"MessageSid": sid, "MessageStatus": status,
                                                      "AccountSid": TWILIO.account_sid})


def stored_status(session, sid: str) -> str:
    session.expire_all()
    return session.scalar(select(InboundMessage).where(InboundMessage.channel == STATUS_CHANNEL,
                                                       InboundMessage.provider_message_id == f"twilio:{sid}")
                          ).payload["status"]


def test_delivery_reports_never_go_back(client, session):
    for status in ["queued", "delivered", "sent", "delivered"]:
        assert report(client, "SMout1", status).status_code == 204
    assert stored_status(session, "SMout1") == "delivered"
    report(client, "SMout2", "sent")
    report(client, "SMout2", "undelivered")
    assert stored_status(session, "SMout2") == "undelivered"
    assert count(session, InboundMessage, channel=STATUS_CHANNEL) == 2


def test_a_forged_delivery_report_is_refused(client, session):
    forged = signed_post(client, "/sms/twilio/status", {"MessageSid": "SMx", "MessageStatus": "delivered"},
                         token="wrong")
    assert forged.status_code == 403
    assert count(session, InboundMessage) == 0


# ---------------------------------------------------------------- outbound, Twilio's servers faked

class FakeTwilioServers(HttpClient):
    """Replaces api.twilio.com: records each request and answers with the next canned (status, JSON) pair."""

    def __init__(self, *answers: tuple[int, dict]):
        super().__init__(logging.getLogger("fake-twilio"), is_async=False)
        self.answers = list(answers)
        self.requests: list[dict] = []

    def request(self, method, uri, params=None, data=None, headers=None, auth=None, timeout=None,
                allow_redirects=False):
        self.requests.append({"method": method, "uri": uri, "data": dict(data or {})})
        status, body = self.answers.pop(0)
        return Response(status, json.dumps(body))


def test_a_text_is_sent_through_twilio(make_settings):
    servers = FakeTwilioServers((201, {"sid": "SMsent1", "status": "queued"}))
    result = make_sender(make_settings(twilio=TWILIO), servers).send("sms:13812345678", {"text": "已受理"})
    assert (result.ok, result.provider_id) == (True, "SMsent1")
    sent = servers.requests[0]
    assert sent["method"] == "POST" and sent["uri"].endswith(f"/Accounts/{TWILIO.account_sid}/Messages.json")
    assert sent["data"]["To"] == "+8613812345678" and sent["data"]["Body"] == "已受理"
    assert sent["data"]["StatusCallback"] == f"{PUBLIC_BASE_URL}/sms/twilio/status"


def test_an_opted_out_number_is_a_permanent_failure(make_settings):
    servers = FakeTwilioServers((400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient",
                                       "status": 400}))
    result = make_sender(make_settings(twilio=TWILIO), servers).send("sms:13812345678", {"text": "x"})
    assert (result.ok, result.permanent) == (False, True)
    assert "21610" in result.error and "opted out" in result.error


def test_a_server_error_is_retried_later(make_settings):
    servers = FakeTwilioServers((503, {"code": 20503, "message": "Service unavailable", "status": 503}))
    result = make_sender(make_settings(twilio=TWILIO), servers).send("sms:+8613812345678", {"text": "x"})
    assert (result.ok, result.permanent) == (False, False)


def test_doctor_refuses_a_half_configured_gateway(make_settings):
    assert check_sms(make_settings()).ok
    half = check_sms(make_settings(twilio=TwilioSettings(auth_token="t")))
    assert not half.ok and "QINGLING_TWILIO_ACCOUNT_SID" in half.detail
    assert check_sms(make_settings(twilio=TWILIO)).ok
    assert not check_sms(make_settings(sms=SmsSettings(provider="aliyun"))).ok


# ---------------------------------------------------------------- MMS pictures

MEDIA_PATH = f"/2010-04-01/Accounts/{TWILIO.account_sid}/Messages/MM{'1' * 32}/Media/ME{'2' * 32}"


class TwilioMediaStore(requests.adapters.BaseAdapter):
    """api.twilio.com's media URLs at the HTTP boundary of `requests`: a JPEG for the account's credentials."""

    def __init__(self, content: bytes):
        super().__init__()
        self.content, self.seen = content, []

    def send(self, request, **kwargs):
        self.seen.append((request.url, request.headers.get("Authorization")))
        response = requests.Response()
        response.status_code, response._content, response.url, response.request = 200, self.content, request.url, request
        response.headers["Content-Type"] = "image/jpeg"
        return response

    def close(self):
        pass


def mms_in(client, sid: str, body: str = "", url: str = "https://api.twilio.com" + MEDIA_PATH,
           kind: str = "image/jpeg"):
    return signed_post(client, "/sms/twilio", {"MessageSid": sid, "From": TWILIO_PHONE, "To": TWILIO.from_number,
                                               "Body": body, "NumMedia": "1", "MediaUrl0": url,
                                               "MediaContentType0": kind})


def test_an_mms_picture_after_the_receipt_is_evidence_on_the_case_fetched_by_the_worker(app, client, session):
    for sid, said in enumerate(["兰山区阳光城工地，老板欠我8000元，就我一个", "张三", "确认"]):
        text_in(client, said, f"SM7{sid}")
    [complaint] = session.scalars(select(Complaint)).all()
    reply = twiml_reply(mms_in(client, "MM1"))  # an empty body with a picture is a picture
    assert reply == R.FOLLOW_UP_PHOTOS.format(ticket=complaint.ticket_no, department="处理部门", count=1)
    assert twiml_reply(mms_in(client, "MM1")) == reply  # Twilio's retry: one entry, one photo
    [row] = session.scalars(select(Attachment)).all()
    assert row.source == f"twilio-media:{MEDIA_PATH}" and row.size == 0
    store, http = TwilioMediaStore(jpeg()), requests.Session()
    http.mount("https://api.twilio.com/", store)
    fetcher = TwilioMediaFetcher(TWILIO.account_sid, TWILIO_AUTH_TOKEN, http)
    run_once(services(app).sessions, {}, CAL, services(app).settings, fetchers={MEDIA_SCHEME: fetcher})
    session.expire_all()
    [row] = session.scalars(select(Attachment)).all()
    assert row.size > 0 and row.content_type == "image/jpeg" and row.complaint_id == complaint.id
    assert store.seen[0][0] == "https://api.twilio.com" + MEDIA_PATH and store.seen[0][1].startswith("Basic ")
    assert count(session, Complaint) == 1


def test_a_media_url_off_twilio_is_refused_and_other_media_are_no_photos(client, session):
    assert mms_in(client, "MM2", url="https://evil.example" + MEDIA_PATH).status_code == 400
    assert count(session, InboundMessage) == 0
    assert twiml_reply(mms_in(client, "MM3", kind="text/vcard")) == R.WELCOME
    assert count(session, Attachment) == 0
