"""The `qingling` command: Flask's own group (run, shell, routes) over the app factory, plus ours."""
from __future__ import annotations

import click
from flask.cli import FlaskGroup

from .. import create_app
from .clients import clients_group
from .database import db_group, directory_group
from .demo import demo
from .doctor import doctor
from .keys import keys_group
from .payroll import payroll_group
from .posters import posters
from .report import report
from .retention import retention
from .sites import sites_group
from .users import users_group
from .wechat import wechat_group
from .worker import run_with_worker, worker_command


@click.group(cls=FlaskGroup, create_app=lambda: create_app(), add_version_option=False,
             help="Qingling: wage-arrears complaint intake.")
def main() -> None:
    pass


main.add_command(clients_group)
main.add_command(db_group)
main.add_command(directory_group)
main.add_command(doctor)
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
