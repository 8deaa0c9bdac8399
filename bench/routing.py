"""Routing bench: the time to route one complaint as the county's volume grows, and against a 确认 chat turn.

    python bench/routing.py                                   # SQLite file
    python bench/routing.py --url postgresql+psycopg://postgres@127.0.0.1:5432/qingling_bench_routing

Each volume gets its own county holding that many earlier siteless complaints in the collective window (half of
them naming a company, each a different one; half naming only a role word such as 老板), then new complaints
naming one company are routed one per transaction, as the worker does (route, clocks, notices, commit).
Targets (issue 15): routing at 8,000 earlier complaints <= 1.5x routing at 0; routing one complaint <= 2x a
确认 turn (the dialogue's last message, which files the complaint; same process, same database). Medians.
The bench creates its own database (or file) and drops nothing else.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import insert

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import figures  # noqa: E402
from bench.harness import SECRET_KEY, prepare_database  # noqa: E402
from intake.case.cases import CaseContext, route  # noqa: E402
from intake.case.complaints import NewComplaint, create_complaint  # noqa: E402
from intake.case.routing import collective_key  # noqa: E402
from intake.conversation.dialogue import handle_message  # noqa: E402
from intake.foundation import encryption  # noqa: E402
from intake.foundation.calendar import WorkingCalendar  # noqa: E402
from intake.foundation.db import make_engine  # noqa: E402
from intake.foundation.models import Complaint, Status, utcnow  # noqa: E402
from intake.foundation.settings import DatabaseSettings, Settings  # noqa: E402
from intake.registry.directory import department  # noqa: E402
from intake.runtime.sessions import make_session_factory  # noqa: E402

CAL = WorkingCalendar.from_config({})
# One county per volume, so the volumes do not add up; a county of its own warms the process up first (the first
# routes fill the caches and compile the statements), so the first volume measured is not the slowest.
COUNTIES = ("371321", "371322", "371323", "371324")
WARM_UP_COUNTY, WARM_UP_ROUNDS = "371325", 5
encryption.configure([encryption.derived_data_key(SECRET_KEY)])


def _earlier(sessions, county: str, count: int) -> None:
    """`count` routed siteless complaints of the county, spread over the window, inserted in one statement."""
    if not count:
        return
    now = utcnow()
    with sessions.begin() as session:
        first, _ = create_complaint(session, NewComplaint(channel="web", phone="13900000000", jurisdiction_code=county))
        hrss = department(session, county, "hrss")
        rows = []
        for i in range(count):
            claim = {"employer": f"临沂第{i}建筑劳务有限公司" if i % 2 else "老板"}
            rows.append(dict(ticket_no=f"R{county}{i:07d}", channel="web", complainant_id=first.complainant_id,
                             jurisdiction_code=county, claim=claim, status=Status.ROUTED.value,
                             department_id=hrss.id, collective_key=collective_key(None, county, claim),
                             created_at=now - timedelta(minutes=i % 20000), updated_at=now, free_text="",
                             priority="normal", supervised=False, anonymous=False, version=2))
        session.execute(insert(Complaint), rows)


def _route_times(sessions, settings: Settings, county: str, rounds: int) -> list[float]:
    """Milliseconds to route each of `rounds` new complaints naming one company, each in its own transaction."""
    times = []
    for i in range(rounds):
        with sessions.begin() as session:
            complaint, _ = create_complaint(session, NewComplaint(
                channel="web", phone="13900000001", jurisdiction_code=county, workers=2, amount=6000,
                claim={"employer": "临沂鑫源劳务有限公司"}))
        started = time.perf_counter()
        with sessions.begin() as session:
            route(session, session.get(Complaint, complaint.id), CaseContext(settings, CAL, utcnow()))
        times.append((time.perf_counter() - started) * 1000)
    return times


def _confirm_times(sessions, settings: Settings, rounds: int) -> list[float]:
    """Milliseconds of each 确认 turn (a new worker's claim read back, then confirmed: the complaint is filed)."""
    times = []
    now = utcnow()
    for i in range(rounds):
        user = f"bench-{i}"
        with sessions.begin() as session:
            handle_message(session, settings, "sms", user, "兰山区 鑫源劳务公司欠我们8个人三万五，我叫张三", now=now,
                           has_phone=True, phone=f"139{i:08d}")
        started = time.perf_counter()
        with sessions.begin() as session:
            reply = handle_message(session, settings, "sms", user, "确认", now=now + timedelta(seconds=30),
                                   has_phone=True, phone=f"139{i:08d}")
        times.append((time.perf_counter() - started) * 1000)
        assert reply.complaint_created, reply.text
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="PostgreSQL URL of the bench's own database (default: a SQLite file)")
    parser.add_argument("--volumes", default="0,1000,8000", help="earlier complaints in the county, comma-separated")
    parser.add_argument("--rounds", type=int, default=40, help="complaints routed (and 确认 turns) per figure")
    figures.add_option(parser)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{tempfile.mkdtemp()}/routing.db"
    prepare_database(url)
    engine = make_engine(url)
    sessions = make_session_factory(engine)
    settings = Settings(secret_key=SECRET_KEY, database=DatabaseSettings(url=url))
    label = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    volumes = [int(v) for v in args.volumes.split(",")]
    medians = {}
    _route_times(sessions, settings, WARM_UP_COUNTY, WARM_UP_ROUNDS)
    for county, volume in zip(COUNTIES, volumes):
        _earlier(sessions, county, volume)
        medians[volume] = statistics.median(_route_times(sessions, settings, county, args.rounds))
        print(f"{label}: route one complaint with {volume:>6,} earlier in the county: {medians[volume]:7.2f} ms")
    confirm = statistics.median(_confirm_times(sessions, settings, args.rounds))
    print(f"{label}: 确认 turn: {confirm:7.2f} ms")
    top, base = max(volumes), min(volumes)
    growth, versus_turn = medians[top] / medians[base], medians[base] / confirm
    print(f"{label}: routing at {top:,} / at {base:,}: {growth:.2f}x (target <= 1.5x); "
          f"routing / 确认 turn: {versus_turn:.2f}x (target <= 2x)")
    engine.dispose()
    figures.write(args.json, [
        *(figures.Figure("routing", f"{label}: route with {v:,} earlier in the county", m, "ms")
          for v, m in medians.items()),
        figures.Figure("routing", f"{label}: 确认 turn", confirm, "ms"),
        figures.Figure("routing", f"{label}: routing at {top:,} / at {base:,}", growth, "x", "<=", 1.5),
        figures.Figure("routing", f"{label}: routing / 确认 turn", versus_turn, "x", "<=", 2)])


if __name__ == "__main__":
    main()
