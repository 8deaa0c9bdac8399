"""移送公安 and what the police owe in return: the transfer (only for a case over the thresholds, with an order to pay
ignored: orders.police_eligibility), the police's receipt (回执) within [enforcement] police_receipt_hours and
their decision, 立案 or 不予立案 with the reason, within police_decision_days of the receipt (行政执法机关移送涉嫌
犯罪案件的规定 Art. 8). Each wait is a sticky timer; one run out is recorded and escalated to the county and the
city, once. One transfer at a time: a case may be transferred again after the police decided.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from intake.case.cases import CaseContext, CaseError
from intake.case.timers import POLICE_CLOCK, FireContext, cancel_timers, set_timer
from intake.foundation.models import Complaint, Event, EventKind, PoliceTransfer, Timer
from intake.foundation.transitions import record

from .orders import ACTOR, escalate, police_eligibility

FILED, DECLINED = "filed", "declined"
OUTCOMES = {FILED: "立案", DECLINED: "不予立案"}
RECEIPT, DECISION = "receipt", "decision"
POLICE_MAX = 200


def open_transfer(session: Session, complaint: Complaint) -> PoliceTransfer | None:
    """The transfer still waiting for the police's decision, if any."""
    return next((t for t in complaint.police_transfers if t.outcome is None), None)


def transfers_of(session: Session, complaint: Complaint) -> list[PoliceTransfer]:
    return list(complaint.police_transfers)


def transfer_to_police(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, police: str,
                       note: str = "") -> Event:
    """移送公安, only for a case that meets the thresholds; the basis is recorded with the transfer and the police's
    receipt is awaited."""
    police = (police or "").strip()
    if not police:
        raise CaseError("请填写接收移送的公安机关")
    if len(police) > POLICE_MAX:
        raise CaseError(f"公安机关名称请在 {POLICE_MAX} 字以内")
    if open_transfer(session, complaint) is not None:
        raise CaseError("本案已移送公安，尚未收到立案结果")
    check = police_eligibility(session, complaint, ctx.settings.enforcement)
    if not check.eligible:
        raise CaseError("不符合移送公安的条件：" + "；".join(check.reasons))
    due = ctx.now + timedelta(hours=ctx.settings.enforcement.police_receipt_hours)
    transfer = PoliceTransfer(complaint=complaint, police=police, transferred_by=actor,
                              transferred_at=ctx.now, receipt_due_at=due)
    session.add(transfer)
    session.flush()
    set_timer(session, complaint, f"{POLICE_CLOCK}:{RECEIPT}", due)
    return record(session, complaint, EventKind.POLICE_TRANSFERRED, actor=actor, note=(note or "").strip() or None,
                  data={"transfer_id": transfer.id, "police": police, "basis": list(check.reasons),
                        "receipt_due_at": due.isoformat()})


def _received(session: Session, transfer: PoliceTransfer, complaint: Complaint, ctx: CaseContext,
              note: str | None) -> None:
    transfer.received_at, transfer.receipt_note = ctx.now, note
    transfer.decision_due_at = ctx.now + timedelta(days=ctx.settings.enforcement.police_decision_days)
    cancel_timers(session, complaint, [POLICE_CLOCK])


def police_receipt(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, note: str = "") -> Event:
    """The police signed the receipt: their decision is awaited from now."""
    transfer = open_transfer(session, complaint)
    if transfer is None or transfer.received_at is not None:
        raise CaseError("本案没有等待公安机关签收的移送")
    note = (note or "").strip()[:500] or None
    _received(session, transfer, complaint, ctx, note)
    set_timer(session, complaint, f"{POLICE_CLOCK}:{DECISION}", transfer.decision_due_at)
    return record(session, complaint, EventKind.POLICE_RECEIPT, actor=actor, note=note,
                  data={"transfer_id": transfer.id, "decision_due_at": transfer.decision_due_at.isoformat()})


def police_decision(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, outcome: str,
                    reason: str = "") -> Event:
    """立案 or 不予立案 (with the police's reason, which the department may ask them to reconsider); a decision
    that came without a receipt counts as the receipt too."""
    transfer = open_transfer(session, complaint)
    if transfer is None:
        raise CaseError("本案没有等待公安机关立案结果的移送")
    if outcome not in OUTCOMES:
        raise CaseError("请选择立案或不予立案")
    reason = (reason or "").strip()
    if outcome == DECLINED and not reason:
        raise CaseError("不予立案的，请填写公安机关说明的理由")
    if transfer.received_at is None:
        _received(session, transfer, complaint, ctx, None)
    transfer.outcome, transfer.outcome_reason, transfer.decided_at = outcome, reason or None, ctx.now
    cancel_timers(session, complaint, [POLICE_CLOCK])
    return record(session, complaint, EventKind.POLICE_DECIDED, actor=actor,
                  note=f"{transfer.police}{OUTCOMES[outcome]}" + (f"：{reason}" if reason else ""),
                  data={"transfer_id": transfer.id, "outcome": outcome, "reason": reason or None})


def fire_police(session: Session, timer: Timer, complaint: Complaint, fire: FireContext) -> None:
    """The receipt or the decision did not come in time: record it once and escalate."""
    transfer = open_transfer(session, complaint)
    step = timer.clock.split(":", 1)[1]
    waiting = transfer is not None and (transfer.received_at is None if step == RECEIPT else
                                        transfer.received_at is not None)
    if not waiting:
        return
    what = "签收移送回执" if step == RECEIPT else "作出是否立案的决定"
    due = transfer.receipt_due_at if step == RECEIPT else transfer.decision_due_at
    text = (f"【移送公安超期】案件 {complaint.ticket_no} 已移送{transfer.police}，对方未在期限内{what}，"
            "请协调公安机关并督办。")
    record(session, complaint, EventKind.POLICE_OVERDUE, actor=ACTOR, note=text,
           data={"transfer_id": transfer.id, "step": step, "due_at": due.isoformat(), "timer_id": timer.id})
    escalate(session, complaint, fire, EventKind.POLICE_OVERDUE, text)
