"""A first chat turn against the independent floor: `../shared/bench/bare_sms.py` (Twilio's signature check, one
insert, TwiML) and the app's `/sms/twilio`, both under the same gunicorn (2 sync workers) on the same database
kind, driven by `../shared/bench/webload.py` (wrk, distinct pre-signed first messages from new senders, each wrk
thread its own slice), so the driver costs next to nothing and no request is a cheap replay.

Usage: python bench/webhooks.py [--connections 16 64] [--seconds 8] [--rounds 3]
                                [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/qingling_bench_webhooks]
       (--postgres "" runs SQLite only; needs wrk: scripts/system-packages --bench)
Target (issue 15): a first turn at least x0.50 of the floor's throughput, on SQLite and PostgreSQL, at 16 and 64
connections. Fairness: equal durability (the floor's BARE_SYNC=full, the app's SQLite synchronous=FULL), untimed
warm-up runs, the two alternate A B A B for several rounds and the median of each is compared, so a noisy
moment on the shared machine hits one round only.
"""
from __future__ import annotations

import argparse
import re
import signal
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import figures  # noqa: E402
from bench.harness import AUTH_TOKEN, ROOT, app_env, free_port, prepare_database, serve  # noqa: E402
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
    servers = [serve("handlers:create_app()", app_port, app_env(url, f"http://127.0.0.1:{app_port}")),
               serve("bare_sms:app", floor_port, floor_env, chdir=FLOOR)]
    texts = Path(tmp) / "texts.txt"
    texts.write_text(FIRST + "\n", encoding="utf-8")
    found = []
    try:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 64])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per app; the median is compared")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/qingling_bench_webhooks")
    figures.add_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        found = bench(f"sqlite:///{tmp}/bench.db", "SQLite", args.connections, args.seconds, args.rounds, tmp)
        if args.postgres:
            found += bench(args.postgres, "PostgreSQL", args.connections, args.seconds, args.rounds, tmp)
    print("Target: a first turn at least x0.50 of the floor's throughput.")
    figures.write(args.json, found)


if __name__ == "__main__":
    main()
