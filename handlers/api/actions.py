"""Each API action: the scope action a client's role needs for it (intake.people.access) and the intake.case.cases operation
that carries it out. The case's rules stay in intake.case.cases; this is only the table between the two."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from intake.case import cases
from intake.foundation.models import Complaint
from intake.people.access import Scope, departments_in_reach

from . import schemas as s

Run = Callable[[Session, Complaint, cases.CaseContext, str, Any], object]


@dataclass(frozen=True)
class CaseAction:
    needs: str
    run: Run


def _transfer(session: Session, complaint: Complaint, ctx: cases.CaseContext, scope: Scope,
              body: s.Transfer) -> object:
    department = next((d for d in departments_in_reach(session, scope) if d.id == body.department_id), None)
    if department is None:
        raise cases.CaseError("不能转办给这个部门（不存在或不在权限范围内）")
    return cases.transfer(session, complaint, ctx, department=department, actor=scope.actor, reason=body.reason)


ACTIONS: dict[type, CaseAction] = {
    s.Acknowledge: CaseAction("acknowledge", lambda ss, c, x, a, b: cases.acknowledge(ss, c, x, actor=a)),
    s.Contact: CaseAction("contact", lambda ss, c, x, a, b: cases.record_contact(ss, c, x, actor=a, note=b.note)),
    s.Wait: CaseAction("wait", lambda ss, c, x, a, b: cases.wait_for_worker(ss, c, x, actor=a, needed=b.needed)),
    s.Material: CaseAction("material", lambda ss, c, x, a, b: cases.material_received(ss, c, x, actor=a)),
    s.Accept: CaseAction("accept", lambda ss, c, x, a, b: cases.accept(ss, c, x, actor=a)),
    s.Reject: CaseAction("reject", lambda ss, c, x, a, b: cases.reject(ss, c, x, actor=a, reason=b.reason)),
    s.Measures: CaseAction("measures", lambda ss, c, x, a, b: cases.record_measures(
        ss, c, x, actor=a, measures=list(dict.fromkeys(b.measures)), note=b.note)),
    s.Investigate: CaseAction("investigate", lambda ss, c, x, a, b: cases.open_investigation(
        ss, c, x, actor=a, note=b.note)),
    s.Resolve: CaseAction("resolve", lambda ss, c, x, a, b: cases.resolve(
        ss, c, x, actor=a, outcome=b.outcome, amount_recovered=b.amount_recovered, workers_paid=b.workers_paid)),
    s.Reopen: CaseAction("reopen", lambda ss, c, x, a, b: cases.reopen(ss, c, x, actor=a, reason=b.reason)),
    s.Return: CaseAction("return", lambda ss, c, x, a, b: cases.return_case(ss, c, x, actor=a, reason=b.reason)),
    s.RequestReturn: CaseAction("request_return", lambda ss, c, x, a, b: cases.request_approval(
        ss, c, x, actor=a, kind="return", reason=b.reason)),
    s.Close: CaseAction("close_override", lambda ss, c, x, a, b: cases.close_by_override(
        ss, c, x, actor=a, reason=b.reason)),
    s.Message: CaseAction("message", lambda ss, c, x, a, b: cases.message_worker(ss, c, x, actor=a, text=b.text)),
}


def take(session: Session, complaint: Complaint, ctx: cases.CaseContext, scope: Scope, body: Any) -> None:
    """Refuse what the role may not do (AccessDenied), then carry it out (CaseError, TransitionError, ...)."""
    if isinstance(body, s.Transfer):
        scope.require("transfer")
        _transfer(session, complaint, ctx, scope, body)
        return
    action = ACTIONS[type(body)]
    scope.require(action.needs)
    action.run(session, complaint, ctx, scope.actor, body)
