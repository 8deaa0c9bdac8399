"""Engine and session factory: the one place that knows how to talk to SQLite or PostgreSQL."""
from __future__ import annotations

import fcntl
import functools
import os
import sqlite3
import time

from sqlalchemy import Engine, create_engine, event, exc, text
from sqlalchemy.engine import make_url

LOCK_WAIT_SECONDS = 30
# SQLite writers' queue (see _QueuedConnection): a wait of one or two turns is polled finely, a longer one (an
# export, a migration) coarsely. A back-off from 0.5 ms had a waiter sleep past the release and left the lock
# idle a third of the time between two busy processes (two writers holding it 1.4 ms each: 480 turns/s of 714).
LOCK_POLL_SECONDS, LOCK_POLL_FAST_FOR, LOCK_POLL_SLOW_SECONDS = 0.0001, 0.05, 0.002
# A writer that left the queue this recently waits this long before it queues again, so one that was polling
# takes the lock first: without it the worker, routing back to back, took it again at once, and a web request
# waited for seconds behind a wave's routes.
LOCK_COURTESY_SECONDS = 0.0005
RECYCLE_SECONDS = 1800  # below the usual idle timeouts of PostgreSQL proxies and firewalls
PING_AFTER_IDLE_SECONDS = 0.25  # busy connections return within milliseconds; a ping costs ~0.2 ms
_IDLE_SINCE = "qingling_idle_since"
# Execution option of an engine whose SQLite transactions take the writers' lock only at their first write.
READ_FIRST = "qingling_read_first"
# Execution option of the worker's engine: on SQLite its transactions stand aside while a request waits for the
# writers' lock, at most BACKGROUND_YIELD_SECONDS each, so a wave's routes never hold a worker's answer up for
# long, nor does a wave stop routing.
BACKGROUND = "qingling_background"
BACKGROUND_YIELD_SECONDS = 0.25


def make_engine(url: str, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"timeout": LOCK_WAIT_SECONDS,
                                                                    "factory": _QueuedConnection})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        event.listen(engine, "before_cursor_execute", _sqlite_begin_at_first_write)
        return engine
    # JIT compiling pays off for long analytic queries, not for pages of a few milliseconds: it added ~40 ms
    # to each of the dashboard's queries.
    engine = create_engine(url, echo=echo, pool_recycle=RECYCLE_SECONDS, connect_args={"options": "-c jit=off"})
    event.listen(engine, "checkin", _note_idle)
    event.listen(engine, "checkout", functools.partial(_ping_after_idle, engine.dialect))
    return engine


def read_first(engine: Engine) -> Engine:
    """The engine for a request that mostly reads (a page): on SQLite its statements read without the writers'
    lock, each at its own moment as PostgreSQL's READ COMMITTED reads, until the first statement that is not a
    SELECT; that one begins the transaction (BEGIN IMMEDIATE) and everything from it on is atomic. So pages no
    longer queue behind every write, and a page that writes (a link made on first use) still cannot fail on a
    snapshot gone stale. On PostgreSQL nothing changes."""
    return engine.execution_options(**{READ_FIRST: True})


def background(engine: Engine) -> Engine:
    """The engine of the worker process: on SQLite a request waiting for the writers' lock goes first (see
    BACKGROUND); on PostgreSQL nothing changes."""
    return engine.execution_options(**{BACKGROUND: True})


def _note_idle(_dbapi_connection, record) -> None:
    record.info[_IDLE_SINCE] = time.monotonic()


def _ping_after_idle(dialect, dbapi_connection, record, _proxy) -> None:
    """Ping a pooled connection only when it sat idle: under load (where pool_pre_ping's `SELECT 1` on every
    checkout was a tenth of a chat turn) connections come back within milliseconds and go out unpinged; after
    a quiet spell, when a restarted server or a proxy may have dropped them, a dead one is replaced before use
    (DisconnectionError makes the pool connect afresh). Old connections are recycled besides."""
    if time.monotonic() - record.info.get(_IDLE_SINCE, 0.0) < PING_AFTER_IDLE_SECONDS:
        return
    try:
        dialect.do_ping(dbapi_connection)
    except Exception as error:
        raise exc.DisconnectionError(str(error)) from error


def _sqlite_begin(connection) -> None:
    """Begin every transaction ourselves, taking the write lock at once.

    pysqlite's own handling begins only before the first write, so a SAVEPOINT issued first is a transaction
    of its own whose RELEASE commits: an idempotency insert would then survive a rollback. IMMEDIATE waits
    (busy_timeout) for the lock instead of failing when another process wrote after our first read.
    """
    options = connection.get_execution_options()
    if options.get(READ_FIRST):
        return  # begun by _sqlite_begin_at_first_write, if it ever writes
    dbapi_connection = connection.connection.dbapi_connection
    dbapi_connection.queue(background=bool(options.get(BACKGROUND)))
    try:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        dbapi_connection.leave()
        raise


def _sqlite_begin_at_first_write(connection, cursor, statement, *_args) -> None:
    """A read-first transaction's first statement that is not a SELECT (a write, a SAVEPOINT) queues for the
    writers' lock and begins the transaction before it runs (see read_first)."""
    dbapi_connection = connection.connection.dbapi_connection
    if dbapi_connection.in_transaction or not connection.get_execution_options().get(READ_FIRST) \
            or statement.lstrip()[:6].upper() == "SELECT":
        return
    dbapi_connection.queue()
    try:
        cursor.execute("BEGIN IMMEDIATE")
    except BaseException:
        dbapi_connection.leave()
        raise


class _QueuedConnection(sqlite3.Connection):
    """Writers wait their turn on a lock file (flock) before BEGIN IMMEDIATE, and leave it at commit or rollback.

    SQLite's own wait (busy_timeout) polls with sleeps growing to 100 ms, so under steady load a process that
    found the lock taken sleeps while others take it again and again: seconds of waiting at worst, and a p99 of
    ~100 ms at 16 connections. The lock file is polled every LOCK_POLL_SECONDS while a turn is short (a chat
    turn holds it ~1.5 ms), so it is taken almost as soon as it is free, and less often after LOCK_POLL_FAST_FOR.
    A writer that takes it again right after leaving first gives way (LOCK_COURTESY_SECONDS), and a background
    writer (the worker) waits while a request does: a request holds a shared lock on a second file while it
    queues, which the worker probes. The SQLite lock and busy_timeout stay as they were, for every other
    connection to the file. An in-memory database has no file.
    """

    def __init__(self, database, *args, **kwargs):
        super().__init__(database, *args, **kwargs)
        path = os.fspath(database)
        has_file = not (path in ("", ":memory:") or path.startswith("file:"))
        self._lock_fd, self._waiting_fd = (
            os.open(path + suffix, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644) if has_file else None
            for suffix in ("-writer.lock", "-waiting.lock"))
        self._queued = False
        self._left_at = float("-inf")

    def queue(self, background: bool = False) -> None:
        """Take the writers' lock, polling it; after LOCK_WAIT_SECONDS fail as SQLite would, so a stuck
        transaction elsewhere is an error here, never a hang. A `background` writer first stands aside."""
        if self._lock_fd is None or self._queued:
            return
        if background:
            self._stand_aside()
        else:
            fcntl.flock(self._waiting_fd, fcntl.LOCK_SH)  # "a request is waiting"; the probe holds it for no time
        try:
            self._take()
        finally:
            if not background:
                fcntl.flock(self._waiting_fd, fcntl.LOCK_UN)
        self._queued = True

    def _stand_aside(self) -> None:
        """Wait while a request queues for the writers' lock (it holds the waiting file shared), at most
        BACKGROUND_YIELD_SECONDS."""
        deadline = time.monotonic() + BACKGROUND_YIELD_SECONDS
        while time.monotonic() < deadline:
            try:
                fcntl.flock(self._waiting_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                time.sleep(LOCK_POLL_SECONDS)
                continue
            fcntl.flock(self._waiting_fd, fcntl.LOCK_UN)
            return

    def _take(self) -> None:
        started = time.monotonic()
        if started - self._left_at < LOCK_COURTESY_SECONDS:
            time.sleep(LOCK_COURTESY_SECONDS)
        while True:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                waited = time.monotonic() - started
                if waited > LOCK_WAIT_SECONDS:
                    raise sqlite3.OperationalError("database is locked") from None
                time.sleep(LOCK_POLL_SECONDS if waited < LOCK_POLL_FAST_FOR else LOCK_POLL_SLOW_SECONDS)

    def leave(self) -> None:
        if self._queued:
            self._queued = False
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            self._left_at = time.monotonic()

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.leave()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.leave()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.leave()
            for fd in (self._lock_fd, self._waiting_fd):
                if fd is not None:
                    os.close(fd)
            self._lock_fd = self._waiting_fd = None


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets the web and the worker share one file; foreign keys are off in SQLite unless asked for.
    synchronous=FULL syncs the WAL at every commit: a receipt given survives a power loss (WAL's NORMAL would not).
    Autocommit at the driver level hands transaction control to _sqlite_begin."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={LOCK_WAIT_SECONDS * 1000}")
    cursor.close()


def recreate_postgres_database(url: str, create: bool = True) -> None:
    """Drop the database named in a PostgreSQL URL (and create it empty again): tests and benches start clean."""
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
