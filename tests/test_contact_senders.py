"""E-mail and webhook senders against real servers on 127.0.0.1: an aiosmtpd relay and an http.server."""
from __future__ import annotations

import json
import socket
import time
from datetime import datetime, timezone
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller
from flask.cli import ScriptInfo
from sqlalchemy import select

from handlers import create_app
from handlers.channels.contacts import build_contact_senders
from handlers.channels.email import EmailSender
from handlers.channels.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSender, sign, verify_signature
from handlers.cli import main
from handlers.cli.doctor import check_email, check_webhook
from intake.delivery.outbox import DEAD, FAILED, PENDING, SENT, RetryPolicy, deliver, enqueue
from intake.foundation.models import Outbox
from intake.foundation.settings import EmailSettings, Settings, WebhookSettings, load_settings
from tests.helpers import free_port

SECRET = "a-shared-webhook-secret"
TICKET = "QL20260301-0007"
PAYLOAD = {"kind": "clock_warning", "ticket_no": TICKET,
           "text": f"【黄牌预警】投诉 {TICKET} 的受理时限将于03月05日17:30到期，请及时办理。"}


# --- SMTP ---------------------------------------------------------------------------------------------------


class Relay:
    """Records what it accepts; the recipient's local part picks a refusal (nobody: 550, busy: 451, spam: 554)."""

    def __init__(self):
        self.messages: list[tuple[str, list[str], object]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local == "nobody":
            return "550 5.1.1 no such user"
        if local == "busy":
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if any(r.startswith("spam@") for r in envelope.rcpt_tos):
            return "554 5.7.1 rejected as spam"
        message = message_from_bytes(envelope.original_content, policy=default_policy)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK queued"


@pytest.fixture(scope="module")
def smtp_server():
    relay = Relay()
    controller = Controller(relay, hostname="127.0.0.1", port=free_port(), ready_timeout=5)
    controller.start()
    yield controller.port, relay
    controller.stop()


@pytest.fixture
def relay(smtp_server):
    port, relay = smtp_server
    relay.messages.clear()
    return relay


def email_settings(port: int, **changes) -> EmailSettings:
    values = dict(host="127.0.0.1", port=port, from_address="清零平台 <noreply@qingling.test>", starttls=False,
                  timeout_seconds=5)
    return EmailSettings(**{**values, **changes})


@pytest.fixture
def mailer(smtp_server) -> EmailSender:
    return EmailSender(email_settings(smtp_server[0]))


def test_email_arrives_decoded_with_chinese_subject_body_and_link(mailer, relay):
    payload = {**PAYLOAD, "subject": "【清零】黄牌预警：请及时受理", "url": "https://qingling.test/console/cases/7"}
    result = mailer.send("email:staff@labour.example.cn", payload)
    assert result.ok, result.error
    [(mail_from, rcpt_tos, message)] = relay.messages
    assert mail_from == "noreply@qingling.test"
    assert rcpt_tos == ["staff@labour.example.cn"]
    assert message["To"] == "staff@labour.example.cn"
    assert message["From"].addresses[0].display_name == "清零平台"
    assert message["Subject"] == "【清零】黄牌预警：请及时受理"
    assert result.provider_id == message["Message-ID"] and result.provider_id.endswith("@qingling.test>")
    body = message.get_content()
    assert PAYLOAD["text"] in body
    assert "查看案件：https://qingling.test/console/cases/7" in body
    assert "案件编号" not in body  # the text already names the ticket


def test_default_subject_and_body_carry_the_ticket(mailer, relay):
    result = mailer.send("email:staff@labour.example.cn", {"ticket_no": TICKET, "text": "有新的欠薪投诉，请签收。"})
    assert result.ok, result.error
    [(_, _, message)] = relay.messages
    assert message["Subject"] == f"【清零】案件通知（{TICKET}）"
    assert f"案件编号：{TICKET}" in message.get_content()
    assert mailer.send("email:staff@labour.example.cn", {"text": "测试"}).ok
    assert relay.messages[1][2]["Subject"] == "【清零】案件通知"


@pytest.mark.parametrize("address, permanent, code", [
    ("nobody@labour.example.cn", True, "550"),
    ("busy@labour.example.cn", False, "451"),
    ("spam@labour.example.cn", True, "554"),
])
def test_refusals_are_judged_by_reply_code(mailer, relay, address, permanent, code):
    result = mailer.send(f"email:{address}", PAYLOAD)
    assert not result.ok and result.permanent is permanent
    assert code in result.error
    assert relay.messages == []


def test_a_relay_that_is_down_or_silent_is_retried():
    down = EmailSender(email_settings(free_port())).send("email:staff@labour.example.cn", PAYLOAD)
    assert not down.ok and not down.permanent and "ConnectionRefused" in down.error
    with socket.socket() as silent:  # accepts connections (backlog) but never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        started = time.monotonic()
        result = EmailSender(email_settings(silent.getsockname()[1], timeout_seconds=1)).send(
            "email:staff@labour.example.cn", PAYLOAD)
    assert not result.ok and not result.permanent and "timed out" in result.error
    assert time.monotonic() - started < 4


def test_starttls_required_but_not_offered_sends_nothing(smtp_server, relay):
    result = EmailSender(email_settings(smtp_server[0], starttls=True)).send("email:staff@labour.example.cn",
                                                                             PAYLOAD)
    assert not result.ok and not result.permanent and "STARTTLS" in result.error
    assert relay.messages == []


@pytest.mark.parametrize("address", [
    "staff.labour.example.cn",
    "staff@labour.example.cn\r\nBcc: evil@attacker.test",
    "staff@labour.example.cn\nBcc: evil@attacker.test",
    "staff@labour.example.cn,evil@attacker.test",
    "员工 <staff@labour.example.cn>",
    "staff@localhost",
    "",
])
def test_malformed_addresses_are_permanent_and_nothing_is_sent(mailer, relay, address):
    result = mailer.send(f"email:{address}", PAYLOAD)
    assert not result.ok and result.permanent and "malformed" in result.error
    assert relay.messages == []


@pytest.mark.parametrize("subject", ["通知\r\nBcc: evil@attacker.test", "通知\nBcc: evil@attacker.test", "通知\r"])
def test_line_breaks_in_the_subject_are_refused(mailer, relay, subject):
    result = mailer.send("email:staff@labour.example.cn", {**PAYLOAD, "subject": subject})
    assert not result.ok and result.permanent and "subject" in result.error
    assert relay.messages == []


# --- Webhooks -----------------------------------------------------------------------------------------------


def url(server, path: str) -> str:
    return f"webhook:http://127.0.0.1:{server.server_address[1]}{path}"


def test_webhook_body_is_signed_and_carries_payload_time_and_id(hook):
    result = WebhookSender(SECRET).send(url(hook, "/ok"), PAYLOAD)
    assert result.ok, result.error
    [(path, headers, body)] = hook.requests
    signature, timestamp = headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER]
    assert verify_signature(SECRET, body, signature, timestamp)
    assert signature.startswith("sha256=")
    assert not verify_signature("another-secret-entirely", body, signature, timestamp)
    assert not verify_signature(SECRET, body.replace("黄牌".encode(), "红牌".encode()), signature, timestamp)
    assert not verify_signature(SECRET, body, signature, str(int(timestamp) + 1))  # the time is signed too
    assert not verify_signature(SECRET, body, signature, timestamp, now=int(timestamp) + 301)  # a late replay
    data = json.loads(body)
    assert {k: data[k] for k in PAYLOAD} == PAYLOAD
    assert data["id"] == result.provider_id
    sent_at = datetime.fromisoformat(data["sent_at"])
    assert abs((datetime.now(timezone.utc) - sent_at).total_seconds()) < 60
    assert int(headers[TIMESTAMP_HEADER]) == int(sent_at.timestamp())
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert WebhookSender(SECRET).send(url(hook, "/ok"), PAYLOAD).provider_id != result.provider_id


def test_verify_signature_refuses_empty_and_malformed_input():
    body = b'{"a":1}'
    now = str(int(time.time()))
    assert not verify_signature("", body, "sha256=", now)
    assert not verify_signature(SECRET, body, "", now)
    assert not verify_signature(SECRET, body, "sha1=0000", now)
    assert not verify_signature(SECRET, body, "sha256=签名", now)
    assert not verify_signature(SECRET, body, sign(SECRET, now, body), "")
    assert not verify_signature(SECRET, body, sign(SECRET, now, body), "１２３")
    assert verify_signature(SECRET, body, sign(SECRET, now, body), now)


@pytest.mark.parametrize("path, permanent", [
    ("/500", False), ("/503", False), ("/408", False), ("/429", False),
    ("/410", True), ("/400", True), ("/404", True), ("/moved", True),
])
def test_webhook_status_codes(hook, path, permanent):
    result = WebhookSender(SECRET).send(url(hook, path), PAYLOAD)
    assert not result.ok and result.permanent is permanent
    assert [p for p, _, _ in hook.requests] == [path]  # a redirect is not followed
    assert (path.strip("/") if path != "/moved" else "302") in result.error


def test_webhook_timeout_and_refused_connection_are_retried(hook):
    started = time.monotonic()
    slow = WebhookSender(SECRET, timeout=0.2).send(url(hook, "/slow"), PAYLOAD)
    assert not slow.ok and not slow.permanent and "timed out" in slow.error
    assert time.monotonic() - started < 0.9
    closed = WebhookSender(SECRET).send(f"webhook:http://127.0.0.1:{free_port()}/ok", PAYLOAD)
    assert not closed.ok and not closed.permanent and "ConnectionRefused" in closed.error


@pytest.mark.parametrize("target", [
    "http://example.cn/hook",
    "http://127.0.0.1.example.cn/hook",
    "http://localhost@example.cn/hook",
    "ftp://example.cn/hook",
    "https:///hook",
    "https://例子.cn/hook",
    "https://example.cn:port/hook",
])
def test_unsafe_urls_are_permanent_without_any_connection(monkeypatch, target):
    def no_network(*args, **kwargs):
        raise AssertionError(f"the sender tried to connect: {args}")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    result = WebhookSender(SECRET).send(f"webhook:{target}", PAYLOAD)
    assert not result.ok and result.permanent and "refused" in result.error


@pytest.mark.parametrize("suffix", ["\r\nX-Injected: 1", "\nX-Injected: 1", " HTTP/1.1\r\nX-Injected: 1", "\x00"])
def test_header_injection_through_the_url_is_refused(hook, suffix):
    result = WebhookSender(SECRET).send(url(hook, "/ok") + suffix, PAYLOAD)
    assert not result.ok and result.permanent and "control characters" in result.error
    assert hook.requests == []


# --- Wiring: settings, registry, outbox, doctor -------------------------------------------------------------


def test_secrets_come_from_the_environment():
    settings = load_settings(environ={"QINGLING_EMAIL_PASSWORD": "pw", "QINGLING_WEBHOOK_SECRET": "s",
                                      "QINGLING_EMAIL_SSL": "true"})
    assert (settings.email.password, settings.email.ssl, settings.webhook.secret) == ("pw", True, "s")


def test_only_configured_channels_get_a_sender():
    assert build_contact_senders(Settings()) == {}
    assert build_contact_senders(Settings(email=EmailSettings(host="smtp.example.cn"))) == {}
    senders = build_contact_senders(Settings(email=EmailSettings(host="smtp.example.cn", from_address="a@b.cn"),
                                             webhook=WebhookSettings(secret=SECRET, timeout_seconds=3)))
    assert isinstance(senders["email"], EmailSender) and senders["email"].settings.host == "smtp.example.cn"
    assert isinstance(senders["webhook"], WebhookSender) and senders["webhook"].timeout == 3


def test_outbox_falls_back_from_a_gone_webhook_to_email(session, smtp_server, relay, hook):
    settings = Settings(email=email_settings(smtp_server[0]), webhook=WebhookSettings(secret=SECRET))
    senders, policy = build_contact_senders(settings), RetryPolicy()
    now = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
    row = enqueue(session, url(hook, "/410"), {**PAYLOAD, "fallbacks": ["email:staff@labour.example.cn"]},
                  now=now)
    assert not deliver(session, row, senders, now, policy)
    assert row.state == FAILED and "410" in row.last_error
    fallback = session.scalars(select(Outbox).where(Outbox.destination == "email:staff@labour.example.cn",
                                                    Outbox.state == PENDING)).one()
    assert deliver(session, fallback, senders, now, policy) and fallback.state == SENT
    assert relay.messages[0][1] == ["staff@labour.example.cn"]
    refused = enqueue(session, "email:nobody@labour.example.cn", PAYLOAD, now=now)
    assert not deliver(session, refused, senders, now, policy)
    assert refused.state == DEAD and refused.attempts == 1


def test_doctor_email_is_on_off_or_says_what_is_missing():
    assert check_email(Settings()).ok and check_email(Settings()).detail == "未启用"
    half = check_email(Settings(email=EmailSettings(host="smtp.example.cn")))
    assert not half.ok and "QINGLING_EMAIL_FROM_ADDRESS" in half.detail
    login = check_email(Settings(email=EmailSettings(host="smtp.example.cn", from_address="a@b.cn", username="u")))
    assert not login.ok and "QINGLING_EMAIL_PASSWORD" in login.detail
    assert not check_email(Settings(email=EmailSettings(host="smtp.example.cn", from_address="noreply"))).ok
    clear = EmailSettings(host="smtp.example.cn", from_address="a@b.cn", username="u", password="p",
                          starttls=False)
    assert not check_email(Settings(email=clear)).ok
    on = check_email(Settings(email=EmailSettings(host="smtp.example.cn", from_address="清零 <noreply@b.cn>",
                                                  username="u", password="p")))
    assert on.ok and "STARTTLS" in on.detail


def test_doctor_webhook_wants_a_long_secret():
    assert check_webhook(Settings()).ok
    assert not check_webhook(Settings(webhook=WebhookSettings(secret="short"))).ok
    assert check_webhook(Settings(webhook=WebhookSettings(secret=SECRET))).ok


def test_doctor_command_lists_both(make_settings):
    app = create_app(make_settings(email=EmailSettings(host="smtp.example.cn")))
    output = app.test_cli_runner().invoke(main, ["doctor"], obj=ScriptInfo(create_app=lambda: app)).output
    assert "✗ 邮件通知：只配置了一部分" in output
    assert "✓ Webhook 通知：未启用" in output
