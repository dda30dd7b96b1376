"""School years, Lithuanian working days and month ends (gateway.domain.calendar)."""

from __future__ import annotations

import datetime as dt
from datetime import date

import pytest

from gateway.domain.calendar import SchoolYear, end_of_month, is_working_day, working_days_between
from gateway.domain.errors import InvalidSchoolYear


# --- school years -----------------------------------------------------------------------
def test_parses_and_writes_a_school_year() -> None:
    year = SchoolYear.parse("2025-2026")
    assert year == SchoolYear(2025)
    assert str(year) == "2025-2026"
    assert SchoolYear.parse(str(SchoolYear(2031))) == SchoolYear(2031)


def test_a_school_year_runs_from_september_first_to_august_thirty_first() -> None:
    year = SchoolYear.parse("2025-2026")
    assert (year.starts_on, year.ends_on) == (date(2025, 9, 1), date(2026, 8, 31))


@pytest.mark.parametrize(
    "day, inside",
    [
        (date(2025, 8, 31), False),
        (date(2025, 9, 1), True),
        (date(2025, 12, 31), True),
        (date(2026, 1, 1), True),
        (date(2026, 8, 31), True),
        (date(2026, 9, 1), False),
    ],
)
def test_contains_its_days_from_september_first_to_august_thirty_first(day: date, inside: bool) -> None:
    assert SchoolYear(2025).contains(day) is inside


@pytest.mark.parametrize(
    "day, year",
    [
        (date(2026, 8, 31), SchoolYear(2025)),
        (date(2026, 9, 1), SchoolYear(2026)),
        (date(2026, 1, 1), SchoolYear(2025)),
        (date(2025, 12, 31), SchoolYear(2025)),
        (date(2028, 2, 29), SchoolYear(2027)),
    ],
)
def test_finds_the_school_year_containing_a_day(day: date, year: SchoolYear) -> None:
    assert SchoolYear.containing(day) == year
    assert year.contains(day)


def test_school_years_order_by_their_first_year() -> None:
    assert SchoolYear(2024) < SchoolYear(2025) < SchoolYear(2026)
    assert sorted([SchoolYear(2026), SchoolYear(2024)]) == [SchoolYear(2024), SchoolYear(2026)]


@pytest.mark.parametrize(
    "text",
    [
        "2025-2027",  # not consecutive
        "2025-2025",
        "2026-2025",  # backwards
        "2025/2026",
        "2025–2026",  # an en dash
        "2025 2026",
        "2025-26",
        "25-26",
        "2025",
        "2025-2026-2027",
        " 2025-2026",
        "mokslo metai",
        "",
        None,
    ],
)
def test_rejects_what_is_not_two_consecutive_years(text: str | None) -> None:
    with pytest.raises(InvalidSchoolYear) as raised:
        SchoolYear.parse(text)  # type: ignore[arg-type]  # None on purpose: what a SOAP request may carry
    assert raised.value.field == "schoolYear"


@pytest.mark.parametrize("text", ["2025-2026\n", "２０２５-２０２６"], ids=["trailing-newline", "full-width-digits"])
def test_rejects_a_school_year_with_a_trailing_newline_or_non_ascii_digits(text: str) -> None:
    with pytest.raises(InvalidSchoolYear):
        SchoolYear.parse(text)


# --- working days -------------------------------------------------------------------------
@pytest.mark.parametrize(
    "day",
    [date(2026, 10, 5), date(2026, 10, 9), date(2026, 2, 17), date(2026, 12, 23), date(2026, 12, 28)],
    ids=["monday", "friday", "day-after-feb-16", "day-before-christmas-eve", "monday-after-christmas"],
)
def test_ordinary_weekdays_are_working_days(day: date) -> None:
    assert is_working_day(day)


@pytest.mark.parametrize("day", [date(2026, 10, 3), date(2026, 10, 4)], ids=["saturday", "sunday"])
def test_weekends_are_not_working_days(day: date) -> None:
    assert not is_working_day(day)


@pytest.mark.parametrize(
    "day",
    [
        date(2026, 1, 1),  # New Year (Thursday)
        date(2026, 2, 16),  # Restoration of the State (Monday)
        date(2026, 3, 11),  # Restoration of Independence (Wednesday)
        date(2026, 4, 6),  # Easter Monday
        date(2026, 5, 1),  # Labour Day (Friday)
        date(2026, 6, 24),  # Joninės (Wednesday)
        date(2026, 7, 6),  # Statehood Day (Monday)
        date(2026, 11, 2),  # All Souls' Day (Monday)
        date(2026, 12, 24),  # Christmas Eve (Thursday)
        date(2026, 12, 25),  # Christmas (Friday)
    ],
)
def test_lithuanian_public_holidays_on_weekdays_are_not_working_days(day: date) -> None:
    assert day.weekday() < 5
    assert not is_working_day(day)


@pytest.mark.parametrize(
    "start, end, expected",
    [
        (date(2026, 10, 5), date(2026, 10, 5), 0),  # the same day
        (date(2026, 10, 6), date(2026, 10, 5), 0),  # end before start
        (date(2026, 10, 5), date(2026, 10, 6), 1),  # counts the end, not the start
        (date(2026, 10, 2), date(2026, 10, 5), 1),  # Friday to Monday: the weekend does not count
        (date(2026, 10, 3), date(2026, 10, 4), 0),  # Saturday to Sunday
        (date(2026, 10, 5), date(2026, 10, 12), 5),  # a whole ordinary week
        (date(2026, 2, 13), date(2026, 2, 18), 2),  # over the weekend and February 16
        (date(2026, 3, 9), date(2026, 3, 13), 3),  # over March 11
        (date(2026, 12, 23), date(2026, 12, 28), 1),  # over Christmas Eve, Christmas and a weekend
        (date(2026, 12, 31), date(2027, 1, 4), 1),  # over New Year, into the next year
        (date(2026, 9, 1), date(2026, 10, 1), 22),  # September 2026: 22 working days
    ],
)
def test_counts_working_days_after_the_start_up_to_and_including_the_end(start: date, end: date, expected: int) -> None:
    assert working_days_between(start, end) == expected


# --- month ends ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "day, last",
    [
        (date(2026, 10, 5), date(2026, 10, 31)),
        (date(2026, 10, 31), date(2026, 10, 31)),
        (date(2026, 1, 1), date(2026, 1, 31)),
        (date(2026, 4, 15), date(2026, 4, 30)),
        (date(2026, 11, 30), date(2026, 11, 30)),
        (date(2026, 12, 1), date(2026, 12, 31)),
        (date(2026, 12, 31), date(2026, 12, 31)),
        (date(2026, 2, 10), date(2026, 2, 28)),
        (date(2028, 2, 10), date(2028, 2, 29)),  # leap year
        (date(2000, 2, 1), date(2000, 2, 29)),  # divisible by 400: a leap year
        (date(2100, 2, 1), date(2100, 2, 28)),  # divisible by 100: not a leap year
    ],
)
def test_finds_the_last_day_of_the_month(day: date, last: date) -> None:
    assert end_of_month(day) == last


def test_every_month_end_of_a_year_is_the_day_before_the_next_month_starts() -> None:
    for month in range(1, 13):
        last = end_of_month(date(2027, month, 1))
        assert last.month == month
        assert (last + dt.timedelta(days=1)).day == 1
