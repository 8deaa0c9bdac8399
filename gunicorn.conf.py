"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py "handlers:create_app()"`.

Sync workers: a chat turn or a form submit is a few milliseconds of CPU and database work, so a process per core
(plus one to cover a request waiting on the database) keeps the cores busy without queueing behind each other.
The timeout is the guard against a hung request, not a budget: webhooks answer in milliseconds, a ledger export
is written by the worker process (`qingling worker`) and only downloaded here, and the slowest requests left (a
report, a case's dossier) take seconds. A worker that stops writes the QR form opens it counted (worker_exit).
Command-line options (`--bind`, `--workers`, `--timeout`) or GUNICORN_CMD_ARGS override
these; WEB_CONCURRENCY sets the worker count, as on most platforms.
"""
import multiprocessing
import os

bind = "0.0.0.0:8000"
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() + 1))
# The app checks that several processes share one rate-limit storage ([ratelimit] storage_uri); tell it how many.
os.environ.setdefault("QINGLING_WEB_PROCESSES", str(workers))
worker_class = "sync"
timeout = 120
graceful_timeout = 30  # a restart lets requests in flight finish, then stops
keepalive = 5  # behind a reverse proxy that reuses its connections
max_requests = 5000  # a worker is replaced now and then, so memory an export touched goes back to the system
max_requests_jitter = 500


def worker_exit(server, worker):
    """A worker that stops (a restart, max_requests) writes the QR form opens it counted and has not written."""
    from handlers.public import write_scans

    if getattr(worker, "wsgi", None) is not None:  # None when the app failed to load
        write_scans(worker.wsgi)
