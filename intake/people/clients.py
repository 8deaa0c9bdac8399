"""Client systems of the API: 12345, the national wage-arrears clue platform, other city systems, departments'
own tools. Each has a role and unit like a staff account (so intake.people.access gives it the same scope) and a
bearer token.

A token is "ql_<key id>_<secret>": 256 random bits, shown once at creation. Only its SHA-256 is stored, found by
the short key id; a fast hash is enough (and needed on every request) because the secret is random, not a
password that could be guessed from a list.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from intake.foundation.models import ApiClient, Department

from . import publish
from .staff import AccountError, plain_name, role_unit

PREFIX = "ql"
NAME_MAX = 80


@dataclass(frozen=True)
class NewClient:
    name: str
    role: str
    department_id: int | None = None
    jurisdiction_code: str | None = None
    webhook_url: str | None = None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_client(session: Session, new: NewClient) -> tuple[ApiClient, str]:
    """The new client and its token (the only time the token exists outside the caller's hands)."""
    name = (new.name or "").strip()
    if not plain_name(name, NAME_MAX):
        raise AccountError("名称只能包含字母、数字和 . _ -")
    if session.scalar(select(ApiClient.id).where(ApiClient.name == name)) is not None:
        raise AccountError(f"接入系统 {name} 已存在")
    role, department_id, code = role_unit(session, new.role, new.department_id, new.jurisdiction_code)
    key_id = secrets.token_hex(6)
    token = f"{PREFIX}_{key_id}_{secrets.token_urlsafe(32)}"
    client = ApiClient(name=name, key_id=key_id, token_hash=_digest(token), role=role.value,
                       department_id=department_id, jurisdiction_code=code, webhook_url=new.webhook_url or None,
                       active=True)
    session.add(client)
    session.flush()
    publish.subscribers_changed()
    return client, token


def authenticate(session: Session, token: str) -> ApiClient | None:
    """The active client holding this token, or None; one indexed look-up, then a constant-time compare."""
    prefix, _, rest = (token or "").partition("_")
    key_id, _, secret = rest.partition("_")
    if prefix != PREFIX or not key_id or not secret:
        return None
    client = session.scalar(select(ApiClient).where(ApiClient.key_id == key_id)
                            .options(selectinload(ApiClient.department).selectinload(Department.jurisdiction)))
    if client is None or not hmac.compare_digest(client.token_hash, _digest(token)):
        return None
    return client if client.active else None


def set_active(session: Session, name: str, active: bool) -> ApiClient:
    client = session.scalar(select(ApiClient).where(ApiClient.name == name.strip()))
    if client is None:
        raise AccountError(f"没有接入系统 {name}")
    client.active = active
    session.flush()
    publish.subscribers_changed()
    return client


def list_clients(session: Session) -> list[ApiClient]:
    return list(session.scalars(select(ApiClient).order_by(ApiClient.name)))
