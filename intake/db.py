"""Engine and session factory: the one place that knows how to talk to SQLite or PostgreSQL."""
from __future__ import annotations

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, echo: bool = False) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True)


def _sqlite_begin(connection) -> None:
    """Begin every transaction ourselves, taking the write lock at once.

    pysqlite's own handling begins only before the first write, so a SAVEPOINT issued first is a transaction
    of its own whose RELEASE commits: an idempotency insert would then survive a rollback. IMMEDIATE waits
    (busy_timeout) for the lock instead of failing when another process wrote after our first read.
    """
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    """WAL lets the web and the worker share one file; foreign keys are off in SQLite unless asked for.
    Autocommit at the driver level hands transaction control to _sqlite_begin."""
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def recreate_postgres_database(url: str, create: bool = True) -> None:
    """Drop the database named in a PostgreSQL URL (and create it empty again): tests and benches start clean."""
    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
