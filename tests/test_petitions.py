"""Petitions (上访): recorded on a case by supervisors, on a case opened for the petitioners, or against a site
(its open cases flagged, the department that owns it told), shown on the case page, in the queue, on the sites
page and in the petitions list, counted in the figures against the unit that answers for it; bad input changes
nothing."""
from __future__ import annotations

import re
from datetime import date

from sqlalchemy import select

from intake.foundation.models import Complaint, EventKind, Outbox, Petition, Site, StaffUser, utcnow
from intake.people.access import Scope
from intake.registry.directory import department
from intake.supervision.figures import Filters, figures
from tests.helpers import act, csrf_token, flashed, login, make_accounts, reload, routed

PETITION = {"petitioned_at": "2026-12-03T09:30", "place": "市信访局", "people": "12", "who": "张三等",
            "note": "反映工程款未结清"}


def signed_in(app, username: str):
    client = app.test_client()
    login(client, username)
    return client


def test_a_petition_on_a_case_is_on_its_page_in_the_queue_and_in_the_figures(app, session, settings, lanshan_site):
    users = make_accounts(session)
    case = routed(app, session, settings, lanshan_site)
    county = signed_in(app, users["county"])
    done = act(county, case.ticket_no, "petition", **PETITION)
    assert done.status_code == 303
    page = flashed(county, done)
    assert "已记录上访" in page and "上访 1 次" in page
    assert "2026-12-03 09:30在市信访局上访，12人（张三等）：反映工程款未结清" in page
    queue = county.get("/console/").get_data(as_text=True)
    assert re.search(rf"{case.ticket_no}.*?上访 1</span>", queue, re.S)
    petition = session.scalar(select(Petition))
    assert (petition.department_id, petition.jurisdiction_code, petition.people) == (case.department_id, "371302", 12)

    holder = signed_in(app, users["staff"])  # the department that answers for it does not record it
    assert act(holder, case.ticket_no, "petition", **PETITION).status_code == 403
    admin = Scope.of(session.scalar(select(StaffUser).where(StaffUser.username == users["admin"])))
    december = figures(session, admin, Filters(start=date(2026, 12, 1), end=date(2026, 12, 31)), utcnow(),
                       "Asia/Shanghai")
    assert [(u.name, u.tally.petitions) for u in december.counties if u.tally.petitions] == [("兰山区", 1)]
    assert [u.department_id for u in december.departments if u.tally.petitions] == [case.department_id]
    november = figures(session, admin, Filters(start=date(2026, 11, 1), end=date(2026, 11, 30)), utcnow(),
                       "Asia/Shanghai")
    assert november.total.petitions == 0
    assert "<th>上访</th>" in signed_in(app, users["admin"]).get("/console/dashboard").get_data(as_text=True)


def test_a_bad_petition_is_refused_and_nothing_is_stored(app, session, settings, lanshan_site):
    users = make_accounts(session)
    case = routed(app, session, settings, lanshan_site)
    county = signed_in(app, users["county"])
    for change, message in ((dict(people="十二"), "上访人数请填数字"), (dict(place=""), "请填写上访地点"),
                            (dict(petitioned_at="2099-01-01T09:00"), "不能晚于现在"),
                            (dict(petitioned_at="昨天"), "上访时间"), (dict(people="0"), "上访人数应在1到")):
        assert message in flashed(county, act(county, case.ticket_no, "petition", **(PETITION | change)))
    assert session.scalars(select(Petition)).all() == []


def test_petitioners_without_a_case_get_one_opened_and_others_are_refused(app, session, settings, lanshan_site):
    users = make_accounts(session)
    admin = signed_in(app, users["admin"])
    form = admin.get("/console/petitions/new").get_data(as_text=True)
    fields = {"csrf_token": csrf_token(form), "county": "371302", "project_name": "北城新区安置房",
              "phone": "13912345678", **PETITION}
    unknown = admin.post("/console/petitions/new", data=fields | {"ticket_no": "000000000000"})
    assert unknown.status_code == 422 and "没有这个受理编号" in unknown.get_data(as_text=True)
    opened = admin.post("/console/petitions/new", data=fields)
    assert opened.status_code == 303
    complaint = session.scalar(select(Complaint))
    assert opened.headers["Location"].endswith(f"/console/cases/{complaint.ticket_no}")
    assert (complaint.channel, complaint.workers, complaint.jurisdiction_code) == ("walk_in", 12, "371302")
    assert session.scalar(select(Petition.complaint_id)) == complaint.id

    case = routed(app, session, settings, lanshan_site)
    linked = admin.post("/console/petitions/new", data=fields | {"ticket_no": case.ticket_no})
    assert linked.headers["Location"].endswith(f"/console/cases/{case.ticket_no}")
    assert len(session.scalars(select(Petition)).all()) == 2

    far = signed_in(app, users["far_county"])  # 罗庄区's supervisor: not a 兰山区 case
    far_form = far.get("/console/petitions/new").get_data(as_text=True)
    assert "兰山区" not in far_form.split('name="county"')[1].split("</select>")[0]
    refused = far.post("/console/petitions/new", data=fields | {"csrf_token": csrf_token(far_form)})
    assert refused.status_code == 422 and "范围内的区县" in refused.get_data(as_text=True)
    assert signed_in(app, users["staff"]).get("/console/petitions/new").status_code == 403
    assert len(session.scalars(select(Petition)).all()) == 2 and len(session.scalars(select(Complaint)).all()) == 2


def test_a_group_visit_against_a_site_flags_its_open_cases_and_the_department_that_owns_it(
        app, session, settings, lanshan_site):
    users = make_accounts(session)
    open_case = routed(app, session, settings, lanshan_site)
    water = Site(code="LZ-1", name="罗庄水厂", jurisdiction_code="371311", industry="水利", investment="government",
                 public_token="tok_" + "p" * 20)
    session.add(water)
    session.commit()
    elsewhere = routed(app, session, settings, water, phone="13900000009")
    admin = signed_in(app, users["admin"])
    fields = {"csrf_token": csrf_token(admin.get("/console/petitions/new").get_data(as_text=True)), **PETITION}
    for bad, message in (({"site": "NO-SUCH"}, "没有这个工地编号"),
                         ({"site": "S-1", "ticket_no": elsewhere.ticket_no}, "这个案件不在所填的工地"),
                         ({"site": "S-1", "people": "0"}, "上访人数应在1到")):
        refused = admin.post("/console/petitions/new", data=fields | bad)
        assert refused.status_code == 422 and message in refused.get_data(as_text=True)
    assert session.scalars(select(Petition)).all() == []

    done = admin.post("/console/petitions/new", data=fields | {"site": "S-1"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/console/petitions?site=S-1")
    housing = department(session, "371302", "housing")  # 房屋建筑: the county's 住建 owns the site
    listed = flashed(admin, done)
    assert "已记录对工地 S-1 的上访" in listed and "阳光城三期（S-1）的上访" in listed
    assert "针对工地" in listed and housing.name in listed and "张三等" in listed
    petition = session.scalar(select(Petition))
    assert (petition.complaint_id, petition.site_id, petition.department_id, petition.jurisdiction_code,
            petition.people) == (None, lanshan_site.id, housing.id, "371302", 12)

    county = signed_in(app, users["county"])
    page = county.get(f"/console/cases/{open_case.ticket_no}").get_data(as_text=True)
    assert "上访 1 次" in page and "工地“阳光城三期”有工人上访：2026-12-03 09:30在市信访局上访，12人（张三等）" in page
    assert re.search(rf"{open_case.ticket_no}.*?上访 1</span>", county.get("/console/").get_data(as_text=True), re.S)
    assert EventKind.PETITIONED not in {e.kind for e in reload(session, elsewhere).events}
    told = session.scalars(select(Outbox).where(Outbox.payload["kind"].as_string() == "site_petition")).all()
    assert f"department:{housing.id}" in {row.destination for row in told}
    assert 'href="/console/petitions?site=S-1">上访 1 次' in county.get("/console/sites").get_data(as_text=True)
    admin_scope = Scope.of(session.scalar(select(StaffUser).where(StaffUser.username == users["admin"])))
    december = figures(session, admin_scope, Filters(start=date(2026, 12, 1), end=date(2026, 12, 31)), utcnow(),
                       "Asia/Shanghai")
    assert [(u.name, u.tally.petitions) for u in december.counties if u.tally.petitions] == [("兰山区", 1)]
    assert [u.department_id for u in december.departments if u.tally.petitions] == [housing.id]

    far = signed_in(app, users["far_county"])
    assert far.get("/console/petitions?site=S-1").status_code == 404
    assert "张三等" not in far.get("/console/petitions").get_data(as_text=True)
