"""`qingling evidence verify [--case TICKET]`: recompute the hash chains over case timelines and files."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from intake.enforcement.evidence import verify

from ..runtime import services


@click.group("evidence", help="Evidence that holds: check that no case's timeline or files changed after the fact.")
def evidence_group() -> None:
    pass


@evidence_group.command("verify", help="Recompute every case's hash chain (or one case's) and each file's SHA-256, "
                                       "its original's too (decrypted with the data keys); exit status 1 when "
                                       "anything no longer matches.")
@click.option("--case", "ticket_no", metavar="TICKET", help="Only the case with this ticket number.")
@with_appcontext
def verify_command(ticket_no: str | None) -> None:
    with services().sessions() as session:
        report = verify(session, ticket_no)
    if ticket_no is not None and report.cases == 0:
        raise click.ClickException(f"没有编号为 {ticket_no} 的案件")
    for finding in report.findings:
        click.echo(f"{finding.ticket_no}: {finding.what}")
    click.echo(f"已核验 {report.cases} 件案件、{report.events} 条事件、{report.files} 个文件，"
               f"发现 {len(report.findings)} 处不符。")
    if report.findings:
        raise SystemExit(1)
