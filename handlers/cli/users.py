"""`qingling users create|list|disable|enable`: staff accounts with their role and scope."""
from __future__ import annotations

import secrets

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from intake.foundation.models import Department
from intake.people.audit import audit
from intake.people.staff import ROLE_LABELS, AccountError, NewUser, Role, create_user, list_users, set_active
from intake.registry.directory import find_jurisdiction

from ..runtime import services

CLI_ACTOR = "cli"


@click.group("users", help="Staff accounts of the console.")
def users_group() -> None:
    pass


@users_group.command("create", help="Create an account; prints a generated password unless --password-stdin.")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--department", "department_id", type=int, help="Department id (staff, head); see `users departments`.")
@click.option("--county", help="County code or name (county_supervisor).")
@click.option("--name", "display_name", help="Name shown in the console and the case timeline.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@with_appcontext
def users_create(username: str, role: str, department_id: int | None, county: str | None, display_name: str | None,
                 password_stdin: bool) -> None:
    password = click.get_text_stream("stdin").readline().rstrip("\n") if password_stdin else \
        secrets.token_urlsafe(12) + "-1a"
    try:
        with services().sessions.begin() as session:
            code = None
            if county:
                found = find_jurisdiction(session, county)
                if found is None:
                    raise AccountError(f"未知的区县：{county}")
                code = found.code
            user = create_user(session, NewUser(username, display_name or username, password, role,
                                                department_id, code))
            audit(session, user_id=None, username=CLI_ACTOR, action="user_created",
                  detail={"username": user.username, "role": role, "department_id": user.department_id,
                          "jurisdiction_code": user.jurisdiction_code})
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"已创建账号 {user.username}（{ROLE_LABELS[Role(role)]}）。")
    if not password_stdin:
        click.echo(f"初始密码：{password}  （请登录后立即修改）")


@users_group.command("list", help="List accounts with role and scope.")
@with_appcontext
def users_list() -> None:
    with services().sessions() as session:
        for user in list_users(session):
            where = user.department.name if user.department else (user.jurisdiction.name if user.jurisdiction
                                                                   else "全市")
            state = "" if user.active else "（已停用）"
            click.echo(f"{user.username}\t{ROLE_LABELS[Role(user.role)]}\t{where}{state}")


@users_group.command("departments", help="Department ids for --department.")
@click.option("--county", help="Only this county (code or name).")
@with_appcontext
def users_departments(county: str | None) -> None:
    with services().sessions() as session:
        query = select(Department).order_by(Department.jurisdiction_code, Department.id)
        if county:
            found = find_jurisdiction(session, county)
            if found is None:
                raise click.ClickException(f"未知的区县：{county}")
            query = query.where(Department.jurisdiction_code == found.code)
        for dept in session.scalars(query):
            click.echo(f"{dept.id}\t{dept.jurisdiction_code}\t{dept.kind}\t{dept.name}")


def _set_active(username: str, active: bool) -> None:
    try:
        with services().sessions.begin() as session:
            user = set_active(session, username, active)
            audit(session, user_id=None, username=CLI_ACTOR, action="user_enabled" if active else "user_disabled",
                  detail={"username": user.username})
    except AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"账号 {user.username} 已{'启用' if active else '停用'}。")


@users_group.command("disable", help="Disable an account; its sessions end at once.")
@click.argument("username")
@with_appcontext
def users_disable(username: str) -> None:
    _set_active(username, False)


@users_group.command("enable", help="Enable a disabled account again.")
@click.argument("username")
@with_appcontext
def users_enable(username: str) -> None:
    _set_active(username, True)
