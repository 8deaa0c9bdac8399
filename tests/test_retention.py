"""`qingling retention`: closed cases lose their worker after the retention period; the ledger's figures stay."""
from __future__ import annotations

import dataclasses
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from intake.conversation.draft import Draft
from intake.delivery.outbox import sms_destination
from intake.foundation.encryption import identity
from intake.foundation.models import (
    Attachment,
    AuditEntry,
    ClaimLine,
    Complaint,
    Conversation,
    Event,
    InboundMessage,
    Outbox,
    PosterCheckIn,
    Site,
    Status,
    utcnow,
)
from intake.privacy.retention import REMOVED_TEXT, cutoff
from tests.helpers import csrf_token, flashed, invoke, login, make_accounts, new_case, phone_photo

YEAR = timedelta(days=365)


def chat_case(session, settings, phone: str, closed_ago: timedelta | None, age: timedelta) -> Complaint:
    """An SMS case filed `age` ago with its chat, a photo, a claim line and a text to the worker; closed
    `closed_ago` ago, or still in progress."""
    complaint = new_case(session, settings, channel="sms", user=identity(phone), phone=phone)
    filed = utcnow() - age
    complaint.created_at = filed
    complaint.complainant.id_number = "11010519491231002X"
    session.add_all([
        InboundMessage(channel="sms", provider_message_id=f"m-{phone}-1", sender=identity(phone),
                       payload={"from": phone, "text": "老板欠我们三个人一万二"}, received_at=filed - timedelta(minutes=3)),
        InboundMessage(channel="sms", provider_message_id=f"m-{phone}-2", sender=identity(phone), payload={"text": "确认"},
                       reply="已收到", received_at=filed),
        Attachment(complaint_id=complaint.id, filename="iou.jpg", content_type="image/jpeg", size=3, sha256="0" * 64,
                   content=b"jpg"),
        ClaimLine(complaint_id=complaint.id, worker_name="张三", amount_claimed=4000, amount_paid=4000,
                  phone="13800000002"),
        Outbox(complaint_id=complaint.id, destination=sms_destination(phone), phone=phone,
               payload={"kind": "worker_closed", "text": "已销号"}, state="sent"),
        Outbox(complaint_id=complaint.id, destination="department:1", payload={"kind": "new_case", "text": "新案件"},
               state="sent"),
        Outbox(complaint_id=complaint.id, destination=sms_destination("13800000002"), phone="13800000002",
               payload={"kind": "worker_confirm", "text": "张三您好"}, state="sent"),  # the line's own 工资到手了吗
        Conversation(channel="sms", user_id=identity(phone), state="idle", draft=Draft(phone=phone).to_json(),
                     updated_at=filed),
    ])
    complaint.amount_recovered = 12000
    if closed_ago is None:
        complaint.status = Status.IN_PROGRESS.value
    else:
        complaint.status = Status.CLOSED.value
        session.add(Event(complaint_id=complaint.id, kind="closed", from_status="resolved", to_status="closed",
                          actor="worker", created_at=utcnow() - closed_ago))
    session.commit()
    return complaint


def figures(session) -> tuple:
    """What the ledger counts: cases, workers, amounts owed, recovered, claimed and paid."""
    session.rollback()
    return (session.execute(select(func.count(), func.sum(Complaint.workers), func.sum(Complaint.amount),
                                   func.sum(Complaint.amount_recovered))).one(),
            session.execute(select(func.count(), func.sum(ClaimLine.amount_claimed),
                                   func.sum(ClaimLine.amount_paid))).one())


@pytest.fixture
def cases(session, settings):
    return {
        "expired": chat_case(session, settings, "13911110001", closed_ago=3 * YEAR + timedelta(days=2),
                             age=4 * YEAR),
        "recent": chat_case(session, settings, "13911110002", closed_ago=2 * YEAR, age=3 * YEAR),
        "open": chat_case(session, settings, "13911110003", closed_ago=None, age=6 * YEAR),
    }


def raw_complainant(session, complaint) -> tuple:
    return session.execute(text("SELECT name, phone, phone_hash, id_number, id_number_hash FROM complainants "
                                "WHERE id = :id"), {"id": complaint.complainant_id}).one()


def left_of(session, complaint_id: int, phone: str) -> dict:
    """What is still stored of one case and of the worker's phone (which is their SMS user id)."""
    session.rollback()
    return {"photos": session.scalar(select(func.count()).select_from(Attachment)
                                     .where(Attachment.complaint_id == complaint_id)),
            "chat": session.scalar(select(func.count()).select_from(InboundMessage)
                                   .where(InboundMessage.sender == phone)),
            "outbox": sorted(session.scalars(select(Outbox.destination).where(Outbox.complaint_id == complaint_id))),
            "conversations": session.scalar(select(func.count()).select_from(Conversation)
                                            .where(Conversation.user_id == phone))}


def test_only_cases_closed_longer_ago_than_the_period_are_anonymised(app, session, cases):
    before = figures(session)
    phones = {name: c.channel_user_id for name, c in cases.items()}
    untouched = {name: left_of(session, c.id, phones[name]) for name, c in cases.items()}
    assert untouched["expired"] == {"photos": 1, "chat": 2, "conversations": 1, "outbox": sorted(
        ["department:1", sms_destination("13800000002"), sms_destination("13911110001")])}

    dry = invoke(app, "retention", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "1 件案件，1 张照片，2 条聊天记录" in dry.output and "未做任何修改" in dry.output
    assert left_of(session, cases["expired"].id, phones["expired"]) == untouched["expired"]

    result = invoke(app, "retention")
    assert result.exit_code == 0, result.output
    assert "1 件案件，1 张照片，2 条聊天记录" in result.output

    session.rollback()
    expired = session.get(Complaint, cases["expired"].id)
    assert raw_complainant(session, expired) == (None, None, None, None, None)
    assert expired.complainant.id_number_masked is None and expired.free_text == REMOVED_TEXT
    assert expired.channel_user_id is None and expired.anonymised_at is not None
    assert [(line.worker_name, line.phone, line.phone_hash) for line in expired.claim_lines] == [(None, None, None)]
    assert expired.events[-1].kind == "anonymised"
    assert left_of(session, expired.id, phones["expired"]) == {"photos": 0, "chat": 0, "outbox": ["department:1"], "conversations": 0}
    for name in ("recent", "open"):
        assert left_of(session, cases[name].id, phones[name]) == untouched[name]
        kept = session.get(Complaint, cases[name].id)
        assert identity(kept.complainant.phone) == phones[name] and kept.anonymised_at is None

    assert figures(session) == before
    (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "retention")).all()
    assert entry.username == "cli" and entry.detail["tickets"] == [expired.ticket_no]
    again = invoke(app, "retention")
    assert "0 件案件" in again.output and figures(session) == before


def test_a_closed_case_is_kept_until_its_period_is_over(app, session, settings):
    chat_case(session, settings, "13911110004", closed_ago=3 * YEAR - timedelta(days=1), age=4 * YEAR)
    assert "0 件案件" in invoke(app, "retention").output


def test_the_period_is_counted_in_calendar_years():
    now = utcnow().replace(year=2028, month=2, day=29)
    assert cutoff(now, 3) == now.replace(year=2025, day=28)
    assert cutoff(now.replace(day=1, month=3), 3) == now.replace(year=2025, month=3, day=1)


def test_poster_check_in_photos_lose_their_bytes_and_place_after_the_period_and_the_check_in_stays(
        configured_app, settings, session):
    app = configured_app(privacy=dataclasses.replace(settings.privacy, check_in_photo_days=30))
    client = app.test_client()
    session.add(Site(code="P-1", name="沂河新城二期", jurisdiction_code="371302", public_token="tok_" + "p" * 20))
    session.commit()
    login(client, make_accounts(session)["staff"])
    for note in ("大门口", "围挡东侧"):
        page = client.get("/console/sites/P-1/poster-check").get_data(as_text=True)
        assert "照片和位置 30 天后删除" in page
        response = client.post("/console/sites/P-1/poster-check", data={
            "csrf_token": csrf_token(page), "photo": (io.BytesIO(phone_photo()), "poster.jpg"), "note": note},
            content_type="multipart/form-data")
        assert "已记录张贴检查" in flashed(client, response)
    old, recent = session.scalars(select(PosterCheckIn).order_by(PosterCheckIn.id)).all()
    assert old.photo and old.latitude is not None
    old.created_at = utcnow() - timedelta(days=31)
    session.commit()

    dry = invoke(app, "retention", "--dry-run")
    assert "满 30 天的张贴检查照片 1 张" in dry.output and "未做任何修改" in dry.output
    session.expire_all()
    assert old.photo is not None
    result = invoke(app, "retention")
    assert result.exit_code == 0 and "已删除满 30 天的张贴检查照片 1 张（连同拍摄位置）" in result.output

    session.expire_all()
    assert (old.photo, old.content_type, old.latitude, old.longitude) == (None, None, None, None)
    assert old.photo_removed_at is not None and (old.actor, old.note) == ("staff:ls_staff", "大门口")
    assert recent.photo.startswith(b"\xff\xd8") and recent.latitude is not None
    page = client.get("/console/sites/P-1/poster-check").get_data(as_text=True)
    assert page.count("照片和位置已过保存期限删除") == 1 and "大门口" in page and "围挡东侧" in page
    (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "retention")).all()
    assert entry.detail == {"check_in_photo_days": 30, "check_in_photos": 1}
    assert "照片 0 张" in invoke(app, "retention").output
