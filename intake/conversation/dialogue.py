"""The chat that turns a worker's messages into a complaint, the same on every channel (WeChat, SMS, demo).

A channel adapter calls `handle_message` once per inbound message inside its transaction, commits, and only
then sends `Reply.text`: the ticket number a worker reads therefore always exists. Where the dialogue stands is
a `Conversation` row per (channel, user), so it survives restarts and works across processes.

The first message is read in one go (extract_claim); only what is still missing is asked, one question at a
time, and everything is read back for "确认" before the complaint is stored through create_complaint, like the
web form.
"""
from __future__ import annotations

import base64
import dataclasses
import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from intake.case.cases import CaseContext, CaseError, asked_lines, confirm_payment, rate, take_worker_message
from intake.case.complaints import TICKET_DIGITS, NewComplaint, create_complaint, find_for_worker
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.encryption import chat_user, lookup_hashes
from intake.foundation.models import (
    Channel,
    ClaimLine,
    Complaint,
    Confirmation,
    Conversation,
    Jurisdiction,
    Satisfaction,
    Site,
    Status,
)
from intake.foundation.settings import CalendarSettings, Settings
from intake.foundation.texts import status_text
from intake.foundation.validation import clean_text, mask_numbers, mask_phone, normalise_digits, normalise_phone
from intake.reading.extract import ClaimDraft, Value, extract_claim, place_words
from intake.reading.photos import Photo
from intake.registry.directory import county_refs
from intake.registry.sites import site_refs

from . import replies, rows
from .draft import Draft, Figure, KeptPhoto, Lookup, Pick, Resume

IDLE = rows.IDLE        # nothing in progress (a finished complaint leaves its ticket number in the draft)
COLLECTING = "collecting"  # asking for the field in draft.asking
CONFIRM = "confirm"      # the summary was shown; waiting for 确认 or a correction
RESUME = "resume"        # the worker came back after a pause; asked whether to continue
LAST4 = "last4"          # a status look-up waits for the phone's last four digits
PICK = "pick"            # a message waits for the worker to say which of their open cases it is about

CONFIRM_WORDS = {"确认", "确认提交", "确定", "提交", "对", "是", "是的", "对的", "没错", "好", "好的", "可以", "ok", "1"}
EDIT_WORDS = {"修改", "改", "重填", "不对", "错了", "2"}
CONTINUE_WORDS = {"1", "继续", "是", "好", "好的"}
RESTART_WORDS = {"重新开始", "重来", "重新"}
CANCEL_WORDS = {"取消", "算了", "不投诉了"}
HUMAN_WORDS = {"人工", "转人工", "人工服务", "客服", "找人工"}
HELP_WORDS = {"帮助", "help", "?", "？", "怎么用"}
STATUS_WORDS = {"查询", "查", "查进度", "进度", "查询进度"}
OPT_OUT_WORDS = {"退订", "td", "t", "stop", "unsubscribe"}
ANONYMOUS_WORDS = {"匿名", "不留名", "不想留名", "不留"}
# Answers to 工资到手了吗 (the 办结 notice says 回复1 / 回复2), read only while such a question waits.
PAID_WORDS = {"1", "已收到", "收到", "收到了", "到手了", "已到手", "已经到手", "拿到了", "已经拿到"}
UNPAID_WORDS = {"2", "没收到", "没有收到", "没到手", "还没到手", "还没有到手", "没拿到", "不够", "没收到或不够"}
# Answers to 您对处理结果满意吗 (the 结案 notice says 回复1 / 2 / 3), read only while the worker's newest case is
# closed (a second answer is told the first stands), and after any 工资到手了吗 waiting has had its answer.
GRADE_WORDS = {
    **dict.fromkeys(("1", "满意", "很满意", "非常满意", "挺满意", "满意了", "很好", "挺好", "非常好"), Satisfaction.SATISFIED),
    **dict.fromkeys(("2", "基本满意", "比较满意", "还行", "还可以", "一般", "凑合", "还好", "马马虎虎", "一般般"),
                    Satisfaction.BASIC),
    **dict.fromkeys(("3", "不满意", "很不满意", "非常不满意", "不太满意", "差", "很差", "太差", "太差了", "不好", "不行"),
                    Satisfaction.UNSATISFIED)}
NEW_COMPLAINT_WORDS = {"新投诉", "我要再投诉", "再投诉", "新的投诉", "我要投诉", "投诉", "还有别的欠薪"}
# A status question in the worker's own words ("什么时候能拿到钱", "到哪一步了"); only short messages are read so,
# a longer one is a claim that mentions money to come.
STATUS_QUESTION_MAX = 20
_STATUS_QUESTION = re.compile(r"进度|进展|到哪一?步|什么时候.{0,6}(?:拿到|给|发|到账|到手|处理|有结果)|怎么样了|"
                              r"有结果了?吗|有消息了?吗|处理了?吗|办得怎么样")

_PUNCT = re.compile(r"[\s\W_]+")
_TICKET = re.compile(rf"(?<!\d)\d{{{TICKET_DIGITS}}}(?!\d)")
_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_BARE_NUMBER = re.compile(r"[\d.,零一二两三四五六七八九十百千万几]+")
_NAME_PREFIX = re.compile(r"^(?:我叫|我是|我姓|姓名|名字|叫)[:：是叫]?")
_NAME_IN_TEXT = re.compile(r"(?:我叫|姓名[:：]?|名字[是叫:：]?)([\u4e00-\u9fff]{2,4})")
_NAME = re.compile(r"[\u4e00-\u9fff·A-Za-z ]{1,20}")
_MEANINGFUL = re.compile(r"[\w\u4e00-\u9fff]")
_UNKNOWN = re.compile(r"不知道|不清楚|记不清|不记得|说不清|不确定|没算过|算不清")
_COUNT_SAID = re.compile(r"[\d一二两三四五六七八九十百几]+ *(?:个|名|位|口)|就我|只有我|我自己|我一个")


@dataclass(frozen=True)
class Reply:
    """What the channel sends back once the transaction is committed; `text` None means send nothing."""

    text: str | None
    complaint_created: bool = False
    ticket_no: str | None = None
    human_requested: bool = False
    opted_out: bool = False
    risk_flags: tuple[str, ...] = ()  # risk categories in this very message, for an immediate alert


def handle_message(session: Session, settings: Settings, channel: str, user_id: str, text: str | None, *,
                   now: datetime, site_scene: str | None = None, has_phone: bool = False,
                   phone: str | None = None, attachments: Iterable[Photo] = ()) -> Reply:
    """Handle one inbound message (or QR-scan event) and say what to answer; flushes, the caller commits.

    `site_scene` is a site's public token from a QR scan. `has_phone` means the channel knows the sender's
    number (SMS), which is then never asked for; the conversation is then keyed by the number's identity.
    """
    conversation, _ = open_conversation(session, channel, chat_user(channel, user_id), now)
    return take_turn(session, settings, conversation, text, now=now, site_scene=site_scene, has_phone=has_phone,
                     phone=phone, attachments=attachments)


def open_conversation(session: Session, channel: str, user_id: str, now: datetime,
                      delivery: dict[str, Any] | None = None, phone: str | None = None) -> tuple[Row, int | None] | None:
    """The user's conversation as a row, created or version-bumped by one upsert before it is read.

    The bump is the lock: a row lock on PostgreSQL, the write lock on SQLite, held to the caller's commit, so a
    second message for the same user waits and then reads what the first one wrote. Two first messages at once
    meet on the unique constraint, where the second becomes the bump and waits: no savepoint, no retry.

    With `delivery` (rows.FIRST_DELIVERY's parameters) the delivery is stored first, and the conversation is
    opened only when it is new: then its row id comes back beside the conversation, else None (a repeat). On
    PostgreSQL the same statement reads the sender's open cases (`phone`: the number the channel gives, as
    take_turn is given it), which take_turn uses for a conversation that statement created.
    """
    dialect = session.get_bind().dialect.name
    opening = {"b_channel": channel, "b_user_id": user_id, "b_draft": {}, "b_now": now}
    delivery_id = None
    connection = session.connection()  # plain statements, nothing of the session's to flush first: Core's path
    if delivery is not None and dialect == "postgresql":
        number = normalise_phone(phone) if phone is not None else ""
        row = connection.execute(rows.OPEN_FOR_DELIVERY[bool(number)],
                              {**delivery, **opening, "b_hashes": lookup_hashes(number) if number else []}
                              ).one_or_none()
        if row is None:
            return None
        delivery_id = row.delivery_id
    else:
        if delivery is not None:
            delivery_id = connection.execute(rows.FIRST_DELIVERY[dialect], delivery).scalar_one_or_none()
            if delivery_id is None:
                return None
        row = connection.execute(rows.OPEN[dialect], opening).one()
    if session.identity_map:
        _loaded_in_step(session, row.id, {key: row._mapping[key] for key in _COLUMNS})
    return row, delivery_id


def take_turn(session: Session, settings: Settings, conversation: Row, text: str | None, *, now: datetime,
              site_scene: str | None = None, has_phone: bool = False, phone: str | None = None,
              attachments: Iterable[Photo] = (), delivery_id: int | None = None, truncated: bool = False) -> Reply:
    """One message against an opened conversation (see handle_message); the outcome is written back and, with
    `delivery_id`, the reply stored on the delivery's row. `truncated`: the channel cut an over-long text, and
    the worker is told that only its first part is kept."""
    text = clean_text(text) if text is not None else None
    turn = _Turn(session, settings, conversation, normalise_phone(phone or "") if has_phone else None, now)
    reply = turn.run(text, site_scene, list(attachments))
    if truncated and reply.text and replies.TRUNCATED not in reply.text:
        reply = dataclasses.replace(reply, text=replies.TRUNCATED + reply.text)
    values = {"draft": turn.draft.to_json(), "updated_at": now, "state": turn.state,
              "opted_out_at": turn.opted_out_at}
    saving = {"b_id": conversation.id, **values}
    connection = session.connection()  # the turn's ORM changes are flushed below; these rows are the turn's own
    if delivery_id is None:
        connection.execute(rows.SAVE, saving)
    elif session.get_bind().dialect.name == "postgresql":
        connection.execute(rows.SAVE_AND_REPLY, {**saving, "b_delivery": delivery_id, "b_reply": reply.text})
    else:
        connection.execute(rows.SAVE, saving)
        connection.execute(rows.STORE_REPLY, {"b_delivery": delivery_id, "b_reply": reply.text})
    if session.identity_map:
        _loaded_in_step(session, conversation.id, values)
    session.flush()
    return reply


_COLUMNS = tuple(rows.CONVERSATIONS.c.keys())


def _loaded_in_step(session: Session, conversation_id: int, values: dict[str, Any]) -> None:
    """A Conversation this session had loaded (a caller's, a test's) shows what the row now holds, unmodified."""
    loaded = session.identity_map.get(identity_key(Conversation, conversation_id))
    if loaded is not None:
        for key, value in values.items():
            set_committed_value(loaded, key, value)


def _word(text: str) -> str:
    """A message as a command word: half-width, no spaces or punctuation, lower case ("确认！", " ＴＤ")."""
    text = unicodedata.normalize("NFKC", text).strip()
    return _PUNCT.sub("", text).lower() or text


def _figure(v: Value | None) -> Figure | None:
    return None if v is None else Figure(value=int(v.value), approximate=bool(v.approximate))


class _Turn:
    """One message against one conversation (its row); `draft`, `state` and `opted_out_at` are copies the turn
    edits and handle_message writes back at the end."""

    def __init__(self, session: Session, settings: Settings, conversation: Row, phone: str | None,
                 now: datetime):
        self.session = session
        self.settings = settings
        self.conv = conversation
        self.channel_phone = phone
        self.now = now
        self.draft = Draft.from_json(conversation.draft)
        self.state = conversation.state
        self.opted_out_at = conversation.opted_out_at
        # The open cases read by the statement that created the conversation (see open_conversation), else None.
        self.open_cases = conversation._mapping.get("open_cases") if conversation.version == 1 else None
        self.notes: list[str] = []
        self.risk_seen: set[str] = set()

    # ------------------------------------------------------------------ entry

    def run(self, text: str | None, site_scene: str | None, photos: list[Photo]) -> Reply:
        text = (text or "").strip()
        word = _word(text)
        is_sms = self.conv.channel == Channel.SMS.value
        if is_sms and word in OPT_OUT_WORDS:
            if self.opted_out_at is not None:
                return Reply(None)
            self.opted_out_at = self.now
            return Reply(replies.OPTED_OUT, opted_out=True)
        self.opted_out_at = None

        paused = self.now - self.conv.updated_at
        stale = paused > timedelta(minutes=self.settings.dialogue.idle_expiry_minutes)
        if stale and self.state == LAST4:
            self.state = (self.draft.take("lookup") or Lookup()).back or IDLE
        if self.state != IDLE and paused > timedelta(days=self.settings.dialogue.draft_keep_days):
            self._reset()
            self.notes.append(replies.DRAFT_DROPPED)

        answer = self._global(word, text)
        if answer is not None:
            return answer
        site = self._scene_site(site_scene)
        if site is not None:
            return self._scanned(site, text, photos, fresh=stale or self.state in (IDLE, RESUME, LAST4))
        if stale and self.state in (COLLECTING, CONFIRM):
            self.draft.resume = Resume(state=self.state, pending=text)
            self._add_photos(photos)
            self.state = RESUME
            return self._say(replies.RESUME)
        return self._in_state(text, word, photos)

    def _in_state(self, text: str, word: str, photos: list[Photo]) -> Reply:
        handler = {IDLE: self._idle, COLLECTING: self._collecting, CONFIRM: self._confirming,
                   RESUME: self._resuming, LAST4: self._last4, PICK: self._picking}[self.state]
        return handler(text, word, photos)

    def _say(self, text: str, **flags) -> Reply:
        return Reply("".join(self.notes) + text, risk_flags=tuple(sorted(self.risk_seen)), **flags)

    def _reset(self, keep_ticket: str | None = None) -> None:
        self.draft = Draft(last_ticket=keep_ticket) if keep_ticket else Draft()
        self.state = IDLE

    # ------------------------------------------------------------------ global words

    def _global(self, word: str, text: str) -> Reply | None:
        """Words that work in any state; None when the message is not one of them."""
        if word in HELP_WORDS:
            extra = replies.HELP_SMS if self.conv.channel == Channel.SMS.value else ""
            return self._say(replies.HELP + extra)
        if word in HUMAN_WORDS:
            return self._say(replies.HUMAN.format(hotline=self.settings.dialogue.hotline), human_requested=True)
        if word in CANCEL_WORDS:
            self._reset()
            return self._say(replies.CANCELLED)
        if word in RESTART_WORDS:
            self._reset()
            return self._say(replies.RESTART + replies.WELCOME)
        ticket = _TICKET.search(normalise_digits(text)) if len(word) <= 14 else None
        if ticket and (word == ticket.group(0) or word.removeprefix("查询").removeprefix("查") == ticket.group(0)):
            return self._lookup(ticket.group(0))
        if word in STATUS_WORDS or (len(word) <= STATUS_QUESTION_MAX and _STATUS_QUESTION.search(word)):
            cases = self._cases(open_only=False)
            if cases:
                return self._say("".join(replies.STATUS.format(ticket=c.ticket_no, status=status_text(c.status))
                                         for c in cases[:3]) + self._where_we_stood())
            if word in STATUS_WORDS:
                return self._say(replies.NO_CASES if self.channel_phone else replies.ASK_TICKET)
        return None

    def _where_we_stood(self) -> str:
        """After a status answer mid-dialogue, the question that is still open, so nothing is lost."""
        if self.state == COLLECTING and self.draft.asking in replies.QUESTIONS:
            return replies.STILL_ASKING.format(question=self._question(self.draft.asking))
        if self.state == CONFIRM:
            return replies.SUMMARY_AGAIN
        return ""

    def _cases(self, *, open_only: bool) -> list[Complaint]:
        """The worker's cases, newest first: filed from this channel identity, or with the phone the channel gives
        (matched by its lookup hash, never the clear number). Their ids come from one indexed query, so a sender
        with no case (every new one) costs no more; only found cases are loaded."""
        if open_only and self.open_cases is not None:
            ids, self.open_cases = self.open_cases, None  # read with the conversation; current until this turn writes
        else:
            ids = self.session.execute(rows.MY_CASES[bool(self.channel_phone), open_only], {
                "b_channel": self.conv.channel, "b_user_id": self.conv.user_id,
                "b_hashes": lookup_hashes(self.channel_phone) if self.channel_phone else []}).scalars().all()
        if not ids:
            return []
        found = {c.id: c for c in self.session.scalars(select(Complaint).where(Complaint.id.in_(ids)))}
        return [found[i] for i in ids]

    def _lookup(self, ticket: str) -> Reply:
        """A case's status only to the phone it was filed with: the channel's own number, or its last 4 digits."""
        if self.channel_phone is None:
            if self.state != LAST4:
                self.draft.lookup = Lookup(ticket=ticket, back=self.state)
            else:
                self.draft.lookup.ticket = ticket
            self.state = LAST4
            return self._say(replies.ASK_LAST4)
        complaint = self.session.scalar(select(Complaint).where(Complaint.ticket_no == ticket))
        if complaint is None or complaint.complainant.phone != self.channel_phone:
            return self._say(replies.NOT_FOUND)
        return self._say(replies.STATUS.format(ticket=ticket, status=status_text(complaint.status)))

    def _last4(self, text: str, word: str, photos: list[Photo]) -> Reply:
        lookup = self.draft.take("lookup") or Lookup()
        self.state = lookup.back or IDLE
        digits = normalise_digits(text)
        if not (len(digits) == 4 and digits.isdigit()):
            return self._in_state(text, word, photos)
        complaint = find_for_worker(self.session, lookup.ticket, digits)
        if complaint is None:
            return self._say(replies.NOT_FOUND)
        return self._say(replies.STATUS.format(ticket=complaint.ticket_no, status=status_text(complaint.status)))

    # ------------------------------------------------------------------ the worker's open cases

    def _follow_up(self, complaint: Complaint, text: str, photos: list[Photo]) -> Reply:
        """A message about a filed case goes on that case; the worker hears where it went, in one line."""
        limit = self.settings.dialogue.max_text_chars
        if len(text) > limit:
            text = text[:limit]
            self.notes.append(replies.TRUNCATED)
        photos = photos[:self.settings.uploads.max_photos]
        take_worker_message(self.session, complaint, channel=self.conv.channel, text=text, photos=photos,
                            now=self.now)
        department = complaint.department.name if complaint.department else "处理部门"
        line = replies.FOLLOW_UP_PHOTOS if photos else replies.FOLLOW_UP
        return self._say(line.format(ticket=complaint.ticket_no, department=department, count=len(photos)))

    def _names_another_site(self, text: str, cases: list[Complaint]) -> bool:
        """Whether the message is a new claim rather than news: it names a registered site none of the open cases
        is about, or a sum owed in a county none of them is in (a shared phone, another job)."""
        if not _MEANINGFUL.search(text):
            return False
        claim = self._extract(text[:self.settings.dialogue.max_text_chars])
        if claim.site is not None:
            return int(claim.site.site_id) not in {c.site_id for c in cases}
        owed = claim.amount or claim.amount_per_person
        return bool(owed and claim.county_code and claim.county_code not in {c.jurisdiction_code for c in cases})

    def _which_case(self, cases: list[Complaint]) -> Reply:
        choices = "；".join(replies.CASE_CHOICE.format(number=n, where=_case_where(c), last4=c.ticket_no[-4:])
                           for n, c in enumerate(cases, 1))
        return self._say(replies.WHICH_CASE.format(count=len(cases), choices=choices))

    def _picking(self, text: str, word: str, photos: list[Photo]) -> Reply:
        pick = self.draft.take("pick") or Pick()
        self.state = IDLE
        kept = _unkept(pick.photos) + photos
        if word in NEW_COMPLAINT_WORDS:
            self._reset()
            self.notes.append(replies.NEW_COMPLAINT)
            if self._absorb(pick.text, kept):
                return self._next()
            return self._say(replies.WELCOME)
        number = normalise_digits(word)
        chosen = [t for n, t in enumerate(pick.tickets, 1) if number in (str(n), t[-4:], t)]
        complaint = self.session.scalar(select(Complaint).where(Complaint.ticket_no == chosen[0])) if chosen else None
        if complaint is None:  # not an answer: what they sent is kept with the question, which is asked again
            pick.text = "\n".join(t for t in (pick.text, text) if t)
            pick.photos = pick.photos + _kept(photos)
            self.draft.pick, self.state = pick, PICK
            cases = self.session.scalars(select(Complaint).where(Complaint.ticket_no.in_(pick.tickets))).all()
            return self._which_case(sorted(cases, key=lambda c: pick.tickets.index(c.ticket_no)))
        if complaint.status == Status.CLOSED.value:
            return self._say(replies.CASE_CLOSED.format(ticket=complaint.ticket_no))
        return self._follow_up(complaint, pick.text, kept)

    # ------------------------------------------------------------------ 工资到手了吗

    def _asked(self) -> tuple[Complaint, ClaimLine | None] | None:
        """The newest question 工资到手了吗 waiting for this worker: on a claim line with their phone (the channel's
        number, or the phone of the cases they filed here), else a resolved case of theirs they answer alone."""
        cases = self._cases(open_only=True)
        hashes = set(lookup_hashes(self.channel_phone)) if self.channel_phone else set()
        hashes |= {c.complainant.phone_hash for c in cases if c.complainant.phone_hash}
        line = self.session.scalar(
            select(ClaimLine).join(Complaint, Complaint.id == ClaimLine.complaint_id)
            .where(ClaimLine.phone_hash.in_(hashes), Complaint.status != Status.CLOSED.value,
                   ClaimLine.confirmation.in_((Confirmation.ASKED.value, Confirmation.DISPUTED.value)))
            .order_by(ClaimLine.asked_at.desc(), ClaimLine.id.desc()).limit(1)) if hashes else None
        if line is not None:
            return line.complaint, line
        alone = next((c for c in cases if c.status == Status.RESOLVED.value and not asked_lines(c)), None)
        return (alone, None) if alone is not None else None

    def _answer(self, complaint: Complaint, line: ClaimLine | None, *, paid: bool) -> Reply:
        ctx = CaseContext(self.settings, _calendar(self.settings.calendar), self.now)
        try:
            confirm_payment(self.session, complaint, ctx, paid=paid, actor=f"worker:{self.conv.channel}", line=line)
        except CaseError as exc:
            return self._say(str(exc))
        if not paid:
            department = complaint.department.name if complaint.department else "负责部门"
            return self._say(replies.UNPAID_NOTED.format(ticket=complaint.ticket_no, department=department))
        closed = complaint.status == Status.CLOSED.value
        return self._say((replies.PAID_CLOSED if closed else replies.PAID_NOTED).format(ticket=complaint.ticket_no))

    def _grade(self, complaint: Complaint, satisfaction: Satisfaction) -> Reply:
        ctx = CaseContext(self.settings, _calendar(self.settings.calendar), self.now)
        try:
            rate(self.session, complaint, ctx, satisfaction=satisfaction, actor=f"worker:{self.conv.channel}")
        except CaseError as exc:
            return self._say(str(exc))
        return self._say(replies.GRADED.format(ticket=complaint.ticket_no))

    # ------------------------------------------------------------------ states

    def _scanned(self, site: Site, text: str, photos: list[Photo], fresh: bool) -> Reply:
        """A QR scan names the site for sure; it joins a live conversation or starts a new one."""
        if fresh:
            self._reset()
        self.draft.site_id, self.draft.county_code, self.draft.site_score = site.id, site.jurisdiction_code, None
        self.notes.append(replies.SITE_GREETING.format(site=site.name))
        self._absorb(text, photos)
        return self._next()

    def _idle(self, text: str, word: str, photos: list[Photo]) -> Reply:
        last_ticket = self.draft.last_ticket
        if word in PAID_WORDS | UNPAID_WORDS and not photos:
            asked = self._asked()
            if asked is not None:
                return self._answer(*asked, paid=word in PAID_WORDS)
        if word in GRADE_WORDS and not photos:
            newest = self._cases(open_only=False)[:1]
            if newest and newest[0].status == Status.CLOSED.value:
                return self._grade(newest[0], GRADE_WORDS[word])
        if last_ticket and word in CONFIRM_WORDS:
            return self._say(replies.ALREADY_SUBMITTED.format(ticket=last_ticket))
        if word in NEW_COMPLAINT_WORDS:
            known = bool(self._cases(open_only=True))
            self._reset()
            return self._say((replies.NEW_COMPLAINT if known else "") + replies.WELCOME)
        if _MEANINGFUL.search(text) or photos:
            cases = self._cases(open_only=True)
            if cases and self._names_another_site(text, cases):  # a new claim (a shared phone, another site)
                cases = []
            if len(cases) == 1:
                return self._follow_up(cases[0], text, photos)
            if cases:
                self.draft.pick = Pick(tickets=[c.ticket_no for c in cases], text=text, photos=_kept(photos))
                self.state = PICK
                return self._which_case(cases)
        self._reset()
        if not self._absorb(text, photos) and not photos:
            self._reset(keep_ticket=last_ticket)
            return self._say(replies.WELCOME)
        return self._next()

    def _collecting(self, text: str, word: str, photos: list[Photo]) -> Reply:
        asking = self.draft.asking
        if asking == "which_site" and self._choose_site(word):
            self._add_photos(photos)
            return self._next()
        if not self._absorb(text, photos, asking=asking) and not photos:
            if asking == "amount" and _UNKNOWN.search(text):  # the department works the sum out with them
                self.draft.amount_unknown = True
                return self._next()
            return self._say(replies.NOT_UNDERSTOOD + self._question(asking))
        return self._next()

    def _choose_site(self, word: str) -> bool:
        """The worker's pick among the sites that fitted equally: a number, or "都不是" (then the county stands,
        or the site is asked afresh)."""
        choices = self.draft.site_choices
        if word in replies.NONE_OF_THEM:
            self.draft.drop("site_choices")
            return True
        if not (word.isdigit() and 1 <= int(word) <= len(choices)):
            return False
        site = self.session.get(Site, choices[int(word) - 1])
        self.draft.drop("site_choices")
        if site is not None:
            self.draft.site_id, self.draft.county_code, self.draft.site_score = site.id, site.jurisdiction_code, None
        return True

    def _confirming(self, text: str, word: str, photos: list[Photo]) -> Reply:
        if word in CONFIRM_WORDS and not photos:
            return self._submit()
        if word in EDIT_WORDS:
            return self._say(replies.EDIT)
        if self._absorb(text, photos, correcting=True) or photos:
            return self._next()
        return self._say(replies.SUMMARY_AGAIN)

    def _resuming(self, text: str, word: str, photos: list[Photo]) -> Reply:
        saved = self.draft.take("resume") or Resume()
        if word not in CONTINUE_WORDS and word != "2" and (_MEANINGFUL.search(text) or photos):
            # They simply went on: that is a 继续, and what they sent counts.
            self.state = saved.state or COLLECTING
            self._absorb(saved.pending, [], asking=self.draft.asking)
            missing = self._missing()
            self._absorb(text, photos, asking=missing[0] if missing else None)
            return self._next()
        if word in CONTINUE_WORDS:
            self.state = saved.state or COLLECTING
            self.notes.append(replies.RESUMED)
            self._absorb(saved.pending, photos, asking=self.draft.asking)
            return self._next()
        if word == "2":
            pending = saved.pending
            self._reset()
            self.notes.append(replies.RESTART)
            if self._absorb(pending, photos):
                return self._next()
            return self._say(replies.WELCOME)
        self.draft.resume = saved
        return self._say(replies.RESUME)

    def _next(self) -> Reply:
        """The next question, or the summary when nothing is missing."""
        missing = self._missing()
        if missing:
            self.state = COLLECTING
            self.draft.asking = missing[0]
            return self._say(self._question(missing[0]))
        self.state = CONFIRM
        self.draft.drop("asking")
        return self._say(self._summary())

    def _question(self, field: str | None) -> str:
        """The question for a missing field; a site named in the worker's own words is asked about by name, and
        sites that fitted equally are offered by name."""
        if field == "site" and self.draft.place:
            return replies.PLACE_COUNTY.format(place=self.draft.place)
        if field != "which_site":
            return replies.QUESTIONS.get(field, replies.WELCOME)
        names = [site.name if site else "" for site in (self.session.get(Site, i) for i in self.draft.site_choices)]
        return replies.WHICH_SITE.format(choices="；".join(
            replies.SITE_CHOICE.format(number=n, name=name) for n, name in enumerate(names, 1)))

    def _missing(self) -> list[str]:
        d = self.draft
        out = []
        if not d.site_id and d.site_choices:
            out.append("which_site")
        elif not d.site_id and not d.county_code:
            out.append("site")
        if not d.amount and not d.amount_per_person and not d.amount_unknown:
            out.append("amount")
        if not d.workers:
            out.append("workers")
        if not d.name and not d.anonymous:
            out.append("name")
        if not (self.channel_phone or d.phone):
            out.append("phone")
        return out

    # ------------------------------------------------------------------ reading what the worker says

    def _absorb(self, text: str, photos: list[Photo], *, asking: str | None = None,
                correcting: bool = False) -> bool:
        """Take what one message says into the draft; whether it told us anything (photos aside).

        Answers fill what is missing and never overwrite with a guess; the answer to the question asked, and
        any correction after the summary, overwrite.
        """
        self._add_photos(photos)
        if not _MEANINGFUL.search(text):
            return False
        self._keep_text(text)
        # No more of one message is read than a whole complaint keeps: the summary never rests on text staff cannot
        # see, and a flood of text costs the webhook no more than a full complaint does.
        text = text[:self.settings.dialogue.max_text_chars]
        before = self.draft.told()
        word = _word(text)
        self._read_name(text, word, whole=asking == "name")
        if not self.channel_phone:
            self._read_phone(text, whole=asking == "phone")
        if asking != "name":
            self._merge(self._extract(_in_context(text, asking)), text, override=correcting, asked=asking)
        return self.draft.told() != before

    def _read_name(self, text: str, word: str, whole: bool) -> None:
        if word in ANONYMOUS_WORDS:
            self.draft.anonymous, self.draft.name = True, None
            return
        found = _NAME_IN_TEXT.search(text)
        if found:
            self.draft.name, self.draft.anonymous = found.group(1), False
        elif whole and word not in CONFIRM_WORDS | EDIT_WORDS:
            name = _NAME_PREFIX.sub("", text).strip(" ，,。.")
            if _NAME.fullmatch(name):
                self.draft.name, self.draft.anonymous = name, False

    def _read_phone(self, text: str, whole: bool) -> None:
        found = _MOBILE.search(normalise_digits(text))
        number = found.group(0) if found else (normalise_phone(text) if whole else None)
        if number:
            self.draft.phone = number

    def _extract(self, text: str) -> ClaimDraft:
        return extract_claim(text, sites=site_refs(self.session, self.draft.county_code),
                             counties=county_refs(self.session), risk_words=self.settings.reading.all_risk_words())

    def _merge(self, claim: ClaimDraft, text: str, *, override: bool, asked: str | None) -> None:
        d = self.draft

        def put(key: str, value: Any, field: str) -> None:
            if value is not None and (override or asked == field or not getattr(d, key)):
                setattr(d, key, value)

        if claim.site is not None:
            put("site_id", int(claim.site.site_id), "site")
            if d.site_id == int(claim.site.site_id):
                d.county_code, d.site_score = claim.county_code, claim.site.score
                d.drop("site_choices")
        elif claim.county_code and (override or asked == "site" or not d.county_code):
            if d.county_code != claim.county_code:
                d.site_id = None
            d.county_code = claim.county_code
        if claim.site_choices and not d.site_id:
            d.site_choices = [int(c.site_id) for c in claim.site_choices]
        elif claim.site is None and not d.site_id:
            put("place", place_words(text), "site")
        put("amount", _figure(claim.amount), "amount")
        put("amount_per_person", _figure(claim.amount_per_person), "amount")
        # "我" alone makes the extractor guess one worker: believed only beside an amount or a stated count.
        said = asked == "workers" or _COUNT_SAID.search(text) or (
            not override and (claim.amount or claim.amount_per_person))
        if claim.workers is not None and said:
            put("workers", _figure(claim.workers), "workers")
        put("months", _figure(claim.months), "")
        put("period", claim.period, "")
        put("employer", claim.employer, "")
        if claim.risk_flags:
            self.risk_seen |= set(claim.risk_flags)
            d.risk_flags = sorted(set(d.risk_flags) | set(claim.risk_flags))
            terms = d.risk_terms
            for category, words in claim.risk_terms.items():
                terms[category] = sorted(set(terms.get(category, [])) | set(words))
            d.risk_terms = terms
            if "self_harm" in claim.risk_flags and replies.SELF_HARM not in self.notes:
                self.notes.append(replies.SELF_HARM)

    def _keep_text(self, text: str) -> None:
        """Everything the worker wrote goes with the complaint, up to the configured length; a phone or ID
        number in it only masked (the number given goes to the complainant's encrypted fields)."""
        text = mask_numbers(text)
        texts = self.draft.texts
        room = self.settings.dialogue.max_text_chars - sum(len(t) for t in texts)
        if len(text) > room:
            text = text[:max(room, 0)]
            if not self.draft.truncated:
                self.draft.truncated = True
                self.notes.append(replies.TRUNCATED)
        if text:
            texts.append(text)
        self.draft.texts = texts  # stored from now on, even when this message added nothing

    def _add_photos(self, photos: list[Photo]) -> None:
        if not photos:
            return
        kept = self.draft.photos
        limit = self.settings.uploads.max_photos
        room = max(limit - len(kept), 0)
        kept += _kept(photos[:room])
        self.draft.photos = kept
        self.notes.append(replies.PHOTOS_RECEIVED.format(count=min(len(photos), room)))
        if len(photos) > room:
            self.notes.append(replies.TOO_MANY_PHOTOS.format(limit=limit))

    def _scene_site(self, scene: str | None) -> Site | None:
        if not scene:
            return None
        return self.session.scalar(select(Site).where(Site.public_token == scene.strip()))

    # ------------------------------------------------------------------ summary and submission

    def _amount(self) -> Figure | None:
        d = self.draft
        if d.amount:
            return d.amount
        per, workers = d.amount_per_person, d.workers
        if per and workers:
            return Figure(value=per.value * workers.value, approximate=per.approximate or workers.approximate)
        return None

    def _where(self) -> str:
        d = self.draft
        county = next((c.name for c in county_refs(self.session) if c.code == d.county_code), None)
        if county is None and d.county_code:
            found = self.session.get(Jurisdiction, d.county_code)
            county = found.name if found else None
        site = self.session.get(Site, d.site_id) if d.site_id else None
        if site is None:
            return (county or "") + (d.place or "")
        if county is None or site.name.startswith(county):
            return site.name
        return county + site.name

    def _summary(self) -> str:
        d = self.draft
        amount, workers = self._amount(), d.workers
        return replies.SUMMARY.format(
            where=self._where(),
            workers=("约" if workers.approximate else "") + str(workers.value),
            amount=replies.OWED.format(amount=("约" if amount.approximate else "") + str(amount.value))
            if amount else replies.AMOUNT_UNKNOWN,
            name=replies.ANONYMOUS if d.anonymous else d.name,
            phone=mask_phone(self.channel_phone or d.phone))

    def _submit(self) -> Reply:
        """Store the complaint; the key is this conversation at this version, so a replayed 确认 is the same."""
        d = self.draft
        amount = self._amount()
        claim = {
            "source": "dialogue",
            "amount_approximate": amount.approximate if amount else None,
            "workers_approximate": d.workers.approximate,
            "amount_per_person": d.amount_per_person.value if d.amount_per_person else None,
            "period": d.period,
            "employer": d.employer,
            "risk_flags": d.risk_flags,
            "risk_terms": d.risk_terms,
            "site_match_score": d.site_score,
        }
        photos = _unkept(d.photos)
        complaint, created = create_complaint(self.session, NewComplaint(
            channel=self.conv.channel, channel_user_id=self.conv.user_id, phone=self.channel_phone or d.phone,
            name=d.name, anonymous=d.anonymous, site_id=d.site_id, jurisdiction_code=d.county_code,
            project_name=None if d.site_id else d.place,
            workers=d.workers.value, amount=amount.value if amount else None,
            months=d.months.value if d.months else None,
            free_text="\n".join(d.texts), claim=claim, photos=photos,
            submission_key=f"dialogue:{self.conv.id}:{self.conv.version}"))
        self._reset(keep_ticket=complaint.ticket_no)
        return self._say(replies.SUBMITTED.format(ticket=complaint.ticket_no), complaint_created=created,
                         ticket_no=complaint.ticket_no)


@functools.lru_cache(maxsize=4)
def _calendar(section: CalendarSettings) -> WorkingCalendar:
    """The working calendar of the settings, built once: an answer to 工资到手了吗 may close or reopen the case."""
    return WorkingCalendar.from_config(dataclasses.asdict(section))


def _kept(photos: list[Photo]) -> list[KeptPhoto]:
    """Photos as the draft keeps them until they are stored (content in base64)."""
    return [KeptPhoto(filename=p.filename, content_type=p.content_type, source=p.source,
                      content=base64.b64encode(p.content).decode("ascii")) for p in photos]


def _unkept(kept: list[KeptPhoto]) -> list[Photo]:
    return [Photo(p.filename, p.content_type, base64.b64decode(p.content), p.source) for p in kept]


def _case_where(complaint: Complaint) -> str:
    """A case as the worker knows it: the site, else the project as they named it, else the county."""
    if complaint.site is not None:
        return complaint.site.name
    if complaint.project_name:
        return complaint.project_name
    if complaint.jurisdiction is not None:
        return complaint.jurisdiction.name
    return "未注明工地"


def _in_context(text: str, asking: str | None) -> str:
    """A bare number means what was asked: "8" after 几个人 is 8 people, "35000" after 多少钱 is yuan."""
    if not _BARE_NUMBER.fullmatch(text.replace(" ", "")):
        return text
    if asking == "workers":
        return text + "个人"
    if asking == "amount":
        return "欠" + text + "元"
    return text
