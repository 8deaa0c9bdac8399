"""The console's blueprint and what its views share: the logged-in user, the scope, `staff_view`, `record`."""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Blueprint, abort, g, request
from flask_login import UserMixin, current_user, login_required
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from intake.foundation.models import Department, StaffUser, utcnow
from intake.people.access import AccessDenied, Scope
from intake.people.audit import audit
from intake.people.staff import ROLE_LABELS, live_session

from ..extensions import login_manager
from ..runtime import db, services

bp = Blueprint("console", __name__, url_prefix="/console")


@dataclass
class ConsoleUser(UserMixin):
    """The logged-in account and its log-in (intake.people.staff.start_session). The session id carries part of
    the password hash, so changing the password (or disabling the account) ends every other session of it; and
    the log-in's id, so log-out and the idle and absolute timeouts end it on the server."""

    account: StaffUser
    login_id: str

    def get_id(self) -> str:
        return f"{self.account.id}:{self.account.password_hash[-16:]}:{self.login_id}"

    @property
    def is_active(self) -> bool:
        return self.account.active


@login_manager.user_loader
def _load(session_id: str) -> ConsoleUser | None:
    user_id, fingerprint, login_id = (session_id.split(":", 2) + ["", ""])[:3]
    if not user_id.isdigit() or not login_id:
        return None
    console = services().settings.console
    if live_session(db(), login_id, int(user_id), utcnow(), idle=timedelta(minutes=console.idle_minutes),
                    lifetime=timedelta(hours=console.lifetime_hours)) is None:
        return None
    db().commit()  # the log-in's last use, before the view's own work
    account = db().scalar(select(StaffUser).where(StaffUser.id == int(user_id))
                          .options(joinedload(StaffUser.department).joinedload(Department.jurisdiction)))
    if account is None or not account.active or account.password_hash[-16:] != fingerprint:
        return None
    return ConsoleUser(account, login_id)


def scope() -> Scope:
    if "scope" not in g:
        g.scope = Scope.of(current_user.account)
    return g.scope


def staff_view(action: str | None = None):
    """Log-in required; with `action`, the role must be allowed it (403 otherwise)."""

    def decorate(view):
        @functools.wraps(view)
        @login_required
        def wrapper(*args, **kwargs):
            if action is not None and not scope().may(action):
                abort(403)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def record(action: str, ticket_no: str | None = None, **detail) -> None:
    """An audit entry for the current user, in the request's transaction."""
    account = current_user.account
    audit(db(), user_id=account.id, username=account.username, action=action, ticket_no=ticket_no, detail=detail,
          address=request.remote_addr)


@bp.app_context_processor
def _globals():
    if request.blueprint != "console" or not current_user.is_authenticated:
        return {}
    return {"current_scope": scope(), "current_role_label": ROLE_LABELS[scope().role]}


@bp.app_template_filter("local_date")
def _local_date(moment: datetime | None) -> str:
    """A stored (UTC) time as the date people there read: a complaint at 02:25 Beijing time is of that day."""
    return moment.astimezone(services().calendar.timezone).date().isoformat() if moment else ""


@bp.errorhandler(AccessDenied)
def _denied(_exc):
    abort(403)


@bp.after_request
def _private(response):
    """Case data is never cached by browsers or proxies (shared office computers)."""
    response.headers["Cache-Control"] = "no-store"
    return response
