"""School years, calendar months and Lithuanian working days."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import lru_cache

import holidays

from gateway.domain.errors import InvalidSchoolYear

_SCHOOL_YEAR = re.compile(r"([0-9]{4})-([0-9]{4})")


@dataclass(frozen=True, order=True)
class SchoolYear:
    """A school year, written ``2025-2026``; it runs from 09-01 to 08-31."""

    first_year: int

    @classmethod
    def parse(cls, text: str) -> "SchoolYear":
        match = _SCHOOL_YEAR.fullmatch(text or "")
        if not match or int(match[2]) != int(match[1]) + 1:
            raise InvalidSchoolYear(field="schoolYear")
        return cls(int(match[1]))

    @classmethod
    def containing(cls, day: dt.date) -> "SchoolYear":
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


def working_days_between(start: dt.date, end: dt.date) -> int:
    """Working days after ``start`` up to and including ``end`` (0 when end <= start)."""
    count = 0
    day = start
    while day < end:
        day += dt.timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count


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
    def parse(cls, text: str, *, field: str = "month") -> "Month":
        from gateway.domain.errors import InvalidMonth

        match = _MONTH.fullmatch(text or "")
        if not match:
            raise InvalidMonth(field=field)
        return cls(int(match[1]), int(match[2]))

    @classmethod
    def of(cls, day: dt.date) -> "Month":
        return cls(day.year, day.month)

    @property
    def first_day(self) -> dt.date:
        return dt.date(self.year, self.month, 1)

    @property
    def last_day(self) -> dt.date:
        return end_of_month(self.first_day)

    def next(self) -> "Month":
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> "Month":
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def through(self, last: "Month") -> list["Month"]:
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
