"""Fixtures in the style of Flask's tutorial: a real app on a real database, SQLite by default.

Set QINGLING_TEST_DATABASE_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/qingling_test) to run the
same suite against PostgreSQL; the database is dropped and created afresh, and an unreachable server fails the
run instead of skipping it.
"""
from __future__ import annotations

import os
import threading
from dataclasses import replace

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, make_url

from handlers import create_app
from handlers.runtime import services
from intake.foundation.db import make_engine, recreate_postgres_database
from intake.foundation.models import Base, Site
from intake.foundation.settings import DatabaseSettings, Settings
from intake.registry.directory import load_directory
from intake.runtime.sessions import make_session_factory
from migrations import upgrade

# helpers.py holds assertions (and the shared mainland SMS scenarios): pytest rewrites them as in a test module.
pytest.register_assert_rewrite("tests.helpers")
from tests.helpers import SECRET_KEY, FakeApi, QuietServer, WebhookReceiver, chromium, login, make_accounts, serving

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


@pytest.fixture
def scratch_database(database_url, tmp_path) -> str:
    """An empty database of the suite's kind (SQLite, or PostgreSQL beside the suite's), for tests that migrate
    step by step; a PostgreSQL one is dropped afterwards."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'scratch.db'}"
        return
    parsed = make_url(database_url)
    url = parsed.set(database=f"{parsed.database}_scratch").render_as_string(hide_password=False)
    recreate_postgres_database(url)
    yield url
    recreate_postgres_database(url, create=False)


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
    return Settings(secret_key=SECRET_KEY, public_base_url="https://qingling.test",
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


# ---------------------------------------------------------------- shared by several test modules

@pytest.fixture
def lanshan_site(session):
    """A registered site, 阳光城三期 in 兰山区 (371302): the county of make_accounts' staff."""
    row = Site(code="S-1", name="阳光城三期", jurisdiction_code="371302", industry="房屋建筑",
               investment="private", public_token="tok_" + "a" * 20)
    session.add(row)
    session.commit()
    return row


@pytest.fixture
def chat_sites(session):
    """The two sites the chat tests talk about, by code: yg (阳光城工地, 兰山区) and yh (沂河花园三期, 河东区)."""
    rows = [Site(code="yg", name="阳光城工地", jurisdiction_code="371302", address="兰山区北京路1号",
                 public_token="tok-yangguang"),
            Site(code="yh", name="沂河花园三期", jurisdiction_code="371312", address="河东区凤凰大街",
                 public_token="tok-yihe")]
    session.add_all(rows)
    session.commit()
    return {s.code: s for s in rows}


@pytest.fixture
def app_with(app, make_settings, settings):
    """Build another app on the same database with some settings changed, e.g. app_with(uploads={...})."""
    made = []

    def build(**sections):
        changed = {name: replace(getattr(settings, name), **values) for name, values in sections.items()}
        made.append(create_app(make_settings(**changed)))
        return made[-1]

    yield build
    for other in made:
        services(other).engine.dispose()


@pytest.fixture(scope="module")
def http_server():
    """A real HTTP receiver on 127.0.0.1 for webhook deliveries, one per test module; it records each request."""
    server = QuietServer(("127.0.0.1", 0), WebhookReceiver)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def hook(http_server):
    """The module's webhook receiver, with no requests recorded yet."""
    http_server.requests.clear()
    return http_server


@pytest.fixture
def api(provider):
    """The mainland SMS provider's API servers, a FakeApi on 127.0.0.1 that accepts every send; for the modules
    that define a `provider` fixture (test_sms_aliyun.py, test_sms_tencent.py)."""
    fake = FakeApi(lambda n: provider.accepted(f"{provider.name}-msg-{n}"))
    yield fake
    fake.close()


@pytest.fixture
def sms_app(configured_app, provider, api):
    """The suite's app with the module's mainland SMS provider configured against the fake API."""
    return configured_app(**provider.settings(api.url))


@pytest.fixture
def sms_client(sms_app):
    return sms_app.test_client()


@pytest.fixture
def users(session) -> dict[str, str]:
    """One console account per role around 兰山区 plus outsiders (tests.helpers.make_accounts)."""
    return make_accounts(session)


@pytest.fixture
def staff(app, users):
    """A test client signed in as 兰山区住建局's clerk, the holder of a routed 兰山区 case."""
    client = app.test_client()
    login(client, users["staff"])
    return client
