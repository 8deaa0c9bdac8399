"""责令限期支付 and what follows it: the order served on the employer with its time limit as a sticky timer; paid in
time it is settled, unpaid at the deadline it expires, the additional compensation of 劳动保障监察条例 Art. 26 is
fixed at the rate the officer chose, and the case escalates to the county and the city. An expired order is what
the transfer to the police (Criminal Law Art. 276-1) needs beside the amounts, checked by `police_eligibility`.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from intake.case.cases import CaseContext, CaseError
from intake.case.clocks import level_department
from intake.case.timers import PAYMENT_ORDER_CLOCK, FireContext, cancel_timers, set_timer
from intake.delivery.outbox import notify_department
from intake.foundation.calendar import WorkingCalendar
from intake.foundation.models import Complaint, Event, EventKind, PaymentOrder, Timer
from intake.foundation.settings import EnforcementSettings
from intake.foundation.transitions import record

SERVED, PAID, EXPIRED = "served", "paid", "expired"
ACTOR = "system:enforcement"


def orders_of(session: Session, complaint: Complaint) -> list[PaymentOrder]:
    return list(complaint.payment_orders)


def open_order(session: Session, complaint: Complaint) -> PaymentOrder | None:
    return next((o for o in orders_of(session, complaint) if o.state == SERVED), None)


def compensation(amount: int, percent: int) -> int:
    """The additional compensation in whole yuan, rounded half up."""
    return (amount * percent + 50) // 100


def _local(moment: datetime, calendar: WorkingCalendar) -> str:
    return moment.astimezone(calendar.timezone).strftime("%Y年%m月%d日%H:%M")


def issue_order(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, employer: str,
                amount: int, due: datetime, compensation_percent: int) -> PaymentOrder:
    """Serve an order to pay on the employer; one open order a case. Its deadline fires `fire_order`."""
    bounds = ctx.settings.enforcement
    employer = (employer or "").strip()
    if not employer:
        raise CaseError("请填写被责令支付的用人单位")
    if amount <= 0:
        raise CaseError("责令支付的金额必须大于 0 元")
    if due <= ctx.now:
        raise CaseError("支付期限必须晚于现在")
    if not bounds.compensation_min_percent <= compensation_percent <= bounds.compensation_max_percent:
        raise CaseError(f"加付赔偿金比例须在 {bounds.compensation_min_percent}% 至 "
                        f"{bounds.compensation_max_percent}% 之间")
    if open_order(session, complaint) is not None:
        raise CaseError("本案已有未到期的限期支付令，请先记录其结果")
    order = PaymentOrder(complaint=complaint, employer=employer[:300], amount=amount, due_at=due,
                         compensation_percent=compensation_percent, state=SERVED, issued_by=actor,
                         issued_at=ctx.now)
    session.add(order)
    session.flush()
    set_timer(session, complaint, f"{PAYMENT_ORDER_CLOCK}:due", due)
    record(session, complaint, EventKind.ORDER_ISSUED, actor=actor,
           note=f"责令{employer}于{_local(due, ctx.calendar)}前支付拖欠工资 {amount} 元",
           data={"order_id": order.id, "employer": employer, "amount": amount, "due_at": due.isoformat(),
                 "compensation_percent": compensation_percent})
    return order


def order_paid(session: Session, complaint: Complaint, ctx: CaseContext, *, actor: str, note: str = "") -> Event:
    """The employer paid within the time limit: the order is settled and its timer cancelled."""
    order = open_order(session, complaint)
    if order is None:
        raise CaseError("本案没有未到期的限期支付令")
    order.state, order.settled_at = PAID, ctx.now
    cancel_timers(session, complaint, [PAYMENT_ORDER_CLOCK])
    return record(session, complaint, EventKind.ORDER_PAID, actor=actor, note=(note or "").strip() or None,
                  data={"order_id": order.id, "amount": order.amount})


def fire_order(session: Session, timer: Timer, complaint: Complaint, fire: FireContext) -> None:
    """The time limit passed unpaid: fix the compensation, record it and escalate to the county and the city."""
    order = open_order(session, complaint)
    if order is None or order.due_at > fire.now:  # paid in time, or a newer order's deadline not yet reached
        return
    order.state, order.settled_at = EXPIRED, fire.now
    order.compensation = compensation(order.amount, order.compensation_percent)
    text = (f"【限期支付逾期】案件 {complaint.ticket_no}：{order.employer}未在期限内支付 {order.amount} 元，"
            f"依法应加付赔偿金 {order.compensation} 元（{order.compensation_percent}%），请督办并考虑移送公安。")
    record(session, complaint, EventKind.ORDER_EXPIRED, actor=ACTOR, note=text,
           data={"order_id": order.id, "amount": order.amount, "compensation": order.compensation,
                 "compensation_percent": order.compensation_percent, "timer_id": timer.id})
    escalate(session, complaint, fire, EventKind.ORDER_EXPIRED, text)


def escalate(session: Session, complaint: Complaint, fire: FireContext, kind: EventKind, text: str) -> None:
    """Tell the department holding the case, the county's and the city's supervisors."""
    payload = {"kind": kind, "ticket_no": complaint.ticket_no, "text": text}
    clocks = fire.settings.clocks
    targets = [complaint.department, *(level_department(session, complaint, level, clocks)
                                       for level in ("county", "city"))]
    for target in dict.fromkeys(t for t in targets if t is not None):
        notify_department(session, target, payload, complaint.id, fire.now, flush=False)


@dataclass(frozen=True)
class Eligibility:
    """Whether the case meets the thresholds for transfer to the police, and why (or why not), in staff's words."""

    eligible: bool
    reasons: tuple[str, ...]


def police_eligibility(session: Session, complaint: Complaint, settings: EnforcementSettings) -> Eligibility:
    """Criminal Law Art. 276-1 as 法释〔2013〕3号 reads it: an amount over the configured threshold (one worker for
    months, or many workers in total) and an order to pay that the employer let expire."""
    lines = complaint.claim_lines
    owed = [max((line.amount_claimed or 0) - line.amount_paid, 0) for line in lines]
    if not lines and (complaint.workers or 1) == 1 and complaint.amount:
        owed = [complaint.amount]
    total = sum(owed) if lines else (complaint.amount or 0)
    workers = max(len(lines), complaint.workers or 0)
    months = complaint.months or 0
    one = months >= settings.police_months and max(owed, default=0) >= settings.police_one_worker_amount
    many = workers >= settings.police_many_workers and total >= settings.police_many_workers_amount
    ignored = any(o.state == EXPIRED for o in orders_of(session, complaint))
    reasons = []
    if one:
        reasons.append(f"拖欠一名工人 {months} 个月工资 {max(owed)} 元，达到 {settings.police_one_worker_amount} 元的标准")
    if many:
        reasons.append(f"拖欠 {workers} 名工人工资共 {total} 元，达到 {settings.police_many_workers_amount} 元的标准")
    if not (one or many):
        reasons.append(f"数额未达标准：一名工人 {settings.police_months} 个月以上且 "
                       f"{settings.police_one_worker_amount} 元以上，或 {settings.police_many_workers} 名以上工人共 "
                       f"{settings.police_many_workers_amount} 元以上")
    reasons.append("限期支付令已逾期未付" if ignored else "尚无逾期未付的限期支付令")
    return Eligibility((one or many) and ignored, tuple(reasons))
