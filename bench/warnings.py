"""Warnings bench: one full evaluation of every indicator over sites with rosters, attendance and payouts.

    python bench/warnings.py --url postgresql+psycopg://postgres@127.0.0.1:5432/qingling_bench_warnings
    python bench/warnings.py --url ... --full     # the issue's size: 10,000 sites × 200 workers × 12 months

Default size: 1,000 sites × 20 workers × 12 months. Target (issue): a full pass under 60 s at the full size.
The baseline is one bare SQL aggregate over the same attendance and payouts (days and pay per site and
month), in the same run, so the ratio says what the indicators cost beyond reading the data once.
Every fourth site has a worker never paid and deposits half the labour costs its monthly progress payment
calls for, so the pass also raises warnings. The database is created afresh.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, timezone
from itertools import chain
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
from intake.warnings.ledger import evaluate  # noqa: E402
from migrations import upgrade  # noqa: E402

NOW = datetime(2026, 12, 28, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 in Shanghai, after every pay day
MONTHS = [date(2025 + (11 + i) // 12, (11 + i) % 12 + 1, 1) for i in range(12)]  # 2025-12 .. 2026-11
encryption.configure([encryption.derived_data_key(Settings().secret_key)])


def progress_rows(sites: int, workers: int):
    """The owner's monthly progress payment and the labour costs (20 %) it calls for, numbered after the payouts."""
    n = sites * workers * len(MONTHS)
    for s in range(1, sites + 1):
        for month in MONTHS:
            n += 2
            yield (n - 1, s, "progress", month.replace(day=5).isoformat(), 1_000_000, None, f"P{n}")
            yield (n, s, "deposit", month.replace(day=15).isoformat(), 100_000 if s % 4 == 0 else 200_000, None,
                   f"L{n}")


def load(url: str, sites: int, workers: int) -> None:
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine).begin() as session:
        load_directory(session)
    stamp = NOW.isoformat()

    def site_rows():
        for s in range(1, sites + 1):
            yield (s, f"B{s:06d}", f"工地{s}", "371302", "房屋建筑", "private", f"tok{s:020d}", "2025-01-01", 10,
                   2175, stamp, stamp)

    def roster_rows():
        for s in range(1, sites + 1):
            for w in range(workers):
                worker = f"{s:06d}{w:04d}"
                yield (s * workers + w, s, "工人", "x", worker, "x", stamp)

    def attendance_rows():
        n = 0
        for s in range(1, sites + 1):
            for w in range(workers):
                for month in MONTHS:
                    n += 1
                    yield (n, s, f"{s:06d}{w:04d}", month.isoformat(), 22)

    def payout_rows():
        n = 0
        for s in range(1, sites + 1):
            for w in range(workers):
                if s % 4 == 0 and w == 0:
                    continue
                for month in MONTHS:
                    n += 1
                    paid = date(month.year + month.month // 12, month.month % 12 + 1, 10)
                    yield (n, s, "payout", paid.isoformat(), 2200, f"{s:06d}{w:04d}", f"R{n}")

    copy_rows(engine, [
        ("sites", ("id", "code", "name", "jurisdiction_code", "industry", "investment", "public_token", "start_date",
                   "pay_day", "minimum_wage", "created_at", "updated_at"), site_rows()),
        ("roster_entries", ("id", "site_id", "name", "id_number", "id_number_hash", "id_number_masked",
                            "updated_at"), roster_rows()),
        ("attendance", ("id", "site_id", "worker_hash", "month", "days"), attendance_rows()),
        ("wage_account_entries", ("id", "site_id", "kind", "day", "amount", "worker_hash", "ref"), chain(payout_rows(), progress_rows(sites, workers))),
    ], sequences={"sites_id_seq": sites})
    with engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="a PostgreSQL URL; the database is dropped and created")
    parser.add_argument("--full", action="store_true", help="10,000 sites × 200 workers × 12 months")
    figures.add_option(parser)
    args = parser.parse_args()
    sites, workers = (10_000, 200) if args.full else (1_000, 20)
    recreate_postgres_database(args.url)
    load(args.url, sites, workers)
    engine = make_engine(args.url)
    sessions = make_session_factory(engine)
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.execute(text(
            "SELECT a.site_id, a.month, sum(a.days), (SELECT sum(p.amount) FROM wage_account_entries p "
            "WHERE p.site_id = a.site_id) FROM attendance a GROUP BY a.site_id, a.month")).all()
    bare = time.perf_counter() - started
    started = time.perf_counter()
    with sessions.begin() as session:
        counts = evaluate(session, NOW, Settings(), WorkingCalendar.from_config({}))
    full = time.perf_counter() - started
    print(f"{sites} sites × {workers} workers × 12 months: full pass {full:.2f} s ({counts.raised} warnings raised), "
          f"bare aggregate {bare:.2f} s, ratio {full / bare:.1f}")
    figures.write(args.json, [
        figures.Figure("warnings", "full pass", round(full, 2), "s", "<", 60.0),
        figures.Figure("warnings", "ratio to a bare aggregate", round(full / bare, 1), "×")])
    engine.dispose()


if __name__ == "__main__":
    main()
