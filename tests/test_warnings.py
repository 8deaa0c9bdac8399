"""Warnings (预警): payroll records imported per site, each indicator driven both ways (fires, clears) through
imports and the worker, key warnings escalated past their deadline, a proactive case with computed claim lines."""
from __future__ import annotations

import csv
import io
import re
import threading
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from PIL import ExifTags, Image
from sqlalchemy import delete, select, text, update

from handlers.cli import main
from handlers.public import write_scans
from handlers.runtime import services
from intake.case.complaints import NewComplaint, create_complaint
from intake.foundation.models import (
    ApiClient,
    Attendance,
    Complaint,
    Outbox,
    PosterCheckIn,
    RosterEntry,
    Site,
    SiteScan,
    SiteWarning,
    Timer,
)
from intake.foundation.settings import SettingsError, WarningSettings
from intake.people.access import Scope
from intake.people.staff import Role
from intake.registry.directory import department
from intake.registry.sites import import_sites
from intake.supervision.employers import list_employer, remove_listing
from intake.warnings import ledger
from intake.warnings.payroll import PayrollError, import_file, import_records
from tests.helpers import (
    CAL,
    OPENID,
    WECHAT,
    act,
    auth,
    case_page,
    csrf_token,
    exported,
    flashed,
    invoke,
    login,
    make_accounts,
    make_client,
    meanwhile,
    reply_text,
    routed,
    wechat_post,
    worker_pass,
)

# Thursday 2026-12-17, 10:00 in Linyi: the site's pay day (the 10th) and 3 working days of grace have passed.
NOW = datetime(2026, 12, 17, 2, 0, tzinfo=timezone.utc)
ADMIN = Scope(0, "admin", Role.ADMIN, None, None)


def resident_id(serial: int) -> str:
    body = f"37130219900101{serial:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]


A, B = resident_id(11), resident_id(12)
ROSTER = f"姓名,身份证号,手机号,班组,分包单位\n王五,{A},13900000001,木工班,临沂顺达劳务有限公司\n赵六,{B},,钢筋班,\n"


@pytest.fixture
def site(session):
    row = Site(code="W-1", name="沂河新城二期", jurisdiction_code="371302", industry="房屋建筑",
               investment="private", public_token="tok_" + "w" * 20, start_date=date(2026, 6, 1), pay_day=10,
               minimum_wage=2175, owner="临沂沂河置业有限公司", general_contractor="山东鲁建集团有限公司")
    session.add(row)
    session.commit()
    return row


def load(session, site, kind, text, encoding="utf-8", now=NOW):
    report = import_file(session, site, kind, f"{kind}.csv", text.encode(encoding), now=now)
    session.commit()
    return report


def live(session, site, indicator):
    session.expire_all()
    return session.scalars(select(SiteWarning).where(SiteWarning.site_id == site.id,
                                                     SiteWarning.indicator == indicator)).all()


def test_roster_in_gb18030_is_imported_once_and_bad_rows_change_nothing(app, session, site):
    report = load(session, site, "roster", ROSTER, encoding="gb18030")
    assert (report.created, report.updated, report.errors) == (2, 0, [])
    again = load(session, site, "roster", ROSTER)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    entry = session.scalar(select(RosterEntry).where(RosterEntry.name == "王五"))
    assert (entry.id_number, entry.id_number_masked, entry.phone) == (A, A[:6] + "********" + A[-4:], "13900000001")

    bad = load(session, site, "roster", f"name,id_number,phone\n王五改,{A},13900000009\n李七,123,\n,{B},1\n")
    assert [str(e) for e in bad.errors] == [
        "第3行 [身份证号] 身份证号“123”无效，应为18位且校验位正确", "第4行 [姓名] 不能为空",
        "第4行 [手机号] 手机号“1”无效，应为11位手机号"]
    session.expire_all()
    assert session.scalar(select(RosterEntry).where(RosterEntry.id_number_hash == entry.id_number_hash)).name == "王五"


def test_attendance_needs_the_roster_and_unusable_files_are_refused(app, session, site):
    load(session, site, "roster", ROSTER)
    report = load(session, site, "attendance", f"身份证号,月份,出勤天数\n{resident_id(99)},2026-11,20\n{A},2026年13月,40\n")
    assert [(e.row, e.column) for e in report.errors] == [(2, "身份证号"), (3, "月份"), (3, "出勤天数")]
    assert session.scalars(select(Attendance)).all() == []
    for content, message in ((b"", "文件是空的"), ("身份证号,出勤天数\n1,2\n".encode(), "缺少必填列：月份")):
        with pytest.raises(PayrollError, match=message):
            import_file(session, site, "attendance", "a.csv", content)
    with pytest.raises(PayrollError, match="未知的数据类型"):
        import_records(session, site, "salary", [])


def test_attended_but_not_paid_fires_after_the_pay_day_and_clears_when_payroll_arrives(app, session, site):
    load(session, site, "roster", ROSTER)
    load(session, site, "attendance", f"身份证号,月份,出勤天数\n{A},2026-11,20\n{B},2026-11,10\n")
    worker_pass(app, NOW - timedelta(days=3))  # Monday the 14th: still within the grace after the pay day
    assert live(session, site, "attended_not_paid") == []

    worker_pass(app, NOW)
    [warning] = live(session, site, "attended_not_paid")
    assert (warning.grade, warning.status, warning.due_at) == ("general", "open", None)
    assert warning.figures == {"month": "2026-11", "workers": 2, "days": 30, "pay_day": 10}
    assert warning.department.name.endswith("住房和城乡建设局") and warning.employers["subcontractors"] == [
        "临沂顺达劳务有限公司"]

    load(session, site, "account", f"类型,日期,金额,身份证号\n工资代发,2026-12-12,\"2,000\",{A}\n代发,2026/12/12,1000元,{B}\n")
    worker_pass(app, NOW + timedelta(hours=1))
    [warning] = live(session, site, "attended_not_paid")
    assert (warning.status, warning.cleared_reason) == ("cleared", "指标恢复正常（动态清零）")
    assert [e.kind for e in warning.events] == ["raised", "cleared_auto"]
    assert live(session, site, "paid_below_minimum") == []  # 3,000 paid for 30 days at 100 a day


def test_payroll_below_the_minimum_wage_is_a_key_warning_escalated_when_not_rectified(app, configured_app, session,
                                                                                      site):
    app = configured_app(warnings=WarningSettings(rectify_days=3))
    load(session, site, "roster", ROSTER)
    load(session, site, "attendance", f"身份证号,月份,出勤天数\n{A},2026-11,20\n")
    load(session, site, "account", f"类型,日期,金额,身份证号,流水号\n代发,2026-12-11,1500,{A},B001\n")
    worker_pass(app, NOW)
    [warning] = live(session, site, "paid_below_minimum")
    assert warning.figures == {"month": "2026-11", "workers": 1, "days": 20, "minimum_wage": 2175,
                               "expected": 2000, "paid": 1500}
    assert warning.due_at == datetime(2026, 12, 22, 16, 0, tzinfo=timezone.utc)  # 3 working days, to midnight

    worker_pass(app, datetime(2026, 12, 22, 15, 59, tzinfo=timezone.utc))
    assert live(session, site, "paid_below_minimum")[0].status == "open"
    worker_pass(app, datetime(2026, 12, 22, 16, 0, tzinfo=timezone.utc))
    [warning] = live(session, site, "paid_below_minimum")
    assert warning.status == "escalated"
    notices = [o.payload for o in session.scalars(select(Outbox)) if o.payload.get("kind") == "warning_escalated"]
    assert notices and "逾期未整改" in notices[0]["text"]

    repeat = load(session, site, "account", f"类型,日期,金额,身份证号,流水号\n代发,2026-12-11,1500,{A},B001\n")
    assert (repeat.created, repeat.unchanged) == (0, 1)


def test_a_key_warning_cleared_before_its_deadline_is_never_escalated(app, session, site):
    load(session, site, "roster", ROSTER)
    load(session, site, "attendance", f"身份证号,月份,出勤天数\n{A},2026-11,20\n")
    load(session, site, "account", f"类型,日期,金额,身份证号\n代发,2026-12-11,1500,{A}\n")
    worker_pass(app, NOW)
    [warning] = live(session, site, "paid_below_minimum")
    [timer] = session.scalars(select(Timer).where(Timer.warning_id == warning.id)).all()
    assert (timer.clock, timer.due_at, timer.state) == ("warning_rectify", warning.due_at, "pending")

    ledger.clear(session, ADMIN, warning, "已补发差额", NOW + timedelta(days=1))
    session.commit()
    worker_pass(app, warning.due_at + timedelta(days=1))
    [warning] = live(session, site, "paid_below_minimum")
    assert (warning.status, warning.escalated_at, timer.state) == ("cleared", None, "cancelled")
    assert [o for o in session.scalars(select(Outbox)) if o.payload.get("kind") == "warning_escalated"] == []


def test_two_workers_evaluating_at_once_raise_each_warning_once(app, settings, session, site):
    """Two worker transactions run the daily step: on PostgreSQL together, where one evaluates and the other finds
    the lock taken and goes on at once; on SQLite (one writer at a time) the second after the first's commit, where
    it finds today's mark. After both, a third pass evaluates nothing."""
    load(session, site, "roster", ROSTER)
    load(session, site, "attendance", f"身份证号,月份,出勤天数\n{A},2026-11,20\n")
    sessions, config = services(app).sessions, services(app).settings
    together = settings.database.url.startswith("postgresql")
    with sessions() as first, sessions() as second:
        raised = ledger.run_due(first, NOW, config, CAL).raised
        if together:
            second.execute(text("SET LOCAL lock_timeout = '2s'"))
        else:
            first.commit()
        assert ledger.run_due(second, NOW, config, CAL) == ledger.PassCounts()
        second.commit()
        first.commit()
    with sessions.begin() as third:
        assert ledger.run_due(third, NOW + timedelta(minutes=1), config, CAL) == ledger.PassCounts()
    session.expire_all()
    rows = session.scalars(select(SiteWarning.indicator).where(SiteWarning.site_id == site.id)).all()
    assert raised == len(rows) and sorted(rows) == sorted(set(rows)) and "attended_not_paid" in rows


def test_records_imported_while_the_indicators_run_are_evaluated_on_the_next_pass(app, settings, session, site,
                                                                                monkeypatch):
    """The payroll arrives while a worker is evaluating with the records before it: on PostgreSQL it commits while
    the evaluation is open, and that pass must not mark the day done, or the warning it raised would stay up until
    tomorrow; on SQLite it waits for the pass's commit and the day's mark must not hide it either."""
    postgres = settings.database.url.startswith("postgresql")
    load(session, site, "roster", ROSTER)
    load(session, site, "attendance", f"身份证号,月份,出勤天数\n{A},2026-11,20\n")
    evaluate, evaluated = ledger.evaluate, threading.Event()

    def payout() -> None:
        assert evaluated.wait(10)
        with services(app).sessions() as bank:
            load(bank, bank.get(Site, site.id), "account", f"类型,日期,金额,身份证号\n代发,2026-12-11,2200,{A}\n")

    def records_arrive_meanwhile(*args):
        counts = evaluate(*args)
        evaluated.set()
        assert not postgres or bank.finished.wait(10)  # committed while this evaluation's transaction is open
        return counts

    monkeypatch.setattr(ledger, "evaluate", records_arrive_meanwhile)
    with meanwhile(payout) as bank:
        worker_pass(app, NOW)
    assert bank.error is None
    assert live(session, site, "attended_not_paid")[0].status == "open"
    monkeypatch.undo()
    worker_pass(app, NOW + timedelta(minutes=1))
    assert live(session, site, "attended_not_paid")[0].status == "cleared"


def test_workers_unpaid_counts_the_months_after_the_last_payout_at_the_agreed_monthly_wage(app, session, site):
    load(session, site, "roster", ROSTER)
    load(session, site, "attendance", f"身份证号,月份,出勤天数,月工资\n{A},2026-07,22,\n{A},2026-08,21,4350\n"
                                       f"{A},2026-09,11,4350\n{B},2026-08,20,\n{B},2026-09,20,\n")
    load(session, site, "account", f"类型,日期,金额,身份证号\n代发,2026-08-10,2200,{A}\n代发,2026-10-31,4000,{B}\n")
    worker_pass(app, NOW)
    [warning] = live(session, site, "workers_unpaid")
    [(worker, line)] = warning.figures["lines"].items()
    assert worker == session.scalar(select(RosterEntry.id_number_hash).where(RosterEntry.name == "王五"))
    assert line == {"months": ["2026-08", "2026-09"], "days": 32, "owed": 6400}  # 21 × 200 + 11 × 200
    assert (warning.figures["workers"], warning.figures["owed"]) == (1, 6400)


def test_workers_unpaid_for_two_months_open_a_case_with_the_sums(app, session, site):
    load(session, site, "roster", ROSTER)
    load(session, site, "attendance", f"身份证号,月份,出勤天数,日工资\n{A},2026-09,20,300\n{A},2026-10,10,\n"
                                       f"{B},2026-10,5,\n")
    worker_pass(app, NOW)
    [warning] = live(session, site, "workers_unpaid")
    assert warning.grade == "key" and warning.figures["workers"] == 1
    [line] = warning.figures["lines"].values()
    assert line == {"months": ["2026-09", "2026-10"], "days": 30, "owed": 7000}  # 20 × 300 + 10 × 100

    complaint = ledger.open_case(session, ADMIN, warning, NOW)
    session.commit()
    case = session.get(Complaint, complaint.id)
    assert (case.channel, case.amount, case.site_id) == ("warning", 7000, site.id)
    assert [(c.worker_name, c.amount_claimed) for c in case.claim_lines] == [("王五", 7000)]
    with pytest.raises(ledger.WarningError, match="已转为案件"):
        ledger.open_case(session, ADMIN, warning, NOW)

    load(session, site, "account", f"类型,日期,金额,身份证号\n代发,2026-11-05,7000,{A}\n")
    worker_pass(app, NOW + timedelta(hours=1))
    assert live(session, site, "workers_unpaid")[0].status == "cleared"


def test_a_complaint_about_a_site_with_a_roster_offers_the_workers_claim_line_for_staff_to_confirm(
        app, client, settings, session, site):
    load(session, site, "roster", ROSTER)
    load(session, site, "attendance", f"身份证号,月份,出勤天数,日工资\n{A},2026-09,20,300\n{A},2026-10,10,\n")
    users = make_accounts(session)
    stranger = routed(app, session, settings, None, phone="13900000001")  # the same phone, no site named
    complaint = routed(app, session, settings, site, phone="13900000001")
    login(client, users["staff"])
    assert "工地实名制花名册" not in case_page(client, stranger.ticket_no).get_data(as_text=True)
    page = case_page(client, complaint.ticket_no).get_data(as_text=True)
    assert "按手机号匹配" in page and A[:6] + "********" + A[-4:] in page and A not in page
    assert "2026-09、2026-10 共出勤 30 天" in page and "估算欠薪 7,000 元" in page
    offered = dict(re.findall(r'name="(worker_name|amount)" value="([^"]*)"', page))
    assert offered == {"worker_name": "王五", "amount": "7000"}
    assert complaint.claim_lines == []  # nothing is written until staff take it

    response = act(client, complaint.ticket_no, "claim_line", **offered)
    page = flashed(client, response)
    assert "<td>王五</td>" in page and "<td>7,000</td>" in page and "核对无误，加入工人明细" not in page
    session.expire_all()
    assert [(c.worker_name, c.amount_claimed) for c in session.get(Complaint, complaint.id).claim_lines] == [
        ("王五", 7000)]

    paid_in_full, _ = create_complaint(session, NewComplaint(channel="web", phone="13700000002", id_number=B,
                                                             site_id=site.id, free_text="我的工资"))
    session.commit()
    worker_pass(app)
    page = case_page(client, paid_in_full.ticket_no).get_data(as_text=True)
    assert "按身份证号匹配" in page and "赵六" in page and "考勤记录中没有未代发工资的月份" in page
    assert "核对无误，加入工人明细" not in page


def test_no_roster_update_this_month_fires_and_an_import_clears_it(app, session, site):
    worker_pass(app, NOW)
    [warning] = live(session, site, "no_roster_update")
    assert warning.figures == {"last_update": None}
    load(session, site, "roster", ROSTER)
    worker_pass(app, NOW + timedelta(minutes=5))
    assert live(session, site, "no_roster_update")[0].status == "cleared"


def test_a_wage_guarantee_below_its_share_of_the_contract_fires_until_deposited(app, configured_app, session, site):
    app = configured_app(warnings=WarningSettings(guarantee_permille=15, guarantee_cap=500_000))
    report = import_sites(session, "sites.csv", "项目编号,项目名称,所在区县,合同价款\n"
                                                "W-1,沂河新城二期,兰山区,\"2,000万\"\nW-2,二号楼,兰山区,很多\n".encode())
    assert [str(e) for e in report.errors] == ["第3行 [合同价款] 合同价款“很多”无效，应为金额（元），如35000000或3500万"]
    import_sites(session, "sites.csv", "项目编号,项目名称,所在区县,施工合同额\nW-1,沂河新城二期,兰山区,20000000元\n"
                 .encode())
    session.commit()
    load(session, site, "account", "类型,日期,金额\n工资保证金,2026-06-01,100000\n")
    worker_pass(app, NOW)
    [warning] = live(session, site, "guarantee_short")
    assert (warning.grade, warning.figures) == ("key", {"contract_amount": 20_000_000, "required": 300_000,
                                                        "deposited": 100_000})
    load(session, site, "account", "类型,日期,金额\n保证金,2026-12-18,200000\n")
    worker_pass(app, NOW + timedelta(days=1))
    assert live(session, site, "guarantee_short")[0].status == "cleared"


def test_complaints_above_a_sites_usual_rate_fire_and_clear_when_it_calms(app, session, site):
    def complaints(n, days_ago):
        for _ in range(n):
            complaint, _ = create_complaint(session, NewComplaint(channel="web", phone="13900000000",
                                                                  site_id=site.id, free_text="欠薪"))
            complaint.created_at = NOW - timedelta(days=days_ago)
        session.commit()

    complaints(12, 100)  # the usual rate: 12 in 180 days, 2 in any 30
    complaints(3, 2)
    worker_pass(app, NOW)
    assert live(session, site, "complaints_above_baseline") == []
    complaints(1, 0)
    load(session, site, "roster", ROSTER)  # new records: evaluated again today
    worker_pass(app, NOW + timedelta(hours=1))
    [warning] = live(session, site, "complaints_above_baseline")
    assert (warning.grade, warning.figures) == ("general", {"recent": 4, "usual": 2.0, "window_days": 30})
    worker_pass(app, NOW + timedelta(days=31))
    assert live(session, site, "complaints_above_baseline")[0].status == "cleared"


def test_an_employer_on_the_dishonest_listing_fires_until_removed(app, session, site):
    listing = list_employer(session, "山东鲁建集团有限公司", kind="blacklist", basis="临人社失信〔2026〕1号",
                            listed_on=date(2026, 12, 1), actor="staff:x", authority="临沂市人社局")
    session.commit()
    worker_pass(app, NOW)
    [warning] = live(session, site, "dishonest_employer")
    assert warning.figures == {"employers": ["山东鲁建集团有限公司"]}
    remove_listing(session, listing.id, reason="已整改", removed_on=date(2026, 12, 17), actor="staff:x")
    session.commit()
    worker_pass(app, NOW + timedelta(days=1))
    assert live(session, site, "dishonest_employer")[0].status == "cleared"


def test_staff_clear_a_warning_only_with_a_reason(app, session, site):
    worker_pass(app, NOW)
    [warning] = live(session, site, "no_roster_update")
    with pytest.raises(ledger.WarningError, match="原因"):
        ledger.clear(session, ADMIN, warning, " ", NOW)
    ledger.clear(session, ADMIN, warning, "项目已停工", NOW)
    session.commit()
    assert (warning.status, warning.events[-1].actor) == ("cleared", "staff:admin")
    assert ledger.counts(session, ADMIN) == {"general": 1, "key": 0, "opinion": 0, "escalated": 0, "cleared": 1}  # poster_silent


def test_public_opinion_is_recorded_verified_and_reported_back_on_hour_clocks_or_escalated(app, client, session,
                                                                                          site):
    users = make_accounts(session)
    login(client, users["staff"])
    page = client.get("/console/warnings").get_data(as_text=True)

    def record_opinion(**fields):
        return client.post("/console/warnings/opinion", data={"csrf_token": csrf_token(page), "site": "W-1",
                                                             "source": "post", **fields})

    assert "请填写舆情内容摘要" in flashed(client, record_opinion(summary=" "))
    assert "链接应以 http:// 或 https:// 开头" in flashed(client, record_opinion(summary="讨薪", link="javascript:x"))
    assert "本辖区内的项目编号" in flashed(client, record_opinion(summary="讨薪", site="NOPE"))
    assert session.scalars(select(SiteWarning)).all() == []

    recorded = datetime.now(timezone.utc)
    handled = flashed(client, record_opinion(summary="抖音帖文：二期工地十几名工人讨薪", link="https://v.douyin.com/x1"))
    assert "已登记舆情" in handled and "核查时限" in handled and "反馈上报时限" in handled
    ignored = flashed(client, record_opinion(summary="工地门口有人聚集", source="gathering"))
    first, second = session.scalars(select(SiteWarning).order_by(SiteWarning.id)).all()
    assert (first.grade, first.department.name.endswith("住房和城乡建设局")) == ("opinion", True)
    assert "https://v.douyin.com/x1" in handled and "现场聚集" in ignored

    detail = client.get(f"/console/warnings/{first.id}").get_data(as_text=True)
    response = client.post(f"/console/warnings/{first.id}/report", data={"csrf_token": csrf_token(detail),
                                                                         "note": "已上报"})
    assert "请先核查落实，再反馈上报" in flashed(client, response)
    client.post(f"/console/warnings/{first.id}/verify", data={"csrf_token": csrf_token(detail),
                                                              "note": "属实，系分包拖欠两个月工资，已约谈"})
    detail = client.get(f"/console/warnings/{first.id}").get_data(as_text=True)
    assert "反馈上报并办结" in detail and "核查时限" not in detail
    client.post(f"/console/warnings/{first.id}/report", data={"csrf_token": csrf_token(detail),
                                                              "note": "已报市治欠办，工资三日内发放"})

    worker_pass(app, recorded + timedelta(hours=25))
    session.expire_all()
    assert (first.status, first.escalated_at, first.cleared_reason) == ("cleared", None, "已报市治欠办，工资三日内发放")
    assert [e.kind for e in first.events] == ["recorded", "verified", "reported"]
    assert second.status == "escalated"  # not verified in 2 hours, and not cleared by the indicators' pass
    assert [e.note for e in second.events if e.kind == "escalated"] == ["超过时限未核查", "超过时限未反馈上报"]
    notices = [o.payload["text"] for o in session.scalars(select(Outbox)) if o.payload.get("kind") == "warning_escalated"]
    assert notices == ["预警：沂河新城二期“舆情信息”超过时限未核查，已升级督办。",
                       "预警：沂河新城二期“舆情信息”超过时限未反馈上报，已升级督办。"]
    dashboard = client.get("/console/dashboard").get_data(as_text=True)
    assert "舆情信息 <b>1</b>" in dashboard


def test_poster_scans_are_counted_and_a_silent_poster_fires_until_scanned_or_checked_in(app, client, session, site):
    for method in ("get", "get", "post"):
        getattr(client, method)(f"/s/{site.public_token}")
    assert session.scalars(select(SiteScan)).all() == []  # counted in the web process, written in batches
    write_scans(app)  # the batch: after a page once it is due, or as a gunicorn worker stops
    today = datetime.now(timezone.utc).astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert [(s.day, s.count) for s in session.scalars(select(SiteScan))] == [(today, 2)]
    session.execute(delete(SiteScan))
    session.commit()

    worker_pass(app, NOW)  # started in June, never scanned
    [warning] = live(session, site, "poster_silent")
    assert warning.figures == {"last_scan": None, "last_check_in": None, "silent_days": 10}
    session.add(SiteScan(site_id=site.id, day=date(2026, 12, 17), count=1))
    session.commit()
    worker_pass(app, NOW + timedelta(days=1))
    assert live(session, site, "poster_silent")[0].status == "cleared"

    session.execute(delete(SiteScan))
    session.commit()
    later = datetime.now(timezone.utc)  # the check-in below is stamped now
    worker_pass(app, later)
    assert [w.status for w in live(session, site, "poster_silent")] == ["cleared", "open"]
    users = make_accounts(session)
    login(client, users["staff"])
    image, exif = Image.new("RGB", (64, 48), (200, 30, 30)), Image.Exif()
    exif[ExifTags.Base.DateTime] = "2027:01:11 09:30:00"
    exif[ExifTags.IFD.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (35.0, 3.0, 30.5),
                                  ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (118.0, 20.0, 10.0)}
    photo = io.BytesIO()
    image.save(photo, "JPEG", exif=exif)
    page = client.get("/console/sites/W-1/poster-check").get_data(as_text=True)
    response = client.post("/console/sites/W-1/poster-check", data={
        "csrf_token": csrf_token(page), "photo": (io.BytesIO(b"not a photo"), "a.jpg")},
        content_type="multipart/form-data")
    assert "不是照片" in flashed(client, response)
    response = client.post("/console/sites/W-1/poster-check", data={
        "csrf_token": csrf_token(page), "photo": (io.BytesIO(photo.getvalue()), "poster.jpg"), "note": "大门口"},
        content_type="multipart/form-data")
    page = flashed(client, response)
    assert "已记录张贴检查" in page and "2027-01-11 09:30" in page and "35.05847, 118.33611" in page
    [visit] = session.scalars(select(PosterCheckIn)).all()
    assert visit.photo.startswith(b"\xff\xd8") and b"2027:01:11" not in visit.photo
    worker_pass(app, later + timedelta(minutes=5))
    assert [w.status for w in live(session, site, "poster_silent")] == ["cleared", "cleared"]
    assert client.get("/console/sites/NOPE/poster-check").status_code == 404


def test_a_sudden_rise_in_scans_fires_and_a_usual_day_does_not(app, session, site):
    today = date(2026, 12, 17)
    session.add_all(SiteScan(site_id=site.id, day=today - timedelta(days=n), count=2) for n in range(2, 32))
    session.add(SiteScan(site_id=site.id, day=today, count=19))
    session.commit()
    worker_pass(app, NOW)
    assert live(session, site, "scans_spiking") == []  # 19 in two days, against 4 usually: at least 20 and 5×
    session.execute(update(SiteScan).where(SiteScan.day == today).values(count=40))
    load(session, site, "roster", ROSTER)  # new records: evaluated again today
    worker_pass(app, NOW + timedelta(hours=1))
    [warning] = live(session, site, "scans_spiking")
    assert warning.figures == {"scans": 40, "usual_scans": 4.0, "scan_days": 2}


def test_the_cli_imports_a_file_for_a_site_and_reports_bad_rows(app, session, site, tmp_path):
    good, bad = tmp_path / "花名册.csv", tmp_path / "bad.csv"
    good.write_bytes(ROSTER.encode("gb18030"))
    bad.write_text(f"姓名,身份证号\n王五,{A[:-1]}\n", encoding="utf-8")
    result = invoke(app, "payroll", "import", str(good), "--site", "W-1", "--kind", "roster")
    assert result.exit_code == 0 and "新增 2 条" in result.output
    result = invoke(app, "payroll", "import", str(bad), "--site", "W-1", "--kind", "roster")
    assert result.exit_code == 1 and "第2行 [身份证号]" in result.output
    result = invoke(app, "payroll", "import", str(good), "--site", "NOPE", "--kind", "roster")
    assert result.exit_code == 1 and "未知的项目编号" in result.output
    assert len(session.scalars(select(RosterEntry)).all()) == 2


def test_console_uploads_lists_in_scope_clears_and_turns_a_warning_into_a_case(app, client, session, site):
    users = make_accounts(session)
    login(client, users["county"])
    page = client.get("/console/warnings").get_data(as_text=True)
    for kind, rows in (("roster", ROSTER), ("attendance", f"身份证号,月份,出勤天数\n{A},2026-09,20\n{A},2026-10,20\n")):
        response = client.post("/console/payroll/import", data={
            "csrf_token": csrf_token(page), "site": "W-1", "kind": kind,
            "file": (io.BytesIO(rows.encode("gb18030")), f"{kind}.csv")}, content_type="multipart/form-data")
        assert "新增" in flashed(client, response)
    response = client.post("/console/payroll/import", data={
        "csrf_token": csrf_token(page), "site": "W-1", "kind": "attendance",
        "file": (io.BytesIO(f"身份证号,月份,出勤天数\n{A},2026-10,99\n".encode()), "a.csv")},
        content_type="multipart/form-data")
    assert "第2行 [出勤天数]" in flashed(client, response)
    worker_pass(app, NOW)

    listing = client.get("/console/warnings?grade=key").get_data(as_text=True)
    assert "<td>工人有考勤但两个月以上未发工资</td>" in listing and "<td>有考勤但工资发放日后未代发工资</td>" not in listing
    [warning] = live(session, site, "workers_unpaid")
    detail = client.get(f"/console/warnings/{warning.id}").get_data(as_text=True)
    assert "2026-09、2026-10" in detail and "4000" in detail and A not in detail
    response = client.post(f"/console/warnings/{warning.id}/case", data={"csrf_token": csrf_token(detail)})
    assert "已转为案件" in flashed(client, response)
    response = client.post(f"/console/warnings/{warning.id}/clear", data={"csrf_token": csrf_token(detail),
                                                                        "reason": ""})
    assert "请填写消除预警的原因" in flashed(client, response)
    client.post(f"/console/warnings/{warning.id}/clear", data={"csrf_token": csrf_token(detail), "reason": "已立案"})
    assert live(session, site, "workers_unpaid")[0].status == "cleared"

    for other in ("far_county", "staff"):
        client.post("/console/logout", data={"csrf_token": csrf_token(client.get("/console/").get_data(as_text=True))})
        login(client, users[other])
        page = client.get("/console/warnings").get_data(as_text=True)
        if other == "far_county":
            assert client.get(f"/console/warnings/{warning.id}").status_code == 404
            assert "沂河新城二期" not in client.get("/console/warnings?status=").get_data(as_text=True)
    assert client.post("/console/payroll/import", data={"csrf_token": csrf_token(page)}).status_code == 403


def test_a_bank_pushes_records_through_the_api_all_or_nothing(app, client, session, site):
    token = make_client(session, "bank", role="county_supervisor", county="371302")
    url = "/api/v1/sites/W-1/payroll/"
    roster = [{"name": "王五", "id_number": A, "phone": "13900000001"}, {"name": "赵六", "id_number": B}]
    response = client.post(url + "roster", json={"records": roster}, headers=auth(token))
    assert response.status_code == 200 and response.json == {"kind": "roster", "created": 2, "updated": 0,
                                                              "unchanged": 0}
    payouts = [{"kind": "payout", "day": "2026-12-11", "amount": 1500, "id_number": A, "ref": "B9"},
               {"kind": "payout", "day": "2026-12-11", "amount": "-5", "id_number": B}]
    response = client.post(url + "account", json={"records": payouts}, headers=auth(token))
    assert response.status_code == 422
    assert [(e["pointer"], e["detail"]) for e in response.json["errors"]] == [
        ("/records/1", "金额：金额“-5”无效，应为大于0的数字（元）")]
    response = client.post(url + "account", json={"records": [{**payouts[0], "bank": "x"}]}, headers=auth(token))
    assert response.status_code == 422 and response.json["errors"][0]["field"] == "records.0.bank"
    assert client.post(url + "salary", json={"records": roster}, headers=auth(token)).status_code == 404
    assert client.post("/api/v1/sites/NOPE/payroll/roster", json={"records": roster},
                       headers=auth(token)).status_code == 404
    response = client.post(url + "account", json={"records": payouts[:1]}, headers=auth(token))
    assert response.json["created"] == 1
    assert client.post(url + "account", json={"records": payouts[:1]}, headers=auth(token)).json["unchanged"] == 1
    staff = make_client(session, "hr-tool", role="staff", department_id=department(session, "371302", "housing").id)
    assert client.post(url + "roster", json={"records": roster}, headers=auth(staff)).status_code == 403


def test_client_systems_read_the_warnings_in_their_scope(app, client, session, site):
    load(session, site, "roster", ROSTER)
    load(session, site, "attendance", f"身份证号,月份,出勤天数,日工资\n{A},2026-09,20,300\n{A},2026-10,10,\n")
    worker_pass(app, NOW)
    token = make_client(session, "platform", role="county_supervisor", county="371302")
    response = client.get("/api/v1/warnings?grade=key", headers=auth(token))
    assert response.status_code == 200
    [item] = response.json["items"]
    assert (item["indicator"], item["indicator_text"], item["status_text"]) == (
        "workers_unpaid", "工人有考勤但两个月以上未发工资", "待处置")
    assert item["lines"] == [{"months": ["2026-09", "2026-10"], "days": 30, "owed": 7000}]
    assert "lines" not in item["figures"] and item["site"] == {"code": "W-1", "name": "沂河新城二期"}
    warning = session.get(SiteWarning, item["id"])
    assert warning.figures["lines"].keys().isdisjoint(response.get_data(as_text=True).split('"'))

    first = client.get("/api/v1/warnings?limit=1", headers=auth(token)).json
    second = client.get(f"/api/v1/warnings?limit=1&cursor={first['next_cursor']}", headers=auth(token)).json
    assert first["next_cursor"] and first["items"][0]["id"] > second["items"][0]["id"]
    detail = client.get(f"/api/v1/warnings/{item['id']}", headers=auth(token)).json
    assert [e["text"] for e in detail["events"]] == ["触发预警"]
    assert [d["label"] for d in detail["deadlines"]] == ["整改期限"]
    assert client.get("/api/v1/warnings?grade=red", headers=auth(token)).status_code == 422
    assert client.get("/api/v1/warnings/0", headers=auth(token)).status_code == 404
    far = make_client(session, "far", role="county_supervisor", county="371311")
    assert client.get("/api/v1/warnings", headers=auth(far)).json["items"] == []
    assert client.get(f"/api/v1/warnings/{item['id']}", headers=auth(far)).status_code == 404


def test_the_ledger_export_has_the_warnings_in_scope(app, client, session, site):
    load(session, site, "roster", ROSTER)
    load(session, site, "attendance", f"身份证号,月份,出勤天数,日工资\n{A},2026-09,20,300\n{A},2026-10,10,\n")
    worker_pass(app, NOW)
    users = make_accounts(session)
    login(client, users["county"])
    response = exported(app, client, "/console/ledger.csv", sheet="warnings", start="2026-12-01", end="2026-12-31")
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:7] == ["预警编号", "项目编号", "项目名称", "所在区县", "指标", "等级", "状态"]
    unpaid = next(r for r in rows[1:] if r[4] == "工人有考勤但两个月以上未发工资")
    assert unpaid[1:4] == ["W-1", "沂河新城二期", "兰山区"] and unpaid[5:7] == ["关键性指标", "待处置"]
    assert "估算欠薪（元）：7000" in unpaid[10] and "涉及工人明细 1 人" in unpaid[10] and A not in response.get_data(
        as_text=True)
    assert unpaid[11] == "2026-12-17 10:00"
    earlier = exported(app, client, "/console/ledger.csv", sheet="warnings", start="2026-11-01",
                       end="2026-11-30").get_data(as_text=True)
    assert len(list(csv.reader(io.StringIO(earlier)))) == 1
    book = load_workbook(io.BytesIO(exported(app, client, "/console/ledger.xlsx", start="2026-12-01",
                                             end="2026-12-31").data), read_only=True)
    assert book.sheetnames == ["台账", "工人明细", "预警", "摸排线索"] and len(list(book["预警"].values)) == len(rows)


def test_the_dashboard_counts_the_warnings_in_scope(app, client, session, site):
    users = make_accounts(session)
    worker_pass(app, NOW)
    login(client, users["county"])
    page = client.get("/console/dashboard").get_data(as_text=True)
    assert "一般性指标 <b>2</b>" in page and "关键性指标 <b>0</b>" in page  # no roster update, silent poster


def test_the_demo_makes_every_indicator_fire(configured_app, session):
    demo_app = configured_app(demo=True)
    for _ in range(2):  # idempotent
        result = demo_app.test_cli_runner().invoke(main, ["demo"])
        assert result.exit_code == 0, result.output
    zone = ZoneInfo("Asia/Shanghai")
    late_in_month = datetime.now(zone).replace(day=28, hour=10, minute=0, second=0, microsecond=0)
    worker_pass(demo_app, late_in_month.astimezone(timezone.utc))
    fired = Counter(session.scalars(select(SiteWarning.indicator).where(SiteWarning.status == "open")))
    once = ("workers_unpaid", "paid_below_minimum", "attended_not_paid", "dishonest_employer", "guarantee_short",
            "labour_costs_short")
    assert {name: fired[name] for name in once} == dict.fromkeys(once, 1)
    assert fired["no_roster_update"] == 6  # the eight demo sites but the two with rosters


ACCOUNT = ("类型,日期,金额,拨付单位\n工程款拨付,2026-11-05,\"1,000,000\",临沂沂河置业有限公司\n"
           "人工费拨付,2026-11-20,150000,临沂沂河置业有限公司\n进度款,2026-12-02,400000元,临沂沂河置业有限公司\n")


def test_labour_costs_short_of_the_progress_payments_fire_after_the_deposit_day_and_clear_when_caught_up(
        configured_app, client, session, site, tmp_path):
    app = configured_app(warnings=WarningSettings(labour_deposit_day=15, labour_share_building=25))
    statement = tmp_path / "工资专用账户.csv"
    statement.write_bytes(ACCOUNT.encode("gb18030"))
    result = invoke(app, "payroll", "import", str(statement), "--site", "W-1", "--kind", "account")
    assert result.exit_code == 0 and "新增 3 条" in result.output
    bad = load(session, site, "account", "类型,日期,金额\n进度,2026-11-05,1000\n")
    assert [str(e) for e in bad.errors] == [
        "第2行 [类型] 类型“进度”无效，应为“人工费拨付”“工资代发”“工资保证金”或“工程款拨付”"]

    worker_pass(app, NOW - timedelta(days=3))  # the 14th: November's labour costs are not due before the 15th
    assert live(session, site, "labour_costs_short") == []
    worker_pass(app, NOW)
    [warning] = live(session, site, "labour_costs_short")
    assert (warning.grade, warning.status, warning.due_at is not None) == ("key", "open", True)
    assert warning.figures == {"progress_through": "2026-11", "progress_paid": 1_000_000, "labour_share": 25,
                               "labour_due": 250_000, "labour_deposited": 150_000, "deposit_day": 15}
    users = make_accounts(session)
    login(client, users["county"])
    detail = client.get(f"/console/warnings/{warning.id}").get_data(as_text=True)
    assert "人工费用未按工程款比例按时拨付至工资专用账户" in detail and "250000" in detail and "150000" in detail

    token = make_client(session, "bank", role="county_supervisor", county="371302")
    response = client.post("/api/v1/sites/W-1/payroll/account", headers=auth(token), json={"records": [
        {"kind": "deposit", "day": "2026-12-18", "amount": 100_000, "payer": "临沂沂河置业有限公司", "ref": "L-1218"},
        {"kind": "progress", "day": "2027-01-05", "amount": 800_000, "payer": "临沂沂河置业有限公司", "ref": "P-0105"}]})
    assert response.status_code == 200 and response.json["created"] == 2
    worker_pass(app, NOW + timedelta(days=1))
    [warning] = live(session, site, "labour_costs_short")
    assert (warning.status, warning.cleared_reason) == ("cleared", "指标恢复正常（动态清零）")
    assert session.scalars(select(Timer.state).where(Timer.warning_id == warning.id)).all() == ["cancelled"]

    # January: December's 400,000 is due by the 15th as well (January's 800,000 not before February 15th); the
    # console upload of a late deposit clears it.
    january = datetime(2027, 1, 18, 2, 0, tzinfo=timezone.utc)
    worker_pass(app, january)
    [_, again] = live(session, site, "labour_costs_short")
    assert (again.status, again.figures["progress_through"], again.figures["labour_due"],
            again.figures["labour_deposited"]) == ("open", "2026-12", 350_000, 250_000)
    page = client.get("/console/warnings").get_data(as_text=True)
    assert "工程款拨付" in page
    response = client.post("/console/payroll/import", data={
        "csrf_token": csrf_token(page), "site": "W-1", "kind": "account",
        "file": (io.BytesIO("类型,日期,金额\n人工费拨付,2027-01-18,100000\n".encode()), "a.csv")},
        content_type="multipart/form-data")
    assert "新增 1 条" in flashed(client, response)
    worker_pass(app, january + timedelta(hours=1))
    assert [w.status for w in live(session, site, "labour_costs_short")] == ["cleared", "cleared"]


def test_labour_shares_are_per_industry_and_checked_at_start():
    config = WarningSettings(labour_share_water=30, labour_share_other=5)
    assert [config.labour_share(name) for name in ("WATER", "BUILDING", "OTHER")] == [30, 20, 5]
    for wrong in ({"labour_deposit_day": 29}, {"labour_deposit_day": 0}, {"labour_share_municipal": 101}):
        with pytest.raises(SettingsError):
            WarningSettings(**wrong)


def opinion(**fields):
    return {"reference": "YQ-2026-0001", "site_code": "W-1", "source": "post",
            "summary": "抖音帖文：沂河新城二期十几名工人讨薪", "url": "https://v.douyin.com/x1",
            "happened_at": "2026-12-17T08:30:00+08:00", **fields}


def test_a_monitoring_system_pushes_public_opinion_once_per_reference(app, client, session, site):
    token = make_client(session, "yuqing", role="county_supervisor", county="371302")
    response = client.post("/api/v1/warnings", json=opinion(), headers=auth(token))
    assert response.status_code == 201, response.json
    body = response.json
    assert response.headers["Location"] == f"/api/v1/warnings/{body['id']}"
    assert (body["grade"], body["indicator_text"], body["status"]) == ("opinion", "舆情信息", "open")
    assert body["figures"] == {"source": "网络帖文", "link": "https://v.douyin.com/x1",
                               "summary": "抖音帖文：沂河新城二期十几名工人讨薪", "happened_at": "2026-12-17 08:30"}
    assert [d["label"] for d in body["deadlines"]] == ["核查时限", "反馈上报时限"]
    assert body["events"][0]["text"] == "登记舆情" and body["department"]["name"].endswith("住房和城乡建设局")

    again = client.post("/api/v1/warnings", json=opinion(), headers=auth(token))
    assert (again.status_code, again.json["id"]) == (200, body["id"])
    reused = client.post("/api/v1/warnings", json=opinion(summary="另一条"), headers=auth(token))
    assert reused.status_code == 422 and reused.json["errors"][0]["field"] == "reference"
    assert "另一条内容不同的舆情" in reused.json["errors"][0]["detail"]
    [warning] = session.scalars(select(SiteWarning)).all()
    assert (warning.client_ref, warning.events[0].actor) == ("YQ-2026-0001", "api:yuqing")

    # Another client's same reference is its own item; the staff console shows the pushed warning.
    other = make_client(session, "12345", role="county_supervisor", county="371302")
    assert client.post("/api/v1/warnings", json=opinion(source="gathering"),
                       headers=auth(other)).status_code == 201
    users = make_accounts(session)
    login(client, users["staff"])
    page = client.get(f"/console/warnings/{body['id']}").get_data(as_text=True)
    assert "2026-12-17 08:30" in page and "https://v.douyin.com/x1" in page


def test_two_pushes_of_one_reference_at_once_record_one_warning(app, session, site):
    token = make_client(session, "yuqing", role="county_supervisor", county="371302")
    statuses: list[int] = []

    def push() -> None:
        statuses.append(app.test_client().post("/api/v1/warnings", json=opinion(), headers=auth(token)).status_code)

    threads = [threading.Thread(target=push) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [200, 201]
    assert len(session.scalars(select(SiteWarning)).all()) == 1
    assert len(session.scalars(select(Timer)).all()) == 2  # one verify and one report-back clock


@pytest.mark.parametrize(("fields", "field"), [
    ({"site_code": "NOPE"}, "site_code"), ({"source": "rumour"}, "source"), ({"summary": " \u0000 "}, "summary"),
    ({"url": "javascript:alert(1)"}, "url"), ({"reference": "有 空格"}, "reference"), ({"reference": ""}, "reference"),
    ({"happened_at": "2026-12-17T08:30:00"}, "happened_at"), ({"summary": "x" * 2001}, "summary"),
    ({"extra": 1}, "extra")])
def test_a_bad_opinion_push_is_a_422_naming_the_field_and_records_nothing(app, client, session, site, fields,
                                                                           field):
    token = make_client(session, "yuqing", role="county_supervisor", county="371302")
    response = client.post("/api/v1/warnings", json=opinion(**fields), headers=auth(token))
    assert response.status_code == 422 and field in [e["field"] for e in response.json["errors"]]
    assert session.scalars(select(SiteWarning)).all() == []


def test_forged_and_out_of_scope_clients_push_no_opinion(app, client, session, site):
    assert client.post("/api/v1/warnings", json=opinion()).status_code == 401
    assert client.post("/api/v1/warnings", json=opinion(), headers=auth("forged-token")).status_code == 401
    far = make_client(session, "far", role="county_supervisor", county="371311")
    response = client.post("/api/v1/warnings", json=opinion(), headers=auth(far))
    assert response.status_code == 422 and response.json["errors"][0]["field"] == "site_code"
    disabled = make_client(session, "gone", role="county_supervisor", county="371302")
    session.execute(update(ApiClient).where(ApiClient.name == "gone").values(active=False))
    session.commit()
    assert client.post("/api/v1/warnings", json=opinion(), headers=auth(disabled)).status_code == 401
    assert client.post("/api/v1/warnings", data="{", content_type="application/json",
                       headers=auth(far)).status_code == 400
    assert session.scalars(select(SiteWarning)).all() == []
    document = client.get("/api/v1/openapi.json").get_json()
    assert set(document["paths"]["/api/v1/warnings"]["post"]["responses"]) >= {"200", "201", "401", "422"}
    assert document["components"]["schemas"]["OpinionIn"]["additionalProperties"] is False


def scan_xml(event: str, key: str, create_time: int, user: str = OPENID) -> str:
    return (f"<xml><ToUserName><![CDATA[gh_account]]></ToUserName><FromUserName><![CDATA[{user}]]></FromUserName>"
            f"<CreateTime>{create_time}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>")


def test_scans_of_a_posters_wechat_code_count_for_its_site_and_day(configured_app, session, site):
    client = configured_app(wechat=WECHAT).test_client()
    t = 1_800_000_000
    greeting = wechat_post(client, scan_xml("subscribe", f"qrscene_{site.public_token}", t - 60))
    assert site.name in reply_text(greeting)  # the dialogue knows the site, as before
    for xml in (scan_xml("subscribe", f"qrscene_{site.public_token}", t),  # a new follower scanning the poster
                scan_xml("SCAN", site.public_token, t + 60),  # a follower scanning it again
                scan_xml("SCAN", site.public_token, t + 60),  # WeChat's retry of the same event
                scan_xml("SCAN", site.public_token, t + 90, user="oOther000000000000000000000"),
                scan_xml("SCAN", "tok_unknown_site_0000000", t + 120),  # no such site
                scan_xml("subscribe", "", t + 150, user="oPlain000000000000000000000")):  # a plain follow
        assert wechat_post(client, xml).status_code == 200
    today = datetime.now(timezone.utc).astimezone(ZoneInfo("Asia/Shanghai")).date()
    session.expire_all()
    assert [(s.site_id, s.day, s.count) for s in session.scalars(select(SiteScan))] == [(site.id, today, 4)]
    assert [c.name for c in SiteScan.__table__.columns] == ["id", "site_id", "day", "count"]  # nothing about who
