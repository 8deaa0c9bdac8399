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
from intake.foundation.models import Complaint

from . import orders


def _order_open(complaint: Complaint, _pending: frozenset[str]) -> bool:
    session = Session.object_session(complaint)
    return session is not None and orders.open_order(session, complaint) is not None


A = CaseAction
RULES: Mapping[CaseAction, Rule] = {
    **case_actions.RULES,
    A.ORDER_PAYMENT: Rule(WORKING, by_actor(orders.issue_order), when=lambda c, p: not _order_open(c, p)),
    A.ORDER_PAID: Rule(OPEN, by_actor(orders.order_paid), when=_order_open),
    A.POLICE_TRANSFER: Rule(OPEN, by_actor(orders.transfer_to_police)),
}

offered = functools.partial(case_actions.offered, rules=RULES)
take = functools.partial(case_actions.take, rules=RULES)
NotOffered = case_actions.NotOffered
