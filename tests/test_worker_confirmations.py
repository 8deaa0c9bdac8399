"""Every worker confirms their own money after 办结: each claim line with a phone is asked on its own, answers by
link or by replying 1 / 2, is reminded, and 销号 waits for every yes or a supervisor's override once the
reminders ran out."""
from __future__ import annotations

import io
from datetime import timedelta

import openpyxl
import pytest
from sqlalchemy import select

from intake.conversation import replies as R
from intake.delivery.outbox import address, sms_destination
from intake.foundation.models import AuditEntry, ClaimLine, Complaint, Event, EventKind, Outbox, Status, utcnow
from tests.helpers import (
    Chat,
    act,
    case_page,
    confirm_link,
    csrf_token,
    exported,
    flashed,
    login,
    outbox,
    reload,
    routed,
    sms,
    worker_pass,
)

COMPLAINANT = "13912345678"  # the phone the routed case was filed with (tests.helpers.new_case)
WORKERS = (("张三", COMPLAINANT, 4000), ("李四", "13800000002", 5000), ("王五", "13800000003", 3000))


@pytest.fixture
def resolved(app, session, settings, lanshan_site, staff):
    """A case of three workers, each with a phone and paid in full, resolved through the console."""
    case = routed(app, session, settings, lanshan_site)
    for action in ("acknowledge", "accept"):
        assert act(staff, case.ticket_no, action).status_code == 303
    for name, phone, amount in WORKERS:
        done = act(staff, case.ticket_no, "claim_line", worker_name=name, amount=str(amount), phone=phone)
        assert "flash ok" in flashed(staff, done), name
    for line in reload(session, case).claim_lines:
        act(staff, case.ticket_no, "payment", line_id=str(line.id), amount_paid=str(line.amount_claimed))
    done = act(staff, case.ticket_no, "resolve", outcome="已责令支付全部工资", amount_recovered="12000",
               workers_paid="3")
    assert "flash ok" in flashed(staff, done)
    complaint = reload(session, case)
    assert complaint.status == Status.RESOLVED.value
    return complaint


def questions(session, complaint) -> dict[str, Outbox]:
    """The question each worker was sent, by the address it goes to (a number is stored as its identity)."""
    return {address(row): row for row in outbox(session, complaint, "worker_confirm")}


def line_of(session, complaint, name) -> ClaimLine:
    session.expire_all()
    return session.scalar(select(ClaimLine).where(ClaimLine.complaint_id == complaint.id,
                                                  ClaimLine.worker_name == name))


def answer_by_link(app, row: Outbox, paid: str) -> str:
    worker = app.test_client()
    link = confirm_link(row.payload["text"])
    page = worker.get(link).get_data(as_text=True)
    return worker.post(link, data={"csrf_token": csrf_token(page), "paid": paid}).get_data(as_text=True)


def answer_by_sms(session, settings, phone, text):
    chat = sms(session, settings, phone=phone)
    chat.now = utcnow()
    return chat.say(text)


def test_each_worker_is_asked_on_their_own_with_their_own_link(session, resolved):
    asked = questions(session, resolved)
    assert set(asked) == {f"sms:{phone}" for _, phone, _ in WORKERS}
    for name, phone, amount in WORKERS:
        text = asked[f"sms:{phone}"].payload["text"]
        assert name in text and f"{amount}元" in text and "回复1" in text and "回复2" in text
    assert len({confirm_link(row.payload["text"]) for row in asked.values()}) == 3
    # The complainant is one of the workers: asked once, not also sent the case's own question.
    assert outbox(session, resolved, "worker_resolved") == [] and outbox(session, resolved, "worker_resolved_lines") == []


def test_one_workers_yes_closes_nothing_for_the_others(app, session, resolved):
    page = answer_by_link(app, questions(session, resolved)["sms:13800000002"], "yes")
    assert "已记下您的工资已经到手" in page
    line = line_of(session, resolved, "李四")
    assert (line.confirmation, line.answered_via) == ("confirmed", "web") and line.answered_at is not None
    assert reload(session, resolved).status == Status.RESOLVED.value
    again = answer_by_link(app, questions(session, resolved)["sms:13800000002"], "yes")
    assert "已经确认过" in again
    [event] = session.scalars(select(Event).where(Event.complaint_id == resolved.id,
                                                  Event.kind == EventKind.PAYMENT_CONFIRMED)).all()
    assert event.data["line_id"] == line.id and "李四" in event.note


def test_the_last_yes_by_sms_or_link_closes_the_case(app, session, settings, resolved):
    asked = questions(session, resolved)
    answer_by_link(app, asked["sms:13800000002"], "yes")
    assert answer_by_sms(session, settings, "13800000003", "1").text == R.PAID_NOTED.format(ticket=resolved.ticket_no)
    assert reload(session, resolved).status == Status.RESOLVED.value
    reply = answer_by_sms(session, settings, COMPLAINANT, "已收到")
    assert reply.text == R.PAID_CLOSED.format(ticket=resolved.ticket_no)
    complaint = reload(session, resolved)
    assert complaint.status == Status.CLOSED.value and complaint.satisfied is True
    assert {ln.confirmation for ln in complaint.claim_lines} == {"confirmed"}
    assert line_of(session, resolved, "王五").answered_via == "sms"
    assert session.scalar(select(Complaint.id).where(Complaint.id != resolved.id)) is None  # no new complaint


def test_a_no_reopens_the_case_for_staff_and_the_others_still_answer(app, session, settings, resolved, staff):
    reply = answer_by_sms(session, settings, "13800000003", "2")
    complaint = reload(session, resolved)
    assert reply.text == R.UNPAID_NOTED.format(ticket=complaint.ticket_no, department=complaint.department.name)
    assert complaint.status == Status.REOPENED.value and complaint.satisfied is False
    assert line_of(session, resolved, "王五").confirmation == "disputed"
    told = [r for r in outbox(session, complaint) if r.payload["kind"] == EventKind.PAYMENT_DISPUTED]
    assert told and "王五" in told[0].payload["text"] and told[0].destination.startswith("department:")
    page = case_page(staff, complaint.ticket_no).get_data(as_text=True)
    assert "没收到或不够" in page and "重新办理" in page
    answer_by_link(app, questions(session, resolved)["sms:13800000002"], "yes")  # the others' answers still count
    assert line_of(session, resolved, "李四").confirmation == "confirmed"
    # Handled again: only those without a yes are asked again.
    act(staff, complaint.ticket_no, "measures", measures=["ordered_to_pay"], note="再次责令")
    before = len(outbox(session, complaint, "worker_confirm"))
    act(staff, complaint.ticket_no, "resolve", outcome="王五的余款已补发", amount_recovered="12000", workers_paid="3")
    again = outbox(session, complaint, "worker_confirm")[before:]
    assert {address(r) for r in again} == {f"sms:{COMPLAINANT}", "sms:13800000003"}


def test_closing_without_the_answers_waits_until_the_reminders_ran_out(app, session, settings, resolved, users):
    county = app.test_client()
    login(county, users["county"])
    answer_by_link(app, questions(session, resolved)["sms:13800000002"], "yes")
    refused = act(county, resolved.ticket_no, "close_override", reason="工人电话打不通")
    assert "还在等张三、王五确认工资到手" in flashed(county, refused)
    assert reload(session, resolved).status == Status.RESOLVED.value
    limit = settings.clocks.confirm_reminders
    for n in range(1, limit + 1):  # every reminder round asks those who have not answered, and only them
        before = len(outbox(session, resolved, "worker_confirm"))
        worker_pass(app, utcnow() + timedelta(days=15 * n))  # past each round's working days, holidays or not
        again = outbox(session, resolved, "worker_confirm")[before:]
        assert {address(r) for r in again} == {f"sms:{COMPLAINANT}", "sms:13800000003"}, n
    assert line_of(session, resolved, "王五").reminders == limit
    [last] = [r for r in outbox(session, resolved) if r.payload["kind"] == EventKind.CONFIRMATION_REMINDED]
    assert "仍未确认" in last.payload["text"] and "张三、王五" in last.payload["text"]
    assert "已提醒2次" in case_page(county, resolved.ticket_no).get_data(as_text=True)
    refused = act(county, resolved.ticket_no, "close_override", reason=" ")
    assert "请填写" in flashed(county, refused) and reload(session, resolved).status == Status.RESOLVED.value
    done = act(county, resolved.ticket_no, "close_override", reason="电话回访两人均称已领到，短信未回")
    assert "flash ok" in flashed(county, done)
    complaint = reload(session, resolved)
    assert complaint.status == Status.CLOSED.value
    closed = [e for e in complaint.events if e.kind == EventKind.CLOSED][-1]
    assert closed.data["override"] is True and "未确认：张三、王五" in closed.note
    assert len(closed.data["unconfirmed"]) == 2
    audited = session.scalars(select(AuditEntry).where(AuditEntry.username == users["county"])).all()
    assert any(e.action == "case_action" and "close_override" in str(e.detail) for e in audited)


def test_the_ledgers_worker_sheet_shows_each_workers_answer(app, session, settings, resolved, users):
    answer_by_link(app, questions(session, resolved)["sms:13800000002"], "yes")
    answer_by_sms(session, settings, "13800000003", "2")
    county = app.test_client()
    login(county, users["county"])
    book = openpyxl.load_workbook(io.BytesIO(exported(app, county, "/console/ledger.xlsx").data))
    header, *rows = [[c.value for c in row] for row in book["工人明细"].iter_rows()]
    mine = {row[header.index("工人姓名")]: dict(zip(header, row)) for row in rows
            if row[header.index("投诉编号")] == resolved.ticket_no}
    assert mine["李四"]["本人确认"] == "已到手" and mine["李四"]["确认方式"] == "确认链接" and mine["李四"]["确认时间"]
    assert mine["王五"]["本人确认"] == "没收到或不够" and mine["王五"]["确认方式"] == "短信"
    assert mine["张三"]["本人确认"] == "待确认" and not mine["张三"]["确认时间"]
    assert mine["王五"]["联系电话"] == "138****0003"


def test_a_single_worker_answers_the_resolved_notice_by_sms(app, session, settings, lanshan_site, staff):
    case = routed(app, session, settings, lanshan_site)
    for action in ("acknowledge", "accept"):
        act(staff, case.ticket_no, action)
    act(staff, case.ticket_no, "resolve", outcome="老板已付清", amount_recovered="12000", workers_paid="3")
    [asked] = outbox(session, case, "worker_resolved")
    assert "回复1" in asked.payload["text"] and confirm_link(asked.payload["text"])
    reply = answer_by_sms(session, settings, COMPLAINANT, "1")
    assert reply.text == R.PAID_CLOSED.format(ticket=case.ticket_no)
    complaint = reload(session, case)
    assert complaint.status == Status.CLOSED.value and complaint.satisfied is True
    # Afterwards a "1" grades the closed case (满意), no payment answer: it does not reopen or file anything.
    assert answer_by_sms(session, settings, COMPLAINANT, "1").text != R.PAID_CLOSED.format(ticket=case.ticket_no)
    assert reload(session, case).status == Status.CLOSED.value


def test_a_wechat_complainant_is_asked_on_wechat_and_answers_there(app, session, settings, lanshan_site, staff):
    case = routed(app, session, settings, lanshan_site, channel="wechat", user="openid-9")
    for action in ("acknowledge", "accept"):
        act(staff, case.ticket_no, action)
    for name, phone in (("张三", COMPLAINANT), ("李四", "13800000002")):
        act(staff, case.ticket_no, "claim_line", worker_name=name, amount="6000", phone=phone)
    for line in reload(session, case).claim_lines:
        act(staff, case.ticket_no, "payment", line_id=str(line.id), amount_paid="6000")
    act(staff, case.ticket_no, "resolve", outcome="已付清", amount_recovered="12000", workers_paid="2")
    asked = questions(session, case)
    assert set(asked) == {"wechat:openid-9", "sms:13800000002"}
    assert asked["wechat:openid-9"].payload["fallbacks"] == ["wechat-template:openid-9", sms_destination(COMPLAINANT)]
    chat = Chat(session, settings, channel="wechat", user="openid-9")
    chat.now = utcnow()
    assert chat.say("已经到手").text == R.PAID_NOTED.format(ticket=case.ticket_no)
    assert (line_of(session, case, "张三").confirmation, line_of(session, case, "张三").answered_via) == \
        ("confirmed", "wechat")
    assert line_of(session, case, "李四").confirmation == "asked"


@pytest.mark.parametrize("phone", ["12345", "1380000000x", "23800000002"])
def test_a_bad_phone_on_a_claim_line_is_refused_and_nothing_added(session, settings, app, lanshan_site, staff, phone):
    case = routed(app, session, settings, lanshan_site)
    act(staff, case.ticket_no, "acknowledge")
    act(staff, case.ticket_no, "accept")
    refused = act(staff, case.ticket_no, "claim_line", worker_name="赵六", amount="3000", phone=phone)
    assert refused.status_code in (303, 400)
    assert "手机号不对" in (flashed(staff, refused) if refused.status_code == 303 else refused.get_data(as_text=True))
    assert reload(session, case).claim_lines == []
