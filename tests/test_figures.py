"""The supervisors' figures against cases worked by hand: late acknowledgement counts as late, a pause does
not count, closure and satisfaction follow the worker's answer; entry numbers are sequential and never reused."""
from __future__ import annotations

import threading
from datetime import date, timedelta

from sqlalchemy import select

from handlers.runtime import services
from intake.case import cases
from intake.case.timers import PENDING
from intake.foundation.models import CaseFacts, Complaint, Satisfaction, Site, Timer, utcnow
from intake.foundation.settings import TargetSettings
from intake.people.access import Scope
from intake.people.staff import Role
from intake.supervision.case_facts import rebuild
from intake.supervision.figures import Filters, clear_targets, daily, figures, repeated_sites, report_period
from tests.helpers import CAL, ctx, routed, worker_pass

TZ = "Asia/Shanghai"
CITY = Scope(user_id=0, username="t", role=Role.ADMIN, department_id=None, jurisdiction_code=None)


def overdue_at(session, complaint, clock="acknowledge"):
    """When the clock's red card is due (its "overdue" timer)."""
    session.expire_all()
    return session.scalar(select(Timer.due_at).where(Timer.complaint_id == complaint.id, Timer.state == PENDING,
                                                     Timer.clock == f"{clock}:overdue"))


def later(moment):
    return moment - utcnow() + timedelta(seconds=1)


def three_cases(app, session, settings, site):
    """On time; acknowledged after its red card; paused past the original deadline, then acknowledged."""
    on_time = routed(app, session, settings, site)
    late = routed(app, session, settings, site, phone="13900000002")
    paused = routed(app, session, settings, site, phone="13900000003")
    cases.acknowledge(session, on_time, ctx(app), actor="staff:a")
    cases.wait_for_worker(session, paused, ctx(app), actor="staff:a", needed="欠条照片")
    session.commit()
    red = overdue_at(session, late)
    worker_pass(app, red + timedelta(seconds=1))  # the late case's red card; the paused one's timers stand still
    session.expire_all()
    late, paused = session.get(Complaint, late.id), session.get(Complaint, paused.id)
    cases.acknowledge(session, late, ctx(app, later(red)), actor="staff:a")
    cases.material_received(session, paused, ctx(app, later(red)), actor="staff:a")
    cases.acknowledge(session, paused, ctx(app, later(red)), actor="staff:a")
    session.commit()
    return on_time, late, paused


def pay_lines(app, session, complaint, total):
    """The money recovered recorded on the case's worker lines (the collective link gave it one): 办结 needs it."""
    for n, line in enumerate(complaint.claim_lines):
        cases.record_payment(session, complaint, ctx(app), actor="staff:a", line_id=line.id,
                             amount_paid=total if n == 0 else 0)


def resolve_and_answer(app, session, paid, unpaid):
    """Both accepted and resolved with 9000 recovered; one worker says the money arrived, the other not."""
    for complaint, answer in ((paid, True), (unpaid, False)):
        cases.accept(session, complaint, ctx(app), actor="staff:a")
        pay_lines(app, session, complaint, 9000)
        cases.resolve(session, complaint, ctx(app), actor="staff:a", outcome="已责令支付", amount_recovered=9000,
                      workers_paid=3)
        cases.confirm_payment(session, complaint, ctx(app), paid=answer, actor="worker")


def test_a_late_acknowledgement_counts_as_late_and_a_pause_does_not_count(app, session, settings, lanshan_site):
    on_time, late, paused = three_cases(app, session, settings, lanshan_site)
    facts = {f.complaint_id: f for f in session.scalars(select(CaseFacts))}
    assert facts[on_time.id].acknowledged_on_time is True
    assert facts[late.id].acknowledged_on_time is False
    assert facts[paused.id].acknowledged_on_time is True
    total = figures(session, CITY, Filters(), utcnow(), TZ).total
    assert (total.received, total.ack_met, total.ack_missed) == (3, 2, 1)
    assert round(total.ack_rate, 4) == round(2 / 3, 4)
    assert total.open == 3 and total.claimed == 3 * 12000


def test_closure_satisfaction_and_money_follow_the_workers_answer(app, session, settings, lanshan_site):
    paid, unpaid, _open = three_cases(app, session, settings, lanshan_site)
    resolve_and_answer(app, session, paid, unpaid)
    session.commit()
    total = figures(session, CITY, Filters(), utcnow(), TZ).total
    # The money confirmed closes a case; 满意率 waits for the worker's grade of it.
    assert (total.closed, total.satisfied, total.answered, total.satisfaction_rate) == (1, 0, 0, None)
    cases.rate(session, paid, ctx(app), satisfaction=Satisfaction.BASIC, actor="worker:web")
    session.commit()
    found = figures(session, CITY, Filters(), utcnow(), TZ)
    total = found.total
    assert (total.closed, total.satisfied, total.answered, total.fully_satisfied) == (1, 1, 1, 0)
    assert total.closure_rate == 1 / 3 and total.satisfaction_rate == 1.0  # 基本满意 counts in 满意率
    assert (total.accept_met, total.accept_missed, total.reply_met) == (2, 0, 2)
    assert total.recovered == 18000 and total.open == 2
    (county,) = found.counties
    assert county.code == "371302" and county.name == "兰山区" and county.tally.received == 3
    assert [u.name for u in found.departments] == ["兰山区住房和城乡建设局"]
    (day,) = [d for d in daily(session, CITY, Filters(), TZ, utcnow().astimezone(CAL.timezone).date(), days=1)]
    assert day[1:] == (3, 1)


def test_filters_and_scope_narrow_every_figure(app, session, settings, lanshan_site):
    routed(app, session, settings, lanshan_site)
    other = Site(code="S-2", name="罗庄水厂", jurisdiction_code="371311", industry="水利", investment="government",
                 public_token="tok_" + "b" * 20)
    session.add(other)
    session.commit()
    routed(app, session, settings, other, phone="13900000009")
    now = utcnow()
    assert figures(session, CITY, Filters(), now, TZ).total.received == 2
    assert figures(session, CITY, Filters(county="371311"), now, TZ).total.received == 1
    assert figures(session, CITY, Filters(industry="水利"), now, TZ).total.received == 1
    assert figures(session, CITY, Filters(investment="private"), now, TZ).total.received == 1
    tomorrow = now.astimezone(CAL.timezone).date() + timedelta(days=1)
    assert figures(session, CITY, Filters(start=tomorrow), now, TZ).total.received == 0
    lanshan = Scope(user_id=0, username="c", role=Role.COUNTY, department_id=None, jurisdiction_code="371302")
    assert [u.code for u in figures(session, lanshan, Filters(), now, TZ).counties] == ["371302"]
    today = now.astimezone(CAL.timezone).date()
    gov, rest = clear_targets(session, CITY, Filters(), TargetSettings("2027-01-31", "2027-02-05"), today, TZ)
    assert (gov.open, gov.by_county) == (1, [("罗庄区", 1)]) and gov.days_left == (date(2027, 1, 31) - today).days
    assert (rest.open, rest.by_county) == (1, [("兰山区", 1)])


def test_replaying_the_timeline_gives_the_same_facts(app, session, settings, lanshan_site):
    three_cases(app, session, settings, lanshan_site)
    kept = {f.complaint_id: (f.employer, f.acknowledged_on_time, f.contact_on_time) for f in
            session.scalars(select(CaseFacts))}
    session.query(CaseFacts).delete()
    rebuild(session.connection())
    session.commit()
    session.expire_all()
    assert {f.complaint_id: (f.employer, f.acknowledged_on_time, f.contact_on_time) for f in
            session.scalars(select(CaseFacts))} == kept


def test_report_periods_are_the_last_complete_week_and_month():
    assert report_period("weekly", date(2026, 12, 2)) == (date(2026, 11, 23), date(2026, 11, 29))
    assert report_period("monthly", date(2026, 12, 2)) == (date(2026, 11, 1), date(2026, 11, 30))


def accepted(app, session, settings, site, phone):
    complaint = routed(app, session, settings, site, phone=phone)
    cases.acknowledge(session, complaint, ctx(app), actor="staff:a")
    cases.accept(session, complaint, ctx(app), actor="staff:a")
    session.commit()
    return complaint


def test_entry_numbers_are_sequential_per_county_and_year_and_never_reused(app, session, settings, lanshan_site):
    year = utcnow().astimezone(CAL.timezone).year
    first = accepted(app, session, settings, lanshan_site, "13900000011")
    second = accepted(app, session, settings, lanshan_site, "13900000012")
    assert (first.entry_no, second.entry_no) == (f"371302-{year}-000001", f"371302-{year}-000002")
    pay_lines(app, session, first, 1)
    cases.resolve(session, first, ctx(app), actor="staff:a", outcome="已支付", amount_recovered=1, workers_paid=1)
    cases.confirm_payment(session, first, ctx(app), paid=False, actor="worker")  # reopened: keeps its number
    session.commit()
    third = accepted(app, session, settings, lanshan_site, "13900000013")
    assert first.entry_no == f"371302-{year}-000001" and third.entry_no == f"371302-{year}-000003"
    other = Site(code="S-3", name="罗庄工地", jurisdiction_code="371311", industry="房屋建筑",
                 public_token="tok_" + "c" * 20)
    session.add(other)
    session.commit()
    assert accepted(app, session, settings, other, "13900000014").entry_no == f"371311-{year}-000001"


def test_two_accepts_at_once_get_consecutive_numbers(app, session, settings, lanshan_site):
    ids = []
    for phone in ("13900000021", "13900000022"):
        complaint = routed(app, session, settings, lanshan_site, phone=phone)
        cases.acknowledge(session, complaint, ctx(app), actor="staff:a")
        ids.append(complaint.id)
    session.commit()
    sessions, barrier, errors = services(app).sessions, threading.Barrier(2), []

    def accept(complaint_id):
        try:
            with sessions() as s:
                barrier.wait()  # before the first query: on SQLite a transaction holds the write lock from its start
                complaint = s.get(Complaint, complaint_id)
                cases.accept(s, complaint, ctx(app), actor="staff:a")
                s.commit()
        except Exception as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=accept, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    session.expire_all()
    numbers = sorted(session.get(Complaint, i).entry_no[-6:] for i in ids)
    assert numbers == ["000001", "000002"]


def test_the_daily_tallies_always_equal_a_recount_of_the_cases(app, session, settings, lanshan_site):
    from intake.foundation.models import DailyTally
    from intake.registry.directory import department
    from intake.supervision import tallies

    def counted():
        session.expire_all()
        return sorted((t.kind, t.day, t.department_id, t.county, t.industry, t.investment, t.received, t.ack_met,
                       t.ack_missed, t.closed, t.satisfied, t.answered, t.claimed, t.recovered, t.fully_satisfied)
                      for t in session.scalars(select(DailyTally)) if t.received or t.closed)

    paid, unpaid, moved = three_cases(app, session, settings, lanshan_site)
    resolve_and_answer(app, session, paid, unpaid)
    cases.rate(session, paid, ctx(app), satisfaction=Satisfaction.SATISFIED, actor="worker:sms")
    cases.transfer(session, moved, ctx(app), department=department(session, "371311", "hrss"), actor="staff:c",
                   reason="属地不对")
    cases.reopen(session, paid, ctx(app), actor="staff:c", reason="只发了一半")
    session.commit()
    live = counted()
    assert sum(row[6] for row in live if row[0] == "received") == 3
    assert {row[3] for row in live} == {"371302", "371311"}  # the transferred case moved county
    assert [row[10:12] + row[14:] for row in live if row[10]] == [(1, 1, 1)]  # the grade, kept when reopened
    tallies.rebuild(session.connection())
    session.commit()
    assert counted() == live
    found = figures(session, CITY, Filters(), utcnow(), TZ)
    assert (found.total.received, found.total.closed, found.total.open) == (3, 0, 3)
    assert [(s.code, n, o) for s, n, o in repeated_sites(session, CITY, Filters(), utcnow().astimezone(CAL.timezone).date())] == [("S-1", 3, 3)]
    lanshan = Scope(user_id=0, username="c", role=Role.COUNTY, department_id=None, jurisdiction_code="371302")
    assert [(s.code, n) for s, n, _ in repeated_sites(session, lanshan, Filters(), utcnow().astimezone(CAL.timezone).date())] == [("S-1", 2)]


def test_the_collective_list_and_the_timelines_use_one_definition(app, session, settings, lanshan_site):
    """Two complaints on one site are one collective case: both listed, both timelines say so; a lone complaint
    is neither, however many workers it names."""
    from intake.foundation.models import EventKind
    from intake.supervision.figures import collective_and_urgent

    first = routed(app, session, settings, lanshan_site)
    second = routed(app, session, settings, lanshan_site, phone="13900000088")
    other_site = Site(code="S-9", name="罗庄水厂", jurisdiction_code="371311", industry="水利", investment="private",
                      public_token="tok_" + "z" * 20)
    session.add(other_site)
    session.commit()
    alone = routed(app, session, settings, other_site, phone="13900000099")
    alone.workers = 30
    session.commit()
    city = Scope(0, "city", Role.ADMIN, None, None)
    listed = {c.id for c in collective_and_urgent(session, city, Filters(), "Asia/Shanghai")}
    collective_kinds = {EventKind.COLLECTIVE_LINKED, EventKind.COLLECTIVE_FLAGGED}
    said = {c.id for c in (first, second, alone)
            if any(e.kind in collective_kinds for e in session.get(Complaint, c.id).events)}
    assert listed == said == {first.id, second.id}
