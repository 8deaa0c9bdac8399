"""The `qingling` command: our commands only, over the app factory.

A plain click group, not Flask's: `qingling --help` neither builds the app (and so prints no start-up warnings)
nor lists Flask's options and commands. Commands that need the app get it through Flask's ScriptInfo.
"""
from __future__ import annotations

import click
from flask.cli import ScriptInfo

from intake.foundation.settings import SettingsError

from .. import create_app
from .backlog import backlog_group
from .clients import clients_group
from .database import db_group, directory_group
from .demo import demo
from .doctor import doctor
from .evidence import evidence_group
from .keys import keys_group
from .payroll import payroll_group
from .posters import posters
from .report import report
from .retention import retention
from .sites import sites_group
from .users import users_group
from .wechat import wechat_group
from .worker import run_with_worker, worker_command


def _create_app():
    """The app, or the configuration's fault said plainly (no traceback) for a command that needs it."""
    try:
        return create_app()
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@click.group(help="清零 Qingling: wage-arrears complaint intake, routing and clocks.")
@click.pass_context
def main(ctx: click.Context) -> None:
    if ctx.obj is None:  # the test runner brings its own
        ctx.obj = ScriptInfo(create_app=_create_app, set_debug_flag=False)


main.add_command(backlog_group)
main.add_command(clients_group)
main.add_command(db_group)
main.add_command(directory_group)
main.add_command(doctor)
main.add_command(evidence_group)
main.add_command(keys_group)
main.add_command(payroll_group)
main.add_command(posters)
main.add_command(retention)
main.add_command(report)
main.add_command(demo)
main.add_command(sites_group)
main.add_command(users_group)
main.add_command(wechat_group)
main.add_command(worker_command)
main.add_command(run_with_worker)
