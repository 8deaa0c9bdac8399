"""The warning indicators: each a small function from the records (and the registers) to the sites it fires on.

An indicator returns {site id: figures}, the figures that triggered it as staff will read them. Set-based
queries, so a pass over a city's sites reads each table a few times, not once a site. Thresholds come from
`[warnings]` (intake.foundation.settings.WarningSettings). Grades follow the notice: general (一般) warnings
clear themselves when the condition goes away; key (关键) warnings go to the ledger with a rectification deadline.
"""
from __future__ import annotations

import calendar as months
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Date, String, case, cast, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from intake.foundation.calendar import WorkingCalendar
from intake.foundation.models import (
    Attendance,
    Channel,
    Complaint,
    Employer,
    EmployerListing,
    Industry,
    Jurisdiction,
    PosterCheckIn,
    RosterEntry,
    Site,
    SiteScan,
    WageAccountEntry,
)
from intake.foundation.settings import WarningSettings
from intake.supervision.employers import in_force_clause, normalise_name

from .payroll import DEPOSIT, GUARANTEE, PAYOUT, PROGRESS

GENERAL, KEY, OPINION = "general", "key", "opinion"
GRADE_LABELS = {GENERAL: "一般性指标", KEY: "关键性指标", OPINION: "舆情信息"}
FIGURE_LABELS = {"month": "工资所属月份", "workers": "涉及人数", "days": "出勤天数合计", "pay_day": "工资发放日",
                 "minimum_wage": "最低工资标准（元/月）", "expected": "应发不低于（元）", "paid": "已代发（元）",
                 "owed": "估算欠薪（元）", "employers": "失信名单中的单位", "last_update": "花名册最近更新",
                 "contract_amount": "合同价款（元）", "required": "应存工资保证金（元）",
                 "deposited": "已存工资保证金（元）", "recent": "近期投诉（件）", "usual": "按以往同期应有（件）",
                 "window_days": "统计天数", "source": "来源", "link": "链接", "summary": "内容摘要",
                 "happened_at": "发生时间",
                 "last_scan": "最近一次扫码", "last_check_in": "最近一次张贴检查", "silent_days": "无扫码工作日数",
                 "scans": "近期扫码（次）", "usual_scans": "按以往同期应有（次）", "scan_days": "统计天数",
                 "progress_through": "工程款统计截至", "progress_paid": "已拨付工程款（元）",
                 "labour_share": "人工费用比例（%）", "labour_due": "应拨人工费用（元）",
                 "labour_deposited": "已拨人工费用（元）", "deposit_day": "每月拨付截止日"}
# 劳社部发〔2008〕3号: a month's wage over 21.75 paid days gives the daily wage.
MONTH_PAID_DAYS = Decimal("21.75")


@dataclass(frozen=True)
class Today:
    """What every indicator of one pass shares: the local date and working calendar, and the thresholds."""

    day: date
    zone: ZoneInfo
    calendar: WorkingCalendar
    config: WarningSettings

    @property
    def month(self) -> date:
        return self.day.replace(day=1)

    @property
    def last_month(self) -> date:
        return _add_months(self.month, -1)

    def utc(self, day: date) -> datetime:
        return datetime.combine(day, time(), self.zone)

    def working_days_ago(self, n: int) -> date:
        """The day n working days before today (today itself when n is 0)."""
        day = self.day
        while n > 0:
            day -= timedelta(days=1)
            n -= self.calendar.is_working_day(day)
        return day

    def pay_window_closed(self, site: Site) -> bool:
        """Whether last month's wages are now late: this month's pay day plus the grace working days has passed."""
        if site.pay_day is None:
            return False
        pay_date = self.month.replace(day=min(site.pay_day, months.monthrange(self.day.year, self.day.month)[1]))
        return self.calendar.add_working_days(pay_date, self.config.payroll_grace_days) < self.day


@dataclass(frozen=True)
class Indicator:
    grade: str
    label: str
    find: Callable[[Session, Today], dict[int, dict[str, Any]]]


def no_roster_update(session: Session, today: Today) -> dict[int, dict[str, Any]]:
    """General: a site in construction whose roster has not changed this month (应录必录、实时更新)."""
    if today.day.day <= today.config.roster_update_day:
        return {}
    last = (select(RosterEntry.site_id, func.max(RosterEntry.updated_at).label("last"))
            .group_by(RosterEntry.site_id).subquery())
    rows = session.execute(select(Site.id, last.c.last).outerjoin(last, last.c.site_id == Site.id)
                           .where(Site.start_date <= today.day)
                           .where((last.c.last.is_(None)) | (last.c.last < today.utc(today.month))))
    return {site_id: {"last_update": _local_day(stamp, today)} for site_id, stamp in rows}


def attended_not_paid(session: Session, today: Today) -> dict[int, dict[str, Any]]:
    """General: attendance last month, and no payout this month though the pay day and its grace have passed."""
    found = {}
    for site, workers, days, paid in _last_month_pay(session, today):
        if paid == 0:
            found[site.id] = {"month": today.last_month.isoformat()[:7], "workers": workers, "days": days,
                              "pay_day": site.pay_day}
    return found


def paid_below_minimum(session: Session, today: Today) -> dict[int, dict[str, Any]]:
    """Key: some payroll paid for last month, but less than its attendance at the site's minimum wage."""
    found = {}
    for site, workers, days, paid in _last_month_pay(session, today):
        minimum = site.minimum_wage or site.jurisdiction.minimum_wage
        if paid == 0 or not minimum:
            continue
        expected = _yuan(Decimal(days) * minimum / MONTH_PAID_DAYS)
        if paid < expected:
            found[site.id] = {"month": today.last_month.isoformat()[:7], "workers": workers, "days": days,
                              "minimum_wage": minimum, "expected": expected, "paid": paid}
    return found


def workers_unpaid(session: Session, today: Today) -> dict[int, dict[str, Any]]:
    """Key: workers with attendance and no pay for `unpaid_months` months or more before last month, each with
    the sum owed, so a case can start from the sums."""
    return {site_id: {"workers": len(workers), "owed": sum(w["owed"] for w in workers.values()), "lines": workers}
            for site_id, workers in owed_by_worker(session, today.last_month, today.config.unpaid_months).items()}


def owed_by_worker(session: Session, before: date, min_months: int = 1, *, site_id: int | None = None,
                   worker: str | None = None) -> dict[int, dict[str, dict[str, Any]]]:
    """{site id: {worker hash: {"months", "days", "owed"}}}: each worker's attended months before `before` that
    no payout followed, if at least `min_months`; owed is days at the agreed daily wage, else the monthly wage
    (the agreed one, else the site's or county's minimum) / 21.75, whole yuan rounded half up per month.

    One grouped query: a month counts as unpaid when the worker's last payout at the site fell before the month
    ended (its month start is not after it). The sums are computed in integers on both databases."""
    paid = (select(WageAccountEntry.site_id, WageAccountEntry.worker_hash,
                   _MonthStart(func.max(WageAccountEntry.day)).label("through"))
            .where(WageAccountEntry.kind == PAYOUT)
            .group_by(WageAccountEntry.site_id, WageAccountEntry.worker_hash))
    attended = Attendance.days > 0
    if site_id is not None:
        paid, attended = paid.where(WageAccountEntry.site_id == site_id), attended & (Attendance.site_id == site_id)
    if worker is not None:
        paid, attended = paid.where(WageAccountEntry.worker_hash == worker), attended & (Attendance.worker_hash == worker)
    paid = paid.subquery()
    days = cast(Attendance.days, BigInteger)
    monthly = func.coalesce(func.nullif(Attendance.monthly_wage, 0), func.nullif(Site.minimum_wage, 0),
                            Jurisdiction.minimum_wage, 0)
    # days × monthly / 21.75, rounded half up: (days × monthly × 200 + 2175) // 4350.
    owed = case((Attendance.daily_wage > 0, days * Attendance.daily_wage),
                else_=(days * monthly * 200 + 2175) // 4350)
    rows = session.execute(
        select(Attendance.site_id, Attendance.worker_hash, func.sum(Attendance.days), func.sum(owed),
               func.aggregate_strings(cast(Attendance.month, String), ","))
        .join(Site, Site.id == Attendance.site_id).join(Jurisdiction, Jurisdiction.code == Site.jurisdiction_code)
        .outerjoin(paid, (paid.c.site_id == Attendance.site_id) & (paid.c.worker_hash == Attendance.worker_hash))
        .where(attended, Attendance.month < before, paid.c.through.is_(None) | (paid.c.through <= Attendance.month))
        .group_by(Attendance.site_id, Attendance.worker_hash)
        .having(func.count() >= min_months)
        .order_by(Attendance.site_id, Attendance.worker_hash))
    lines: dict[int, dict[str, dict[str, Any]]] = defaultdict(dict)
    for site, worker_hash, worked, sum_owed, months_worked in rows:
        lines[site][worker_hash] = {"months": sorted(m[:7] for m in months_worked.split(",")),
                                    "days": int(worked), "owed": int(sum_owed)}
    return lines


def guarantee_short(session: Session, today: Today) -> dict[int, dict[str, Any]]:
    """Key: a site in construction whose wage guarantee deposits (工资保证金) fall short of `guarantee_permille`
    of its contract amount (capped at `guarantee_cap` when set), or were never made."""
    config = today.config
    deposited = (select(WageAccountEntry.site_id, func.sum(WageAccountEntry.amount).label("sum"))
                 .where(WageAccountEntry.kind == GUARANTEE).group_by(WageAccountEntry.site_id).subquery())
    found = {}
    for site_id, contract, paid in session.execute(
            select(Site.id, Site.contract_amount, func.coalesce(deposited.c.sum, 0))
            .outerjoin(deposited, deposited.c.site_id == Site.id)
            .where(Site.contract_amount > 0, Site.start_date <= today.day)):
        required = _yuan(Decimal(contract) * config.guarantee_permille / 1000)
        required = min(required, config.guarantee_cap) if config.guarantee_cap else required
        if int(paid) < required:
            found[site_id] = {"contract_amount": contract, "required": required, "deposited": int(paid)}
    return found


def labour_costs_short(session: Session, today: Today) -> dict[int, dict[str, Any]]:
    """Key: the owner's labour-cost deposits (人工费用拨付, 保障农民工工资支付条例 Art. 29) fall short of the
    industry's `labour_share_*` percent of the progress payments (工程款拨付) made up to the end of last month, once
    this month's `labour_deposit_day` has passed (before it, up to the end of the month before). Counted from the
    first statement line, so a shortfall stays until the deposits catch up, whatever month it began in."""
    config = today.config
    cutoff = today.month if today.day.day > config.labour_deposit_day else _add_months(today.month, -1)
    line = WageAccountEntry
    progress = func.sum(case(((line.kind == PROGRESS) & (line.day < cutoff), line.amount), else_=0))
    deposited = func.sum(case((line.kind == DEPOSIT, line.amount), else_=0))
    found = {}
    for site_id, industry, paid, put_in in session.execute(
            select(line.site_id, Site.industry, progress, deposited).join(Site, Site.id == line.site_id)
            .where(line.kind.in_((PROGRESS, DEPOSIT))).group_by(line.site_id, Site.industry)
            .having(progress > 0)):
        share = config.labour_share(_INDUSTRY_NAMES.get(industry, Industry.OTHER.name))
        due = _yuan(Decimal(int(paid)) * share / 100)
        if int(put_in) < due:
            found[site_id] = {"progress_through": _add_months(cutoff, -1).isoformat()[:7], "progress_paid": int(paid),
                              "labour_share": share, "labour_due": due, "labour_deposited": int(put_in),
                              "deposit_day": config.labour_deposit_day}
    return found


_INDUSTRY_NAMES = {i.value: i.name for i in Industry}


def complaints_above_baseline(session: Session, today: Today) -> dict[int, dict[str, Any]]:
    """General: more complaints at a site in the last `baseline_window_days` than its usual rate over the
    `baseline_days` before them allows (`baseline_percent` of it, and at least `baseline_min_complaints`): a group
    forming before it reaches the door."""
    config = today.config
    window_start = today.utc(today.day) - timedelta(days=config.baseline_window_days - 1)
    baseline_start = window_start - timedelta(days=config.baseline_days)
    recent = func.sum(case((Complaint.created_at >= window_start, 1), else_=0))
    found = {}
    for site_id, now_count, before in session.execute(
            select(Complaint.site_id, recent, func.count() - recent)
            .where(Complaint.site_id.is_not(None), Complaint.channel != Channel.WARNING.value,
                   Complaint.created_at >= baseline_start)
            .group_by(Complaint.site_id)):
        usual = Decimal(before) * config.baseline_window_days / max(config.baseline_days, 1)
        if now_count >= config.baseline_min_complaints and now_count * 100 >= usual * config.baseline_percent:
            found[site_id] = {"recent": int(now_count), "usual": float(usual.quantize(Decimal("0.1"))),
                              "window_days": config.baseline_window_days}
    return found


def poster_silent(session: Session, today: Today) -> dict[int, dict[str, Any]]:
    """General: a site in construction whose poster's QR link nobody opened, and no inspector checked in at, for
    `poster_silent_days` working days: the poster may be gone (督促张贴及使用欠薪投诉二维码)."""
    cutoff = today.working_days_ago(today.config.poster_silent_days)
    scans = (select(SiteScan.site_id, func.max(SiteScan.day).label("last")).where(SiteScan.count > 0)
             .group_by(SiteScan.site_id).subquery())
    visits = (select(PosterCheckIn.site_id, func.max(PosterCheckIn.created_at).label("last"))
              .group_by(PosterCheckIn.site_id).subquery())
    rows = session.execute(
        select(Site.id, scans.c.last, visits.c.last).outerjoin(scans, scans.c.site_id == Site.id)
        .outerjoin(visits, visits.c.site_id == Site.id)
        .where(Site.start_date <= cutoff, scans.c.last.is_(None) | (scans.c.last < cutoff),
               visits.c.last.is_(None) | (visits.c.last < today.utc(cutoff))))
    return {site_id: {"last_scan": scanned.isoformat() if scanned else None,
                      "last_check_in": _local_day(visited, today), "silent_days": today.config.poster_silent_days}
            for site_id, scanned, visited in rows}


def scans_spiking(session: Session, today: Today) -> dict[int, dict[str, Any]]:
    """General: the QR link opened over the last `scan_spike_days` far more than the site's usual rate (a group
    forming): at least `scan_spike_min` and `scan_spike_percent` of the rate over the `scan_baseline_days` before."""
    config = today.config
    start = today.day - timedelta(days=config.scan_spike_days - 1)
    recent = func.sum(case((SiteScan.day >= start, SiteScan.count), else_=0))
    found = {}
    for site_id, now_count, before in session.execute(
            select(SiteScan.site_id, recent, func.sum(SiteScan.count) - recent)
            .where(SiteScan.day >= start - timedelta(days=config.scan_baseline_days), SiteScan.day <= today.day)
            .group_by(SiteScan.site_id)):
        usual = Decimal(before) * config.scan_spike_days / max(config.scan_baseline_days, 1)
        if now_count >= config.scan_spike_min and now_count * 100 >= usual * config.scan_spike_percent:
            found[site_id] = {"scans": int(now_count), "usual_scans": float(usual.quantize(Decimal("0.1"))),
                              "scan_days": config.scan_spike_days}
    return found


def dishonest_employer(session: Session, today: Today) -> dict[int, dict[str, Any]]:
    """Key: the site's owner, general contractor or a subcontractor on its roster is on a 失信 listing in force."""
    listed = set(session.scalars(
        select(Employer.name).join(EmployerListing, EmployerListing.employer_id == Employer.id)
        .where(in_force_clause(today.day))))
    if not listed:
        return {}
    names: dict[int, set[str]] = defaultdict(set)
    for site_id, owner, contractor in session.execute(select(Site.id, Site.owner, Site.general_contractor)):
        names[site_id].update(filter(None, (normalise_name(owner), normalise_name(contractor))))
    for site_id, subcontractor in session.execute(
            select(RosterEntry.site_id, RosterEntry.subcontractor).where(RosterEntry.subcontractor.is_not(None))
            .distinct()):
        names[site_id].add(normalise_name(subcontractor))
    return {site_id: {"employers": sorted(found & listed)} for site_id, found in names.items() if found & listed}


INDICATORS: Mapping[str, Indicator] = {
    "no_roster_update": Indicator(GENERAL, "本月未更新实名制花名册", no_roster_update),
    "attended_not_paid": Indicator(GENERAL, "有考勤但工资发放日后未代发工资", attended_not_paid),
    "paid_below_minimum": Indicator(KEY, "代发工资低于考勤天数×最低工资标准", paid_below_minimum),
    "workers_unpaid": Indicator(KEY, "工人有考勤但两个月以上未发工资", workers_unpaid),
    "dishonest_employer": Indicator(KEY, "建设、总包或分包单位在失信名单中", dishonest_employer),
    "guarantee_short": Indicator(KEY, "工资保证金未存储或低于应存数额", guarantee_short),
    "labour_costs_short": Indicator(KEY, "人工费用未按工程款比例按时拨付至工资专用账户", labour_costs_short),
    "complaints_above_baseline": Indicator(GENERAL, "工地投诉明显高于以往", complaints_above_baseline),
    "poster_silent": Indicator(GENERAL, "维权二维码长期无人扫码，可能未张贴", poster_silent),
    "scans_spiking": Indicator(GENERAL, "维权二维码扫码突然增多", scans_spiking),
}


def _last_month_pay(session: Session, today: Today):
    """(site, workers, days, paid) for the sites whose pay for last month is due: last month's attendance and
    what the account paid out since the start of this month."""
    attended = dict((site_id, (workers, days)) for site_id, workers, days in session.execute(
        select(Attendance.site_id, func.count(Attendance.id), func.sum(Attendance.days))
        .where(Attendance.month == today.last_month, Attendance.days > 0).group_by(Attendance.site_id)))
    if not attended:
        return
    paid = dict(session.execute(
        select(WageAccountEntry.site_id, func.sum(WageAccountEntry.amount))
        .where(WageAccountEntry.kind == PAYOUT, WageAccountEntry.day >= today.month)
        .group_by(WageAccountEntry.site_id)).all())
    for site in session.scalars(select(Site).where(Site.id.in_(attended))):
        if today.pay_window_closed(site):
            workers, days = attended[site.id]
            yield site, workers, int(days), int(paid.get(site.id) or 0)


class _MonthStart(FunctionElement):
    """The first day of the month of a date: date_trunc on PostgreSQL, date(..., 'start of month') on SQLite."""

    type = Date()
    inherit_cache = True


@compiles(_MonthStart, "postgresql")
def _month_start_postgresql(element: _MonthStart, compiler: Any, **kw: Any) -> str:
    return f"CAST(date_trunc('month', {compiler.process(element.clauses, **kw)}) AS DATE)"


@compiles(_MonthStart, "sqlite")
def _month_start_sqlite(element: _MonthStart, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, 'start of month')"


def _yuan(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def _local_day(stamp: datetime | None, today: Today) -> str | None:
    return stamp.astimezone(today.zone).date().isoformat() if stamp else None
