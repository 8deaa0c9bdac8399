"""Fixtures in the style of Flask's tutorial: a real app on a real database, SQLite by default.

Set QINGLING_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/qingling_test) to run the
same suite against PostgreSQL; the database is dropped and created afresh, and an unreachable server fails the
run instead of skipping it.
"""
from __future__ import annotations

import os
from dataclasses import replace

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine

from handlers import create_app
from handlers.runtime import services
from intake.foundation.db import make_engine, recreate_postgres_database
from intake.foundation.models import Base
from intake.foundation.settings import DatabaseSettings, Settings
from intake.registry.directory import load_directory
from intake.runtime.sessions import make_session_factory
from migrations import upgrade
from tests.helpers import chromium, serving

KEEP_TABLES = {"jurisdictions", "departments", "alembic_version"}

# Property-based tests run the same examples on every machine (derandomize) and keep no example database, so CI
# is deterministic; `HYPOTHESIS_PROFILE=explore` searches further and at random, to hunt for new bugs locally.
# Tests share the suite's database fixtures across examples and keep examples apart themselves.
_SHARED_FIXTURES = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
hypothesis_settings.register_profile("qingling", derandomize=True, database=None, deadline=None, max_examples=100,
                                     suppress_health_check=_SHARED_FIXTURES)
hypothesis_settings.register_profile("explore", max_examples=2000, deadline=None,
                                     suppress_health_check=_SHARED_FIXTURES)
hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "qingling"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    url = os.environ.get("QINGLING_TEST_DATABASE_URL")
    if url:
        recreate_postgres_database(url)
        return url
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'qingling.db'}"


@pytest.fixture(scope="session")
def migrated(database_url) -> str:
    engine = make_engine(database_url)
    upgrade(engine)
    with make_session_factory(engine).begin() as session:
        load_directory(session)
    engine.dispose()
    return database_url


@pytest.fixture
def settings(migrated) -> Settings:
    return Settings(secret_key="test-secret", public_base_url="https://qingling.test",
                    database=DatabaseSettings(url=migrated))


@pytest.fixture
def app(settings):
    app = create_app(settings)
    app.config["TESTING"] = True
    yield app
    engine = services(app).engine
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in KEEP_TABLES:
                conn.execute(table.delete())
    engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def server(app):
    """The app over real HTTP on 127.0.0.1, for the browser tests."""
    with serving(app) as url:
        yield url


@pytest.fixture
def browser():
    """Headless Chromium sized like a phone, with WeChat's in-app browser's user agent."""
    with chromium(390, 844, phone=True) as driver:
        yield driver


@pytest.fixture
def desktop_browser():
    """Headless Chromium on an office computer's 1366x768 screen."""
    with chromium(1366, 768, phone=False) as driver:
        yield driver


@pytest.fixture
def configured_app(app, make_settings):
    """Another app on the suite's database with some settings changed, e.g. configured_app(demo=True); the
    suite's `app` teardown still empties the tables, and each one made is disposed of."""
    made = []

    def build(**changes):
        other = create_app(make_settings(**changes))
        other.config["TESTING"] = True
        made.append(other)
        return other

    yield build
    for other in made:
        services(other).engine.dispose()


@pytest.fixture
def session(app, settings):
    """A session on the app's database for arranging and checking; tests commit what the app must see.

    On SQLite it uses the driver's own transaction handling, which takes no lock for reads, so a test that
    has looked at a row does not block the app (whose transactions take the write lock at once) from writing.
    """
    url = settings.database.url
    engine = create_engine(url) if url.startswith("sqlite") else services(app).engine
    with make_session_factory(engine)() as s:
        yield s
    if engine is not services(app).engine:
        engine.dispose()


@pytest.fixture
def make_settings(settings):
    """Derive settings for one test, e.g. make_settings(demo=True)."""
    return lambda **changes: replace(settings, **changes)
