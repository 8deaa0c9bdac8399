"""`qingling demo`: a ready-to-try service on a fresh machine, and the URLs a newcomer should open."""
from __future__ import annotations

from importlib import resources

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from intake.foundation.models import Site, StaffUser
from intake.people.staff import ROLE_LABELS, NewUser, Role, create_user
from intake.registry.directory import department, find_jurisdiction, load_directory
from intake.registry.sites import complaint_url, import_sites
from migrations import upgrade

from ..runtime import services

DEMO_SITES = "demo_sites.csv"
# The site the printed links point at: in 兰山区 and a housing project, so the first account listed sees its cases.
FIRST_SITE = "DEMO-LS-001"
DEMO_PASSWORD = "qingling-demo-1"
# username, name, role, (county, department kind) or county: one account of each role around 兰山区.
DEMO_ACCOUNTS = (
    ("lanshan-zj", "兰山住建·王科员", "staff", ("371302", "housing")),
    ("lanshan-rs", "兰山人社·李科员", "staff", ("371302", "hrss")),
    ("lanshan-zj-head", "兰山住建·赵科长", "head", ("371302", "housing")),
    ("lanshan-dd", "兰山区督导", "county_supervisor", "371302"),
    ("city-admin", "市治欠办管理员", "admin", None),
)


def _demo_accounts(session) -> None:
    """One account of each role (idempotent); the password is printed, so only ever in demo mode."""
    for username, name, role, where in DEMO_ACCOUNTS:
        if session.scalar(select(StaffUser.id).where(StaffUser.username == username)) is not None:
            continue
        dept = department(session, *where) if isinstance(where, tuple) else None
        create_user(session, NewUser(username, name, DEMO_PASSWORD, role, dept.id if dept else None,
                                     where if isinstance(where, str) else None))


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
        _demo_accounts(session)
        site = session.scalar(select(Site).where(Site.code == FIRST_SITE))
        form = complaint_url(svc.settings, site)
        where = f"{site.name}, {site.jurisdiction.name}"
        accounts = [_account_line(session, account) for account in DEMO_ACCOUNTS]
    base = svc.settings.public_base_url.rstrip("/")
    click.echo(f"""
Qingling demo is ready. Open:
  complaint form of a demo site   {form}   ({where})
  its printable poster (PDF)      {form}/poster.pdf
  its QR code                     {form}/qr.png
  general complaint form          {base}/report
  check a case                    {base}/status
  chat simulator (WeChat / SMS)   {base}/demo/chat
  staff console                   {base}/console/
    accounts (password {DEMO_PASSWORD}); a complaint filed on the form above shows in the first one's queue:
""" + "\n".join(accounts) + "\n")


def _account_line(session, account: tuple) -> str:
    username, name, role, where = account
    if isinstance(where, tuple):
        scope = department(session, *where).name
    else:
        scope = find_jurisdiction(session, where).name if where else "全市"
    return f"      {username:<16} {name}（{ROLE_LABELS[Role(role)]}，{scope}）"
