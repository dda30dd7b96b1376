"""School years, calendar months, the register's plausible dates and Lithuanian working days.

Every day, month and school year the register accepts lies between 1990 and 2100
(``FIRST_DAY`` to ``LAST_DAY``): the Student Register has no business before Lithuania's
restored independence, and a year like 0001 or 9999 is a typing mistake, not a record.
The contract (xsd/nvs-gateway-v1.xsd) says the same for requests; here it holds for every
other way in (files, command options).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

import holidays

from gateway.domain.errors import DateOutOfRange, InvalidSchoolYear

FIRST_YEAR, LAST_YEAR = 1990, 2100
FIRST_DAY, LAST_DAY = dt.date(FIRST_YEAR, 1, 1), dt.date(LAST_YEAR, 12, 31)

_SCHOOL_YEAR = re.compile(r"([0-9]{4})-([0-9]{4})")


def check_plausible(day: dt.date, *, field: str) -> dt.date:
    """``day`` if it lies between 1990-01-01 and 2100-12-31, else DateOutOfRange naming the field."""
    if not FIRST_DAY <= day <= LAST_DAY:
        raise DateOutOfRange(
            f"{field.rsplit('/', 1)[-1]} must lie between {FIRST_DAY.isoformat()} and {LAST_DAY.isoformat()}.",
            field=field,
        )
    return day


@dataclass(frozen=True, order=True)
class SchoolYear:
    """A school year, written ``2025-2026``; it runs from 09-01 to 08-31."""

    first_year: int

    @classmethod
    def parse(cls, text: str, *, field: str = "schoolYear") -> SchoolYear:
        match = _SCHOOL_YEAR.fullmatch(text or "")
        if not match or int(match[2]) != int(match[1]) + 1 or not FIRST_YEAR <= int(match[1]) < LAST_YEAR:
            raise InvalidSchoolYear(field=field)
        return cls(int(match[1]))

    @classmethod
    def containing(cls, day: dt.date) -> SchoolYear:
        return cls(day.year if day.month >= 9 else day.year - 1)

    @property
    def starts_on(self) -> dt.date:
        return dt.date(self.first_year, 9, 1)

    @property
    def ends_on(self) -> dt.date:
        return dt.date(self.first_year + 1, 8, 31)

    def contains(self, day: dt.date) -> bool:
        return self.starts_on <= day <= self.ends_on

    def __str__(self) -> str:
        return f"{self.first_year}-{self.first_year + 1}"


@lru_cache(maxsize=64)
def _lithuanian_holidays(year: int) -> frozenset[dt.date]:
    return frozenset(holidays.country_holidays("LT", years=year).keys())


def is_working_day(day: dt.date) -> bool:
    return day.weekday() < 5 and day not in _lithuanian_holidays(day.year)


# Lithuania's public holidays, as the holidays library knows them, begin with 1990.
_FIRST_HOLIDAY_YEAR = 1990


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when end <= start).

    Counted, not walked: the weekdays of the span less the public holidays falling on
    them, so a span of centuries costs no more than one of days."""
    if end <= start:
        return 0
    first = start + dt.timedelta(days=1)
    weeks, rest = divmod((end - first).days + 1, 7)
    weekdays = weeks * 5 + sum(1 for i in range(rest) if (first.weekday() + i) % 7 < 5)
    holidays_on_weekdays = sum(
        1
        for year in range(max(first.year, _FIRST_HOLIDAY_YEAR), end.year + 1)
        for day in _lithuanian_holidays(year)
        if first <= day <= end and day.weekday() < 5
    )
    return weekdays - holidays_on_weekdays


def end_of_month(day: dt.date) -> dt.date:
    next_month = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return next_month - dt.timedelta(days=1)


_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month, written ``2026-09``: funding is marked for whole months."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str, *, field: str = "month") -> Month:
        from gateway.domain.errors import InvalidMonth

        match = _MONTH.fullmatch(text or "")
        if not match or not FIRST_YEAR <= int(match[1]) <= LAST_YEAR:
            raise InvalidMonth(field=field)
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, day: dt.date) -> Month:
        return cls(day.year, day.month)

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return end_of_month(self.first_day)

    def next(self) -> Month:
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def through(self, last: Month) -> list[Month]:
        """This month and every month after it up to ``last``, inclusive."""
        months, month = [], self
        while month <= last:
            months.append(month)
            month = month.next()
        return months

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def describe_months(months: list[Month]) -> str:
    """``2026-11 to 2026-12``, ``2026-11, 2027-01``: consecutive runs joined."""
    runs: list[tuple[Month, Month]] = []
    for month in sorted(set(months)):
        if runs and runs[-1][1].next() == month:
            runs[-1] = (runs[-1][0], month)
        else:
            runs.append((month, month))
    return ", ".join(str(a) if a == b else f"{a} to {b}" for a, b in runs)
