"""The 清零 countdown: for each county, the open cases against each clear-by date (government and SOE projects
by `[targets] gov_soe_clear_by`, all others by `all_clear_by`), the open count day by day (the burndown), and a
forecast from the recent closing rate.

The forecast divides what is open by the cases closed per day over the last `[targets] forecast_days` days
(closed meaning 销号), so it says when the county clears at the present rate and how many days that is after
the target; with nothing closed in the window there is no forecast. Counts come from the daily tallies
(intake.supervision.tallies), so they agree with the dashboard's 两个清零 figures.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from intake.foundation.models import DailyTally, Jurisdiction
from intake.foundation.settings import TargetSettings
from intake.people.access import Scope
from intake.supervision.figures import GOV_SOE
from intake.supervision.tallies import CLOSED, RECEIVED

T = DailyTally
GOV_SOE_LABEL, OTHERS_LABEL = "政府投资和国有企业项目", "其他项目"


@dataclass(frozen=True)
class Forecast:
    rate: float  # cases closed per day over the window
    clear_on: date | None  # None: nothing closed lately, so no date can be given
    days_late: int | None  # days after the target (negative: before it)


@dataclass(frozen=True)
class Target:
    label: str
    due: date
    open: int
    forecast: Forecast
    burndown: list[tuple[date, int]]  # the open count at the end of each day of the window, oldest first


@dataclass(frozen=True)
class CountyCountdown:
    code: str
    name: str
    targets: list[Target]

    @property
    def open(self) -> int:
        return sum(t.open for t in self.targets)


def forecast(open_now: int, closed_per_day: list[int], today: date, due: date) -> Forecast:
    """When `open_now` cases are cleared if cases keep closing as in `closed_per_day` (one count a day)."""
    rate = sum(closed_per_day) / len(closed_per_day) if closed_per_day else 0.0
    if open_now == 0:
        return Forecast(rate, today, (today - due).days)
    if rate == 0:
        return Forecast(rate, None, None)
    clear_on = today + timedelta(days=math.ceil(open_now / rate))
    return Forecast(rate, clear_on, (clear_on - due).days)


def forecast_text(name: str, target: Target) -> str:
    """"兰山区：按目前进度，预计02-11清零，比目标晚6天" and its kin, for the digest and the page."""
    f = target.forecast
    if target.open == 0:
        return f"{name}{target.label}：已清零"
    if f.clear_on is None:
        return f"{name}{target.label}：尚有{target.open}件未销号，近期无销号，无法预计清零日期"
    if f.days_late > 0:
        when = f"比目标晚{f.days_late}天"
    elif f.days_late < 0:
        when = f"比目标早{-f.days_late}天"
    else:
        when = "与目标同日"
    return f"{name}{target.label}：尚有{target.open}件，按目前进度预计{f.clear_on:%m-%d}清零，{when}"


def _per_day(session: Session, scope: Scope, kind: str, column, since: date) -> dict[tuple, int]:
    gov_soe = T.investment.in_(GOV_SOE)
    rows = session.execute(
        select(T.county, gov_soe, T.day, func.sum(column))
        .where(T.kind == kind, T.day >= since, scope.units(T.department_id, T.county))
        .group_by(T.county, gov_soe, T.day)).all()
    return {(county, bool(is_gov), day): int(n) for county, is_gov, day, n in rows if n}


def countdown(session: Session, scope: Scope, targets: TargetSettings, today: date, days: int,
              county: str = "") -> list[CountyCountdown]:
    """Every county in scope with open cases or closings in the window (or just `county`), most open first."""
    gov_soe = T.investment.in_(GOV_SOE)
    conditions = [T.kind == RECEIVED, scope.units(T.department_id, T.county)]
    if county:
        conditions.append(T.county == county)
    open_now = {(c, bool(g)): int(n or 0) for c, g, n in session.execute(
        select(T.county, gov_soe, func.sum(T.received - T.closed)).where(*conditions).group_by(T.county, gov_soe))}
    since = today - timedelta(days=days - 1)
    window = [since + timedelta(days=i) for i in range(days)]
    received = _per_day(session, scope, RECEIVED, T.received, since)
    closed = _per_day(session, scope, CLOSED, T.closed, since)
    counties = {c for c, _ in open_now} | {c for c, _, _ in closed}
    counties = {c for c in counties if c and (not county or c == county)}
    names = dict(session.execute(select(Jurisdiction.code, Jurisdiction.name)
                                 .where(Jurisdiction.code.in_(counties))).all())
    found = []
    for code in counties:
        parts = []
        for label, due_text, is_gov in ((GOV_SOE_LABEL, targets.gov_soe_clear_by, True),
                                        (OTHERS_LABEL, targets.all_clear_by, False)):
            now_open = open_now.get((code, is_gov), 0)
            closings = [closed.get((code, is_gov, d), 0) for d in window]
            due = date.fromisoformat(due_text)
            parts.append(Target(label, due, now_open, forecast(now_open, closings, today, due),
                                _burndown(now_open, window, received, closed, code, is_gov)))
        found.append(CountyCountdown(code, names.get(code, code), parts))
    return sorted(found, key=lambda c: (-c.open, c.code))


def _burndown(now_open: int, window: list[date], received: dict, closed: dict, code: str,
              is_gov: bool) -> list[tuple[date, int]]:
    """The open count at the end of each day, walking back from today: a day's intake was not yet open the
    day before, its closings still were."""
    points, level = [], now_open
    for day in reversed(window):
        points.append((day, level))
        level += closed.get((code, is_gov, day), 0) - received.get((code, is_gov, day), 0)
    return list(reversed(points))
