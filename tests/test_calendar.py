"""Golden cases for working-day and working-time arithmetic (intake/calendar.py)."""

import logging
import tomllib
from datetime import date, datetime, timedelta, timezone

import chinese_calendar
import pytest

from intake.foundation.calendar import WorkingCalendar, statutory_holidays

CAL = WorkingCalendar.from_config({})
CST = CAL.timezone


def at(y, mo, d, h=0, mi=0, s=0):
    return datetime(y, mo, d, h, mi, s, tzinfo=CST)


def days(start, end):
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


# --- configuration ---------------------------------------------------------------------------------------


def test_defaults():
    assert CST.key == "Asia/Shanghai"
    assert [(f"{s:%H:%M}", f"{e:%H:%M}") for s, e in CAL.periods] == [("08:30", "12:00"), ("13:30", "17:30")]
    assert CAL.holidays == CAL.workdays == frozenset()


def test_from_toml_table():
    section = tomllib.loads(
        """
        timezone = "Asia/Urumqi"
        working_hours = ["14:00-18:00", "09:00-12:00"]
        holidays = [2027-02-09, "2027-02-10"]
        workdays = ["2027-02-14"]
        """
    )
    cal = WorkingCalendar.from_config(section)
    assert cal.timezone.key == "Asia/Urumqi"
    assert [s.hour for s, _ in cal.periods] == [9, 14]  # sorted
    assert cal.holidays == {date(2027, 2, 9), date(2027, 2, 10)}
    assert cal.workdays == {date(2027, 2, 14)}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"working_hours": ["12:00-08:30"]}, r"working_hours: 12:00-08:30 must end after it starts"),
        ({"working_hours": ["08:30-08:30"]}, r"must end after it starts"),
        ({"working_hours": ["8.30-12"]}, r"working_hours\[0\]: expected 'HH:MM-HH:MM', got '8.30-12'"),
        ({"working_hours": ["08:30-12:00", "25:00-26:00"]}, r"working_hours\[1\]: '25:00-26:00' is not a"),
        ({"working_hours": ["08:30-12:00", "11:00-14:00"]}, r"08:30-12:00 overlaps 11:00-14:00"),
        ({"working_hours": []}, r"at least one period"),
        ({"working_hours": "08:30-12:00"}, r"working_hours: expected a list"),
        ({"holidays": ["2027-02-30"]}, r"holidays\[0\]: expected a date like 2027-02-05, got '2027-02-30'"),
        ({"workdays": ["2027-02-14", "next sunday"]}, r"workdays\[1\]: expected a date"),
        ({"holidays": [datetime(2027, 2, 9)]}, r"holidays\[0\]: expected a date"),
        (
            {"holidays": ["2027-02-09", "2027-02-14"], "workdays": ["2027-02-14"]},
            r"dates listed in both holidays and workdays: 2027-02-14$",
        ),
        ({"timezone": "Asia/Linyi"}, r"timezone: unknown time zone 'Asia/Linyi'"),
        ({"holiday": ["2027-02-09"]}, r"unknown calendar keys: holiday"),
    ],
)
def test_invalid_config(section, message):
    with pytest.raises(ValueError, match=message):
        WorkingCalendar.from_config(section)


def test_adjacent_periods_are_allowed():
    cal = WorkingCalendar.from_config({"working_hours": ["08:00-12:00", "12:00-13:00"]})
    assert cal.add_working_time(at(2025, 3, 3, 11, 0), 90) == at(2025, 3, 3, 12, 30)


# --- working days (library years) ------------------------------------------------------------------------


def test_library_is_the_source_of_truth():
    for d in days(date(2024, 1, 1), date(2026, 12, 31)):
        assert CAL.is_working_day(d) == chinese_calendar.is_workday(d), d


def test_spring_festival_2024():
    assert all(not CAL.is_working_day(d) for d in days(date(2024, 2, 10), date(2024, 2, 17)))
    assert CAL.is_working_day(date(2024, 2, 4))  # make-up Sunday
    assert CAL.is_working_day(date(2024, 2, 18))  # make-up Sunday
    assert CAL.add_working_days(date(2024, 2, 8), 1) == date(2024, 2, 9)
    assert CAL.add_working_days(date(2024, 2, 9), 1) == date(2024, 2, 18)
    # Received Fri Feb 2: Sun 4 (make-up), Mon 5, Tue 6, Wed 7, Thu 8.
    assert CAL.add_working_days(date(2024, 2, 2), 5) == date(2024, 2, 8)


def test_national_day_2025():
    assert all(not CAL.is_working_day(d) for d in days(date(2025, 10, 1), date(2025, 10, 8)))
    assert CAL.add_working_days(date(2025, 9, 26), 1) == date(2025, 9, 28)  # make-up Sunday
    assert CAL.add_working_days(date(2025, 9, 30), 1) == date(2025, 10, 9)
    assert CAL.add_working_days(date(2025, 10, 9), 2) == date(2025, 10, 11)  # make-up Saturday
    # Received Thu Sep 25: Fri 26, Sun 28 (make-up), Mon 29, Tue 30, then Thu Oct 9.
    assert CAL.add_working_days(date(2025, 9, 25), 5) == date(2025, 10, 9)


def test_add_working_days_zero_and_negative():
    assert CAL.add_working_days(date(2024, 2, 10), 0) == date(2024, 2, 10)  # even on a holiday
    assert CAL.add_working_days(date(2024, 2, 10), 1) == date(2024, 2, 18)  # start on a day off
    assert CAL.add_working_days(date(2024, 2, 18), -1) == date(2024, 2, 9)
    assert CAL.add_working_days(date(2025, 10, 9), -2) == date(2025, 9, 29)


def test_is_working_day_rejects_datetime():
    with pytest.raises(TypeError):
        CAL.is_working_day(at(2025, 3, 3, 9))


# --- working time ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        (at(2025, 3, 3, 9, 0), 30, at(2025, 3, 3, 9, 30)),
        (at(2025, 3, 3, 11, 30), 60, at(2025, 3, 3, 14, 0)),  # across lunch
        (at(2025, 3, 3, 8, 30), 210, at(2025, 3, 3, 12, 0)),  # uses up the morning: 12:00, not 13:30
        (at(2025, 3, 3, 12, 15), 30, at(2025, 3, 3, 14, 0)),  # starts during lunch
        (at(2025, 3, 3, 6, 0), 30, at(2025, 3, 3, 9, 0)),  # starts before work
        (at(2025, 3, 3, 17, 0), 60, at(2025, 3, 4, 9, 0)),  # across the evening
        (at(2025, 3, 3, 8, 30, 45), 1, at(2025, 3, 3, 8, 31, 45)),  # seconds are kept
        (at(2025, 3, 7, 17, 0), 60, at(2025, 3, 10, 9, 0)),  # across a weekend
        (at(2025, 3, 8, 10, 0), 30, at(2025, 3, 10, 9, 0)),  # starts on a Saturday
        (at(2025, 9, 26, 17, 0), 60, at(2025, 9, 28, 9, 0)),  # lands on the make-up Sunday
        (at(2024, 2, 9, 17, 0), 60, at(2024, 2, 18, 9, 0)),  # across the Spring Festival
        (at(2025, 3, 3, 8, 30), 450 * 5, at(2025, 3, 7, 17, 30)),  # a working week
        (at(2025, 3, 3, 20, 0), 0, at(2025, 3, 3, 20, 0)),  # zero: unchanged, even off hours
        (at(2025, 3, 10, 9, 0), -60, at(2025, 3, 7, 17, 0)),  # backwards across a weekend
        (at(2025, 3, 3, 14, 0), -30, at(2025, 3, 3, 13, 30)),  # backwards uses up a period: its start
        (at(2025, 3, 3, 13, 0), -30, at(2025, 3, 3, 11, 30)),
    ],
)
def test_add_working_time(start, minutes, expected):
    result = CAL.add_working_time(start, minutes)
    assert result == expected
    assert result.tzinfo is CST


def test_add_working_time_converts_zones():
    start = datetime(2025, 3, 3, 3, 30, tzinfo=timezone.utc)  # 11:30 in Shanghai
    result = CAL.add_working_time(start, 60)
    assert result == at(2025, 3, 3, 14, 0)
    assert result.tzinfo is CST
    assert CAL.add_working_time(start, 0).tzinfo is CST


def test_naive_datetimes_are_rejected():
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.add_working_time(datetime(2025, 3, 3, 9), 30)
    with pytest.raises(ValueError, match="timezone-aware"):
        CAL.working_minutes_between(datetime(2025, 3, 3, 9), at(2025, 3, 3, 10))


def test_working_minutes_between():
    assert CAL.working_minutes_between(at(2025, 3, 3, 8, 30), at(2025, 3, 3, 17, 30)) == 450
    assert CAL.working_minutes_between(at(2025, 3, 3, 17, 30), at(2025, 3, 3, 8, 30)) == -450
    assert CAL.working_minutes_between(at(2025, 3, 3, 0, 0), at(2025, 3, 10, 0, 0)) == 5 * 450
    assert CAL.working_minutes_between(at(2025, 3, 3, 12, 5), at(2025, 3, 3, 13, 25)) == 0  # lunch
    assert CAL.working_minutes_between(at(2025, 3, 8, 9, 0), at(2025, 3, 9, 17, 0)) == 0  # weekend
    assert CAL.working_minutes_between(at(2025, 9, 27, 9, 0), at(2025, 9, 28, 17, 0)) == 420  # make-up Sunday
    assert CAL.working_minutes_between(at(2024, 2, 9, 17, 0), at(2024, 2, 18, 9, 0)) == 60
    # Whole minutes, truncated toward zero.
    assert CAL.working_minutes_between(at(2025, 3, 3, 9, 0), at(2025, 3, 3, 9, 1, 59)) == 1
    assert CAL.working_minutes_between(at(2025, 3, 3, 9, 1, 59), at(2025, 3, 3, 9, 0)) == -1
    utc = datetime(2025, 3, 3, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai
    assert CAL.working_minutes_between(utc, at(2025, 3, 3, 10, 0)) == 60


def test_working_minutes_between_inverts_add_working_time():
    # Starts every 37 min 13 s over three weeks around the 2024 Spring Festival hit every phase of the day.
    starts = [at(2024, 2, 1) + timedelta(minutes=37, seconds=13) * i for i in range(850)]
    starts += [at(2024, 2, 5, 8, 30), at(2024, 2, 5, 12, 0), at(2024, 2, 5, 13, 30), at(2024, 2, 18, 17, 30)]
    for start in starts:
        for minutes in (0, 1, 29, 209, 210, 211, 449, 450, 451, 2000, 9000, -1, -210, -451, -9000):
            end = CAL.add_working_time(start, minutes)
            assert CAL.working_minutes_between(start, end) == minutes, (start, minutes)
            assert (end >= start) == (minutes >= 0), (start, minutes)


# --- past the library's horizon ------------------------------------------------------------------------


def test_horizon():
    assert not CAL.beyond_horizon(date(2026, 12, 31))
    assert CAL.beyond_horizon(date(2027, 1, 1))
    assert CAL.beyond_horizon(date(2003, 12, 31))
    assert WorkingCalendar.horizon_years(date(2026, 12, 28), date(2028, 1, 10)) == [2027, 2028]
    assert WorkingCalendar.horizon_years(date(2025, 1, 1), date(2026, 12, 31)) == []
    assert WorkingCalendar.horizon_years(date(2028, 1, 1), date(2027, 1, 1)) == []


def test_fallback_2027():
    off = [
        date(2027, 1, 1),
        *days(date(2027, 2, 5), date(2027, 2, 8)),  # 除夕 Feb 5 + three days
        date(2027, 4, 5),  # 清明
        date(2027, 5, 1),
        date(2027, 5, 2),
        date(2027, 6, 9),  # 端午
        date(2027, 9, 15),  # 中秋
        *days(date(2027, 10, 1), date(2027, 10, 3)),
        date(2027, 2, 13),  # Saturday
    ]
    assert [d for d in off if CAL.is_working_day(d)] == []
    assert CAL.is_working_day(date(2027, 2, 4))  # Thursday before 除夕
    assert CAL.is_working_day(date(2027, 4, 6))
    assert CAL.is_working_day(date(2027, 2, 14)) is False  # make-up days are unknown: Sunday stays off


def test_clock_crossing_into_2027():
    # Mon Dec 28 2026: Tue 29, Wed 30, Thu 31, (Jan 1 holiday, weekend), Mon Jan 4, Tue Jan 5.
    assert CAL.add_working_days(date(2026, 12, 28), 5) == date(2027, 1, 5)
    assert CAL.add_working_time(at(2026, 12, 31, 17, 0), 60) == at(2027, 1, 4, 9, 0)
    assert CAL.working_minutes_between(at(2026, 12, 31, 17, 0), at(2027, 1, 4, 9, 0)) == 60


@pytest.mark.parametrize("year", [1, 1900, 2003, 2030, 2099, 2100, 9998])
def test_any_year_works(year):
    new_year_eve = date(year, 12, 31)
    assert CAL.add_working_days(new_year_eve, 3) > new_year_eve
    assert not CAL.is_working_day(date(year, 1, 1))
    assert len(statutory_holidays(year)) >= 12  # 中秋 may fall on 国庆


def test_fallback_warns_once_per_year(caplog):
    with caplog.at_level(logging.WARNING, logger="intake.foundation.calendar"):
        CAL.is_working_day(date(2345, 3, 1))
        CAL.add_working_days(date(2345, 3, 1), 30)
    warnings = [r for r in caplog.records if "2345" in r.getMessage()]
    assert len(warnings) == 1
    assert "make-up" in warnings[0].getMessage()


@pytest.mark.parametrize("year", [2025, 2026])
def test_fallback_agrees_with_library(year):
    # The 2024 revision applies from 2025: every statutory day must be off in the State Council's notice too
    # (the notice adds bridged days, never removes a statutory one). This also checks the lunar and 清明 dates.
    statutory = statutory_holidays(year)
    assert len(statutory) == 13
    assert sorted(d for d in statutory if chinese_calendar.is_workday(d)) == []
    on_weekdays = {d for d in statutory if d.weekday() < 5}
    year_days = days(date(year, 1, 1), date(year, 12, 31))
    library_holidays = {d for d in year_days if chinese_calendar.is_holiday(d)}
    assert on_weekdays <= library_holidays


def test_new_year_eve_respects_short_twelfth_month():
    # Lunar 12th month of 2024 had 29 days: 除夕 2025 was Jan 28 (lunar 12/29), not a nonexistent 12/30.
    assert date(2025, 1, 28) in statutory_holidays(2025)
    assert date(2025, 1, 27) not in statutory_holidays(2025)
    assert date(2027, 2, 5) in statutory_holidays(2027)


# --- configuration wins ----------------------------------------------------------------------------------


def test_configured_days_win():
    cal = WorkingCalendar.from_config(
        {"holidays": ["2025-03-03", "2027-02-09"], "workdays": ["2025-10-01", "2027-02-14", "2027-02-06"]}
    )
    assert not cal.is_working_day(date(2025, 3, 3))  # library workday
    assert cal.is_working_day(date(2025, 10, 1))  # library holiday
    assert not cal.is_working_day(date(2027, 2, 9))  # past the horizon
    assert cal.is_working_day(date(2027, 2, 14))  # make-up Sunday past the horizon
    assert cal.is_working_day(date(2027, 2, 6))  # even a statutory day
    assert cal.add_working_days(date(2027, 2, 4), 1) == date(2027, 2, 6)
    assert cal.add_working_days(date(2027, 2, 6), 1) == date(2027, 2, 10)
    assert cal.add_working_days(date(2027, 2, 10), 3) == date(2027, 2, 14)
