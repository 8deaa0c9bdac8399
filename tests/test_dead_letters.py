"""A provider failing or timing out for a while: everything is delivered once it recovers; what never can be ends
in the dead-letter list, with an alert in the dispatch desk's console inbox and a retry button."""
from __future__ import annotations

import json
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler

import pytest
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from handlers.channels.webhook import WebhookSender
from intake.delivery.outbox import InboxSender, dispatch_desk, enqueue
from intake.foundation.models import AuditEntry, Outbox, StaffUser, utcnow
from intake.runtime.worker import run_once
from tests.helpers import (
    CAL,
    OUTBOX_T0,
    PASSWORD_HASH,
    csrf_token,
    login,
    make_accounts,
    outbox_rows,
    receiving,
    worker_settings,
)

SLOW = 1.0  # a receiver this slow times the sender out
TIMEOUT = 0.3


class Flaky(BaseHTTPRequestHandler):
    """A department's system: each path answers as `server.plan[path]` says, one entry per attempt ("slow",
    503, 200 ...; the last entry repeats), and records what it accepted."""

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        plan = self.server.plan[self.path]
        answer = plan.pop(0) if len(plan) > 1 else plan[0]
        if answer == "slow":
            time.sleep(SLOW)
            answer = 200
        if answer == 200:
            self.server.accepted.append((self.path, body["text"]))
        self.send_response(answer)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    with receiving(Flaky) as server:
        server.plan, server.accepted = {}, []
        yield server


def deliver_for_a_while(session, senders, settings, passes=6, start=OUTBOX_T0):
    now = start
    for _ in range(passes):
        run_once(sessionmaker(session.get_bind(), expire_on_commit=False), senders, CAL, settings, now=now)
        now += timedelta(seconds=settings.worker.backoff_max_seconds)


def test_an_outage_delays_messages_and_a_dead_one_is_listed_alerted_and_retried(app, client, session, receiver):
    base = f"http://127.0.0.1:{receiver.server_port}"
    receiver.plan = {"/recovers": ["slow", 503, 200], "/down": [503]}
    enqueue(session, f"webhook:{base}/recovers", {"kind": "new_case", "text": "新案件：兰山区阳光城"}, now=OUTBOX_T0)
    enqueue(session, f"webhook:{base}/down", {"kind": "new_case", "text": "新案件：罗庄区某工地",
                                               "ticket_no": "260101000001"}, now=OUTBOX_T0)
    session.commit()
    senders = {"webhook": WebhookSender("a-shared-webhook-secret", timeout=TIMEOUT), "department": InboxSender()}
    settings = worker_settings(max_attempts=4, backoff_base_seconds=60, backoff_max_seconds=600)
    deliver_for_a_while(session, senders, settings)

    assert receiver.accepted == [("/recovers", "新案件：兰山区阳光城")]  # after a timeout and a 503, exactly once
    found = {r.destination.rsplit("/", 1)[-1]: r for r in outbox_rows(session) if r.destination.startswith("webhook:")}
    assert (found["recovers"].state, found["recovers"].attempts) == ("sent", 3)
    dead = found["down"]
    assert (dead.state, dead.attempts, dead.last_error) == ("dead", 4, "webhook HTTP 503 Service Unavailable")

    accounts = make_accounts(session)
    session.add(StaffUser(username="desk", display_name="派单员", password_hash=PASSWORD_HASH, role="staff",
                          department_id=dispatch_desk(session).id, active=True))
    session.commit()
    assert login(client, "desk").status_code == 303
    inbox = client.get("/console/").get_data(as_text=True)
    assert "消息无法送达" in inbox and f"{base}/down" in inbox  # the alert in the desk's console inbox
    listed = client.get("/console/dead-letters")
    page = listed.get_data(as_text=True)
    assert listed.status_code == 200 and "新案件：罗庄区某工地" in page and "webhook HTTP 503" in page
    assert "新案件：兰山区阳光城" not in page

    receiver.plan["/down"] = [200]  # the department's system is back
    retried = client.post(f"/console/dead-letters/{dead.id}/retry", data={"csrf_token": csrf_token(page)})
    assert retried.status_code == 303
    assert client.post(f"/console/dead-letters/{dead.id}/retry",
                       data={"csrf_token": csrf_token(page)}).status_code == 404  # queued already
    session.expire_all()
    entry = session.scalar(select(AuditEntry).where(AuditEntry.action == "dead_letter_retry"))
    assert (entry.username, entry.ticket_no, entry.detail["outbox_id"]) == ("desk", "260101000001", dead.id)
    deliver_for_a_while(session, senders, settings, passes=1, start=utcnow())
    assert receiver.accepted[-1] == ("/down", "新案件：罗庄区某工地")
    session.rollback()  # a fresh read
    assert session.get(Outbox, dead.id).state == "sent"
    assert "没有无法送达的消息" in client.get("/console/dead-letters").get_data(as_text=True)

    other = app.test_client()
    assert login(other, accounts["staff"]).status_code == 303
    assert other.get("/console/dead-letters").status_code == 403  # a department's staff: not theirs to resend
    assert "无法送达" not in other.get("/console/").get_data(as_text=True).split("</nav>")[0]
    admin = app.test_client()
    assert login(admin, accounts["admin"]).status_code == 303
    assert admin.get("/console/dead-letters").status_code == 200
