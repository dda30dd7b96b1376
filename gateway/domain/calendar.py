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
