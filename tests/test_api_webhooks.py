"""Case events pushed to client systems' webhooks: signed, delivered by the worker's outbox to a real HTTP receiver
on 127.0.0.1, and verified by the snippet the README gives receivers."""
from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import select

from handlers import services
from handlers.cli.worker import senders_for
from intake.directory import department
from intake.models import Outbox
from intake.publish import KIND
from intake.settings import WebhookSettings
from intake.worker import run_once
from tests.test_api import BODY, auth, make_client
from tests.test_cases import CAL, site  # noqa: F401  (site is a fixture)

SECRET = "a-webhook-secret-for-tests"
README = Path(__file__).resolve().parent.parent / "README.md"


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((self.path, dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.received = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def readme_verifier():
    """The README's receiver code, run as written."""
    block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
                 if "def verify_qingling_webhook" in b)
    namespace: dict = {}
    exec(block, namespace)
    return namespace["verify_qingling_webhook"]


def test_every_case_event_in_scope_reaches_the_clients_webhook_signed(configured_app, session, site, receiver):
    app = configured_app(webhook=WebhookSettings(secret=SECRET))
    base = f"http://127.0.0.1:{receiver.server_address[1]}"
    token = make_client(session, "hotline-12345", webhook=f"{base}/hook")
    make_client(session, "far-dept", "staff", department(session, "371311", "housing").id, webhook=f"{base}/far")
    clue = {**BODY, "site_code": "S-1", "source": {"system": "12345", "external_id": "GD-7"}}
    created = app.test_client().post("/api/v1/complaints", json=clue, headers=auth(token)).get_json()

    svc = services(app)
    for _ in range(2):  # routes the case and delivers "received"; then delivers what routing published
        run_once(svc.sessions, senders_for(svc.settings), CAL, svc.settings)
    verify = readme_verifier()
    assert {path for path, _, _ in receiver.received} == {"/hook"}  # the far department's scope holds no case
    events = []
    for _, headers, body in receiver.received:
        assert verify(SECRET, body, headers["X-Qingling-Signature"], headers["X-Qingling-Timestamp"])
        assert not verify(SECRET, body.replace(b"GD-7", b"GD-8"), headers["X-Qingling-Signature"],
                          headers["X-Qingling-Timestamp"])
        events.append(json.loads(body))
    assert [e["event"]["kind"] for e in sorted(events, key=lambda e: e["event"]["id"])] == ["received", "routed"]
    assert {e["complaint"]["ticket_no"] for e in events} == {created["ticket_no"]}
    assert events[0]["complaint"]["source"] == {"system": "12345", "external_id": "GD-7"}
    assert not verify("another-secret-entirely", *receiver.received[0][2:],
                      receiver.received[0][1]["X-Qingling-Signature"], receiver.received[0][1]["X-Qingling-Timestamp"])


def test_nothing_is_published_while_no_client_subscribes(app, client, session, site):
    token = make_client(session, "no-hook")
    assert client.post("/api/v1/complaints", json=BODY, headers=auth(token)).status_code == 201
    payloads = session.scalars(select(Outbox.payload)).all()
    assert [p for p in payloads if p.get("kind") == KIND] == []
