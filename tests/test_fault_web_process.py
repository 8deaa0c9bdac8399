"""The web process SIGKILLed in the middle of a chat turn: the provider's retry of the same message id, once the
process is back, gives exactly one complaint and the reply stored with it.

The turn is held in the dialogue from outside: the test holds the conversation's row lock (PostgreSQL) or the
database's write lock (SQLite), so the request is surely in flight, its transaction open, when it is killed.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from urllib.parse import urlencode

import pytest
import requests
from sqlalchemy import create_engine, select, text
from twilio.request_validator import RequestValidator

from intake.foundation.encryption import chat_user
from intake.foundation.models import Complaint, InboundMessage
from tests.helpers import (
    SECRET_KEY,
    TWILIO,
    TWILIO_AUTH_TOKEN,
    WECHAT_AES_KEY,
    WECHAT_APP_ID,
    WECHAT_CRYPTO,
    WECHAT_TOKEN,
    free_port,
    parse_envelope,
    signed_query,
    text_xml,
)

FIRST = "兰山区阳光城工地，老板欠我们8个人三万五"
WAIT = 15


class WebProcess:
    """`qingling run` (werkzeug) in its own process group, on a fixed port so the signed URLs stay valid."""

    def __init__(self, url: str, cwd):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.cwd = cwd
        self.env = {**os.environ, "QINGLING_DATABASE_URL": url, "QINGLING_SECRET_KEY": SECRET_KEY,
                    "QINGLING_PUBLIC_BASE_URL": self.base, "QINGLING_TWILIO_ACCOUNT_SID": TWILIO.account_sid,
                    "QINGLING_TWILIO_AUTH_TOKEN": TWILIO_AUTH_TOKEN, "QINGLING_TWILIO_FROM_NUMBER": TWILIO.from_number,
                    "QINGLING_WECHAT_TOKEN": WECHAT_TOKEN, "QINGLING_WECHAT_APP_ID": WECHAT_APP_ID,
                    "QINGLING_WECHAT_APP_SECRET": "app-secret", "QINGLING_WECHAT_ENCODING_AES_KEY": WECHAT_AES_KEY}
        self.env.pop("QINGLING_CONFIG", None)
        self.env.pop("QINGLING_DEMO", None)
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        command = [shutil.which("qingling", path=os.path.dirname(sys.executable)), "run", "--host", "127.0.0.1",
                   "--port", str(self.port), "--no-reload", "--no-debugger"]
        self.process = subprocess.Popen(command, cwd=self.cwd, env=self.env, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + WAIT
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("qingling run did not start")

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(WAIT)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.kill()


@pytest.fixture
def web(migrated, tmp_path, app):  # `app`: the suite's teardown empties the tables afterwards
    process = WebProcess(migrated, tmp_path)
    process.start()
    yield process
    process.stop()


def sms_message(base: str, sid: str, body: str):
    """A text as Twilio posts it: (path, form, headers)."""
    params = {"MessageSid": sid, "From": "+8613812345678", "To": TWILIO.from_number, "Body": body}
    signature = RequestValidator(TWILIO_AUTH_TOKEN).compute_signature(base + "/sms/twilio", params)
    return "/sms/twilio", params, {"X-Twilio-Signature": signature}


def sms_reply(response) -> str:
    return response.text.split("<Message>")[1].split("</Message>")[0]


def wechat_message(_base: str, msg_id: str, body: str):
    """A text as WeChat posts it in safe mode: (path with signed query, encrypted body, headers)."""
    query = signed_query()
    xml = WECHAT_CRYPTO.encrypt_message(text_xml(body, int(msg_id)), query["nonce"], query["timestamp"])
    query.update(encrypt_type="aes", msg_signature=parse_envelope(xml)["MsgSignature"])
    return "/wechat?" + urlencode(query), xml.encode(), {"Content-Type": "text/xml"}


def wechat_reply(response) -> str:
    envelope = parse_envelope(response.content)
    plain = WECHAT_CRYPTO.decrypt_message(response.content, envelope["MsgSignature"], envelope["TimeStamp"],
                                          envelope["Nonce"])
    return parse_envelope(plain)["Content"]


CHANNELS = {  # channel: (build a message, read its reply, the conversation's user, the answers before 确认)
    "sms": (sms_message, sms_reply, "13812345678", [FIRST, "张三"]),
    "wechat": (wechat_message, wechat_reply, "oWorker0000000000000000000A", [FIRST, "张三", "13812345678"]),
}


class HeldDialogue:
    """Holds the conversation still from outside, so the next turn of `user` waits inside the web process."""

    def __init__(self, url: str, channel: str, user: str):
        self.url, self.channel, self.user = url, channel, user

    def __enter__(self):
        if self.url.startswith("sqlite"):
            self.path = self.url.removeprefix("sqlite:///")
            self.sqlite = sqlite3.connect(self.path, isolation_level=None)
            self.sqlite.execute("BEGIN IMMEDIATE")  # the write lock: every writer waits (busy_timeout)
        else:
            self.engine = create_engine(self.url)
            self.conn = self.engine.connect()
            self.conn.execute(text("SELECT id FROM conversations WHERE channel = :c AND user_id = :u FOR UPDATE"),
                              {"c": self.channel, "u": self.user})
        return self

    def request_is_waiting(self) -> bool:
        if self.url.startswith("sqlite"):  # the app's writer took its queue lock and waits for ours
            with open(self.path + "-writer.lock", "a") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return True
                fcntl.flock(lock, fcntl.LOCK_UN)
                return False
        with self.engine.connect() as probe:
            return probe.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                     "AND datname = current_database()")) > 0

    def __exit__(self, *exc):
        if self.url.startswith("sqlite"):
            self.sqlite.rollback()
            self.sqlite.close()
        else:
            self.conn.rollback()
            self.conn.close()
            self.engine.dispose()


@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_a_retry_after_the_web_process_was_killed_mid_turn_gives_one_complaint(web, migrated, session, channel):
    build, read, user, answers = CHANNELS[channel]
    for number, said in enumerate(answers, start=1):
        path, body, headers = build(web.base, f"{number}000", said)
        assert requests.post(web.base + path, data=body, headers=headers, timeout=WAIT).status_code == 200
    path, body, headers = build(web.base, "9000", "确认")  # the provider's one message id for the 确认
    outcome: list = []

    def first_delivery():
        try:
            outcome.append(requests.post(web.base + path, data=body, headers=headers, timeout=WAIT))
        except requests.ConnectionError as exc:
            outcome.append(exc)

    with HeldDialogue(migrated, channel, chat_user(channel, user)) as held:
        sender = threading.Thread(target=first_delivery)
        sender.start()
        deadline = time.monotonic() + WAIT
        while not held.request_is_waiting():
            assert time.monotonic() < deadline, "the turn never reached the held conversation"
            time.sleep(0.05)
        web.kill()
        sender.join(WAIT)
    assert isinstance(outcome[0], requests.ConnectionError)  # the provider got no answer: it retries

    web.start()
    retried = requests.post(web.base + path, data=body, headers=headers, timeout=WAIT)
    again = requests.post(web.base + path, data=body, headers=headers, timeout=WAIT)
    assert retried.status_code == again.status_code == 200
    reply = read(retried)
    assert "已提交，受理编号" in reply and read(again) == reply
    session.expire_all()
    tickets = session.scalars(select(Complaint.ticket_no)
                              .where(Complaint.channel_user_id == chat_user(channel, user))).all()
    assert len(tickets) == 1 and tickets[0] in reply
    stored = session.scalars(select(InboundMessage.reply).where(InboundMessage.channel == channel,
                                                                InboundMessage.provider_message_id.like("%9000"))).all()
    assert stored == [reply]
