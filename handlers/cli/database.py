"""`qingling db upgrade` and `qingling directory load`."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from intake.registry.directory import DirectoryError, load_directory
from migrations import upgrade

from ..runtime import services


@click.group("db", help="Database schema.")
def db_group() -> None:
    pass


@db_group.command("upgrade", help="Apply all migrations (safe to repeat).")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    upgrade(services().engine, revision)
    click.echo(f"数据库已升级到 {revision}。" if revision != "head" else "数据库结构已是最新。")


@click.group("directory", help="The handling directory (counties and departments).")
def directory_group() -> None:
    pass


@directory_group.command("load", help="Load a directory file (default: directory_file setting, else Linyi). Idempotent.")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False))
@with_appcontext
def directory_load(file: str | None) -> None:
    try:
        with services().sessions.begin() as session:
            result = load_directory(session, file or services().settings.directory_file or None)
    except DirectoryError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"目录已导入：{result.jurisdictions} 个区划，{result.departments} 个部门，新增 {result.created} 条。")
