"""The staff console through its real HTTP routes: log-in, scope on every route, a case's whole life, conflicts,
the audit log, phone and walk-in intake."""
from __future__ import annotations

import threading
from datetime import timedelta
from io import BytesIO

import pytest
from sqlalchemy import event, select

from handlers.runtime import services
from intake.delivery.outbox import sms_destination
from intake.foundation.models import (
    Attachment,
    AuditEntry,
    Complaint,
    InboundMessage,
    Outbox,
    PaymentOrder,
    PlanStep,
    StaffUser,
    Status,
    utcnow,
)
from intake.foundation.texts import event_text
from intake.people.staff import set_active
from intake.registry.directory import department
from tests.helpers import (
    PASSWORD,
    PNG,
    act,
    case_page,
    confirm_link,
    csrf_token,
    flashed,
    login,
    make_site,
    outbox,
    reload,
    routed,
    worker_pass,
)


@pytest.fixture
def case(app, session, settings, lanshan_site):
    """A routed case of 兰山区住建局 with one evidence photo."""
    complaint = routed(app, session, settings, lanshan_site)
    session.add(Attachment(complaint_id=complaint.id, filename="iou.png", content_type="image/png", size=len(PNG),
                           sha256="0" * 64, content=PNG))
    session.commit()
    return complaint


def queue_table(html: str) -> str:
    """The queue itself, without the inbox beside it (whose notices name tickets too)."""
    return html.split("<aside")[0]


def audit_actions(session, username=None) -> list[str]:
    session.expire_all()
    query = select(AuditEntry).order_by(AuditEntry.id)
    if username:
        query = query.where(AuditEntry.username == username)
    return [e.action for e in session.scalars(query)]


# --- log-in ----------------------------------------------------------------------------------------------


def test_every_console_page_asks_for_log_in_first(client, case):
    for path in ("/console/", f"/console/cases/{case.ticket_no}", "/console/intake", "/console/sites",
                 "/console/audit", f"/console/cases/{case.ticket_no}/photos/1", "/console/password"):
        response = client.get(path)
        assert response.status_code == 302 and "/console/login" in response.headers["Location"], path
    assert client.post(f"/console/cases/{case.ticket_no}/actions/acknowledge").status_code in (302, 400)
    assert client.get("/console/login").status_code == 200


def test_log_in_and_out_are_audited_and_a_wrong_password_says_so(client, session, users):
    wrong = login(client, users["staff"], "not-the-password-1")
    assert wrong.status_code == 401 and "用户名或密码不正确" in wrong.get_data(as_text=True)
    ok = login(client, users["staff"])
    assert ok.status_code == 303 and ok.headers["Location"].endswith("/console/")
    queue = client.get("/console/")
    assert "我的待办" in queue.get_data(as_text=True)
    client.post("/console/logout", data={"csrf_token": csrf_token(queue.get_data(as_text=True))})
    assert client.get("/console/").status_code == 302
    assert audit_actions(session, users["staff"]) == ["login_failed", "login", "logout"]


def test_the_session_cookie_is_http_only_secure_and_same_site(client, users):
    login(client, users["staff"])
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.secure and cookie.same_site == "Lax"


def test_log_in_never_redirects_off_the_console(client, users):
    page = client.get("/console/login")
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"):
        response = client.post(f"/console/login?next={target}", data={
            "username": users["staff"], "password": PASSWORD, "csrf_token": csrf_token(page.get_data(as_text=True))})
        assert response.headers["Location"].endswith("/console/"), target
        client.post("/console/logout", data={"csrf_token": csrf_token(client.get("/console/").get_data(as_text=True))})
        page = client.get("/console/login")


def test_guessing_passwords_is_stopped_with_a_clear_message(client, users):
    for _ in range(5):
        assert login(client, users["staff"], "guess-guess-1").status_code == 401
    blocked = login(client, users["staff"], PASSWORD)
    assert blocked.status_code == 429 and "尝试过于频繁" in blocked.get_data(as_text=True)


def test_a_form_without_its_csrf_token_changes_nothing(client, session, users, case):
    login(client, users["staff"])
    response = client.post(f"/console/cases/{case.ticket_no}/actions/acknowledge", data={"version": case.version})
    assert response.status_code == 400
    assert reload(session, case).status == Status.ROUTED.value


def test_changing_the_password_or_disabling_the_account_ends_other_sessions(app, session, users):
    first, second = app.test_client(), app.test_client()
    login(first, users["staff"])
    login(second, users["staff"])
    page = first.get("/console/password").get_data(as_text=True)
    short = first.post("/console/password", data={"csrf_token": csrf_token(page), "current": PASSWORD,
                                                   "new": "short", "again": "short"})
    assert "至少 10 位" in short.get_data(as_text=True)
    changed = first.post("/console/password", data={"csrf_token": csrf_token(page), "current": PASSWORD,
                                                     "new": "brand-new-pass-2", "again": "brand-new-pass-2"})
    assert changed.status_code == 303
    assert first.get("/console/").status_code == 200
    assert second.get("/console/").status_code == 302
    set_active(session, users["staff"], False)
    session.commit()
    assert first.get("/console/").status_code == 302
    assert login(app.test_client(), users["staff"], "brand-new-pass-2").status_code == 401


# --- scope -----------------------------------------------------------------------------------------------

SEES_CASE = {"staff": True, "head": True, "county": True, "admin": True,
             "other_staff": False, "far_staff": False, "far_county": False}


@pytest.mark.parametrize("role", sorted(SEES_CASE))
def test_every_role_against_every_case_route(app, session, users, case, role):
    client = app.test_client()
    login(client, users[role])
    photo = session.scalar(select(Attachment.id).where(Attachment.complaint_id == case.id))
    routes = [("get", f"/console/cases/{case.ticket_no}"), ("get", f"/console/cases/{case.ticket_no}/photos/{photo}"),
              ("post", f"/console/cases/{case.ticket_no}/reveal"),
              ("post", f"/console/cases/{case.ticket_no}/actions/acknowledge")]
    token = csrf_token(client.get("/console/").get_data(as_text=True))
    for method, path in routes:
        response = getattr(client, method)(path, data={"csrf_token": token, "version": str(case.version)})
        if SEES_CASE[role]:
            assert response.status_code in (200, 303), (role, path)
        else:
            assert response.status_code == 404, (role, path)
    queue = queue_table(client.get("/console/?status=all").get_data(as_text=True))
    assert (case.ticket_no in queue) is SEES_CASE[role]
    assert (reload(session, case).status == Status.ACKNOWLEDGED.value) is SEES_CASE[role]


def test_an_evidence_photo_is_served_only_as_an_image_and_only_through_its_case(app, session, users, case,
                                                                               settings, lanshan_site):
    other = routed(app, session, settings, lanshan_site, phone="13912340000")
    photo = session.scalar(select(Attachment.id).where(Attachment.complaint_id == case.id))
    client = app.test_client()
    login(client, users["staff"])
    response = client.get(f"/console/cases/{case.ticket_no}/photos/{photo}")
    assert response.data == PNG and response.headers["Content-Type"] == "image/png"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert client.get(f"/console/cases/{other.ticket_no}/photos/{photo}").status_code == 404


@pytest.mark.parametrize("role,action,fields", [
    ("staff", "return", {"reason": "不归我们"}), ("staff", "transfer", {"department_id": "1", "reason": "x"}),
    ("staff", "close_override", {"reason": "x"}), ("head", "supervise", {"due": "2030-01-01", "reason": "x"}),
    ("head", "transfer", {"department_id": "1", "reason": "x"})])
def test_an_action_outside_the_role_is_forbidden_and_changes_nothing(app, session, users, case, role, action,
                                                                     fields):
    client = app.test_client()
    login(client, users[role])
    before = reload(session, case).version
    assert act(client, case.ticket_no, action, **fields).status_code == 403
    assert reload(session, case).version == before


def test_administration_pages_are_for_administrators(app, users):
    for role in ("staff", "head", "county"):
        client = app.test_client()
        login(client, users[role])
        assert client.get("/console/audit").status_code == 403, role
    client = app.test_client()
    login(client, users["admin"])
    assert client.get("/console/audit").status_code == 200


def test_sites_are_listed_within_scope_and_imported_only_by_administrators(app, users, lanshan_site):
    near, far, admin = app.test_client(), app.test_client(), app.test_client()
    login(near, users["staff"])
    login(far, users["far_staff"])
    login(admin, users["admin"])
    assert lanshan_site.name in near.get("/console/sites").get_data(as_text=True)
    assert lanshan_site.name not in far.get("/console/sites").get_data(as_text=True)
    token = csrf_token(near.get("/console/sites").get_data(as_text=True))
    assert near.post("/console/sites/import", data={"csrf_token": token}).status_code == 403
    csv = "项目编号,项目名称,所在区县\nS-9,河东新城,河东区\n".encode("utf-8-sig")
    token = csrf_token(admin.get("/console/sites").get_data(as_text=True))
    done = admin.post("/console/sites/import", data={"csrf_token": token, "file": (BytesIO(csv), "sites.csv")},
                      content_type="multipart/form-data")
    assert "新增 1 个" in flashed(admin, done)
    assert "河东新城" in admin.get("/console/sites").get_data(as_text=True)


# --- a case's life ---------------------------------------------------------------------------------------


def test_a_whole_case_through_the_console_until_the_worker_confirms(app, client, session, users, case):
    login(client, users["staff"])
    page = case_page(client, case.ticket_no).get_data(as_text=True)
    assert "139****5678" in page and "13912345678" not in page
    assert "签收" in page and "阳光城三期" in page
    steps = [("acknowledge", {}), ("contact", {"note": "电话联系了张三，核实欠薪三个月"}), ("accept", {}),
             ("claim_line", {"worker_name": "张三", "amount": "4000"}),
             ("measures", {"measures": ["ordered_to_pay"], "note": "责令三日内支付"})]
    for action, fields in steps:
        done = act(client, case.ticket_no, action, **fields)
        assert done.status_code == 303, action
        assert "flash ok" in flashed(client, done), action
    complaint = reload(session, case)
    assert complaint.status == Status.IN_PROGRESS.value
    line = complaint.claim_lines[0]
    act(client, case.ticket_no, "payment", line_id=str(line.id), amount_paid="4000")
    refused = act(client, case.ticket_no, "resolve", outcome="已督促支付全部工资", amount_recovered="12000",
                  workers_paid="3")
    assert "与工人明细的已付合计 4000 元不一致" in flashed(client, refused)  # the money adds up
    assert reload(session, case).status == Status.IN_PROGRESS.value
    act(client, case.ticket_no, "resolve", outcome="已督促支付全部工资", amount_recovered="4000", workers_paid="1")
    complaint = reload(session, case)
    assert complaint.status == Status.RESOLVED.value and complaint.amount_recovered == 4000
    (asked,) = outbox(session, complaint, "worker_resolved")
    link = confirm_link(asked.payload["text"])
    worker = app.test_client()
    confirm = worker.get(link)
    worker.post(link, data={"csrf_token": csrf_token(confirm.get_data(as_text=True)), "paid": "yes"})
    complaint = reload(session, case)
    assert complaint.status == Status.CLOSED.value and complaint.satisfied is True
    kinds = [e.kind for e in complaint.events]
    assert kinds.index("acknowledged") < kinds.index("contacted") < kinds.index("accepted") < kinds.index("closed")
    assert audit_actions(session, users["staff"]).count("case_action") == len(steps) + 2
    assert complaint.next_due_at is None and complaint.deadlines == {}


def test_a_rejection_is_closed_by_a_supervisors_override_with_a_reason(app, session, users, case):
    staff, county = app.test_client(), app.test_client()
    login(staff, users["staff"])
    login(county, users["county"])
    act(staff, case.ticket_no, "acknowledge")
    refused = act(staff, case.ticket_no, "reject", reason="")
    assert "请填写不予受理的理由" in flashed(staff, refused)
    act(staff, case.ticket_no, "reject", reason="已超过仲裁时效")
    assert "不经工人确认结案" not in case_page(staff, case.ticket_no).get_data(as_text=True)
    act(county, case.ticket_no, "close_override", reason="已电话告知工人并解释")
    complaint = reload(session, case)
    assert complaint.status == Status.CLOSED.value
    assert complaint.events[-1].data == {"override": True} and complaint.events[-1].actor == "staff:ls_county"


def test_a_return_asked_by_staff_happens_when_the_head_approves(app, session, users, case):
    staff, head = app.test_client(), app.test_client()
    login(staff, users["staff"])
    login(head, users["head"])
    act(staff, case.ticket_no, "request_return", reason="属于人社领域")
    assert reload(session, case).status == Status.ROUTED.value
    assert "审批退回申请" in case_page(head, case.ticket_no).get_data(as_text=True)
    act(head, case.ticket_no, "decide_return", approve="yes")
    assert reload(session, case).status == Status.RETURNED.value
    worker_pass(app)
    complaint = reload(session, case)
    assert complaint.department.kind == "dispatch_desk"
    assert case_page(staff, case.ticket_no).status_code == 404  # no longer theirs


def test_a_supervisor_transfers_and_lists_a_case_for_supervision(app, session, users, case):
    county = app.test_client()
    login(county, users["county"])
    hrss = department(session, "371302", "hrss")
    act(county, case.ticket_no, "transfer", department_id=str(hrss.id), reason="属于劳动保障监察")
    due = (utcnow() + timedelta(days=10)).date().isoformat()
    act(county, case.ticket_no, "supervise", due=due, reason="涉及农民工较多")
    complaint = reload(session, case)
    assert complaint.department_id == hrss.id and complaint.supervised
    assert "supervise" in complaint.deadlines
    page = case_page(county, case.ticket_no).get_data(as_text=True)
    assert "督办期限" in page and "挂牌督办" in page
    outsider = app.test_client()
    login(outsider, users["far_county"])
    assert act(outsider, case.ticket_no, "transfer", department_id=str(hrss.id), reason="x").status_code == 404


def test_staff_write_to_the_worker_through_the_outbox(app, client, session, users, case):
    login(client, users["staff"])
    act(client, case.ticket_no, "message", text="请明天上午带欠条到兰山区住建局一楼")
    (sent,) = outbox(session, case, "worker_message")
    assert sent.destination == sms_destination("13912345678") and "请明天上午带欠条" in sent.payload["text"]


def test_revealing_the_full_phone_and_id_numbers_is_audited(client, session, users, case):
    case.complainant.id_number, case.complainant.id_number_masked = "11010519491231002X", "110105********002X"
    session.commit()
    login(client, users["staff"])
    before = case_page(client, case.ticket_no).get_data(as_text=True)
    assert "110105********002X" in before and "11010519491231002X" not in before and "13912345678" not in before
    page = client.post(f"/console/cases/{case.ticket_no}/reveal", data={"csrf_token": csrf_token(before)})
    assert "13912345678" in page.get_data(as_text=True) and "11010519491231002X" in page.get_data(as_text=True)
    assert "13912345678" not in client.get("/console/").get_data(as_text=True)
    (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "reveal_phone")).all()
    assert entry.ticket_no == case.ticket_no and entry.username == users["staff"]
    assert entry.detail == {"fields": ["phone", "id_number"]}


# --- conflicts -------------------------------------------------------------------------------------------


def test_acting_on_an_old_page_is_refused_with_a_clear_message(app, session, users, case):
    first, second = app.test_client(), app.test_client()
    login(first, users["staff"])
    login(second, users["head"])
    seen = reload(session, case).version
    act(first, case.ticket_no, "acknowledge", version=seen)
    late = act(second, case.ticket_no, "request_return", version=seen, reason="不归我们")
    assert "被其他人更新过" in flashed(second, late)
    complaint = reload(session, case)
    assert complaint.status == Status.ACKNOWLEDGED.value
    assert not any(e.kind == "approval_requested" for e in complaint.events)


def test_two_clicks_at_once_act_once(app, session, users, case):
    clients = [app.test_client() for _ in range(4)]
    for c in clients:
        login(c, users["staff"])
    tokens = [csrf_token(case_page(c, case.ticket_no).get_data(as_text=True)) for c in clients]
    version = reload(session, case).version
    barrier = threading.Barrier(len(clients))
    answers = []

    def click(c, token):
        barrier.wait()
        response = c.post(f"/console/cases/{case.ticket_no}/actions/acknowledge",
                          data={"csrf_token": token, "version": str(version)})
        answers.append(flashed(c, response))

    threads = [threading.Thread(target=click, args=pair) for pair in zip(clients, tokens)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum("flash ok" in a for a in answers) == 1
    assert sum("被其他人更新过" in a for a in answers) == len(clients) - 1
    complaint = reload(session, case)
    assert [e.kind for e in complaint.events].count("acknowledged") == 1
    assert len(outbox(session, complaint, "worker_acknowledged")) == 1


# --- queue and inbox -------------------------------------------------------------------------------------


def test_the_queue_shows_clocks_filters_and_unread_notices(app, client, session, users, case, settings, lanshan_site):
    other = routed(app, session, settings, lanshan_site, phone="13912340001")
    login(client, users["staff"])
    page = client.get("/console/").get_data(as_text=True)
    assert case.ticket_no in page and other.ticket_no in page
    assert "签收 · 剩余" in page and "139****5678" in page
    assert "2 条未读" in page  # the two new-case notices
    client.post("/console/inbox/read", data={"csrf_token": csrf_token(page)})
    assert "条未读" not in client.get("/console/").get_data(as_text=True)
    listed = {query: queue_table(client.get(f"/console/?{query}").get_data(as_text=True))
              for query in ("supervised=1", "status=closed", "overdue=1", "status=routed", "county=371311")}
    assert {query: case.ticket_no in table for query, table in listed.items()} == {
        "supervised=1": False, "status=closed": False, "overdue=1": False, "status=routed": True,
        "county=371311": False}


# --- phone and walk-in intake ----------------------------------------------------------------------------


def test_a_phone_complaint_typed_in_by_staff_is_routed_and_the_worker_gets_a_receipt(app, client, session, users,
                                                                                      lanshan_site):
    login(client, users["staff"])
    page = client.get("/console/intake").get_data(as_text=True)
    form = {"csrf_token": csrf_token(page), "submission_key": "b" * 32, "channel": "phone", "name": "李四",
            "phone": "139 1234 0002", "county": "371302", "site_code": lanshan_site.code, "project_name": "阳光城三期",
            "workers": "2", "amount": "8000", "free_text": "电话反映：老板拖欠两个人两个月工资"}
    done = client.post("/console/intake", data=form)
    assert "已登记，受理编号" in flashed(client, done)
    again = client.post("/console/intake", data=form)  # a double click: still one complaint
    assert again.status_code == 303
    (complaint,) = session.scalars(select(Complaint).where(Complaint.channel == "phone")).all()
    assert complaint.site_id == lanshan_site.id and complaint.amount == 8000
    worker_pass(app)
    (receipt,) = outbox(session, complaint, "worker_received")
    assert (receipt.destination, receipt.phone) == (sms_destination("13912340002"), "13912340002")
    assert "intake" in audit_actions(session, users["staff"])


def test_a_walk_in_without_a_phone_is_stored_and_nobody_is_texted(app, client, session, users):
    login(client, users["county"])
    page = client.get("/console/intake").get_data(as_text=True)
    bad = client.post("/console/intake", data={"csrf_token": csrf_token(page), "submission_key": "c" * 32,
                                               "channel": "walk_in", "county": "", "project_name": "",
                                               "free_text": ""})
    text = bad.get_data(as_text=True)
    assert "请选择区县" in text and "请记录工人反映的情况" in text and "请填写姓名" in text
    done = client.post("/console/intake", data={"csrf_token": csrf_token(page), "submission_key": "c" * 32,
                                                "channel": "walk_in", "anonymous": "y", "county": "371302",
                                                "project_name": "某小区工地", "free_text": "来访：欠薪"})
    assert done.status_code == 303
    (complaint,) = session.scalars(select(Complaint).where(Complaint.channel == "walk_in")).all()
    worker_pass(app)
    assert outbox(session, complaint, "worker_received") == []
    assert outbox(session, complaint, "new_case") != []  # the department still hears of it


def test_an_extension_asked_by_staff_moves_the_deadline_when_the_head_approves(app, session, users, case):
    staff, head = app.test_client(), app.test_client()
    login(staff, users["staff"])
    login(head, users["head"])
    for action in ("acknowledge", "accept"):
        act(staff, case.ticket_no, action)
    before = reload(session, case).deadlines["reply"]["due"]
    too_long = act(staff, case.ticket_no, "request_extension", clock="reply", days="x", reason="调取记录")
    assert "延期天数请填整数" in flashed(staff, too_long)
    act(staff, case.ticket_no, "request_extension", clock="reply", days="5", reason="需调取工程款拨付记录")
    asked = head.get(f"/console/cases/{case.ticket_no}").get_data(as_text=True)
    shown = asked.split('class="asked">')[1].split("</p>")[0]
    assert "延长 5 个工作日" in shown and "需调取工程款拨付记录" in shown and "“办理答复”" in shown, shown
    assert "staff:ls_staff" not in asked  # the timeline names the person and the department, not the account id
    declined = act(head, case.ticket_no, "decide_extension", approve="no")
    assert "请填写不同意的理由" in flashed(head, declined)
    act(head, case.ticket_no, "decide_extension", approve="yes")
    complaint = reload(session, case)
    assert complaint.deadlines["reply"]["due"] > before
    assert [e.data.get("approved_by") for e in complaint.events if e.kind == "clock_extended"] == ["staff:ls_head"]


def test_the_chat_that_led_to_a_wechat_case_is_shown_to_staff(app, client, session, users, settings, lanshan_site):
    complaint = routed(app, session, settings, lanshan_site, channel="wechat", user="openid-7")
    session.add_all([
        InboundMessage(channel="wechat", provider_message_id="m1", sender="openid-7",
                       payload={"Content": "老板欠我们三个人一万二"}, reply="请问您叫什么名字？",
                       received_at=complaint.created_at - timedelta(minutes=5)),
        InboundMessage(channel="wechat", provider_message_id="m2", sender="openid-8",
                       payload={"Content": "别人的消息"}, reply="", received_at=complaint.created_at)])
    session.commit()
    login(client, users["staff"])
    page = case_page(client, complaint.ticket_no).get_data(as_text=True)
    assert "对话记录" in page and "请问您叫什么名字？" in page and "别人的消息" not in page


def test_a_closed_case_is_reopened_by_a_supervisor_and_the_worker_is_told(app, session, users, case):
    staff, county = app.test_client(), app.test_client()
    login(staff, users["staff"])
    login(county, users["county"])
    for action, fields in (("acknowledge", {}), ("accept", {}),
                           ("resolve", {"outcome": "已支付", "amount_recovered": "12000"})):
        act(staff, case.ticket_no, action, **fields)
    act(county, case.ticket_no, "close_override", reason="工人电话确认已收到")
    assert reload(session, case).status == Status.CLOSED.value
    assert "重新办理" not in case_page(staff, case.ticket_no).get_data(as_text=True)
    act(county, case.ticket_no, "reopen", reason="工人反映只收到一半")
    complaint = reload(session, case)
    assert complaint.status == Status.REOPENED.value and "reply" in complaint.deadlines
    assert outbox(session, complaint, "worker_reopened") != []


def test_an_internal_note_is_kept_for_staff_and_never_reaches_the_worker(app, client, session, users, case):
    login(client, users["staff"])
    act(client, case.ticket_no, "note", note="老板电话已打不通，明天去工地")
    page = client.get(f"/console/cases/{case.ticket_no}").get_data(as_text=True)
    assert "老板电话已打不通" in page and "仅工作人员可见" in page
    complaint = reload(session, case)
    (note,) = [e for e in complaint.events if e.kind == "note_added"]
    assert note.actor == f"staff:{users['staff']}"
    assert event_text(note) is None  # the worker's status page never shows it
    assert [m for m in session.scalars(select(Outbox).where(Outbox.complaint_id == case.id))
            if "老板电话已打不通" in m.payload.get("text", "")] == []
    empty = act(client, case.ticket_no, "note", note="   ")
    assert "请填写" in flashed(client, empty)


def test_an_officer_takes_a_case_hands_it_on_and_the_queue_shows_mine_and_unassigned(app, client, session, users,
                                                                                      case):
    staff, head = app.test_client(), app.test_client()
    login(staff, users["staff"])
    login(head, users["head"])
    def queue(client_, officer):
        page = client_.get(f"/console/?officer={officer}").get_data(as_text=True)
        return page.split('<table class="queue">')[1].split("</table>")[0]

    assert case.ticket_no in queue(staff, "none") and "承办人：未指定" in staff.get(f"/console/cases/{case.ticket_no}").get_data(
        as_text=True)
    act(staff, case.ticket_no, "take")
    complaint = reload(session, case)
    me = session.scalar(select(StaffUser).where(StaffUser.username == users["staff"]))
    assert complaint.officer_id == me.id
    assert case.ticket_no in queue(staff, "mine")
    assert case.ticket_no not in queue(staff, "none")
    assert case.ticket_no not in queue(head, "mine")
    head_user = session.scalar(select(StaffUser).where(StaffUser.username == users["head"]))
    act(staff, case.ticket_no, "assign", officer_id=str(head_user.id))
    assert reload(session, case).officer_id == head_user.id
    other = session.scalar(select(StaffUser).where(StaffUser.username == users["other_staff"]))
    refused = act(head, case.ticket_no, "assign", officer_id=str(other.id))  # another department's clerk
    assert "本案承办部门" in flashed(head, refused) and reload(session, case).officer_id == head_user.id
    act(head, case.ticket_no, "release")
    complaint = reload(session, case)
    assert complaint.officer_id is None
    assert [e.note for e in complaint.events if e.kind == "assigned"][-1] == "交回部门，暂无承办人"
    assert session.scalars(select(AuditEntry).where(AuditEntry.ticket_no == case.ticket_no,
                                                    AuditEntry.action == "case_action")).all()


def test_approximate_figures_are_shown_as_such(client, session, users, case):
    """"十几个人，每人三千多" is about 10 workers and about 30,000 yuan: staff see 约, not a precise sum."""
    case.claim = {**case.claim, "workers_approximate": True, "amount_approximate": True, "amount_per_person": 3000}
    case.workers, case.amount = 10, 30000
    session.commit()
    login(client, users["staff"])
    page = case_page(client, case.ticket_no).get_data(as_text=True)
    assert "约 10 人" in page and "约 30,000 元（每人 3,000 元）" in page


# Statements per queue page of a department user (log-in check, the account with its department and county in one
# query, the page's cases with their sites, workers and departments, the inbox, unanswered messages, petitions on
# the page's cases, the department's officers for bulk assignment; the county list from the process's cache),
# pinned: it took 16 before the account and the county list were cut.
QUEUE_STATEMENTS = 13


def test_the_queue_page_costs_the_same_few_statements_however_many_cases_it_shows(app, client, session, settings,
                                                                                   users):
    login(client, users["other_staff"])  # 兰山区 人社, which the sites' cases go to
    client.get("/console/")  # the process's caches (the county list) filled
    engine, seen = services(app).engine, []

    def count(*_args):
        seen.append(1)

    shown = []
    for cases_wanted in (2, 8):
        while len(shown) < cases_wanted:
            shown.append(routed(app, session, settings, make_site(session, f"沂河新城{len(shown)}期")).ticket_no)
        seen.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            page = client.get("/console/").get_data(as_text=True)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert all(ticket in page for ticket in shown)
        assert len(seen) <= QUEUE_STATEMENTS, len(seen)


# A case page: the log-in, the case with its timeline, lines, attachments and site, the worker, the roster's
# pre-filled lines, the enforcement rows and co-handlers (each loaded once, however many there are and however
# many action rules read them), petitions, canned replies, officers. It took 34 before the enforcement rows and
# co-handlers became relationships of the case.
CASE_STATEMENTS = 27


def test_a_case_page_reads_each_kind_of_row_once_however_many_there_are(app, client, session, settings, users):
    login(client, users["other_staff"])  # 兰山区 人社, which the sites' cases go to
    case = routed(app, session, settings, make_site(session, "沂河新城一期"))
    engine, seen = services(app).engine, []

    def count(*_args):
        seen.append(1)

    for _ in range(2):
        seen.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            page = case_page(client, case.ticket_no).get_data(as_text=True)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert case.ticket_no in page and len(seen) <= CASE_STATEMENTS, len(seen)
        for n in range(3):  # the second page shows three of each
            case.payment_orders.append(PaymentOrder(employer=f"劳务公司{n}", amount=5000, due_at=utcnow(),
                                                    compensation_percent=50, state="expired", issued_by="staff:x"))
            case.plan_steps.append(PlanStep(what=f"第{n}步", owner="住建局", due_at=utcnow(), added_by="staff:x"))
        session.commit()
    assert page.count("劳务公司") >= 3 and page.count("住建局") >= 3
