"""`qingling clients create|list|disable`: the systems that may call /api/v1 and /open311/v2."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from intake.people.clients import NewClient, create_client, list_clients, set_active
from intake.people.staff import AccountError, Role
from intake.registry.directory import find_jurisdiction

from ..channels.webhook import configured as webhook_configured
from ..channels.webhook import url_problem
from ..runtime import services


@click.group("clients", help="Client systems of the API (12345, the national clue platform, department tools).")
def clients_group() -> None:
    pass


@clients_group.command("create", help="Create a client and print its token (shown only this once).")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice([r.value for r in Role]),
              help="The staff role whose scope the client gets.")
@click.option("--department", "department_id", type=int, help="Department id (staff, head).")
@click.option("--county", help="County code or name (county_supervisor).")
@click.option("--webhook", help="https URL that receives every case event in the client's scope, signed.")
@with_appcontext
def clients_create(name: str, role: str, department_id: int | None, county: str | None,
                   webhook: str | None) -> None:
    settings = services().settings
    if webhook and (url_problem(webhook) or not webhook_configured(settings)):
        raise click.UsageError(url_problem(webhook) or "设置 QINGLING_WEBHOOK_SECRET 后才能推送 webhook")
    with services().sessions.begin() as session:
        code = None
        if county:
            found = find_jurisdiction(session, county)
            if found is None:
                raise click.UsageError(f"没有区县 {county}")
            code = found.code
        try:
            client, token = create_client(session, NewClient(name, role, department_id, code, webhook))
        except AccountError as exc:
            raise click.UsageError(str(exc)) from None
        click.echo(f"已创建接入系统 {client.name}（{client.role}）。令牌只显示这一次，请妥善保存：")
    click.echo(token)


@clients_group.command("list", help="List client systems (never their tokens).")
@with_appcontext
def clients_list() -> None:
    with services().sessions() as session:
        for c in list_clients(session):
            unit = c.department.name if c.department else c.jurisdiction_code or "全市"
            click.echo(f"{c.name}\t{c.role}\t{unit}\t{'启用' if c.active else '停用'}\tkey {c.key_id}\t"
                       f"{c.webhook_url or '-'}")


@clients_group.command("disable", help="Disable a client: its token stops working at once.")
@click.argument("name")
@with_appcontext
def clients_disable(name: str) -> None:
    with services().sessions.begin() as session:
        try:
            set_active(session, name, False)
        except AccountError as exc:
            raise click.UsageError(str(exc)) from None
    click.echo(f"已停用接入系统 {name}。")
