"""`qingling demo`: a ready-to-try service on a fresh machine, and the URLs a newcomer should open."""
from __future__ import annotations

from datetime import date, timedelta
from importlib import resources

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from intake.foundation.models import Site, StaffUser, utcnow
from intake.people.staff import ROLE_LABELS, NewUser, Role, create_user
from intake.registry.directory import department, find_jurisdiction, load_directory
from intake.registry.sites import complaint_url, import_sites
from intake.supervision.employers import employer, in_force, list_employer
from intake.warnings.payroll import import_records, site_by_code
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


def _resident_id(serial: int) -> str:
    """A made-up resident ID with a valid check digit (GB 11643), so demo rosters pass validation."""
    body = f"37130219900101{serial:03d}"
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights)) % 11]


def _demo_payroll(session, today: date) -> None:
    """Payroll records so that each warning indicator fires (idempotent, dated from today): DEMO-LS-001 has a
    worker unpaid for months (key, can be made a case) and one paid below the minimum wage; DEMO-LS-002 has
    last month's attendance and no payroll; the sites without a roster miss their roster update; the general
    contractor of DEMO-GX-001 is on the 失信 list; DEMO-LS-002 (a contract of 3,500万) has stored no wage guarantee
    deposit (工资保证金), and its owner paid last month's progress payment (工程款) with a tenth of it as labour
    costs (人工费), short of the building industry's share. The pay-day indicators fire once the pay day and its
    grace have passed, the roster one after `[warnings] roster_update_day`, the labour-cost one after
    `labour_deposit_day`."""
    month = today.replace(day=1)
    months = [(month - timedelta(days=1)).replace(day=1)]
    for _ in range(2):
        months.insert(0, (months[0] - timedelta(days=1)).replace(day=1))
    workers = {"DEMO-LS-001": [("张三（示例）", 1), ("李四（示例）", 2), ("王五（示例）", 3)],
               "DEMO-LS-002": [("赵六（示例）", 4), ("孙七（示例）", 5)]}
    for code, names in workers.items():
        site = site_by_code(session, code)
        roster = [(i, {"name": name, "id_number": _resident_id(n), "team": "木工班",
                       "subcontractor": "临沂示例劳务有限公司"}) for i, (name, n) in enumerate(names, 1)]
        import_records(session, site, "roster", roster)
        worked = [m for m in months if code == "DEMO-LS-001" or m == months[-1]]
        import_records(session, site, "attendance", list(enumerate(
            ({"id_number": _resident_id(n), "month": m.isoformat()[:7], "days": 22} for _, n in names for m in worked),
            1)))
    pay = [{"kind": "payout", "day": (m + timedelta(days=40)).replace(day=5).isoformat(), "amount": 5000,
            "id_number": _resident_id(1), "ref": f"DEMO-{m.isoformat()[:7]}-1"} for m in months[:2]]
    pay.append({"kind": "payout", "day": month.isoformat(), "amount": 500, "id_number": _resident_id(3),
                "ref": f"DEMO-{month.isoformat()[:7]}-3"})
    import_records(session, site_by_code(session, "DEMO-LS-001"), "account", list(enumerate(pay, 1)))
    school, last = site_by_code(session, "DEMO-LS-002"), months[-1]
    import_records(session, school, "account", list(enumerate((
        {"kind": "progress", "day": last.replace(day=8).isoformat(), "amount": 2_000_000, "payer": school.owner,
         "ref": f"DEMO-{last.isoformat()[:7]}-P"},
        {"kind": "deposit", "day": last.replace(day=12).isoformat(), "amount": 200_000, "payer": school.owner,
         "ref": f"DEMO-{last.isoformat()[:7]}-L"}), 1)))
    contractor = site_by_code(session, "DEMO-GX-001").general_contractor
    found = employer(session, contractor)
    if found is None or not any(in_force(listing, today) for listing in found.listings):
        list_employer(session, contractor, kind="blacklist", basis="临人社失信〔示例〕1号", listed_on=today,
                      actor="demo", authority="临沂市人力资源和社会保障局（示例）")


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
        _demo_payroll(session, utcnow().astimezone(svc.calendar.timezone).date())
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
