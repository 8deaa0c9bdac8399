"""Console bench on PostgreSQL over a million complaints: the queue and case pages, the supervision dashboard
and the ledger export.

    python bench/console.py                       # 1,000,000 complaints, a 100,000-row ledger
    python bench/console.py --complaints 200000   # a quicker run
    python bench/console.py --keep / --reuse      # load once, measure again

Targets: queue pages (a department user, a county supervisor, the city administrator) and case pages p95 under
100 ms server-side (issue 7), against a bare indexed SELECT of the same page's rows; the dashboard under 500 ms
for the city over the default 30 days and over the whole year, and for a county supervisor (issue 8); the
ledger of 100,000 rows as XLSX and CSV asked for and downloaded over HTTP from gunicorn run as the README says
(`gunicorn -c gunicorn.conf.py`) and written by the worker's export step, with its own peak memory growth under 50 MB
(issue 15) and its ratio to a bare `COPY (SELECT ...) TO STDOUT` of the same rows. Pages are rendered by the real
app through Flask's test client: routing, scope, queries, clocks, templates, no network. The bench creates its
own database and drops it at the end. Each measure is a function of its own; `main` prints one table.
"""
from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import requests
from sqlalchemy import select, text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import figures  # noqa: E402
from bench.bulk import copy_rows  # noqa: E402
from bench.harness import ROOT, free_port  # noqa: E402
from handlers import create_app  # noqa: E402
from intake.case.clocks import deadline_entry  # noqa: E402
from intake.foundation import encryption  # noqa: E402
from intake.foundation.db import make_engine, recreate_postgres_database  # noqa: E402
from intake.foundation.models import Department, Jurisdiction  # noqa: E402
from intake.foundation.settings import DatabaseSettings, Settings  # noqa: E402
from intake.people.staff import NewUser, create_user  # noqa: E402
from intake.registry.directory import department, load_directory  # noqa: E402
from intake.runtime.sessions import make_session_factory  # noqa: E402
from intake.supervision import tallies  # noqa: E402
from migrations import upgrade  # noqa: E402
from tests.helpers import login  # noqa: E402

NOW = datetime.now(timezone.utc)
YEAR = 365
SECRET_KEY = "bench-secret-key-" + "k" * 16  # the app's data key is derived from it: the rows are encrypted under the same
PASSWORD = "bench-pass-123"
COUNTY = "371302"
USERS = {"staff": "bench_staff", "county": "bench_county", "admin": "bench_admin"}
INDUSTRIES = (("房屋建筑", "housing"), ("市政", "housing"), ("交通", "transport"), ("水利", "water"), ("其他", "hrss"))
INVESTMENTS = ("government", "soe", "private", "private", "private")
OPEN_STATUSES = ("routed", "acknowledged", "accepted", "in_progress", "resolved")
PAGE_REPEATS, PAGE_WARMUP = 200, 20
COMPLAINT_COLS = ("id", "ticket_no", "channel", "complainant_id", "anonymous", "free_text", "claim", "priority",
                  "supervised", "status", "department_id", "site_id", "jurisdiction_code", "workers", "amount",
                  "amount_recovered", "satisfied", "deadlines", "next_due_at", "version", "created_at", "updated_at")
FACT_COLS = ("complaint_id", "employer", "acknowledged_on_time", "contact_on_time", "accept_on_time", "reply_on_time",
             "accepted_at", "resolved_at", "closed_at")
EVENT_COLS = ("complaint_id", "kind", "from_status", "to_status", "actor", "data", "created_at")
OUTBOX_COLS = ("complaint_id", "destination", "payload", "state", "next_try_at", "created_at")


def _data(complaints: int, sites: list[tuple[int, str, str, str]], departments: dict[tuple[str, str], int]):
    """(complaint, facts, events, inbox notice) rows: a year of complaints, most closed, some open and overdue."""
    rng = random.Random(8)
    for i in range(1, complaints + 1):
        site_id, county, industry, _investment = sites[rng.randrange(len(sites))]
        dept = departments[(county, dict(INDUSTRIES)[industry])]
        created = NOW - timedelta(days=YEAR * i / complaints, minutes=rng.randrange(600))
        closed = rng.random() < 0.85
        status = "closed" if closed else rng.choice(OPEN_STATUSES)
        due = None if closed else NOW + timedelta(hours=rng.randrange(-72, 240))
        supervised = rng.random() < 0.005
        deadlines = "{}" if due is None else json.dumps(
            {"supervise" if supervised else "reply": deadline_entry(created, created + (due - created) * 0.75, due,
                                                                     working=True)})
        amount = rng.randrange(2, 200) * 1000
        ticket = f"B{i:011d}"
        complaint = (i, ticket, "web", 1, False, "老板拖欠工资三个月", "{}",
                     "urgent" if rng.random() < 0.01 else "normal", supervised, status, dept, site_id, county,
                     rng.randrange(1, 30), amount, amount if closed else 0, (rng.random() < 0.9) if closed else None,
                     deadlines, due, 3, created, created)
        on_time = lambda: rng.random() < 0.9  # noqa: E731
        closed_at = created + timedelta(days=rng.randrange(1, 20)) if closed else None
        facts = (i, f"临沂第{rng.randrange(5000)}建筑劳务有限公司", on_time(), on_time(), on_time(),
                 on_time() if closed else None, created + timedelta(days=1), closed_at, closed_at)
        events = [(i, "received", None, "received", "worker:web", "{}", created),
                  (i, "routed", "received", "routed", "system:router", "{}", created)]
        if closed:
            events.append((i, "closed", "resolved", "closed", "worker", "{}", closed_at))
        notice = (i, f"department:{dept}", json.dumps({"kind": "new_case", "ticket_no": ticket, "text": "新案件"}),
                  "sent", created, created)
        yield complaint, facts, events, notice


def load(url: str, complaints: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine)
    with sessions.begin() as session:
        load_directory(session)
        counties = [j.code for j in session.scalars(select(Jurisdiction).where(Jurisdiction.parent_code.is_not(None)))]
        departments = {(d.jurisdiction_code, d.kind): d.id for d in session.scalars(select(Department))}
        create_user(session, NewUser(USERS["staff"], "bench", PASSWORD, "staff",
                                     department_id=department(session, COUNTY, "housing").id))
        create_user(session, NewUser(USERS["county"], "bench", PASSWORD, "county_supervisor",
                                     jurisdiction_code=COUNTY))
        create_user(session, NewUser(USERS["admin"], "bench", PASSWORD, "admin"))
    rng = random.Random(3)
    sites = [(n, rng.choice(counties), rng.choice(INDUSTRIES)[0], rng.choice(INVESTMENTS)) for n in range(1, 2001)]
    encryption.configure([encryption.derived_data_key(SECRET_KEY)])
    phone = "13900000000"  # one ciphertext for every complaint: encrypting a million takes longer than the bench
    started = time.perf_counter()
    stamp = NOW - timedelta(days=YEAR)
    copy_rows(engine, [
        ("complainants", ("id", "name", "phone", "phone_hash", "created_at"),
         [(1, "工人", encryption.encrypt(phone), encryption.lookup_hash(phone), stamp)]),
        ("sites", ("id", "code", "name", "jurisdiction_code", "industry", "investment", "public_token", "created_at",
                   "updated_at"),
         [(n, f"BS{n:05d}", f"临沂项目{n}", county, industry, investment, f"bench-token-{n}", stamp, stamp)
          for n, county, industry, investment in sites]),
        ("complaints", COMPLAINT_COLS, (row[0] for row in _data(complaints, sites, departments))),
        ("case_facts", FACT_COLS, (row[1] for row in _data(complaints, sites, departments))),
        ("events", EVENT_COLS, (e for row in _data(complaints, sites, departments) for e in row[2])),
        ("outbox", OUTBOX_COLS, (row[3] for row in _data(complaints, sites, departments))),
    ], sequences={"complaints_id_seq": complaints, "sites_id_seq": len(sites)})
    print(f"loaded {complaints:,} complaints with their facts, timelines and inbox notices in "
          f"{time.perf_counter() - started:.0f} s")
    started = time.perf_counter()
    with engine.begin() as conn:  # what the migration does for the cases already there
        tallies.rebuild(conn)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")  # as autovacuum leaves a database that has settled
    print(f"counted their daily tallies in {time.perf_counter() - started:.0f} s")
    engine.dispose()


def _app(url: str):
    return create_app(Settings(secret_key=SECRET_KEY, public_base_url="https://bench.test",
                               database=DatabaseSettings(url=url)))


def _client(app, role: str):
    client = app.test_client()
    assert login(client, USERS[role], PASSWORD).status_code == 303
    return client


def _p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1]


def _timed(call) -> list[float]:
    for _ in range(PAGE_WARMUP):
        call()
    samples = []
    for _ in range(PAGE_REPEATS):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def pages(url: str) -> list[tuple[str, float, float, float]]:
    """(page, p50 ms, p95 ms, bare SELECT p95 ms) for the queue and case pages of each role."""
    app = _app(url)
    engine = make_engine(url)
    with engine.connect() as conn:
        housing, = conn.execute(text("SELECT id FROM departments WHERE jurisdiction_code = :c AND kind = 'housing'"),
                                {"c": COUNTY}).one()
        in_county = [r[0] for r in conn.execute(text("SELECT id FROM departments WHERE jurisdiction_code = :c"),
                                                {"c": COUNTY})]
        theirs = [r[0] for r in conn.execute(text(
            "SELECT ticket_no FROM complaints WHERE department_id = :d AND status <> 'closed' LIMIT 500"),
            {"d": housing})]
        anyone = [r[0] for r in conn.execute(text("SELECT ticket_no FROM complaints TABLESAMPLE SYSTEM (1) LIMIT 500"))]
    staff, county, admin = (_client(app, role) for role in ("staff", "county", "admin"))
    rng = random.Random(3)
    page_two = html.unescape(re.search(r'href="(/console/\?after=[^"]+)"',
                                       staff.get("/console/").get_data(as_text=True)).group(1))

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

    measures = [
        ("queue, department user", lambda: get(staff, "/console/"), lambda: bare_queue([housing])),
        ("queue, department user, page 2", lambda: get(staff, page_two), lambda: bare_queue([housing])),
        ("queue, department user, overdue", lambda: get(staff, "/console/?overdue=1"),
         lambda: bare_queue([housing], overdue=True)),
        ("queue, county supervisor", lambda: get(county, "/console/"), lambda: bare_queue(in_county)),
        ("queue, city administrator", lambda: get(admin, "/console/"), lambda: bare_queue()),
        ("queue, city administrator, overdue", lambda: get(admin, "/console/?overdue=1"),
         lambda: bare_queue(overdue=True)),
        ("case page, department user", lambda: get(staff, f"/console/cases/{rng.choice(theirs)}"),
         lambda: bare_case(theirs)),
        ("case page, city administrator", lambda: get(admin, f"/console/cases/{rng.choice(anyone)}"),
         lambda: bare_case(anyone)),
    ]
    results = []
    for name, ours, bare in measures:
        mine, base = _timed(ours), _timed(bare)
        results.append((name, statistics.median(mine), _p95(mine), _p95(base)))
    raw.close()
    engine.dispose()
    return results


def dashboard_ms(url: str, role: str, repeats: int = 7, **args) -> float:
    """Median time of the whole dashboard request, in-process (server side: no network, no browser)."""
    client = _client(_app(url), role)
    assert client.get("/console/dashboard", query_string=args).status_code == 200  # warm
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        response = client.get("/console/dashboard", query_string=args)
        timings.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return statistics.median(timings)


# The worker's export step in a process of its own, as `qingling worker` runs it: its peak memory growth while
# writing the file, in kB, is printed (the imports and the app's setup come before the baseline).
EXPORT_STEP = """
import sys
from handlers import create_app
from handlers.console.ledger import ledger_exporter
from handlers.runtime import services
from intake.foundation.models import utcnow

app = create_app()
exporter, sessions = ledger_exporter(app), services(app).sessions

def kb(key):
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(key))

before = kb("VmRSS")
with open("/proc/self/clear_refs", "w") as clear:
    clear.write("5")
with sessions.begin() as session:
    exporter.produce(session, exporter.claim_next(session), utcnow())
print(kb("VmHWM") - before)
"""


def export(url: str, path: str, args: dict) -> tuple[float, int, float]:
    """(seconds, bytes, peak memory growth MB) of one export as staff get it: asked for over HTTP from gunicorn
    run with the repository's gunicorn.conf.py, logged in as the city administrator; written by the worker's
    export step (its own process; the growth is the export's, not the imports'); downloaded over HTTP."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "QINGLING_DATABASE_URL": url, "QINGLING_SECRET_KEY": SECRET_KEY,
           "QINGLING_PUBLIC_BASE_URL": base}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}",
         "--control-socket", str(Path(tempfile.gettempdir()) / f"qingling-bench-{port}.ctl"), "handlers:create_app()"],
        env=env, stderr=open(os.environ.get("BENCH_GUNICORN_LOG", os.devnull), "w"))
    try:
        client = requests.Session()
        for _ in range(300):
            try:
                page = client.get(base + "/console/login", timeout=60)
                break
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or still importing
                time.sleep(0.1)
        token = re.search(r'name="csrf_token" (?:type="hidden" )?value="([^"]+)"', page.text).group(1)
        client.post(base + "/console/login", data={"username": USERS["admin"], "password": PASSWORD,
                                                   "csrf_token": token}, timeout=30).raise_for_status()
        started = time.perf_counter()
        asked = client.get(base + path, params=args, timeout=60, allow_redirects=False)
        assert asked.status_code == 303, asked.status_code
        step = subprocess.run([sys.executable, "-c", EXPORT_STEP], env=env, cwd=ROOT, capture_output=True, text=True,
                              check=True)
        response = client.get(base + asked.headers["Location"] + "/file", timeout=600)
        seconds = time.perf_counter() - started
        assert response.status_code == 200, response.status_code
        return seconds, len(response.content), int(step.stdout.split()[-1]) / 1024
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


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
        moment = conn.scalar(text("SELECT created_at FROM complaints ORDER BY created_at DESC OFFSET :n LIMIT 1"),
                             {"n": rows})
    engine.dispose()
    local = moment.astimezone(timezone(timedelta(hours=8)))
    return datetime(local.year, local.month, local.day, tzinfo=local.tzinfo) + timedelta(days=1)


def supervision(url: str, ledger_rows: int) -> list[figures.Figure]:
    """The dashboard and the ledger exports, as figures with their targets."""
    found = []
    year = {"start": (NOW - timedelta(days=YEAR)).date().isoformat(), "end": NOW.date().isoformat()}
    for label, role, query in (("dashboard, city, last 30 days", "admin", {}),
                               ("dashboard, city, whole year", "admin", year),
                               ("dashboard, county, whole year", "county", year)):
        found.append(figures.Figure("console", label, dashboard_ms(url, role, **query), "ms", "<", 500))
    start = ledger_start(url, ledger_rows)
    filters = {"start": start.date().isoformat()}
    bare, rows = bare_copy_s(url, start)
    found.append(figures.Figure("console", f"bare COPY TO STDOUT, {rows:,} rows", bare, "s"))
    for fmt in ("xlsx", "csv"):
        seconds, size, rss = export(url, f"/console/ledger.{fmt}", filters)
        found += [figures.Figure("console", f"ledger.{fmt}, {rows:,} rows ({size / 1e6:.0f} MB)", seconds, "s",
                                 *(("<", 30) if fmt == "xlsx" else ())),
                  figures.Figure("console", f"ledger.{fmt} written by the worker: peak memory growth of the "
                                 "export", rss, "MB", "<", 50),
                  figures.Figure("console", f"ledger.{fmt} ratio to bare COPY", seconds / bare, "x")]
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/qingling_console_bench")
    parser.add_argument("--complaints", type=int, default=1_000_000)
    parser.add_argument("--ledger-rows", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the loaded database for another run")
    parser.add_argument("--reuse", action="store_true", help="use the database a --keep run left")
    figures.add_option(parser)
    args = parser.parse_args()
    url = args.url
    if not args.reuse:
        recreate_postgres_database(url)
        load(url, args.complaints)
    try:
        rows = pages(url)
        print(f"\n{'page':40} {'p50 ms':>8} {'p95 ms':>8} {'bare p95':>9} {'ratio':>7}  target")
        for name, p50, p95, base in rows:
            print(f"{name:40} {p50:8.1f} {p95:8.1f} {base:9.2f} {p95 / base:7.1f}  p95 < 100 ms: "
                  f"{'pass' if p95 < 100 else 'FAIL'}")
        table = supervision(url, args.ledger_rows)
        width = max(len(f.name) for f in table)
        print(f"\n{'measure':<{width}}  {'result':>12}  target")
        for f in table:
            target = f"{f.check} {f.target:g} {f.unit}" if f.check else ""
            print(f"{f.name:<{width}}  {f.value:>9.1f} {f.unit:<2}  {target}")
        figures.write(args.json, [figures.Figure("console", f"{name} p95", p95, "ms", "<", 100)
                                  for name, _p50, p95, _base in rows] + table)
    finally:
        if not args.keep:
            recreate_postgres_database(url, create=False)


if __name__ == "__main__":
    main()
