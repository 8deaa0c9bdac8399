"""Console bench on PostgreSQL: the supervision dashboard and the ledger export over a million complaints.

    python bench/console.py                       # 1,000,000 complaints, a 100,000-row ledger
    python bench/console.py --complaints 200000   # a quicker run

Targets (issue 8): the dashboard under 500 ms server-side (the whole request: figures, lists, template) for
the city administrator over the default 30 days and over the whole year, and for a county supervisor; the
ledger of 100,000 rows as XLSX under 30 s with a peak RSS under 300 MB, measured in a child process (the
export alone), with its ratio to a bare `COPY (SELECT ...) TO STDOUT` of the same rows in the same run.
The bench creates its own database (qingling_sup_bench by default) and drops it at the end. Each measure is
a function of its own; `main` runs them all and prints one table.
"""
from __future__ import annotations

import argparse
import multiprocessing
import random
import resource
import statistics
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bulk import copy_rows  # noqa: E402
from handlers import create_app  # noqa: E402
from intake.db import make_engine, make_session_factory, recreate_postgres_database  # noqa: E402
from intake.directory import load_directory  # noqa: E402
from intake.models import Department, Jurisdiction  # noqa: E402
from intake.settings import DatabaseSettings, Settings  # noqa: E402
from intake.staff import NewUser, create_user  # noqa: E402
from migrations import upgrade  # noqa: E402
from sqlalchemy import select, text  # noqa: E402
from tests.conftest import csrf_token  # noqa: E402

NOW = datetime.now(timezone.utc)
YEAR = 365
PASSWORD = "bench-pass-123"
INDUSTRIES = (("房屋建筑", "housing"), ("市政", "housing"), ("交通", "transport"), ("水利", "water"), ("其他", "hrss"))
INVESTMENTS = ("government", "soe", "private", "private", "private")
OPEN_STATUSES = ("routed", "acknowledged", "accepted", "in_progress", "resolved")
COMPLAINT_COLS = ("id", "ticket_no", "channel", "complainant_id", "anonymous", "free_text", "claim", "priority",
                  "supervised", "status", "department_id", "site_id", "jurisdiction_code", "workers", "amount",
                  "amount_recovered", "satisfied", "deadlines", "next_due_at", "version", "created_at", "updated_at")
FACT_COLS = ("complaint_id", "employer", "acknowledged_on_time", "contact_on_time", "accept_on_time", "reply_on_time",
             "accepted_at", "resolved_at", "closed_at")
EVENT_COLS = ("complaint_id", "kind", "from_status", "to_status", "actor", "data", "created_at")


def _data(complaints: int, sites: list[tuple[int, str, str, str]], departments: dict[tuple[str, str], int]):
    """(complaint, facts, events) rows: a year of complaints, most closed, some open and overdue."""
    rng = random.Random(8)
    for i in range(1, complaints + 1):
        site_id, county, industry, _investment = sites[rng.randrange(len(sites))]
        kind = dict(INDUSTRIES)[industry]
        created = NOW - timedelta(days=YEAR * i / complaints, minutes=rng.randrange(600))
        closed = rng.random() < 0.85
        status = "closed" if closed else rng.choice(OPEN_STATUSES)
        due = None if closed else NOW + timedelta(hours=rng.randrange(-72, 240))
        supervised = rng.random() < 0.005
        deadlines = "{}" if due is None else (
            '{"supervise": {"due": "%s"}}' % due.isoformat() if supervised else '{"reply": {"due": "%s"}}' % due.isoformat())
        amount = rng.randrange(2, 200) * 1000
        workers = rng.randrange(1, 30)
        complaint = (i, f"B{i:011d}", "web", 1, False, "", "{}", "urgent" if rng.random() < 0.01 else "normal",
                     supervised, status, departments[(county, kind)], site_id, county, workers, amount,
                     amount if closed else 0, (rng.random() < 0.9) if closed else None, deadlines, due, 3, created,
                     created)
        on_time = lambda: rng.random() < 0.9  # noqa: E731
        closed_at = created + timedelta(days=rng.randrange(1, 20)) if closed else None
        facts = (i, f"临沂第{rng.randrange(5000)}建筑劳务有限公司", on_time(), on_time(), on_time(),
                 on_time() if closed else None, created + timedelta(days=1), closed_at, closed_at)
        events = [(i, "closed", "resolved", "closed", "worker", "{}", closed_at)] if closed else []
        yield complaint, facts, events


def load(url: str, complaints: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        load_directory(session)
        counties = [j.code for j in session.scalars(select(Jurisdiction).where(Jurisdiction.parent_code.is_not(None)))]
        departments = {(d.jurisdiction_code, d.kind): d.id for d in session.scalars(select(Department))}
        create_user(session, NewUser("bench_admin", "bench", PASSWORD, "admin"))
        create_user(session, NewUser("bench_county", "bench", PASSWORD, "county_supervisor",
                                     jurisdiction_code="371302"))
    rng = random.Random(3)
    sites = [(n, rng.choice(counties), rng.choice(INDUSTRIES)[0], rng.choice(INVESTMENTS)) for n in range(1, 2001)]
    started = time.perf_counter()
    stamp = NOW - timedelta(days=YEAR)
    copy_rows(engine, [
        ("complainants", ("id", "phone", "created_at"), [(1, "13900000000", stamp)]),
        ("sites", ("id", "code", "name", "jurisdiction_code", "industry", "investment", "public_token", "created_at",
                   "updated_at"),
         [(n, f"BS{n:05d}", f"临沂项目{n}", county, industry, investment, f"bench-token-{n}", stamp, stamp)
          for n, county, industry, investment in sites]),
        ("complaints", COMPLAINT_COLS, (c for c, _, _ in _data(complaints, sites, departments))),
        ("case_facts", FACT_COLS, (f for _, f, _ in _data(complaints, sites, departments))),
        ("events", EVENT_COLS, (e for _, _, es in _data(complaints, sites, departments) for e in es)),
    ], sequences={"complaints_id_seq": complaints, "sites_id_seq": len(sites)})
    print(f"loaded {complaints:,} complaints with their facts in {time.perf_counter() - started:.0f} s")
    engine.dispose()


def _client(url: str, username: str):
    app = create_app(Settings(secret_key="bench-secret-key", database=DatabaseSettings(url=url)))
    client = app.test_client()
    page = client.get("/console/login")
    client.post("/console/login", data={"username": username, "password": PASSWORD,
                                        "csrf_token": csrf_token(page.get_data(as_text=True))})
    return client


def dashboard_ms(url: str, username: str, repeats: int = 7, **args) -> float:
    """Median time of the whole dashboard request, in-process (server side: no network, no browser)."""
    client = _client(url, username)
    assert client.get("/console/dashboard", query_string=args).status_code == 200  # warm
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get("/console/dashboard", query_string=args)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return statistics.median(timings)


def _export(url: str, path: str, args: dict, queue) -> None:
    client = _client(url, "bench_admin")
    started = time.perf_counter()
    response = client.get(path, query_string=args)
    size = len(response.data)
    queue.put((time.perf_counter() - started, size, response.status_code))


def export(url: str, path: str, args: dict) -> tuple[float, int, float]:
    """(seconds, bytes, peak RSS MB) of one export in a fresh child process."""
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_export, args=(url, path, args, queue))
    child.start()
    seconds, size, status = queue.get()
    child.join()
    assert status == 200, status
    return seconds, size, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def bare_copy_s(url: str, start: datetime) -> tuple[float, int]:
    """A bare COPY of the same complaints joined to their facts, sites and departments, read and discarded."""
    engine = make_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        started, rows = time.perf_counter(), 0
        query = ("COPY (SELECT c.*, f.*, s.name, s.industry, d.name FROM complaints c "
                 "LEFT JOIN case_facts f ON f.complaint_id = c.id LEFT JOIN sites s ON s.id = c.site_id "
                 "LEFT JOIN departments d ON d.id = c.department_id "
                 f"WHERE c.created_at >= '{start.isoformat()}' ORDER BY c.id) TO STDOUT")
        with cur.copy(query) as copy:
            for _ in copy.rows():
                rows += 1
        return time.perf_counter() - started, rows
    finally:
        raw.close()
        engine.dispose()


def ledger_start(url: str, rows: int) -> datetime:
    """The local day from which the newest `rows` complaints were received (a date filter as staff set it)."""
    engine = make_engine(url)
    with engine.connect() as conn:
        moment = conn.scalar(text("SELECT created_at FROM complaints ORDER BY created_at DESC OFFSET :n LIMIT 1"), {"n": rows})
    engine.dispose()
    local = moment.astimezone(timezone(timedelta(hours=8)))
    return datetime(local.year, local.month, local.day, tzinfo=local.tzinfo) + timedelta(days=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/qingling_sup_bench")
    parser.add_argument("--complaints", type=int, default=1_000_000)
    parser.add_argument("--ledger-rows", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the loaded database for another run")
    parser.add_argument("--reuse", action="store_true", help="use the database a --keep run left")
    args = parser.parse_args()
    url = args.url
    if not args.reuse:
        recreate_postgres_database(url)
        load(url, args.complaints)
    try:
        table = []
        year = {"start": (NOW - timedelta(days=YEAR)).date().isoformat(), "end": NOW.date().isoformat()}
        for label, user, query in (("dashboard, city, last 30 days", "bench_admin", {}),
                                   ("dashboard, city, whole year", "bench_admin", year),
                                   ("dashboard, county, whole year", "bench_county", year)):
            table.append((label, f"{dashboard_ms(url, user, **query):.0f} ms", "< 500 ms"))
        start = ledger_start(url, args.ledger_rows)
        filters = {"start": start.date().isoformat()}
        bare, rows = bare_copy_s(url, start)
        table.append((f"bare COPY TO STDOUT, {rows:,} rows", f"{bare:.2f} s", "baseline"))
        for fmt in ("xlsx", "csv"):
            seconds, size, rss = export(url, f"/console/ledger.{fmt}", filters)
            table.append((f"ledger.{fmt}, {rows:,} rows ({size / 1e6:.0f} MB)", f"{seconds:.1f} s",
                          "< 30 s" if fmt == "xlsx" else ""))
            table.append((f"ledger.{fmt} peak RSS of the exporting process", f"{rss:.0f} MB", "< 300 MB"))
            table.append((f"ledger.{fmt} ratio to bare COPY", f"{seconds / bare:.1f}x", ""))
        width = max(len(r[0]) for r in table)
        print(f"\n{'measure':<{width}}  {'result':>10}  target")
        for label, result, target in table:
            print(f"{label:<{width}}  {result:>10}  {target}")
    finally:
        if not args.keep:
            recreate_postgres_database(url, create=False)


if __name__ == "__main__":
    main()
