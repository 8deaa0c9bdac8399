"""The API's face of the case actions: each request schema names its `CaseAction` and the operation's
parameters from its body. The rules (who may, in which status, what it does) are the core's one table,
intake.enforcement.actions."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel
from sqlalchemy.orm import Session

from intake.case.cases import CaseContext
from intake.enforcement.actions import take as take_action
from intake.foundation.actions import CaseAction
from intake.foundation.models import Complaint
from intake.people.access import Scope

from . import schemas

A = CaseAction


def _fields(*names: str) -> Callable[[Any], dict[str, Any]]:
    return lambda body: {name: getattr(body, name) for name in names}


# Request schema -> (the action, its parameters from the body). "close" is the API's public name of 销号 by a
# supervisor's override.
ACTIONS: Mapping[type[BaseModel], tuple[CaseAction, Callable[[Any], dict[str, Any]]]] = {
    schemas.Acknowledge: (A.ACKNOWLEDGE, _fields()),
    schemas.Contact: (A.CONTACT, _fields("note")),
    schemas.Wait: (A.WAIT, _fields("needed")),
    schemas.Material: (A.MATERIAL, _fields()),
    schemas.Accept: (A.ACCEPT, _fields()),
    schemas.Reject: (A.REJECT, _fields("reason")),
    schemas.Measures: (A.MEASURES, lambda b: {"measures": list(dict.fromkeys(b.measures)), "note": b.note}),
    schemas.Investigate: (A.INVESTIGATE, _fields("note")),
    schemas.Resolve: (A.RESOLVE, _fields("outcome", "amount_recovered", "workers_paid")),
    schemas.Reopen: (A.REOPEN, _fields("reason")),
    schemas.Return: (A.RETURN, _fields("reason")),
    schemas.RequestReturn: (A.REQUEST_RETURN, _fields("reason")),
    schemas.Close: (A.CLOSE_OVERRIDE, _fields("reason")),
    schemas.Message: (A.MESSAGE, _fields("text")),
    schemas.Transfer: (A.TRANSFER, _fields("department_id", "reason")),
    schemas.OrderPayment: (A.ORDER_PAYMENT, _fields("employer", "amount", "due", "compensation_percent")),
    schemas.OrderPaid: (A.ORDER_PAID, _fields("note")),
    schemas.PoliceTransfer: (A.POLICE_TRANSFER, _fields("police", "note")),
    schemas.PoliceReceipt: (A.POLICE_RECEIPT, _fields("note")),
    schemas.PoliceDecision: (A.POLICE_DECISION, lambda b: {"outcome": b.outcome, "reason": b.reason or ""}),
    schemas.PlanStep: (A.PLAN_STEP, _fields("what", "owner", "due")),
    schemas.PlanStepDone: (A.PLAN_STEP_DONE, _fields("step_id", "note")),
    schemas.ClearingNotice: (A.CLEARING_NOTICE, _fields("employer", "reason")),
    schemas.ClearingReply: (A.CLEARING_REPLY, _fields("reply")),
    schemas.CoFunds: (A.CO_FUNDS, _fields("amount", "paid_on", "to_whom")),
    schemas.CoPaymentStatus: (A.CO_PAYMENT_STATUS, lambda b: {"status": b.status, "note": b.note or ""}),
    schemas.CoReply: (A.CO_REPLY, _fields("text")),
}


def take(session: Session, complaint: Complaint, ctx: CaseContext, scope: Scope, body: BaseModel) -> None:
    """Refuse what the role may not do (AccessDenied), then carry it out (CaseError, TransitionError, ...)."""
    action, params = ACTIONS[type(body)]
    take_action(session, complaint, ctx, scope, action, **params(body))
