"""Routing: the department table, co-handlers, collective cases, priority, supervision, transfer and return."""
from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from handlers.runtime import services
from intake.case.complaints import NewComplaint, create_complaint
from intake.case.routing import RoutingError, route_complaint, transfer
from intake.foundation.models import ClaimLine, CollectiveCase, Complaint, Department, Event, Site
from intake.foundation.settings import RoutingSettings
from intake.foundation.transitions import TransitionError, transition
from intake.registry.directory import department

_codes = itertools.count(1)
LANSHAN, LINSHU, GAOXIN = "371302", "371329", "371371"


def make_site(session, county=LANSHAN, industry="房屋建筑", investment="private") -> Site:
    n = next(_codes)
    site = Site(code=f"S{n}", name=f"阳光城{n}期", jurisdiction_code=county, industry=industry,
                investment=investment, public_token=f"tok{n}")
    session.add(site)
    session.flush()
    return site


def make_complaint(session, settings, site=None, county=None, workers=None, amount=None, claim=None,
                   name="张三") -> Complaint:
    new = NewComplaint(channel="web", phone="13800138000", name=name, site_id=site.id if site else None,
                       jurisdiction_code=county, workers=workers, amount=amount, claim=claim or {})
    complaint, _ = create_complaint(session, new)
    return complaint


def now() -> datetime:
    return datetime.now(timezone.utc)


def dept(session, code, kind) -> Department:
    return department(session, code, kind)


def events(session, complaint, kind=None) -> list[Event]:
    query = select(Event).where(Event.complaint_id == complaint.id).order_by(Event.id)
    if kind:
        query = query.where(Event.kind == kind)
    return list(session.scalars(query))


@pytest.mark.parametrize("county,county_name", [(LANSHAN, "兰山区"), (LINSHU, "临沭县"), (GAOXIN, "临沂高新技术产业开发区")])
@pytest.mark.parametrize("industry,kind", [("房屋建筑", "housing"), ("市政", "housing"), ("交通", "transport"),
                                           ("水利", "water"), ("其他", "hrss")])
def test_site_routes_to_its_county_and_industry_department(session, settings, county, county_name, industry, kind):
    complaint = make_complaint(session, settings, site=make_site(session, county, industry))
    decision = route_complaint(session, complaint, settings, now())
    expected = dept(session, county, kind)
    assert (decision.department_id, complaint.department_id, complaint.status) == (expected.id, expected.id, "routed")
    assert decision.rule == "site_industry"
    assert decision.reason == f"工地位于{county_name}，行业为{industry} → {expected.name}"
    routed = events(session, complaint, "routed")[0]
    assert (routed.actor, routed.note, routed.data["reason"]) == ("system:router", decision.reason, decision.reason)


def test_county_without_site_goes_to_labour_inspection(session, settings):
    complaint = make_complaint(session, settings, county=LINSHU)
    decision = route_complaint(session, complaint, settings, now())
    assert complaint.department_id == dept(session, LINSHU, "hrss").id
    assert decision.rule == "county"
    assert decision.reason == "工地不明，所在区县为临沭县 → 临沭县人力资源和社会保障局（劳动保障监察）"


def test_nothing_known_goes_to_the_city_dispatch_desk(session, settings):
    complaint = make_complaint(session, settings)
    decision = route_complaint(session, complaint, settings, now())
    desk = dept(session, "371300", "dispatch_desk")
    assert (complaint.department_id, decision.rule) == (desk.id, "dispatch_desk")
    assert events(session, complaint, "routed")[0].note == f"工地和区县均不明 → {desk.name}人工分派"


@pytest.mark.parametrize("investment,kinds", [("government", ["ndrc", "finance"]), ("soe", ["sasac"]),
                                              ("private", [])])
def test_gov_and_soe_notify_co_handlers_and_raise_priority(session, settings, investment, kinds):
    complaint = make_complaint(session, settings, site=make_site(session, LANSHAN, investment=investment))
    decision = route_complaint(session, complaint, settings, now())
    wanted = [dept(session, LANSHAN, k).id for k in kinds]
    assert [c.department_id for c in decision.co_handlers] == wanted
    assert [e.data["department_id"] for e in events(session, complaint, "co_handler_notified")] == wanted
    assert decision.priority == ("normal" if investment == "private" else "high")
    assert complaint.department_id == dept(session, LANSHAN, "housing").id


def test_gov_priority_raise_is_configurable(session, settings):
    settings = replace(settings, routing=RoutingSettings(high_investments=()))
    complaint = make_complaint(session, settings, site=make_site(session, investment="government"))
    assert route_complaint(session, complaint, settings, now()).priority == "normal"


def test_three_complaints_on_one_site_become_one_collective_case(session, settings):
    site = make_site(session, LANSHAN, "交通")
    first = make_complaint(session, settings, site=site, workers=3, amount=15000, name="甲")
    route_complaint(session, first, settings, now())
    assert first.collective_id is None  # alone so far

    second = make_complaint(session, settings, site=site, workers=3, amount=20000, name="乙")
    d2 = route_complaint(session, second, settings, now())
    assert d2.collective_id is not None and first.collective_id == d2.collective_id
    assert (first.priority, second.priority) == ("normal", "normal")  # 6 workers, under the threshold

    third = make_complaint(session, settings, site=site, workers=4, amount=25000, name="丙")
    d3 = route_complaint(session, third, settings, now())
    case = session.get(CollectiveCase, d3.collective_id)
    assert session.scalar(select(func.count()).select_from(CollectiveCase)) == 1
    assert (case.site_id, case.lead_department_id) == (site.id, dept(session, LANSHAN, "transport").id)
    assert [c.priority for c in (first, second, third)] == ["high"] * 3
    assert set(d3.raised) == {first.id, second.id}
    for c in (first, second, third):
        flagged = events(session, c, "collective_flagged")
        assert len(flagged) == 1 and "10人" in flagged[0].note
    lines = session.execute(select(ClaimLine.worker_name, ClaimLine.amount_claimed).order_by(ClaimLine.id)).all()
    assert [tuple(x) for x in lines] == [("甲", 15000), ("乙", 20000), ("丙", 25000)]
    roles = {r for c in d3.co_handlers for r in c.roles}
    assert roles == {"supervisor", "leading_group_office"}
    assert dept(session, "371300", "leading_group_office").id in {c.department_id for c in d3.co_handlers}


def test_collective_threshold_is_configurable(session, settings):
    settings = replace(settings, routing=RoutingSettings(collective_workers=4))
    site = make_site(session)
    route_complaint(session, make_complaint(session, settings, site=site, workers=2), settings, now())
    decision = route_complaint(session, make_complaint(session, settings, site=site, workers=2), settings, now())
    assert decision.priority == "high"


def test_collective_window_is_respected(session, settings):
    site = make_site(session)
    old = make_complaint(session, settings, site=site, workers=5)
    route_complaint(session, old, settings, now())
    old.created_at = now() - timedelta(days=31)
    session.flush()
    recent = make_complaint(session, settings, site=site, workers=5)
    decision = route_complaint(session, recent, settings, now())
    assert decision.collective_id is None and old.collective_id is None
    assert decision.priority == "normal"


def test_employer_links_complaints_without_a_site_within_one_county(session, settings):
    claim = {"employer": "临沂宏达劳务公司"}
    a = make_complaint(session, settings, county=LANSHAN, workers=6, claim=claim)
    other_county = make_complaint(session, settings, county=LINSHU, workers=6, claim=claim)
    other_employer = make_complaint(session, settings, county=LANSHAN, workers=6, claim={"employer": "别的公司"})
    for c in (a, other_county, other_employer):
        route_complaint(session, c, settings, now())
    b = make_complaint(session, settings, county=LANSHAN, workers=5, claim={"employer": "临沂宏达 劳务公司"})
    decision = route_complaint(session, b, settings, now())
    case = session.get(CollectiveCase, decision.collective_id)
    assert (case.site_id, case.employer) == (None, "临沂宏达劳务公司")
    assert a.collective_id == case.id
    assert other_county.collective_id is None and other_employer.collective_id is None
    assert (a.priority, b.priority) == ("high", "high")
    assert "同一用工单位（临沂宏达劳务公司）" in events(session, b, "collective_linked")[0].note


@pytest.mark.parametrize("flag,priority,supervised", [("self_harm", "urgent", True), ("mass_incident", "urgent", True),
                                                      ("petition_media", "high", False)])
def test_risk_flags_set_priority_and_alert_supervisors(session, settings, flag, priority, supervised):
    complaint = make_complaint(session, settings, site=make_site(session), claim={"risk_flags": [flag]})
    decision = route_complaint(session, complaint, settings, now())
    assert (decision.priority, complaint.priority, complaint.supervised) == (priority, priority, supervised)
    assert {r for c in decision.co_handlers for r in c.roles} == {"supervisor", "leading_group_office"}
    assert events(session, complaint, "priority_set")[0].data["priority"] == priority


@pytest.mark.parametrize("workers,amount,supervised", [(100, None, True), (99, None, False),
                                                       (3, 1_000_000, True), (3, 999_999, False)])
def test_major_cases_are_supervised(session, settings, workers, amount, supervised):
    complaint = make_complaint(session, settings, county=LANSHAN, workers=workers, amount=amount)
    decision = route_complaint(session, complaint, settings, now())
    assert decision.supervised is complaint.supervised is supervised
    marks = events(session, complaint, "supervised")
    assert len(marks) == int(supervised)
    if supervised:
        assert marks[0].note.startswith("挂牌督办：")


def test_collective_reaching_major_supervises_every_linked_complaint(session, settings):
    site = make_site(session)
    first = make_complaint(session, settings, site=site, workers=60)
    route_complaint(session, first, settings, now())
    second = make_complaint(session, settings, site=site, workers=40)
    route_complaint(session, second, settings, now())
    assert first.supervised and second.supervised


def test_timeline_tells_why(session, settings):
    complaint = make_complaint(session, settings, site=make_site(session, investment="government"),
                               claim={"risk_flags": ["self_harm"]})
    route_complaint(session, complaint, settings, now())
    timeline = events(session, complaint)
    assert [e.kind for e in timeline[:4]] == ["received", "routed", "priority_set", "supervised"]
    assert timeline[1].note == "工地位于兰山区，行业为房屋建筑 → 兰山区住房和城乡建设局"
    assert "扬言自伤" in timeline[2].note and "紧急" in timeline[2].note
    notified = [e.note for e in timeline if e.kind == "co_handler_notified"]
    assert "通知协办：兰山区发展和改革局（政府投资项目）" in notified
    assert all(e.actor == "system:router" for e in timeline[1:])


def test_transfer_moves_the_case_with_a_reason(session, settings):
    complaint = make_complaint(session, settings, site=make_site(session))
    route_complaint(session, complaint, settings, now())
    transition(session, complaint, "acknowledged", actor="staff:li")
    target = dept(session, LANSHAN, "hrss")
    event = transfer(session, complaint, target, "staff:supervisor", "系劳务分包纠纷，转人社局监察")
    assert (complaint.status, complaint.department_id) == ("routed", target.id)
    assert event.kind == "transferred"
    assert event.note == "转办：兰山区住房和城乡建设局 → 兰山区人力资源和社会保障局。原因：系劳务分包纠纷，转人社局监察"
    with pytest.raises(RoutingError):
        transfer(session, complaint, dept(session, LANSHAN, "water"), "staff:supervisor", "  ")
    with pytest.raises(RoutingError):
        transfer(session, complaint, target, "staff:supervisor", "again")


def test_transfer_of_an_unrouted_case_is_refused(session, settings):
    complaint = make_complaint(session, settings, county=LANSHAN)
    with pytest.raises(TransitionError):
        transfer(session, complaint, dept(session, LANSHAN, "hrss"), "staff:supervisor", "原因")
    assert (complaint.status, complaint.department_id) == ("received", None)


def test_returned_case_goes_to_the_dispatch_desk_then_a_supervisor_chooses(session, settings):
    complaint = make_complaint(session, settings, site=make_site(session, industry="水利"))
    route_complaint(session, complaint, settings, now())
    transition(session, complaint, "returned", actor="staff:water", note="该工地不属于水利工程")
    decision = route_complaint(session, complaint, settings, now())
    desk = dept(session, "371300", "dispatch_desk")
    assert (decision.rule, complaint.department_id, complaint.status) == ("returned", desk.id, "routed")
    assert decision.reason == f"部门退回（该工地不属于水利工程）→ {desk.name}人工分派"
    transfer(session, complaint, dept(session, LANSHAN, "housing"), "staff:desk", "实为房建项目")
    assert complaint.department_id == dept(session, LANSHAN, "housing").id


def test_supervisor_may_transfer_a_returned_case_directly(session, settings):
    complaint = make_complaint(session, settings, county=LANSHAN)
    route_complaint(session, complaint, settings, now())
    transition(session, complaint, "returned", actor="staff:hrss", note="不属本区")
    transfer(session, complaint, dept(session, LINSHU, "hrss"), "staff:supervisor", "工地在临沭县")
    assert (complaint.status, complaint.department_id) == ("routed", dept(session, LINSHU, "hrss").id)


def test_routing_a_routed_complaint_raises_and_changes_nothing(session, settings):
    complaint = make_complaint(session, settings, site=make_site(session))
    route_complaint(session, complaint, settings, now())
    before = (complaint.status, complaint.version, complaint.department_id, complaint.priority,
              len(events(session, complaint)))
    with pytest.raises(TransitionError):
        route_complaint(session, complaint, settings, now())
    assert (complaint.status, complaint.version, complaint.department_id, complaint.priority,
            len(events(session, complaint))) == before


def test_concurrent_routing_on_one_site_opens_one_collective(app, session, settings):
    site = make_site(session)
    first = make_complaint(session, settings, site=site, workers=2)
    route_complaint(session, first, settings, now())
    ids = [make_complaint(session, settings, site=site, workers=2).id for _ in range(2)]
    session.commit()
    barrier, errors = threading.Barrier(2), []

    def work(complaint_id):
        try:
            barrier.wait(timeout=10)
            with services(app).sessions() as s:
                route_complaint(s, s.get(Complaint, complaint_id), settings, now())
                s.commit()
        except Exception as exc:  # reported below, not swallowed
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(CollectiveCase)) == 1
    linked = session.scalars(select(Complaint.collective_id).where(Complaint.site_id == site.id)).all()
    assert len(set(linked)) == 1 and None not in linked
