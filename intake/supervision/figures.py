"""The supervisors' figures: per county and department, over the cases a user's scope shows and the filters
choose; the ledger (intake.supervision.ledger) lists exactly the same cases, so a figure can always be checked row by row.

The counts are sums of the daily tallies (intake.supervision.tallies), which the cases keep up to date as they change, so a
year over a million cases reads a few thousand rows; only "overdue now" is counted on the cases themselves.

Definitions (the on-time facts themselves are defined in intake.supervision.case_facts):
- The cases counted are those *received* (complaints.created_at, local date) within the date range, in scope
  (`Scope.complaints()`), in the county (the handling department's, or the one filed for while unrouted),
  department, industry and investment type chosen.
- On-time rate of a clock = cases that met it / cases that met or missed it; cases where it still runs and
  is not overdue are in neither. 签收 is the acknowledge clock, 受理 the accept decision, 答复 the reply.
- 响应率 (response) is the on-time acknowledgement rate, 按时办结率 the on-time reply rate (办结 in time).
- Closure rate = closed (销号) / received. 满意率 = cases whose worker graded the closed case 满意 or 基本满意
  (complaints.satisfaction) / cases graded at all; a case not graded (yet) is in neither. Whether the money
  arrived (complaints.satisfied) is what closes a case, not a grade. The red and yellow lists value each grade
  (intake.units.rankings).
- Open = not closed; overdue now = open with a running deadline already past (complaints.next_due_at).
- Money claimed is the complaints' amounts, recovered what the departments recorded.
- Petitions (上访) are counted by the day they were made (not the case's), against the department and county that
  held the case then, or, for a petition against a site with no case named, the department that owns the site
  and the site's county.
- 两个清零: every open case in scope and filters (whatever its date) counts against its target date:
  government-invested and SOE projects against `[targets] gov_soe_clear_by`, all others `all_clear_by`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session, load_only, selectinload

from intake.foundation.models import (
    CaseFacts,
    Complaint,
    DailyTally,
    Department,
    Investment,
    Jurisdiction,
    Petition,
    Priority,
    Site,
    Status,
)
from intake.foundation.settings import TargetSettings
from intake.people.access import Scope, in_county

from .tallies import CLOSED, COUNTERS, RECEIVED

F, C, T, P = CaseFacts, Complaint, DailyTally, Petition
LIST_MAX = 100
REPEATED_MIN = 2
REPEAT_WINDOW_DAYS = 90
# What the watch lists show of a case (a list of a hundred reads no claim, text or timeline).
LISTED = (C.ticket_no, C.collective_id, C.priority, C.site_id, C.project_name, C.department_id, C.workers, C.amount,
          C.status, C.deadlines, C.next_due_at, C.supervised)
GOV_SOE = (Investment.GOVERNMENT.value, Investment.SOE.value)


@dataclass(frozen=True)
class Filters:
    start: date | None = None  # received on or after (local date)
    end: date | None = None  # received on or before
    county: str = ""
    department_id: int | None = None
    industry: str = ""
    investment: str = ""


@dataclass
class Tally:
    received: int = 0
    ack_met: int = 0
    ack_missed: int = 0
    accept_met: int = 0
    accept_missed: int = 0
    reply_met: int = 0
    reply_missed: int = 0
    closed: int = 0
    satisfied: int = 0  # graded 满意 or 基本满意
    answered: int = 0  # graded at all
    fully_satisfied: int = 0  # graded 满意
    open: int = 0
    overdue: int = 0
    claimed: int = 0
    recovered: int = 0
    petitions: int = 0  # petitions (上访) made in the date range, counted against the unit that held the case

    def add(self, other: Tally) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def ack_rate(self) -> float | None:
        return _rate(self.ack_met, self.ack_met + self.ack_missed)

    @property
    def accept_rate(self) -> float | None:
        return _rate(self.accept_met, self.accept_met + self.accept_missed)

    @property
    def reply_rate(self) -> float | None:
        return _rate(self.reply_met, self.reply_met + self.reply_missed)

    @property
    def closure_rate(self) -> float | None:
        return _rate(self.closed, self.received)

    @property
    def satisfaction_rate(self) -> float | None:
        return _rate(self.satisfied, self.answered)

    @property
    def missed(self) -> int:
        return self.ack_missed + self.accept_missed + self.reply_missed


@dataclass
class Unit:
    """One row of the figures: a county, or a department within one."""

    code: str | None
    name: str
    department_id: int | None = None
    tally: Tally = field(default_factory=Tally)


@dataclass
class Figures:
    counties: list[Unit]
    departments: list[Unit]
    total: Tally


@dataclass(frozen=True)
class ClearTarget:
    label: str
    due: date
    days_left: int
    open: int
    by_county: list[tuple[str, int]]


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def day_bounds(day: date, timezone: str) -> datetime:
    """Local midnight of a day, as an aware instant."""
    return datetime.combine(day, time(0), ZoneInfo(timezone))


def county_of() -> ColumnElement:
    """The unit a case belongs to: its handling department's, else the county it was filed for."""
    return func.coalesce(Department.jurisdiction_code, C.jurisdiction_code)


def conditions(scope: Scope, filters: Filters, timezone: str, *, dated: bool = True) -> list[ColumnElement[bool]]:
    """WHERE conditions on complaints: the scope first, then the filters (the date range unless `dated` is off)."""
    found = [scope.complaints()]
    if dated and filters.start:
        found.append(C.created_at >= day_bounds(filters.start, timezone))
    if dated and filters.end:
        found.append(C.created_at < day_bounds(filters.end + timedelta(days=1), timezone))
    if filters.county:
        found.append(in_county(filters.county))
    if filters.department_id is not None:
        found.append(C.department_id == filters.department_id)
    sites = _sites(filters)
    if sites is not None:
        found.append(C.site_id.in_(sites))
    return found


def _sites(filters: Filters):
    """The sites of the industry and investment chosen, as a subquery; None when neither is."""
    site_conditions = [c for c in (Site.industry == filters.industry if filters.industry else None,
                                   Site.investment == filters.investment if filters.investment else None)
                       if c is not None]
    return select(Site.id).where(*site_conditions) if site_conditions else None


def _count(condition) -> ColumnElement[int]:
    return func.count().filter(condition)


def _tally_conditions(scope: Scope, filters: Filters, kind: str, start: date | None, end: date | None) -> list:
    """WHERE conditions on the daily tallies: the same scope and filters as `conditions`, by day."""
    found = [T.kind == kind, scope.units(T.department_id, T.county)]
    if start:
        found.append(T.day >= start)
    if end:
        found.append(T.day <= end)
    if filters.county:
        found.append(T.county == filters.county)
    if filters.department_id is not None:
        found.append(T.department_id == filters.department_id)
    if filters.industry:
        found.append(T.industry == filters.industry)
    if filters.investment:
        found.append(T.investment == filters.investment)
    return found


def figures(session: Session, scope: Scope, filters: Filters, now: datetime, timezone: str) -> Figures:
    """Every figure per department, summed per county and in total: the counts from the daily tallies, the
    cases overdue now from the complaints' deadlines."""
    sums = [func.coalesce(func.sum(getattr(T, name)), 0) for name in COUNTERS]
    counted = session.execute(
        select(T.department_id, T.county, *sums)
        .where(*_tally_conditions(scope, filters, RECEIVED, filters.start, filters.end))
        .group_by(T.department_id, T.county).having(func.sum(T.received) > 0)).all()  # buckets cases left
    overdue = dict(((d or 0, county or ""), n) for d, county, n in session.execute(
        select(C.department_id, county_of(), func.count()).select_from(C)
        .outerjoin(Department, Department.id == C.department_id)
        .where(*conditions(scope, filters, timezone), C.status != Status.CLOSED.value, C.next_due_at < now)
        .group_by(C.department_id, county_of())).all())
    petitioned = _petitions(session, scope, filters, timezone)
    units = {(d, county): list(numbers) for d, county, *numbers in counted}
    for key in (*overdue, *petitioned):
        units.setdefault(key, [0] * len(COUNTERS))
    departments = {d.id: d for d in session.scalars(select(Department).where(
        Department.id.in_({d for d, _ in units if d})))}
    names = dict(session.execute(select(Jurisdiction.code, Jurisdiction.name)).all())
    by_department: dict[tuple, Unit] = {}
    by_county: dict[str | None, Unit] = {}
    total = Tally()
    for (department_id, county), numbers in units.items():
        counts = dict(zip(COUNTERS, numbers))
        tally = Tally(**counts, open=counts["received"] - counts["closed"],
                      overdue=overdue.get((department_id, county), 0),
                      petitions=petitioned.get((department_id, county), 0))
        county = county or None
        department = departments.get(department_id)
        unit = by_department.setdefault((county, department_id), Unit(
            county, department.name if department else "待分派", department_id or None))
        unit.tally.add(tally)
        by_county.setdefault(county, Unit(county, names.get(county, "区县不明"))).tally.add(tally)
        total.add(tally)
    return Figures(sorted(by_county.values(), key=lambda u: u.code or "~"),
                   sorted(by_department.values(), key=lambda u: (u.code or "~", u.name)), total)


def _petitions(session: Session, scope: Scope, filters: Filters, timezone: str) -> dict[tuple[int, str], int]:
    """Petitions made in the date range per (department, county) that answer for them, in scope and county."""
    found = [scope.units(P.department_id, P.jurisdiction_code)]
    if filters.start:
        found.append(P.petitioned_at >= day_bounds(filters.start, timezone))
    if filters.end:
        found.append(P.petitioned_at < day_bounds(filters.end + timedelta(days=1), timezone))
    if filters.county:
        found.append(P.jurisdiction_code == filters.county)
    if filters.department_id is not None:
        found.append(P.department_id == filters.department_id)
    sites = _sites(filters)
    if sites is not None:
        found.append(or_(P.site_id.in_(sites), P.complaint_id.in_(select(C.id).where(C.site_id.in_(sites)))))
    return {(d or 0, county or ""): n for d, county, n in session.execute(
        select(P.department_id, P.jurisdiction_code, func.count()).where(*found)
        .group_by(P.department_id, P.jurisdiction_code)).all()}


def daily(session: Session, scope: Scope, filters: Filters, timezone: str, today: date,
          days: int = 30) -> list[tuple[date, int, int]]:
    """(day, received, closed) for every day of the range (the last `days` days when it is open-ended)."""
    start = filters.start or (filters.end or today) - timedelta(days=days - 1)
    end = filters.end or today
    per_day = {}
    for kind, counter in ((RECEIVED, T.received), (CLOSED, T.closed)):
        per_day[kind] = {_as_date(day): n for day, n in session.execute(
            select(T.day, func.sum(counter)).where(*_tally_conditions(scope, filters, kind, start, end))
            .group_by(T.day)).all()}
    span = (end - start).days + 1
    return [(d, per_day[RECEIVED].get(d, 0), per_day[CLOSED].get(d, 0))
            for d in (start + timedelta(days=i) for i in range(span))]


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def clear_targets(session: Session, scope: Scope, filters: Filters, targets: TargetSettings, today: date,
                  timezone: str) -> list[ClearTarget]:
    """两个清零: the open cases on gov/SOE projects and all the others, per county, against their dates."""
    gov_soe = T.investment.in_(GOV_SOE)
    rows = session.execute(
        select(gov_soe, T.county, func.sum(T.received - T.closed))
        .where(*_tally_conditions(scope, filters, RECEIVED, None, None)).group_by(gov_soe, T.county)).all()
    names = dict(session.execute(select(Jurisdiction.code, Jurisdiction.name)).all())
    found = []
    for label, due_text, wanted in (("政府投资和国有企业项目", targets.gov_soe_clear_by, True),
                                    ("其他项目（春节前动态清零）", targets.all_clear_by, False)):
        due = date.fromisoformat(due_text)
        counts = sorted(((names.get(county, "区县不明"), int(n)) for is_gov, county, n in rows
                         if bool(is_gov) == wanted and n), key=lambda x: -x[1])
        found.append(ClearTarget(label, due, (due - today).days, sum(n for _, n in counts), counts))
    return found


def _listed(session: Session, scope: Scope, filters: Filters, timezone: str, *extra) -> list[Complaint]:
    return list(session.scalars(
        select(C).where(*conditions(scope, filters, timezone, dated=False), C.status != Status.CLOSED.value,
               C.status != Status.DUPLICATE.value, *extra)
        .order_by(C.next_due_at.asc().nulls_last(), C.id).limit(LIST_MAX)
        .options(load_only(*LISTED), selectinload(C.site).load_only(Site.name),
                 selectinload(C.department).load_only(Department.name))))


def supervised(session: Session, scope: Scope, filters: Filters, timezone: str) -> list[Complaint]:
    """Open 挂牌督办 cases, the most urgent deadline first (the supervisor's own is deadlines["supervise"])."""
    return _listed(session, scope, filters, timezone, C.supervised.is_(True))


def collective_and_urgent(session: Session, scope: Scope, filters: Filters, timezone: str) -> list[Complaint]:
    return _listed(session, scope, filters, timezone,
                   or_(C.collective_id.is_not(None), C.priority == Priority.URGENT.value))


def repeat_window(filters: Filters, today: date) -> tuple[date, date]:
    """The days the repeated-complaint lists look at: the last REPEAT_WINDOW_DAYS of the chosen range. A site or
    employer complained about again and again lately is the warning; a whole year's totals per employer are in
    the employer register."""
    end = filters.end or today
    start = end - timedelta(days=REPEAT_WINDOW_DAYS - 1)
    return (max(start, filters.start) if filters.start else start), end


def _repeated(session: Session, scope: Scope, filters: Filters, key, today: date) -> list[tuple]:
    """(key, complaints, open) for the keys with two or more complaints received in the window, most first; read
    from case_facts alone, which carries each case's unit (intake.supervision.tallies)."""
    start, end = repeat_window(filters, today)
    found = [scope.units(F.department_id, F.county), key.is_not(None), F.received_day >= start,
             F.received_day <= end]
    for column, value in ((F.county, filters.county), (F.department_id, filters.department_id),
                          (F.industry, filters.industry), (F.investment, filters.investment)):
        if value:
            found.append(column == value)
    return [tuple(r) for r in session.execute(
        select(key, func.count(), _count(F.is_open.is_(True))).where(*found).group_by(key)
        .having(func.count() >= REPEATED_MIN).order_by(func.count().desc(), key).limit(20)).all()]


def repeated_sites(session: Session, scope: Scope, filters: Filters, today: date) -> list[tuple[Site, int, int]]:
    """Sites with two or more complaints in the window: (site, complaints, open)."""
    rows = _repeated(session, scope, filters, F.site_id, today)
    sites = {s.id: s for s in session.scalars(select(Site).where(Site.id.in_([r[0] for r in rows]))
                                              .options(selectinload(Site.jurisdiction)))}
    return [(sites[site_id], n, o) for site_id, n, o in rows if site_id in sites]


def repeated_employers(session: Session, scope: Scope, filters: Filters, today: date) -> list[tuple[str, int, int]]:
    """Employers with two or more complaints in the window: (name, complaints, open)."""
    return _repeated(session, scope, filters, F.employer, today)


def report_period(kind: str, today: date) -> tuple[date, date]:
    """The last complete week (Monday to Sunday) or calendar month before `today`, for 通报."""
    if kind == "weekly":
        end = today - timedelta(days=today.weekday() + 1)
        return end - timedelta(days=6), end
    if kind == "monthly":
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    raise ValueError(f"report period must be weekly or monthly, not {kind!r}")


def rate_text(rate: float | None) -> str:
    """A rate as staff read it: "93.5%", or "—" when nothing counted."""
    return "—" if rate is None else f"{rate * 100:.1f}%"

