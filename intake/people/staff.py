"""Staff accounts: argon2id password hashes (argon2-cffi), roles and the scope each role is given.

A department's staff and head belong to one department; a county supervisor to one county (jurisdiction);
a city administrator to no unit and sees everything. The rules of what each may see and do are in access.py.
"""
from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.foundation.models import ConsoleSession, Department, Jurisdiction, StaffUser, utcnow

PASSWORD_MIN = 10
USERNAME_MAX = 80
SESSION_TOUCH_EVERY = timedelta(minutes=1)
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified when a username is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = _hasher.hash("qingling-no-such-user")


class Role(str, enum.Enum):
    STAFF = "staff"
    HEAD = "head"
    COUNTY = "county_supervisor"
    ADMIN = "admin"


ROLE_LABELS = {Role.STAFF: "部门工作人员", Role.HEAD: "部门负责人", Role.COUNTY: "区县督导", Role.ADMIN: "市级管理员"}


class AccountError(ValueError):
    """An account that cannot be created or changed as asked (message for the operator, in Chinese)."""


@dataclass(frozen=True)
class NewUser:
    username: str
    display_name: str
    password: str
    role: str
    department_id: int | None = None
    jurisdiction_code: str | None = None


def check_password_strength(password: str) -> None:
    if len(password or "") < PASSWORD_MIN:
        raise AccountError(f"密码至少 {PASSWORD_MIN} 位")
    if password.isdigit() or password.isalpha():
        raise AccountError("密码须同时包含字母和数字（或符号）")


def plain_name(name: str, max_length: int) -> bool:
    """A name that accounts and client systems may have: letters, digits and . _ - only."""
    return bool(name) and len(name) <= max_length and name.replace("_", "").replace(".", "").replace("-", "").isalnum()


def create_user(session: Session, new: NewUser) -> StaffUser:
    username = (new.username or "").strip().lower()
    if not plain_name(username, USERNAME_MAX):
        raise AccountError("用户名只能包含字母、数字和 . _ -")
    if session.scalar(select(StaffUser.id).where(func.lower(StaffUser.username) == username)) is not None:
        raise AccountError(f"用户名 {username} 已存在")
    role, department_id, code = role_unit(session, new.role, new.department_id, new.jurisdiction_code)
    check_password_strength(new.password)
    user = StaffUser(username=username, display_name=(new.display_name or username).strip()[:100],
                     password_hash=_hasher.hash(new.password), role=role.value, department_id=department_id,
                     jurisdiction_code=code, active=True)
    session.add(user)
    session.flush()
    return user


def role_unit(session: Session, role_name: str, department_id: int | None,
              code: str | None) -> tuple[Role, int | None, str | None]:
    """The role and the one unit it is bound to (department, county or none), checked against the directory;
    for staff accounts and for client systems alike."""
    role = _role(role_name)
    if role in (Role.STAFF, Role.HEAD):
        if department_id is None or session.get(Department, department_id) is None:
            raise AccountError("部门工作人员和负责人须指定所属部门")
        return role, department_id, None
    if role is Role.COUNTY:
        if not code or session.get(Jurisdiction, code) is None:
            raise AccountError("区县督导须指定所属区县")
        return role, None, code
    return role, None, None


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise AccountError(f"角色须为 {', '.join(r.value for r in Role)} 之一") from None


def authenticate(session: Session, username: str, password: str) -> StaffUser | None:
    """The active user with this password, or None; an outdated hash is upgraded on the way."""
    user = session.scalar(select(StaffUser).where(func.lower(StaffUser.username) == (username or "").strip().lower()))
    try:
        _hasher.verify(user.password_hash if user is not None else _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        return None
    if user is None or not user.active:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_login_at = utcnow()
    session.flush()
    return user


def change_password(session: Session, user: StaffUser, current: str, new: str) -> None:
    try:
        _hasher.verify(user.password_hash, current or "")
    except (VerificationError, InvalidHashError):
        raise AccountError("当前密码不正确") from None
    if new == current:
        raise AccountError("新密码不能与当前密码相同")
    check_password_strength(new)
    user.password_hash = _hasher.hash(new)
    session.flush()


def set_active(session: Session, username: str, active: bool) -> StaffUser:
    user = session.scalar(select(StaffUser).where(func.lower(StaffUser.username) == username.strip().lower()))
    if user is None:
        raise AccountError(f"没有用户 {username}")
    user.active = active
    session.flush()
    return user


def list_users(session: Session) -> list[StaffUser]:
    return list(session.scalars(select(StaffUser).order_by(StaffUser.username)))


def start_session(session: Session, user: StaffUser) -> str:
    """A new console log-in: the id its cookie carries (random, never reused)."""
    login = ConsoleSession(id=secrets.token_urlsafe(32), user_id=user.id)
    session.add(login)
    session.flush()
    return login.id


def live_session(session: Session, session_id: str, user_id: int, now: datetime, *, idle: timedelta,
                 lifetime: timedelta) -> ConsoleSession | None:
    """The log-in behind a cookie while it lasts: not logged out, used within `idle`, begun within `lifetime`.
    Its last use is written at most once a minute, so a page of requests is not a page of writes."""
    login = session.get(ConsoleSession, session_id)
    if (login is None or login.user_id != user_id or login.ended_at is not None
            or now - login.last_seen_at > idle or now - login.created_at > lifetime):
        return None
    if now - login.last_seen_at > SESSION_TOUCH_EVERY:
        login.last_seen_at = now
        session.flush()
    return login


def end_session(session: Session, session_id: str, now: datetime) -> None:
    """Log-out: the cookie and every copy of it stop working."""
    login = session.get(ConsoleSession, session_id)
    if login is not None and login.ended_at is None:
        login.ended_at = now
        session.flush()
