"""`qingling demo`: a ready-to-try service on a fresh machine, and the URLs a newcomer should open."""
from __future__ import annotations

from importlib import resources

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from intake.directory import load_directory
from intake.models import Site
from intake.sites import complaint_url, import_sites
from migrations import upgrade

from .. import services

DEMO_SITES = "demo_sites.csv"


@click.command("demo", help="Migrate, load the directory and the demo sites (idempotent); print the URLs to open.")
@with_appcontext
def demo() -> None:
    svc = services()
    if not svc.settings.demo:
        raise click.ClickException("演示数据只在演示模式下导入：请设置 QINGLING_DEMO=true。")
    upgrade(svc.engine)
    content = resources.files("intake.data").joinpath(DEMO_SITES).read_bytes()
    with svc.sessions.begin() as session:
        load_directory(session, svc.settings.directory_file or None)
        report = import_sites(session, DEMO_SITES, content)
        if report.failed:
            raise click.ClickException(f"演示项目导入失败：{report.file_error or report.errors[0]}")
        site = session.scalar(select(Site).order_by(Site.code))
        form = complaint_url(svc.settings, site)
    base = svc.settings.public_base_url.rstrip("/")
    click.echo(f"""
Qingling demo is ready. Open:
  complaint form of a demo site   {form}
  its printable poster (PDF)      {form}/poster.pdf
  its QR code                     {form}/qr.png
  general complaint form          {base}/report
  check a case                    {base}/status
  chat simulator (WeChat / SMS)   {base}/demo/chat
""")
