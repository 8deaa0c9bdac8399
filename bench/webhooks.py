"""A first chat turn against the independent floor: `../shared/bench/bare_sms.py` (Twilio's signature check, one
insert, TwiML) and the app's `/sms/twilio`, both under the same gunicorn (2 sync workers) on the same database
kind, driven by `../shared/bench/webload.py` (wrk, distinct pre-signed first messages from new senders, each wrk
thread its own slice), so the driver costs next to nothing and no request is a cheap replay.

Usage: python bench/webhooks.py [--connections 16 64] [--seconds 8] [--rounds 3] [--profile [N]] [--top N]
                                [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/qingling_bench_webhooks]
       (--postgres "" runs SQLite only; needs wrk: scripts/system-packages --bench)
--profile N drives N first turns through each app in this process instead (Flask's test client, no gunicorn, no
wrk) and prints what one costs, figures that a busy shared machine hardly moves: CPU time, Python function calls
(cProfile) and SQL statements per request, the app's against the floor's; --top N also prints the app's N
costliest functions.
Target (issue 15): a first turn at least x0.50 of the floor's throughput, on SQLite and PostgreSQL, at 16 and 64
connections. Fairness: equal durability (the floor's BARE_SYNC=full, the app's SQLite synchronous=FULL), untimed
warm-up runs, the two alternate A B A B for several rounds and the median of each is compared, so a noisy
moment on the shared machine hits one round only.
"""
from __future__ import annotations

import argparse
import cProfile
import importlib
import itertools
import os
import pstats
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import figures  # noqa: E402
from bench.harness import AUTH_TOKEN, ROOT, Requests, app_env, free_port, prepare_database, serve  # noqa: E402
from intake.foundation.db import recreate_postgres_database  # noqa: E402

FLOOR = ROOT.parent / "shared" / "bench"
FIRST = "兰山区阳光城工地，老板欠我们8个人三万五"
WARM_UP_SECONDS = 2
WEBLOAD_REQUESTS = 30000  # distinct signed requests per run: more than a run sends, fewer than wrk's Lua allows


def load(port: int, connections: int, seconds: float, texts: str) -> dict[str, float]:
    """One webload run: its RESULT line as numbers (rps, p50_ms, p99_ms, errors, non2xx, requests ...)."""
    run = subprocess.run([sys.executable, str(FLOOR / "webload.py"), f"http://127.0.0.1:{port}", AUTH_TOKEN,
                          "--conns", str(connections), "--secs", str(int(seconds)), "--texts", texts,
                          "--n", str(WEBLOAD_REQUESTS)],
                         capture_output=True, text=True, check=True)
    found = re.search(r"RESULT (.*)", run.stdout)
    if found is None or "WARNING" in run.stdout:
        raise SystemExit(f"webload: {run.stdout}{run.stderr}")
    return {key: float(value) for key, value in (pair.split("=") for pair in found.group(1).split())}


def floor_db(url: str, tmp: str) -> str:
    """The floor's own database, of the same kind as the app's: a file beside it, or a fresh PostgreSQL one.

    On PostgreSQL its table is made here, the floor's own statement, because the floor's gunicorn workers each run
    `create table if not exists` at import and two of them at once collide in PostgreSQL's catalog."""
    if url.startswith("sqlite"):
        return f"sqlite:///{tmp}/floor.db"
    floor = url.rsplit("/", 1)[0] + "/" + url.rsplit("/", 1)[1] + "_floor"
    recreate_postgres_database(floor)
    plain = floor.replace("postgresql+psycopg", "postgresql")
    with psycopg.connect(plain, autocommit=True) as connection:
        connection.execute("create table inbound(sid text primary key, sender text, body text)")
    return plain


def bench(url: str, label: str, connections: list[int], seconds: float, rounds: int, tmp: str) -> list:
    prepare_database(url)
    app_port, floor_port = free_port(), free_port()
    floor_env = {"BARE_DB": floor_db(url, tmp), "BARE_SYNC": "full", "BARE_TWILIO_TOKEN": AUTH_TOKEN,
                 "BARE_PUBLIC_URL": f"http://127.0.0.1:{floor_port}"}
    texts = Path(tmp) / "texts.txt"
    texts.write_text(FIRST + "\n", encoding="utf-8")
    found, servers = [], []
    try:  # the app's server is stopped even when the floor's cannot start
        servers.append(serve("handlers:create_app()", app_port, app_env(url, f"http://127.0.0.1:{app_port}")))
        servers.append(serve("bare_sms:app", floor_port, floor_env, chdir=FLOOR))
        for conns in connections:
            load(floor_port, conns, WARM_UP_SECONDS, str(texts))
            load(app_port, conns, WARM_UP_SECONDS, str(texts))
            floors, turns = [], []
            for _round in range(rounds):
                floors.append(load(floor_port, conns, seconds, str(texts)))
                turns.append(load(app_port, conns, seconds, str(texts)))
            floor, turn = ({key: statistics.median(r[key] for r in runs) for key in runs[0]}
                           for runs in (floors, turns))
            ratio = turn["rps"] / floor["rps"]
            for name, result in (("floor", floor), ("first turn", turn)):
                print(f"{label:10} {conns:3d} conns {name:10} {result['rps']:8.1f} req/s  p50 {result['p50_ms']:6.1f} "
                      f"ms  p99 {result['p99_ms']:6.1f} ms  errors {result['errors'] + result['non2xx']:.0f}",
                      flush=True)
            print(f"{label:10} {conns:3d} conns first turn x{ratio:4.2f} of the floor", flush=True)
            found += [figures.Figure("webhooks", f"{label} {conns} conns first SMS turn, throughput / floor", ratio,
                                     "x", ">=", 0.5),
                      figures.Figure("webhooks", f"{label} {conns} conns first SMS turn p99", turn["p99_ms"], "ms"),
                      figures.Figure("webhooks", f"{label} {conns} conns errors and non-2xx",
                                     sum(r["errors"] + r["non2xx"] for r in turns), "", "==", 0)]
    finally:
        for process in servers:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    return found


PROFILE_BASE = "http://127.0.0.1:8931"  # the URL both apps are signed for in-process; nothing listens there
_senders = itertools.count(1)


def costs(app, turns: int, engine=None, top: int = 0) -> dict[str, float]:
    """CPU milliseconds, Python function calls and SQL statements per first turn of a new sender, each turn its
    own signed request, built before the clock starts."""
    client, signer, seen = app.test_client(), Requests(PROFILE_BASE), []

    def send(count: int) -> None:
        for path, body, headers in [signer.sms(next(_senders), FIRST) for _ in range(count)]:
            response = client.post(path, data=body, headers=headers)
            if response.status_code != 200:
                raise SystemExit(f"{response.status_code}: {response.get_data(as_text=True)}")

    send(50)  # imports, caches, pooled connections
    if engine is not None:
        event.listen(engine, "before_cursor_execute", lambda *_args: seen.append(1))
    started = time.process_time()
    send(turns)
    cpu = (time.process_time() - started) * 1000 / turns
    statements = len(seen) / turns
    profiler = cProfile.Profile()
    profiler.runcall(send, turns)
    stats = pstats.Stats(profiler)
    if top:
        stats.sort_stats("cumulative").print_stats(top)
    return {"cpu_ms": cpu, "calls": stats.total_calls / turns, "statements": statements}


def profile(url: str, label: str, turns: int, top: int, tmp: str) -> list:
    prepare_database(url)
    os.environ.update(app_env(url, PROFILE_BASE))
    from handlers import create_app
    app = create_app()
    turn = costs(app, turns, app.extensions["qingling"].engine, top)
    os.environ.update({"BARE_DB": floor_db(url, tmp), "BARE_SYNC": "full", "BARE_TWILIO_TOKEN": AUTH_TOKEN,
                       "BARE_PUBLIC_URL": PROFILE_BASE})
    if str(FLOOR) not in sys.path:
        sys.path.insert(0, str(FLOOR))
    bare = importlib.reload(sys.modules["bare_sms"]) if "bare_sms" in sys.modules else importlib.import_module("bare_sms")
    floor = costs(bare.app, turns)
    floor["statements"] = 1.0  # its one insert, through the driver (no engine to count on)
    for name, found in (("floor", floor), ("first turn", turn)):
        print(f"{label:10} in-process {name:10} {found['cpu_ms']:6.3f} ms CPU  {found['calls']:6.0f} calls  "
              f"{found['statements']:4.1f} statements per request", flush=True)
    ratio = turn["cpu_ms"] / floor["cpu_ms"]
    print(f"{label:10} in-process first turn x{ratio:4.2f} of the floor's CPU, "
          f"x{turn['calls'] / floor['calls']:4.2f} of its function calls", flush=True)
    return [figures.Figure("webhooks", f"{label} in-process first SMS turn CPU / floor", ratio, "x"),
            figures.Figure("webhooks", f"{label} in-process first SMS turn CPU", turn["cpu_ms"], "ms"),
            figures.Figure("webhooks", f"{label} in-process first SMS turn function calls", turn["calls"], ""),
            figures.Figure("webhooks", f"{label} first SMS turn SQL statements", turn["statements"], "")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per app; the median is compared")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/qingling_bench_webhooks")
    parser.add_argument("--profile", type=int, nargs="?", const=500, metavar="N",
                        help="N first turns in-process per app instead of the HTTP runs: CPU, calls, statements")
    parser.add_argument("--top", type=int, default=0, help="with --profile: the app's N costliest functions")
    figures.add_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.profile:
            found = profile(f"sqlite:///{tmp}/bench.db", "SQLite", args.profile, args.top, tmp)
            if args.postgres:
                found += profile(args.postgres, "PostgreSQL", args.profile, args.top, tmp)
            figures.write(args.json, found)
            return
        found = bench(f"sqlite:///{tmp}/bench.db", "SQLite", args.connections, args.seconds, args.rounds, tmp)
        if args.postgres:
            found += bench(args.postgres, "PostgreSQL", args.connections, args.seconds, args.rounds, tmp)
    print("Target: a first turn at least x0.50 of the floor's throughput.")
    figures.write(args.json, found)


if __name__ == "__main__":
    main()
