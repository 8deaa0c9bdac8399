"""The red and yellow lists (红黄榜): each month the office ranks counties or departments by the figures already
kept for the cases received that month (intake.supervision.figures: 响应率, 按时办结率, 销号率, and 超期率 =
open cases past a running deadline now / open cases), the workers' grades of their closed cases (满意度: the mean of
the `[rankings] grade_*` value of each 满意 / 基本满意 / 不满意 given, out of 100) and the unit's tasks due that month answered on time (任务按时率,
intake.units.tasks), publishes the list, and the units on the yellow list are
criticised by name (通报批评) with their figures.

Each unit's petitions (上访) of the month are listed with it, and named in its 通报批评.

A unit's score is the weighted mean of its figures ([rankings] weights), 0-100; a figure with nothing to count
(no case answered yet, say) is left out of its mean. Units with fewer than `min_cases` cases received are listed
but not ranked. The red list is the best `list_size` scoring at least `red_min_score`; the yellow list the worst
`list_size` scoring below `yellow_below_score`, worst first. The city ranks counties and every department; a
county's supervisors rank the county's departments.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import or_, select, true
from sqlalchemy.orm import Session

from intake.delivery.outbox import notify_department
from intake.foundation.models import Department, RankingList, UnitTask, UnitTaskAssignment
from intake.foundation.settings import RankingSettings
from intake.people.access import Scope
from intake.people.staff import Role
from intake.registry.directory import LEADING_GROUP_OFFICE, city_department, department
from intake.supervision.figures import Filters, Tally, day_bounds, figures, rate_text

from .tasks import TaskError, deadline_state

LEVELS = {"county": "区县", "department": "部门"}
# Each figure: its label, and whether more is better.
INDICATORS: dict[str, tuple[str, bool]] = {
    "ack_rate": ("响应率", True), "reply_rate": ("按时办结率", True), "closure_rate": ("销号率", True),
    "satisfaction_rate": ("满意度", True), "overdue_rate": ("超期率", False), "task_rate": ("任务按时率", True)}
RED, YELLOW = "red", "yellow"


@dataclass(frozen=True)
class Entry:
    unit: str
    county: str | None  # the county's code (for a department, its county's)
    department_id: int | None
    received: int
    overdue: int
    rates: dict[str, float | None]
    score: float | None  # None: too few cases to rank
    standing: str = ""  # red | yellow | ""
    petitions: int = 0  # 上访 made in the month that the unit answers for (its cases', and its sites')


def period(month: str, today: date) -> tuple[date, date]:
    """"2026-11" as its first and last day; "" for the last complete month before today."""
    if not month:
        end = today.replace(day=1) - timedelta(days=1)
        return end.replace(day=1), end
    try:
        start = date.fromisoformat(f"{month}-01")
    except ValueError:
        raise TaskError("月份格式应为 年-月，如 2026-11") from None
    if start > today:
        raise TaskError("不能对尚未开始的月份排名")
    return start, (start.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def period_label(start: date) -> str:
    return f"{start.year}年{start.month}月"


def graded_satisfaction(tally: Tally, settings: RankingSettings) -> float | None:
    """The mean grade value of the workers' answers (0-1); None when no worker answered."""
    if not tally.answered:
        return None
    basic, unsatisfied = tally.satisfied - tally.fully_satisfied, tally.answered - tally.satisfied
    points = (settings.grade_satisfied * tally.fully_satisfied + settings.grade_basic * basic
              + settings.grade_unsatisfied * unsatisfied)
    return points / (100 * tally.answered)


def rates_of(tally: Tally, settings: RankingSettings, task_rate: float | None = None) -> dict[str, float | None]:
    return {"ack_rate": tally.ack_rate, "reply_rate": tally.reply_rate, "closure_rate": tally.closure_rate,
            "satisfaction_rate": graded_satisfaction(tally, settings),
            "overdue_rate": tally.overdue / tally.open if tally.open else None, "task_rate": task_rate}


def score(rates: dict[str, float | None], settings: RankingSettings) -> float | None:
    counted = [(weight, rates[key] if INDICATORS[key][1] else 1 - rates[key])
               for key, weight in settings.weights.items() if rates.get(key) is not None]
    total = sum(weight for weight, _ in counted)
    return round(100 * sum(weight * value for weight, value in counted) / total, 1) if total else None


def rank(units: list[tuple[str, str | None, int | None, Tally, float | None]],
         settings: RankingSettings) -> list[Entry]:
    """The units (name, county, department, figures, task rate) best first (the unranked after, by name), with
    their place on the red or yellow list."""
    entries = []
    for name, county, department_id, tally, task_rate in units:
        rates = rates_of(tally, settings, task_rate)
        value = score(rates, settings) if tally.received >= settings.min_cases else None
        entries.append(Entry(name, county, department_id, tally.received, tally.overdue, rates, value,
                             petitions=tally.petitions))
    entries.sort(key=lambda e: (e.score is None, -(e.score or 0), e.unit))
    ranked = [e for e in entries if e.score is not None]
    red = {id(e) for e in ranked[:settings.list_size] if e.score >= settings.red_min_score}
    yellow = {id(e) for e in ranked[::-1][:settings.list_size] if e.score < settings.yellow_below_score}
    return [Entry(**{**asdict(e), "standing": RED if id(e) in red else YELLOW if id(e) in yellow else ""})
            for e in entries]


def _allowed(scope: Scope, level: str) -> None:
    scope.require("tasks")
    if level not in LEVELS:
        raise TaskError("请选择排名对象：区县或部门")
    if level == "county" and scope.role is not Role.ADMIN:
        raise TaskError("区县排名由市治欠办发布")


def compute(session: Session, scope: Scope, level: str, start: date, end: date, now: datetime, timezone: str,
            settings: RankingSettings) -> list[Entry]:
    """The month's list for the user's scope, as it stands now."""
    _allowed(scope, level)
    found = figures(session, scope, Filters(start=start, end=end), now, timezone)
    tasks = task_rates(session, level, start, end, now, timezone)
    if level == "county":
        units = [(u.name, u.code, None, u.tally, tasks.get(u.code)) for u in found.counties if u.code]
    else:
        units = [(u.name, u.code, u.department_id, u.tally, tasks.get(u.department_id))
                 for u in found.departments if u.department_id]
    return rank(units, settings)


def task_rates(session: Session, level: str, start: date, end: date, now: datetime,
               timezone: str) -> dict[int | str, float]:
    """Per department (or county), the share of its tasks due in the month, and already due, answered on time."""
    unit = UnitTaskAssignment.department_id if level == "department" else UnitTaskAssignment.jurisdiction_code
    rows = session.execute(select(unit, UnitTaskAssignment.answered_at, UnitTask.due_at).join(UnitTask).where(
        unit.is_not(None), UnitTask.due_at >= day_bounds(start, timezone),
        UnitTask.due_at < day_bounds(end + timedelta(days=1), timezone), UnitTask.due_at <= now))
    counts: dict[int | str, list[int]] = {}
    for key, answered_at, due in rows:
        tally = counts.setdefault(key, [0, 0])
        tally[0] += deadline_state(due, answered_at, now) == "on_time"
        tally[1] += 1
    return {key: on_time / total for key, (on_time, total) in counts.items()}


def criticism(entry: Entry, start: date) -> str:
    """The 通报批评 of a unit on the yellow list, with its figures."""
    figures_text = "，".join(f"{label}{rate_text(entry.rates.get(key))}" for key, (label, _) in INDICATORS.items())
    return (f"【通报批评】{entry.unit}列入{period_label(start)}欠薪投诉办理黄榜：收到投诉{entry.received}件，"
            f"{figures_text}，超期未办{entry.overdue}件，上访{entry.petitions}次，综合得分{entry.score}。"
            "请于5个工作日内报送整改情况。")


def publish(session: Session, scope: Scope, level: str, start: date, end: date, now: datetime, timezone: str,
            settings: RankingSettings, supervisor_kind: str) -> RankingList:
    """Freeze the month's list as published and tell each unit on the yellow list (a county through its
    supervising department); once per month, level and publisher."""
    entries = compute(session, scope, level, start, end, now, timezone, settings)
    county = scope.jurisdiction_code if scope.role is Role.COUNTY else None
    if session.scalar(select(RankingList.id).where(RankingList.level == level, RankingList.period_start == start,
                                                   RankingList.jurisdiction_code.is_(None) if county is None
                                                   else RankingList.jurisdiction_code == county)):
        raise TaskError(f"{period_label(start)}的{LEVELS[level]}红黄榜已经发布")
    published = RankingList(level=level, period_start=start, period_end=end, jurisdiction_code=county,
                            entries=[asdict(e) for e in entries], published_by=scope.username, published_at=now)
    session.add(published)
    session.flush()
    for entry in (e for e in entries if e.standing == YELLOW):
        unit = (session.get(Department, entry.department_id) if entry.department_id
                else department(session, entry.county, supervisor_kind))
        if unit is not None:
            notify_department(session, unit, {"kind": "criticism", "ranking_id": published.id,
                                              "text": criticism(entry, start)}, None, now, flush=False)
    session.flush()
    return published


def entries_of(published: RankingList) -> list[Entry]:
    return [Entry(**e) for e in published.entries]


def _readable(scope: Scope):
    """Published lists are read by all: the city's by everyone, a county's by that county and the city."""
    if scope.role is Role.ADMIN:
        return true()
    return or_(RankingList.jurisdiction_code.is_(None), RankingList.jurisdiction_code == scope.jurisdiction_code)


def visible(session: Session, scope: Scope) -> list[RankingList]:
    return list(session.scalars(select(RankingList).where(_readable(scope))
                                .order_by(RankingList.period_start.desc(), RankingList.id.desc())))


def list_for(session: Session, scope: Scope, ranking_id: int) -> RankingList | None:
    return session.scalar(select(RankingList).where(RankingList.id == ranking_id, _readable(scope)))


def issuer(session: Session, published: RankingList, supervisor_kind: str) -> str:
    """The office that publishes: the city's leading-group office, or the county's supervising department."""
    if published.jurisdiction_code is None:
        return city_department(session, LEADING_GROUP_OFFICE).name
    found = department(session, published.jurisdiction_code, supervisor_kind)
    return found.name if found is not None else ""
