"""The chat engine on a real database: each message is handled and committed the way a channel adapter does."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from handlers.runtime import services
from intake.conversation import replies as R
from intake.conversation.dialogue import handle_message
from intake.delivery.outbox import is_opted_out
from intake.foundation.encryption import identity
from intake.foundation.models import Attachment, Complaint, Conversation, Site
from intake.foundation.settings import ReadingSettings
from intake.foundation.transitions import transition
from intake.reading.photos import Photo
from intake.registry.sites import import_sites
from tests.helpers import CHAT_T0, SMS_PHONE, Chat, sms


def complaints(session):
    return session.scalars(select(Complaint).order_by(Complaint.id)).all()


def test_one_message_claim_is_read_back_and_filed(session, settings, chat_sites):
    chat = sms(session, settings)
    assert chat.say("兰山区阳光城工地，老板欠我们8个人三万五，我叫张三").text.startswith(
        "请核对：兰山区阳光城工地，8人，欠35000元，姓名张三，电话139****2222。")
    reply = chat.say("确认")
    assert reply.complaint_created and len(reply.ticket_no) == 12
    assert reply.text == R.SUBMITTED.format(ticket=reply.ticket_no)
    [complaint] = complaints(session)
    assert (complaint.ticket_no, complaint.channel, complaint.site_id, complaint.jurisdiction_code) == \
        (reply.ticket_no, "sms", chat_sites["yg"].id, "371302")
    assert (complaint.workers, complaint.amount, complaint.complainant.name, complaint.complainant.phone) == \
        (8, 35000, "张三", SMS_PHONE)
    assert complaint.free_text == "兰山区阳光城工地，老板欠我们8个人三万五，我叫张三"
    assert complaint.claim["employer"] is None and complaint.claim["source"] == "dialogue"
    conversation = session.scalar(select(Conversation))
    assert conversation.state == "idle" and conversation.draft == {"last_ticket": reply.ticket_no}


def test_missing_fields_are_asked_one_at_a_time(session, settings, chat_sites):
    chat = Chat(session, settings)
    assert chat.say("我要反映欠工资").text == R.WELCOME
    assert chat.say("河东区沂河花园三期").text == R.QUESTIONS["amount"]
    assert chat.say("三万五").text == R.QUESTIONS["workers"]
    assert chat.say("8").text == R.QUESTIONS["name"]
    assert chat.say("李四").text == R.QUESTIONS["phone"]
    assert chat.say("138 0000 1234").text.startswith("请核对：河东区沂河花园三期，8人，欠35000元，姓名李四，电话138****1234")
    assert chat.say("确认").complaint_created
    [complaint] = complaints(session)
    assert (complaint.site_id, complaint.amount, complaint.workers, complaint.complainant.phone) == \
        (chat_sites["yh"].id, 35000, 8, "13800001234")


def test_unclear_answer_repeats_the_question_and_corrections_override(session, settings, chat_sites):
    chat = sms(session, settings)
    chat.say("阳光城工地欠钱了")
    assert chat.say("asdfgh").text == R.NOT_UNDERSTOOD + R.QUESTIONS["amount"]
    chat.say("40000")
    chat.say("3")
    assert "3人，欠40000元，姓名匿名" in chat.say("匿名").text
    assert chat.say("修改").text == R.EDIT
    assert "5人，欠40000元" in chat.say("不对，是5个人").text
    assert chat.say("确认").complaint_created
    [complaint] = complaints(session)
    assert complaint.anonymous and complaint.workers == 5 and complaint.complainant.name is None


def test_qr_scene_sets_the_site(session, settings, chat_sites):
    chat = Chat(session, settings)
    reply = chat.say(None, site_scene="tok-yihe")
    assert reply.text == R.SITE_GREETING.format(site="沂河花园三期") + R.QUESTIONS["amount"]
    assert chat.say("俺们5个人每人欠6000").text == R.QUESTIONS["name"]
    chat.say("王五")
    assert "沂河花园三期，5人，欠30000元" in chat.say("13800001234").text
    chat.say("确认")
    [complaint] = complaints(session)
    assert complaint.site_id == chat_sites["yh"].id and complaint.amount == 30000
    assert complaint.claim["amount_per_person"] == 6000


def test_unknown_scene_is_ignored(session, settings, chat_sites):
    assert Chat(session, settings).say(None, site_scene="no-such-token").text == R.WELCOME


def test_global_words_in_the_middle_of_a_flow(session, settings, chat_sites):
    chat = sms(session, settings)
    chat.say("兰山区阳光城工地欠我们三万")
    human = chat.say("转人工")
    assert human.human_requested and settings.dialogue.hotline in human.text
    assert chat.say("帮助").text == R.HELP + R.HELP_SMS
    assert chat.say("6个人").text.startswith(R.QUESTIONS["name"])  # the flow goes on where it was
    assert chat.say("重新开始").text == R.RESTART + R.WELCOME
    assert chat.say("欠了两万").text == R.QUESTIONS["site"]
    assert chat.say("取消").text == R.CANCELLED
    assert session.scalar(select(Conversation)).draft == {}
    assert chat.say("确认").text == R.WELCOME
    assert complaints(session) == []


def test_pause_asks_to_resume_and_continue_keeps_the_draft(session, settings, chat_sites):
    chat = sms(session, settings)
    chat.say("兰山区阳光城工地欠我们三万")
    assert chat.say("8个人", after=timedelta(hours=3)).text == R.RESUME
    assert chat.say("👍").text == R.RESUME
    assert chat.say("1").text == R.RESUMED + R.QUESTIONS["name"]  # "8个人" from before the pause is kept
    assert "8人，欠30000元" in chat.say("赵六").text


def test_going_on_after_a_pause_counts_as_continue_and_nothing_is_lost(session, settings, chat_sites):
    chat = sms(session, settings)
    chat.say("兰山区阳光城工地欠我们三万")
    assert chat.say("8个人", after=timedelta(hours=3)).text == R.RESUME
    summary = chat.say("我叫赵六").text
    assert "8人，欠30000元" in summary and "赵六" in summary


def test_a_worker_who_does_not_know_the_sum_can_still_file(session, settings, chat_sites):
    chat = sms(session, settings)
    assert chat.say("兰山区阳光城工地老板不给钱").text == R.QUESTIONS["amount"]
    assert chat.say("不知道具体多少").text == R.QUESTIONS["workers"]
    chat.say("3个人")
    assert R.AMOUNT_UNKNOWN in chat.say("钱七").text
    reply = chat.say("确认")
    assert reply.complaint_created
    assert complaints(session)[0].amount is None


def test_pause_then_start_over_reads_the_new_message(session, settings, chat_sites):
    chat = sms(session, settings)
    chat.say("兰山区阳光城工地欠我们三万")
    chat.say("河东区沂河花园三期，欠5个人两万", after=timedelta(hours=3))
    assert chat.say("2").text == R.RESTART + R.QUESTIONS["name"]
    assert "沂河花园三期，5人，欠20000元" in chat.say("孙七").text


def test_a_draft_left_for_days_is_dropped(session, settings, chat_sites):
    chat = sms(session, settings)
    chat.say("兰山区阳光城工地欠我们三万")
    assert chat.say("你好", after=timedelta(days=settings.dialogue.draft_keep_days + 1)).text == \
        R.DRAFT_DROPPED + R.WELCOME


def _ready(chat):
    chat.say("兰山区阳光城工地，老板欠我们8个人三万五")
    chat.say("张三")
    return chat.say("13800001234") if chat.phone is None else None


def test_retried_confirm_files_one_complaint(session, settings, chat_sites):
    chat = Chat(session, settings)
    _ready(chat)
    first = chat.say("确认")
    again = chat.say("确认")
    assert not again.complaint_created and again.text == R.ALREADY_SUBMITTED.format(ticket=first.ticket_no)
    assert len(complaints(session)) == 1


def test_replayed_confirm_at_the_same_version_returns_the_same_complaint(session, settings, chat_sites):
    """Same conversation, same version: the submission key is the same, whatever the conversation says."""
    chat = Chat(session, settings)
    _ready(chat)
    conversation = session.scalar(select(Conversation))
    snapshot = (conversation.state, dict(conversation.draft), conversation.version, conversation.updated_at)
    first = chat.say("确认")
    conversation.state, conversation.draft, conversation.version, conversation.updated_at = snapshot
    session.commit()
    chat.now -= timedelta(minutes=1)
    replay = chat.say("确认")
    assert replay.ticket_no == first.ticket_no and not replay.complaint_created
    assert len(complaints(session)) == 1


def test_status_by_ticket_with_a_known_phone_only_matches_that_phone(session, settings, chat_sites):
    worker = sms(session, settings)
    _ready(worker)
    ticket = worker.say("确认").ticket_no
    assert worker.say(ticket).text == R.STATUS.format(ticket=ticket, status="已收到，正在分派给负责的部门")
    assert worker.say("查询").text == R.STATUS.format(ticket=ticket, status="已收到，正在分派给负责的部门")
    stranger = sms(session, settings, phone="13700009999")
    assert stranger.say(f"查询{ticket}").text == R.NOT_FOUND
    assert stranger.say("查询").text == R.NO_CASES


def test_status_without_a_phone_asks_for_the_last_four_digits(session, settings, chat_sites):
    worker = Chat(session, settings)
    _ready(worker)
    ticket = worker.say("确认").ticket_no
    complaint = complaints(session)[0]
    transition(session, complaint, "routed", actor="test")
    session.commit()
    other = Chat(session, settings, user="openid-2")
    assert other.say("查询").text == R.ASK_TICKET
    assert other.say(ticket).text == R.ASK_LAST4
    assert other.say("0000").text == R.NOT_FOUND
    other.say(ticket)
    assert other.say("1234").text == R.STATUS.format(ticket=ticket, status="已派给负责部门，等待部门签收")


def test_status_look_up_in_the_middle_returns_to_the_flow(session, settings, chat_sites):
    chat = Chat(session, settings)
    chat.say("兰山区阳光城工地欠我们三万")
    assert chat.say("250101123456").text == R.ASK_LAST4
    assert chat.say("7个人").text == R.QUESTIONS["name"]  # not four digits: the look-up is dropped


def test_two_workers_on_one_phone_start_fresh(session, settings, chat_sites):
    chat = sms(session, settings)
    _ready(chat)
    chat.say("确认")
    assert chat.say("沂河花园三期欠我两万").text == R.QUESTIONS["name"]
    chat.say("钱八")
    chat.say("确认")
    first, second = complaints(session)
    assert (first.complainant.name, second.complainant.name) == ("张三", "钱八")
    assert (second.workers, second.site_id, second.free_text) == (1, chat_sites["yh"].id, "沂河花园三期欠我两万\n钱八")


def test_sms_opt_out_is_confirmed_once_and_ends_when_the_worker_writes_again(session, settings, chat_sites):
    chat = sms(session, settings)
    reply = chat.say("TD")
    assert reply.opted_out and reply.text == R.OPTED_OUT
    assert is_opted_out(session, "sms", identity(SMS_PHONE))
    assert chat.say("退订").text is None
    assert chat.say("你好").text == R.WELCOME
    assert not is_opted_out(session, "sms", identity(SMS_PHONE))
    assert Chat(session, settings).say("TD").text == R.WELCOME  # only SMS has 退订


@pytest.mark.parametrize("text", [None, "", "   ", "😀😀😀", "👍", "asdfgh", "？？？。。"])
def test_empty_emoji_and_nonsense_get_the_example(session, settings, text):
    reply = Chat(session, settings).say(text)
    assert reply.text in (R.WELCOME, R.HELP)
    assert session.scalar(select(Conversation)).draft == {}


def test_a_long_message_is_cut_with_a_note(session, settings, chat_sites):
    chat = sms(session, settings)
    reply = chat.say("兰山区阳光城工地，老板欠我们8个人三万五。" + "情况是这样的" * 900)
    assert reply.text.startswith(R.TRUNCATED)
    chat.say("张三")
    chat.say("确认")
    [complaint] = complaints(session)
    assert len(complaint.free_text) == settings.dialogue.max_text_chars
    assert complaint.amount == 35000


def test_risk_words_never_block_and_go_into_the_claim(session, settings, chat_sites):
    chat = sms(session, settings)
    reply = chat.say("阳光城工地包工头欠我们10个人二十万，再不给就去跳楼，拉横幅")
    assert set(reply.risk_flags) == {"self_harm", "mass_incident"}
    assert reply.text.startswith(R.SELF_HARM)
    chat.say("张三")
    assert chat.say("确认").complaint_created
    assert complaints(session)[0].claim["risk_flags"] == ["mass_incident", "self_harm"]


def test_photos_go_with_the_complaint(session, settings, chat_sites):
    chat = sms(session, settings)
    photo = Photo("iou.jpg", "image/jpeg", b"\xff\xd8 fake but stored as given")
    assert chat.say(None, attachments=[photo]).text == R.PHOTOS_RECEIVED.format(count=1) + R.QUESTIONS["site"]
    chat.say("兰山区阳光城工地，老板欠我们8个人三万五")
    chat.say("张三")
    chat.say("确认")
    [stored] = session.scalars(select(Attachment)).all()
    assert (stored.filename, stored.content) == ("iou.jpg", photo.content)


def test_two_messages_at_once_lose_nothing(app, session, settings, chat_sites):
    """Each message on its own connection, all at once: every one is in the draft, none overwritten."""
    first = Chat(session, settings, user="openid-busy")
    first.say("兰山区阳光城工地")
    count = 6
    barrier = threading.Barrier(count)
    errors = []

    def send(i):
        try:
            with services(app).sessions() as own:
                barrier.wait()
                handle_message(own, settings, "wechat", "openid-busy", f"补充情况第{i}条", now=CHAT_T0 + timedelta(minutes=2))
                own.commit()
        except Exception as exc:  # reported below, a thread cannot fail the test itself
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    session.expire_all()
    conversation = session.scalar(select(Conversation).where(Conversation.user_id == "openid-busy"))
    assert sorted(conversation.draft["texts"][1:]) == sorted(f"补充情况第{i}条" for i in range(count))
    assert conversation.version == 1 + count  # created at 1, one bump a message


def test_first_messages_at_once_make_one_conversation(app, session, settings, chat_sites):
    barrier = threading.Barrier(2)
    errors = []

    def send(text):
        try:
            with services(app).sessions() as own:
                barrier.wait()
                handle_message(own, settings, "sms", SMS_PHONE, text, now=CHAT_T0, has_phone=True, phone=SMS_PHONE)
                own.commit()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=send, args=(t,)) for t in ("兰山区阳光城工地", "欠我们8个人三万五")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert session.scalar(select(func.count()).select_from(Conversation)) == 1
    draft = session.scalar(select(Conversation)).draft
    assert draft["county_code"] == "371302" and draft["amount"]["value"] == 35000 and draft["workers"]["value"] == 8


SITE_FILE = ("项目编号,项目名称,所在区县,详细地址,别名\n"
             "LL-1,金色家园一期,兰陵县,兰陵县卞庄街道,\n"
             "LL-2,金色家园二期,兰陵县,兰陵县卞庄街道,\n"
             "LZ-1,罗庄区沂河路商业综合体,罗庄区,罗庄区罗庄街道沂河路,罗庄万达、万达广场\n").encode()


def test_two_sites_that_fit_equally_are_asked_between_by_name(session, settings):
    import_sites(session, "清单.csv", SITE_FILE)
    session.commit()
    sites = {s.code: s for s in session.scalars(select(Site))}
    chat = sms(session, settings)
    assert chat.say("金色家园欠我们5个人两万，我叫王五").text == R.WHICH_SITE.format(
        choices="1. 金色家园一期；2. 金色家园二期")
    assert chat.say("哪个？").text.startswith(R.NOT_UNDERSTOOD + "您说的是哪个工地？")
    assert chat.say("2").text.startswith("请核对：兰陵县金色家园二期，5人，欠20000元，姓名王五")
    assert chat.say("确认").complaint_created
    assert complaints(session)[-1].site_id == sites["LL-2"].id


def test_none_of_the_sites_leaves_the_county(session, settings):
    import_sites(session, "清单.csv", SITE_FILE)
    session.commit()
    chat = sms(session, settings)
    chat.say("金色家园欠我们5个人两万，我叫王五")
    assert chat.say("都不是").text.startswith("请核对：兰陵县，5人")


def test_a_nickname_from_the_site_file_finds_its_site(session, settings):
    import_sites(session, "清单.csv", SITE_FILE)
    session.commit()
    chat = sms(session, settings)
    assert chat.say("罗庄万达欠我一万，我叫赵六").text.startswith("请核对：罗庄区沂河路商业综合体，1人，欠10000元")


def test_a_town_alone_places_the_complaint_and_only_what_is_missing_is_asked(session, settings):
    chat = sms(session, settings)
    assert chat.say("大店镇，欠薪，3人，合计2.4万").text == R.QUESTIONS["name"]
    assert chat.say("匿名").text.startswith("请核对：莒南县，3人，欠24000元")


def test_configured_risk_words_flag_the_message(session, make_settings):
    settings = make_settings(reading=ReadingSettings(extra_risk_words=(("mass_incident", "去开发商家"),)))
    reply = sms(session, settings).say("老板欠我们8个人三万五，明天去开发商家")
    assert reply.risk_flags == ("mass_incident",)
