"""The staff console: department staff work their queue, supervisors watch clocks, administrators audit.

Every view goes through `staff_view`, which requires a logged-in active account and hands the view the
account's `intake.people.access.Scope`; every case, photo and list is read through that scope, so nothing outside it
is ever loaded. A case outside the scope is 404, an action the role lacks is 403.
"""
from . import (  # noqa: F401 (routes)
    audit_log,
    auth,
    backlog,
    case,
    dashboard,
    dead_letters,
    employers,
    findings,
    ledger,
    oral_record,
    petitions,
    queue,
    rankings,
    replies,
    sites,
    units,
    walk_in,
    warnings,
)
from .blueprint import bp

__all__ = ["bp"]
