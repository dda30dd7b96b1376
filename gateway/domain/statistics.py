"""The REPORTS menu's statistics: counts of a period in the caller's scope, grouped by up to two dimensions.

What is counted is what the lists show (``gateway.domain.lists``), so a statistic and its list can
never disagree: the same rows, the same scope, counted instead of paged.

* learners: for a school year, the learners list (active registrations in its groups); for a month,
  the registrations (not cancelled) of that school year's groups learning on some day of the month
  (first learning date on or before its last day, no departure before its first day). The learners
  list shows who learns now; a month of the past needs who learnt then.
* arrivals and departures (by reason): the arrivals and departures lists over the period's dates.
* basket recipients: the basket-recipients list of each month of the period, summed (for a school
  year, child-months), and the amount those months cost at the rates in force (the basket
  calculation's rule: the provider's municipality's rate, with the priority and special-needs factors).
* club attendance: the club-attendance list of the period's school year; for a month, the marks in
  force on some day of it.

Dimensions are the provider's (for a club mark, the school's) municipality and code, the program's
NVŠ directions (a program of two directions counts in both: lines of this dimension may add up to
more than the total), the program's purpose, the child's age band on the period's first day and sex.
A value the register does not know (a birth date or sex missing, a club mark's program purpose) is
grouped under ``UNKNOWN``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

from gateway.domain.calendar import Month, SchoolYear
from gateway.domain.classifiers import Classifiers
from gateway.domain.errors import InvalidMessage, OnePeriodRequired
from gateway.domain.funding import BasketRate, is_priority_program, rate_in_force
from gateway.domain.model import Program

UNKNOWN = "unknown"
MAX_DIMENSIONS = 2


class Dimension(enum.StrEnum):
    MUNICIPALITY = "municipality"
    PROVIDER = "provider"
    DIRECTION = "direction"
    PURPOSE = "purpose"
    AGE_BAND = "ageBand"
    SEX = "sex"


@dataclass(frozen=True)
class AgeBand:
    code: str
    from_age: int
    to_age: int | None  # inclusive; None: and older


# Bands of the NVŠ age range: pre-school, primary, lower and upper secondary, adults.
AGE_BANDS = (
    AgeBand("0-6", 0, 6),
    AgeBand("7-10", 7, 10),
    AgeBand("11-14", 11, 14),
    AgeBand("15-18", 15, 18),
    AgeBand("19-plus", 19, None),
)


def years_before(day: dt.date, years: int) -> dt.date:
    """The same day ``years`` earlier (29 February becomes 28 February in a common year)."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def age_band_births(reference: dt.date) -> list[tuple[str, dt.date]]:
    """Each band with the earliest birth date in it on ``reference``, youngest band first: a child
    born on or after that date (and before the younger band's) is in the band. Storage turns this
    into a CASE over birth dates, so the band is computed in the database."""
    return [(band.code, years_before(reference, (band.to_age or 200) + 1) + dt.timedelta(days=1)) for band in AGE_BANDS]


@dataclass(frozen=True)
class Period:
    """A school year or a month: what the statistics are of."""

    school_year: SchoolYear
    month: Month | None = None

    @classmethod
    def of(cls, school_year: str | None, month: str | None) -> Period:
        if (school_year is None) == (month is None):
            raise OnePeriodRequired()
        if month is not None:
            parsed = Month.parse(month, field="month")
            return cls(SchoolYear.containing(parsed.first_day), parsed)
        assert school_year is not None
        return cls(SchoolYear.parse(school_year))

    @property
    def first_day(self) -> dt.date:
        return self.month.first_day if self.month else self.school_year.starts_on

    @property
    def last_day(self) -> dt.date:
        return self.month.last_day if self.month else self.school_year.ends_on

    @property
    def months(self) -> list[Month]:
        return [self.month] if self.month else Month.of(self.first_day).through(Month.of(self.last_day))

    def __str__(self) -> str:
        return str(self.month or self.school_year)


def dimensions_of(group_by: Iterable[str]) -> tuple[Dimension, ...]:
    dimensions = tuple(dict.fromkeys(Dimension(d) for d in group_by))
    if not 1 <= len(dimensions) <= MAX_DIMENSIONS:
        # The schema allows one or two groupBy elements: only a direct caller of the use case can send more.
        raise InvalidMessage("Statistics are grouped by one or two dimensions.", field="groupBy")
    return dimensions


# --- what storage counts, and what is made of it -----------------------------------
Key = tuple[str, ...]  # one code per dimension, in the order asked for


@dataclass(frozen=True)
class BasketCount:
    """Basket recipients of one month with the same key, provider municipality, program and SUP flag:
    the unit a rate applies to."""

    key: Key
    month: Month
    municipality_code: str
    program_code: str
    special_needs: bool
    children: int


@dataclass
class Counts:
    learners: int = 0
    arrivals: int = 0
    departures_by_reason: dict[str, int] = field(default_factory=dict)
    basket_recipients: int = 0
    basket_amount: Decimal = Decimal("0")
    club_attendance: int = 0

    @property
    def departures(self) -> int:
        return sum(self.departures_by_reason.values())


@dataclass(frozen=True)
class Measured:
    """Counts per key of each measure, as storage found them."""

    learners: Mapping[Key, int]
    arrivals: Mapping[Key, int]
    departures: Mapping[tuple[Key, str], int]  # (key, departure reason)
    basket: list[BasketCount]
    club_attendance: Mapping[Key, int]


@dataclass(frozen=True)
class Statistics:
    period: Period
    dimensions: tuple[Dimension, ...]
    lines: list[tuple[Key, Counts]]
    total: Counts


def basket_amount(
    count: BasketCount, *, rates: list[BasketRate], programs: Mapping[str, Program], classifiers: Classifiers
) -> Decimal:
    """What a count of basket months costs: ``gateway.domain.funding.calculate_basket``'s rule."""
    rate = rate_in_force(rates, count.municipality_code, count.month)
    factor = Decimal("1")
    if is_priority_program(programs[count.program_code], classifiers):
        factor *= rate.priority_factor
    if count.special_needs:
        factor *= rate.special_needs_factor
    return rate.monthly_amount * factor * count.children


def spread_directions(measured: Measured, positions: tuple[int, ...], programs: Mapping[str, Program]) -> Measured:
    """Storage keys registrations by their program where a direction is asked for (at ``positions``):
    each count goes to every direction of the program. Club marks carry their own directions."""
    if not positions:
        return measured

    def spread(counts: Mapping[Key, int]) -> dict[Key, int]:
        found: dict[Key, int] = defaultdict(int)
        for key, count in counts.items():
            for expanded in _expand(key, positions, programs):
                found[expanded] += count
        return dict(found)

    departures: dict[tuple[Key, str], int] = defaultdict(int)
    for (key, reason), count in measured.departures.items():
        for expanded in _expand(key, positions, programs):
            departures[(expanded, reason)] += count
    basket = [replace(b, key=expanded) for b in measured.basket for expanded in _expand(b.key, positions, programs)]
    return Measured(
        spread(measured.learners), spread(measured.arrivals), dict(departures), basket, measured.club_attendance
    )


def single_valued(dimensions: tuple[Dimension, ...]) -> bool:
    """Whether every row has exactly one key: then the lines add up to the total (a direction does not:
    a program or a club mark may have several)."""
    return Dimension.DIRECTION not in dimensions


def collapsed(measured: Measured) -> Measured:
    """The counts of every key added up under the key (): the total, where the lines add up to it."""
    learners: dict[Key, int] = defaultdict(int)
    arrivals: dict[Key, int] = defaultdict(int)
    departures: dict[tuple[Key, str], int] = defaultdict(int)
    clubs: dict[Key, int] = defaultdict(int)
    for counts, into in (
        (measured.learners, learners),
        (measured.arrivals, arrivals),
        (measured.club_attendance, clubs),
    ):
        for count in counts.values():
            into[()] += count
    for (_, reason), count in measured.departures.items():
        departures[((), reason)] += count
    basket = [replace(b, key=()) for b in measured.basket]
    return Measured(dict(learners), dict(arrivals), dict(departures), basket, dict(clubs))


def _expand(key: Key, positions: tuple[int, ...], programs: Mapping[str, Program]) -> list[Key]:
    keys = [key]
    for position in positions:
        program = programs.get(key[position])
        directions = list(program.direction_codes) if program and program.direction_codes else [UNKNOWN]
        keys = [k[:position] + (d,) + k[position + 1 :] for k in keys for d in directions]
    return keys


def assemble(
    period: Period,
    dimensions: tuple[Dimension, ...],
    grouped: Measured,
    totals: Measured,
    *,
    rates: list[BasketRate],
    programs: Mapping[str, Program],
    classifiers: Classifiers,
) -> Statistics:
    """Lines in key order, and the total (counted without grouping, so a child in a program of two
    directions is one learner in the total)."""
    lines: dict[Key, Counts] = defaultdict(Counts)
    _add(lines, grouped, rates=rates, programs=programs, classifiers=classifiers)
    total: dict[Key, Counts] = defaultdict(Counts)
    _add(total, totals, rates=rates, programs=programs, classifiers=classifiers)
    return Statistics(period, dimensions, sorted(lines.items()), total.get((), Counts()))


def _add(
    into: dict[Key, Counts],
    measured: Measured,
    *,
    rates: list[BasketRate],
    programs: Mapping[str, Program],
    classifiers: Classifiers,
) -> None:
    for key, count in measured.learners.items():
        into[key].learners += count
    for key, count in measured.arrivals.items():
        into[key].arrivals += count
    for (key, reason), count in measured.departures.items():
        by_reason = into[key].departures_by_reason
        by_reason[reason] = by_reason.get(reason, 0) + count
    for basket in measured.basket:
        counts = into[basket.key]
        counts.basket_recipients += basket.children
        counts.basket_amount += basket_amount(basket, rates=rates, programs=programs, classifiers=classifiers)
    for key, count in measured.club_attendance.items():
        into[key].club_attendance += count
    for counts in into.values():
        counts.basket_amount = counts.basket_amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
