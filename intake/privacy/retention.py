"""Personal data is kept only so long: a case closed (销号) `[privacy] retention_years` ago loses its worker.

What goes: the worker's name, phone and ID number, the free text and the worker's words in the claim, the names
on the claim lines, the evidence files (each cleaned copy with the original kept beside it in the same row), the
chat messages around the case and the messages sent to the worker (their addresses are the worker's phone or
WeChat id), and an idle conversation of that phone or WeChat user.
What stays, for the ledger (台账) and its statistics: channel, place, site, department, workers, amounts owed and
recovered, status, the timeline's dates and steps.

A case is done once (`anonymised_at`), so a re-run does nothing new; batches are their own transactions, each
written to the audit log; a reopened case is not closed and so not touched.

Inspectors' poster check-ins (intake.warnings.posters) keep the photo's EXIF place, so the photo and the place go
`[privacy] check_in_photo_days` after the check-in; the check-in (site, inspector, times, note) stays, since it
is what ended a poster's silence.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from intake.conversation.transcript import chat_messages
from intake.delivery.outbox import sms_destination
from intake.foundation.calendar import add_years
from intake.foundation.models import (
    Attachment,
    ClaimLine,
    Complaint,
    Conversation,
    Event,
    EventKind,
    InboundMessage,
    Outbox,
    PosterCheckIn,
    Status,
)
from intake.foundation.transitions import record
from intake.people.audit import audit

ACTOR = "cli"
REMOVED_TEXT = "［已超过保存期限，工人个人信息和陈述已清除］"


@dataclass
class RetentionReport:
    cases: int = 0
    photos: int = 0
    messages: int = 0
    tickets: list[str] = field(default_factory=list)


def cutoff(now: datetime, years: int) -> datetime:
    """The same day `years` ago (28 February for a 29th)."""
    return add_years(now, -years)


def _due(before: datetime, after_id: int, limit: int):
    closed = (select(Event.complaint_id, func.max(Event.created_at).label("closed_at"))
              .where(Event.to_status == Status.CLOSED.value).group_by(Event.complaint_id).subquery())
    return (select(Complaint).join(closed, closed.c.complaint_id == Complaint.id)
            .where(Complaint.status == Status.CLOSED.value, Complaint.anonymised_at.is_(None),
                   closed.c.closed_at < before, Complaint.id > after_id)
            .order_by(Complaint.id).limit(limit))


def anonymise_due(sessions: sessionmaker[Session], now: datetime, years: int, batch_size: int,
                  dry_run: bool = False) -> RetentionReport:
    """Anonymise every case closed before the cutoff; with `dry_run` count them and change nothing."""
    before, report, last_id = cutoff(now, years), RetentionReport(), 0
    while True:
        with sessions.begin() as session:
            batch = session.scalars(_due(before, last_id, batch_size)).all()
            if not batch:
                return report
            done = RetentionReport()
            for complaint in batch:
                _anonymise(session, complaint, before, now, done, dry_run)
            if not dry_run:
                audit(session, user_id=None, username=ACTOR, action="retention",
                      detail={"years": years, "cases": done.cases, "photos": done.photos,
                              "messages": done.messages, "tickets": done.tickets})
        last_id = batch[-1].id
        report.cases, report.photos, report.messages = (report.cases + done.cases, report.photos + done.photos,
                                                        report.messages + done.messages)
        report.tickets += done.tickets


def drop_check_in_photos(sessions: sessionmaker[Session], now: datetime, days: int, dry_run: bool = False) -> int:
    """The photos and GPS places of poster check-ins made more than `days` ago, dropped in one statement (audited);
    with `dry_run` counted only. A re-run finds none left."""
    due = (PosterCheckIn.created_at < now - timedelta(days=days)) & PosterCheckIn.photo_removed_at.is_(None)
    with sessions.begin() as session:
        if dry_run:
            return session.scalar(select(func.count()).select_from(PosterCheckIn).where(due))
        done = session.execute(update(PosterCheckIn).where(due).values(
            photo=None, content_type=None, latitude=None, longitude=None, photo_removed_at=now)).rowcount
        if done:
            audit(session, user_id=None, username=ACTOR, action="retention",
                  detail={"check_in_photo_days": days, "check_in_photos": done})
        return done


def _anonymise(session: Session, complaint: Complaint, before: datetime, now: datetime, report: RetentionReport,
               dry_run: bool) -> None:
    report.cases += 1
    report.tickets.append(complaint.ticket_no)
    report.photos += session.scalar(select(func.count()).select_from(Attachment)
                                    .where(Attachment.complaint_id == complaint.id))
    chat = chat_messages(complaint)
    if chat is not None:
        report.messages += session.scalar(select(func.count()).select_from(chat.subquery()))
    if dry_run:
        return
    session.execute(delete(Outbox).where(Outbox.complaint_id == complaint.id,
                                         Outbox.destination.in_(_worker_addresses(complaint))))
    if chat is not None:
        session.execute(delete(InboundMessage).where(InboundMessage.id.in_(
            chat.with_only_columns(InboundMessage.id).scalar_subquery())))
        _forget_conversation(session, complaint, before)
    session.execute(delete(Attachment).where(Attachment.complaint_id == complaint.id))
    for line in session.scalars(select(ClaimLine).where(ClaimLine.complaint_id == complaint.id)):
        line.worker_name = line.phone = None
    person = complaint.complainant
    person.name = person.phone = person.id_number = person.id_number_masked = person.email = None
    complaint.free_text = REMOVED_TEXT
    complaint.claim = {key: value for key, value in complaint.claim.items() if key != "risk_terms"}
    complaint.channel_user_id = None
    complaint.anonymised_at = now
    complaint.version += 1
    record(session, complaint, EventKind.ANONYMISED, actor=ACTOR, note=REMOVED_TEXT)


def _worker_addresses(complaint: Complaint) -> list[str]:
    """Every outbox destination that reaches this worker (intake.case.notices), whether or not they sent 退订 since,
    and the other workers of the case asked on their own claim lines."""
    user, phone = complaint.channel_user_id, complaint.complainant.phone
    lines = [sms_destination(line.phone) for line in complaint.claim_lines if line.phone]
    return ([sms_destination(phone)] * bool(phone)
            + [f"sms:{user}", f"wechat:{user}", f"wechat-template:{user}"] * bool(user) + lines)


def _forget_conversation(session: Session, complaint: Complaint, before: datetime) -> None:
    """An idle conversation of the worker goes; one that sent 退订 stays (without its draft), so it is kept."""
    conversation = session.scalar(select(Conversation).where(
        Conversation.channel == complaint.channel, Conversation.user_id == complaint.channel_user_id,
        Conversation.updated_at < before))
    if conversation is None:
        return
    if conversation.opted_out_at is None:
        session.delete(conversation)
    else:
        conversation.draft = {}
