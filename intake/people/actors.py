"""Who did it, as staff read it on a timeline: "staff:lanshan-rs" is 兰山区人力资源和社会保障局 李科员, and
"system:router" is 系统自动派单. The timeline keeps the stable id; this is only how it is shown."""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from intake.foundation.models import ApiClient, StaffUser

SYSTEM = {"router": "系统自动派单", "clock": "系统计时", "evidence": "系统取证"}
WORKER = "工人本人"
CLI = "管理员（命令行）"


def actor_names(session: Session, actors: Iterable[str]) -> dict[str, str]:
    """Each actor id of a timeline to its shown name, staff and client systems read in one query each."""
    actors = set(actors)
    by_kind: dict[str, set[str]] = {}
    for actor in actors:
        kind, _, name = actor.partition(":")
        by_kind.setdefault(kind, set()).add(name)
    staff = {u.username: u for u in session.scalars(
        select(StaffUser).where(StaffUser.username.in_(by_kind.get("staff", ())))
        .options(selectinload(StaffUser.department), selectinload(StaffUser.jurisdiction)))}
    clients = {c.name: c for c in session.scalars(
        select(ApiClient).where(ApiClient.name.in_(by_kind.get("api", ())))
        .options(selectinload(ApiClient.department)))}
    return {actor: _shown(actor, staff, clients) for actor in actors}


def _shown(actor: str, staff: dict[str, StaffUser], clients: dict[str, ApiClient]) -> str:
    kind, _, name = actor.partition(":")
    if kind == "staff" and name in staff:
        user = staff[name]
        unit = user.department or user.jurisdiction
        return f"{unit.name} {user.display_name}" if unit is not None else user.display_name
    if kind == "api" and name in clients:
        client = clients[name]
        return f"{client.department.name}（接口 {name}）" if client.department is not None else f"接口 {name}"
    if kind == "system":
        return SYSTEM.get(name, "系统")
    if kind == "worker":
        return WORKER
    if actor == "cli":
        return CLI
    return actor
