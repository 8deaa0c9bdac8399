"""Accounts and scope in the core: who sees which cases, what each role may do, the deadlines queues sort by."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from intake.case import cases
from intake.case.queue import Filters, clock_views, queue_page
from intake.foundation.models import Complaint, Department, utcnow
from intake.people.access import AccessDenied, Scope, case_for, scoped_complaints
from intake.people.staff import AccountError, NewUser, authenticate, change_password, create_user, set_active
from intake.registry.directory import department
from tests.helpers import CAL, ctx, outbox, routed, worker_pass


def make_user(session, username, role, department_id=None, county=None, password="secret-pass-1"):
    user = create_user(session, NewUser(username, username, password, role, department_id, county))
    session.commit()
    return user


def test_passwords_are_argon2id_and_a_disabled_account_cannot_log_in(session):
    housing = department(session, "371302", "housing")
    user = make_user(session, "Zhang.San", "staff", housing.id)
    assert user.username == "zhang.san" and user.password_hash.startswith("$argon2id$")
    assert authenticate(session, "ZHANG.SAN", "secret-pass-1").id == user.id
    assert authenticate(session, "zhang.san", "wrong-pass-1") is None
    assert authenticate(session, "nobody", "secret-pass-1") is None
    set_active(session, "zhang.san", False)
    assert authenticate(session, "zhang.san", "secret-pass-1") is None


def test_accounts_need_their_scope_and_a_real_password(session):
    with pytest.raises(AccountError, match="所属部门"):
        create_user(session, NewUser("a1", "a", "secret-pass-1", "staff"))
    with pytest.raises(AccountError, match="所属区县"):
        create_user(session, NewUser("a2", "a", "secret-pass-1", "county_supervisor", jurisdiction_code="999999"))
    with pytest.raises(AccountError, match="至少"):
        create_user(session, NewUser("a3", "a", "short", "admin"))
    with pytest.raises(AccountError, match="角色"):
        create_user(session, NewUser("a4", "a", "secret-pass-1", "root"))
    user = make_user(session, "boss", "admin")
    with pytest.raises(AccountError, match="已存在"):
        create_user(session, NewUser("BOSS", "b", "secret-pass-1", "admin"))
    with pytest.raises(AccountError, match="当前密码"):
        change_password(session, user, "wrong", "another-pass-2")
    change_password(session, user, "secret-pass-1", "another-pass-2")
    assert authenticate(session, "boss", "another-pass-2") is not None


def test_each_role_sees_exactly_its_scope(app, session, settings, lanshan_site):
    lanshan = routed(app, session, settings, lanshan_site)
    housing = lanshan.department
    other = session.scalar(select(Department).where(Department.jurisdiction_code == "371311",
                                                    Department.kind == "housing"))
    scopes = {
        "staff": Scope.of(make_user(session, "s1", "staff", housing.id)),
        "other_dept": Scope.of(make_user(session, "s2", "staff", department(session, "371302", "hrss").id)),
        "other_county": Scope.of(make_user(session, "s3", "staff", other.id)),
        "county": Scope.of(make_user(session, "c1", "county_supervisor", county="371302")),
        "far_county": Scope.of(make_user(session, "c2", "county_supervisor", county="371311")),
        "admin": Scope.of(make_user(session, "a1", "admin")),
    }
    sees = {name: case_for(session, s, lanshan.ticket_no) is not None for name, s in scopes.items()}
    assert sees == {"staff": True, "other_dept": False, "other_county": False, "county": True,
                    "far_county": False, "admin": True}
    assert session.scalars(scoped_complaints(scopes["other_dept"])).all() == []
    assert scopes["staff"].may("acknowledge") and not scopes["staff"].may("transfer")
    with pytest.raises(AccessDenied):
        scopes["staff"].require("close_override")
    assert scopes["county"].may("transfer") and not scopes["county"].may("audit")
    assert scopes["admin"].may("audit")


def test_the_queue_puts_the_most_urgent_deadline_first_and_pages_by_keyset(app, session, settings, lanshan_site):
    first = routed(app, session, settings, lanshan_site)
    second = routed(app, session, settings, lanshan_site, phone="13912345600")
    assert first.next_due_at is not None and set(first.deadlines) == {"acknowledge", "contact", "accept", "reply"}
    scope = Scope.of(make_user(session, "admin1", "admin"))
    cases.acknowledge(session, first, ctx(app), actor="staff:x")  # its acknowledge clock stops: later deadline
    session.commit()
    assert "acknowledge" not in first.deadlines and first.next_due_at > second.next_due_at
    page = queue_page(session, scope, Filters(), utcnow(), size=1)
    assert [c.id for c in page.complaints] == [second.id]
    rest = queue_page(session, scope, Filters(), utcnow(), cursor=page.next_cursor, size=1)
    assert [c.id for c in rest.complaints] == [first.id] and rest.next_cursor is None
    late = utcnow() + timedelta(days=30)
    assert {c.id for c in queue_page(session, scope, Filters(overdue=True), late).complaints} == {first.id, second.id}
    views = clock_views(second, late, CAL)
    assert views[0].state == "red" and views[0].left.startswith("超期")
    assert clock_views(second, utcnow(), CAL)[0].state == "green"


def test_paused_clocks_leave_the_urgency_order_until_the_material_arrives(app, session, settings, lanshan_site):
    complaint = routed(app, session, settings, lanshan_site)
    cases.wait_for_worker(session, complaint, ctx(app), actor="staff:x", needed="欠条")
    session.commit()
    assert complaint.next_due_at is None
    assert {v.state for v in clock_views(complaint, utcnow(), CAL)} == {"paused"}
    cases.material_received(session, complaint, ctx(app, timedelta(days=3)), actor="staff:x")
    session.commit()
    assert complaint.next_due_at is not None
    assert "paused" not in {v.state for v in clock_views(complaint, utcnow(), CAL)}


def test_an_extension_request_is_carried_out_only_when_the_head_approves(app, session, settings, lanshan_site):
    complaint = routed(app, session, settings, lanshan_site)
    cases.acknowledge(session, complaint, ctx(app), actor="staff:x")
    cases.accept(session, complaint, ctx(app), actor="staff:x")
    before = complaint.deadlines["reply"]["due"]
    cases.request_approval(session, complaint, ctx(app), actor="staff:x", kind="extension", reason="需调取工程款记录",
                           clock="reply", days=5)
    with pytest.raises(cases.CaseError, match="已有待审批"):
        cases.request_approval(session, complaint, ctx(app), actor="staff:x", kind="extension", reason="再来",
                               clock="reply", days=5)
    assert complaint.deadlines["reply"]["due"] == before
    cases.decide_approval(session, complaint, ctx(app), actor="staff:head", kind="extension", approve=True)
    session.commit()
    assert complaint.deadlines["reply"]["due"] > before
    assert cases.pending_approval(session, complaint, "extension") is None


def test_a_supervisors_deadline_survives_status_changes_and_fires_while_the_case_is_open(app, session, settings,
                                                                                         lanshan_site):
    complaint = routed(app, session, settings, lanshan_site)
    cases.supervise(session, complaint, ctx(app), actor="staff:c1", due=utcnow() + timedelta(days=2),
                    reason="涉及人数多")
    cases.acknowledge(session, complaint, ctx(app), actor="staff:x")
    session.commit()
    assert complaint.supervised and "supervise" in complaint.deadlines
    worker_pass(app, utcnow() + timedelta(days=3))
    session.expire_all()
    complaint = session.get(Complaint, complaint.id)
    assert any(e.kind == "supervision_overdue" for e in complaint.events)
    assert outbox(session, complaint, "supervision_overdue") != []


def test_worker_lines_and_payments_keep_the_clocks_running(app, session, settings, lanshan_site):
    from intake.case.timers import PENDING
    from intake.foundation.models import Timer

    complaint = routed(app, session, settings, lanshan_site)
    line = cases.add_claim_line(session, complaint, actor="staff:x", worker_name="张三", amount_claimed=4000)
    with pytest.raises(cases.CaseError, match="已在工人明细中"):
        cases.add_claim_line(session, complaint, actor="staff:x", worker_name="张三", amount_claimed=4000)
    cases.record_payment(session, complaint, ctx(app), actor="staff:x", line_id=line.id, amount_paid=4000)
    session.commit()
    assert complaint.amount_recovered == 4000 and complaint.workers_paid == 1
    versions = set(session.scalars(select(Timer.version).where(Timer.complaint_id == complaint.id,
                                                               Timer.state == PENDING)))
    assert versions == {complaint.version}  # not made stale: they still fire
