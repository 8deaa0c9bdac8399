"""`qingling backlog import`: thin formatting over intake.case.backlog."""
from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext

from intake.case.backlog import COLUMNS, import_backlog
from intake.foundation.models import utcnow

from ..runtime import services


@click.group("backlog", help="Earlier cases (陈案积案), imported as complaints, and hidden arrears found in "
                                        "摸排, imported into the register of findings.")
def backlog_group() -> None:
    pass


@backlog_group.command("import", help="Import a spreadsheet (CSV or XLSX) of earlier or surveyed cases. Columns: "
                                      + "、".join(COLUMNS) + ". Importing the same rows again adds nothing.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def backlog_import(file: Path) -> None:
    svc = services()
    with svc.sessions() as session:
        report = import_backlog(session, file.name, file.read_bytes(), svc.settings, svc.calendar, utcnow())
        if not report.failed:
            session.commit()
    if report.file_error:
        click.echo(f"无法导入 {file.name}：{report.file_error}", err=True)
    for error in report.errors:
        click.echo(error, err=True)
    if report.failed:
        click.echo("有错误，没有导入任何案件。请改正后重新导入。", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"已导入陈案 {len(report.created)} 件，摸排线索 {report.findings} 条，之前已导入 {report.already} 行。")
    for ticket in report.created:
        click.echo(ticket)
