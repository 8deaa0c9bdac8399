"""Pages do not wait for writers: a GET reads without the SQLite writers' lock and takes it only to write
(intake.foundation.db.read_first); on PostgreSQL a page never waited. The same tests run on both."""
from __future__ import annotations

from contextlib import contextmanager

import pytest

from handlers.runtime import services
from intake.case.cases import add_claim_line
from intake.case.links import confirm_url
from intake.foundation import db as database
from intake.foundation.models import Complaint, InboundMessage, utcnow
from tests.helpers import routed


@pytest.fixture
def writing(app, monkeypatch):
    """Meanwhile another transaction has written and not committed: on SQLite it holds the writers' lock. A
    request that queued for the lock would fail after a second (not 30) with "database is locked"."""
    monkeypatch.setattr(database, "LOCK_WAIT_SECONDS", 1)

    @contextmanager
    def meanwhile():
        with services(app).sessions() as holder:
            holder.add(InboundMessage(channel="sms-status", provider_message_id="held", sender=None, payload={},
                                      received_at=utcnow()))
            holder.flush()
            yield
            holder.rollback()

    return meanwhile


def test_the_forms_are_served_while_a_write_is_open(client, lanshan_site, writing):
    with writing():
        for path in ("/report", f"/s/{lanshan_site.public_token}"):
            page = client.get(path)
            assert page.status_code == 200 and "提交" in page.get_data(as_text=True), path


def test_the_console_queue_is_served_while_a_write_is_open(app, session, settings, lanshan_site, staff, writing):
    case = routed(app, session, settings, lanshan_site)
    with writing():
        page = staff.get("/console/")
    assert page.status_code == 200 and case.ticket_no in page.get_data(as_text=True)


def test_a_page_that_writes_takes_the_lock_for_its_write(app, client, session, settings, lanshan_site):
    """A worker's 工资到手了吗 link opens their case's page, which makes the case's documents reference on first
    use: a GET that writes, after reading without the lock."""
    case = routed(app, session, settings, lanshan_site)
    line = add_claim_line(session, case, actor="staff", worker_name="李四", amount_claimed=4000, phone="13900000007")
    path = confirm_url(settings, case, line).removeprefix(settings.public_base_url)
    case.link_ref = None
    session.commit()
    page = client.get(path)
    assert page.status_code == 200 and case.ticket_no in page.get_data(as_text=True)
    session.expire_all()
    assert session.get(Complaint, case.id).link_ref is not None
