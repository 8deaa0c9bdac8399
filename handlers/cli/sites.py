"""`qingling sites import` and `qingling sites list`: thin formatting over intake.registry.sites."""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import click
from flask.cli import with_appcontext

from intake.enforcement.crosscheck import listed_parties
from intake.foundation.models import utcnow
from intake.registry.directory import find_jurisdiction
from intake.registry.sites import ImportReport, complaint_url, import_sites, list_sites

from ..runtime import services


@click.group("sites", help="Construction sites (项目) and their complaint links.")
def sites_group() -> None:
    pass


@sites_group.command("import", help="Import a project list (CSV or XLSX). Re-importing updates sites in place.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--partial", is_flag=True, help="Import the good rows even when some rows are wrong.")
@with_appcontext
def sites_import(file: Path, partial: bool) -> None:
    today = utcnow().astimezone(services().calendar.timezone).date()
    with services().sessions.begin() as session:
        report = import_sites(session, file.name, file.read_bytes(), partial=partial)
        listed = [] if report.failed else listed_parties(session, report.codes, today)
    _echo_report(report)
    for hit in listed:
        click.echo(f"失信提醒：{hit}")
    if report.failed:
        raise click.exceptions.Exit(1)


@sites_group.command("list", help="List sites with their public complaint URL.")
@click.option("--county", help="Only this county (code, name or short name).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@with_appcontext
def sites_list(county: str | None, as_json: bool) -> None:
    settings = services().settings
    with services().sessions() as session:
        county_code = None
        if county:
            found = find_jurisdiction(session, county)
            if found is None:
                click.echo(f"未知的区县：{county}", err=True)
                raise click.exceptions.Exit(1)
            county_code = found.code
        rows = [{"code": site.code, "name": site.name, "county_code": site.jurisdiction_code,
                 "county": site.jurisdiction.name, "url": complaint_url(settings, site)}
                for site in list_sites(session, county_code)]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
    elif not rows:
        click.echo("没有项目。")
    else:
        table = [("项目编号", "项目名称", "所在区县", "投诉链接")]
        table += [(row["code"], row["name"], row["county"], row["url"]) for row in rows]
        widths = [max(_width(line[i]) for line in table) for i in range(3)]
        for line in table:
            click.echo("  ".join([_pad(cell, width) for cell, width in zip(line, widths)] + [line[3]]))


def _echo_report(report: ImportReport) -> None:
    if report.file_error:
        click.echo(f"{report.filename}：{report.file_error}，未导入任何项目。", err=True)
        return
    for warning in report.warnings:
        click.echo(f"提醒：{warning}")
    for error in report.errors:
        click.echo(str(error))
    click.echo(f"{report.filename}：新增 {report.created} 个，更新 {report.updated} 个，"
               f"无变化 {report.unchanged} 个，跳过 {report.skipped} 个。")
    if report.failed:
        click.echo("有错误，未导入任何项目：请修正以上各行后重新导入，或加 --partial 只导入无误的行。", err=True)


def _width(text: str) -> int:
    """Display width: Chinese characters take two terminal columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
