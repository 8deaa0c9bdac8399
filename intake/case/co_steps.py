"""A co-handler's own steps on a case it does not hold (发改, 财政, 国资 ... told by routing): funds released, the
project's payment status, a reply. Each is an event on the case's timeline naming the co-handling department, so
the handler and the supervisors see what each member unit did."""
from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from intake.foundation.models import CoHandling, Complaint, Department, Event, EventKind
from intake.foundation.transitions import record
from intake.people.access import Scope

from . import co_clocks
from .cases import CaseContext, CaseError

PAYMENT_STATUSES = {"paid_in_full": "工程款已足额支付", "partly_paid": "工程款部分支付", "unpaid": "工程款未支付",
                    "disputed": "工程款存在结算争议"}
TEXT_MAX = 2000


def _step(session: Session, complaint: Complaint, scope: Scope, kind: EventKind, note: str,
          data: dict[str, Any]) -> Event:
    unit = session.get(Department, scope.department_id)
    return record(session, complaint, kind, actor=scope.actor, note=f"{unit.name}：{note}",
                  data={"department_id": unit.id, **data})


def _text(value: str | None, label: str, required: bool = True) -> str:
    value = (value or "").strip()
    if required and not value:
        raise CaseError(f"请填写{label}")
    if len(value) > TEXT_MAX:
        raise CaseError(f"{label}不能超过{TEXT_MAX}字")
    return value


def funds_released(session: Session, complaint: Complaint, ctx: CaseContext, scope: Scope, *, amount: int,
                   paid_on: date, to_whom: str) -> Event:
    """Money the unit released for the project (财政's disbursement, an SOE's payment): how much, when, to whom."""
    to_whom = _text(to_whom, "拨付对象")
    if amount <= 0:
        raise CaseError("拨付金额须大于0")
    if paid_on > ctx.now.astimezone(ctx.calendar.timezone).date():
        raise CaseError("拨付日期不能晚于今天")
    return _step(session, complaint, scope, EventKind.CO_FUNDS_RELEASED,
                 f"{paid_on:%Y-%m-%d}向{to_whom}拨付{amount:,}元",
                 {"amount": amount, "paid_on": paid_on.isoformat(), "to_whom": to_whom})


def payment_status(session: Session, complaint: Complaint, ctx: CaseContext, scope: Scope, *, status: str,
                   note: str = "") -> Event:
    """Where the project's money stands as the unit knows it (paid in full, partly, not at all, disputed)."""
    if status not in PAYMENT_STATUSES:
        raise CaseError("请选择项目款支付情况")
    note = _text(note, "说明", required=False)
    return _step(session, complaint, scope, EventKind.CO_PAYMENT_STATUS,
                 PAYMENT_STATUSES[status] + (f"（{note}）" if note else ""), {"status": status, "note": note})


def reply(session: Session, complaint: Complaint, ctx: CaseContext, scope: Scope, *, text: str) -> Event:
    """The unit's written answer on the case: the step its clock waits for (intake.case.co_clocks)."""
    text = _text(text, "答复内容")
    co_clocks.stop(session, session.get(CoHandling, (complaint.id, scope.department_id)), ctx.now)
    return _step(session, complaint, scope, EventKind.CO_REPLIED, text, {"text": text})
