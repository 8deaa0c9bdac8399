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
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flask import Flask, request  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402
from wechatpy.crypto import WeChatCrypto  # noqa: E402
from wechatpy.utils import WeChatSigner  # noqa: E402

from intake.db import make_engine, make_session_factory  # noqa: E402
from intake.directory import load_directory  # noqa: E402
from intake.models import InboundMessage, utcnow  # noqa: E402
from migrations import upgrade  # noqa: E402

TOKEN, AES_KEY, APP_ID = "bench-token", "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "wxbench"
AUTH_TOKEN, FROM = "bench-auth-token", "+15005550006"
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app_spec: str, port: int, env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
                                "--chdir", str(ROOT / "bench"), "--log-level", "warning",
                                # each server its own control socket: two at once would fight over the default
                                "--control-socket", str(Path(tempfile.gettempdir()) / f"qingling-bench-{port}.ctl"),
                                app_spec],
                               env={**os.environ, **env, "PYTHONPATH": str(ROOT)})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise SystemExit(f"gunicorn for {app_spec} did not start on port {port}")


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


class Requests:
    """Builds signed requests exactly as the providers do; each call is one new message (a new id)."""

    def __init__(self, base: str):
        self.base = base
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID)
        self.validator = RequestValidator(AUTH_TOKEN)
        self.seq = 0

    def next_id(self) -> int:
        self.seq += 1
        return self.seq

    def sms(self, user: int, text: str) -> tuple[str, bytes, dict]:
        params = {"MessageSid": f"SM{uuid.uuid4().hex}", "From": f"+86138{user:08d}", "To": FROM, "Body": text}
        signature = self.validator.compute_signature(self.base + "/sms/twilio", params)
        return "/sms/twilio", urlencode(params).encode(), {
            "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}

    def wechat(self, user: int, text: str) -> tuple[str, bytes, dict]:
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
        xml = (f"<xml><ToUserName><![CDATA[gh_bench]]></ToUserName><FromUserName><![CDATA[oBench{user:08d}]]>"
               f"</FromUserName><CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
               f"<Content><![CDATA[{text}]]></Content><MsgId>{self.next_id()}{user:06d}</MsgId></xml>")
        envelope = self.crypto.encrypt_message(xml, nonce, timestamp)
        msg_signature = envelope.split("<MsgSignature><![CDATA[")[1].split("]]>")[0]
        signer = WeChatSigner()
        signer.add_data(TOKEN, timestamp, nonce)
        query = urlencode({"signature": signer.signature, "timestamp": timestamp, "nonce": nonce,
                           "encrypt_type": "aes", "msg_signature": msg_signature})
        return f"/wechat?{query}", envelope.encode(), {"Content-Type": "text/xml"}


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


def prepare_database(url: str) -> None:
    if url.startswith("postgresql"):
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    engine = make_engine(url)
    upgrade(engine)
    with make_session_factory(engine).begin() as session:
        load_directory(session)
    engine.dispose()


def bench(url: str, label: str, connections: int, total: int, seconds: float, rounds: int) -> None:
    prepare_database(url)
    app_port, bare_port = free_port(), free_port()
    base = f"http://127.0.0.1:{app_port}"
    env = {"QINGLING_DATABASE_URL": url, "QINGLING_PUBLIC_BASE_URL": base, "QINGLING_SECRET_KEY": "b" * 32,
           "QINGLING_WECHAT_TOKEN": TOKEN, "QINGLING_WECHAT_APP_ID": APP_ID, "QINGLING_WECHAT_APP_SECRET": "s",
           "QINGLING_WECHAT_ENCODING_AES_KEY": AES_KEY, "QINGLING_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
           "QINGLING_TWILIO_AUTH_TOKEN": AUTH_TOKEN, "QINGLING_TWILIO_FROM_NUMBER": FROM}
    servers = [serve("handlers:create_app()", app_port, env), serve("webhooks:bare_app()", bare_port, env)]
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
    finally:
        for process in servers:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--requests", type=int, default=1600, help="per run (bounded also by --seconds)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3, help="timed runs per app and turn; the median is shown")
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/qingling_bench_webhooks")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bench(f"sqlite:///{tmp}/bench.db", "SQLite", args.connections, args.requests, args.seconds,
              args.rounds)
    if args.postgres:
        bench(args.postgres, "PostgreSQL", args.connections, args.requests, args.seconds,
              args.rounds)
    print("Target: each turn at least x0.50 of bare, p99 under 50 ms.")


if __name__ == "__main__":
    main()
