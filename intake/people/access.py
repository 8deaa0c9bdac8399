"""Who may see and do what. Every console page, attachment, export and API call asks this module, so the rule
"department A never sees department B's cases" lives in one place and nowhere else.

A scope turns a staff account into SQL conditions (which complaints, which sites) and a set of actions.
Outside the scope a case simply does not exist for the user (the caller answers 404); inside it, an action the
role may not take is refused (403).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.orm import Session

from intake.foundation.actions import CaseAction
from intake.foundation.models import ApiClient, Attachment, CoHandling, Complaint, Department, Site, StaffUser
from intake.foundation.validation import ROW_ID_MAX
from intake.registry.directory import DISPATCH_DESK

from .staff import Role

# What each role may do in its scope: the case actions (one enum, intake.foundation.actions), and the console's
# other powers by name. Department staff work the case; the head also approves and returns; a county supervisor
# also transfers, supervises and closes by override; the city administrator all.
A = CaseAction
# A co-handler's own steps on a case it does not hold: the only actions it is offered there.
CO_STEPS = frozenset({A.CO_FUNDS, A.CO_PAYMENT_STATUS, A.CO_REPLY})
WORK = frozenset({A.ACKNOWLEDGE, A.REQUEST_RETURN, A.CONTACT, A.WAIT, A.MATERIAL, A.ACCEPT, A.REJECT,
                  A.REQUEST_EXTENSION, A.MEASURES, A.CLAIM_LINE, A.PAYMENT, A.INVESTIGATE, A.RESOLVE, A.MESSAGE, A.NOTE,
                  A.TAKE, A.ASSIGN, A.RELEASE, A.ORDER_PAID, A.POLICE_RECEIPT, A.POLICE_DECISION, A.PLAN_STEP_DONE,
                  A.CLEARING_REPLY, "reveal_phone", "intake", "warnings", A.MARK_DUPLICATE, "canned_replies",
                  "documents", "findings"}) | frozenset(CO_STEPS)
# Orders to pay, transfers to the police and the steps of a case's plan go out under the department head's name;
# a head drafts a 失信 listing, a supervisor approves it ("blacklist"); a duplicate mark (any clerk's) is undone
# by a head or supervisor.
HEAD = WORK | {A.RETURN, A.DECIDE_EXTENSION, A.DECIDE_RETURN, A.REOPEN, A.ORDER_PAYMENT, A.POLICE_TRANSFER,
               A.PLAN_STEP, A.CLEARING_NOTICE, "blacklist_draft", A.UNMARK_DUPLICATE}
SUPERVISE = HEAD | {A.TRANSFER, A.SUPERVISE, A.CLOSE_OVERRIDE, A.MERGE_COLLECTIVE, A.SPLIT_COLLECTIVE,
                    A.UNMERGE_COLLECTIVE, "export",
                    "blacklist", "payroll_import", "tasks", A.PETITION}
ACTIONS: dict[Role, frozenset[str]] = {
    Role.STAFF: WORK,
    Role.HEAD: HEAD | {"export"},
    Role.COUNTY: SUPERVISE,
    Role.ADMIN: SUPERVISE | {"audit", "users", "sites_import", "backlog_import", "dead_letters"},
}
# The dispatch desk re-routes returned cases by hand, calls the workers whose messages could not be delivered, and
# records petitions (上访) as supervisors do.
DESK_EXTRA = frozenset({A.TRANSFER, "dead_letters", A.PETITION})


class AccessDenied(PermissionError):
    """In scope, but not this role's to do (403)."""


@dataclass(frozen=True)
class Scope:
    user_id: int
    username: str
    role: Role
    department_id: int | None
    jurisdiction_code: str | None
    department_kind: str | None = None
    city_level: bool = False  # a city-level department (dispatch desk, 治欠办): the whole city's sites
    principal: str = "staff"  # "api" for a client system

    @classmethod
    def of(cls, user: StaffUser | ApiClient) -> Scope:
        """A staff account's scope; a client system gets exactly the scope of the staff role it was given."""
        dept = user.department
        client = isinstance(user, ApiClient)
        return cls(user.id, user.name if client else user.username, Role(user.role), user.department_id,
                   dept.jurisdiction_code if dept is not None else user.jurisdiction_code,
                   dept.kind if dept is not None else None,
                   dept is not None and dept.jurisdiction.parent_code is None,
                   principal="api" if client else "staff")

    @property
    def actor(self) -> str:
        """How the case timeline names this user ("staff:zhang.san", "api:12345-hotline")."""
        return f"{self.principal}:{self.username}"

    @property
    def is_city(self) -> bool:
        return self.role is Role.ADMIN

    def may(self, action: str) -> bool:
        allowed = ACTIONS[self.role] | (DESK_EXTRA if self.department_kind == DISPATCH_DESK else frozenset())
        return action in allowed

    def require(self, action: str) -> None:
        if not self.may(action):
            raise AccessDenied(action)

    def require_on(self, session: Session, complaint: Complaint, action: str) -> None:
        if not self.may_on(session, complaint, action):
            raise AccessDenied(action)

    def complaints(self) -> ColumnElement[bool]:
        """The WHERE condition of the complaints this user may see."""
        if self.role is Role.ADMIN:
            return true()
        if self.role is Role.COUNTY:
            return in_county(self.jurisdiction_code)
        if self.department_id is None:
            return false()
        return or_(Complaint.department_id == self.department_id,
                   Complaint.id.in_(select(CoHandling.complaint_id)
                                    .where(CoHandling.department_id == self.department_id)))

    def holds(self, complaint: Complaint) -> bool:
        """Whether this user works the case as its handler (or above it), not only as a co-handler. Only for a case
        already in scope: supervisors and the city hold every case they see."""
        return self.role in (Role.ADMIN, Role.COUNTY) or complaint.department_id == self.department_id

    def co_handles(self, complaint: Complaint) -> bool:
        return self.department_id is not None and any(co.department_id == self.department_id
                                                      for co in complaint.co_handlings)

    def may_on(self, session: Session, complaint: Complaint, action: str) -> bool:
        """`may`, on this case: its holder takes the case's steps, a co-handler only its own (CO_STEPS), and a
        co-handler never contacts the worker or sees their numbers."""
        if not self.may(action):
            return False
        if action in CO_STEPS:
            return self.co_handles(complaint)
        return self.holds(complaint)

    def units(self, department_id: ColumnElement[int], county: ColumnElement[str]) -> ColumnElement[bool]:
        """The same rule as `complaints`, on rows that carry a case's unit instead (the daily tallies): its
        handling department, and its county (that department's, or the one it was filed for)."""
        if self.role is Role.ADMIN:
            return true()
        if self.role is Role.COUNTY:
            return county == self.jurisdiction_code
        if self.department_id is None:
            return false()
        return department_id == self.department_id

    def sites(self) -> ColumnElement[bool]:
        """Sites of the user's county (all of them for the city, and for city-level departments)."""
        if self.role is Role.ADMIN or self.city_level:
            return true()
        return Site.jurisdiction_code == self.jurisdiction_code

    def department_ids(self, session: Session) -> list[int] | None:
        """The departments whose inboxes and figures this user reads; None means every department."""
        if self.role is Role.ADMIN:
            return None
        if self.role is Role.COUNTY:
            return list(session.scalars(select(Department.id).where(
                Department.jurisdiction_code == self.jurisdiction_code)))
        return [self.department_id] if self.department_id is not None else []


def in_county(code: str) -> ColumnElement[bool]:
    """A case of the county: held by one of its departments, or (not yet routed) filed for it. The county
    supervisor's scope and every county filter use this one rule."""
    county_departments = select(Department.id).where(Department.jurisdiction_code == code)
    return or_(Complaint.department_id.in_(county_departments),
               and_(Complaint.department_id.is_(None), Complaint.jurisdiction_code == code))


def scoped_complaints(scope: Scope) -> Select:
    return select(Complaint).where(scope.complaints())


def case_for(session: Session, scope: Scope, ticket_no: str) -> Complaint | None:
    """The case with this ticket number if the user may see it; None (so: 404) otherwise."""
    return session.scalar(scoped_complaints(scope).where(Complaint.ticket_no == (ticket_no or "").strip()))


def attachment_for(session: Session, scope: Scope, ticket_no: str, attachment_id: int) -> Attachment | None:
    """An evidence photo, only through a case the user may see; an id no row can have is none (not a database
    error)."""
    if not 0 < attachment_id <= ROW_ID_MAX:
        return None
    return session.scalar(select(Attachment).join(Complaint, Attachment.complaint_id == Complaint.id)
                          .where(scope.complaints(), Complaint.ticket_no == ticket_no,
                                 Attachment.id == attachment_id))


def departments_in_reach(session: Session, scope: Scope) -> list[Department]:
    """Where a transfer may send a case: the county's departments for a county supervisor, any for the city
    and for the dispatch desk."""
    query = select(Department).order_by(Department.jurisdiction_code, Department.kind)
    if scope.role is Role.COUNTY:
        query = query.where(Department.jurisdiction_code == scope.jurisdiction_code)
    return list(session.scalars(query))
