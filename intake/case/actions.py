"""The case's rows of the one table of case actions: for each `CaseAction` of the case, the statuses it is offered
in and the operation of intake.case.cases that carries it out. Packages above add their rows to the table
(intake.enforcement.actions.RULES is the whole table, which the console and the API use); `offered` and `take`
read whichever table they are given. The console adds only labels and form fields, the API only its schema.

An action that moves the case is offered exactly where the state machine (foundation.transitions.ALLOWED) allows
its move, so the two cannot disagree; an action that records without moving names the stage of the case it
belongs to, itself derived from the state machine.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from intake.foundation.actions import CaseAction
from intake.foundation.models import Complaint, StaffUser, Status
from intake.foundation.transitions import ALLOWED
from intake.people.access import Scope, case_for, departments_in_reach

from . import cases, co_steps, duplicates, petitions, routing
from .cases import CaseContext, CaseError

Operation = Callable[..., Any]


def reaching(to: Status) -> frozenset[str]:
    """The statuses from which the state machine allows a move to `to`."""
    return frozenset(s.value for s, targets in ALLOWED.items() if to in targets)


# Stages of a case, each derived from the moves it allows.
OPEN = frozenset(s.value for s in Status) - {Status.CLOSED.value, Status.DUPLICATE.value}
WORKING = reaching(Status.RESOLVED)                       # accepted and not yet resolved: may be resolved
HELD = reaching(Status.ACKNOWLEDGED) | reaching(Status.ACCEPTED) | WORKING  # a department holds it, unfinished
RETURNABLE = reaching(Status.RETURNED)
# Transfer moves to `routed`; a case still `received` is the router's, not a supervisor's.
TRANSFERABLE = reaching(Status.ROUTED) - {Status.RECEIVED.value}


@dataclass(frozen=True)
class Rule:
    statuses: frozenset[str]
    run: Callable[..., Any]  # (session, complaint, ctx, scope, **params)
    # Offered only when this holds of the case and the kinds of approval it has waiting.
    when: Callable[[Complaint, frozenset[str]], bool] = field(default=lambda _complaint, _pending: True)


def by_actor(operation: Operation, *, with_context: bool = True, **fixed: Any) -> Callable[..., Any]:
    """An operation of intake.case.cases, called with the scope's actor (and fixed keyword arguments)."""
    def run(session: Session, complaint: Complaint, ctx: CaseContext, scope: Scope, **params: Any) -> Any:
        if with_context:
            return operation(session, complaint, ctx, actor=scope.actor, **fixed, **params)
        return operation(session, complaint, actor=scope.actor, **fixed, **params)
    return functools.update_wrapper(run, operation)


def _transfer(session: Session, complaint: Complaint, ctx: CaseContext, scope: Scope, *, department_id: int,
              reason: str) -> Any:
    """Only to a department within the scope's reach; any other id is refused as if it did not exist."""
    department = next((d for d in departments_in_reach(session, scope) if d.id == department_id), None)
    if department is None:
        raise CaseError("不能转办给这个部门（不存在或不在权限范围内）")
    return cases.transfer(session, complaint, ctx, department=department, actor=scope.actor, reason=reason)


def _take(session: Session, complaint: Complaint, ctx: CaseContext, scope: Scope) -> Any:
    """我来办理: the user takes the case; only a person, never a client system, can be its officer."""
    if scope.principal != "staff":
        raise CaseError("接入系统不能作为承办人")
    return cases.assign(session, complaint, ctx, actor=scope.actor, officer=session.get(StaffUser, scope.user_id))


def _assign(session: Session, complaint: Complaint, ctx: CaseContext, scope: Scope, *, officer_id: int) -> Any:
    officer = next((u for u in cases.colleagues(session, complaint) if u.id == officer_id), None)
    if officer is None:
        raise CaseError("请选择本案承办部门的工作人员")
    return cases.assign(session, complaint, ctx, actor=scope.actor, officer=officer)


def _other_case(session: Session, scope: Scope, ticket_no: str) -> Complaint:
    """Another case named by its ticket, only if the scope may see it; any other is refused as if it did not
    exist."""
    found = case_for(session, scope, ticket_no)
    if found is None:
        raise CaseError("找不到这个投诉编号（不存在或不在权限范围内）")
    return found


def _merge(session: Session, complaint: Complaint, _ctx: CaseContext, scope: Scope, *, other: str,
           reason: str) -> Any:
    return routing.merge(session, complaint, _other_case(session, scope, other), actor=scope.actor, reason=reason)


def _mark_duplicate(session: Session, complaint: Complaint, ctx: CaseContext, scope: Scope, *, survivor: str,
                    reason: str) -> Any:
    found = _other_case(session, scope, survivor)
    return duplicates.mark_duplicate(session, complaint, found, ctx, actor=scope.actor, reason=reason)


def _pending(kind: str) -> Callable[[Complaint, frozenset[str]], bool]:
    return lambda _complaint, pending: kind in pending


def _not_pending(kind: str) -> Callable[[Complaint, frozenset[str]], bool]:
    return lambda _complaint, pending: kind not in pending


def clocks_paused(complaint: Complaint) -> bool:
    return any(d.get("paused") for d in (complaint.deadlines or {}).values())


A = CaseAction
RULES: Mapping[CaseAction, Rule] = {
    A.ACKNOWLEDGE: Rule(reaching(Status.ACKNOWLEDGED), by_actor(cases.acknowledge)),
    A.CONTACT: Rule(HELD, by_actor(cases.record_contact), when=lambda c, _p: "contact" in (c.deadlines or {})),
    A.ACCEPT: Rule(reaching(Status.ACCEPTED), by_actor(cases.accept)),
    A.REJECT: Rule(reaching(Status.REJECTED), by_actor(cases.reject)),
    A.WAIT: Rule(OPEN, by_actor(cases.wait_for_worker),
                 when=lambda c, _p: bool(c.next_due_at) and not clocks_paused(c)),
    A.MATERIAL: Rule(OPEN, by_actor(cases.material_received),
                     when=lambda c, _p: clocks_paused(c)),
    A.MEASURES: Rule(WORKING, by_actor(cases.record_measures)),
    A.INVESTIGATE: Rule(reaching(Status.INVESTIGATING), by_actor(cases.open_investigation)),
    A.CLAIM_LINE: Rule(OPEN, by_actor(cases.add_claim_line, with_context=False)),
    A.PAYMENT: Rule(OPEN, by_actor(cases.record_payment), when=lambda c, _p: bool(c.claim_lines)),
    A.RESOLVE: Rule(reaching(Status.RESOLVED), by_actor(cases.resolve)),
    A.REQUEST_EXTENSION: Rule(WORKING, by_actor(cases.request_approval, kind="extension"),
                              when=_not_pending("extension")),
    A.DECIDE_EXTENSION: Rule(OPEN, by_actor(cases.decide_approval, kind="extension"), when=_pending("extension")),
    A.REQUEST_RETURN: Rule(RETURNABLE, by_actor(cases.request_approval, kind="return"), when=_not_pending("return")),
    A.DECIDE_RETURN: Rule(RETURNABLE, by_actor(cases.decide_approval, kind="return"), when=_pending("return")),
    A.RETURN: Rule(RETURNABLE, by_actor(cases.return_case)),
    A.TRANSFER: Rule(TRANSFERABLE, _transfer),
    A.SUPERVISE: Rule(OPEN, by_actor(cases.supervise)),
    A.CLOSE_OVERRIDE: Rule(reaching(Status.CLOSED), by_actor(cases.close_by_override)),
    A.REOPEN: Rule(reaching(Status.REOPENED), by_actor(cases.reopen)),
    A.MESSAGE: Rule(OPEN, by_actor(cases.message_worker)),
    A.TAKE: Rule(HELD, _take, when=lambda c, _p: c.officer_id is None),
    A.ASSIGN: Rule(HELD, _assign),
    A.RELEASE: Rule(HELD, by_actor(cases.assign, officer=None), when=lambda c, _p: c.officer_id is not None),
    A.NOTE: Rule(frozenset(s.value for s in Status), by_actor(cases.add_note)),
    A.MARK_DUPLICATE: Rule(reaching(Status.DUPLICATE), _mark_duplicate),
    A.UNMARK_DUPLICATE: Rule(frozenset({Status.DUPLICATE.value}), by_actor(duplicates.unmark_duplicate)),
    A.MERGE_COLLECTIVE: Rule(OPEN - {Status.RECEIVED.value}, _merge),
    A.SPLIT_COLLECTIVE: Rule(OPEN, by_actor(routing.split, with_context=False),
                             when=lambda c, _p: c.collective_id is not None),
    A.UNMERGE_COLLECTIVE: Rule(OPEN, by_actor(routing.unmerge, with_context=False),
                               when=lambda c, _p: routing.last_merge(c) is not None),
    A.CO_FUNDS: Rule(OPEN, co_steps.funds_released),
    A.CO_PAYMENT_STATUS: Rule(OPEN, co_steps.payment_status),
    A.CO_REPLY: Rule(OPEN, co_steps.reply),
    A.PETITION: Rule(OPEN, by_actor(petitions.record_petition)),
}


class NotOffered(CaseError):
    """The action exists but not in the case's present status; the adapter words it with its own labels."""

    def __init__(self, action: CaseAction, status: str):
        super().__init__(f"{action.value} is not offered in status {status}")
        self.action, self.status = action, status


def offered(session: Session, complaint: Complaint, scope: Scope,
            rules: Mapping[CaseAction, Rule] = RULES) -> list[CaseAction]:
    """The actions this user may take on this case now, in table order. A head who may return directly is not
    also offered to ask for it."""
    pending = frozenset(cases.pending_approvals(session, complaint))
    found = [action for action, rule in rules.items()
             if complaint.status in rule.statuses and scope.may_on(session, complaint, action)
             and rule.when(complaint, pending)]
    if A.RETURN in found and A.REQUEST_RETURN in found:
        found.remove(A.REQUEST_RETURN)
    return found


def take(session: Session, complaint: Complaint, ctx: CaseContext, scope: Scope, action: CaseAction, *,
         rules: Mapping[CaseAction, Rule] = RULES, **params: Any) -> Any:
    """Refuse what the role may not do (AccessDenied) or what the status does not offer (NotOffered), then carry
    it out (CaseError, TransitionError, ClockError ... from the operation). Flushes, never commits."""
    scope.require_on(session, complaint, action)
    rule = rules[action]
    if complaint.status not in rule.statuses:
        raise NotOffered(action, complaint.status)
    return rule.run(session, complaint, ctx, scope, **params)
