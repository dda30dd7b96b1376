"""The register's plausible range (1990 to 2100), learners born from 1900, and free text as people read it."""

from __future__ import annotations

import datetime as dt

import pytest
from stdnum.ee.ik import calc_check_digit

from gateway.domain.calendar import Month, SchoolYear, check_plausible, is_working_day, working_days_between
from gateway.domain.errors import (
    BlankText,
    DateOutOfRange,
    InvalidGroupName,
    InvalidMonth,
    InvalidSchoolYear,
    PersonNotALearner,
)
from gateway.domain.model import Contract, check_may_be_learner, group_name
from gateway.domain.personal_code import PersonalCode
from gateway.domain.text import comparison_key, normalise


@pytest.mark.parametrize("text", ["0000-01", "0000-02", "1989-12", "2101-01", "9999-12"])
def test_a_month_outside_1990_to_2100_is_refused_naming_the_field(text: str) -> None:
    with pytest.raises(InvalidMonth) as refused:
        Month.parse(text, field="fromMonth")
    assert refused.value.field == "fromMonth"


def test_the_first_and_last_months_of_the_range_are_months() -> None:
    assert Month.parse("1990-01").first_day == dt.date(1990, 1, 1)
    assert Month.parse("2100-12").last_day == dt.date(2100, 12, 31)


@pytest.mark.parametrize("text", ["0000-0001", "1989-1990", "2100-2101", "9998-9999"])
def test_a_school_year_outside_1990_to_2100_is_refused(text: str) -> None:
    with pytest.raises(InvalidSchoolYear):
        SchoolYear.parse(text)


def test_the_first_and_last_school_years_of_the_range() -> None:
    assert SchoolYear.parse("1990-1991").starts_on == dt.date(1990, 9, 1)
    assert SchoolYear.parse("2099-2100").ends_on == dt.date(2100, 8, 31)


@pytest.mark.parametrize("day", [dt.date(1, 1, 1), dt.date(1989, 12, 31), dt.date(2101, 1, 1), dt.date(9999, 12, 31)])
def test_a_day_outside_1990_to_2100_is_refused_naming_the_field(day: dt.date) -> None:
    with pytest.raises(DateOutOfRange) as refused:
        check_plausible(day, field="contract/date")
    assert refused.value.field == "contract/date"


def test_working_days_are_counted_as_the_day_by_day_walk_counts_them() -> None:
    start = dt.date(1989, 12, 1)
    for offset in range(0, 800, 7):
        for length in (0, 1, 2, 5, 6, 13, 40, 400):
            first = start + dt.timedelta(days=offset)
            last = first + dt.timedelta(days=length)
            walked = sum(is_working_day(first + dt.timedelta(days=n)) for n in range(1, length + 1))
            assert working_days_between(first, last) == walked, (first, last)


def test_working_days_over_two_millennia_are_counted_without_walking_them() -> None:
    # 0001-01-01 is a Monday; 2026-11-02 too: 105,657 whole weeks, less the holidays (on weekdays) from 1990.
    counted = working_days_between(dt.date(1, 1, 1), dt.date(2026, 11, 2))
    assert counted == 528_193


def _code(first_digit: str, born: dt.date) -> PersonalCode:
    first10 = f"{first_digit}{born:%y%m%d}123"
    return PersonalCode(first10 + calc_check_digit(first10 + "0"))


def test_a_person_born_before_1900_is_not_a_learner() -> None:
    with pytest.raises(PersonNotALearner) as refused:
        check_may_be_learner(_code("1", dt.date(1899, 5, 5)))
    assert refused.value.field == "personalCode"
    with pytest.raises(PersonNotALearner):
        check_may_be_learner(_code("5", dt.date(2015, 5, 5)), dt.date(1899, 12, 31))  # GR's birth date counts too
    check_may_be_learner(_code("3", dt.date(1900, 1, 1)))
    check_may_be_learner(_code("9", dt.date(2015, 5, 5)), None)


@pytest.mark.parametrize(
    "sent, stored",
    [
        ("S\u030cokis", "Šokis"),  # NFD to NFC
        ("  Fortepijonas   1\t", "Fortepijonas 1"),
        ("a\u00a0\u3000b", "a b"),  # no-break and ideographic spaces are white space
        ("\u200bmain\ufeff\u00ad", "main"),  # invisible at the ends
        ("Ona\u200dMarija", "Ona\u200dMarija"),  # a joiner inside stays
        ("\u202eA1\u202c", "\u202eA1\u202c"),  # bidi controls stay, closing ones included
    ],
)
def test_free_text_is_stored_as_nfc_trimmed_and_collapsed(sent: str, stored: str) -> None:
    assert normalise(sent, field="name") == stored


@pytest.mark.parametrize(
    "blank", ["", " ", "\u200b", "\u00ad", "\u3164", "\u2060", "\ufeff", "\u202e\u202c", "\t\n\u200d"]
)
def test_text_with_nothing_visible_is_refused_naming_the_field(blank: str) -> None:
    with pytest.raises(BlankText) as refused:
        normalise(blank, field="contract/number")
    assert refused.value.field == "contract/number"
    with pytest.raises(InvalidGroupName):
        group_name(blank)


@pytest.mark.parametrize("other", ["S\u030cokis", "šokis", "ŠOKIS", " Šokis ", "Šo\u00adkis", "Šo\u200bkis"])
def test_names_that_read_the_same_have_one_comparison_key(other: str) -> None:
    assert comparison_key(other) == comparison_key("Šokis")
    assert comparison_key("Sokis") != comparison_key("Šokis")


def test_a_contract_dated_year_one_is_refused() -> None:
    from gateway.domain.model import _check_arrival
    from tests.fakes import CLASSIFIERS

    with pytest.raises(DateOutOfRange) as refused:
        _check_arrival(
            dt.date(2026, 9, 1), Contract("BILATERAL", dt.date(1, 1, 1), "S-1"), SchoolYear(2026), CLASSIFIERS
        )
    assert refused.value.field == "contract/date"
