"""Opens of a site's QR form page: counted in the web process, written in batches by the page after the interval
and by a gunicorn worker that stops, never by the page's own request; the counts reach the indicators."""
import runpy
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, select

from handlers import create_app
from handlers.runtime import services
from intake.foundation.models import Site, SiteScan, SiteWarning
from tests.helpers import worker_pass

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sites(session):
    rows = [Site(code=f"S-{n}", name=f"沂河新城{n}期", jurisdiction_code="371302", industry="房屋建筑",
                 investment="private", public_token=f"tok_{n}" + "s" * 20) for n in (1, 2)]
    session.add_all(rows)
    session.commit()
    return rows


def app_writing_every(settings, seconds):
    app = create_app(replace(settings, poster=replace(settings.poster, scan_write_seconds=seconds)))
    app.config["TESTING"] = True
    return app


def counts(session):
    session.expire_all()
    return sorted((s.site_id, s.day, s.count) for s in session.scalars(select(SiteScan)))


def today():
    return datetime.now(timezone.utc).astimezone(ZoneInfo("Asia/Shanghai")).date()


def test_a_hundred_opens_are_written_by_the_pages_after_them_and_reach_the_spike_warning(app, settings, session,
                                                                                      sites):
    app = app_writing_every(settings, 0)  # every page finds a batch due: written once the page is sent
    client = app.test_client()  # buffered: the body read, then the response closed, as a WSGI server does
    for _ in range(100):
        assert "提交" in client.get(f"/s/{sites[0].public_token}", buffered=True).get_data(as_text=True)
    for _ in range(3):
        client.get(f"/s/{sites[1].public_token}", buffered=True)
    client.post(f"/s/{sites[1].public_token}", data={}, buffered=True)  # a submit is not an open
    assert counts(session) == [(sites[0].id, today(), 100), (sites[1].id, today(), 3)]

    worker_pass(app)
    session.expire_all()
    [spike] = session.scalars(select(SiteWarning).where(SiteWarning.indicator == "scans_spiking")).all()
    assert (spike.site_id, spike.figures["scans"]) == (sites[0].id, 100)
    services(app).engine.dispose()


def test_the_page_itself_writes_nothing_and_a_stopping_gunicorn_worker_writes_what_it_counted(app, settings,
                                                                                           session, sites):
    app = app_writing_every(settings, 3600)
    client = app.test_client()
    writes = []
    event.listen(services(app).engine, "before_cursor_execute",
                 lambda conn, cursor, statement, *args: writes.append(statement)
                 if statement.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")) else None)
    for _ in range(100):
        assert client.get(f"/s/{sites[0].public_token}", buffered=True).status_code == 200
    assert writes == [] and counts(session) == []

    hooks = runpy.run_path(str(ROOT / "gunicorn.conf.py"))
    hooks["worker_exit"](None, SimpleNamespace(wsgi=None))  # a worker whose app never loaded: nothing to write
    hooks["worker_exit"](None, SimpleNamespace(wsgi=app))  # what gunicorn calls as the worker stops
    hooks["worker_exit"](None, SimpleNamespace(wsgi=app))  # nothing left: nothing counted twice
    assert counts(session) == [(sites[0].id, today(), 100)]
    services(app).engine.dispose()
