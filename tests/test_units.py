"""Member units answer for their part: a task's life with a late unit and one that never answers, its receipts
and files, bad input that changes nothing; the 清零 countdown and its forecast from a constructed closing history."""
from __future__ import annotations

import io
import re
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select, update

from handlers.runtime import services
from intake.case.clocks import start_clocks_for
from intake.case.complaints import NewComplaint, create_complaint
from intake.case.queue import co_step_views
from intake.foundation.models import (
    CoHandling,
    Complaint,
    DailyTally,
    Event,
    Inspection,
    Outbox,
    RectificationItem,
    Site,
    StaffUser,
    Status,
    Timer,
    UnitTask,
    UnitTaskAssignment,
)
from intake.foundation.settings import SettingsError, TargetSettings, UnitSettings
from intake.foundation.transitions import transition
from intake.people.access import AccessDenied, Scope
from intake.people.staff import Role
from intake.registry.directory import department
from intake.runtime.worker import run_once
from intake.units import countdown as cd
from intake.units import inspections as ins
from intake.units import tasks as ts
from intake.units.digest import digest_of
from tests.helpers import (
    CAL,
    PASSWORD_HASH,
    act,
    at,
    auth,
    csrf_token,
    flashed,
    login,
    make_accounts,
    make_client,
    new_case,
    outbox,
    routed,
    worker_pass,
)

DUE = at(2026, 12, 18, 17, 30)  # 12月18日前报送台账
ISSUED = at(2026, 12, 10, 9, 0)
PDF = b"%PDF-1.4 stamped ledger scan"
CLOCK = {"calendar": CAL, "settings": UnitSettings()}


def signed_in(app, username: str):
    """A browser of its own for each officer."""
    client = app.test_client()
    login(client, username)
    return client


def scope_of(session, username: str) -> Scope:
    return Scope.of(session.scalar(select(StaffUser).where(StaffUser.username == username)))


@pytest.fixture
def people(session):
    users = make_accounts(session)
    return {key: scope_of(session, name) for key, name in users.items()}


def ledger_task(session, people) -> UnitTask:
    """The city asks 兰山区住建 and 兰山区人社 and the county 罗庄区 for their stamped ledgers by 12-18."""
    task = ts.issue(session, people["admin"], kind="ledger", title="报送欠薪台账（盖章扫描件）", body="12月18日前报送",
                    due_at=DUE, department_ids=[people["staff"].department_id, people["other_staff"].department_id],
                    county_codes=["371311"], now=ISSUED, **CLOCK)
    session.commit()
    return task


def states(task, now) -> dict[str, str]:
    return {row.unit: row.state for row in ts.progress(task, now)}


def test_a_tasks_life_with_a_unit_on_time_a_late_one_and_one_that_never_answers(session, people):
    task = ledger_task(session, people)
    housing, hrss = department(session, "371302", "housing").name, department(session, "371302", "hrss").name
    assert states(task, ISSUED) == {housing: "open", hrss: "open", "罗庄区": "open"}

    part = ts.answer(session, people["staff"], task.id, "已报送", [ts.Upload("台账.pdf", PDF)], DUE - timedelta(hours=2))
    session.commit()
    assert part.receipt_no == f"RW{task.id:05d}-{part.id:05d}" and part.answered_by == "ls_staff"
    assert [(f.filename, f.content_type, f.data) for f in part.files] == [("台账.pdf", "application/pdf", PDF)]

    after = DUE + timedelta(days=1)
    assert states(task, after) == {housing: "on_time", hrss: "overdue", "罗庄区": "overdue"}
    assert [row.unit for row in ts.overdue(session, people["admin"], after)] == [hrss, "罗庄区"]
    # The county answers a day late, as its supervisor: kept, and counted late.
    ts.answer(session, people["far_county"], task.id, "", [ts.Upload("ledger.xlsx", b"PK\x03\x04")], after)
    session.commit()
    assert states(task, after) == {housing: "on_time", hrss: "overdue", "罗庄区": "late"}
    records = {r.unit: (r.assigned, r.answered, r.on_time, r.late, r.overdue) for r in ts.per_unit([task], after)}
    assert records == {housing: (1, 1, 1, 0, 0), hrss: (1, 0, 0, 0, 1), "罗庄区": (1, 1, 0, 1, 0)}
    assert ts.per_unit([task], after)[0].unit == hrss  # the overdue unit heads the list


def test_only_the_units_given_a_task_see_and_answer_it_and_only_once(session, people):
    task = ledger_task(session, people)
    assert ts.task_for(session, people["far_staff"], task.id) is None
    assert ts.task_for(session, people["county"], task.id) is None  # a city task to other units: not 兰山区's
    assert ts.my_assignments(session, people["far_staff"]) == []
    with pytest.raises(ts.TaskError):
        ts.answer(session, people["far_staff"], task.id, "冒名报送", [], ISSUED)
    ts.answer(session, people["staff"], task.id, "已报送", [], ISSUED)
    session.commit()
    with pytest.raises(ts.TaskError, match="不能重复报送"):
        ts.answer(session, people["head"], task.id, "再报一次", [], ISSUED)  # the same department's head
    session.rollback()
    assert session.scalar(select(UnitTaskAssignment.answer).where(UnitTaskAssignment.receipt_no.is_not(None))) == "已报送"


@pytest.mark.parametrize("change, message", [
    (dict(due_at=ISSUED - timedelta(minutes=1)), "截止时间"),
    (dict(department_ids=[], county_codes=[]), "至少选择"),
    (dict(title="  "), "任务名称"),
    (dict(kind="party"), "任务类型"),
    (dict(county_codes=["999999"]), "区县"),
])
def test_a_bad_task_is_refused_and_nothing_is_stored(session, people, change, message):
    given = dict(kind="ledger", title="自查", body="", due_at=DUE, department_ids=[people["staff"].department_id],
                 county_codes=[], now=ISSUED, **CLOCK) | change
    with pytest.raises(ts.TaskError, match=message):
        ts.issue(session, people["admin"], **given)
    session.rollback()
    assert session.scalars(select(UnitTask)).all() == []


def test_a_county_supervisor_gives_tasks_only_within_the_county_and_staff_give_none(session, people):
    far_department = department(session, "371311", "housing").id
    with pytest.raises(ts.TaskError, match="部门不在"):
        ts.issue(session, people["county"], kind="self_inspection", title="自查", body="", due_at=DUE,
                 department_ids=[far_department], county_codes=[], now=ISSUED, **CLOCK)
    with pytest.raises(ts.TaskError, match="区县不在"):
        ts.issue(session, people["county"], kind="self_inspection", title="自查", body="", due_at=DUE,
                 department_ids=[], county_codes=["371311"], now=ISSUED, **CLOCK)
    with pytest.raises(AccessDenied):
        ts.issue(session, people["staff"], kind="self_inspection", title="自查", body="", due_at=DUE,
                 department_ids=[people["staff"].department_id], county_codes=[], now=ISSUED, **CLOCK)


@pytest.mark.parametrize("upload, message", [
    (ts.Upload("run.exe", b"MZ"), "类型不支持"),
    (ts.Upload("empty.pdf", b""), "是空的"),
    (ts.Upload("big.pdf", b"0" * (ts.MAX_FILE_BYTES + 1)), "超过"),
])
def test_a_bad_file_is_refused_and_the_part_stays_unanswered(session, people, upload, message):
    task = ledger_task(session, people)
    with pytest.raises(ts.TaskError, match=message):
        ts.answer(session, people["staff"], task.id, "附件见上传", [upload], ISSUED)
    session.rollback()
    assert session.scalars(select(UnitTaskAssignment.answered_at)).all() == [None, None, None]


def test_in_the_console_a_supervisor_issues_a_unit_answers_with_a_file_and_outsiders_see_nothing(
        app, client, session):
    users = make_accounts(session)
    housing = department(session, "371302", "housing")
    login(client, users["county"])
    form = client.get("/console/tasks/new").get_data(as_text=True)
    assert "罗庄区" not in form  # the county supervisor chooses among the county's own units
    due = (date.today() + timedelta(days=7)).isoformat() + "T17:30"
    fields = {"csrf_token": csrf_token(form), "kind": "self_inspection", "title": "工程建设领域欠薪自查",
              "due_at": due, "department": [str(housing.id)]}
    refused = client.post("/console/tasks/new", data=fields | {"due_at": "明天"})
    assert refused.status_code == 422 and "截止时间格式" in refused.get_data(as_text=True)
    issued = client.post("/console/tasks/new", data=fields)
    assert issued.status_code == 303
    task_url = issued.headers["Location"]

    client = signed_in(app, users["staff"])
    assert "工程建设领域欠薪自查" in client.get("/console/tasks").get_data(as_text=True)
    assert client.get("/console/tasks/new").status_code == 403
    page = client.get(task_url).get_data(as_text=True)
    answered = client.post(f"{task_url}/answer", data={
        "csrf_token": csrf_token(page), "answer": "已完成自查，未发现新增欠薪",
        "files": (io.BytesIO(PDF), "自查报告（盖章）.pdf")}, content_type="multipart/form-data")
    shown = flashed(client, answered)
    part = session.scalar(select(UnitTaskAssignment))
    assert part.receipt_no in shown and "已报送，回执号" in shown
    file_url = f"/console/tasks/files/{part.files[0].id}"
    assert client.get(file_url).data == PDF

    client = signed_in(app, users["far_staff"])
    assert client.get(task_url).status_code == 404
    assert client.get(file_url).status_code == 404


# ---------------------------------------------------------------- the 清零 countdown

TODAY = date(2027, 1, 20)
TARGETS = TargetSettings(gov_soe_clear_by="2027-01-31", all_clear_by="2027-02-05")


def tally(session, kind, day, investment, received=0, closed=0, county="371302"):
    session.add(DailyTally(kind=kind, day=day, department_id=department(session, county, "housing").id, county=county,
                           industry="房屋建筑", investment=investment, received=received, closed=closed))


@pytest.fixture
def history(session):
    """兰山区: 20 private-project cases received 12-01, 8 of them closed (2 on 01-10, then 2, 0, 3, 1 a day over
    the window 01-17..01-20); 5 government-project cases received 01-18, none closed. 罗庄区: 4 open."""
    tally(session, "received", date(2026, 12, 1), "private", received=20, closed=8)
    for day, n in ((date(2027, 1, 10), 2), (date(2027, 1, 17), 2), (date(2027, 1, 19), 3), (date(2027, 1, 20), 1)):
        tally(session, "closed", day, "private", closed=n)
    tally(session, "received", date(2027, 1, 18), "government", received=5)
    tally(session, "received", date(2026, 12, 3), "private", received=4, county="371311")
    session.commit()


def test_the_forecast_is_the_open_cases_over_the_recent_closing_rate():
    found = cd.forecast(10, [1, 1, 0, 2], date(2027, 2, 1), date(2027, 2, 5))
    assert (found.rate, found.clear_on, found.days_late) == (1.0, date(2027, 2, 11), 6)
    target = cd.Target("其他项目", date(2027, 2, 5), 10, found, [])
    assert cd.forecast_text("兰山区", target) == "兰山区其他项目：尚有10件，按目前进度预计02-11清零，比目标晚6天"
    assert cd.forecast(3, [0, 0], TODAY, TODAY) == cd.Forecast(0.0, None, None)
    assert cd.forecast(0, [0], TODAY, date(2027, 1, 31)).days_late == -11


def test_each_county_counts_down_from_its_closing_history(session, history):
    city = Scope(user_id=0, username="t", role=Role.ADMIN, department_id=None, jurisdiction_code=None)
    lanshan, luozhuang = cd.countdown(session, city, TARGETS, TODAY, 4)
    assert (lanshan.name, lanshan.open, luozhuang.name, luozhuang.open) == ("兰山区", 17, "罗庄区", 4)
    gov, others = lanshan.targets
    assert (gov.open, gov.forecast.clear_on) == (5, None)
    assert gov.burndown == [(date(2027, 1, 17), 0), (date(2027, 1, 18), 5), (date(2027, 1, 19), 5),
                            (date(2027, 1, 20), 5)]
    # 6 closed in the 4 days: 1.5 a day; 12 open need 8 days: clear on 01-28, 8 days before 02-05.
    assert (others.open, others.forecast.rate, others.forecast.clear_on, others.forecast.days_late) == (
        12, 1.5, date(2027, 1, 28), -8)
    assert others.burndown == [(date(2027, 1, 17), 16), (date(2027, 1, 18), 16), (date(2027, 1, 19), 13),
                               (date(2027, 1, 20), 12)]
    assert cd.forecast_text("兰山区", others) == "兰山区其他项目：尚有12件，按目前进度预计01-28清零，比目标早8天"


def test_a_county_supervisor_counts_down_only_their_county(app, client, session, history):
    users = make_accounts(session)
    assert [c.name for c in cd.countdown(session, scope_of(session, users["far_county"]), TARGETS, TODAY, 4)] == [
        "罗庄区"]
    login(client, users["county"])
    page = client.get("/console/countdown").get_data(as_text=True)
    assert "兰山区" in page and "罗庄区" not in page
    assert signed_in(app, users["staff"]).get("/console/countdown").status_code == 403


# ---------------------------------------------------------------- co-handlers act

def co_handler_account(session, county: str, kind: str, username: str) -> str:
    session.add(StaffUser(username=username, display_name=username, password_hash=PASSWORD_HASH, role="staff",
                          department_id=department(session, county, kind).id, active=True))
    session.commit()
    return username


@pytest.fixture
def government_site(session):
    site = Site(code="GOV-1", name="沂河路改造工程", jurisdiction_code="371302", industry="房屋建筑",
                investment="government", public_token="tok_" + "g" * 20)
    session.add(site)
    session.commit()
    return site


@pytest.fixture
def government_case(app, session, settings, government_site):
    """A case on a government-invested project in 兰山区, routed: 住建 holds it, 发改 and 财政 co-handle it."""
    return routed(app, session, settings, government_site)


def test_a_co_handler_reads_its_case_and_records_only_its_own_steps(app, session, government_case):
    users = make_accounts(session)
    finance = signed_in(app, co_handler_account(session, "371302", "finance", "ls_finance"))
    ticket = government_case.ticket_no
    assert government_case.department_id == department(session, "371302", "housing").id
    page = finance.get(f"/console/cases/{ticket}").get_data(as_text=True)
    assert "记录资金拨付（协办）" in page and "协办答复" in page
    assert "签收" not in page.split('id="actions"')[1] and "显示完整手机号" not in page
    assert ticket in finance.get("/console/").get_data(as_text=True)  # in the co-handler's queue
    assert act(finance, ticket, "acknowledge").status_code == 403
    assert act(finance, ticket, "message", text="你好").status_code == 403
    assert finance.post(f"/console/cases/{ticket}/reveal",
                        data={"csrf_token": csrf_token(page)}).status_code == 403

    refused = flashed(finance, act(finance, ticket, "co_funds", amount="0", paid_on="2026-12-01", to_whom="建设单位"))
    assert "拨付金额须大于0" in refused
    done = act(finance, ticket, "co_funds", amount="350000", paid_on="2026-12-01", to_whom="临沂城投（建设单位）")
    act(finance, ticket, "co_payment_status", status="partly_paid", note="尚欠进度款")
    act(finance, ticket, "co_reply", text="已督促建设单位拨付人工费")
    assert done.status_code == 303
    steps = session.scalars(select(Event).where(Event.complaint_id == government_case.id,
                                                Event.kind.like("co\\_%", escape="\\")).order_by(Event.id)).all()
    finance_id = department(session, "371302", "finance").id
    assert [(e.kind, e.actor, e.data.get("department_id")) for e in steps if e.kind != "co_handler_notified"] == [
        ("co_funds_released", "staff:ls_finance", finance_id), ("co_payment_status", "staff:ls_finance", finance_id),
        ("co_replied", "staff:ls_finance", finance_id)]
    assert steps[-3].data == {"department_id": finance_id, "amount": 350000, "paid_on": "2026-12-01",
                              "to_whom": "临沂城投（建设单位）"}

    handler = signed_in(app, users["staff"])
    handler_page = handler.get(f"/console/cases/{ticket}").get_data(as_text=True)
    assert "2026-12-01向临沂城投（建设单位）拨付350,000元" in handler_page  # the timeline shows the co-handler's step
    assert "记录资金拨付（协办）" not in handler_page
    assert act(handler, ticket, "co_reply", text="冒充协办").status_code == 403


def test_a_department_neither_holding_nor_co_handling_a_case_does_not_see_it(app, session, government_case):
    sasac = signed_in(app, co_handler_account(session, "371302", "sasac", "ls_sasac"))
    far_finance = signed_in(app, co_handler_account(session, "371311", "finance", "lz_finance"))
    for client in (sasac, far_finance):
        assert client.get(f"/console/cases/{government_case.ticket_no}").status_code == 404
        assert government_case.ticket_no not in client.get("/console/").get_data(as_text=True)


def test_a_co_handlers_client_system_reads_the_co_handlers_and_records_its_steps_through_the_api(
        app, client, session, government_case):
    finance, ndrc = department(session, "371302", "finance"), department(session, "371302", "ndrc")
    token = make_client(session, "finance-system", "staff", finance.id)
    holder = make_client(session, "housing-system", "staff", government_case.department_id)
    url = f"/api/v1/complaints/{government_case.ticket_no}"
    read = client.get(url, headers=auth(token)).get_json()
    assert sorted((c["department"]["id"], c["roles"], c["state"], c["replied_at"]) for c in read["co_handlers"]) == \
        sorted([(finance.id, ["finance"], "green", None), (ndrc.id, ["ndrc"], "green", None)])
    due = {c["department"]["id"]: datetime.fromisoformat(c["reply_due"]) for c in read["co_handlers"]}
    assert due[finance.id] == session.get(CoHandling, (government_case.id, finance.id)).due_at

    def step(body, who=token):
        return client.post(f"{url}/actions", json=body, headers=auth(who))

    assert step({"action": "co_funds", "amount": 0, "paid_on": "2026-12-01", "to_whom": "建设单位"}).status_code == 422
    late = step({"action": "co_funds", "amount": 350000, "paid_on": "2099-12-01", "to_whom": "建设单位"})
    assert late.status_code == 409 and "拨付日期不能晚于今天" in late.get_json()["detail"]
    assert step({"action": "acknowledge"}).status_code == 403
    assert step({"action": "co_reply", "text": "冒充协办"}, holder).status_code == 403
    assert step({"action": "co_funds", "amount": 350000, "paid_on": "2026-12-01", "to_whom": "建设单位"}).status_code == 200
    assert step({"action": "co_payment_status", "status": "partly_paid"}).status_code == 200
    replied = step({"action": "co_reply", "text": "已督促建设单位拨付人工费"})
    assert replied.status_code == 200
    mine = next(c for c in replied.get_json()["co_handlers"] if c["department"]["id"] == finance.id)
    assert mine["replied_at"] and mine["left"].startswith("已于") and mine["state"] == "green"
    kinds = [e["kind"] for e in replied.get_json()["events"] if e["actor"] == "api:finance-system"]
    assert kinds == ["co_funds_released", "co_payment_status", "co_replied"]


# ---------------------------------------------------------------- co-handlers' clocks

ROUTED_AT = at(2026, 11, 2, 10, 0)  # a Monday
REPLY_DUE = at(2026, 11, 9, 17, 30)  # the close of the fifth working day after
REMINDED = at(2026, 11, 6, 8, 30)  # the start of the working day before


@pytest.fixture
def routed_back_then(app, session, settings, government_site):
    """The government-project case as the worker routed it on ROUTED_AT."""
    complaint = new_case(session, settings, government_site)
    session.execute(update(Timer).where(Timer.complaint_id == complaint.id).values(due_at=ROUTED_AT))
    session.commit()
    worker_pass(app, ROUTED_AT)
    session.expire_all()
    return session.get(Complaint, complaint.id)


def queue_table(client, query: str = "") -> str:
    """The queue's table of cases, without the inbox beside it (whose notices name cases too)."""
    page = client.get(f"/console/{query}").get_data(as_text=True)
    return page.split('<table class="queue">')[1].split("</table>")[0]


def co_notices(session, complaint, kind: str) -> list[str]:
    return [row.destination for row in outbox(session, complaint, kind)]


def test_a_co_handler_owes_its_reply_in_five_working_days_is_reminded_and_flagged_when_late(
        app, session, settings, routed_back_then):
    case, users = routed_back_then, make_accounts(session)
    finance, ndrc = department(session, "371302", "finance"), department(session, "371302", "ndrc")
    assert session.get(CoHandling, (case.id, finance.id)).due_at == REPLY_DUE
    told = [row.payload["text"] for row in outbox(session, case, "co_handler")]
    assert told and all(text.endswith("请于11月09日17:30前提交协办答复。") for text in told)

    worker_pass(app, REMINDED - timedelta(minutes=1))
    assert co_notices(session, case, "co_step_reminder") == []
    worker_pass(app, REMINDED)
    reminders = outbox(session, case, "co_step_reminder")
    assert {r.destination for r in reminders} >= {f"department:{finance.id}", f"department:{ndrc.id}"}
    assert f"请{finance.name}于11月09日17:30前提交协办答复" in " ".join(r.payload["text"] for r in reminders)
    views = co_step_views(session, [case.id], REMINDED, CAL, UnitSettings(), department_id=finance.id)
    assert [(v.department.name, v.clock.state) for v in views[case.id]] == [(finance.name, "yellow")]

    worker_pass(app, REPLY_DUE)
    hrss = department(session, "371302", "hrss")  # the county's supervisors are told too
    assert {f"department:{finance.id}", f"department:{ndrc.id}", f"department:{hrss.id}"} <= set(
        co_notices(session, case, "co_step_overdue"))
    late = session.scalars(select(Event.data["department_id"].as_integer()).where(
        Event.complaint_id == case.id, Event.kind == "co_step_overdue")).all()
    assert sorted(late) == sorted([finance.id, ndrc.id])

    holder = signed_in(app, users["staff"])
    panel = holder.get(f"/console/cases/{case.ticket_no}").get_data(as_text=True).split('id="co-handlers"')[1]
    assert finance.name in panel and ndrc.name in panel and "协办答复 · 超期" in panel
    finance_client = signed_in(app, co_handler_account(session, "371302", "finance", "ls_finance"))
    ndrc_client = signed_in(app, co_handler_account(session, "371302", "ndrc", "ls_ndrc"))
    assert re.search(r'class="clock red" title="协办答复">协办答复 · 超期', queue_table(finance_client))
    assert case.ticket_no in queue_table(finance_client, "?overdue=1")

    assert act(finance_client, case.ticket_no, "co_reply", text="已督促建设单位拨付人工费").status_code == 303
    session.expire_all()
    assert session.get(CoHandling, (case.id, finance.id)).replied_at is not None
    row = re.search(rf"{case.ticket_no}.*?</tr>", queue_table(finance_client), re.S)
    assert re.search(r'class="clock green" title="协办答复">协办答复 · 已于\d\d-\d\d \d\d:\d\d答复', row.group(0))
    # Its own step done, the case's other late clocks are the holder's: no longer in its overdue list.
    assert case.ticket_no not in queue_table(finance_client, "?overdue=1")
    assert case.ticket_no in queue_table(ndrc_client, "?overdue=1")
    assert session.scalars(select(Timer.state).where(Timer.clock.like(f"co_step:{finance.id}:%"))).all() == [
        "fired", "fired"]


def test_a_reply_before_the_reminder_cancels_it(app, session, settings, routed_back_then):
    finance = signed_in(app, co_handler_account(session, "371302", "finance", "ls_finance"))
    finance_id = department(session, "371302", "finance").id
    act(finance, routed_back_then.ticket_no, "co_reply", text="项目资金已拨付到位")
    worker_pass(app, REPLY_DUE)
    reminded = [row.destination for kind in ("co_step_reminder", "co_step_overdue")
                for row in outbox(session, routed_back_then, kind)]
    assert f"department:{finance_id}" not in reminded and reminded  # 发改 has not replied: it is reminded
    assert session.scalars(select(Timer.state).where(Timer.clock.like(f"co_step:{finance_id}:%"))).all() == [
        "cancelled", "cancelled"]


def test_a_closed_case_stops_its_co_handlers_clocks(app, session, settings, routed_back_then):
    """Closed (销号) before 财政 replied: its reminders are cancelled, its clock no longer runs or counts late."""
    case, finance = routed_back_then, department(session, "371302", "finance")
    closed_at = REMINDED - timedelta(days=1)
    for status in (Status.ACKNOWLEDGED, Status.ACCEPTED, Status.RESOLVED, Status.CLOSED):
        transition(session, case, status, actor="staff:ls_staff")
        start_clocks_for(session, case, status, closed_at, CAL, settings.clocks)
    session.commit()
    assert set(session.scalars(select(Timer.state).where(Timer.clock.like(f"co_step:{finance.id}:%")))) == {
        "cancelled"}
    views = co_step_views(session, [case.id], REPLY_DUE, CAL, UnitSettings(), department_id=finance.id)[case.id]
    assert [(v.clock.state, v.clock.left) for v in views] == [("green", "案件已销号，不再计时")]
    client = signed_in(app, co_handler_account(session, "371302", "finance", "ls_finance"))
    assert case.ticket_no not in queue_table(client, "?overdue=1&status=all")


# ---------------------------------------------------------------- task reminders

def task_notices(session, kind: str) -> list[Outbox]:
    session.expire_all()
    return list(session.scalars(select(Outbox).where(Outbox.payload["kind"].as_string() == kind).order_by(Outbox.id)))


def test_units_that_have_not_answered_are_reminded_the_working_day_before_and_told_when_late(app, session, people):
    task = ledger_task(session, people)  # due Friday 12-18 17:30
    hrss, luozhuang = people["other_staff"].department_id, department(session, "371311", "hrss").id
    ts.answer(session, people["staff"], task.id, "已报送", [], at(2026, 12, 16, 10, 0))
    session.commit()
    worker_pass(app, at(2026, 12, 17, 8, 29))
    assert task_notices(session, "task_reminder") == []
    worker_pass(app, at(2026, 12, 17, 8, 30))
    reminded = task_notices(session, "task_reminder")
    assert {r.destination for r in reminded if r.destination.startswith("department:")} == {
        f"department:{hrss}", f"department:{luozhuang}"}  # not 兰山区住建, which answered
    assert reminded[0].payload["text"] == "【任务提醒】“报送欠薪台账（盖章扫描件）”须于12月18日17:30前报送，本单位尚未报送，请及时办理。"

    ts.answer(session, people["far_county"], task.id, "", [ts.Upload("ledger.xlsx", b"PK\x03\x04")],
              at(2026, 12, 18, 9, 0))
    session.commit()
    worker_pass(app, DUE)
    late = task_notices(session, "task_overdue")
    assert {r.destination for r in late if r.destination.startswith("department:")} == {f"department:{hrss}"}
    inbox = signed_in(app, "ls_hrss").get("/console/").get_data(as_text=True)
    assert f'href="/console/tasks/{task.id}">【任务逾期】“报送欠薪台账（盖章扫描件）”已于12月18日17:30截止' in inbox


def test_a_task_due_within_the_reminder_window_gets_only_its_deadline_timer(session, people):
    task = ts.issue(session, people["admin"], kind="reply", title="通报回复", body="", due_at=at(2026, 12, 11, 17, 30),
                    department_ids=[people["staff"].department_id], county_codes=[], now=at(2026, 12, 11, 9, 0),
                    **CLOCK)
    session.commit()
    assert session.scalars(select(Timer.clock).where(Timer.unit_task_id == task.id)).all() == ["unit_task:overdue"]


# ---------------------------------------------------------------- inspections (督查)

INSPECTED = at(2026, 12, 9, 16, 0)


def lanshan_inspection(session, people, site_code="LS-INSPECT"):
    """The city inspects 兰山区 and a site there: 住建 must fix the wage account by 12-15, the county its ledger
    by 12-18."""
    session.add(Site(code="LS-INSPECT", name="北城新区安置房", jurisdiction_code="371302", industry="房屋建筑",
                     investment="private", public_token="tok_" + "i" * 20))
    session.flush()
    found = ins.record(session, people["admin"], inspected_on=date(2026, 12, 9), county="371302",
                       department_id=people["staff"].department_id, site_code=site_code, inspectors="市治欠办 王、李",
                       summary="抽查农民工工资专用账户和实名制台账", now=INSPECTED, **CLOCK, items=[
                           ins.NewItem("工资专用账户未按月拨付", f"department:{people['staff'].department_id}",
                                       date(2026, 12, 15)),
                           ins.NewItem("欠薪台账未更新", "county:371302", date(2026, 12, 18))])
    session.commit()
    return found


def test_an_inspections_items_are_answered_by_their_units_and_the_late_one_is_listed(session, people):
    inspection = lanshan_inspection(session, people)
    account, ledger = inspection.items
    assert (inspection.site.name, account.due_at, ledger.due_at) == (
        "北城新区安置房", at(2026, 12, 15, 17, 30), at(2026, 12, 18, 17, 30))
    ins.answer(session, people["staff"], account, "已补拨11月人工费", at(2026, 12, 14, 10, 0))
    session.commit()
    later = at(2026, 12, 21, 9, 0)
    assert [(r.unit, r.state) for r in ins.rows(inspection, later)] == [("兰山区", "overdue"),
                                                                       (account.department.name, "on_time")]
    assert [r.item.finding for r in ins.overdue(session, people["admin"], later)] == ["欠薪台账未更新"]
    assert [r.item.finding for r in ins.overdue(session, people["county"], later)] == ["欠薪台账未更新"]
    assert ins.overdue(session, people["far_county"], later) == []
    assert [r.item.finding for r in ins.my_items(session, people["county"], later)] == ["欠薪台账未更新"]
    with pytest.raises(ts.TaskError, match="不是本单位"):
        ins.answer(session, people["far_county"], ledger, "冒名", later)
    ins.answer(session, people["county"], ledger, "台账已更新并盖章", later)
    session.commit()
    assert [r.state for r in ins.rows(inspection, later)] == ["late", "on_time"]
    with pytest.raises(ts.TaskError, match="不能重复"):
        ins.answer(session, people["county"], ledger, "再报一次", later)


@pytest.mark.parametrize("change, message", [
    (dict(inspected_on=date(2026, 12, 10)), "督查日期"),
    (dict(items=[]), "至少填写一个整改事项"),
    (dict(site_code="NO-SUCH"), "没有编号"),
    (dict(items=[ins.NewItem("台账", "county:371311", date(2026, 12, 18))]), "区县不在"),
    (dict(items=[ins.NewItem("台账", "county:371302", date(2026, 12, 8))]), "不能早于今天"),
    (dict(items=[ins.NewItem("  ", "county:371302", date(2026, 12, 18))]), "请填写整改事项"),
    (dict(items=[ins.NewItem("台账", "", date(2026, 12, 18))]), "选择责任单位"),
])
def test_a_bad_inspection_is_refused_and_nothing_is_stored(session, people, change, message):
    given = dict(inspected_on=date(2026, 12, 9), county="371302", department_id=None, site_code="",
                 inspectors="县治欠办", summary="", now=INSPECTED, **CLOCK,
                 items=[ins.NewItem("台账", "county:371302", date(2026, 12, 18))]) | change
    with pytest.raises(ts.TaskError, match=message):
        ins.record(session, people["county"], **given)  # a county supervisor: only its own county
    session.rollback()
    assert session.scalars(select(Inspection)).all() == [] and session.scalars(select(RectificationItem)).all() == []
    assert session.scalars(select(Timer)).all() == []


def test_an_items_unit_is_reminded_the_working_day_before_told_when_late_and_an_answer_stops_both(
        app, session, people):
    """住建's item is due Tuesday 12-15, the county's Friday 12-18 (both 17:30); 住建 answers on Monday after its
    reminder, so it is never told it is late; the county (through 兰山区人社, its supervising department) is
    reminded on Thursday and told on Friday evening, and its officers find the inspection from their inbox."""
    inspection = lanshan_inspection(session, people)
    account, _ = inspection.items
    housing, hrss = f"department:{people['staff'].department_id}", f"department:{people['other_staff'].department_id}"
    worker_pass(app, at(2026, 12, 14, 8, 29))
    assert task_notices(session, "rectification_reminder") == []
    worker_pass(app, at(2026, 12, 14, 8, 30))
    reminded = task_notices(session, "rectification_reminder")
    assert {r.destination for r in reminded if r.destination.startswith("department:")} == {housing}
    assert reminded[0].payload["text"] == (
        "【整改提醒】兰山区督查整改事项“工资专用账户未按月拨付”须于12月15日17:30前整改到位并报送，请及时办理。")

    ins.answer(session, people["staff"], account, "已补拨11月人工费", at(2026, 12, 14, 10, 0))
    session.commit()
    worker_pass(app, at(2026, 12, 15, 17, 30))
    assert task_notices(session, "rectification_overdue") == []
    assert session.scalars(select(Timer.state).where(Timer.rectification_item_id == account.id)
                           .order_by(Timer.due_at)).all() == ["fired", "cancelled"]

    worker_pass(app, at(2026, 12, 17, 8, 30))
    assert {r.destination for r in task_notices(session, "rectification_reminder")
            if r.destination.startswith("department:")} == {housing, hrss}
    worker_pass(app, at(2026, 12, 18, 17, 29))
    assert task_notices(session, "rectification_overdue") == []
    worker_pass(app, at(2026, 12, 18, 17, 30))
    late = task_notices(session, "rectification_overdue")
    assert {r.destination for r in late if r.destination.startswith("department:")} == {hrss}
    inbox = signed_in(app, "ls_hrss").get("/console/").get_data(as_text=True)
    assert (f'href="/console/inspections/{inspection.id}">【整改逾期】兰山区督查整改事项“欠薪台账未更新”已于12月18日17:30到期'
            in inbox)
    worker_pass(app, at(2026, 12, 21, 9, 0))
    assert len(task_notices(session, "rectification_overdue")) == len(late)  # told once


def test_in_the_console_a_supervisor_records_an_inspection_and_the_unit_answers_its_item(app, client, session):
    users = make_accounts(session)
    housing = department(session, "371302", "housing")
    login(client, users["county"])
    form = client.get("/console/inspections/new").get_data(as_text=True)
    assert "罗庄区" not in form
    due = (date.today() + timedelta(days=7)).isoformat()
    fields = {"csrf_token": csrf_token(form), "inspected_on": (date.today() - timedelta(days=1)).isoformat(),
              "county": "371302", "inspectors": "县治欠办 张", "summary": "检查实名制",
              "finding_0": "实名制考勤缺两个月", "owner_0": f"department:{housing.id}", "due_0": due}
    refused = client.post("/console/inspections/new", data=fields | {"due_0": "下周"})
    assert refused.status_code == 422 and "整改期限格式" in refused.get_data(as_text=True)
    assert session.scalars(select(Inspection)).all() == []
    recorded = client.post("/console/inspections/new", data=fields)
    assert recorded.status_code == 303
    page_url = recorded.headers["Location"]

    staff = signed_in(app, users["staff"])
    assert "实名制考勤缺两个月" in staff.get("/console/inspections").get_data(as_text=True)
    page = staff.get(page_url).get_data(as_text=True)
    item = session.scalar(select(RectificationItem))
    answer_url = f"/console/inspections/items/{item.id}/answer"
    assert answer_url in page
    far = signed_in(app, users["far_staff"])
    assert far.get(page_url).status_code == 404
    far_token = csrf_token(far.get("/console/inspections").get_data(as_text=True))
    assert far.post(answer_url, data={"csrf_token": far_token, "answer": "冒名"}).status_code == 404
    shown = flashed(staff, staff.post(answer_url, data={"csrf_token": csrf_token(page), "answer": "已补齐考勤"}))
    assert "整改情况已报送" in shown and "已补齐考勤" in shown and "按期整改" in shown


# ---------------------------------------------------------------- the morning digest

DIGEST_DAY = at(2026, 12, 8, 8, 30)  # a Tuesday


def open_case(session, county: str, due, status: str = "routed", phone: str = "13900000000"):
    complaint, _ = create_complaint(session, NewComplaint(channel="web", phone=phone, jurisdiction_code=county))
    complaint.department_id = department(session, county, "hrss").id
    complaint.status, complaint.next_due_at = status, due
    session.commit()
    return complaint


@pytest.fixture
def known_cases(session):
    """兰山区: one case late at 08:30 on Tuesday, one due on Friday, one due next Monday, one without a running
    deadline, and a closed one (counted nowhere); 罗庄区: one late case. The directory outlives a test, so
    兰山区人社's contacts are put back afterwards."""
    hrss = department(session, "371302", "hrss")
    before = hrss.contacts
    hrss.contacts = {"email": "ls-hrss@example.cn", "sms": ["13900000001"]}
    for due, status in ((at(2026, 12, 8, 8, 0), "routed"), (at(2026, 12, 11, 17, 30), "acknowledged"),
                        (at(2026, 12, 14, 10, 0), "in_progress"), (None, "resolved"), (at(2026, 12, 1), "closed")):
        open_case(session, "371302", due, status)
    open_case(session, "371311", at(2026, 12, 7, 10, 0))
    yield hrss
    session.rollback()
    department(session, "371302", "hrss").contacts = before
    session.commit()


def digests(session) -> list[Outbox]:
    session.expire_all()
    return list(session.scalars(select(Outbox).where(Outbox.payload["kind"].as_string() == "units_digest")
                                .order_by(Outbox.id)))


def test_the_digest_says_what_is_open_late_and_due_this_week(app, session, settings, known_cases):
    lanshan = digest_of(session, "371302", settings, DIGEST_DAY, CAL)
    assert (lanshan.open, lanshan.late, lanshan.due_this_week) == (4, 1, 1)
    assert lanshan.text == ("【清零】兰山区每日提示：未销号4件，已超期1件，本周内到期1件。\n"
                            "兰山区其他项目：尚有4件未销号，近期无销号，无法预计清零日期")
    luozhuang = digest_of(session, "371311", settings, DIGEST_DAY, CAL)
    assert (luozhuang.open, luozhuang.late, luozhuang.due_this_week) == (1, 1, 0)


def test_the_digest_goes_on_working_days_at_half_past_eight_once_to_inbox_and_email(app, session, settings,
                                                                                      known_cases):
    on = replace(settings, targets=TargetSettings(digest_at="08:30"))
    sessions = services(app).sessions
    run_once(sessions, {}, CAL, on, now=DIGEST_DAY - timedelta(minutes=1))
    assert digests(session) == []
    run_once(sessions, {}, CAL, on, now=DIGEST_DAY)
    run_once(sessions, {}, CAL, on, now=DIGEST_DAY + timedelta(hours=2))  # the same day: nothing again
    sent = digests(session)
    luozhuang_hrss = department(session, "371311", "hrss").id
    assert [row.destination for row in sent] == [f"department:{known_cases.id}", "email:ls-hrss@example.cn",
                                                 f"department:{luozhuang_hrss}"]  # no SMS: a digest is long
    assert sent[1].payload["subject"] == "清零每日提示：兰山区（12-08）"
    assert sent[1].payload["text"].startswith("【清零】兰山区每日提示：未销号4件")
    run_once(sessions, {}, CAL, on, now=at(2026, 12, 12, 9, 0))  # Saturday
    assert len(digests(session)) == 3
    run_once(sessions, {}, CAL, on, now=at(2026, 12, 14, 8, 45))  # Monday
    assert len(digests(session)) == 6


def test_a_digest_time_that_is_not_a_time_is_refused_at_start():
    with pytest.raises(SettingsError, match="digest_at"):
        TargetSettings(digest_at="8点半")
