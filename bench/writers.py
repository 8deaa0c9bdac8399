"""SQLite's writers' queue (intake.foundation.db._QueuedConnection) between processes, without the app around it.

    python bench/writers.py [--seconds 4]

Two figures, each from real processes taking the real lock file:
- hand-off: two processes each hold the lock 1.4 ms (a chat turn's hold) and work 1 ms outside it, again and
  again; their transactions per second against the ceiling the hold allows (1 / 1.4 ms). A waiter that notices the
  release late leaves the lock idle.
- a web request behind the worker: one process routes back to back (25 ms per route, as the worker in a wave,
  queueing as the worker does: in the background), another wants the lock 1.5 ms every 3 ms (a web request);
  the request's longest wait, against one route, and the routes still done.
A waiter must take the lock almost as soon as it is free, a process that leaves it must not take it again ahead
of one that was waiting, and the worker must not hold a request up for more than the route it is in.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import figures  # noqa: E402
from intake.foundation.db import _QueuedConnection  # noqa: E402

TURN_HOLD_MS, TURN_OUTSIDE_MS = 1.4, 1.0
ROUTE_HOLD_MS, REQUEST_HOLD_MS, REQUEST_OUTSIDE_MS = 25.0, 1.5, 1.5


def _busy(milliseconds: float) -> None:
    """CPU work while holding (or not) the lock: a sleep would let the machine idle and flatter the figures."""
    end = time.perf_counter() + milliseconds / 1000
    while time.perf_counter() < end:
        pass


def _turns(path: str, seconds: float, done) -> None:
    connection, end, count = _QueuedConnection(path), time.monotonic() + seconds, 0
    while time.monotonic() < end:
        _busy(TURN_OUTSIDE_MS)
        connection.queue()
        _busy(TURN_HOLD_MS)
        connection.leave()
        count += 1
    with done.get_lock():
        done.value += count


def _routes(path: str, seconds: float, done) -> None:
    connection, end = _QueuedConnection(path), time.monotonic() + seconds
    while time.monotonic() < end:
        connection.queue(background=True)
        _busy(ROUTE_HOLD_MS)
        connection.leave()
        done.value += 1


def _requests(path: str, seconds: float, waits) -> None:
    connection, end, found = _QueuedConnection(path), time.monotonic() + seconds, []
    while time.monotonic() < end:
        _busy(REQUEST_OUTSIDE_MS)
        started = time.perf_counter()
        connection.queue()
        found.append((time.perf_counter() - started) * 1000)
        _busy(REQUEST_HOLD_MS)
        connection.leave()
    waits.put(found)


def hand_off(path: str, seconds: float) -> float:
    done = multiprocessing.Value("i", 0)
    processes = [multiprocessing.Process(target=_turns, args=(path, seconds, done)) for _ in range(2)]
    started = time.perf_counter()
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    return done.value / (time.perf_counter() - started)


def behind_the_worker(path: str, seconds: float) -> tuple[float, int, int]:
    """The request's longest wait (ms), its requests and the routes done."""
    routes, waits = multiprocessing.Value("i", 0), multiprocessing.Queue()
    processes = [multiprocessing.Process(target=_routes, args=(path, seconds, routes)),
                 multiprocessing.Process(target=_requests, args=(path, seconds, waits))]
    for process in processes:
        process.start()
    found = waits.get()
    for process in processes:
        process.join()
    return max(found), len(found), routes.value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0)
    figures.add_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "writers.db")
        rate, ceiling = hand_off(path, args.seconds), 1000 / TURN_HOLD_MS
        print(f"hand-off: {rate:.0f} turns/s of a {ceiling:.0f} ceiling: x{rate / ceiling:.2f}")
        longest, requests, routes = behind_the_worker(path, args.seconds)
        print(f"a web request behind the worker: longest wait {longest:.1f} ms ({longest / ROUTE_HOLD_MS:.2f} routes);"
              f" {requests} requests and {routes} routes in {args.seconds:.0f} s")
    figures.write(args.json, [
        figures.Figure("writers", "hand-off between two writers / the hold's ceiling", rate / ceiling, "x"),
        figures.Figure("writers", "a web request's longest wait behind back-to-back routes / one route",
                       longest / ROUTE_HOLD_MS, "x", "<=", 1.2),
        figures.Figure("writers", "routes done meanwhile", routes, "", ">", 0)])


if __name__ == "__main__":
    main()
