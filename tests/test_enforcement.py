"""Enforcement: an order to pay within a time limit, its expiry with the additional compensation and the
escalation, and the thresholds for the transfer to the police."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from intake.case.cases import CaseContext, CaseError
from intake.case.complaints import NewComplaint, create_complaint
from intake.enforcement import orders, police
from intake.foundation.models import (
    ClaimLine,
    ClearingNotice,
    EmployerListing,
    EventKind,
    PaymentOrder,
    PlanStep,
    PoliceTransfer,
    utcnow,
)
from intake.foundation.settings import EnforcementSettings
from intake.supervision.employers import list_employer, remove_listing
from tests.helpers import (
    CAL,
    act,
    auth,
    case_page,
    flashed,
    invoke,
    login,
    make_client,
    outbox,
    reload,
    routed,
    worker_pass,
)


@pytest.fixture
def accepted(app, session, settings, lanshan_site, users):
    """A case of 兰山区住建局 acknowledged and accepted by its staff; the head's console client."""
    complaint = routed(app, session, settings, lanshan_site)
    staff, head = app.test_client(), app.test_client()
    login(staff, users["staff"])
    login(head, users["head"])
    for action in ("acknowledge", "accept"):
        act(staff, complaint.ticket_no, action)
    return complaint, staff, head


def _order(session, complaint) -> PaymentOrder:
    session.expire_all()
    return session.scalar(select(PaymentOrder).where(PaymentOrder.complaint_id == complaint.id))


def test_an_order_unpaid_at_its_deadline_fixes_the_compensation_and_escalates(app, session, accepted):
    complaint, staff, head = accepted
    due = (utcnow() + timedelta(days=10)).astimezone(CAL.timezone).date().isoformat()
    issued = act(head, complaint.ticket_no, "order_payment", employer="临沂某建筑劳务公司", amount="12,001",
                 due=due, percent="60")
    assert "临沂某建筑劳务公司" in flashed(head, issued)
    order = _order(session, complaint)
    assert (order.state, order.amount, order.compensation_percent, order.compensation) == ("served", 12001, 60, None)
    version = reload(session, complaint).version
    act(staff, complaint.ticket_no, "measures", measures="ordered_to_pay")  # the case moves on; the order's timer stays
    assert reload(session, complaint).version > version
    worker_pass(app, now=utcnow() + timedelta(days=5))
    assert _order(session, complaint).state == "served"
    worker_pass(app, now=utcnow() + timedelta(days=12))
    order = _order(session, complaint)
    assert (order.state, order.compensation) == ("expired", 7201)  # 60 % of 12,001, rounded half up
    expired = [e for e in reload(session, complaint).events if e.kind == EventKind.ORDER_EXPIRED]
    assert len(expired) == 1 and expired[0].data["compensation"] == 7201
    notices = outbox(session, complaint, EventKind.ORDER_EXPIRED)
    assert len({n.destination for n in notices}) >= 3  # the department, the county's and the city's supervisors
    assert all("加付赔偿金 7201 元" in n.payload["text"] for n in notices)
    worker_pass(app, now=utcnow() + timedelta(days=13))
    assert len(outbox(session, complaint, EventKind.ORDER_EXPIRED)) == len(notices)


def test_an_order_paid_in_time_never_expires(app, session, accepted):
    complaint, staff, head = accepted
    due = (utcnow() + timedelta(days=10)).astimezone(CAL.timezone).date().isoformat()
    act(head, complaint.ticket_no, "order_payment", employer="临沂某建筑劳务公司", amount="5000", due=due, percent="50")
    act(staff, complaint.ticket_no, "order_paid", note="已全额支付")
    worker_pass(app, now=utcnow() + timedelta(days=12))
    order = _order(session, complaint)
    assert order.state == "paid" and order.compensation is None
    assert outbox(session, complaint, EventKind.ORDER_EXPIRED) == []


@pytest.mark.parametrize(("fields", "message"), [
    ({"percent": "120"}, "加付赔偿金比例须在 50% 至 100% 之间"),
    ({"percent": "49"}, "加付赔偿金比例须在 50% 至 100% 之间"),
    ({"amount": "0"}, "责令支付的金额必须大于 0 元"),
    ({"due": "2020-01-01"}, "支付期限必须晚于现在"),
    ({"due": "明天"}, "请填写支付期限（年-月-日）"),
    ({"employer": ""}, "请填写被责令支付的用人单位"),
])
def test_a_bad_order_is_refused_and_changes_nothing(session, accepted, fields, message):
    complaint, _staff, head = accepted
    due = (utcnow() + timedelta(days=10)).astimezone(CAL.timezone).date().isoformat()
    values = {"employer": "临沂某建筑劳务公司", "amount": "5000", "due": due, "percent": "50"} | fields
    refused = act(head, complaint.ticket_no, "order_payment", **values)
    assert message in flashed(head, refused)
    assert _order(session, complaint) is None


def test_staff_may_not_issue_an_order(session, accepted):
    complaint, staff, _head = accepted
    due = (utcnow() + timedelta(days=10)).astimezone(CAL.timezone).date().isoformat()
    response = act(staff, complaint.ticket_no, "order_payment", employer="某公司", amount="5000", due=due,
                   percent="50")
    assert response.status_code == 403 and _order(session, complaint) is None


# -- the thresholds for the transfer to the police, at, below and above each figure (defaults of 法释〔2013〕3号)

def _case(session, workers, amount, months, lines=()):
    complaint, _ = create_complaint(session, NewComplaint(channel="web", phone="13900000000", workers=workers,
                                                          amount=amount, months=months))
    for claimed, paid in lines:
        session.add(ClaimLine(complaint_id=complaint.id, worker_name="工人", amount_claimed=claimed,
                              amount_paid=paid))
    session.flush()
    session.expire(complaint, ["claim_lines"])
    return complaint


def _expired_order(session, complaint, amount):
    session.add(PaymentOrder(complaint=complaint, employer="某公司", amount=amount, due_at=utcnow(),
                             compensation_percent=50, state=orders.EXPIRED, issued_by="staff:x"))
    session.flush()


@pytest.mark.parametrize(("workers", "amount", "months", "lines", "eligible"), [
    (1, 5000, 3, (), True),            # one worker, at both thresholds
    (1, 4999, 3, (), False),           # one yuan below
    (1, 20000, 2, (), False),          # enough money, too few months
    (1, 20001, 6, (), True),           # above
    (3, 12000, 3, ((6000, 0), (3000, 0), (3000, 0)), True),   # one of three workers is owed 6,000
    (3, 12000, 3, ((6000, 1001), (3000, 0), (3000, 0)), False),  # partly paid: 4,999 still owed
    (3, 12000, 3, (), False),          # no claim lines: no one worker's amount is known
    (10, 30000, 1, (), True),          # ten workers, at the total
    (10, 29999, 1, (), False),
    (9, 90000, 1, (), False),          # nine workers: the many-workers rule does not apply
    (12, 100000, 1, (), True),
])
def test_police_eligibility_at_below_and_above_each_threshold(session, workers, amount, months, lines, eligible):
    complaint = _case(session, workers, amount, months, lines)
    settings = EnforcementSettings()
    assert not orders.police_eligibility(session, complaint, settings).eligible  # no order ignored yet
    _expired_order(session, complaint, amount)
    check = orders.police_eligibility(session, complaint, settings)
    assert check.eligible is eligible, check.reasons
    session.rollback()


def test_the_province_sets_the_figure(session):
    complaint = _case(session, 1, 10000, 3)
    _expired_order(session, complaint, 10000)
    shandong = replace(EnforcementSettings(), police_one_worker_amount=10001)
    assert orders.police_eligibility(session, complaint, EnforcementSettings()).eligible
    assert not orders.police_eligibility(session, complaint, shandong).eligible
    session.rollback()


def test_a_transfer_below_the_thresholds_is_refused_with_the_reasons(app, session, settings, accepted):
    complaint, _staff, head = accepted
    refused = act(head, complaint.ticket_no, "police_transfer", police="临沂市公安局兰山分局", note="拒不支付")
    page = flashed(head, refused)
    assert "不符合移送公安的条件" in page and "尚无逾期未付的限期支付令" in page
    assert not [e for e in reload(session, complaint).events if e.kind == EventKind.POLICE_TRANSFERRED]


def test_an_eligible_case_is_transferred_with_its_basis(app, session, settings):
    complaint = _case(session, 10, 30000, 2)
    _expired_order(session, complaint, 30000)
    ctx = CaseContext(settings, CAL, utcnow())
    event = police.transfer_to_police(session, complaint, ctx, actor="staff:head", police="临沂市公安局兰山分局")
    assert event.kind == EventKind.POLICE_TRANSFERRED
    assert "拖欠 10 名工人工资共 30000 元，达到 30000 元的标准" in event.data["basis"]
    with pytest.raises(CaseError):
        police.transfer_to_police(session, _case(session, 10, 29999, 2), ctx, actor="staff:head", police="兰山分局")
    session.rollback()


# -- 一处违法、处处受限: a listed employer found on a site import

def test_a_listed_employer_is_found_on_a_new_site_import(app, session, tmp_path):
    listing = list_employer(session, "山东建工 集团有限公司", kind="blacklist", basis="临人社失信〔2026〕1号",
                            listed_on=date(2026, 1, 5), actor="staff:city", authority="临沂市人力资源和社会保障局")
    list_employer(session, "临沂阳光置业有限公司", kind="dishonest", basis="临人社〔2020〕9号",
                  listed_on=date(2020, 1, 5), actor="staff:city", authority="临沂市人力资源和社会保障局")  # ended 2023
    session.commit()
    path = tmp_path / "清单.csv"
    path.write_bytes((Path(__file__).parent / "data" / "sites_good.csv").read_bytes())
    result = invoke(app, "sites", "import", str(path))
    assert result.exit_code == 0, result.output
    hits = [line for line in result.output.splitlines() if line.startswith("失信提醒：")]
    assert hits and all("施工总承包单位“山东建工集团有限公司”在拖欠农民工工资失信联合惩戒对象名单（黑名单）中"
                        "（至 2029-01-05）" in line for line in hits)
    assert "LS-2024-001" in hits[0] and not any("临沂阳光置业" in line for line in hits)
    remove_listing(session, listing.id, reason="已整改", removed_on=date(2026, 7, 1), actor="staff:city")
    session.commit()
    again = invoke(app, "sites", "import", str(path))
    assert again.exit_code == 0 and "失信提醒" not in again.output


# -- 移送公安: the police's receipt and decision, each against its clock

@pytest.fixture
def transferable(session, accepted):
    """The accepted case grown to ten workers owed 30,000 yuan, with an order to pay ignored."""
    complaint, staff, head = accepted
    complaint = reload(session, complaint)
    complaint.workers, complaint.amount = 10, 30000
    _expired_order(session, complaint, 30000)
    session.commit()
    return complaint, staff, head


def _transfer(session, complaint):
    session.expire_all()
    return session.scalar(select(PoliceTransfer).where(PoliceTransfer.complaint_id == complaint.id)
                          .order_by(PoliceTransfer.id.desc()))


def _kinds(session, complaint, kind) -> list:
    return [e for e in reload(session, complaint).events if e.kind == kind]


def test_the_polices_receipt_and_decision_are_each_escalated_once_when_late(app, session, transferable):
    complaint, staff, head = transferable
    done = act(head, complaint.ticket_no, "police_transfer", police="临沂市公安局兰山分局", note="拒不支付")
    assert "已移送公安" in flashed(head, done)
    transfer = _transfer(session, complaint)
    assert transfer.police == "临沂市公安局兰山分局" and transfer.received_at is None
    worker_pass(app, now=utcnow() + timedelta(hours=23))
    assert _kinds(session, complaint, EventKind.POLICE_OVERDUE) == []
    worker_pass(app, now=utcnow() + timedelta(hours=25))
    late = _kinds(session, complaint, EventKind.POLICE_OVERDUE)
    assert [e.data["step"] for e in late] == ["receipt"] and "未在期限内签收移送回执" in late[0].note
    assert len({n.destination for n in outbox(session, complaint, EventKind.POLICE_OVERDUE)}) >= 3
    act(staff, complaint.ticket_no, "police_receipt", note="回执 兰公〔2026〕88号")
    transfer = _transfer(session, complaint)
    assert transfer.received_at is not None and transfer.receipt_note == "回执 兰公〔2026〕88号"
    assert "待决定" in case_page(staff, complaint.ticket_no).text
    worker_pass(app, now=utcnow() + timedelta(days=2))
    assert len(_kinds(session, complaint, EventKind.POLICE_OVERDUE)) == 1
    worker_pass(app, now=utcnow() + timedelta(days=4))
    worker_pass(app, now=utcnow() + timedelta(days=5))
    assert [e.data["step"] for e in _kinds(session, complaint, EventKind.POLICE_OVERDUE)] == ["receipt", "decision"]
    refused = act(staff, complaint.ticket_no, "police_decision", outcome="declined")
    assert "不予立案的，请填写公安机关说明的理由" in flashed(staff, refused) and _transfer(session, complaint).outcome is None
    act(staff, complaint.ticket_no, "police_decision", outcome="declined", reason="证据不足，退回补充")
    transfer = _transfer(session, complaint)
    assert (transfer.outcome, transfer.outcome_reason) == ("declined", "证据不足，退回补充")
    decided = _kinds(session, complaint, EventKind.POLICE_DECIDED)
    assert decided[0].note == "临沂市公安局兰山分局不予立案：证据不足，退回补充"
    page = case_page(head, complaint.ticket_no).text
    assert "不予立案：证据不足，退回补充" in page and 'data-action="police_receipt"' not in page
    assert "记录公安机关立案结果" not in page and "移送公安</summary>" in page  # may be transferred again


def test_a_decision_without_a_receipt_counts_as_both_and_stops_the_clocks(app, session, transferable):
    complaint, staff, head = transferable
    act(head, complaint.ticket_no, "police_transfer", police="临沂市公安局兰山分局")
    again = act(head, complaint.ticket_no, "police_transfer", police="另一分局")
    assert "本案已移送公安，尚未收到立案结果" in flashed(head, again)
    act(staff, complaint.ticket_no, "police_decision", outcome="filed")
    transfer = _transfer(session, complaint)
    assert transfer.outcome == "filed" and transfer.received_at is not None
    worker_pass(app, now=utcnow() + timedelta(days=10))
    assert _kinds(session, complaint, EventKind.POLICE_OVERDUE) == []
    assert session.scalar(select(func.count()).select_from(PoliceTransfer)
                          .where(PoliceTransfer.complaint_id == complaint.id)) == 1


@pytest.mark.parametrize(("fields", "message"), [
    ({"police": ""}, "请填写接收移送的公安机关"),
    ({"police": "公" * 201}, "公安机关名称请在 200 字以内"),
])
def test_a_transfer_without_the_police_named_is_refused(session, transferable, fields, message):
    complaint, _staff, head = transferable
    assert message in flashed(head, act(head, complaint.ticket_no, "police_transfer", **fields))
    assert _transfer(session, complaint) is None


def test_a_listed_employer_is_noted_on_a_new_complaint_and_shown_on_the_case_and_sites_pages(
        app, session, settings, lanshan_site, users):
    list_employer(session, "临沂恒达建筑劳务有限公司", kind="blacklist", basis="临人社失信〔2026〕2号",
                  listed_on=date(2026, 1, 5), actor="staff:city", authority="临沂市人力资源和社会保障局")
    list_employer(session, "山东鲁建集团有限公司", kind="blacklist", basis="临人社失信〔2026〕3号", listed_on=date(2026, 1, 5),
                  actor="staff:county", authority="兰山区", draft=True)  # not approved: in force nowhere
    lanshan_site.general_contractor = "山东鲁建集团有限公司"
    session.commit()
    listed, clean = (create_complaint(session, NewComplaint(
        channel="web", phone=phone, site_id=lanshan_site.id, workers=2, amount=8000, free_text="不给钱",
        claim={"employer": employer}))[0] for phone, employer in
        (("13900004444", "临沂恒达 建筑劳务有限公司"), ("13900005555", "临沂顺达劳务公司")))
    session.commit()
    worker_pass(app)
    noted = [e for e in reload(session, listed).events if e.kind == EventKind.EMPLOYER_LISTED]
    assert len(noted) == 1
    assert noted[0].note == "欠薪方“临沂恒达建筑劳务有限公司”在拖欠农民工工资失信联合惩戒对象名单（黑名单）中（至 2029-01-05）"
    assert not [e for e in reload(session, clean).events if e.kind == EventKind.EMPLOYER_LISTED]
    staff = app.test_client()
    login(staff, users["staff"])
    assert "失信提醒：欠薪方“临沂恒达建筑劳务有限公司”" in case_page(staff, listed.ticket_no).text
    assert "失信提醒" not in case_page(staff, clean.ticket_no).text
    assert "失信：" not in staff.get("/console/sites").text
    session.execute(update(EmployerListing).values(state="approved"))
    session.commit()
    assert "失信：施工总承包单位“山东鲁建集团有限公司”" in staff.get("/console/sites").text
    assert "施工总承包单位“山东鲁建集团有限公司”" in case_page(staff, clean.ticket_no).text


# -- 一案一策: the plan of a serious case, its steps against their dates

def test_a_serious_cases_plan_is_on_its_page_and_a_late_step_escalates(app, session, accepted):
    complaint, staff, head = accepted
    assert "一案一策" not in case_page(head, complaint.ticket_no).text  # an ordinary case has no plan
    refused = act(head, complaint.ticket_no, "plan_step", what="约谈总包", owner="李科长", due="2030-01-01")
    assert "一案一策用于集体欠薪、政府投资或国有企业项目、挂牌督办和紧急案件" in flashed(head, refused)
    complaint = reload(session, complaint)
    complaint.priority = "urgent"
    session.commit()
    assert "本案须制定一案一策" in case_page(head, complaint.ticket_no).text
    day = lambda n: (utcnow() + timedelta(days=n)).astimezone(CAL.timezone).date().isoformat()  # noqa: E731
    act(head, complaint.ticket_no, "plan_step", what="约谈施工总承包单位", owner="兰山区住建局 李科长", due=day(5))
    act(head, complaint.ticket_no, "plan_step", what="核实农民工工资专用账户", owner="王科员", due=day(10))
    assert "请填写责任人" in flashed(head, act(head, complaint.ticket_no, "plan_step", what="x", owner="", due=day(3)))
    page = case_page(staff, complaint.ticket_no).text
    assert "约谈施工总承包单位" in page and "兰山区住建局 李科长" in page and day(5) in page
    second = session.scalars(select(PlanStep).where(PlanStep.what == "核实农民工工资专用账户")).one()
    act(staff, complaint.ticket_no, "plan_step_done", step_id=str(second.id), note="账户余额充足")
    worker_pass(app, now=utcnow() + timedelta(days=7))
    worker_pass(app, now=utcnow() + timedelta(days=12))
    late = [e for e in reload(session, complaint).events if e.kind == EventKind.PLAN_STEP_OVERDUE]
    assert len(late) == 1 and "约谈施工总承包单位" in late[0].note
    assert len({n.destination for n in outbox(session, complaint, EventKind.PLAN_STEP_OVERDUE)}) >= 3
    page = case_page(staff, complaint.ticket_no).text
    assert "一案一策：步骤超期" in page and "已完成：账户余额充足" in page


# -- the same steps through the JSON API

def test_the_enforcement_steps_are_taken_through_the_api(client, session, transferable):
    complaint, _staff, _head = transferable
    head = make_client(session, "ls-housing-head", "head", complaint.department_id)
    url = f"/api/v1/complaints/{complaint.ticket_no}/actions"

    def post(body):
        return client.post(url, json=body, headers=auth(head))

    due = (utcnow() + timedelta(days=10)).astimezone(CAL.timezone).isoformat()
    bad = post({"action": "order_payment", "employer": "某公司", "amount": 5000, "due": "下周", "compensation_percent": 50})
    assert bad.status_code == 422 and _order(session, complaint).state == "expired"  # only the fixture's order
    refused = post({"action": "order_payment", "employer": "某公司", "amount": 5000, "due": due,
                    "compensation_percent": 120})
    assert refused.status_code == 409 and "加付赔偿金比例须在 50% 至 100% 之间" in refused.get_json()["detail"]
    assert post({"action": "order_payment", "employer": "某公司", "amount": 5000, "due": due,
                 "compensation_percent": 60}).status_code == 200
    assert post({"action": "order_paid", "note": "已支付"}).status_code == 200
    assert post({"action": "police_transfer", "police": "临沂市公安局兰山分局"}).status_code == 200
    assert post({"action": "police_receipt"}).status_code == 200
    declined = post({"action": "police_decision", "outcome": "declined"})
    assert declined.status_code == 409 and "请填写公安机关说明的理由" in declined.get_json()["detail"]
    answer = post({"action": "police_decision", "outcome": "filed"})
    assert answer.status_code == 200 and answer.get_json()["events"][-1]["kind"] == "police_decided"
    not_serious = post({"action": "plan_step", "what": "约谈总包", "owner": "李科长", "due": due})
    assert not_serious.status_code == 409 and "一案一策用于" in not_serious.get_json()["detail"]
    assert _transfer(session, complaint).outcome == "filed"
    assert post({"action": "clearing_notice", "employer": "某公司", "reason": "拒不支付"}).status_code == 200
    replied = post({"action": "clearing_reply", "reply": "已清出"})
    assert replied.status_code == 200 and replied.get_json()["events"][-1]["kind"] == "clearing_replied"


# -- 集中公开曝光: the public page of approved listings

def test_the_public_page_shows_approved_listings_and_no_worker(app, client, session, settings, lanshan_site):
    create_complaint(session, NewComplaint(channel="web", phone="13900006666", name="赵六", site_id=lanshan_site.id,
                                           workers=2, amount=8000, free_text="不给钱",
                                           claim={"employer": "临沂恒达建筑劳务有限公司"}))
    shown = list_employer(session, "临沂恒达建筑劳务有限公司", kind="blacklist", basis="临人社失信〔2026〕2号",
                          listed_on=date(2026, 1, 5), actor="staff:city", authority="临沂市人力资源和社会保障局")
    list_employer(session, "山东鲁建集团有限公司", kind="blacklist", basis="临人社失信〔2026〕3号",
                  listed_on=date(2026, 1, 5), actor="staff:county", authority="兰山区", draft=True)
    removed = list_employer(session, "临沂顺达劳务有限公司", kind="dishonest", basis="临人社〔2026〕4号",
                            listed_on=date(2026, 1, 5), actor="staff:city", authority="临沂市人力资源和社会保障局")
    remove_listing(session, removed.id, reason="已足额支付并整改", removed_on=date(2026, 6, 1), actor="staff:city")
    session.commit()
    page = client.get("/exposure")
    assert page.status_code == 200
    text = page.text
    assert "临沂恒达建筑劳务有限公司" in text and "临人社失信〔2026〕2号" in text and shown.ends_on.isoformat() in text
    assert "山东鲁建集团有限公司" not in text and "临沂顺达劳务有限公司" not in text  # a draft, a removed listing
    assert "赵六" not in text and "13900006666" not in text


# -- 清出建筑市场: the notice to the housing department, tracked to its reply

def test_a_clearing_notice_goes_to_the_housing_department_and_waits_for_its_reply(app, session, accepted):
    complaint, staff, head = accepted
    refused = act(head, complaint.ticket_no, "clearing_notice", employer="临沂恒达建筑劳务有限公司", reason="")
    assert "请填写事实和依据" in flashed(head, refused)
    act(head, complaint.ticket_no, "clearing_notice", employer="临沂恒达建筑劳务有限公司",
        reason="拒不支付农民工工资，已列入失信名单")
    notice = session.scalars(select(ClearingNotice)).one()
    assert notice.department.name == "兰山区住房和城乡建设局"
    sent = outbox(session, complaint, EventKind.CLEARING_SENT)
    assert sent and all("请依法将其清出建筑市场，并于 15 日内回复处理情况" in n.payload["text"] for n in sent)
    assert "待回复" in case_page(staff, complaint.ticket_no).text
    worker_pass(app, now=utcnow() + timedelta(days=14))
    assert outbox(session, complaint, EventKind.CLEARING_OVERDUE) == []
    worker_pass(app, now=utcnow() + timedelta(days=16))
    worker_pass(app, now=utcnow() + timedelta(days=17))
    late = [e for e in reload(session, complaint).events if e.kind == EventKind.CLEARING_OVERDUE]
    assert len(late) == 1 and len({n.destination for n in outbox(session, complaint, EventKind.CLEARING_OVERDUE)}) >= 3
    act(staff, complaint.ticket_no, "clearing_reply", reply="已暂停其在本市投标资格一年")
    session.expire_all()
    assert session.get(ClearingNotice, notice.id).reply == "已暂停其在本市投标资格一年"
    assert "已暂停其在本市投标资格一年" in case_page(staff, complaint.ticket_no).text
