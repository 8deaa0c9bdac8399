"""The one table of case actions: every name has a rule, a console form and a role that may take it, and an action
that moves the case is offered exactly where the state machine allows its move."""
from __future__ import annotations

import pytest

from handlers.api.actions import ACTIONS as API_ACTIONS
from handlers.console.actions import FORMS
from intake.case.actions import reaching
from intake.enforcement.actions import RULES, NotOffered, take
from intake.foundation.actions import CaseAction
from intake.foundation.models import Status
from intake.foundation.transitions import ALLOWED
from intake.people.access import ACTIONS as ROLE_ACTIONS
from intake.people.access import Scope
from intake.people.staff import Role


def test_every_action_has_a_rule_a_console_form_and_a_role():
    assert set(RULES) == set(CaseAction)
    assert set(FORMS) == set(CaseAction)
    allowed = frozenset().union(*ROLE_ACTIONS.values())
    assert [a for a in CaseAction if a not in allowed] == []


@pytest.mark.parametrize(("action", "to"), [(CaseAction.ACKNOWLEDGE, Status.ACKNOWLEDGED),
                                            (CaseAction.ACCEPT, Status.ACCEPTED),
                                            (CaseAction.REJECT, Status.REJECTED),
                                            (CaseAction.RESOLVE, Status.RESOLVED),
                                            (CaseAction.RETURN, Status.RETURNED),
                                            (CaseAction.REOPEN, Status.REOPENED),
                                            (CaseAction.CLOSE_OVERRIDE, Status.CLOSED)])
def test_a_moving_action_is_offered_exactly_where_the_state_machine_allows_its_move(action, to):
    assert RULES[action].statuses == {s.value for s, targets in ALLOWED.items() if to in targets}
    assert RULES[action].statuses == reaching(to)


def test_a_closed_case_can_only_be_reopened_or_noted():
    offered = {a for a, rule in RULES.items() if Status.CLOSED.value in rule.statuses}
    assert offered == {CaseAction.REOPEN, CaseAction.NOTE}


def test_the_api_maps_its_schemas_onto_actions_of_the_table():
    assert {action for action, _params in API_ACTIONS.values()} <= set(RULES)


def test_an_action_outside_its_statuses_is_refused_before_it_runs():
    from intake.foundation.models import Complaint
    from intake.people.access import AccessDenied

    closed = Complaint(status=Status.CLOSED.value, ticket_no="T1")
    admin = Scope(1, "admin", Role.ADMIN, None, None)
    with pytest.raises(NotOffered) as refused:
        take(None, closed, None, admin, CaseAction.ACCEPT)  # no session needed: nothing runs
    assert (refused.value.action, refused.value.status) == (CaseAction.ACCEPT, "closed")
    staff = Scope(2, "clerk", Role.STAFF, 1, "371302")
    with pytest.raises(AccessDenied):
        take(None, closed, None, staff, CaseAction.CLOSE_OVERRIDE)
