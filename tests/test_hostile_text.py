"""Property-based tests: whatever a sender types, claim extraction and the chat never raise, read only numbers a
person could mean, and no complaint is stored until the worker confirms the summary read back to them.

Examples mix arbitrary Unicode (control and format characters, RTL marks, lone surrogates from a JSON push,
emoji sequences, other scripts' digits) with pieces of real complaints and absurd numbers, so the engine is
driven deep into its states. The profile (tests/conftest.py) makes the runs the same on every machine.
"""
from __future__ import annotations

import itertools
import json
import unicodedata
from datetime import timedelta

from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from intake.conversation import replies as R
from intake.conversation.dialogue import CONFIRM, CONFIRM_WORDS, _word
from intake.foundation.encryption import chat_user
from intake.foundation.models import Complaint, Conversation, InboundMessage
from intake.foundation.validation import clean_text, normalise_digits, normalise_phone
from intake.reading.extract import ClaimDraft, SiteRef, Value, extract_claim
from tests.helpers import SMS_CALLBACK_SECRET, Chat, aliyun_settings, aliyun_uplink

HOSTILE_PIECES = (
    "\u202e", "\u202d", "\u200f", "\u061c", "\u200b", "\u2028", "\ufeff", "\x00", "\x1b[31m", "\x7f", "\x85", "\r\n",
    "\t", "\ud800", "\udfff", "🙏🏿", "👨‍👩‍👧‍👦", "🇨🇳", "𠀀𪚥", "اجرت ٣٠٠٠٠", "עברית", "Ω≈ç√∫", "ｈｅｌｌｏ",
    "9999999999999999万", "９９９９９９９９９９９９９９９９万", "99999999999999999999999个人", "1e308元", "-5000元",
    "nan元", "inf个人", "0.0000001万", "٣٠٠٠٠元", "१२३४ 个人", "〇〇〇", "万亿亿亿", "亿万千百十", "几几几个人",
    "一二三四五六七八九十百千万亿" * 5, "1,2,3,4,5,6,7,8,9,0元", "3.5.6.7万", "13800001234", "１３８ ０００１ ２３４",
    "<script>alert(1)</script>", "{{7*7}}", "${7*7}", "'; DROP TABLE complaints; --", "%s%n%x", "\\N", "NULL",
)
CLAIM_PIECES = (
    "兰山区阳光城工地", "河东区沂河花园三期", "老板欠我们8个人三万五", "每人欠6000", "干了三个月", "去年10月到今年3月",
    "我叫张三", "姓名：李四", "匿名", "13800001234", "不知道", "俺们仨", "欠了两万八", "工头老王跑了", "要跳楼",
    "修改", "不对，是5个人", "继续", "2", "重新开始", "取消", "转人工", "帮助", "查询", "261202333110", "退订", "td",
    "确认兰山区", "确认了吗", "好吗",
)
piece = st.sampled_from(HOSTILE_PIECES + CLAIM_PIECES)
unicode_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=60)
long_text = st.builds(lambda unit, times: unit * times, st.text(min_size=1, max_size=12), st.integers(200, 3000))
message = st.one_of(
    st.lists(st.one_of(piece, unicode_text), min_size=1, max_size=6).map("".join),
    unicode_text,
    long_text,
)
SITES = (SiteRef("1", "阳光城工地", "兰山区北京路1号", "371302"), SiteRef("2", "沂河花园三期", "河东区凤凰大街", "371312"))


def plausible(draft: ClaimDraft) -> None:
    """Every number read is one a worker could mean."""
    for money in (draft.amount_per_person,):
        assert money is None or 10 <= money.value < 1_000_000_000, draft
    assert draft.amount is None or 10 <= draft.amount.value < 1_000_000_000 * 100_000, draft
    assert draft.workers is None or 0 < draft.workers.value < 100_000, draft
    assert draft.months is None or 0 < draft.months.value < 120, draft
    assert draft.county_code is None or draft.county_code.isascii() and draft.county_code.isdigit(), draft


@given(message)
def test_extraction_never_raises_and_reads_only_plausible_numbers(text):
    plausible(extract_claim(text))
    plausible(extract_claim(text, sites=SITES))


CLAIM = "兰山区阳光城工地，老板欠我们8个人三万五，电话13800001234"
invisible = st.characters(categories=["Cf"])


@given(st.lists(st.tuples(st.integers(0, len(CLAIM)), invisible), max_size=8))
def test_invisible_characters_change_nothing_that_is_read(insertions):
    """Zero-width spaces, bidi marks or a BOM pasted in from another app: the same claim is read."""
    text = CLAIM
    for at, ch in sorted(insertions, reverse=True):
        text = text[:at] + ch + text[at:]
    draft = extract_claim(text)
    assert (draft.county_code, draft.workers, draft.amount) == ("371302", Value(8), Value(35000)), ascii(text)
    assert "电话13800001234" in normalise_digits(text)


@given(st.lists(st.one_of(piece, unicode_text), min_size=1, max_size=4).map("".join))
def test_a_claim_among_hostile_text_is_read_or_left_alone(text):
    """Hostile text beside a claim may add to what is read, but never makes an implausible number of it."""
    plausible(extract_claim(CLAIM + text))
    plausible(extract_claim(text + CLAIM, sites=SITES))


def test_known_absurd_numbers_are_not_amounts():
    for text in ("老板欠我9999999999999999万", "欠我９９９９９９９９９９９９９９９９万", "欠我1e308元", "欠我nan元",
                 "欠我-5000元块", "欠了万亿亿亿"):
        draft = extract_claim(text)
        assert draft.amount is None or draft.amount.value < 1_000_000_000, text


def test_digits_of_other_scripts_are_a_phone_number_in_ascii():
    """An Arabic-Indic or full-width number is the same number, stored as the ASCII digits SMS gateways take."""
    assert normalise_phone("١٣٨٠٠١٣٨٠٠٠") == "13800138000"
    assert normalise_phone("１３８ ００１３ ８０００") == "13800138000"
    assert normalise_phone("१३८००१३८०००") == "13800138000"


@given(st.text(st.characters(codec=None, exclude_categories=()), max_size=200))
def test_clean_text_leaves_only_what_every_database_stores(text):
    cleaned = clean_text(text)
    assert all(unicodedata.category(ch) not in ("Cs", "Cc") or ch in "\n\t" for ch in cleaned)
    cleaned.encode("utf-8")  # PostgreSQL and SQLite both take it


PAUSES = st.sampled_from([timedelta(minutes=1), timedelta(minutes=1), timedelta(hours=3), timedelta(days=40)])
users = itertools.count()


def filed(session, user: str) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Complaint).where(Complaint.channel_user_id == user))


def converse(session, settings, channel: str, turns, scene_token: str | None = None):
    """Say each (text, pause, scan) turn as a new worker; yields (state before, text, reply, complaints filed)."""
    n = next(users)
    phone = f"139{n:08d}" if channel == "sms" else None
    chat = Chat(session, settings, channel=channel, user=phone or f"hostile-{n}", phone=phone)
    user = chat_user(channel, chat.user)
    for text, pause, scan in turns:
        before = session.scalar(select(Conversation.state).where(Conversation.user_id == user))
        reply = chat.say(text, after=pause, site_scene=scene_token if scan else None)
        assert reply.text is None or isinstance(reply.text, str)
        yield before, text, reply, filed(session, user)


turns = st.lists(st.tuples(message, PAUSES, st.booleans()), min_size=1, max_size=6)


@hypothesis_settings(max_examples=40)
@given(channel=st.sampled_from(["wechat", "sms"]), conversation=turns)
def test_hostile_chat_never_raises_and_files_nothing_unconfirmed(session, settings, chat_sites, channel, conversation):
    turns_ = [(t if _word(t) not in CONFIRM_WORDS else "不" + t, pause, scan) for t, pause, scan in conversation]
    for _state, _text, reply, count in converse(session, settings, channel, turns_, chat_sites["yg"].public_token):
        assert not reply.complaint_created and count == 0


@hypothesis_settings(max_examples=25)
@given(channel=st.sampled_from(["wechat", "sms"]), conversation=turns, confirm=st.sampled_from(sorted(CONFIRM_WORDS)))
def test_only_a_confirmed_summary_files_a_complaint(session, settings, chat_sites, channel, conversation, confirm):
    """Hostile turns, then a real claim and its confirmation: exactly one complaint, filed by the confirmation
    of a summary, holding text every database stores."""
    script = [*conversation, ("兰山区阳光城工地，老板欠我们8个人三万五，我叫张三", timedelta(minutes=1), False),
              ("13800001234", timedelta(minutes=1), False), (confirm, timedelta(minutes=1), False)]
    seen = 0
    for state, text, reply, count in converse(session, settings, channel, script):
        if count > seen:
            assert state == CONFIRM and _word(text) in CONFIRM_WORDS and reply.complaint_created, (state, text)
            assert reply.text == R.SUBMITTED.format(ticket=reply.ticket_no)
        seen = count
    assert seen == 1
    complaint = session.scalars(select(Complaint).order_by(Complaint.id.desc())).first()
    assert complaint.workers > 0 and (complaint.amount is None or complaint.amount > 0)
    assert all(unicodedata.category(ch) not in ("Cs", "Cc") or ch in "\n\t" for ch in complaint.free_text)


def test_a_json_push_with_lone_surrogates_and_control_characters_is_stored_clean(configured_app, session):
    """JSON may escape what no database encodes ("\\ud800"): the push is taken and filed, without it."""
    client = configured_app(**aliyun_settings("http://127.0.0.1:9")).test_client()
    said = "兰山区阳光城工地，老板欠我们8个人三万五，我叫张三"
    for n, text in enumerate((said + "\\ud800\\u0085\\u0000", "确认\\udfff"), 1):
        body = json.dumps([aliyun_uplink("13800001234", text, n)]).replace("\\\\u", "\\u")
        response = client.post(f"/sms/aliyun/{SMS_CALLBACK_SECRET}", data=body, content_type="application/json")
        assert response.status_code == 200 and response.get_json()["code"] == 0, body
    session.expire_all()
    assert [m.payload["text"] for m in session.scalars(select(InboundMessage).order_by(InboundMessage.id))] == \
        [said, "确认"]
    [complaint] = session.scalars(select(Complaint)).all()
    assert (complaint.free_text, complaint.workers, complaint.amount) == (said, 8, 35000)


def test_a_flood_of_text_is_read_only_as_far_as_it_is_kept(session, settings, chat_sites):
    chat = Chat(session, settings, channel="sms", user="13900000001", phone="13900000001")
    flood = "兰山区阳光城工地" + "啊" * settings.dialogue.max_text_chars + "老板欠我们8个人三万五"
    reply = chat.say(flood)
    assert reply.text == R.TRUNCATED + R.QUESTIONS["amount"]
    conversation = session.scalar(select(Conversation).where(Conversation.user_id == chat_user("sms", "13900000001")))
    assert [len(t) for t in conversation.draft["texts"]] == [settings.dialogue.max_text_chars]
    assert chat.say("三万五").text == R.QUESTIONS["workers"]  # answers after the limit are still read
