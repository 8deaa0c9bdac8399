"""Evidence that holds: every event of a case carries the hash of the one before, every stored file is sealed into
the chain with its SHA-256, and `qingling evidence verify` reports any later change."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from intake.foundation.chain import event_hash
from intake.foundation.models import Attachment, Complaint, Event, EventKind, utcnow
from intake.foundation.transitions import record
from tests.helpers import invoke, make_site, new_case, phone_photo, submit, ticket_of, worker_pass


def _case_with_history(app, client, session) -> Complaint:
    """A web complaint with two photos, routed, then left to run past its clocks (warnings fired in a batch)."""
    url = f"/s/{make_site(session).public_token}"
    ticket = ticket_of(submit(client, url, photos=[(phone_photo(), "欠条.jpg"), (phone_photo(kind="PNG"), "考勤.png")]))
    worker_pass(app)
    worker_pass(app, now=utcnow() + timedelta(days=20))
    session.rollback()
    return session.scalar(select(Complaint).where(Complaint.ticket_no == ticket))


def _events(session, complaint) -> list[Event]:
    session.expire_all()
    return list(session.scalars(select(Event).where(Event.complaint_id == complaint.id).order_by(Event.id)))


def test_each_event_carries_the_hash_of_the_one_before(app, client, session):
    complaint = _case_with_history(app, client, session)
    events = _events(session, complaint)
    assert len(events) > 5 and events[0].prev_hash is None
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert all(event_hash(e) == e.hash for e in events)
    stored = [e for e in events if e.kind == EventKind.EVIDENCE_STORED]
    files = session.scalars(select(Attachment).where(Attachment.complaint_id == complaint.id)).all()
    assert sorted((e.data["attachment_id"], e.data["sha256"]) for e in stored) == sorted((f.id, f.sha256) for f in files)
    result = invoke(app, "evidence", "verify", "--case", complaint.ticket_no)
    assert result.exit_code == 0, result.output
    assert f"已核验 1 件案件、{len(events)} 条事件、2 个文件，发现 0 处不符。" in result.output


def test_an_edited_event_is_reported(app, client, session):
    complaint = _case_with_history(app, client, session)
    target = _events(session, complaint)[2]
    session.execute(update(Event).where(Event.id == target.id).values(actor="staff:someone-else"))
    session.commit()
    result = invoke(app, "evidence", "verify", "--case", complaint.ticket_no)
    assert result.exit_code == 1
    assert f"{complaint.ticket_no}: 事件 {target.id}（{target.kind}）的内容与其哈希不符，已被改动" in result.output


def test_a_deleted_event_breaks_the_chain(app, client, session):
    complaint = _case_with_history(app, client, session)
    events = _events(session, complaint)
    session.execute(delete(Event).where(Event.id == events[3].id))
    session.commit()
    result = invoke(app, "evidence", "verify")
    assert result.exit_code == 1
    assert f"{complaint.ticket_no}: 事件 {events[4].id} 接不上存证链：它的前序事件已被删除或改动\n已核验" in result.output


def test_a_changed_file_is_reported_even_with_its_hash_rewritten(app, client, session):
    complaint = _case_with_history(app, client, session)
    photo = session.scalars(select(Attachment).where(Attachment.complaint_id == complaint.id)).first()
    sealed = photo.sha256
    forged = photo.content + b"\0"
    session.execute(update(Attachment).where(Attachment.id == photo.id)
                    .values(content=forged, sha256=hashlib.sha256(forged).hexdigest()))
    session.commit()
    result = invoke(app, "evidence", "verify", "--case", complaint.ticket_no)
    assert result.exit_code == 1
    assert f"文件 {photo.id}（{photo.filename}）与存证链中登记的 SHA-256 不符" in result.output
    session.execute(update(Attachment).where(Attachment.id == photo.id).values(sha256=sealed))
    session.commit()
    assert "的内容与记录的 SHA-256 不符" in invoke(app, "evidence", "verify", "--case", complaint.ticket_no).output


def test_an_unknown_ticket_is_a_clear_error(app):
    result = invoke(app, "evidence", "verify", "--case", "000000000000")
    assert result.exit_code == 1 and "没有编号为 000000000000 的案件" in result.output


def test_a_batch_of_clock_events_over_several_cases_keeps_every_chain(app, client, session):
    url = f"/s/{make_site(session).public_token}"
    tickets = [ticket_of(submit(client, url)) for _ in range(3)]
    worker_pass(app)
    worker_pass(app, now=utcnow() + timedelta(days=20))
    session.rollback()
    for ticket in tickets:
        complaint = session.scalar(select(Complaint).where(Complaint.ticket_no == ticket))
        events = _events(session, complaint)
        assert any(e.kind == EventKind.CLOCK_OVERDUE for e in events)
        assert [e.prev_hash for e in events] == [None] + [e.hash for e in events[:-1]]
    result = invoke(app, "evidence", "verify")
    assert result.exit_code == 0 and "发现 0 处不符" in result.output


def test_events_rolled_back_with_a_savepoint_leave_no_head_behind(app, session, settings):
    complaint = new_case(session, settings)
    with pytest.raises(RuntimeError):
        with session.begin_nested():
            record(session, complaint, EventKind.CONTACTED, actor="staff:1", note="撤销的一步")
            raise RuntimeError("the batch failed")
    record(session, complaint, EventKind.CONTACTED, actor="staff:1", note="留下的一步")
    session.commit()
    events = _events(session, complaint)
    assert [e.note for e in events][-1] == "留下的一步" and len(events) == 2
    assert events[1].prev_hash == events[0].hash
    assert invoke(app, "evidence", "verify", "--case", complaint.ticket_no).exit_code == 0
