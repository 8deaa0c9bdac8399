"""The outbox: retries with backoff per destination, dead letters, permanent errors and fallbacks."""
from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy.orm import sessionmaker

from intake.delivery import outbox
from intake.foundation.settings import Settings
from intake.runtime.worker import run_once
from tests.helpers import CAL, OUTBOX_T0, outbox_rows, worker_settings


class ProviderStandIn:
    """Stands at the provider boundary: fails the first `failures` calls per destination, then accepts.

    `permanent` maps a destination to the permanent error code the provider reports for it (e.g. 45015).
    """

    def __init__(self, failures=None, permanent=None):
        self.failures = dict(failures or {})
        self.permanent = dict(permanent or {})
        self.delivered: list[tuple[str, str]] = []
        self.calls = 0

    def send(self, destination, payload):
        self.calls += 1
        if destination in self.permanent:
            return outbox.SendResult(ok=False, permanent=True, error=self.permanent[destination])
        if self.failures.get(destination, 0) > 0:
            self.failures[destination] -= 1
            return outbox.SendResult(ok=False, error="503 provider unavailable")
        self.delivered.append((destination, payload["text"]))
        return outbox.SendResult(ok=True, provider_id=f"msg-{self.calls}")


def _sessions(session):
    return sessionmaker(session.get_bind(), expire_on_commit=False)


def test_a_failing_provider_gets_every_message_through_later(session):
    for i in range(3):
        outbox.enqueue(session, "sms:13800000001", {"text": f"A{i}"}, now=OUTBOX_T0)
    outbox.enqueue(session, "sms:13800000002", {"text": "B"}, now=OUTBOX_T0)
    session.commit()
    provider = ProviderStandIn(failures={"sms:13800000001": 3})
    settings = worker_settings(max_attempts=8, backoff_base_seconds=60, backoff_max_seconds=600)
    first = run_once(_sessions(session), {"sms": provider}, CAL, settings, now=OUTBOX_T0, rng=random.Random(1))
    # One failure backs the whole destination off; the other phone is not held up.
    assert (first.sent, first.failed) == (1, 1) and provider.delivered == [("sms:13800000002", "B")]
    waiting = [r for r in outbox_rows(session) if r.state == "pending"]
    assert len({r.next_try_at for r in waiting}) == 1 and waiting[0].next_try_at > OUTBOX_T0
    assert run_once(_sessions(session), {"sms": provider}, CAL, settings, now=OUTBOX_T0).sent == 0  # backing off
    now = OUTBOX_T0
    for _ in range(6):
        now += timedelta(seconds=600)
        run_once(_sessions(session), {"sms": provider}, CAL, settings, now=now)
    assert sorted(text for _, text in provider.delivered) == ["A0", "A1", "A2", "B"]  # each exactly once
    assert {r.state for r in outbox_rows(session)} == {"sent"}


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling():
    policy = outbox.RetryPolicy(max_attempts=8, base_seconds=30, max_seconds=3600)
    rng = random.Random(7)
    for attempts, step in ((1, 30), (2, 60), (3, 120), (8, 3600), (20, 3600)):
        delays = {policy.delay(attempts, rng).total_seconds() for _ in range(20)}
        assert all(step / 2 <= d <= step for d in delays) and len(delays) > 1


def test_dead_after_max_attempts_alerts_the_dispatch_desk(session):
    outbox.enqueue(session, "sms:13800000009", {"text": "你的投诉已受理"}, now=OUTBOX_T0)
    session.commit()
    provider = ProviderStandIn(failures={"sms:13800000009": 99})
    settings = worker_settings(max_attempts=3, backoff_max_seconds=60)
    now = OUTBOX_T0
    for _ in range(4):
        run_once(_sessions(session), {"sms": provider}, CAL, settings, now=now)
        now += timedelta(seconds=60)
    dead, alert = outbox_rows(session)
    assert (dead.state, dead.attempts, dead.last_error) == ("dead", 3, "503 provider unavailable")
    assert alert.destination == f"department:{outbox.dispatch_desk(session).id}"
    assert alert.payload["kind"] == "dead_letter" and alert.payload["outbox_id"] == dead.id
    assert alert.state == "sent" and "消息无法送达" in alert.payload["text"]  # stored in the inbox is delivered
    assert "138****0009" in alert.payload["text"] and "13800000009" not in alert.payload["text"]  # inboxes mask


def test_wechat_45015_falls_back_to_a_template_then_sms(session):
    outbox.enqueue(session, "wechat:oWORKER", {"text": "请确认工资是否到账",
                                               "fallbacks": ["wechat-template:oWORKER", "sms:13900000000"]},
                   now=OUTBOX_T0)
    session.commit()
    wechat = ProviderStandIn(permanent={"wechat:oWORKER": "45015", "wechat-template:oWORKER": "43004"})
    sms = ProviderStandIn()
    senders = {"wechat": wechat, "wechat-template": wechat, "sms": sms}
    run_once(_sessions(session), senders, CAL, Settings(), now=OUTBOX_T0)
    states = [(r.destination, r.state, r.attempts) for r in outbox_rows(session)]
    assert states == [("wechat:oWORKER", "failed", 1), ("wechat-template:oWORKER", "failed", 1),
                      (outbox.sms_destination("13900000000"), "sent", 1)]
    assert {r.phone for r in outbox_rows(session)} == {"13900000000"}  # encrypted: the columns hold no number
    assert sms.delivered == [("sms:13900000000", "请确认工资是否到账")]


def test_a_channel_this_deployment_lacks_waits_then_fails_over_and_alerts_the_desk(session):
    outbox.enqueue(session, "email:a@example.cn", {"text": "x", "fallbacks": ["webhook:https://x.example/h"]},
                   now=OUTBOX_T0)
    session.commit()
    senders = {"sms": ProviderStandIn()}
    waited = OUTBOX_T0 + timedelta(minutes=Settings().worker.unsendable_wait_minutes)
    early = run_once(_sessions(session), senders, CAL, Settings(), now=waited - timedelta(seconds=1))
    assert early.failed == 0 and [r.state for r in outbox_rows(session)] == ["pending"]  # it may be switched on
    report = run_once(_sessions(session), senders, CAL, Settings(), now=waited)
    assert report.failed == 2  # the fallback's wait ran from the notice, so it fails over at once
    rows = outbox_rows(session)
    assert [(r.destination, r.state, r.last_error) for r in rows[:2]] == [
        ("email:a@example.cn", "failed", "email 渠道未配置"), ("webhook:https://x.example/h", "dead", "webhook 渠道未配置")]
    assert rows[2].destination.startswith("department:") and rows[2].state == "sent"
    assert "消息无法送达" in rows[2].payload["text"]


def test_a_department_is_told_in_its_console_inbox_and_on_every_contact(session):
    from intake.registry.directory import department

    dept = department(session, "371302", "housing")
    inbox = f"department:{dept.id}"
    assert outbox.department_destinations(dept) == [inbox]
    dept.contacts = {"sms": ["13800000001"], "email": "zj@example.cn"}
    made = outbox.notify_department(session, dept, {"text": "x"}, None, now=OUTBOX_T0)
    assert [m.destination for m in made] == [inbox, outbox.sms_destination("13800000001"), "email:zj@example.cn"]
    desk = outbox.notify_department(session, None, {"text": "x"}, None, now=OUTBOX_T0)
    assert [m.destination for m in desk] == [f"department:{outbox.dispatch_desk(session).id}"]
    session.rollback()