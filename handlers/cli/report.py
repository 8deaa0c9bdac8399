"""`qingling report weekly|monthly --county CODE -o FILE.xlsx`: the assessment figures (考核) per department
of the last complete week or month, for 通报; the console's report page writes the same file."""
from __future__ import annotations

from datetime import date

import click
from flask.cli import with_appcontext

from intake.foundation.models import utcnow
from intake.people.access import Scope
from intake.people.staff import Role
from intake.registry.directory import find_jurisdiction
from intake.supervision.report import PERIODS, period_filters, write_report

from ..runtime import services

CLI_SCOPE = Scope(user_id=0, username="cli", role=Role.ADMIN, department_id=None, jurisdiction_code=None)


@click.command("report", help="Write the assessment figures of the last complete week or month to an XLSX file.")
@click.argument("period", type=click.Choice(list(PERIODS)))
@click.option("--county", help="County code or name (default: every county).")
@click.option("--on", "on", type=click.DateTime(["%Y-%m-%d"]), help="Count the period before this date (today).")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def report(period: str, county: str | None, on, output: str) -> None:
    svc = services()
    tz = svc.settings.calendar.timezone
    now = utcnow()
    today: date = on.date() if on else now.astimezone(svc.calendar.timezone).date()
    with svc.sessions() as session:
        code = ""
        if county:
            unit = find_jurisdiction(session, county)
            if unit is None:
                raise click.ClickException(f"未知的区县：{county}")
            code = unit.code
        filters = period_filters(period, today, code)
        with open(output, "wb") as out:
            rows = write_report(out, session, CLI_SCOPE, filters, now, tz)
    click.echo(f"已生成考核通报（{filters.start} 至 {filters.end}，{rows} 行）：{output}")
