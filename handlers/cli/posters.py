"""`qingling posters`: every site of a county (or one site) as one printable PDF."""
from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from tqdm import tqdm

from intake.foundation.models import Site
from intake.foundation.settings import printable_base_url
from intake.registry.directory import find_jurisdiction
from intake.registry.sites import list_sites
from qr import write_posters_pdf

from ..posters import FontMissing, poster_data, poster_font
from ..runtime import services


@click.command("posters", help="Write A4 posters (rights notice board + QR code) of a county's sites to one PDF.")
@click.option("--county", help="County code or name.")
@click.option("--site", "site_code", help="One site, by project code.")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, writable=True))
@with_appcontext
def posters(county: str | None, site_code: str | None, output: str) -> None:
    if bool(county) == bool(site_code):
        raise click.UsageError("请给出 --county 或 --site 其中之一。")
    svc = services()
    refusal, warning = printable_base_url(svc.settings.public_base_url)
    if refusal:
        raise click.ClickException(refusal)
    if warning:
        click.echo(warning, err=True)
    try:
        font = poster_font(svc.settings)
    except FontMissing as exc:
        raise click.ClickException("找不到中文字体：请安装 fonts-wqy-microhei，或在 [poster] font_path 指定字体文件。") from exc
    with svc.sessions() as session:
        if site_code:
            sites = list(session.scalars(select(Site).where(Site.code == site_code)))
        else:
            unit = find_jurisdiction(session, county)
            if unit is None:
                raise click.ClickException(f"未知的区县：{county}")
            sites = list_sites(session, unit.code)
        if not sites:
            raise click.ClickException("没有找到项目，没有生成文件。")
        pages = [poster_data(session, svc.settings, s) for s in sites]
    with open(output, "wb") as out, tqdm(total=len(pages), unit="张", desc="生成海报") as bar:
        count = write_posters_pdf(pages, font, out, progress=bar.update)
    click.echo(f"已生成 {count} 张海报：{output}")
