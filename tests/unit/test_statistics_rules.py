"""The statistics' rules of gateway.domain.statistics: periods, age bands, directions of programs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from gateway.domain.calendar import Month, SchoolYear
from gateway.domain.errors import InvalidMessage, OnePeriodRequired
from gateway.domain.funding import BasketRate
from gateway.domain.model import Program, ProgramPurpose
from gateway.domain.statistics import (
    BasketCount,
    Dimension,
    Measured,
    Period,
    age_band_births,
    assemble,
    dimensions_of,
    spread_directions,
)
from tests.fakes import CLASSIFIERS


def test_a_period_is_a_school_year_or_a_month_never_both_or_neither() -> None:
    assert Period.of("2026-2027", None) == Period(SchoolYear(2026))
    october = Period.of(None, "2027-02")
    assert (october.school_year, october.months, october.first_day, october.last_day) == (
        SchoolYear(2026),
        [Month(2027, 2)],
        dt.date(2027, 2, 1),
        dt.date(2027, 2, 28),
    )
    assert len(Period.of("2026-2027", None).months) == 12
    for school_year, month in ((None, None), ("2026-2027", "2026-10")):
        with pytest.raises(OnePeriodRequired):
            Period.of(school_year, month)


def test_dimensions_are_one_or_two_each_once() -> None:
    assert dimensions_of(["sex", "sex"]) == (Dimension.SEX,)
    with pytest.raises(InvalidMessage):
        dimensions_of([])
    with pytest.raises(InvalidMessage):
        dimensions_of(["sex", "ageBand", "provider"])
    with pytest.raises(ValueError):
        dimensions_of(["colour"])


def band_on(reference: dt.date, born: dt.date) -> str:
    """The band the storage's CASE would give: the first whose earliest birth date the child is born on or after."""
    *younger, (oldest, _) = age_band_births(reference)
    return next((code for code, earliest in younger if born >= earliest), oldest)


@pytest.mark.parametrize(
    ("born", "band"),
    [
        (dt.date(2020, 9, 2), "0-6"),  # 5 on the reference day
        (dt.date(2019, 9, 2), "0-6"),  # 6, turning 7 tomorrow
        (dt.date(2019, 9, 1), "7-10"),  # 7 that very day
        (dt.date(2015, 9, 2), "7-10"),
        (dt.date(2015, 9, 1), "11-14"),
        (dt.date(2007, 9, 1), "19-plus"),
        (dt.date(2007, 9, 2), "15-18"),  # 18, 19 tomorrow
    ],
)
def test_age_bands_count_birthdays_to_the_day(born: dt.date, band: str) -> None:
    assert band_on(dt.date(2026, 9, 1), born) == band


def test_a_leap_day_reference_has_bands_too() -> None:
    assert band_on(dt.date(2028, 2, 29), dt.date(2021, 2, 28)) == "7-10"


def program(code: str, *directions: str) -> Program:
    return Program(code, "P", "300000011", ProgramPurpose.NVS, directions, dt.date(2020, 1, 1), dt.date(2020, 1, 1))


def test_a_program_of_two_directions_counts_in_both_lines_but_once_in_the_total() -> None:
    programs = {"100000112": program("100000112", "MUSIC", "ART")}
    month = Month(2026, 10)
    grouped = Measured(
        learners={("100000112",): 3},
        arrivals={},
        departures={(("100000112",), "PARENTS_REQUEST"): 1},
        basket=[BasketCount(("100000112",), month, "34", "100000112", False, 2)],
        club_attendance={("SPORT",): 1},
    )
    totals = Measured(
        {(): 3}, {}, {((), "PARENTS_REQUEST"): 1}, [BasketCount((), month, "34", "100000112", False, 2)], {(): 1}
    )
    rates = [BasketRate(None, Month(2020, 1), Decimal("20.00"))]
    statistics = assemble(
        Period(SchoolYear(2026)),
        (Dimension.DIRECTION,),
        spread_directions(grouped, (0,), programs),
        totals,
        rates=rates,
        programs=programs,
        classifiers=CLASSIFIERS,
    )
    lines = {
        key: (c.learners, c.departures, c.basket_recipients, c.basket_amount, c.club_attendance)
        for key, c in statistics.lines
    }
    assert lines == {
        ("ART",): (3, 1, 2, Decimal("40.00"), 0),
        ("MUSIC",): (3, 1, 2, Decimal("40.00"), 0),
        ("SPORT",): (0, 0, 0, Decimal("0.00"), 1),
    }
    total = statistics.total
    assert (total.learners, total.departures, total.basket_recipients, total.basket_amount) == (
        3,
        1,
        2,
        Decimal("40.00"),
    )
