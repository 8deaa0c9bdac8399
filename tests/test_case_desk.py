"""The case desk's everyday tools through the console's HTTP routes: canned replies, bulk actions on the queue,
duplicates, staff documents, the signed oral-complaint record."""
from __future__ import annotations

import csv
import html
import io
import re
from datetime import timedelta
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from fpdf import FPDF
from sqlalchemy import func, select

from intake.delivery.outbox import address
from intake.enforcement.evidence import verify
from intake.foundation.models import (
    Attachment,
    AuditEntry,
    CannedReply,
    Complaint,
    DailyTally,
    Finding,
    StaffUser,
    Timer,
    utcnow,
)
from intake.registry.directory import department
from tests.helpers import (
    act,
    case_page,
    csrf_token,
    exported,
    flashed,
    invoke,
    jpeg,
    login,
    make_site,
    outbox,
    pdf_text,
    reload,
    routed,
    worker_pass,
)


@pytest.fixture
def case(app, session, settings, lanshan_site):
    """A routed case of 兰山区住建局 (the department of make_accounts' staff and head)."""
    return routed(app, session, settings, lanshan_site)


def post_form(client, page_url: str, url: str, **fields):
    """A POST from a console page, with that page's CSRF token."""
    token = csrf_token(client.get(page_url).get_data(as_text=True))
    return client.post(url, data={"csrf_token": token, **fields})


def message_box(page: str) -> str:
    """What the message form's text box holds."""
    form = page.split('/actions/message"')[1]
    return html.unescape(re.search(r'<textarea name="text"[^>]*>(.*?)</textarea>', form, re.S).group(1))


# --- canned replies -----------------------------------------------------------------------------------------


def test_a_canned_reply_fills_the_message_with_the_cases_ticket_and_deadline(app, client, session, settings, users,
                                                                             case):
    login(client, users["staff"])
    added = post_form(client, "/console/replies", "/console/replies", title="已签收",
                      text="您的投诉{编号}已由{部门}签收，我们会在{期限}前联系您。")
    assert "已添加常用回复" in flashed(client, added)
    (reply,) = session.scalars(select(CannedReply)).all()

    page = case_page(client, case.ticket_no).get_data(as_text=True)
    assert "常用回复：" in page and message_box(page) == ""
    picked = client.get(f"/console/cases/{case.ticket_no}?reply={reply.id}").get_data(as_text=True)
    complaint = reload(session, case)
    due = complaint.next_due_at.astimezone(ZoneInfo(settings.calendar.timezone))
    assert message_box(picked) == (f"您的投诉{case.ticket_no}已由{complaint.department.name}签收，"
                                   f"我们会在{due.year}年{due.month}月{due.day}日前联系您。")

    edited = message_box(picked) + "如有新情况请直接回复。"
    token = csrf_token(picked)
    version = re.search(r'name="version" value="(\d+)"', picked).group(1)
    client.post(f"/console/cases/{case.ticket_no}/actions/message",
                data={"csrf_token": token, "version": version, "text": edited})
    (sent,) = outbox(session, case, "worker_message")
    assert case.ticket_no in sent.payload["text"] and "如有新情况请直接回复" in sent.payload["text"]
    assert "{" not in sent.payload["text"]


def test_canned_replies_are_the_departments_own(app, session, users, case):
    staff, other = app.test_client(), app.test_client()
    login(staff, users["staff"])
    login(other, users["other_staff"])  # 兰山区人社局: another department
    post_form(other, "/console/replies", "/console/replies", title="人社局的", text="请到人社局一楼窗口")
    (theirs,) = session.scalars(select(CannedReply)).all()

    assert "人社局的" not in staff.get("/console/replies").get_data(as_text=True)
    page = staff.get(f"/console/cases/{case.ticket_no}?reply={theirs.id}").get_data(as_text=True)
    assert "人社局的" not in page and message_box(page) == ""
    assert post_form(staff, "/console/replies", f"/console/replies/{theirs.id}/delete").status_code == 404
    assert session.scalars(select(CannedReply)).all() != []
    deleted = post_form(other, "/console/replies", f"/console/replies/{theirs.id}/delete")
    assert "已删除" in flashed(other, deleted)
    session.expire_all()
    assert session.scalars(select(CannedReply)).all() == []
    assert [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.action.like("canned_reply%"))
                                              .order_by(AuditEntry.id))] == ["canned_reply_added",
                                                                              "canned_reply_removed"]


@pytest.mark.parametrize("title, text, said", [
    ("", "内容", "请填写标题和回复内容"),
    ("一二三四五六七八九十一二三四五六七八九十一", "内容", "标题最多 20 个字"),
    ("过长", "字" * 301, "回复内容最多 300 个字"),
    ("占位符", "请于{日期}前到窗口", "不认识的占位符：日期"),
])
def test_a_bad_canned_reply_is_refused_with_the_reason_and_nothing_is_kept(client, session, users, title, text,
                                                                           said):
    login(client, users["staff"])
    refused = post_form(client, "/console/replies", "/console/replies", title=title, text=text)
    assert refused.status_code == 303 and said in flashed(client, refused)
    assert session.scalars(select(CannedReply)).all() == []


def test_a_supervisor_without_a_department_is_told_replies_are_kept_by_departments(client, users):
    login(client, users["county"])
    assert "不属于某个部门" in client.get("/console/replies").get_data(as_text=True)
    assert post_form(client, "/console/replies", "/console/replies", title="t", text="x").status_code == 403


# --- bulk actions on the queue ------------------------------------------------------------------------------


def ticked(client, *complaints) -> list[str]:
    """The queue's checkbox values of these cases, as the page shows them (ticket and version)."""
    page = client.get("/console/").get_data(as_text=True)
    values = re.findall(r'name="case" value="([^"]+)"', page)
    return [v for v in values if v.split("@")[0] in {c.ticket_no for c in complaints}]


def test_bulk_acknowledge_takes_each_case_through_its_own_rule_and_says_which_failed(app, client, session, settings,
                                                                                    users, lanshan_site):
    first, second, done_before = (routed(app, session, settings, lanshan_site, phone=f"1391234567{n}")
                                  for n in range(3))
    login(client, users["staff"])
    picked = ticked(client, first, second, done_before)
    assert len(picked) == 3
    act(client, done_before.ticket_no, "acknowledge")  # someone signed for it after the queue was shown
    response = post_form(client, "/console/", "/console/bulk", action="acknowledge", case=picked)
    page = flashed(client, response)
    assert "已签收 2 件：" in page and first.ticket_no in page and second.ticket_no in page
    assert f"未能签收 {done_before.ticket_no}：案件刚刚被其他人更新过" in page
    for complaint in (first, second, done_before):
        assert reload(session, complaint).status == "acknowledged"
    audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "case_action")).all()
    assert sorted(e.ticket_no for e in audited) == sorted([first.ticket_no, second.ticket_no,
                                                           done_before.ticket_no])

    again = post_form(client, "/console/", "/console/bulk", action="acknowledge",
                      case=ticked(client, first))
    assert "不能签收" in flashed(client, again)  # the status no longer offers it; the reason is given


def test_bulk_assign_names_the_officer_on_each_case_in_scope_and_refuses_the_rest(app, client, session, settings,
                                                                                 users, lanshan_site, case):
    other = routed(app, session, settings, lanshan_site, phone="13700000001")
    login(client, users["head"])
    clerk = session.scalar(select(StaffUser).where(StaffUser.username == users["staff"]))
    picked = ticked(client, case, other) + ["LY0000000000@1"]
    response = post_form(client, "/console/", "/console/bulk", action="assign", officer_id=str(clerk.id),
                         case=picked)
    page = flashed(client, response)
    assert "已指定承办人 2 件" in page and "未能指定承办人 LY0000000000：找不到这个案件" in page
    assert reload(session, case).officer_id == clerk.id and reload(session, other).officer_id == clerk.id
    assert [e.note for e in reload(session, case).events if e.kind == "assigned"] == [f"承办人：{clerk.display_name}"]


def test_a_bulk_action_with_nothing_ticked_or_no_action_changes_nothing(client, session, users, case):
    login(client, users["staff"])
    nothing = post_form(client, "/console/", "/console/bulk", action="acknowledge")
    assert "请勾选要处理的案件" in flashed(client, nothing)
    unknown = post_form(client, "/console/", "/console/bulk", action="close_override", case=ticked(client, case))
    assert "请选择要执行的操作" in flashed(client, unknown)
    assert reload(session, case).status == "routed"
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "case_action")).all() == []


# --- duplicates ---------------------------------------------------------------------------------------------


@pytest.fixture
def filed_twice(app, session, settings, lanshan_site):
    """The same worker's two routed complaints about one site (same phone, same site): the survivor and its
    duplicate."""
    return routed(app, session, settings, lanshan_site), routed(app, session, settings, lanshan_site)


@pytest.fixture
def head(app, users):
    client = app.test_client()
    login(client, users["head"])
    return client


def received_tally(session) -> int:
    """Cases received as the figures count them (the daily tallies every figure reads)."""
    session.expire_all()
    return session.scalar(select(func.coalesce(func.sum(DailyTally.received), 0))
                          .where(DailyTally.kind == "received"))


def open311_status(client, complaint) -> tuple[str, str]:
    """A case's status as an Open311 client reads it (the public face, no key)."""
    [request] = client.get(f"/open311/v2/requests/{complaint.ticket_no}.json").get_json()
    return request["status"], request["status_notes"]


def test_a_duplicate_stops_its_clocks_tells_the_worker_the_surviving_ticket_and_can_be_undone(
        app, session, staff, head, filed_twice):
    survivor, duplicate = filed_twice
    running = dict(reload(session, duplicate).deadlines)

    assert received_tally(session) == 2
    done = act(staff, duplicate.ticket_no, "mark_duplicate", survivor=survivor.ticket_no, reason="同一人先网上后电话")
    assert "已标为重复投诉" in flashed(staff, done)
    assert received_tally(session) == 1  # one matter, counted once in the 两个清零 figures
    marked = reload(session, duplicate)
    assert marked.duplicate_of_id == survivor.id and marked.next_due_at is None and marked.status == "duplicate"
    assert all(d["paused"] for d in marked.deadlines.values())
    queue = staff.get("/console/").get_data(as_text=True)
    assert f'class="ticket" href="/console/cases/{survivor.ticket_no}"' in queue
    assert f'class="ticket" href="/console/cases/{duplicate.ticket_no}"' not in queue  # no longer an open case
    assert "重复投诉" in case_page(staff, duplicate.ticket_no).get_data(as_text=True)
    (told,) = outbox(session, duplicate, "worker_duplicate")
    assert address(told) == "sms:13912345678" and f"以后请用编号{survivor.ticket_no}查进度" in told.payload["text"]
    page = case_page(staff, duplicate.ticket_no).get_data(as_text=True)
    assert f"重复投诉，由 {survivor.ticket_no} 继续办理" in page and "材料已收到" not in page
    assert "重复投诉并入本案" in case_page(staff, survivor.ticket_no).get_data(as_text=True)
    worker = app.test_client()
    status = worker.post("/status", data={"csrf_token": csrf_token(worker.get("/status").text),
                                          "ticket_no": duplicate.ticket_no, "phone_last4": "5678"}).text
    assert "合在一起办理" in status and "等待您补充材料" not in status
    assert open311_status(worker, duplicate) == ("closed", "和您的另一件投诉是同一件事，合在一起办理")

    assert "撤销重复标记" not in page  # a clerk marks; a head or supervisor undoes
    undone = act(head, duplicate.ticket_no, "unmark_duplicate", reason="核实后是两个不同的班组")
    assert "已撤销重复标记" in flashed(head, undone)
    back = reload(session, duplicate)
    assert back.duplicate_of_id is None and back.next_due_at is not None and back.status == "routed"
    assert open311_status(worker, duplicate)[0] == "open"
    assert {c: d["paused"] for c, d in back.deadlines.items()} == {c: False for c in running}
    assert outbox(session, duplicate, "worker_separated") != []
    assert received_tally(session) == 2
    steps = [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.ticket_no == duplicate.ticket_no))]
    assert steps.count("case_action") == 2
    assert [e.kind for e in back.events][-2:] == ["duplicate_unmarked", "clocks_resumed"]


def test_a_double_click_marks_or_undoes_a_duplicate_once_and_the_second_is_refused(session, staff, head,
                                                                                  filed_twice):
    survivor, duplicate = filed_twice
    shown = reload(session, duplicate).version
    first = act(staff, duplicate.ticket_no, "mark_duplicate", shown, survivor=survivor.ticket_no, reason="重复")
    assert "已标为重复投诉" in flashed(staff, first)
    second = act(staff, duplicate.ticket_no, "mark_duplicate", shown, survivor=survivor.ticket_no, reason="重复")
    assert second.status_code == 303 and "刚刚被其他人更新过" in flashed(staff, second)
    assert len(outbox(session, duplicate, "worker_duplicate")) == 1
    assert [e.kind for e in reload(session, duplicate).events].count("duplicate_marked") == 1

    shown = reload(session, duplicate).version
    first = act(head, duplicate.ticket_no, "unmark_duplicate", shown, reason="两个班组")
    assert "已撤销重复标记" in flashed(head, first)
    second = act(head, duplicate.ticket_no, "unmark_duplicate", shown, reason="两个班组")
    assert "刚刚被其他人更新过" in flashed(head, second)
    back = reload(session, duplicate)
    assert back.status == "routed" and [e.kind for e in back.events].count("duplicate_unmarked") == 1
    assert len(outbox(session, duplicate, "worker_separated")) == 1


def test_a_duplicate_marked_after_acceptance_returns_to_accepted_with_its_clocks(session, staff, head, filed_twice):
    survivor, duplicate = filed_twice
    act(staff, duplicate.ticket_no, "acknowledge")
    act(staff, duplicate.ticket_no, "accept")
    accepted = dict(reload(session, duplicate).deadlines)
    assert reload(session, duplicate).status == "accepted"
    act(staff, duplicate.ticket_no, "mark_duplicate", survivor=survivor.ticket_no, reason="重复")
    page = case_page(staff, duplicate.ticket_no).get_data(as_text=True)
    assert "/actions/resolve" not in page and "/actions/message" not in page  # final: nothing left to do on it
    act(head, duplicate.ticket_no, "unmark_duplicate", reason="不是同一件事")
    back = reload(session, duplicate)
    assert back.status == "accepted" and set(back.deadlines) == set(accepted)
    assert not any(d["paused"] for d in back.deadlines.values()) and back.next_due_at is not None


def test_a_supervised_duplicate_gets_its_supervision_deadline_back_when_the_mark_is_undone(
        app, session, users, filed_twice):
    survivor, duplicate = filed_twice
    county = app.test_client()
    login(county, users["county"])
    due = (utcnow() + timedelta(days=30)).date().isoformat()
    act(county, duplicate.ticket_no, "supervise", due=due, reason="涉及农民工较多")
    act(county, duplicate.ticket_no, "mark_duplicate", survivor=survivor.ticket_no, reason="重复")

    def supervision(complaint) -> list[bool]:
        """Whether each pending 挂牌督办 timer would fire for the case as it is now (set for its version)."""
        back = reload(session, complaint)
        return [t.version == back.version for t in session.scalars(select(Timer).where(
            Timer.complaint_id == complaint.id, Timer.clock == "supervise:due", Timer.state == "pending"))]

    assert supervision(duplicate) == [False]  # a duplicate is not chased
    act(county, duplicate.ticket_no, "unmark_duplicate", reason="不是同一件事")
    assert supervision(duplicate) == [True]


@pytest.mark.parametrize("other, said", [
    ("self", "不能标为自己的重复投诉"),
    ("stranger", "不是同一位工人的投诉"),
    ("elsewhere", "不是同一个工地的投诉"),
    ("LY0000000000", "找不到这个投诉编号"),
    ("far", "找不到这个投诉编号"),
])
def test_a_complaint_of_another_worker_or_site_is_not_a_duplicate(app, client, session, settings, users,
                                                                   lanshan_site, case, other, said):
    others = {
        "self": case,
        "stranger": routed(app, session, settings, lanshan_site, phone="13800000002"),
        "elsewhere": routed(app, session, settings, make_site(session, "沂河花园", "兰山区滨河路1号")),
        "far": routed(app, session, settings, None),
    }
    others["elsewhere"].department_id = case.department_id  # in the clerk's scope, only the site differs
    far = others["far"]
    far.department_id, far.jurisdiction_code = department(session, "371311", "housing").id, "371311"
    session.commit()
    login(client, users["staff"])
    ticket = others[other].ticket_no if other in others else other
    refused = act(client, case.ticket_no, "mark_duplicate", survivor=ticket, reason="重复")
    assert said in flashed(client, refused)
    complaint = reload(session, case)
    assert complaint.duplicate_of_id is None and complaint.next_due_at is not None
    assert outbox(session, case, "worker_duplicate") == []


# --- merges (并案) and their undoing ---------------------------------------------------------------------------


def test_a_supervisor_undoes_a_merge_of_two_collectives_and_each_complaint_goes_back_where_it_was(
        app, session, settings, users):
    a, a2, b, b2 = (routed(app, session, settings, make_site(session, f"工地{n}", f"兰山区路{n}号"),
                           phone=f"1380000000{n}") for n in range(4))
    county, clerk = app.test_client(), app.test_client()
    login(county, users["county"])
    login(clerk, users["other_staff"])  # 兰山区人社局, which holds these cases
    act(county, a.ticket_no, "merge_collective", other=a2.ticket_no, reason="同一包工头")
    act(county, b.ticket_no, "merge_collective", other=b2.ticket_no, reason="同一劳务公司")
    x, y = reload(session, a).collective_id, reload(session, b).collective_id
    assert x != y and reload(session, a2).collective_id == x and reload(session, b2).collective_id == y
    merged = act(county, a.ticket_no, "merge_collective", other=b.ticket_no, reason="包工头挂靠该劳务公司")
    assert "共 4 件投诉" in flashed(county, merged)
    assert {reload(session, c).collective_id for c in (a, a2, b, b2)} == {y}

    assert "撤销并案" not in case_page(clerk, a.ticket_no).get_data(as_text=True)
    assert act(clerk, a.ticket_no, "unmerge_collective", reason="查明不是").status_code == 403
    assert {reload(session, c).collective_id for c in (a, a2, b, b2)} == {y}

    undone = act(county, a2.ticket_no, "unmerge_collective", reason="查明包工头与劳务公司无关")
    page = flashed(county, undone)
    assert "已撤销并案" in page and "共 2 件投诉" in page
    assert [reload(session, c).collective_id for c in (a, a2, b, b2)] == [x, x, y, y]
    assert "共 2 件投诉" in case_page(county, b.ticket_no).get_data(as_text=True)
    again = act(county, a2.ticket_no, "unmerge_collective", reason="再点一次")
    assert "没有可以撤销的人工并案" in flashed(county, again)
    assert [reload(session, c).collective_id for c in (a, a2, b, b2)] == [x, x, y, y]
    steps = [d["step"] for d in session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "case_action"))]
    assert steps.count("unmerge_collective") == 1
    kinds = [e.kind for e in reload(session, a).events]
    assert kinds[-1] == "collective_unmerged"
    assert "/actions/unmerge_collective" not in case_page(county, a.ticket_no).get_data(as_text=True)
    assert "/actions/split_collective" in case_page(county, a.ticket_no).get_data(as_text=True)


# --- transfer (转办) ------------------------------------------------------------------------------------------


def test_a_transfer_from_the_console_tells_the_worker_the_new_department_in_plain_words(app, session, users, case):
    hrss = department(session, "371302", "hrss")
    county = app.test_client()
    login(county, users["county"])
    done = act(county, case.ticket_no, "transfer", department_id=str(hrss.id), reason="属于劳动保障监察，内部分工")
    assert "转办" in flashed(county, done)
    assert reload(session, case).department_id == hrss.id
    (told,) = outbox(session, case, "worker_transferred")
    assert address(told) == "sms:13912345678"
    assert told.payload["text"] == f"【清零】编号{case.ticket_no}已转给{hrss.name}办理，他们会尽快联系您。"
    worker = app.test_client()
    status = worker.post("/status", data={"csrf_token": csrf_token(worker.get("/status").text),
                                          "ticket_no": case.ticket_no, "phone_last4": "5678"}).text
    assert "已转给更合适的部门办理" in status and "内部分工" not in status


# --- staff documents ----------------------------------------------------------------------------------------


def a_pdf(text: str = "Interview record") -> bytes:
    document = FPDF()
    document.add_page()
    document.set_font("helvetica", size=12)
    document.cell(text=text)
    return bytes(document.output())


def upload(client, ticket_no: str, content: bytes, filename: str, kind: str = "interview"):
    token = csrf_token(case_page(client, ticket_no).get_data(as_text=True))
    return client.post(f"/console/cases/{ticket_no}/documents", content_type="multipart/form-data",
                       data={"csrf_token": token, "kind": kind, "document": (BytesIO(content), filename)})


def staff_files(session, complaint) -> list[Attachment]:
    session.expire_all()
    return session.scalars(select(Attachment).where(Attachment.complaint_id == complaint.id,
                                                    Attachment.added_by.is_not(None))).all()


def test_a_staff_document_is_listed_served_in_scope_sealed_and_counted_in_the_ledger(app, client, session, users,
                                                                                     case):
    login(client, users["staff"])
    record = a_pdf()
    done = upload(client, case.ticket_no, record, "询问笔录.pdf")
    assert "已上传询问笔录：询问笔录.pdf" in flashed(client, done)
    assert "已上传盖章扫描件" in flashed(client, upload(client, case.ticket_no, jpeg(), "scan.jpg", "scan"))
    pdf, scan = staff_files(session, case)
    assert (pdf.label, pdf.added_by, pdf.content) == ("询问笔录", f"staff:{users['staff']}", record)

    page = case_page(client, case.ticket_no).get_data(as_text=True)
    documents = page.split('id="documents"')[1].split("</section>")[0]
    assert "询问笔录.pdf" in documents and "scan.jpg" in documents and "证据照片" not in page
    served = client.get(f"/console/cases/{case.ticket_no}/photos/{pdf.id}")
    assert served.data == record and served.headers["Content-Type"] == "application/pdf"
    assert served.headers["Content-Disposition"].startswith("attachment;")
    outsider = app.test_client()
    login(outsider, users["far_staff"])
    assert outsider.get(f"/console/cases/{case.ticket_no}/photos/{pdf.id}").status_code == 404

    sealed = [e for e in reload(session, case).events if e.kind == "evidence_stored"]
    assert [e.data["sha256"] for e in sealed] == [pdf.sha256, scan.sha256]
    assert verify(session, case.ticket_no).findings == []
    assert [e.action for e in session.scalars(select(AuditEntry).where(AuditEntry.action == "document_added"))] \
        == ["document_added", "document_added"]

    head = app.test_client()
    login(head, users["head"])
    header, *rows = list(csv.reader(io.StringIO(exported(app, head, "/console/ledger.csv").data.decode("utf-8-sig"))))
    (row,) = [r for r in rows if r[header.index("投诉编号")] == case.ticket_no]
    assert row[header.index("办案材料（份）")] == "2"


@pytest.mark.parametrize("content, filename, said", [
    (b"just some text, renamed", "笔录.pdf", "不是照片"),
    (a_pdf()[:400], "cut.pdf", "不是完整的 PDF"),
    (a_pdf().replace(b"/Type /Catalog", b"/Type /Catalog /Names << /JavaScript 9 0 R >>"), "js.pdf", "脚本"),
    (b"%PDF-1.7\n" + b"0" * (20 * 1024 * 1024), "huge.pdf", "不能超过 20 MB"),
    (b"", "empty.pdf", "是空文件"),
])
def test_a_file_that_is_no_real_pdf_or_image_is_refused_and_nothing_is_stored(client, session, users, case, content,
                                                                               filename, said):
    login(client, users["staff"])
    refused = upload(client, case.ticket_no, content, filename)
    assert refused.status_code == 303 and said in flashed(client, refused)
    assert staff_files(session, case) == []
    assert [e for e in reload(session, case).events if e.kind == "evidence_stored"] == []


def test_only_staff_of_the_case_add_documents_and_a_kind_must_be_chosen(app, client, session, users, case):
    login(client, users["staff"])
    assert "请选择材料类别" in flashed(client, upload(client, case.ticket_no, a_pdf(), "a.pdf", "poster"))
    other = app.test_client()
    login(other, users["other_staff"])
    token = csrf_token(other.get("/console/").get_data(as_text=True))
    refused = other.post(f"/console/cases/{case.ticket_no}/documents", content_type="multipart/form-data",
                         data={"csrf_token": token, "kind": "other", "document": (BytesIO(a_pdf()), "a.pdf")})
    assert refused.status_code == 404
    assert staff_files(session, case) == []


# --- the signed oral-complaint record -----------------------------------------------------------------------


def test_a_walk_in_complaint_prints_as_a_record_for_the_worker_to_sign(app, client, session, users, lanshan_site,
                                                                       tmp_path):
    login(client, users["staff"])
    page = client.get("/console/intake").get_data(as_text=True)
    client.post("/console/intake", data={
        "csrf_token": csrf_token(page), "submission_key": "d" * 32, "channel": "walk_in", "name": "李四",
        "phone": "13912340002", "id_number": "11010519491231002X", "county": "371302",
        "site_code": lanshan_site.code, "project_name": "阳光城三期", "workers": "2", "amount": "8000",
        "months": "2", "free_text": "来访反映：老板拖欠我们两个人两个月工资"})
    (walk_in,) = session.scalars(select(Complaint).where(Complaint.channel == "walk_in")).all()
    worker_pass(app)

    assert "打印口头投诉记录" in case_page(client, walk_in.ticket_no).get_data(as_text=True)
    response = client.get(f"/console/cases/{walk_in.ticket_no}/oral-record.pdf")
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/pdf"
    text = re.sub(r"\s+", "", pdf_text(response.data))
    for fact in ("口头投诉记录", walk_in.ticket_no, "来访", "李四", "11010519491231002X", "13912340002",
                 lanshan_site.name, "2人", "8,000元", "2个月", "老板拖欠我们两个人两个月工资", "与本人所述一致",
                 "投诉人（签字或按手印）", "记录人", "ls_staff"):
        assert fact in text, fact
    assert "oral_record" in [e.action for e in session.scalars(select(AuditEntry))]

    signed = upload(client, walk_in.ticket_no, jpeg(), "signed.jpg", "oral")
    assert "已上传口头投诉记录（签字）" in flashed(client, signed)


def test_only_an_oral_complaint_has_a_record_and_only_its_holders_print_it(app, client, session, users, case):
    login(client, users["staff"])
    assert "打印口头投诉记录" not in case_page(client, case.ticket_no).get_data(as_text=True)
    assert client.get(f"/console/cases/{case.ticket_no}/oral-record.pdf").status_code == 404  # came by the web form
    case.channel = "phone"
    session.commit()
    outsider = app.test_client()
    login(outsider, users["other_staff"])
    assert outsider.get(f"/console/cases/{case.ticket_no}/oral-record.pdf").status_code == 404
    assert client.get(f"/console/cases/{case.ticket_no}/oral-record.pdf").status_code == 200


# --- backlog and 摸排 import --------------------------------------------------------------------------------


BACKLOG = """来源,原编号,收到日期,所在区县,承办部门,工人姓名,手机号,项目名称,欠薪单位,人数,欠薪金额,原状态,情况,发现人
陈案,兰山2025-017,2025-03-02,兰山区,住建局,王五,13900001111,阳光城二期,临沂某劳务公司,12,360000,已受理,春节前欠薪至今未付,
摸排,MP-0003,{recent},兰山,人社局,,,沂河路厂房,某建材厂,5,80000,,工人口头反映，未投诉,县人社局监察大队张三
"""


def test_backlog_rows_come_in_as_cases_with_their_dates_and_survey_rows_go_to_the_register_of_findings(
        app, client, session, settings, users, tmp_path):
    recent = (utcnow() - timedelta(days=1)).astimezone(ZoneInfo(settings.calendar.timezone)).date()
    sheet = tmp_path / "backlog.csv"
    sheet.write_bytes(BACKLOG.format(recent=recent.isoformat()).encode("gb18030"))  # as Excel saves it in China
    result = invoke(app, "backlog", "import", str(sheet))
    assert result.exit_code == 0, result.output
    assert "已导入陈案 1 件，摸排线索 1 条" in result.output
    (old,) = session.scalars(select(Complaint).order_by(Complaint.id)).all()  # the 摸排 row is no case

    assert (old.channel, old.status, old.department.name) == ("backlog", "routed", department(
        session, "371302", "housing").name)
    zone = ZoneInfo(settings.calendar.timezone)
    assert old.created_at.astimezone(zone).date().isoformat() == "2025-03-02"
    assert old.claim["imported"]["reference"] == "兰山2025-017" and old.claim["imported"]["state"] == "已受理"
    assert old.next_due_at < utcnow()  # its clocks ran from 2025: overdue at once
    overdue = [e for e in old.events if e.kind == "clock_overdue"]
    assert overdue and all(e.data["imported"] for e in overdue)
    assert outbox(session, old) == []  # no card and no message for an old case coming in
    (found,) = session.scalars(select(Finding)).all()
    assert (found.jurisdiction_code, found.place, found.employer, found.amount, found.workers, found.found_on,
            found.found_by, found.status) == ("371302", "沂河路厂房", "某建材厂", 80000, 5, recent,
                                              "县人社局监察大队张三", "open")

    login(client, users["staff"])
    page = case_page(client, old.ticket_no).get_data(as_text=True)
    assert "陈案导入" in page and "原编号兰山2025-017" in page
    assert "某建材厂" in client.get("/console/findings").get_data(as_text=True)
    county = app.test_client()
    login(county, users["county"])
    ledger = exported(app, county, "/console/ledger.csv", start="2025-01-01").data.decode("utf-8-sig")
    header, *rows = list(csv.reader(io.StringIO(ledger)))
    by_ticket = {r[header.index("投诉编号")]: r for r in rows}
    assert by_ticket[old.ticket_no][header.index("来源渠道")] == "陈案导入"
    assert by_ticket[old.ticket_no][header.index("收到时间")].startswith("2025-03-02")

    again = invoke(app, "backlog", "import", str(sheet))
    assert "已导入陈案 0 件，摸排线索 0 条，之前已导入 2 行" in again.output
    assert len(session.scalars(select(Complaint)).all()) == 1 and len(session.scalars(select(Finding)).all()) == 1


def test_a_backlog_file_with_a_bad_row_imports_nothing_and_says_where(app, session, tmp_path):
    sheet = tmp_path / "backlog.csv"
    sheet.write_text("原编号,收到日期,所在区县,承办部门,手机号,项目名称,人数\n"
                     "A1,2025-03-02,兰山区,住建局,13900001111,阳光城,3\n"
                     "A2,2025-13-40,火星区,税务局,12345,沂河路,三个\n"
                     "A1,2025-03-02,兰山区,住建局,,阳光城,3\n", encoding="utf-8")
    result = invoke(app, "backlog", "import", str(sheet))
    assert result.exit_code == 1 and "没有导入任何案件" in result.output
    assert "第3行 [收到日期]" in result.output and "第4行 [原编号]" in result.output
    assert session.scalars(select(Complaint)).all() == []
    sheet.write_text("编号,日期\nA1,2025-03-02\n", encoding="utf-8")
    assert "不认识的表头：编号、日期" in invoke(app, "backlog", "import", str(sheet)).output


def test_the_city_administrator_imports_backlog_from_the_console_and_a_bad_file_changes_nothing(
        app, client, session, users):
    login(client, users["admin"])
    page = client.get("/console/backlog").get_data(as_text=True)
    sheet = "原编号,收到日期,所在区县,承办部门,项目名称,人数,欠薪金额\nA1,2025-03-02,兰山区,住建局,阳光城,3,9000\n"
    bad = client.post("/console/backlog", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page), "file": (BytesIO(sheet.replace("兰山区", "火星区").encode()), "b.csv")})
    assert "没有导入任何案件：第2行 [所在区县]" in flashed(client, bad)
    assert session.scalars(select(Complaint)).all() == []
    done = client.post("/console/backlog", content_type="multipart/form-data", data={
        "csrf_token": csrf_token(page), "file": (BytesIO(sheet.encode()), "b.csv")})
    assert "已导入陈案 1 件" in flashed(client, done)
    (imported,) = session.scalars(select(Complaint)).all()
    assert (imported.channel, imported.amount) == ("backlog", 9000)
    assert "backlog_import" in [e.action for e in session.scalars(select(AuditEntry))]
    staff = app.test_client()
    login(staff, users["county"])
    assert staff.get("/console/backlog").status_code == 403
