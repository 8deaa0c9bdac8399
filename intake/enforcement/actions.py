"""The whole table of case actions: the case's rows (intake.case.actions) and enforcement's. The console and the
API offer and take actions from this table, so an enforcement step is offered, scoped and refused exactly like
any other."""
from __future__ import annotations

import functools
from collections.abc import Mapping

from sqlalchemy.orm import Session

from intake.case import actions as case_actions
from intake.case.actions import OPEN, WORKING, Rule, by_actor
from intake.foundation.actions import CaseAction
from intake.foundation.models import ClearingNotice, Complaint, PoliceTransfer

from . import clearing, orders, plans, police


def _order_open(complaint: Complaint, _pending: frozenset[str]) -> bool:
    session = Session.object_session(complaint)
    return session is not None and orders.open_order(session, complaint) is not None


def _transfer_open(complaint: Complaint) -> PoliceTransfer | None:
    session = Session.object_session(complaint)
    return None if session is None else police.open_transfer(session, complaint)


def _notice_open(complaint: Complaint) -> ClearingNotice | None:
    session = Session.object_session(complaint)
    return None if session is None else clearing.open_notice(session, complaint)


def _awaiting_receipt(complaint: Complaint, _pending: frozenset[str]) -> bool:
    transfer = _transfer_open(complaint)
    return transfer is not None and transfer.received_at is None


A = CaseAction
RULES: Mapping[CaseAction, Rule] = {
    **case_actions.RULES,
    A.ORDER_PAYMENT: Rule(WORKING, by_actor(orders.issue_order), when=lambda c, p: not _order_open(c, p)),
    A.ORDER_PAID: Rule(OPEN, by_actor(orders.order_paid), when=_order_open),
    A.POLICE_TRANSFER: Rule(OPEN, by_actor(police.transfer_to_police), when=lambda c, p: _transfer_open(c) is None),
    A.POLICE_RECEIPT: Rule(OPEN, by_actor(police.police_receipt), when=_awaiting_receipt),
    A.POLICE_DECISION: Rule(OPEN, by_actor(police.police_decision), when=lambda c, p: _transfer_open(c) is not None),
    A.PLAN_STEP: Rule(OPEN, by_actor(plans.add_step), when=lambda c, p: plans.serious(c)),
    A.PLAN_STEP_DONE: Rule(OPEN, by_actor(plans.step_done), when=lambda c, p: plans.has_open_step(c)),
    A.CLEARING_NOTICE: Rule(OPEN, by_actor(clearing.send_notice), when=lambda c, p: _notice_open(c) is None),
    A.CLEARING_REPLY: Rule(OPEN, by_actor(clearing.record_reply), when=lambda c, p: _notice_open(c) is not None),
}

offered = functools.partial(case_actions.offered, rules=RULES)
take = functools.partial(case_actions.take, rules=RULES)
NotOffered = case_actions.NotOffered
