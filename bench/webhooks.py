"""Time the webhooks (an SMS turn and a WeChat safe-mode turn, in the middle of a conversation) against a bare
Flask app doing one insert per request into the same database, both under gunicorn on 127.0.0.1.

Usage: python bench/webhooks.py [--connections 16] [--requests 1600] [--seconds 20] [--rounds 3]
                                [--postgres postgresql+psycopg://postgres@127.0.0.1:5432/qingling_bench]
The PostgreSQL database is dropped and created afresh; --postgres "" runs SQLite only.
Target (from the issue): at least half the bare app's throughput, p99 under 50 ms at 16 connections.

Fairness: both apps run under the same gunicorn (2 sync workers), each gets untimed warm-up requests first (the
first requests of a worker pay for imports, connections and statement compilation), and the two alternate
for several rounds, of which the median is reported, so a noisy moment on the machine hits one round only.
"""
from __future__ import annotations

import argparse
import http.client
import os
import signal
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask import Flask, request  # noqa: E402

from bench import figures  # noqa: E402
from bench.harness import Requests, app_env, free_port, prepare_database, serve  # noqa: E402
from intake.foundation.db import make_engine  # noqa: E402
from intake.foundation.models import InboundMessage, utcnow  # noqa: E402
from intake.runtime.sessions import make_session_factory  # noqa: E402

FIRST = "兰山区阳光城工地，老板欠我们8个人三万五"
# Answers that bring each conversation to its summary; the timed turn is then a correction ("9个人"), which
# re-reads the message, extracts and shows the summary again: a full turn that leaves the state where it was.
SMS_SETUP, WECHAT_SETUP, TURN = [FIRST, "张三"], [FIRST, "张三", "13812345678"], "9个人"
USERS_PER_CONNECTION = 4
WARM_UP = 8  # untimed requests per connection before each timed run


def bare_app() -> Flask:
    """The yardstick: read the body, insert one row, commit (gunicorn imports it from this file)."""
    app = Flask(__name__)
    sessions = make_session_factory(make_engine(os.environ["QINGLING_DATABASE_URL"]))

    @app.post("/bare")
    def bare():
        with sessions() as session:
            session.add(InboundMessage(channel="bare", provider_message_id=uuid.uuid4().hex, sender="x",
                                       payload={"size": len(request.get_data())}, received_at=utcnow()))
            session.commit()
        return "ok"

    return app


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def drive(port: int, work: list[list[tuple[str, bytes, dict]]], seconds: float) -> dict:
    """One thread per connection, each through its own prepared requests, until done or out of time."""
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def run(items):
        mine = []
        for path, body, headers in items:
            if time.monotonic() > deadline:
                break
            start = time.perf_counter()
            status, data = post(port, path, body, headers)
            mine.append(time.perf_counter() - start)
            if status != 200:
                with lock:
                    errors.append(f"{status} {data[:100]!r}")
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=run, args=(items,)) for items in work]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    latencies.sort()
    return {"rps": len(latencies) / elapsed, "p50": statistics.median(latencies) * 1000,
            "p99": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000,
            "count": len(latencies), "errors": errors}


def median_round(results: list[dict]) -> dict:
    """The median of each figure over the rounds (requests and errors summed)."""
    return {"rps": statistics.median(r["rps"] for r in results),
            "p50": statistics.median(r["p50"] for r in results),
            "p99": statistics.median(r["p99"] for r in results),
            "count": sum(r["count"] for r in results), "errors": [e for r in results for e in r["errors"]]}


def bench(url: str, label: str, connections: int, total: int, seconds: float, rounds: int) -> list[figures.Figure]:
    prepare_database(url)
    app_port, bare_port = free_port(), free_port()
    base = f"http://127.0.0.1:{app_port}"
    env = app_env(url, base)
    servers = [serve("handlers:create_app()", app_port, env), serve("webhooks:bare_app()", bare_port, env)]
    found = []
    try:
        make = Requests(base)
        per_connection = max(1, total // connections)
        for turn, setup, build in (("SMS", SMS_SETUP, make.sms), ("WeChat aes", WECHAT_SETUP, make.wechat)):
            users = [[c * USERS_PER_CONNECTION + u for u in range(USERS_PER_CONNECTION)] for c in range(connections)]
            for said in setup:  # bring every conversation to its summary, untimed
                drive(app_port, [[build(u, said) for u in mine] for mine in users], seconds=600)
            bares, reals = [], []
            for _round in range(rounds):
                warm = [[build(mine[i % len(mine)], TURN) for i in range(WARM_UP)] for mine in users]
                work = [[build(mine[i % len(mine)], TURN) for i in range(per_connection)] for mine in users]
                drive(bare_port, [[("/bare", b, h) for _p, b, h in items] for items in warm], seconds)
                bares.append(drive(bare_port, [[("/bare", b, h) for _p, b, h in items] for items in work], seconds))
                drive(app_port, warm, seconds)
                reals.append(drive(app_port, work, seconds))
            bare = median_round(bares)
            for name, result in (("bare insert", bare), (f"{turn} turn", median_round(reals))):
                errors = f"  {len(result['errors'])} errors, e.g. {result['errors'][0]}" if result["errors"] else ""
                ratio = result["rps"] / bare["rps"]
                print(f"{label:10} {name:16} {result['count']:6d} req {result['rps']:8.1f} req/s  "
                      f"p50 {result['p50']:6.1f} ms  p99 {result['p99']:6.1f} ms  x{ratio:4.2f} of bare{errors}",
                      flush=True)
            real = median_round(reals)
            found += [figures.Figure("webhooks", f"{label} {turn} turn, throughput / bare", real["rps"] / bare["rps"],
                                     "x", ">=", 0.5),
                      figures.Figure("webhooks", f"{label} {turn} turn p99", real["p99"], "ms", "<", 50),
                      figures.Figure("webhooks", f"{label} {turn} turn errors", len(real["errors"]), "", "==", 0)]
    finally:
        for process in servers:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--requests", type=int, default=1600, help="per run (bounded also by --seconds)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per app and turn; the median is shown")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/qingling_bench_webhooks")
    figures.add_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        found = bench(f"sqlite:///{tmp}/bench.db", "SQLite", args.connections, args.requests, args.seconds,
                      args.rounds)
    if args.postgres:
        found += bench(args.postgres, "PostgreSQL", args.connections, args.requests, args.seconds,
                       args.rounds)
    print("Target: each turn at least x0.50 of bare, p99 under 50 ms.")
    figures.write(args.json, found)


if __name__ == "__main__":
    main()
