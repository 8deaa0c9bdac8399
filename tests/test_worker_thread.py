"""The worker's thread: after the receipt, what the same worker sends goes on their open case, never a new one."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from intake.case import cases
from intake.conversation import replies as R
from intake.delivery.outbox import sms_destination
from intake.foundation.models import (
    Attachment,
    Complaint,
    Event,
    EventKind,
    InboundMessage,
    Outbox,
    Status,
    Timer,
    utcnow,
)
from intake.foundation.texts import status_text
from intake.foundation.transitions import transition
from intake.reading.photos import Photo
from tests.helpers import Chat, act, case_page, ctx, login, make_accounts, outbox, routed, sms, worker_pass


def file(chat, claim="兰山区阳光城工地，老板欠我们8个人三万五"):
    chat.say(claim)
    chat.say("张三")
    if chat.phone is None:
        chat.say("13800001234")
    return chat.say("确认").ticket_no


def complaints(session):
    session.expire_all()
    return session.scalars(select(Complaint).order_by(Complaint.id)).all()


def events(session, complaint, kind):
    return session.scalars(select(Event).where(Event.complaint_id == complaint.id, Event.kind == kind)
                           .order_by(Event.id)).all()


def test_a_text_after_the_receipt_goes_on_the_case_and_the_department_hears(app, session, settings, chat_sites):
    chat = Chat(session, settings)
    ticket = file(chat)
    worker_pass(app)  # routed: the department is known
    [complaint] = complaints(session)
    reply = chat.say("老板今天给了一半钱，还差一万七")
    assert reply.text == R.FOLLOW_UP.format(ticket=ticket, department=complaint.department.name)
    assert not reply.complaint_created and len(complaints(session)) == 1
    [entry] = events(session, complaint, EventKind.WORKER_WROTE)
    assert (entry.note, entry.actor) == ("老板今天给了一半钱，还差一万七", "worker:wechat")
    told = session.scalars(select(Outbox).where(Outbox.complaint_id == complaint.id)).all()
    assert any("老板今天给了一半钱" in row.payload["text"] and row.payload["kind"] == EventKind.WORKER_WROTE
               for row in told)


def test_a_photo_the_next_day_is_evidence_on_the_case(app, session, settings, chat_sites):
    chat = Chat(session, settings)
    ticket = file(chat)
    photo = Photo("微信图片", "application/x-wechat-media-id", b"", "wechat-media:MEDIA1")
    reply = chat.say(None, attachments=[photo], after=timedelta(days=1))
    assert reply.text == R.FOLLOW_UP_PHOTOS.format(ticket=ticket, department="处理部门", count=1)
    [complaint] = complaints(session)
    [attachment] = session.scalars(select(Attachment).where(Attachment.complaint_id == complaint.id)).all()
    assert attachment.source == "wechat-media:MEDIA1" and attachment.fetch_next_at is not None


def test_a_message_while_the_case_waits_for_material_resumes_the_clocks(app, session, settings, chat_sites):
    chat = sms(session, settings)
    file(chat)
    worker_pass(app)
    [complaint] = complaints(session)
    cases.wait_for_worker(session, complaint, ctx(app), actor="test", needed="欠条照片")
    session.commit()
    chat.say("欠条明天拍给你们")
    assert session.scalar(select(Timer).where(Timer.complaint_id == complaint.id,
                                              Timer.clock == cases.MATERIAL_CLOCK)) is not None
    worker_pass(app)
    [complaint] = complaints(session)
    assert events(session, complaint, EventKind.CLOCKS_RESUMED)
    assert not any(d.get("paused") for d in complaint.deadlines.values())


def test_two_open_cases_ask_which_one_and_the_answer_keeps_the_message(app, session, settings, chat_sites):
    chat = sms(session, settings)
    first = file(chat)
    second = file(chat, "沂河花园三期欠我两万")
    reply = chat.say("老板说下周给")
    assert reply.text.startswith(R.WHICH_CASE.split("{")[0]) and second[-4:] in reply.text
    assert "沂河花园三期" in reply.text and "阳光城工地" in reply.text
    assert "还不知道" not in chat.say("还不知道是哪个").text  # not an answer: asked again, nothing lost
    reply = chat.say("2")  # the newest is offered first
    assert reply.text == R.FOLLOW_UP.format(ticket=first, department="处理部门")
    older, newer = complaints(session)
    [entry] = events(session, older, EventKind.WORKER_WROTE)
    assert entry.note == "老板说下周给\n还不知道是哪个" and not events(session, newer, EventKind.WORKER_WROTE)
    assert len(complaints(session)) == 2


def test_new_complaint_words_start_a_new_complaint(app, session, settings, chat_sites):
    chat = sms(session, settings)
    file(chat)
    assert chat.say("我要再投诉").text == R.NEW_COMPLAINT + R.WELCOME
    assert chat.say("沂河花园三期欠我两万").text == R.QUESTIONS["name"]


def test_status_question_mid_dialogue_answers_and_keeps_the_question(app, session, settings, chat_sites):
    chat = sms(session, settings)
    ticket = file(chat)
    chat.say("我要投诉")
    assert chat.say("河东区沂河花园三期").text == R.QUESTIONS["amount"]
    reply = chat.say("什么时候能拿到钱")
    assert reply.text.startswith(R.STATUS.format(ticket=ticket, status=status_text(Status.RECEIVED)))
    assert reply.text.endswith(R.STILL_ASKING.format(question=R.QUESTIONS["amount"]))
    assert "编号" in chat.say("到哪一步了").text
    assert chat.say("三万五").text == R.QUESTIONS["workers"]
    assert len(complaints(session)) == 1


def test_a_worker_message_never_lands_on_a_closed_case(app, session, settings, chat_sites):
    chat = sms(session, settings)
    file(chat)
    [complaint] = complaints(session)
    for status in (Status.ROUTED, Status.ACKNOWLEDGED, Status.ACCEPTED, Status.IN_PROGRESS, Status.RESOLVED,
                   Status.CLOSED):
        transition(session, complaint, status, actor="test")
    session.commit()
    assert chat.say("老板又欠了").text == R.WELCOME  # a new complaint begins ("老板" names nobody)
    assert not events(session, complaint, EventKind.WORKER_WROTE)


def test_confirm_is_never_taken_as_a_name(session, settings, chat_sites):
    chat = sms(session, settings)
    chat.say("兰山区阳光城工地，老板欠我们8个人三万五")
    assert chat.say("确认").text == R.NOT_UNDERSTOOD + R.QUESTIONS["name"]


def test_a_claim_about_another_county_is_a_new_complaint_not_news(app, session, settings, chat_sites):
    chat = sms(session, settings)
    file(chat)
    assert chat.say("罗庄区凤凰城工地欠我两万，就我一个").text == R.QUESTIONS["name"]
    chat.say("取消")
    assert chat.say("还差一万七没给").text == R.FOLLOW_UP.format(ticket=complaints(session)[0].ticket_no,
                                                                 department="处理部门")


def test_staff_see_the_message_reply_and_the_workers_answer_comes_back_to_the_case(app, client, session, settings,
                                                                                   lanshan_site):
    users = make_accounts(session)
    complaint = routed(app, session, settings, lanshan_site, channel="sms", user="13912345678")
    chat = sms(session, settings, phone="13912345678")
    chat.say("工头说月底才给")
    login(client, users["staff"])
    assert "新留言 1" in client.get("/console/").get_data(as_text=True)
    assert "工人新留言 1" in case_page(client, complaint.ticket_no).get_data(as_text=True)
    inbox = client.get("/console/").get_data(as_text=True)
    assert "工头说月底才给" in inbox  # the department's inbox notice quotes it
    act(client, complaint.ticket_no, "message", text="请把欠条拍照发过来")
    [sent] = outbox(session, complaint, "worker_message")
    assert sent.destination == sms_destination("13912345678") and "请把欠条拍照发过来" in sent.payload["text"]
    assert "工人新留言" not in case_page(client, complaint.ticket_no).get_data(as_text=True)
    reply = chat.say("好的，明天拍", after=timedelta(hours=2))
    assert reply.text == R.FOLLOW_UP.format(ticket=complaint.ticket_no, department=complaint.department.name)
    assert "工人新留言 1" in case_page(client, complaint.ticket_no).get_data(as_text=True)
    assert [e.note for e in events(session, complaint, EventKind.WORKER_WROTE)] == ["工头说月底才给", "好的，明天拍"]


def test_staff_replies_appear_in_the_transcript_in_order_with_the_workers_words(app, client, session, settings,
                                                                               lanshan_site):
    users = make_accounts(session)
    complaint = routed(app, session, settings, lanshan_site, channel="wechat", user="openid-7")
    filed = complaint.created_at
    session.add_all([
        InboundMessage(channel="wechat", provider_message_id="m1", sender="openid-7", received_at=filed,
                       payload={"Content": "老板欠我们三个人一万二"}, reply="请问您叫什么名字？"),
        InboundMessage(channel="wechat", provider_message_id="m2", sender="openid-7", received_at=filed,
                       payload={"Content": "工头说月底才给"}, reply="已转给办理部门。")])
    cases.take_worker_message(session, complaint, channel="wechat", text="工头说月底才给", photos=[], now=filed)
    session.commit()
    login(client, users["staff"])
    act(client, complaint.ticket_no, "message", text="请把欠条拍照发过来")
    cases.take_worker_message(session, complaint, channel="web", text="欠条在工地，明天拍了发",
                              photos=[Photo("iou.jpg", "image/jpeg", b"x", None)], now=utcnow())
    session.commit()
    page = case_page(client, complaint.ticket_no).get_data(as_text=True)
    panel = page.split("对话记录")[1].split("</section>")[0]
    said = ["老板欠我们三个人一万二", "请问您叫什么名字？", "工头说月底才给", "请把欠条拍照发过来", "欠条在工地，明天拍了发 ［照片1张］"]
    assert [panel.index(text) for text in said] == sorted(panel.index(text) for text in said)
    assert panel.count("工头说月底才给") == 1  # its inbound row and its event are one message
    assert 'class="staff">请把欠条拍照发过来' in panel and "ls_staff" in panel.split('class="staff">')[0]


def test_a_site_the_registry_does_not_know_is_kept_in_the_workers_words(session, settings, chat_sites):
    chat = sms(session, settings)
    assert chat.say("万达广场工地欠我们5个人两万").text == R.PLACE_COUNTY.format(place="万达广场工地")
    assert chat.say("兰山区").text == R.QUESTIONS["name"]
    assert chat.say("李四").text.startswith("请核对：兰山区万达广场工地，5人，欠20000元")
    chat.say("确认")
    [complaint] = complaints(session)
    assert (complaint.site_id, complaint.project_name, complaint.jurisdiction_code) == (None, "万达广场工地", "371302")
