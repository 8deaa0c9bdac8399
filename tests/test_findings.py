"""The register of 摸排 findings through the console's HTTP routes: entered by hand, listed in the county's scope,
turned into a case with one click or closed as resolved on the spot, counted on the dashboard and in the ledger,
imported from the backlog sheet all or nothing."""
from __future__ import annotations

import csv
import io
from datetime import timedelta
from io import BytesIO

import openpyxl
import pytest
from sqlalchemy import select

from intake.foundation.models import AuditEntry, Complaint, Finding, utcnow
from intake.registry.directory import department
from tests.helpers import csrf_token, exported, flashed, login, worker_pass


def enter(client, **changes):
    """A finding entered on the findings page, with that page's CSRF token."""
    token = csrf_token(client.get("/console/findings").get_data(as_text=True))
    fields = {"county": "371302", "site": "", "place": "兰山区柳青街道沂河路厂房", "employer": "临沂某建材厂",
              "workers": "8", "amount": "96,000", "found_by": "县监察大队李四", "found_on": "2026-11-30",
              "note": "工人说三个月没发工资", **changes}
    return client.post("/console/findings", data={"csrf_token": token, **fields})


def step(client, finding_id: int, what: str, **fields):
    token = csrf_token(client.get("/console/findings").get_data(as_text=True))
    return client.post(f"/console/findings/{finding_id}/{what}", data={"csrf_token": token, **fields})


def findings(session) -> list[Finding]:
    session.expire_all()
    return session.scalars(select(Finding).order_by(Finding.id)).all()


def audited(session) -> list[str]:
    return [e.action for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def test_a_finding_entered_by_hand_is_listed_for_its_county_only(app, client, session, users, lanshan_site):
    login(client, users["staff"])
    done = enter(client)
    assert "已登记摸排线索" in flashed(client, done)
    (found,) = findings(session)
    assert (found.place, found.employer, found.workers, found.amount, found.status, found.site_id) == (
        "兰山区柳青街道沂河路厂房", "临沂某建材厂", 8, 96000, "open", None)
    assert found.created_by == "staff:ls_staff" and audited(session)[-1] == "finding_added"
    on_site = enter(client, site=lanshan_site.code, place="", employer="某劳务公司")
    assert "已登记" in flashed(client, on_site) and findings(session)[-1].site_id == lanshan_site.id

    page = client.get("/console/findings").get_data(as_text=True)
    assert "临沂某建材厂" in page and "未登记工地" in page and lanshan_site.name in page
    assert "待处置 2 条" in page
    far = app.test_client()
    login(far, users["far_county"])
    assert "临沂某建材厂" not in far.get("/console/findings").get_data(as_text=True)
    assert step(far, found.id, "case").status_code == 404 and findings(session)[0].status == "open"
    # and a county supervisor cannot file a finding for another county
    assert "本辖区" in flashed(far, enter(far))
    assert len(findings(session)) == 2


@pytest.mark.parametrize("changes, said", [
    ({"employer": "  "}, "请填写欠薪单位"),
    ({"place": ""}, "请填写工地编号，或未登记工地的地点"),
    ({"found_by": ""}, "请填写发现人"),
    ({"found_on": "2099-01-01"}, "发现日期不能晚于今天"),
    ({"found_on": "昨天"}, "发现日期"),
    ({"workers": "八个"}, "估计人数“八个”不是"),
    ({"amount": "-5"}, "估计金额“-5”不是"),
    ({"site": "no-such-site", "place": ""}, "找不到工地编号"),
    ({"note": "欠" * 5000}, "内容过长"),
    ({"county": "999999"}, "请选择本辖区的区县"),
])
def test_a_bad_finding_is_refused_with_the_reason_and_nothing_is_kept(app, client, session, users, changes, said):
    login(client, users["county"])
    refused = enter(client, **changes)
    assert refused.status_code == 303 and said in flashed(client, refused)
    assert findings(session) == [] and "finding_added" not in audited(session)


def test_one_click_turns_a_finding_into_a_routed_case_and_a_second_click_is_refused(app, client, session, users):
    login(client, users["county"])
    enter(client)
    (found,) = findings(session)
    made = step(client, found.id, "case")
    assert "已立案：案件" in flashed(client, made)
    again = step(client, found.id, "case")
    assert "该线索已立案，不能再处理" in flashed(client, again)
    (complaint,) = session.scalars(select(Complaint)).all()
    found = findings(session)[0]
    assert (found.status, found.complaint_id, found.closed_by) == ("case", complaint.id, "staff:ls_county")
    assert (complaint.channel, complaint.workers, complaint.amount, complaint.jurisdiction_code) == (
        "survey", 8, 96000, "371302")
    assert complaint.complainant.phone is None and complaint.claim["employer"] == "临沂某建材厂"

    worker_pass(app)  # routed like any complaint: to the county's labour inspection
    session.expire_all()
    routed = session.get(Complaint, complaint.id)
    assert routed.status == "routed" and routed.department_id == department(session, "371302", "hrss").id
    page = client.get("/console/findings").get_data(as_text=True)
    assert complaint.ticket_no in page and "已立案 1 条" in page
    assert step(client, found.id, "resolve", amount_paid="100").status_code == 303
    assert findings(session)[0].status == "case" and audited(session).count("finding_case") == 1


def test_resolved_on_the_spot_records_the_amount_and_the_figures_and_ledger_count_the_register(
        app, client, session, users):
    login(client, users["county"])
    for employer in ("甲建材厂", "乙劳务公司", "丙装饰公司"):
        enter(client, employer=employer)
    first, second, third = findings(session)
    bad = step(client, first.id, "resolve", amount_paid="很多")
    assert "当场支付金额“很多”不是" in flashed(client, bad) and findings(session)[0].status == "open"
    done = step(client, first.id, "resolve", amount_paid="90000")
    assert "已记为当场解决，支付 90000 元" in flashed(client, done)
    assert "该线索已当场解决" in flashed(client, step(client, first.id, "resolve", amount_paid="90000"))
    assert "该线索已当场解决" in flashed(client, step(client, first.id, "case"))
    step(client, second.id, "case")
    first = findings(session)[0]
    assert (first.status, first.amount_paid, first.complaint_id) == ("resolved", 90000, None)
    assert audited(session).count("finding_resolved") == 1
    admin = app.test_client()
    login(admin, users["admin"])
    log = admin.get("/console/audit").get_data(as_text=True)
    assert "摸排线索当场解决" in log and "摸排线索立案" in log and "登记摸排线索" in log

    dashboard = client.get("/console/dashboard").get_data(as_text=True)
    line = dashboard.split('id="findings"')[1].split("</p>")[0]
    assert "待处置 <b>1</b>" in line and "已立案 <b>1</b>" in line and "已当场解决 <b>1</b>" in line
    assert "当场支付 90,000 元" in line
    listed = client.get("/console/findings?status=resolved").get_data(as_text=True)
    assert "甲建材厂" in listed and "乙劳务公司" not in listed and "丙装饰公司" not in listed

    sheet = exported(app, client, "/console/ledger.csv", sheet="findings").data.decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(sheet)))
    by_employer = {r[header.index("欠薪单位")]: r for r in rows}
    assert by_employer["甲建材厂"][header.index("状态")] == "已当场解决"
    assert by_employer["甲建材厂"][header.index("当场支付金额")] == "90000"
    ticket = session.scalar(select(Complaint.ticket_no))
    assert by_employer["乙劳务公司"][header.index("案件编号")] == ticket
    assert by_employer["丙装饰公司"][header.index("状态")] == "待处置"
    book = openpyxl.load_workbook(BytesIO(exported(app, client, "/console/ledger.xlsx").data))
    assert book["摸排线索"].max_row == 4


def test_a_survey_row_without_its_finder_imports_nothing_and_says_where(app, client, session, users):
    login(client, users["admin"])
    page = client.get("/console/backlog").get_data(as_text=True)
    day = (utcnow() - timedelta(days=2)).date().isoformat()
    sheet = ("来源,原编号,收到日期,所在区县,项目名称,欠薪单位,人数,欠薪金额,发现人\n"
             f"摸排,MP-1,{day},兰山区,沂河路厂房,某建材厂,5,80000,张三\n"
             f"摸排,MP-2,{day},兰山区,滨河路仓库,某物流公司,3,20000,\n")
    bad = client.post("/console/backlog", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page), "file": (BytesIO(sheet.encode("gb18030")), "摸排.csv")})
    assert "没有导入任何案件：第3行 [发现人] 摸排线索必填" in flashed(client, bad)
    assert findings(session) == []
    fixed = sheet.replace(",20000,\n", ",20000,王五\n")
    said = []
    for _ in range(2):  # the same file twice: the second adds nothing
        done = client.post("/console/backlog", content_type="multipart/form-data", data={
            "csrf_token": csrf_token(page), "file": (BytesIO(fixed.encode("gb18030")), "摸排.csv")})
        said.append(flashed(client, done))
    assert "摸排线索 2 条" in said[0] and "摸排线索 0 条" in said[1] and "之前已导入 2 行" in said[1]
    assert [(f.reference, f.found_by) for f in findings(session)] == [("MP-1", "张三"), ("MP-2", "王五")]
    assert session.scalars(select(Complaint)).all() == []
