"""Case events pushed to client systems' webhooks: signed, delivered by the worker's outbox to a real HTTP receiver
on 127.0.0.1, and verified by the snippet the README gives receivers."""
from __future__ import annotations

import json
import re
from pathlib import Path

from sqlalchemy import select

from handlers.cli.worker import senders_for
from handlers.runtime import services
from intake.foundation.models import Outbox
from intake.foundation.settings import WebhookSettings
from intake.people.publish import KIND
from intake.registry.directory import department
from intake.runtime.worker import run_once
from tests.helpers import API_BODY, CAL, auth, make_client

SECRET = "a-webhook-secret-for-tests"
README = Path(__file__).resolve().parent.parent / "README.md"


def readme_verifier():
    """The README's receiver code, run as written."""
    block = next(b for b in re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
                 if "def verify_qingling_webhook" in b)
    namespace: dict = {}
    exec(block, namespace)
    return namespace["verify_qingling_webhook"]


def test_every_case_event_in_scope_reaches_the_clients_webhook_signed(configured_app, session, lanshan_site, hook):
    app = configured_app(webhook=WebhookSettings(secret=SECRET))
    base = f"http://127.0.0.1:{hook.server_address[1]}"
    token = make_client(session, "hotline-12345", webhook=f"{base}/ok")
    make_client(session, "far-dept", "staff", department(session, "371311", "housing").id, webhook=f"{base}/204")
    clue = {**API_BODY, "site_code": "S-1", "source": {"system": "12345", "external_id": "GD-7"}}
    created = app.test_client().post("/api/v1/complaints", json=clue, headers=auth(token)).get_json()

    svc = services(app)
    for _ in range(2):  # routes the case and delivers "received"; then delivers what routing published
        run_once(svc.sessions, senders_for(svc.settings), CAL, svc.settings)
    verify = readme_verifier()
    assert {path for path, _, _ in hook.requests} == {"/ok"}  # the far department's scope holds no case
    events = []
    for _, headers, body in hook.requests:
        assert verify(SECRET, body, headers["X-Qingling-Signature"], headers["X-Qingling-Timestamp"])
        assert not verify(SECRET, body.replace(b"GD-7", b"GD-8"), headers["X-Qingling-Signature"],
                          headers["X-Qingling-Timestamp"])
        events.append(json.loads(body))
    assert [e["event"]["kind"] for e in sorted(events, key=lambda e: e["event"]["id"])] == ["received", "routed"]
    assert {e["complaint"]["ticket_no"] for e in events} == {created["ticket_no"]}
    texts = sorted(e["text"] for e in events)
    assert texts == sorted(f"【清零】案件{created['ticket_no']}有新进展：{label}。" for label in ("收到投诉", "派单"))
    assert events[0]["complaint"]["source"] == {"system": "12345", "external_id": "GD-7"}
    assert not verify("another-secret-entirely", *hook.requests[0][2:],
                      hook.requests[0][1]["X-Qingling-Signature"], hook.requests[0][1]["X-Qingling-Timestamp"])


def test_nothing_is_published_while_no_client_subscribes(app, client, session, lanshan_site):
    token = make_client(session, "no-hook")
    assert client.post("/api/v1/complaints", json=API_BODY, headers=auth(token)).status_code == 201
    payloads = session.scalars(select(Outbox.payload)).all()
    assert [p for p in payloads if p.get("kind") == KIND] == []
