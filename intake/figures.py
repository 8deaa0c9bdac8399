"""The supervisors' figures: per county and department, over the cases a user's scope shows and the filters
choose; the ledger (intake.ledger) lists exactly the same cases, so a figure can always be checked row by row.

Definitions (the on-time facts themselves are defined in intake.case_facts):
- The cases counted are those *received* (complaints.created_at, local date) within the date range, in scope
  (`Scope.complaints()`), in the county (the handling department's, or the one filed for while unrouted),
  department, industry and investment type chosen.
- On-time rate of a clock = cases that met it / cases that met or missed it; cases where it still runs and
  is not overdue are in neither. 签收 is the acknowledge clock, 受理 the accept decision, 答复 the reply.
- 响应率 (response) is the on-time acknowledgement rate, 按时办结率 the on-time reply rate (办结 in time).
- Closure rate = closed (销号) / received. Satisfaction rate = workers who confirmed the money arrived
  (complaints.satisfied true) / workers who answered.
- Open = not closed; overdue now = open with a running deadline already past (complaints.next_due_at).
- Money claimed is the complaints' amounts, recovered what the departments recorded.
- 两个清零: every open case in scope and filters (whatever its date) counts against its target date:
  government-invested and SOE projects against `[targets] gov_soe_clear_by`, all others `all_clear_by`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Date, and_, func, literal_column, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.sql.expression import FunctionElement

from .access import Scope
from .models import CaseFacts, Complaint, Department, Investment, Jurisdiction, Priority, Site, Status
from .settings import TargetSettings

F, C = CaseFacts, Complaint
LIST_MAX = 100
REPEATED_MIN = 2
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
    satisfied: int = 0
    answered: int = 0
    open: int = 0
    overdue: int = 0
    claimed: int = 0
    recovered: int = 0

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


class _local_date(FunctionElement):
    type = Date()
    inherit_cache = True


@compiles(_local_date, "postgresql")
def _local_date_pg(element, compiler, **kw):
    column, zone, _offset = list(element.clauses)
    return f"CAST(({compiler.process(column, **kw)} AT TIME ZONE {compiler.process(zone, **kw)}) AS DATE)"


@compiles(_local_date, "sqlite")
def _local_date_sqlite(element, compiler, **kw):
    column, _zone, offset = list(element.clauses)
    return f"date({compiler.process(column, **kw)}, {compiler.process(offset, **kw)})"


def local_date(column, timezone: str) -> ColumnElement[date]:
    """The local calendar date of a UTC timestamp column. SQLite stores naive UTC text and knows no zones, so
    it adds the zone's offset (Asia/Shanghai keeps one all year)."""
    zone = ZoneInfo(timezone)
    hours = zone.utcoffset(datetime(2000, 1, 1)).total_seconds() / 3600
    return _local_date(column, literal_column(f"'{zone.key}'"), literal_column(f"'{hours:+g} hours'"))


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
        found.append(or_(C.department_id.in_(select(Department.id).where(Department.jurisdiction_code == filters.county)),
                         and_(C.department_id.is_(None), C.jurisdiction_code == filters.county)))
    if filters.department_id is not None:
        found.append(C.department_id == filters.department_id)
    site_conditions = [c for c in (Site.industry == filters.industry if filters.industry else None,
                                   Site.investment == filters.investment if filters.investment else None)
                       if c is not None]
    if site_conditions:
        found.append(C.site_id.in_(select(Site.id).where(*site_conditions)))
    return found


def _count(condition) -> ColumnElement[int]:
    return func.count().filter(condition)


def figures(session: Session, scope: Scope, filters: Filters, now: datetime, timezone: str) -> Figures:
    """Every figure per department, summed per county and in total, from one grouped query."""
    open_ = C.status != Status.CLOSED.value
    query = (select(C.department_id, county_of(), func.count(),
                    _count(F.acknowledged_on_time.is_(True)), _count(F.acknowledged_on_time.is_(False)),
                    _count(F.accept_on_time.is_(True)), _count(F.accept_on_time.is_(False)),
                    _count(F.reply_on_time.is_(True)), _count(F.reply_on_time.is_(False)),
                    _count(C.status == Status.CLOSED.value), _count(C.satisfied.is_(True)),
                    _count(C.satisfied.is_not(None)), _count(open_), _count(and_(open_, C.next_due_at < now)),
                    func.coalesce(func.sum(C.amount), 0), func.coalesce(func.sum(C.amount_recovered), 0))
             .select_from(C).outerjoin(F, F.complaint_id == C.id).outerjoin(Department, Department.id == C.department_id)
             .where(*conditions(scope, filters, timezone)).group_by(C.department_id, county_of()))
    rows = session.execute(query).all()
    departments = {d.id: d for d in session.scalars(select(Department).where(
        Department.id.in_({r[0] for r in rows if r[0] is not None})))}
    names = dict(session.execute(select(Jurisdiction.code, Jurisdiction.name)).all())
    by_department: dict[tuple, Unit] = {}
    by_county: dict[str | None, Unit] = {}
    total = Tally()
    for department_id, county, *numbers in rows:
        tally = Tally(*numbers)
        department = departments.get(department_id)
        key = (county, department_id)
        unit = by_department.setdefault(key, Unit(county, department.name if department else "待分派",
                                                  department_id))
        unit.tally.add(tally)
        by_county.setdefault(county, Unit(county, names.get(county, "区县不明"))).tally.add(tally)
        total.add(tally)
    return Figures(sorted(by_county.values(), key=lambda u: u.code or "~"),
                   sorted(by_department.values(), key=lambda u: (u.code or "~", u.name)), total)


def daily(session: Session, scope: Scope, filters: Filters, timezone: str, today: date,
          days: int = 30) -> list[tuple[date, int, int]]:
    """(day, received, closed) for every day of the range (the last `days` days when it is open-ended)."""
    start = filters.start or (filters.end or today) - timedelta(days=days - 1)
    end = filters.end or today
    ranged = Filters(start, end, filters.county, filters.department_id, filters.industry, filters.investment)
    received_day = local_date(C.created_at, timezone)
    received = session.execute(
        select(received_day, func.count()).where(*conditions(scope, ranged, timezone)).group_by(received_day)).all()
    closed_day = local_date(F.closed_at, timezone)
    closed = session.execute(
        select(closed_day, func.count()).select_from(C).join(F, F.complaint_id == C.id)
        .where(*conditions(scope, ranged, timezone, dated=False), F.closed_at >= day_bounds(start, timezone),
               F.closed_at < day_bounds(end + timedelta(days=1), timezone)).group_by(closed_day)).all()
    received = {_as_date(k): v for k, v in received}
    closed = {_as_date(k): v for k, v in closed}
    span = (end - start).days + 1
    return [(d, received.get(d, 0), closed.get(d, 0)) for d in (start + timedelta(days=i) for i in range(span))]


def _as_date(value) -> date:
    return value if isinstance(value, date) else date.fromisoformat(value)


def clear_targets(session: Session, scope: Scope, filters: Filters, targets: TargetSettings, today: date,
                  timezone: str) -> list[ClearTarget]:
    """两个清零: the open cases on gov/SOE projects and all the others, per county, against their dates."""
    gov_soe = func.coalesce(Site.investment.in_(GOV_SOE), False)
    rows = session.execute(
        select(gov_soe, county_of(), func.count()).select_from(C)
        .outerjoin(Site, Site.id == C.site_id).outerjoin(Department, Department.id == C.department_id)
        .where(*conditions(scope, filters, timezone, dated=False), C.status != Status.CLOSED.value)
        .group_by(gov_soe, county_of())).all()
    names = dict(session.execute(select(Jurisdiction.code, Jurisdiction.name)).all())
    found = []
    for label, due_text, wanted in (("政府投资和国有企业项目", targets.gov_soe_clear_by, True),
                                    ("其他项目（春节前动态清零）", targets.all_clear_by, False)):
        due = date.fromisoformat(due_text)
        counts = sorted(((names.get(county, "区县不明"), n) for is_gov, county, n in rows if bool(is_gov) == wanted),
                        key=lambda x: -x[1])
        found.append(ClearTarget(label, due, (due - today).days, sum(n for _, n in counts), counts))
    return found


def _listed(session: Session, scope: Scope, filters: Filters, timezone: str, *extra) -> list[Complaint]:
    return list(session.scalars(
        select(C).where(*conditions(scope, filters, timezone, dated=False), C.status != Status.CLOSED.value, *extra)
        .order_by(C.next_due_at.asc().nulls_last(), C.id).limit(LIST_MAX)
        .options(selectinload(C.site), selectinload(C.department))))


def supervised(session: Session, scope: Scope, filters: Filters, timezone: str) -> list[Complaint]:
    """Open 挂牌督办 cases, the most urgent deadline first (the supervisor's own is deadlines["supervise"])."""
    return _listed(session, scope, filters, timezone, C.supervised.is_(True))


def collective_and_urgent(session: Session, scope: Scope, filters: Filters, timezone: str) -> list[Complaint]:
    return _listed(session, scope, filters, timezone,
                   or_(C.collective_id.is_not(None), C.priority == Priority.URGENT.value))


def repeated_sites(session: Session, scope: Scope, filters: Filters, timezone: str) -> list[tuple[Site, int, int]]:
    """Sites with two or more complaints in the range: (site, complaints, open)."""
    rows = session.execute(
        select(C.site_id, func.count(), _count(C.status != Status.CLOSED.value))
        .where(*conditions(scope, filters, timezone), C.site_id.is_not(None)).group_by(C.site_id)
        .having(func.count() >= REPEATED_MIN).order_by(func.count().desc(), C.site_id).limit(20)).all()
    sites = {s.id: s for s in session.scalars(select(Site).where(Site.id.in_([r[0] for r in rows]))
                                              .options(selectinload(Site.jurisdiction)))}
    return [(sites[site_id], n, o) for site_id, n, o in rows]


def repeated_employers(session: Session, scope: Scope, filters: Filters, timezone: str) -> list[tuple[str, int, int]]:
    """Employers with two or more complaints in the range: (name, complaints, open)."""
    return [tuple(r) for r in session.execute(
        select(F.employer, func.count(), _count(C.status != Status.CLOSED.value))
        .select_from(C).join(F, F.complaint_id == C.id)
        .where(*conditions(scope, filters, timezone), F.employer.is_not(None)).group_by(F.employer)
        .having(func.count() >= REPEATED_MIN).order_by(func.count().desc(), F.employer).limit(20)).all()]


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

