"""The worker grades their closed case 满意 / 基本满意 / 不满意: asked in the 结案 notice on their own channel,
answered by a reply in their own words or with one tap on their signed link, once; the grade is on the case, its
timeline and the ledger, and the figures' 满意率 counts it."""
from __future__ import annotations

import io

import openpyxl
import pytest

from intake.conversation import replies as R
from intake.foundation.models import EventKind, Satisfaction, utcnow
from intake.people.access import Scope
from intake.people.staff import Role
from intake.supervision.figures import Filters, figures
from tests.helpers import (
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
)

COMPLAINANT = "13912345678"  # the phone tests.helpers.new_case files with
CITY = Scope(user_id=0, username="t", role=Role.ADMIN, department_id=None, jurisdiction_code=None)


@pytest.fixture
def resolved(app, session, settings, lanshan_site, staff):
    """One worker's case, resolved through the console: they are asked 工资到手了吗."""
    case = routed(app, session, settings, lanshan_site)
    for action in ("acknowledge", "accept"):
        assert act(staff, case.ticket_no, action).status_code == 303
    done = act(staff, case.ticket_no, "resolve", outcome="老板已付清", amount_recovered="12000", workers_paid="3")
    assert "flash ok" in flashed(staff, done)
    return reload(session, case)


def texting(session, settings):
    chat = sms(session, settings, phone=COMPLAINANT)
    chat.now = utcnow()
    return chat


def test_a_worker_who_confirms_by_sms_is_asked_to_grade_and_answers_in_their_own_words(
        app, session, settings, resolved, staff, users):
    chat = texting(session, settings)
    assert chat.say("1").text == R.PAID_CLOSED.format(ticket=resolved.ticket_no)
    [closed] = outbox(session, resolved, "worker_closed")
    assert "您对处理结果满意吗？回复1满意 2基本满意 3不满意" in closed.payload["text"]
    assert confirm_link(closed.payload["text"])
    assert chat.say("还行").text == R.GRADED.format(ticket=resolved.ticket_no)
    complaint = reload(session, resolved)
    assert complaint.satisfaction == Satisfaction.BASIC and complaint.satisfaction_at is not None
    assert chat.say("3").text == "您已经评价过了（基本满意），谢谢。"
    assert reload(session, resolved).satisfaction == Satisfaction.BASIC

    page = case_page(staff, resolved.ticket_no).get_data(as_text=True)
    assert '<dt>工人评价</dt><dd class="satisfaction">基本满意（' in page
    assert "<b>工人评价</b>" in page and "工人评价：基本满意" in page  # on the timeline
    county = app.test_client()
    login(county, users["county"])
    book = openpyxl.load_workbook(io.BytesIO(exported(app, county, "/console/ledger.xlsx").data))
    header, *rows = [[c.value for c in row] for row in book["台账"].iter_rows()]
    [row] = [dict(zip(header, r)) for r in rows if r[header.index("投诉编号")] == resolved.ticket_no]
    assert (row["工人确认"], row["工人评价"]) == ("工资已到手", "基本满意")
    total = figures(session, CITY, Filters(), utcnow(), "Asia/Shanghai").total
    assert (total.satisfied, total.answered, total.satisfaction_rate) == (1, 1, 1.0)


@pytest.mark.parametrize("said, grade", [
    ("2", Satisfaction.BASIC), ("非常满意！", Satisfaction.SATISFIED), ("满意", Satisfaction.SATISFIED),
    ("一般", Satisfaction.BASIC), ("太差了", Satisfaction.UNSATISFIED), ("不满意", Satisfaction.UNSATISFIED)])
def test_the_common_answers_are_understood(session, settings, resolved, said, grade):
    chat = texting(session, settings)
    chat.say("收到了")
    assert chat.say(said).text == R.GRADED.format(ticket=resolved.ticket_no)
    assert reload(session, resolved).satisfaction == grade


def test_before_the_case_is_closed_a_digit_answers_the_payment_question_not_the_grade(session, settings, resolved):
    chat = texting(session, settings)
    assert chat.say("2").text.startswith(f"已记下编号{resolved.ticket_no}您的工资没收到或不够")
    assert reload(session, resolved).satisfaction is None


def test_on_the_signed_link_the_worker_confirms_then_grades_with_one_tap_once(app, session, resolved):
    [asked] = outbox(session, resolved, "worker_resolved")
    link = confirm_link(asked.payload["text"])
    worker = app.test_client()
    page = worker.get(link).get_data(as_text=True)
    assert "您对处理结果满意吗" not in page  # not closed yet: the payment question only
    page = worker.post(link, data={"csrf_token": csrf_token(page), "paid": "yes"}).get_data(as_text=True)
    assert "案件已结案" in page and "您对处理结果满意吗" in page
    assert all(f'name="satisfaction" value="{v}"' in page for v in ("satisfied", "basic", "unsatisfied"))

    forged = worker.post(link, data={"csrf_token": csrf_token(page), "satisfaction": "great"})
    assert forged.status_code == 200 and reload(session, resolved).satisfaction is None
    assert "您对处理结果满意吗" in forged.get_data(as_text=True)
    done = worker.post(link, data={"csrf_token": csrf_token(page), "satisfaction": "unsatisfied"})
    assert "谢谢您的评价" in done.get_data(as_text=True) and "您对处理结果满意吗" not in done.get_data(as_text=True)
    again = worker.post(link, data={"csrf_token": csrf_token(page), "satisfaction": "satisfied"})
    assert "您已经评价过了（不满意）" in again.get_data(as_text=True)
    complaint = reload(session, resolved)
    assert complaint.satisfaction == Satisfaction.UNSATISFIED
    assert [e.data for e in complaint.events if e.kind == EventKind.SATISFACTION_RATED] == [
        {"satisfaction": "unsatisfied", "via": "web"}]


def test_a_case_closed_without_the_workers_answer_still_asks_for_their_grade(
        app, session, settings, resolved, users):
    head = app.test_client()
    login(head, users["county"])
    done = act(head, resolved.ticket_no, "close_override", reason="工人电话停机，工资已由银行代发")
    assert "flash ok" in flashed(head, done)
    [closed] = outbox(session, resolved, "worker_closed")
    worker = app.test_client()
    link = confirm_link(closed.payload["text"])
    page = worker.get(link).get_data(as_text=True)
    assert "您对处理结果满意吗" in page
    worker.post(link, data={"csrf_token": csrf_token(page), "satisfaction": "satisfied"})
    assert reload(session, resolved).satisfaction == Satisfaction.SATISFIED
