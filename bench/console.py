"""Console bench: the queue and case pages on PostgreSQL with 1,000,000 complaints over the Linyi departments.

    python bench/console.py                      # 1,000,000 complaints
    python bench/console.py --complaints 200000  # a quicker run

Targets (issue 7): queue page p95 under 100 ms server-side for a department user and for a city administrator,
case page p95 under 100 ms. Pages are rendered by the real app through Flask's test client (server-side time:
routing, scope, queries, clocks, templates); the baseline is a bare indexed SELECT of the same page's rows over
a raw connection, measured in the same run. The bench creates its own database and drops it at the end.
"""
from __future__ import annotations

import argparse
import html
import json
import random
import re
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import figures  # noqa: E402

from handlers import create_app, services  # noqa: E402
from intake.db import make_engine, make_session_factory, recreate_postgres_database  # noqa: E402
from intake.directory import load_directory  # noqa: E402
from intake.settings import DatabaseSettings, Settings  # noqa: E402
from intake.staff import NewUser, create_user  # noqa: E402
from migrations import upgrade  # noqa: E402
from tests.console_helpers import login  # noqa: E402

NOW = datetime.now(timezone.utc)
OPEN_SHARE = 0.25  # the rest are closed (销号): a year of history
STATUSES_OPEN = ("routed", "acknowledged", "accepted", "in_progress")
PASSWORD = "bench-pass-1"
REPEATS, WARMUP = 200, 20
COMPLAINANT_COLS = ("id", "name", "phone", "created_at")
COMPLAINT_COLS = ("id", "ticket_no", "channel", "complainant_id", "anonymous", "free_text", "claim", "priority",
                  "supervised", "status", "department_id", "jurisdiction_code", "project_name", "workers", "amount",
                  "deadlines", "next_due_at", "version", "created_at", "updated_at")
EVENT_COLS = ("complaint_id", "kind", "from_status", "to_status", "actor", "data", "created_at")
OUTBOX_COLS = ("complaint_id", "destination", "payload", "state", "next_try_at", "created_at")


def _deadline(start: datetime, due: datetime) -> str:
    warn = start + (due - start) * 0.75
    return json.dumps({"reply": {"start": start.isoformat(), "warn": warn.isoformat(), "due": due.isoformat(),
                                 "working": True, "paused": False}})


def load(url: str, complaints: int) -> dict[int, str]:
    """Bulk-load with COPY; returns department id -> county code."""
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine).begin() as session:
        load_directory(session)
    with engine.connect() as conn:
        departments = dict(conn.execute(text("SELECT id, jurisdiction_code FROM departments")).all())
    rng = random.Random(7)
    ids = sorted(departments)
    started = time.perf_counter()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy(f"COPY complainants ({', '.join(COMPLAINANT_COLS)}) FROM STDIN") as copy:
            for i in range(1, complaints + 1):
                copy.write_row((i, f"工人{i}", f"139{i:08d}", NOW))
        with cur.copy(f"COPY complaints ({', '.join(COMPLAINT_COLS)}) FROM STDIN") as copy:
            for i in range(1, complaints + 1):
                dept = rng.choice(ids)
                created = NOW - timedelta(minutes=rng.randrange(365 * 24 * 60))
                is_open = rng.random() < OPEN_SHARE
                due = NOW + timedelta(minutes=rng.randrange(-10 * 24 * 60, 20 * 24 * 60)) if is_open else None
                copy.write_row((i, f"B{i:011d}", "web", i, False, "老板拖欠工资三个月", "{}", "normal", False,
                                rng.choice(STATUSES_OPEN) if is_open else "closed", dept, departments[dept],
                                f"项目{i % 5000}", 1 + i % 12, 1000 * (1 + i % 90),
                                _deadline(created, due) if is_open else "{}", due, 3, created, created))
        with cur.copy(f"COPY events ({', '.join(EVENT_COLS)}) FROM STDIN") as copy:
            for i in range(1, complaints + 1):
                copy.write_row((i, "received", None, "received", "worker:web", "{}", NOW))
                copy.write_row((i, "routed", "received", "routed", "system:router", "{}", NOW))
        with cur.copy(f"COPY outbox ({', '.join(OUTBOX_COLS)}) FROM STDIN") as copy:
            for i in range(1, complaints + 1):
                copy.write_row((i, f"department:{ids[i % len(ids)]}",
                                json.dumps({"kind": "new_case", "ticket_no": f"B{i:011d}", "text": "新案件"}),
                                "sent", NOW, NOW))
        cur.execute("SELECT setval('complaints_id_seq', %s)", (complaints,))
        cur.execute("SELECT setval('complainants_id_seq', %s)", (complaints,))
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    engine.dispose()
    print(f"loaded {complaints:,} complaints ({OPEN_SHARE:.0%} open), {2 * complaints:,} events, "
          f"{complaints:,} inbox rows in {time.perf_counter() - started:.1f} s")
    return departments


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def timed(call) -> list[float]:
    for _ in range(WARMUP):
        call()
    samples = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def page_bench(url: str, departments: dict[int, str]) -> list[tuple[str, float, float, float]]:
    """(page, p50 ms, p95 ms, baseline p95 ms) for each page measured."""
    app = create_app(Settings(secret_key="bench", public_base_url="https://bench.test",
                              database=DatabaseSettings(url=url)))
    engine = services(app).engine
    with engine.connect() as conn:
        busiest, county = conn.execute(text(
            "SELECT department_id, jurisdiction_code FROM complaints WHERE status <> 'closed' "
            "GROUP BY department_id, jurisdiction_code ORDER BY count(*) DESC LIMIT 1")).one()
        theirs = [r[0] for r in conn.execute(text(
            "SELECT ticket_no FROM complaints WHERE department_id = :d AND status <> 'closed' LIMIT 500"),
            {"d": busiest})]
        in_county = [d for d, code in departments.items() if code == county]
        anyone = [r[0] for r in conn.execute(text(
            "SELECT ticket_no FROM complaints TABLESAMPLE SYSTEM (1) LIMIT 500"))]
    with services(app).sessions.begin() as session:
        for name, role, dept, code in (("b-staff", "staff", busiest, None), ("b-county", "county_supervisor", None, county),
                                       ("b-admin", "admin", None, None)):
            create_user(session, NewUser(name, name, PASSWORD, role, dept, code))
    clients = {}
    for name in ("b-staff", "b-county", "b-admin"):
        clients[name] = app.test_client()
        assert login(clients[name], name, PASSWORD).status_code == 303
    rng = random.Random(3)

    def get(client, path):
        response = client.get(path)
        assert response.status_code == 200, (path, response.status_code)

    raw = engine.raw_connection()
    cur = raw.cursor()

    def bare_queue(department_ids=None, overdue=False):
        where = ["status <> 'closed'"] + (["department_id = ANY(%(d)s)"] if department_ids else []) + \
            (["next_due_at < %(now)s"] if overdue else [])
        cur.execute(f"SELECT id, ticket_no, status, next_due_at, deadlines FROM complaints WHERE {' AND '.join(where)} "
                    "ORDER BY next_due_at ASC NULLS LAST, id LIMIT 51", {"d": department_ids, "now": NOW})
        cur.fetchall()

    def bare_case(tickets):
        cur.execute("SELECT * FROM complaints WHERE ticket_no = %s", (rng.choice(tickets),))
        cur.fetchall()

    staff, county_client, admin = clients["b-staff"], clients["b-county"], clients["b-admin"]
    page_two = html.unescape(re.search(r'href="(/console/\?after=[^"]+)"', staff.get("/console/").get_data(
        as_text=True)).group(1))
    cases = [
        ("queue, department user", lambda: get(staff, "/console/"), lambda: bare_queue([busiest])),
        ("queue, department user, page 2", lambda: get(staff, page_two), lambda: bare_queue([busiest])),
        ("queue, department user, overdue", lambda: get(staff, "/console/?overdue=1"),
         lambda: bare_queue([busiest], overdue=True)),
        ("queue, county supervisor", lambda: get(county_client, "/console/"), lambda: bare_queue(in_county)),
        ("queue, city administrator", lambda: get(admin, "/console/"), lambda: bare_queue()),
        ("queue, city administrator, overdue", lambda: get(admin, "/console/?overdue=1"),
         lambda: bare_queue(overdue=True)),
        ("case page, department user", lambda: get(staff, f"/console/cases/{rng.choice(theirs)}"),
         lambda: bare_case(theirs)),
        ("case page, city administrator", lambda: get(admin, f"/console/cases/{rng.choice(anyone)}"),
         lambda: bare_case(anyone)),
    ]
    results = []
    for name, ours, bare in cases:
        mine = timed(ours)
        base = timed(bare)
        results.append((name, statistics.median(mine), _p95(mine), _p95(base)))
    raw.close()
    engine.dispose()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/qingling_console_bench")
    parser.add_argument("--complaints", type=int, default=1_000_000)
    figures.add_option(parser)
    args = parser.parse_args()
    recreate_postgres_database(args.url)
    try:
        departments = load(args.url, args.complaints)
        rows = page_bench(args.url, departments)
        print(f"\n{'page':40} {'p50 ms':>8} {'p95 ms':>8} {'bare p95':>9} {'ratio':>7}  target")
        for name, p50, p95, base in rows:
            verdict = "pass" if p95 < 100 else "FAIL"
            print(f"{name:40} {p50:8.1f} {p95:8.1f} {base:9.2f} {p95 / base:7.1f}  p95 < 100 ms: {verdict}")
        figures.write(args.json, [figures.Figure("console", f"{name} p95", p95, "ms", "<", 100)
                                  for name, _p50, p95, _base in rows])
    finally:
        recreate_postgres_database(args.url, create=False)


if __name__ == "__main__":
    main()
