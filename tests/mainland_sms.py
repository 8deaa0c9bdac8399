"""What every mainland SMS gateway must do, written once and run by tests/test_sms_aliyun.py and
tests/test_sms_tencent.py, each of which supplies a `provider` fixture (a `Provider`) and adds its own cases.

The provider's servers are a real HTTP server on 127.0.0.1 (`FakeApi`) that the official SDK is pointed at
through `[aliyun] endpoint` / `[tencent] endpoint`; callbacks are posted in the provider's documented JSON.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass, replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest
from sqlalchemy import select
from test_sms import count
from test_timers import CAL

from handlers.cli.doctor import check_sms
from handlers.cli.worker import senders_for
from handlers.runtime import services
from intake.case.notices import tell_worker
from intake.conversation import replies as R
from intake.conversation.inbound import STATUS_CHANNEL
from intake.foundation.models import Complaint, InboundMessage, Outbox, utcnow
from intake.foundation.settings import Settings, SmsSettings
from intake.foundation.texts import WORKER_TEXT
from intake.runtime.worker import run_once

SECRET = "callback-secret-0123456789"
PHONE = "13812345678"
REPLY_TEMPLATE, NOTICE_TEMPLATE, RESOLVED_TEMPLATE = "1000001", "1000002", "1000003"
TEMPLATES = (("reply", REPLY_TEMPLATE), ("notice", NOTICE_TEMPLATE), ("worker_resolved", RESOLVED_TEMPLATE))


@dataclass(frozen=True)
class Sent:
    """One template message as the provider's API received it."""

    phone: str
    template: str
    values: list[str]
    sign: str

    @property
    def text(self) -> str:
        return "".join(self.values)


@dataclass(frozen=True)
class Provider:
    """A gateway as the shared tests see it: how to configure it, how it pushes, how its API answers."""

    name: str
    settings: Callable[[str], dict[str, Any]]  # API base URL -> settings sections for make_settings
    uplink: Callable[[str, str, int], dict]  # phone, text, n -> one pushed reply
    report: Callable[[str, bool], dict]  # provider message id, delivered -> one pushed delivery report
    ack: dict[str, Any]  # the answer the provider expects
    accepted: Callable[[str], tuple[int, dict]]  # provider message id -> the API's answer to a good send
    refused: Callable[[str], tuple[int, dict]]  # provider error code -> the API's answer
    unreachable_number_code: str  # an error code for a number that no retry can reach
    read_sent: Callable[[dict], Sent]  # a recorded API request -> what was sent
    make_sender: Callable[[Settings], Any]  # the module's outbox sender
    signature: str  # how the SDK's Authorization header starts: it signed with the configured key


class FakeApi:
    """The provider's API servers: record each request, answer with the next canned (status, JSON) answer or,
    when none is left, with `default(n)` for the n-th request."""

    def __init__(self, default: Callable[[int], tuple[int, dict]]):
        self.answers: list[tuple[int, dict]] = []
        self.requests: list[dict] = []
        self.default = default
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {key.lower(): value for key, value in self.headers.items()}
                api.requests.append({"path": self.path, "headers": headers, "body": body})
                status, answer = api.answers.pop(0) if api.answers else api.default(len(api.requests))
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def api(provider):
    fake = FakeApi(lambda n: provider.accepted(f"{provider.name}-msg-{n}"))
    yield fake
    fake.close()


@pytest.fixture
def sms_app(configured_app, provider, api):
    """The suite's app with this provider configured against the fake API."""
    return configured_app(**provider.settings(api.url))


@pytest.fixture
def sms_client(sms_app):
    return sms_app.test_client()


def push(client, provider: Provider, items: Any, report: bool = False, secret: str = SECRET, **kwargs):
    path = f"/sms/{provider.name}/{secret}" + ("/report" if report else "")
    return client.post(path, data=items if isinstance(items, bytes | str) else json.dumps(items, ensure_ascii=False),
                       content_type="application/json", **kwargs)


def say(client, provider: Provider, *texts: str, start: int = 1, phone: str = PHONE):
    """The worker texts each of `texts`, one push each; every push must be acknowledged as the provider expects."""
    for n, text in enumerate(texts, start):
        response = push(client, provider, [provider.uplink(phone, text, n)])
        assert response.status_code == 200, response.data
        assert response.get_json() == provider.ack


def deliver(app, now=None):
    """One worker pass, with the senders the real worker builds."""
    settings: Settings = services(app).settings
    return run_once(services(app).sessions, senders_for(settings), CAL, settings, now=now or utcnow())


def sent_to(api: FakeApi, provider: Provider, phone: str = PHONE) -> list[Sent]:
    return [s for s in map(provider.read_sent, api.requests) if s.phone == phone]


CONVERSATION = ("兰山区阳光城工地，老板欠我们8个人三万五", "张三", "确认")


# ---------------------------------------------------------------- a worker's conversation

def test_a_whole_conversation_goes_out_as_templated_replies(sms_client, sms_app, api, provider, session):
    say(sms_client, provider, *CONVERSATION)
    complaint = session.scalar(select(Complaint))
    assert complaint is not None and complaint.complainant.phone == PHONE and complaint.workers == 8
    assert api.requests == []  # nothing is sent on the callback's request path
    deliver(sms_app)
    replies = sent_to(api, provider)
    assert [s.template for s in replies] == [REPLY_TEMPLATE] * 3
    assert replies[0].text == R.QUESTIONS["name"]
    assert replies[-1].text.startswith(R.SUBMITTED.split("{")[0]) and complaint.ticket_no in replies[-1].text
    assert {s.sign for s in replies} == {"清零"}


def test_a_replayed_push_files_nothing_twice_and_answers_once(sms_client, sms_app, api, provider, session):
    say(sms_client, provider, *CONVERSATION)
    say(sms_client, provider, *CONVERSATION)  # the provider pushes the same items again
    assert count(session, Complaint) == 1
    assert count(session, InboundMessage, channel="sms") == 3
    deliver(sms_app)
    assert len(sent_to(api, provider)) == 3


def test_a_bad_item_in_a_batch_costs_only_itself(sms_client, sms_app, api, provider, session):
    good = [provider.uplink(PHONE, "兰山区阳光城工地", 1), provider.uplink("13900000000", "你好", 2)]
    response = push(sms_client, provider, [good[0], {"phone_number": None, "mobile": 5}, "not an item", good[1]])
    assert response.status_code == 200
    assert response.get_json() == {**provider.ack, "refused": [1, 2]}
    assert count(session, InboundMessage, channel="sms") == 2
    deliver(sms_app)
    assert [s.text for s in sent_to(api, provider, "13900000000")] == [R.WELCOME]
    assert len(sent_to(api, provider)) == 1


def test_an_outage_is_retried_until_the_reply_goes_out(sms_client, sms_app, api, provider, session):
    say(sms_client, provider, "兰山区阳光城工地")
    api.answers = [(503, {"Code": "ServiceUnavailable", "Message": "down", "RequestId": "r1"})]
    start = utcnow()
    assert deliver(sms_app, start).failed == 1
    row = session.scalar(select(Outbox).where(Outbox.destination == f"sms:{PHONE}"))
    assert (row.state, row.attempts) == ("pending", 1)
    assert deliver(sms_app, start).sent == 0  # backing off
    assert deliver(sms_app, start + timedelta(hours=2)).sent >= 1
    answer = session.scalar(select(InboundMessage.reply))
    assert [s.text for s in sent_to(api, provider)] == [answer] * 2  # the failed try, then the good one
    session.expire_all()
    assert session.get(Outbox, row.id).state == "sent"


def test_a_number_no_retry_can_reach_is_dead_lettered_to_the_dispatch_desk(sms_client, sms_app, api, provider, session):
    say(sms_client, provider, "你好")
    api.answers = [provider.refused(provider.unreachable_number_code)]
    deliver(sms_app)
    row = session.scalar(select(Outbox).where(Outbox.destination == f"sms:{PHONE}"))
    assert row.state == "dead" and provider.unreachable_number_code in row.last_error
    alerts = session.scalars(select(Outbox).where(Outbox.destination.startswith("department:"))).all()
    assert any(a.payload["kind"] == "dead_letter" for a in alerts)


def test_the_sdk_sends_the_template_signed_with_the_accounts_key(api, provider, make_settings):
    sender = provider.make_sender(make_settings(**provider.settings(api.url)))
    result = sender.send("sms:+8613812345678", {"kind": "reply", "text": "【清零】请问您叫什么名字？"})
    assert (result.ok, result.provider_id) == (True, f"{provider.name}-msg-1")
    assert provider.read_sent(api.requests[0]) == Sent(PHONE, REPLY_TEMPLATE, ["请问您叫什么名字？", "", ""], "清零")
    assert api.requests[0]["headers"]["authorization"].startswith(provider.signature)


# ---------------------------------------------------------------- notices through templates

def test_the_workers_phone_receives_every_notice_through_templates(sms_client, sms_app, api, provider, session):
    say(sms_client, provider, *CONVERSATION)
    complaint = session.scalar(select(Complaint))
    facts = {"reason": "不属于欠薪问题", "outcome": "已责令施工单位足额支付8人工资共35000元",
             "needed": "欠条照片", "confirm_url": "https://qingling.test/c/eyJ0IjoiMjUwMTAxMTIzNDU2In0.abcdef"}
    expected = {}
    for kind in WORKER_TEXT:
        row = tell_worker(session, services(sms_app).settings, complaint, kind, utcnow(), **facts)
        expected[f"worker_{kind}"] = row.payload["text"].removeprefix("【清零】")
    session.commit()
    deliver(sms_app)
    sent = {f"{provider.name}-msg-{n}": provider.read_sent(r) for n, r in enumerate(api.requests, 1)}
    session.expire_all()
    rows = session.scalars(select(Outbox).where(Outbox.destination == f"sms:{PHONE}").order_by(Outbox.id)).all()
    assert {r.state for r in rows} == {"sent"}
    for kind, text in expected.items():
        pieces = [sent[r.provider_id] for r in rows if r.payload["kind"] == kind]
        assert {p.template for p in pieces} == {RESOLVED_TEMPLATE if kind == "worker_resolved" else NOTICE_TEMPLATE}
        assert _joined([p.text for p in pieces]) == text, kind
        assert all(len(v) <= 35 for p in pieces for v in p.values)
    assert len([r for r in rows if r.payload["kind"] == "worker_resolved"]) > 1  # the long one went in pieces


def _joined(texts: list[str]) -> str:
    """The pieces of one text put back together: alone, or marked (1/n) ... (n/n)."""
    if len(texts) == 1:
        return texts[0]
    marked = sorted((int(t[1:t.index("/")]), t[t.index(")") + 1:]) for t in texts)
    assert [i for i, _ in marked] == list(range(1, len(texts) + 1)) and all(f"/{len(texts)})" in t for t in texts)
    return "".join(piece for _, piece in marked)


def test_a_text_without_a_template_is_dead_lettered_not_dropped(configured_app, provider, api, session):
    sections = provider.settings(api.url)
    sections["sms"] = replace(sections["sms"], templates=(("reply", REPLY_TEMPLATE),))
    app = configured_app(**sections)
    say(app.test_client(), provider, *CONVERSATION)
    tell_worker(session, services(app).settings, session.scalar(select(Complaint)), "accepted", utcnow())
    session.commit()
    deliver(app)
    session.expire_all()
    notice, = [r for r in session.scalars(select(Outbox)) if r.payload["kind"] == "worker_accepted"]
    assert notice.state == "dead" and "no SMS template" in notice.last_error
    assert [s.template for s in sent_to(api, provider)] == [REPLY_TEMPLATE] * 3
    alerts = [r for r in session.scalars(select(Outbox)) if r.payload["kind"] == "dead_letter"]
    assert alerts and all(a.payload["outbox_id"] == notice.id for a in alerts)


# ---------------------------------------------------------------- delivery reports

def test_delivery_reports_are_kept_item_by_item_and_never_go_back(sms_client, sms_app, api, provider, session):
    say(sms_client, provider, "你好")
    deliver(sms_app)
    sent_id = session.scalar(select(Outbox.provider_id).where(Outbox.destination == f"sms:{PHONE}"))
    assert sent_id
    response = push(sms_client, provider, [provider.report(sent_id, True), {"no": "id"},
                                       provider.report("other-id", False)], report=True)
    assert response.status_code == 200 and response.get_json() == {**provider.ack, "refused": [1]}
    push(sms_client, provider, [provider.report(sent_id, False)], report=True)  # a late, contradicting report

    def status(pid):
        session.expire_all()
        key = f"{provider.name}:{pid}"
        return session.scalar(select(InboundMessage).where(InboundMessage.channel == STATUS_CHANNEL,
                                                           InboundMessage.provider_message_id == key))

    assert status(sent_id).payload["status"] == "delivered"
    assert status("other-id").payload["status"] == "undelivered" and status("other-id").payload["error"]


# ---------------------------------------------------------------- refused callbacks

@pytest.mark.parametrize("secret", ["wrong-secret-0123456789", SECRET[:-1], ""])
def test_a_forged_or_missing_secret_is_refused_and_nothing_stored(sms_client, provider, session, secret):
    for report in (False, True):
        path = f"/sms/{provider.name}" + (f"/{secret}" if secret else "") + ("/report" if report else "")
        item = provider.report("x", True) if report else provider.uplink(PHONE, "你好", 1)
        response = sms_client.post(path, json=[item])
        assert response.status_code == 403, path
    assert count(session, InboundMessage) == 0


def test_the_address_allow_list_is_applied(configured_app, provider, api, session):
    sections = provider.settings(api.url)
    sections["sms"] = replace(sections["sms"], callback_allowed_ips=("100.64.0.0/10", "203.0.113.7"))
    client = configured_app(**sections).test_client()
    item = [provider.uplink(PHONE, "你好", 1)]
    assert push(client, provider, item).status_code == 403  # the test client comes from 127.0.0.1
    assert count(session, InboundMessage) == 0
    assert push(client, provider, item, environ_overrides={"REMOTE_ADDR": "100.100.1.2"}).status_code == 200
    assert count(session, InboundMessage) == 1


@pytest.mark.parametrize("body, code", [(b"{not json", 400), (b"\xff\xfe", 400), (b"42", 400),
                                        (json.dumps([{"content": "欠" * 40_000}]).encode(), 413)])
def test_malformed_and_huge_bodies_change_nothing(sms_client, provider, session, body, code):
    for report in (False, True):
        assert push(sms_client, provider, body, report=report).status_code == code
    assert count(session, InboundMessage) == 0 and count(session, Outbox) == 0


def test_the_callbacks_are_absent_while_another_provider_is_chosen(configured_app, provider, api, session):
    sections = provider.settings(api.url)
    sections["sms"] = replace(sections["sms"], provider="twilio")
    client = configured_app(**sections).test_client()
    assert push(client, provider, [provider.uplink(PHONE, "你好", 1)]).status_code == 404
    assert count(session, InboundMessage) == 0


def mainland_sms(**changes) -> SmsSettings:
    """The [sms] section the shared tests run with, for `Provider.settings`."""
    return SmsSettings(**{"templates": TEMPLATES, "callback_secret": SECRET, **changes})


# ---------------------------------------------------------------- qingling doctor

def test_doctor_names_what_a_half_configured_gateway_lacks(make_settings, provider, api):
    sections = provider.settings(api.url)
    assert check_sms(make_settings(**sections)).ok
    assert SECRET not in check_sms(make_settings(**sections)).detail  # the secret stays out of terminal logs
    bare = check_sms(make_settings(sms=sections["sms"]))
    assert not bare.ok and f"QINGLING_{provider.name.upper()}_" in bare.detail
    short = check_sms(make_settings(**{**sections, "sms": replace(sections["sms"], callback_secret="short")}))
    assert not short.ok and "QINGLING_SMS_CALLBACK_SECRET" in short.detail
    only_replies = replace(sections["sms"], templates=(("reply", REPLY_TEMPLATE), ("worker_received", "1")))
    uncovered = check_sms(make_settings(**{**sections, "sms": only_replies}))
    assert not uncovered.ok and "worker_resolved" in uncovered.detail and "worker_received" not in uncovered.detail
    bad_ips = replace(sections["sms"], callback_allowed_ips=("300.1.1.1",))
    assert not check_sms(make_settings(**{**sections, "sms": bad_ips})).ok
