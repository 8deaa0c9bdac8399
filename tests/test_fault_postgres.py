"""Faults of the database itself, on a private PostgreSQL cluster the tests stop and crash at will: the worker
killed mid-batch and the server restarted mid-run, and intake while the database is down."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from handlers import create_app
from handlers.runtime import services
from intake.conversation import replies as R
from intake.foundation.db import make_engine
from intake.foundation.models import Complaint, Department, Event, InboundMessage, Outbox, Timer, utcnow
from intake.foundation.settings import DatabaseSettings, Settings
from intake.registry.directory import load_directory
from intake.runtime.sessions import make_session_factory
from migrations import upgrade
from tests.helpers import (
    PUBLIC_BASE_URL,
    SECRET_KEY,
    TWILIO,
    WECHAT,
    PrivateCluster,
    csrf_token,
    receiving,
    reply_text,
    routed_complaint,
    text_in,
    text_xml,
    twiml_reply,
    wechat_post,
)

WAIT = 60
WEBHOOK_SECRET = "fault-test-webhook-secret"


@pytest.fixture(scope="module")
def cluster():
    found = PrivateCluster()
    found.init()
    yield found
    found.remove()


@pytest.fixture
def database(cluster, request):
    """A fresh, migrated database on the private cluster, named after the test."""
    url = cluster.create_database(request.node.name[:60].lower())
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine).begin() as session:
        load_directory(session)
    yield engine
    engine.dispose()


class Receiver(BaseHTTPRequestHandler):
    """A department's own system: answers 200 to every notice and counts them by the timer that caused them."""

    received: Counter

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.received[body.get("timer_id")] += 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    with receiving(Receiver) as server:
        server.received = Counter()
        yield server


def _count(engine, query) -> int | None:
    """A figure, or None while the server is down or restarting."""
    try:
        with engine.connect() as conn:
            return conn.scalar(query)
    except OperationalError:
        return None


def _wait_for(what, enough, timeout=WAIT):
    deadline = time.monotonic() + timeout
    while (value := what()) is None or not enough(value):
        assert time.monotonic() < deadline, f"gave up waiting; last value {value}"
        time.sleep(0.05)
    return value


def test_a_killed_worker_and_a_crashed_database_lose_and_repeat_nothing(cluster, database, receiver, tmp_path):
    sessions = make_session_factory(database)
    with sessions.begin() as session:
        for dept in session.scalars(select(Department)):
            dept.contacts = {"webhook": f"http://127.0.0.1:{receiver.server_port}/notices"}
        for _ in range(6):
            routed_complaint(session, utcnow() - timedelta(days=120))
    total = _count(database, select(func.count()).select_from(Timer).where(Timer.state == "pending"))
    env = {**os.environ, "QINGLING_DATABASE_URL": database.url.render_as_string(hide_password=False),
           "QINGLING_SECRET_KEY": SECRET_KEY, "QINGLING_WEBHOOK_SECRET": WEBHOOK_SECRET,
           "QINGLING_WORKER_ITEM_DELAY_MS": "20", "QINGLING_WORKER_BATCH_SIZE": "10",
           "QINGLING_WORKER_IDLE_SECONDS": "1"}
    env.pop("QINGLING_CONFIG", None)
    command = [shutil.which("qingling", path=os.path.dirname(sys.executable)), "worker"]
    fired = select(func.count()).select_from(Timer).where(Timer.state == "fired")
    webhook_rows = Outbox.destination.startswith("webhook:")

    first = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: _count(database, fired), lambda n: n >= 20)
    first.send_signal(signal.SIGKILL)
    first.wait(WAIT)
    assert 0 < _count(database, fired) < total  # killed in the middle of the timers

    env["QINGLING_WORKER_ITEM_DELAY_MS"] = "5"
    second = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    try:
        _wait_for(lambda: sum(receiver.received.values()), lambda n: n >= 10)
        cluster.restart_immediately()  # in the middle of the deliveries
        assert sum(receiver.received.values()) < _count(
            database, select(func.count()).select_from(Outbox).where(webhook_rows))
        unsent = select(func.count()).select_from(Outbox).where(Outbox.state != "sent")
        _wait_for(lambda: (_count(database, fired), _count(database, unsent)),
                  lambda counts: counts == (total, 0))
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(WAIT)

    with sessions() as session:
        events = Counter(e.data["timer_id"] for e in session.scalars(select(Event).where(Event.kind.in_(
            ("clock_warning", "clock_overdue", "escalated")))))
        expected = Counter(o.payload["timer_id"] for o in session.scalars(select(Outbox).where(webhook_rows)))
    assert len(events) == total and set(events.values()) == {1}  # every timer fired, each exactly once
    assert set(expected) == set(events)
    delivered = receiver.received
    assert all(delivered[timer] >= count for timer, count in expected.items())  # every notice arrived
    # Only a message in flight at a crash (sent, its commit lost) can arrive twice: one per fault at most.
    assert sum(delivered.values()) - sum(expected.values()) <= 2


def test_intake_while_the_database_is_down_apologises_and_the_retry_is_stored(cluster, database):
    url = database.url.render_as_string(hide_password=False)
    app = create_app(Settings(secret_key=SECRET_KEY, public_base_url=PUBLIC_BASE_URL,
                              database=DatabaseSettings(url=url), twilio=TWILIO, wechat=WECHAT))
    app.config["TESTING"] = True
    client = app.test_client()
    page = client.get("/report").get_data(as_text=True)  # opened before the outage
    form = {"csrf_token": csrf_token(page), "submission_key": re.search(r'name="submission_key" type="hidden" '
                                                                          r'value="([0-9a-f]{32})"', page).group(1),
            "county": "371302", "project_name": "阳光城三期工地", "name": "李四", "phone": "13712345678",
            "workers": "3", "amount": "20000", "free_text": "老板拖欠三个月工资不给", "consent": "y"}
    chat_sms = lambda: text_in(client, "兰山区阳光城工地，老板欠我们8个人三万五", "SM-outage")  # noqa: E731
    chat_wechat = lambda: wechat_post(client, text_xml("我在兰山区阳光城工地干活，老板欠钱", 7001))  # noqa: E731

    cluster.stop()
    try:
        answer = client.post("/report", data=form)
        sms, wechat = chat_sms(), chat_wechat()
    finally:
        cluster.start()
    shown = answer.get_data(as_text=True)
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert "还没有提交" in shown and "12345" in shown  # an apology and the hotline, in plain Chinese
    assert "老板拖欠三个月工资不给" in shown and 'value="13712345678"' in shown and form["submission_key"] in shown
    assert re.search(r'<option selected value="371302">兰山区</option>', shown)  # what was typed is kept
    for provider in (sms, wechat):  # not a success, so the provider retries; not a 500 either
        assert provider.status_code == 503 and b"nothing was stored" in provider.data
    assert _count(database, select(func.count()).select_from(InboundMessage)) == 0

    stored = client.post("/report", data=form)
    assert stored.status_code == 303 and client.post("/report", data=form).headers["Location"] == \
        stored.headers["Location"]
    assert twiml_reply(chat_sms()) == R.QUESTIONS["name"]  # the retried texts are taken: the chat goes on
    assert reply_text(chat_wechat()) == R.QUESTIONS["amount"]
    assert _count(database, select(func.count()).select_from(Complaint)) == 1
    assert _count(database, select(func.count()).select_from(InboundMessage)) == 2
    services(app).engine.dispose()
