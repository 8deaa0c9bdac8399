"""The worker as a process: killed mid-batch it loses and repeats nothing; several workers never double-fire."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, select

from intake.foundation.db import make_engine
from intake.foundation.models import Event, Outbox, Timer, utcnow
from intake.foundation.settings import Settings, WorkerSettings
from intake.runtime.sessions import make_session_factory
from intake.runtime.worker import run_once
from tests.helpers import CAL, SECRET_KEY, routed_complaint

CLOCK_KINDS = ("clock_warning", "clock_overdue", "escalated")


def _effects_exactly_once(session):
    """Every fired timer has exactly one event and one outbox row per destination; nothing else fired."""
    session.expire_all()
    fired = set(session.scalars(select(Timer.id).where(Timer.state == "fired")))
    events = Counter(e.data["timer_id"] for e in session.scalars(select(Event).where(Event.kind.in_(CLOCK_KINDS))))
    messages = Counter(o.payload["timer_id"] for o in session.scalars(select(Outbox)))
    assert set(events) == fired and set(events.values()) == {1}
    # With no contacts configured, each notice goes to the dispatch desk's console inbox: one row per timer.
    assert set(messages) == fired and set(messages.values()) == {1}
    return len(fired)


def _due_complaints(session, count):
    start = utcnow() - timedelta(days=120)
    for _ in range(count):
        routed_complaint(session, start)
    session.commit()
    return session.scalar(select(func.count()).select_from(Timer).where(Timer.state == "pending"))


def test_a_worker_killed_mid_batch_loses_and_repeats_nothing(session, migrated, tmp_path):
    total = _due_complaints(session, 10)
    env = {**os.environ, "QINGLING_DATABASE_URL": migrated, "QINGLING_SECRET_KEY": SECRET_KEY,
           "QINGLING_WORKER_ITEM_DELAY_MS": "25", "QINGLING_WORKER_BATCH_SIZE": "10"}
    env.pop("QINGLING_CONFIG", None)
    command = [shutil.which("qingling", path=os.path.dirname(os.sys.executable)), "worker", "--once"]
    victim = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    fired = 0
    while fired < 20 and time.monotonic() < deadline and victim.poll() is None:
        time.sleep(0.05)
        session.expire_all()
        fired = session.scalar(select(func.count()).select_from(Timer).where(Timer.state == "fired"))
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert victim.returncode == -signal.SIGKILL, victim.stdout.read().decode()
    assert 0 < _effects_exactly_once(session) < total  # killed in the middle, committed batches intact

    env["QINGLING_WORKER_ITEM_DELAY_MS"] = "0"
    second = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "本轮完成" in second.stdout
    assert _effects_exactly_once(session) == total


def test_workers_sharing_a_database_fire_each_timer_once(session, migrated):
    """PostgreSQL promises many workers (SKIP LOCKED); SQLite promises one worker, run here pass after pass."""
    total = _due_complaints(session, 14)
    assert total >= 200
    settings = replace(Settings(), worker=replace(WorkerSettings(), batch_size=20))
    engines = [make_engine(migrated) for _ in range(2)]
    reports = []

    def work(engine):
        reports.append(run_once(make_session_factory(engine), {}, CAL, settings))

    try:
        if engines[0].dialect.name == "postgresql":
            threads = [threading.Thread(target=work, args=(e,)) for e in engines]
            for t in threads:
                t.start()
            for t in threads:
                t.join(120)
        else:
            for engine in engines:
                work(engine)
            assert reports[1].fired == 0
    finally:
        for engine in engines:
            engine.dispose()
    assert sum(r.fired for r in reports) == total
    assert _effects_exactly_once(session) == total
