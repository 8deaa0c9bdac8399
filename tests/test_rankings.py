"""The red and yellow lists (红黄榜): a month's ranking from hand-computed figures, who is on which list, the
通报批评 sent when the office publishes, the page and the PDF read back, and what others may not do."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from intake.foundation.models import DailyTally, Outbox, Petition, RankingList, StaffUser, utcnow
from intake.foundation.settings import RankingSettings, SettingsError, UnitSettings
from intake.people.access import Scope
from intake.registry.directory import department
from intake.units import rankings as rk
from intake.units import tasks as ts
from intake.units.tasks import TaskError
from tests.helpers import CAL, csrf_token, flashed, login, make_accounts, pdf_text

NOVEMBER = (date(2026, 11, 1), date(2026, 11, 30))
TIMEZONE = "Asia/Shanghai"


def november(session, kind: str, **counts):
    unit = department(session, "371302", kind).id
    session.add(DailyTally(kind="received", day=date(2026, 11, 12), department_id=unit,
                           county="371302", industry="房屋建筑", investment="private", **counts))


@pytest.fixture
def figures(session):
    """兰山区's departments in November, by hand:
    住建 10 received, all acknowledged in time, 8 replies all in time, 9 closed, 4 workers graded 满意, none overdue:
        20×1 + 30×1 + 30×0.9 + 10×1 + 10×(1-0) = 97.0 of 100: the red list.
    发改 4 received, all acknowledged in time, replies 2 in time and 2 late, 2 closed, no worker answered yet:
        satisfaction is left out, so (20×1 + 30×0.5 + 30×0.5 + 10×1) / 90 = 66.7: neither list.
    人社 10 received, 5 acknowledged in time and 5 late, replies 2 in time and 6 late, 3 closed, 4 workers graded
        1 满意, 1 基本满意, 2 不满意, so 满意度 (100 + 80 + 0 + 0) / 400 = 0.45:
        20×0.5 + 30×0.25 + 30×0.3 + 10×0.45 + 10×1 = 41.0: the yellow list.
    财政 2 received: too few to rank.
    One petition (上访) in November against a site 人社 owns, none in December."""
    november(session, "housing", received=10, ack_met=10, reply_met=8, closed=9, satisfied=4, answered=4,
             fully_satisfied=4)
    november(session, "ndrc", received=4, ack_met=4, reply_met=2, reply_missed=2, closed=2)
    november(session, "hrss", received=10, ack_met=5, ack_missed=5, reply_met=2, reply_missed=6, closed=3,
             satisfied=2, answered=4, fully_satisfied=1)
    november(session, "finance", received=2, ack_met=2, closed=2)
    for day in (date(2026, 11, 20), date(2026, 12, 1)):
        session.add(Petition(petitioned_at=datetime.combine(day, time(10), CAL.timezone), place="市信访局", people=8,
                             who="李四等", department_id=department(session, "371302", "hrss").id,
                             jurisdiction_code="371302", recorded_by="city_admin"))
    session.commit()


def scope_of(session, username: str) -> Scope:
    return Scope.of(session.scalar(select(StaffUser).where(StaffUser.username == username)))


def test_the_departments_are_ranked_from_their_figures(session, figures):
    users = make_accounts(session)
    entries = rk.compute(session, scope_of(session, users["admin"]), "department", *NOVEMBER, utcnow(), TIMEZONE,
                         RankingSettings())
    names = {kind: department(session, "371302", kind).name for kind in ("housing", "ndrc", "hrss", "finance")}
    assert [(e.unit, e.score, e.standing) for e in entries] == [
        (names["housing"], 97.0, "red"), (names["ndrc"], 66.7, ""), (names["hrss"], 41.0, "yellow"),
        (names["finance"], None, "")]
    assert rk.criticism(entries[2], NOVEMBER[0]) == (
        f"【通报批评】{names['hrss']}列入2026年11月欠薪投诉办理黄榜：收到投诉10件，响应率50.0%，按时办结率25.0%，"
        "销号率30.0%，满意度45.0%，超期率0.0%，任务按时率—，超期未办0件，上访1次，综合得分41.0。请于5个工作日内报送整改情况。")
    # What each grade is worth is configuration: 基本满意 at 60 makes 人社's 满意度 (100 + 60) / 400 = 0.4, 40.5 in all.
    stricter = rk.compute(session, scope_of(session, users["admin"]), "department", *NOVEMBER, utcnow(), TIMEZONE,
                          RankingSettings(grade_basic=60))
    assert [(e.rates["satisfaction_rate"], e.score) for e in stricter if e.unit == names["hrss"]] == [(0.4, 40.5)]
    # The rules are configuration: weigh only closing, and with a stricter bar nobody is on the red list.
    only_closing = RankingSettings(weight_ack_rate=0, weight_reply_rate=0, weight_satisfaction_rate=0,
                                   weight_overdue_rate=0, weight_task_rate=0, red_min_score=95, yellow_below_score=50)
    ranked = rk.compute(session, scope_of(session, users["admin"]), "department", *NOVEMBER, utcnow(), TIMEZONE,
                        only_closing)
    assert [(e.score, e.standing) for e in ranked] == [(90.0, ""), (50.0, ""), (30.0, "yellow"), (None, "")]


def test_tasks_answered_on_time_count_in_the_score(session, figures):
    """住建 answered its November task on time, 人社 never did: with the task weight (10) their scores become
    (97 + 10) / 110 = 97.3 and (41 + 0) / 110 = 37.3; a task due in December does not count in November."""
    users = make_accounts(session)
    admin = scope_of(session, users["admin"])
    housing, hrss = department(session, "371302", "housing").id, department(session, "371302", "hrss").id
    issued, zone = datetime(2026, 11, 10, tzinfo=CAL.timezone), CAL.timezone
    for due in (datetime(2026, 11, 20, 17, 30, tzinfo=zone), datetime(2026, 12, 2, 17, 30, tzinfo=zone)):
        task = ts.issue(session, admin, kind="ledger", title="报送台账", body="", due_at=due,
                        department_ids=[housing, hrss], county_codes=[], now=issued, calendar=CAL,
                        settings=UnitSettings())
        ts.answer(session, scope_of(session, users["staff"]), task.id, "已报送", [], due - timedelta(days=1))
    session.commit()
    entries = {e.department_id: e for e in rk.compute(session, admin, "department", *NOVEMBER, utcnow(), TIMEZONE,
                                                      RankingSettings())}
    assert (entries[housing].rates["task_rate"], entries[housing].score) == (1.0, 97.3)
    assert (entries[hrss].rates["task_rate"], entries[hrss].score) == (0.0, 37.3)


def test_a_county_supervisor_ranks_only_the_countys_departments_and_not_counties(session, figures):
    users = make_accounts(session)
    county = scope_of(session, users["far_county"])
    assert rk.compute(session, county, "department", *NOVEMBER, utcnow(), TIMEZONE, RankingSettings()) == []
    with pytest.raises(TaskError, match="市治欠办"):
        rk.compute(session, county, "county", *NOVEMBER, utcnow(), TIMEZONE, RankingSettings())


@pytest.mark.parametrize("month, message", [("2026-13", "月份格式"), ("下个月", "月份格式"), ("2099-01", "尚未开始")])
def test_a_month_that_is_not_one_is_refused(month, message):
    with pytest.raises(TaskError, match=message):
        rk.period(month, date(2026, 12, 5))


def test_the_last_complete_month_is_the_default_and_a_month_ends_on_its_last_day():
    assert rk.period("", date(2026, 12, 5)) == NOVEMBER
    assert rk.period("2028-02", date(2029, 1, 1)) == (date(2028, 2, 1), date(2028, 2, 29))


def test_weights_that_rank_nothing_are_refused_at_start():
    with pytest.raises(SettingsError, match="rankings"):
        RankingSettings(weight_ack_rate=0, weight_reply_rate=0, weight_closure_rate=0, weight_satisfaction_rate=0,
                        weight_overdue_rate=0, weight_task_rate=0)
    with pytest.raises(SettingsError, match="yellow_below_score"):
        RankingSettings(red_min_score=50, yellow_below_score=60)
    with pytest.raises(SettingsError, match="grade_basic"):
        RankingSettings(grade_basic=120)


def test_the_office_publishes_the_list_the_yellow_unit_is_criticised_and_all_read_it(app, client, session, figures,
                                                                                    tmp_path):
    users = make_accounts(session)
    hrss = department(session, "371302", "hrss")
    login(client, users["admin"])
    page = client.get("/console/rankings?level=department&month=2026-11").get_data(as_text=True)
    assert "2026年11月欠薪投诉办理红黄榜（部门）" in page and "预览" in page and "41.0" in page
    bad = client.get("/console/rankings?level=department&month=2026-13")
    assert bad.status_code == 200 and "月份格式" in bad.get_data(as_text=True)
    published = client.post("/console/rankings/publish", data={"csrf_token": csrf_token(page), "level": "department",
                                                                "month": "2026-11"})
    assert published.status_code == 303
    list_url = published.headers["Location"]
    again = flashed(client, client.post("/console/rankings/publish", data={
        "csrf_token": csrf_token(page), "level": "department", "month": "2026-11"}))
    assert "已经发布" in again and len(session.scalars(select(RankingList)).all()) == 1

    session.expire_all()
    told = session.scalars(select(Outbox).where(Outbox.payload["kind"].as_string() == "criticism")).all()
    assert [row.destination for row in told if row.destination.startswith("department:")] == [f"department:{hrss.id}"]

    staff = client.application.test_client()
    login(staff, users["other_staff"])  # 兰山区人社, on the yellow list
    assert "发布红黄榜" not in staff.get("/console/rankings").get_data(as_text=True)
    assert f'href="{list_url}">【通报批评】{hrss.name}' in staff.get("/console/").get_data(as_text=True)
    shown = staff.get(list_url).get_data(as_text=True)
    assert "黄榜" in shown and f"【通报批评】{hrss.name}列入2026年11月" in shown
    assert staff.post("/console/rankings/publish", data={"csrf_token": csrf_token(shown), "level": "department",
                                                         "month": "2026-10"}).status_code == 403

    pdf = staff.get(f"{list_url}.pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    text = pdf_text(pdf.data)
    flat = text.replace(" ", "").replace("\n", "")
    for expected in ("2026年11月欠薪投诉办理红黄榜（部门）", "一、红榜", "二、黄榜", "三、通报批评", "四、全部排名",
                     department(session, "371302", "housing").name, "97.0", "41.0", "不排名"):
        assert expected in flat, expected
    assert f"【通报批评】{hrss.name}列入2026年11月欠薪投诉办理黄榜" in flat
