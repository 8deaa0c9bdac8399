"""清出建筑市场: a notice to the housing department of the case's county to clear an employer out of the construction
market (一处违法、处处受限), sent through the department's inbox and awaited for [enforcement] clearing_reply_days;
the reply is recorded on the case, a missing one escalated to the county and the city, once. One notice awaits
its reply at a time.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from intake.case.cases import CaseContext, CaseError
from intake.case.timers import CLEARING_CLOCK, FireContext, cancel_timers, set_timer
from intake.delivery.outbox import notify_department
from intake.foundation.models import ClearingNotice, Complaint, Event, EventKind, Timer
from intake.foundation.transitions import record
from intake.registry.directory import department

from .orders import ACTOR, escalate

HOUSING = "housing"
EMPLOYER_MAX = 300


def open_notice(session: Session, complaint: Complaint) -> ClearingNotice | None:
    return next((n for n in complaint.clearing_notices if n.replied_at is None), None)


def notices_of(session: Session, complaint: Complaint) -> list[ClearingNotice]:
    return list(complaint.clearing_notices)


def send_notice(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, employer: str,
                reason: str) -> ClearingNotice:
    employer, reason = (employer or "").strip(), (reason or "").strip()
    if not employer or len(employer) > EMPLOYER_MAX:
        raise CaseError(f"请填写要清出建筑市场的单位（{EMPLOYER_MAX}字以内）")
    if not reason:
        raise CaseError("请填写清出的事实和依据")
    if open_notice(session, complaint) is not None:
        raise CaseError("本案已函告住建部门，尚未收到回复")
    county = complaint.department.jurisdiction_code if complaint.department else complaint.jurisdiction_code
    housing = department(session, county, HOUSING) if county else None
    if housing is None:
        raise CaseError("找不到本案所在区县的住房城乡建设部门")
    due = ctx.now + timedelta(days=ctx.settings.enforcement.clearing_reply_days)
    notice = ClearingNotice(complaint=complaint, department_id=housing.id, employer=employer,
                            reason=reason[:2000], sent_by=actor, sent_at=ctx.now, reply_due_at=due)
    session.add(notice)
    session.flush()
    text = (f"【清出建筑市场】案件 {complaint.ticket_no}：{employer}拖欠农民工工资，{reason[:200]}。"
            f"请依法将其清出建筑市场，并于 {ctx.settings.enforcement.clearing_reply_days} 日内回复处理情况。")
    notify_department(session, housing, {"kind": EventKind.CLEARING_SENT, "ticket_no": complaint.ticket_no,
                                         "text": text}, complaint.id, ctx.now)
    set_timer(session, complaint, f"{CLEARING_CLOCK}:{notice.id}", due)
    record(session, complaint, EventKind.CLEARING_SENT, actor=actor, note=f"函告{housing.name}：{employer}",
           data={"notice_id": notice.id, "department_id": housing.id, "employer": employer,
                 "reply_due_at": due.isoformat()})
    return notice


def record_reply(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, reply: str) -> Event:
    notice = open_notice(session, complaint)
    if notice is None:
        raise CaseError("本案没有等待住建部门回复的清出函")
    reply = (reply or "").strip()
    if not reply:
        raise CaseError("请填写住建部门的回复")
    notice.reply, notice.replied_at, notice.replied_by = reply[:2000], ctx.now, actor
    cancel_timers(session, complaint, [CLEARING_CLOCK])
    return record(session, complaint, EventKind.CLEARING_REPLIED, actor=actor, note=reply[:2000],
                  data={"notice_id": notice.id})


def fire_notice(session: Session, timer: Timer, complaint: Complaint, fire: FireContext) -> None:
    notice = session.get(ClearingNotice, int(timer.clock.split(":", 1)[1]))
    if notice is None or notice.replied_at is not None:
        return
    text = (f"【清出建筑市场回复超期】案件 {complaint.ticket_no}：已函告{notice.department.name}将{notice.employer}"
            "清出建筑市场，对方未在期限内回复，请督办。")
    record(session, complaint, EventKind.CLEARING_OVERDUE, actor=ACTOR, note=text,
           data={"notice_id": notice.id, "timer_id": timer.id})
    escalate(session, complaint, fire, EventKind.CLEARING_OVERDUE, text)
