"""Timer bench: an idle pass over many open complaints, and due timers fired by several worker processes.

    python bench/timers.py                              # PostgreSQL, 1,000,000 open complaints
    python bench/timers.py --complaints 100000          # a quicker run
    python bench/timers.py --sqlite --complaints 100000 # SQLite file, one worker

Targets (issue): an idle pass under 20 ms; 10,000 due timers fired at 1,000/s or more by 2 workers, zero
duplicate effects. The baseline is a bare `FOR UPDATE SKIP LOCKED` + UPDATE loop over the same rows, in the
same run, so the ratio says what our code (version check, event, outbox rows) costs on this machine.
The bench creates its own database (qingling_bench) or file and drops it at the end.
"""
from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import figures  # noqa: E402
from bench.bulk import copy_rows  # noqa: E402
from intake.foundation import encryption  # noqa: E402
from intake.foundation.calendar import WorkingCalendar  # noqa: E402
from intake.foundation.db import make_engine, recreate_postgres_database  # noqa: E402
from intake.foundation.settings import Settings  # noqa: E402
from intake.registry.directory import load_directory  # noqa: E402
from intake.runtime.sessions import make_session_factory  # noqa: E402
from intake.runtime.worker import run_once  # noqa: E402
from migrations import upgrade  # noqa: E402

NOW = datetime(2024, 6, 3, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 in Shanghai
START = NOW - timedelta(days=120)
FAR = NOW + timedelta(days=365)
CAL = WorkingCalendar.from_config({})
PHONE = "13900000000"
# The bench is its own composition root (no app factory): the workers it starts read the complainant's phone.
encryption.configure([encryption.derived_data_key(Settings().secret_key)])


def _rows(complaints: int, due: int, department_id: int):
    """(complaint row, timer rows): every complaint has two far-off timers; the first `due` one due now too."""
    stamp = START.isoformat()
    for i in range(1, complaints + 1):
        complaint = (i, f"B{i:09d}", "web", 1, False, "", "{}", "normal", False, "routed", department_id, 1,
                     stamp, stamp)
        timers = [(i, "acknowledge:escalate:1", FAR.isoformat(), 1, "pending", stamp),
                  (i, "reply:overdue", FAR.isoformat(), 1, "pending", stamp)]
        if i <= due:
            timers.append((i, "acknowledge:overdue", NOW.isoformat(), 1, "pending", stamp))
        yield complaint, timers


COMPLAINT_COLS = ("id", "ticket_no", "channel", "complainant_id", "anonymous", "free_text", "claim", "priority",
                  "supervised", "status", "department_id", "version", "created_at", "updated_at")
TIMER_COLS = ("complaint_id", "clock", "due_at", "version", "state", "created_at")


def load(url: str, complaints: int, due: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine).begin() as session:
        load_directory(session)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO complainants (id, phone, phone_hash, created_at) VALUES (1, :p, :h, :t)"),
                     {"p": encryption.encrypt(PHONE), "h": encryption.lookup_hash(PHONE),
                      "t": START if engine.dialect.name == "postgresql" else START.replace(tzinfo=None)})
        department_id = conn.scalar(text("SELECT id FROM departments WHERE jurisdiction_code='371302' "
                                         "AND kind='hrss'"))
    started = time.perf_counter()
    if engine.dialect.name == "postgresql":
        copy_rows(engine, [("complaints", COMPLAINT_COLS, (c for c, _ in _rows(complaints, due, department_id))),
                           ("timers", TIMER_COLS, (t for _, ts in _rows(complaints, due, department_id) for t in ts))],
                  sequences={"complaints_id_seq": complaints})
    else:
        def naive(rows):  # the SQLite column stores naive UTC text
            return [tuple(v.replace("+00:00", "").replace("T", " ") if isinstance(v, str) and "+00:00" in v else v
                          for v in r) for r in rows]

        with engine.begin() as conn:
            batch_c, batch_t = [], []
            for complaint, timers in _rows(complaints, due, department_id):
                batch_c.append(complaint)
                batch_t += timers
                if len(batch_c) == 10_000:
                    _sqlite_insert(conn, naive(batch_c), naive(batch_t))
                    batch_c, batch_t = [], []
            _sqlite_insert(conn, naive(batch_c), naive(batch_t))
            conn.exec_driver_sql("ANALYZE")
    print(f"loaded {complaints:,} complaints, {2 * complaints + due:,} timers in {time.perf_counter() - started:.1f} s")
    engine.dispose()


def _sqlite_insert(conn, complaints, timers) -> None:
    if not complaints:
        return
    cur = conn.connection.cursor()
    cur.executemany(f"INSERT INTO complaints ({', '.join(COMPLAINT_COLS)}) VALUES ({', '.join('?' * len(COMPLAINT_COLS))})",
                    complaints)
    cur.executemany(f"INSERT INTO timers ({', '.join(TIMER_COLS)}) VALUES ({', '.join('?' * len(TIMER_COLS))})",
                    timers)


def idle_pass_ms(url: str, repeats: int = 30) -> float:
    """Median time of a whole pass (timers, then outbox) when nothing is due."""
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    settings = Settings()
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        report = run_once(sessions, {"sms": None}, CAL, settings, now=NOW - timedelta(days=1))
        timings.append((time.perf_counter() - started) * 1000)
        assert report.idle
    engine.dispose()
    return statistics.median(timings)


def _our_worker(url: str, barrier) -> int:
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    barrier.wait()
    fired = run_once(sessions, {}, CAL, Settings(), now=NOW).fired
    engine.dispose()
    return fired


def _bare_worker(url: str, barrier) -> int:
    engine = make_engine(url)
    raw = engine.raw_connection()
    cur, fired = raw.cursor(), 0
    pg = engine.dialect.name == "postgresql"
    barrier.wait()
    while True:
        lock = " FOR UPDATE SKIP LOCKED" if pg else ""
        param = "%s" if pg else "?"
        cur.execute(f"SELECT id FROM timers WHERE state = 'pending' AND due_at <= {param} ORDER BY due_at "
                    f"LIMIT 200{lock}", (NOW if pg else NOW.replace(tzinfo=None).isoformat(" "),))
        ids = [r[0] for r in cur.fetchall()]
        if not ids:
            break
        for timer_id in ids:
            cur.execute(f"UPDATE timers SET state = 'fired', fired_at = {param} WHERE id = {param}",
                        (NOW if pg else NOW.replace(tzinfo=None).isoformat(" "), timer_id))
        raw.commit()
        fired += len(ids)
    raw.close()
    engine.dispose()
    return fired


def race(url: str, target, workers: int) -> tuple[int, float]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Manager().Barrier(workers + 1)
    with ctx.Pool(workers) as pool:
        results = [pool.apply_async(target, (url, barrier)) for _ in range(workers)]
        barrier.wait()
        started = time.perf_counter()
        fired = sum(r.get() for r in results)
        elapsed = time.perf_counter() - started
    return fired, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/qingling_bench")
    parser.add_argument("--sqlite", action="store_true", help="bench a SQLite file instead (one worker)")
    parser.add_argument("--complaints", type=int, default=None, help="open complaints (1,000,000; SQLite 100,000)")
    parser.add_argument("--due", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=None, help="worker processes (2; SQLite 1)")
    figures.add_option(parser)
    args = parser.parse_args()
    complaints = args.complaints or (100_000 if args.sqlite else 1_000_000)
    workers = args.workers or (1 if args.sqlite else 2)
    tmp = None
    if args.sqlite:
        tmp = tempfile.TemporaryDirectory()
        url = f"sqlite:///{tmp.name}/bench.db"
    else:
        url = args.url
        recreate_postgres_database(url)
    try:
        load(url, complaints, args.due)
        idle = idle_pass_ms(url)
        print(f"idle pass over {complaints:,} open complaints: {idle:.2f} ms (target < 20 ms)")

        fired, bare = race(url, _bare_worker, workers)
        assert fired == args.due, fired
        print(f"baseline (bare SKIP LOCKED + UPDATE), {workers} workers: {fired / bare:,.0f} timers/s")
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("UPDATE timers SET state = 'pending', fired_at = NULL WHERE state = 'fired'"))
        fired, ours = race(url, _our_worker, workers)
        with engine.connect() as conn:
            effects = conn.scalar(text("SELECT count(*) FROM events WHERE kind = 'clock_overdue'"))
            duplicates = conn.scalar(text(
                "SELECT count(*) FROM (SELECT complaint_id FROM events WHERE kind = 'clock_overdue' "
                "GROUP BY complaint_id HAVING count(*) > 1) d"))
            messages = conn.scalar(text("SELECT count(*) FROM outbox"))
        engine.dispose()
        rate = fired / ours
        print(f"qingling worker, {workers} workers: {fired:,} fired in {ours:.2f} s = {rate:,.0f} timers/s "
              f"(target >= 1,000/s); {effects:,} events, {messages:,} outbox rows, {duplicates} duplicates; "
              f"ratio to baseline {rate / (fired / bare):.2f}")
        label = f"{'SQLite' if args.sqlite else 'PostgreSQL'}, {complaints:,} open complaints"
        figures.write(args.json, [
            figures.Figure("timers", f"{label}: idle pass", idle, "ms", "<", 20),
            figures.Figure("timers", f"{label}: {workers} workers firing", rate, "timers/s", ">=", 1000),
            figures.Figure("timers", f"{label}: firing rate / bare SKIP LOCKED", rate / (fired / bare), "x"),
            figures.Figure("timers", f"{label}: duplicate effects", duplicates, "", "==", 0)])
    finally:
        if tmp is not None:
            tmp.cleanup()
        else:
            recreate_postgres_database(url, create=False)


if __name__ == "__main__":
    main()
