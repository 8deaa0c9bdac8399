"""Evidence that holds: every event of a case carries the hash of the one before, every stored file is sealed into
the chain with its SHA-256, and `qingling evidence verify` reports any later change."""
from __future__ import annotations

import hashlib
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from alembic import command
from sqlalchemy import delete, event, select, text, update

from handlers import create_app
from handlers.runtime import services
from intake.foundation.chain import event_hash
from intake.foundation.models import Attachment, Complaint, Event, EventKind, utcnow
from intake.foundation.transitions import record
from migrations import alembic_config, upgrade
from tests.helpers import invoke, make_site, meanwhile, new_case, phone_photo, submit, ticket_of, worker_pass


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


def _postgres(settings) -> bool:
    return settings.database.url.startswith("postgresql")


def _writer(app, steps: list[tuple[int, str]], barrier: threading.Barrier | None, errors: list[BaseException]) -> None:
    """Record a step on each case in turn, meeting the other writer between the steps (when there is a barrier),
    then commit."""
    try:
        with services(app).sessions() as s:
            if barrier:
                s.execute(text("SET LOCAL lock_timeout = '5s'"))
            for n, (complaint_id, note) in enumerate(steps):
                if n and barrier:
                    barrier.wait(timeout=10)
                record(s, s.get(Complaint, complaint_id), EventKind.NOTE_ADDED, actor="staff:1", note=note)
            s.commit()
    except BaseException as error:  # noqa: BLE001 - reported by the test
        errors.append(error)
        if barrier:
            barrier.abort()


def test_two_writers_crossing_the_same_cases_take_turns_and_keep_both_chains(app, session, settings):
    """One writer adds to case X then Y, the other to Y then X, both open at once: with a lock on each complaint
    taken at its first event PostgreSQL had to abort one of them as a deadlock; now both commit. SQLite lets one
    writer in at a time, so there the second waits for the first (they cannot meet in between) and both commit."""
    x, y = new_case(session, settings), new_case(session, settings)
    barrier, errors = threading.Barrier(2) if _postgres(settings) else None, []
    writers = [threading.Thread(target=_writer, args=(app, steps, barrier, errors)) for steps in
               ([(x.id, "甲先联系X"), (y.id, "甲再联系Y")], [(y.id, "乙先联系Y"), (x.id, "乙再联系X")])]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=30)
    assert errors == []
    for complaint, notes in ((x, {"甲先联系X", "乙再联系X"}), (y, {"甲再联系Y", "乙先联系Y"})):
        events = _events(session, complaint)
        assert {e.note for e in events[1:]} == notes
        assert sorted(e.chain_index for e in events) == [1, 2, 3]
    result = invoke(app, "evidence", "verify")
    assert result.exit_code == 0 and "发现 0 处不符" in result.output


def test_a_writer_adds_to_a_case_while_another_transaction_on_it_is_open(app, session, settings):
    """The first writer's transaction stays open. On PostgreSQL the second, with a 500 ms lock_timeout, adds to
    the same case and commits, and the first then chains its event after the second's (its id is the lower one).
    On SQLite the second waits for the first's commit and chains after it."""
    postgres = _postgres(settings)
    complaint = new_case(session, settings)
    sessions = services(app).sessions

    def second_writer() -> None:
        with sessions() as second:
            if postgres:
                second.execute(text("SET LOCAL lock_timeout = '500ms'"))
            record(second, second.get(Complaint, complaint.id), EventKind.NOTE_ADDED, actor="staff:2", note="后写")
            second.commit()

    with sessions() as first:
        early = record(first, first.get(Complaint, complaint.id), EventKind.NOTE_ADDED, actor="staff:1", note="先写")
        with meanwhile(second_writer) as second:
            assert second.finished.wait(10 if postgres else 0.3) is postgres
            first.commit()
    assert second.error is None
    events = sorted(_events(session, complaint), key=lambda e: e.chain_index)
    assert [e.note for e in events[1:]] == (["后写", "先写"] if postgres else ["先写", "后写"])
    assert min(e.id for e in events[1:]) == early.id
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    assert invoke(app, "evidence", "verify", "--case", complaint.ticket_no).exit_code == 0


def test_the_migration_numbers_chains_sealed_before_it_by_their_links(make_settings, tmp_path):
    """Chains sealed before the places were stored get them by walking the links, not by row id, and the next
    event joins the true head."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    app = create_app(replace(make_settings(), database=replace(make_settings().database, url=url)))
    engine = services(app).engine
    upgrade(engine)
    with services(app).sessions() as s:
        complaint = new_case(s, services(app).settings)
        for note in ("第二步", "第三步"):
            record(s, complaint, EventKind.CONTACTED, actor="staff:1", note=note)
        s.commit()
        ticket, case_id = complaint.ticket_no, complaint.id
    command.downgrade(alembic_config(engine), "0016")
    with engine.begin() as conn:  # the second step's row id now comes after the third's, as a batch could leave it
        conn.execute(text("UPDATE events SET id = id + 1000 WHERE note = '第二步'"))
    upgrade(engine)
    with services(app).sessions() as s:
        record(s, s.get(Complaint, case_id), EventKind.CONTACTED, actor="staff:1", note="第四步")
        s.commit()
        events = sorted(s.scalars(select(Event).where(Event.complaint_id == case_id)), key=lambda e: e.chain_index)
        assert [e.note for e in events] == [None, "第二步", "第三步", "第四步"]
        assert [e.chain_index for e in events] == [1, 2, 3, 4]
    result = invoke(app, "evidence", "verify", "--case", ticket)
    assert result.exit_code == 0, result.output
    engine.dispose()


def test_a_complaint_filed_in_the_transaction_is_sealed_without_reading_any_chain(app, client, session,
                                                                                 lanshan_site):
    """Its chain starts in the transaction that files it, which no other writer can see: no chain lock, no heads
    look-up, and still a chain that verifies from its first event."""
    url = f"/s/{lanshan_site.public_token}"
    ticket_of(submit(client, url, workers="2", amount="6000"))
    engine, seen = services(app).engine, []

    def note(_connection, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", note)
    try:
        ticket = ticket_of(submit(client, url, workers="3", amount="7000"))
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert not [s for s in seen if "pg_advisory_xact_lock" in s or "max(events.chain_index)" in s], seen
    complaint = session.scalar(select(Complaint).where(Complaint.ticket_no == ticket))
    [received] = session.scalars(select(Event).where(Event.complaint_id == complaint.id)).all()
    assert (received.chain_index, received.prev_hash, received.hash) == (1, None, event_hash(received))
