"""`qingling payroll import FILE --site CODE --kind roster|attendance|account`: thin over intake.warnings.payroll."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from intake.warnings.payroll import COLUMNS, PayrollError, import_file, site_by_code

from ..runtime import services


@click.group("payroll", help="A site's payroll records: real-name roster, attendance, wage account statement.")
def payroll_group() -> None:
    pass


@payroll_group.command("import", help="Import one kind of records for one site (CSV in UTF-8 or GB18030, or XLSX). "
                                      "Importing the same records again changes nothing.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--site", "code", required=True, help="The site's project code (项目编号).")
@click.option("--kind", required=True, type=click.Choice(sorted(COLUMNS)))
@with_appcontext
def payroll_import(file: Path, code: str, kind: str) -> None:
    try:
        with services().sessions.begin() as session:
            report = import_file(session, site_by_code(session, code), kind, file.name, file.read_bytes())
            for warning in report.warnings:
                click.echo(f"提醒：{warning}")
            for error in report.errors:
                click.echo(str(error), err=True)
            click.echo(f"{file.name}：{report.summary()}", err=report.failed)
    except PayrollError as exc:
        click.echo(f"{file.name}：{exc}，未导入任何记录。", err=True)
        raise click.exceptions.Exit(1) from None
    if report.failed:
        raise click.exceptions.Exit(1)
