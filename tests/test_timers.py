"""Timers and clocks: schedules on the working calendar, cards and the escalation ladder, staleness, pauses."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from intake.case import clocks, timers
from intake.case.cases import MATERIAL_CLOCK, SUPERVISE_CLOCK, fire_confirm, fire_material, fire_supervision
from intake.case.complaints import ROUTE_CLOCK
from intake.delivery.outbox import dispatch_desk, sms_destination
from intake.enforcement import crosscheck
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.models import Event, Outbox, Timer
from intake.foundation.settings import Settings
from intake.foundation.transitions import transition
from intake.registry.directory import department
from intake.runtime.worker import TIMER_HANDLERS, run_once
from intake.units.inspections import ITEM_CLOCK
from intake.units.tasks import TASK_CLOCK
from intake.warnings import ledger as warnings
from tests.helpers import CAL, CLOCKS, CST, at, routed_complaint


def clock_events(session, complaint_id=None):
    query = select(Event).where(Event.kind.in_(("clock_warning", "clock_overdue", "escalated")))
    if complaint_id is not None:
        query = query.where(Event.complaint_id == complaint_id)
    return list(session.scalars(query.order_by(Event.id)))


def due(session, complaint, clock):
    return session.scalar(select(Timer.due_at).where(Timer.complaint_id == complaint.id, Timer.clock == clock,
                                                     Timer.state.in_(("pending", "paused")))).astimezone(CST)


@pytest.fixture
def contacts(session):
    """Give 兰山区人社局 an SMS contact for one test; departments outlive tests, so put it back."""
    dept = department(session, "371302", "hrss")
    old = dept.contacts
    dept.contacts = {"sms": ["13800000001"], "wechat": "oDEPT"}
    session.commit()
    yield dept
    dept.contacts = old
    session.commit()


# --- schedules ------------------------------------------------------------------------------------------


def test_working_hours_clock_crosses_a_weekend():
    steps = clocks.schedule("acknowledge", "normal", at(2024, 3, 1, 16, 30), CAL, CLOCKS)  # Friday
    assert steps["due"] == at(2024, 3, 4, 9, 30)  # 60 minutes on Friday, 60 on Monday
    assert steps["warning"] == at(2024, 3, 4, 9, 0)  # 75 % of 120 working minutes
    assert steps["overdue"] == steps["due"]
    # The ladder's "+1 working day" keeps the time of day.
    assert steps["escalate:1"] == at(2024, 3, 5, 9, 30) and steps["escalate:2"] == at(2024, 3, 6, 9, 30)


def test_working_days_clock_crosses_the_2024_spring_festival():
    # Thu Feb 8; Feb 10-17 off; Sun Feb 18 a make-up working day: 9, 18, 19, 20, 21.
    steps = clocks.schedule("accept", "normal", at(2024, 2, 8, 10, 0), CAL, CLOCKS)
    assert steps["due"] == at(2024, 2, 21, 17, 30)
    assert steps["escalate:1"] == at(2024, 2, 22, 17, 30)
    # Reminders go out in working hours: the 75 % point lands inside the working day.
    assert CAL.is_working_day(steps["warning"].date())


def test_urgent_runs_round_the_clock_and_others_wait_for_working_hours():
    saturday_night = at(2024, 3, 2, 23, 50)
    urgent = clocks.schedule("acknowledge", "urgent", saturday_night, CAL, CLOCKS)
    assert urgent["due"] == at(2024, 3, 3, 0, 20)
    assert urgent["warning"] == saturday_night + timedelta(minutes=22.5)
    assert clocks.schedule("contact", "urgent", saturday_night, CAL, CLOCKS)["due"] == at(2024, 3, 3, 1, 50)
    night_limits = replace(CLOCKS, acknowledge=(("urgent", "30m"), ("high", "30m"), ("normal", "30m")))
    high = clocks.schedule("acknowledge", "high", saturday_night, CAL, night_limits)
    assert high["due"] == at(2024, 3, 3, 0, 20)  # the deadline itself is what it is ...
    assert high["warning"] == high["overdue"] == at(2024, 3, 4, 8, 30)  # ... but nobody is woken up


def test_limits_come_from_settings():
    strict = replace(CLOCKS, accept=(("urgent", "1wd"), ("high", "2wd"), ("normal", "3wd")), warning_percent=50)
    steps = clocks.schedule("accept", "high", at(2024, 3, 4, 8, 30), CAL, strict)
    assert steps["due"] == at(2024, 3, 6, 17, 30)
    assert steps["warning"] == at(2024, 3, 5, 13, 45)  # 50 % of 3 x 450 working minutes
    with pytest.raises(ValueError):
        clocks.validate(replace(CLOCKS, reply=(("normal", "5 days"),)))


# --- cards and the ladder -------------------------------------------------------------------------------


def test_yellow_at_75_percent_red_at_due_then_the_ladder(session, contacts):
    start = at(2024, 3, 4, 9, 0)  # Monday
    settings = Settings()
    c = routed_complaint(session, start)
    session.commit()
    ack = clocks.schedule("acknowledge", "normal", start, CAL, CLOCKS)
    assert ack["warning"] == at(2024, 3, 4, 10, 30) and ack["due"] == at(2024, 3, 4, 11, 0)

    def fire(moment):
        run_once(_sessions(session), {}, CAL, settings, now=moment)
        session.expire_all()
        return [(e.kind, e.data["clock"], e.data["level"]) for e in clock_events(session, c.id)
                if e.data["clock"] == "acknowledge"]

    assert fire(at(2024, 3, 4, 10, 29)) == []
    assert fire(at(2024, 3, 4, 10, 30)) == [("clock_warning", "acknowledge", "department")]
    assert fire(at(2024, 3, 4, 11, 0))[1:] == [("clock_overdue", "acknowledge", "department")]
    assert fire(at(2024, 3, 5, 11, 0))[2:] == [("escalated", "acknowledge", "county")]
    assert fire(at(2024, 3, 6, 11, 0))[3:] == [("escalated", "acknowledge", "city")]
    assert fire(at(2024, 3, 6, 11, 0))[4:] == []  # firing again changes nothing

    rows = [r for r in session.scalars(select(Outbox).where(Outbox.complaint_id == c.id).order_by(Outbox.id))
            if r.payload["clock"] == "acknowledge"]
    yellow = [r for r in rows if r.payload["kind"] == "clock_warning"]
    inbox = f"department:{c.department_id}"
    assert sorted(r.destination for r in yellow) == [inbox, sms_destination("13800000001"), "wechat-template:oDEPT"]
    assert "黄牌预警" in yellow[0].payload["text"] and c.ticket_no in yellow[0].payload["text"]
    red = [r for r in rows if r.payload["kind"] == "clock_overdue"]
    assert len(red) == 3 and "红牌超期" in red[0].payload["text"]
    # 兰山区人社局 is also the county supervisor by default; the city office has only its console inbox.
    county, city = ([r for r in rows if r.payload["kind"] == "escalated" and r.payload["level"] == lvl]
                    for lvl in ("county", "city"))
    assert sorted(r.destination for r in county) == [inbox, sms_destination("13800000001"), "wechat-template:oDEPT"]
    office = department(session, "371300", "leading_group_office")
    assert [r.destination for r in city] == [f"department:{office.id}"]


def _sessions(session):
    from sqlalchemy.orm import sessionmaker

    return sessionmaker(session.get_bind(), expire_on_commit=False)


# --- versions -------------------------------------------------------------------------------------------


def test_a_timer_set_for_an_older_version_is_a_no_op(session):
    start = at(2024, 3, 4, 9, 0)
    c = routed_complaint(session, start)
    transition(session, c, "acknowledged", actor="dept")  # the version moves on; clocks not re-armed
    session.commit()
    report = run_once(_sessions(session), {}, CAL, Settings(), now=at(2024, 6, 1))
    clock_timers = select(func.count()).select_from(Timer).where(Timer.clock != ROUTE_CLOCK)
    assert report.fired == 0 and report.stale == session.scalar(clock_timers)
    assert clock_events(session, c.id) == []
    assert session.scalar(select(func.count()).select_from(Outbox)) == 0


def test_transitions_rearm_continuing_clocks_and_cancel_finished_ones(session):
    start = at(2024, 3, 4, 9, 0)
    c = routed_complaint(session, start)
    accept_due = due(session, c, "accept:overdue")
    transition(session, c, "acknowledged", actor="dept")
    assert clocks.start_clocks_for(session, c, "acknowledged", at(2024, 3, 4, 9, 20), CAL, CLOCKS) == []
    open_ = timers.open_timers(session, c.id)
    assert {timers.clock_name(t.clock) for t in open_} == {"contact", "accept", "reply"}
    assert all(t.version == c.version for t in open_)
    assert due(session, c, "accept:overdue") == accept_due  # carried on, not restarted
    session.commit()
    run_once(_sessions(session), {}, CAL, Settings(), now=at(2024, 3, 4, 11, 0))
    assert clock_events(session, c.id) == []  # the acknowledge clock stopped when the case was acknowledged


# --- pause, resume, extension, recompute ---------------------------------------------------------------


def test_pause_and_resume_shift_by_the_working_time_paused(session):
    c = routed_complaint(session, at(2024, 3, 4, 9, 0))
    assert due(session, c, "acknowledge:overdue") == at(2024, 3, 4, 11, 0)
    assert clocks.pause_clocks(session, c, at(2024, 3, 4, 9, 30), reason="等待补充材料") == 16
    session.commit()
    assert run_once(_sessions(session), {}, CAL, Settings(), now=at(2024, 3, 4, 12, 0)).fired == 0
    assert clocks.resume_clocks(session, c, at(2024, 3, 4, 14, 0), CAL, CLOCKS) == 16
    # Paused 09:30-14:00: 180 working minutes (the lunch break does not count).
    assert due(session, c, "acknowledge:overdue") == at(2024, 3, 4, 15, 30)
    assert due(session, c, "acknowledge:warning") == at(2024, 3, 4, 15, 0)
    assert due(session, c, "accept:overdue") == CAL.add_working_time(at(2024, 3, 11, 17, 30), 180)
    # A later recompute keeps the pause.
    assert clocks.recompute_due(session, CAL, CLOCKS) == 0


def test_urgent_pause_counts_round_the_clock(session):
    c = routed_complaint(session, at(2024, 3, 2, 23, 0), priority="urgent")
    clocks.pause_clocks(session, c, at(2024, 3, 2, 23, 10))
    clocks.resume_clocks(session, c, at(2024, 3, 3, 1, 10), CAL, CLOCKS)
    assert due(session, c, "acknowledge:overdue") == at(2024, 3, 3, 1, 30)


def test_recompute_after_a_calendar_change(session):
    c = routed_complaint(session, at(2024, 3, 4, 9, 0))
    assert due(session, c, "accept:overdue") == at(2024, 3, 11, 17, 30)
    flood_day = WorkingCalendar.from_config({"holidays": ["2024-03-06"]})
    assert clocks.recompute_due(session, flood_day, CLOCKS) > 0
    assert due(session, c, "accept:overdue") == at(2024, 3, 12, 17, 30)
    assert due(session, c, "acknowledge:overdue") == at(2024, 3, 4, 11, 0)  # unaffected


def test_a_worker_starting_with_new_holidays_moves_open_deadlines(app, session, make_settings):
    from handlers import create_app
    from handlers.cli.worker import prepare
    from handlers.runtime import services
    from intake.foundation.settings import CalendarSettings

    c = routed_complaint(session, at(2024, 3, 4, 9, 0))
    session.commit()
    prepare(services(app))
    assert due(session, c, "accept:overdue") == at(2024, 3, 11, 17, 30)
    flooded = services(create_app(make_settings(calendar=CalendarSettings(holidays=("2024-03-06",)))))
    prepare(flooded)
    session.expire_all()
    assert due(session, c, "accept:overdue") == at(2024, 3, 12, 17, 30)
    with flooded.sessions.begin() as s:
        assert clocks.recompute_if_changed(s, flooded.calendar, flooded.settings) is None


def test_reply_extension_within_the_approved_maximum(session):
    start = at(2024, 3, 4, 9, 0)
    c = routed_complaint(session, start)
    assert due(session, c, "reply:overdue") == at(2024, 3, 11, 17, 30)
    clocks.extend_clock(session, c, "reply", 4, at(2024, 3, 8), CAL, CLOCKS, actor="dept", approved_by="科长")
    clocks.extend_clock(session, c, "reply", 6, at(2024, 3, 8), CAL, CLOCKS, actor="dept", approved_by="科长")
    assert due(session, c, "reply:overdue") == at(2024, 3, 25, 17, 30)
    with pytest.raises(clocks.ClockError, match="最多延期 10 个工作日"):
        clocks.extend_clock(session, c, "reply", 1, at(2024, 3, 8), CAL, CLOCKS, actor="dept", approved_by="科长")
    with pytest.raises(clocks.ClockError):
        clocks.extend_clock(session, c, "acknowledge", 1, at(2024, 3, 8), CAL, CLOCKS, actor="dept",
                            approved_by="科长")


def test_investigation_runs_60_working_days(session):
    c = routed_complaint(session, at(2024, 3, 4, 9, 0))
    for status in ("acknowledged", "accepted", "investigating"):
        transition(session, c, status, actor="dept")
        clocks.start_clocks_for(session, c, status, at(2024, 3, 5, 9, 0), CAL, CLOCKS)
    assert {timers.clock_name(t.clock) for t in timers.open_timers(session, c.id)} == {"investigate"}
    assert due(session, c, "investigate:overdue").date() == CAL.add_working_days(at(2024, 3, 5).date(), 60)


def test_return_only_within_two_working_days(session):
    c = routed_complaint(session, at(2024, 3, 4, 9, 0))
    routed_at = session.scalar(select(Event.created_at).where(Event.complaint_id == c.id,
                                                              Event.to_status == "routed"))
    limit = clocks.Duration(2, "wd").after(CAL, routed_at)
    assert clocks.may_return(session, c, limit, CAL, CLOCKS)
    assert not clocks.may_return(session, c, limit + timedelta(minutes=1), CAL, CLOCKS)


# --- the registry ---------------------------------------------------------------------------------------


def test_the_worker_table_has_a_handler_for_every_clock_the_core_sets():
    assert set(TIMER_HANDLERS) == {*clocks.CLOCKS, ROUTE_CLOCK, SUPERVISE_CLOCK, timers.PAYMENT_ORDER_CLOCK,
                                   timers.POLICE_CLOCK, timers.PLAN_CLOCK, timers.CLEARING_CLOCK, MATERIAL_CLOCK,
                                   timers.CONFIRM_CLOCK, timers.CO_STEP_CLOCK, TASK_CLOCK, ITEM_CLOCK,
                                   warnings.RECTIFY_CLOCK, warnings.VERIFY_CLOCK, warnings.REPORT_CLOCK}
    # routing, then the 失信 check of the routed case (enforcement sits above case)
    assert TIMER_HANDLERS[ROUTE_CLOCK] is crosscheck.fire_route and TIMER_HANDLERS[SUPERVISE_CLOCK] is fire_supervision
    assert TIMER_HANDLERS[MATERIAL_CLOCK] is fire_material and TIMER_HANDLERS[timers.CONFIRM_CLOCK] is fire_confirm
    assert TIMER_HANDLERS[warnings.RECTIFY_CLOCK] is TIMER_HANDLERS[warnings.REPORT_CLOCK] is warnings.fire_deadline


def test_the_table_plugs_in_other_clocks_and_an_unknown_clock_is_an_error(session):
    seen = []

    def route_again(session_, timer, complaint, context):
        seen.append((timer.clock, complaint.id, context.now, context.settings.clocks is not None))

    c = routed_complaint(session, at(2024, 3, 4, 9, 0))
    timers.set_timer(session, c, "test-route", at(2024, 3, 4, 9, 1))
    timers.set_timer(session, c, "nobody-owns-this", at(2024, 3, 4, 9, 1))
    session.commit()
    report = run_once(_sessions(session), {}, CAL, Settings(), now=at(2024, 3, 4, 9, 2),
                      handlers={**TIMER_HANDLERS, "test-route": route_again})
    assert report.fired == 1 and seen == [("test-route", c.id, at(2024, 3, 4, 9, 2), True)]
    states = dict(session.execute(select(Timer.clock, Timer.state).where(Timer.clock.in_(
        ("test-route", "nobody-owns-this")))).all())
    assert states == {"test-route": "fired", "nobody-owns-this": "error"}
    assert timers.cancel_timers(session, c, ["reply"]) == 4


# --- batches --------------------------------------------------------------------------------------------


def test_a_failing_handler_in_a_batch_leaves_the_others_fired_once(session):
    def boom(session_, timer, complaint, context):
        raise RuntimeError("handler bug")

    start = at(2024, 3, 4, 9, 0)
    c = routed_complaint(session, start)
    timers.set_timer(session, c, "test-boom", at(2024, 3, 4, 10, 40))  # between the yellow and the red card
    session.commit()
    report = run_once(_sessions(session), {}, CAL, Settings(), now=at(2024, 3, 4, 11, 0),
                      handlers={**TIMER_HANDLERS, "test-boom": boom})
    session.expire_all()
    assert (report.fired, report.errors) == (2, 1)  # the acknowledge clock's yellow and red cards, and the failure
    states = dict(session.execute(select(Timer.clock, Timer.state).where(Timer.complaint_id == c.id,
                                                                         Timer.state.in_(("fired", "error")))).all())
    assert states == {"acknowledge:warning": "fired", "acknowledge:overdue": "fired"}
    events = clock_events(session, c.id)
    assert sorted(e.kind for e in events) == ["clock_overdue", "clock_warning"]
    messages = session.scalars(select(Outbox).where(Outbox.complaint_id == c.id))
    assert sorted(m.payload["timer_id"] for m in messages) == sorted(e.data["timer_id"] for e in events)
    boomed = session.scalar(select(Timer).where(Timer.clock == "test-boom"))
    assert (boomed.state, boomed.attempts) == ("pending", 1) and boomed.due_at > at(2024, 3, 4, 11, 0)


def test_a_handler_that_keeps_failing_is_retried_then_the_desk_is_told(session):
    def always_fails(session_, timer, complaint, context):
        raise RuntimeError("directory row missing")

    c = routed_complaint(session, at(2024, 3, 4, 9, 0))
    timers.cancel_timers(session, c)
    timers.set_timer(session, c, "test-always-fails", at(2024, 3, 4, 9, 1))
    session.commit()
    settings = replace(Settings(), worker=replace(Settings().worker, max_attempts=3, backoff_max_seconds=60))
    now = at(2024, 3, 4, 9, 5)
    for _ in range(4):
        run_once(_sessions(session), {}, CAL, settings, now=now, handlers={"test-always-fails": always_fails})
        now += timedelta(minutes=5)
    session.expire_all()
    timer = session.scalar(select(Timer).where(Timer.clock == "test-always-fails"))
    assert (timer.state, timer.attempts) == ("error", 3)
    (alert,) = session.scalars(select(Outbox).where(Outbox.complaint_id == c.id)).all()
    assert alert.destination == f"department:{dispatch_desk(session).id}"
    assert alert.payload["kind"] == "timer_failed" and c.ticket_no in alert.payload["text"]


def test_a_transition_made_by_a_handler_makes_the_rest_of_the_batch_stale(session):
    def acknowledge(session_, timer, complaint, context):
        transition(session_, complaint, "acknowledged", actor="test")

    c = routed_complaint(session, at(2024, 3, 4, 9, 0))
    timers.set_timer(session, c, "test-acknowledge", at(2024, 3, 4, 9, 1))
    session.commit()
    report = run_once(_sessions(session), {}, CAL, Settings(), now=at(2024, 3, 4, 11, 0),
                      handlers={**TIMER_HANDLERS, "test-acknowledge": acknowledge})
    assert report.fired == 1 and report.stale == 2  # the acknowledge clock's cards, set for the old version
    assert clock_events(session, c.id) == []
    assert session.scalar(select(func.count()).select_from(Outbox)) == 0
