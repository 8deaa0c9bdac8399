"""Working-day and working-time arithmetic for complaint deadlines.

Legal clocks count working days per the State Council's yearly holiday notice, including 调休 make-up
working weekends. chinesecalendar carries those notices for the years it covers; past its horizon we fall
back to weekends plus the statutory holidays of 全国年节及纪念日放假办法 (2024 revision), whose lunar and
solar-term dates lunar-python computes for any year. Configured holidays and workdays always win, so an
operator can enter a new notice before the library catches up.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import chinese_calendar
from lunar_python import Lunar, Solar

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Asia/Shanghai"
DEFAULT_WORKING_HOURS = ("08:30-12:00", "13:30-17:30")

_PERIOD_RE = re.compile(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*")
_CONFIG_KEYS = {"timezone", "working_hours", "holidays", "workdays"}


@functools.lru_cache(maxsize=None)
def _library_covers(year: int) -> bool:
    try:
        chinese_calendar.is_workday(date(year, 1, 1))
    except NotImplementedError:
        return False
    return True


def _solar_date(solar: Solar) -> date:
    return date(solar.getYear(), solar.getMonth(), solar.getDay())


@functools.lru_cache(maxsize=None)
def statutory_holidays(year: int) -> frozenset[date]:
    """Statutory days off of `year` under the 2024 revision of 全国年节及纪念日放假办法 (no 调休, no 补假)."""
    # 除夕 is the day before lunar 1/1: this way lunar month 12 having 29 or 30 days does not matter.
    new_year = _solar_date(Lunar.fromYmd(year, 1, 1).getSolar())
    # The lunar year that contains June holds the 清明 of this solar year in its solar-term table.
    qingming = _solar_date(Solar.fromYmd(year, 6, 1).getLunar().getJieQiTable()["清明"])
    return frozenset(
        {
            date(year, 1, 1),
            *(new_year + timedelta(days=offset) for offset in range(-1, 3)),
            qingming,
            date(year, 5, 1),
            date(year, 5, 2),
            _solar_date(Lunar.fromYmd(year, 5, 5).getSolar()),
            _solar_date(Lunar.fromYmd(year, 8, 15).getSolar()),
            date(year, 10, 1),
            date(year, 10, 2),
            date(year, 10, 3),
        }
    )


@functools.lru_cache(maxsize=None)
def _days_off(year: int) -> frozenset[date]:
    """Non-working days of `year` before configuration; cached because a worker checks many deadlines."""
    first = date(year, 1, 1)
    days = (first + timedelta(days=i) for i in range((date(year, 12, 31) - first).days + 1))
    if _library_covers(year):
        return frozenset(d for d in days if not chinese_calendar.is_workday(d))
    # The cache makes this warning fire once per year.
    log.warning(
        "chinesecalendar has no holiday notice for %d: using weekends and statutory holidays; "
        "make-up working days (调休) are unknown unless listed in the calendar's workdays",
        year,
    )
    return frozenset(d for d in days if d.weekday() >= 5) | statutory_holidays(year)


def _parse_period(text: Any, where: str) -> tuple[time, time]:
    match = _PERIOD_RE.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{where}: expected 'HH:MM-HH:MM', got {text!r}")
    h1, m1, h2, m2 = map(int, match.groups())
    try:
        start, end = time(h1, m1), time(h2, m2)
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a valid time of day") from None
    return start, end


def _parse_date(value: Any, where: str) -> date:
    # tomllib yields datetime.date for bare TOML dates; strings are accepted too. A datetime is not a day.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{where}: expected a date like 2027-02-05, got {value!r}")


def _list(section: Mapping[str, Any], key: str, default: Any) -> list[Any]:
    value = section.get(key, default)
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{key}: expected a list, got {value!r}")
    return list(value)


@dataclass(frozen=True)
class WorkingCalendar:
    """Working days and hours of one deployment. Build it with `from_config`."""

    timezone: ZoneInfo
    # Sorted, non-overlapping wall-clock periods of a working day.
    periods: tuple[tuple[time, time], ...]
    holidays: frozenset[date]
    workdays: frozenset[date]

    def __post_init__(self) -> None:
        # Checked here, not in from_config, so that no instance can loop forever or contradict itself.
        if not self.periods:
            raise ValueError("working_hours: at least one period is required")
        for start, end in self.periods:
            if end <= start:
                raise ValueError(f"working_hours: {_fmt(start, end)} must end after it starts")
        for (s1, e1), (s2, e2) in zip(self.periods, self.periods[1:]):
            if s2 < e1:
                raise ValueError(f"working_hours: {_fmt(s1, e1)} overlaps {_fmt(s2, e2)}")
        both = sorted(self.holidays & self.workdays)
        if both:
            raise ValueError(
                "dates listed in both holidays and workdays: " + ", ".join(d.isoformat() for d in both)
            )

    @classmethod
    def from_config(cls, section: Mapping[str, Any]) -> WorkingCalendar:
        """Build from a TOML table; unknown keys are rejected so a typo cannot silently drop holidays."""
        unknown = sorted(set(section) - _CONFIG_KEYS)
        if unknown:
            raise ValueError(f"unknown calendar keys: {', '.join(unknown)}")
        name = section.get("timezone", DEFAULT_TIMEZONE)
        try:
            tz = ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValueError(f"timezone: unknown time zone {name!r}") from None
        periods = sorted(
            _parse_period(text, f"working_hours[{i}]")
            for i, text in enumerate(_list(section, "working_hours", DEFAULT_WORKING_HOURS))
        )
        holidays, workdays = (
            frozenset(_parse_date(v, f"{key}[{i}]") for i, v in enumerate(_list(section, key, ())))
            for key in ("holidays", "workdays")
        )
        return cls(timezone=tz, periods=tuple(periods), holidays=holidays, workdays=workdays)

    @staticmethod
    def beyond_horizon(d: date) -> bool:
        """True when chinesecalendar has no holiday notice for d's year, so d's status is estimated."""
        return not _library_covers(d.year)

    @staticmethod
    def horizon_years(start: date, end: date) -> list[int]:
        """Years from start to end (inclusive) whose working days are estimated; empty when end < start."""
        return [y for y in range(start.year, end.year + 1) if not _library_covers(y)]

    def is_working_day(self, d: date) -> bool:
        if isinstance(d, datetime):
            # Which day an instant falls on depends on the time zone; make the caller say.
            raise TypeError("is_working_day takes a date, not a datetime")
        if d in self.workdays:
            return True
        return d not in self.holidays and d not in _days_off(d.year)

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after start (start is not counted); n < 0 counts backwards, n = 0 is start."""
        step = timedelta(days=1 if n > 0 else -1)
        day = start
        for _ in range(abs(n)):
            day += step
            while not self.is_working_day(day):
                day += step
        return day

    def add_working_time(self, start: datetime, minutes: int) -> datetime:
        """The instant `minutes` working minutes after start (before it if negative), in the calendar's zone.

        A start outside working time counts from the next period (previous one when negative). A result that
        uses up a period exactly is that period's end (its start when negative), e.g. 12:00 rather than 13:30.
        """
        local = self._local(start)
        if minutes == 0:
            return local.replace(tzinfo=self.timezone)
        forward = minutes > 0
        remaining = timedelta(minutes=abs(minutes))
        spans = self._spans(local, forward)
        while True:
            begin, end = next(spans)
            if remaining <= end - begin:
                return (begin + remaining if forward else end - remaining).replace(tzinfo=self.timezone)
            remaining -= end - begin

    def working_minutes_between(self, a: datetime, b: datetime) -> int:
        """Whole working minutes from a to b, negative when b < a (truncated toward zero)."""
        start, stop = self._local(a), self._local(b)
        if b < a:
            return -self.working_minutes_between(b, a)
        total = timedelta()
        for begin, end in self._spans(start, forward=True):
            if begin >= stop:
                break
            total += min(end, stop) - begin
        return total // timedelta(minutes=1)

    def _local(self, moment: datetime) -> datetime:
        """Naive wall-clock time in the calendar's zone; working periods are wall-clock times."""
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"timezone-aware datetime required, got naive {moment.isoformat()}")
        return moment.astimezone(self.timezone).replace(tzinfo=None)

    def _spans(self, moment: datetime, forward: bool) -> Iterator[tuple[datetime, datetime]]:
        """Working intervals after (or before) a naive local moment, clipped at it, one day at a time."""
        day = moment.date()
        step = timedelta(days=1 if forward else -1)
        while True:
            if self.is_working_day(day):
                spans = [(datetime.combine(day, s), datetime.combine(day, e)) for s, e in self.periods]
                for begin, end in spans if forward else reversed(spans):
                    if forward and end > moment:
                        yield max(begin, moment), end
                    elif not forward and begin < moment:
                        yield begin, min(end, moment)
            day += step


def _fmt(start: time, end: time) -> str:
    return f"{start:%H:%M}-{end:%H:%M}"


def add_years(moment: date, years: int) -> date:
    """The same day `years` later (earlier when negative), 28 February for a 29th; a datetime stays one."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year + years, day=28)
