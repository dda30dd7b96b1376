"""The funding rules (gateway.domain.funding): marks, the NVŠ basket's eligibility, ending
marks, rates in force and the basket calculation, in plain Python against the real
classifier file. Figures of the calculation are computed by hand in the comments."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from gateway.domain import funding
from gateway.domain.calendar import Month
from gateway.domain.errors import (
    BasketAgeOutOfRange,
    BasketProgramNotEligible,
    BasketProviderNotEligible,
    BasketRateMissing,
    FundingAlreadyMarked,
    FundingNotMarked,
    FundingOutsideRegistration,
    InvalidFundingPeriod,
    RegistrationNotActive,
    UnknownClassifierCode,
)
from gateway.domain.funding import (
    BasketLine,
    BasketPolicy,
    BasketRate,
    FundedChildren,
    FundingChange,
    FundingMark,
)
from gateway.domain.model import Departure, ProgramPurpose, RegistrationStatus
from tests.fakes import (
    CLASSIFIERS,
    OTHER_PROVIDER_CODE,
    PROGRAM_CODE,
    PROVIDER_CODE,
    a_group,
    a_person,
    a_program,
    a_registration,
    an_institution,
)

SEP, OCT, NOV, DEC = Month(2026, 9), Month(2026, 10), Month(2026, 11), Month(2026, 12)
JAN, FEB, AUG = Month(2027, 1), Month(2027, 2), Month(2027, 8)


def mark(**overrides: Any) -> list[FundingMark]:
    """``funding.mark_funding`` for the girl's active registration in the piano group, by default
    the basket from September to the end of the school year, with nothing marked yet."""
    values: dict[str, Any] = dict(
        registration=a_registration(),
        group=a_group(),
        program=a_program(),
        provider=an_institution(),
        person=a_person(),
        funding_types=("NVS_BASKET",),
        from_month=SEP,
        to_month=None,
        special_needs=False,
        existing=[],
        classifiers=CLASSIFIERS,
        policy=BasketPolicy(),
    )
    values.update(overrides)
    return funding.mark_funding(**values)


def a_mark(
    funding_type: str, from_month: Month, to_month: Month, *, id: int = 1, special_needs: bool = False
) -> FundingMark:
    return FundingMark(id, 1, funding_type, from_month, to_month, special_needs)


# --- marking funding: the registration, the types and the period --------------------------------
def test_a_basket_mark_runs_by_default_to_august_of_the_groups_school_year() -> None:
    marks = mark()
    assert marks == [FundingMark(None, 1, "NVS_BASKET", SEP, AUG, False)]
    assert marks[0].months[0] == SEP and marks[0].months[-1] == AUG and len(marks[0].months) == 12


def test_a_mark_runs_to_the_month_asked_and_keeps_the_special_needs_flag() -> None:
    assert mark(from_month=OCT, to_month=DEC, special_needs=True) == [
        FundingMark(None, 1, "NVS_BASKET", OCT, DEC, True)
    ]


def test_a_single_month_may_be_marked() -> None:
    assert mark(from_month=NOV, to_month=NOV)[0].months == [NOV]


@pytest.mark.parametrize(
    "registration",
    [
        a_registration(
            status=RegistrationStatus.DEREGISTERED, departure=Departure(date(2026, 9, 30), "PARENTS_REQUEST")
        ),
        a_registration(
            status=RegistrationStatus.CANCELLED, cancelled_on=date(2026, 9, 2), cancellation_reason="mistake"
        ),
    ],
    ids=["deregistered", "cancelled"],
)
def test_funding_cannot_be_marked_on_a_registration_that_is_not_active(registration) -> None:
    with pytest.raises(RegistrationNotActive):
        mark(registration=registration, funding_types=("MUNICIPAL",))


def test_an_unknown_funding_type_is_refused_naming_its_position_in_the_request() -> None:
    with pytest.raises(UnknownClassifierCode) as caught:
        mark(funding_types=("MUNICIPAL", "NVS_KREPSELIS"))
    assert caught.value.field == "fundingTypeCode[2]"
    assert "NVS_KREPSELIS" in caught.value.message


def test_an_unknown_funding_type_after_a_repeated_one_is_named_by_its_position_in_the_request() -> None:
    with pytest.raises(UnknownClassifierCode) as caught:
        mark(funding_types=("MUNICIPAL", "MUNICIPAL", "NVS_KREPSELIS"))
    assert caught.value.field == "fundingTypeCode[3]"


def test_repeated_funding_types_collapse_into_one_mark_each_in_the_order_first_given() -> None:
    marks = mark(
        funding_types=("NVS_BASKET", "MUNICIPAL", "NVS_BASKET", "MUNICIPAL", "STATE"), from_month=OCT, to_month=DEC
    )
    assert [(m.funding_type, m.from_month, m.to_month) for m in marks] == [
        ("NVS_BASKET", OCT, DEC),
        ("MUNICIPAL", OCT, DEC),
        ("STATE", OCT, DEC),
    ]


def test_the_first_month_after_the_last_is_an_invalid_period() -> None:
    with pytest.raises(InvalidFundingPeriod) as caught:
        mark(from_month=DEC, to_month=NOV)
    assert caught.value.field == "toMonth"


def test_funding_may_start_in_the_month_of_the_first_learning_date_even_if_that_is_mid_month() -> None:
    marks = mark(registration=a_registration(first_learning_date=date(2026, 10, 12)), from_month=OCT, to_month=OCT)
    assert marks[0].months == [OCT]


def test_funding_before_the_month_of_the_first_learning_date_is_outside_the_registration() -> None:
    with pytest.raises(FundingOutsideRegistration) as caught:
        mark(registration=a_registration(first_learning_date=date(2026, 10, 12)), from_month=SEP, to_month=DEC)
    assert caught.value.field == "fromMonth"
    assert "2026-10" in caught.value.message and "2026-09" in caught.value.message


def test_funding_before_the_school_year_is_outside_the_registration() -> None:
    with pytest.raises(FundingOutsideRegistration) as caught:
        mark(from_month=Month(2026, 8), to_month=SEP, funding_types=("MUNICIPAL",))
    assert caught.value.field == "fromMonth"


def test_funding_after_the_school_year_is_outside_the_registration() -> None:
    with pytest.raises(FundingOutsideRegistration) as caught:
        mark(from_month=SEP, to_month=Month(2027, 9))
    assert caught.value.field == "toMonth"
    assert "2027-08" in caught.value.message


def test_funding_up_to_august_of_the_school_year_is_inside_the_registration() -> None:
    assert mark(from_month=AUG, to_month=AUG)[0].months == [AUG]


def test_an_overlap_with_a_mark_of_the_same_type_is_refused_naming_the_months() -> None:
    existing = [a_mark("NVS_BASKET", SEP, DEC)]
    with pytest.raises(FundingAlreadyMarked) as caught:
        mark(existing=existing, from_month=NOV, to_month=FEB)
    assert "NVS_BASKET" in caught.value.message
    assert "2026-11 to 2026-12" in caught.value.message
    assert "2027-01" not in caught.value.message


def test_an_overlap_with_two_separate_marks_names_both_runs_of_months() -> None:
    existing = [a_mark("NVS_BASKET", SEP, SEP), a_mark("NVS_BASKET", NOV, DEC, id=2)]
    with pytest.raises(FundingAlreadyMarked) as caught:
        mark(existing=existing, from_month=SEP, to_month=JAN)
    assert "2026-09, 2026-11 to 2026-12" in caught.value.message


def test_an_overlap_with_any_of_the_types_asked_is_refused() -> None:
    existing = [a_mark("STATE", Month(2027, 3), Month(2027, 4))]
    with pytest.raises(FundingAlreadyMarked) as caught:
        mark(existing=existing, funding_types=("MUNICIPAL", "STATE"), from_month=JAN, to_month=AUG)
    assert "STATE" in caught.value.message and "2027-03 to 2027-04" in caught.value.message


def test_a_mark_of_the_same_type_may_follow_an_earlier_one_without_overlap() -> None:
    existing = [a_mark("NVS_BASKET", SEP, DEC)]
    assert mark(existing=existing, from_month=JAN)[0].months[0] == JAN


def test_a_different_funding_type_may_overlap_an_existing_mark() -> None:
    existing = [a_mark("NVS_BASKET", SEP, AUG), a_mark("STATE", SEP, AUG, id=2)]
    marks = mark(existing=existing, funding_types=("MUNICIPAL",), from_month=OCT, to_month=DEC)
    assert [(m.funding_type, m.from_month, m.to_month) for m in marks] == [("MUNICIPAL", OCT, DEC)]


# --- the basket: program and provider -------------------------------------------------------------
def test_the_basket_is_refused_for_a_program_supplementing_formal_education() -> None:
    fspu = a_program(purpose=ProgramPurpose.FSPU)
    with pytest.raises(BasketProgramNotEligible) as caught:
        mark(program=fspu, group=a_group(purpose=ProgramPurpose.FSPU))
    assert "FŠPU" in caught.value.message
    assert caught.value.field == "fundingTypeCode"


def test_the_basket_is_refused_for_a_program_never_accredited() -> None:
    with pytest.raises(BasketProgramNotEligible) as caught:
        mark(program=a_program(accredited_on=None), from_month=OCT, to_month=DEC)
    assert "2026-10 to 2026-12" in caught.value.message


def test_the_basket_is_refused_only_for_the_months_before_a_mid_month_accreditation() -> None:
    # Accredited on 2026-11-15: not accredited on 2026-09-01, 10-01 nor 11-01; accredited on 12-01.
    program = a_program(accredited_on=date(2026, 11, 15))
    with pytest.raises(BasketProgramNotEligible) as caught:
        mark(program=program, from_month=SEP, to_month=FEB)
    assert "2026-09 to 2026-11" in caught.value.message
    assert "2026-12" not in caught.value.message and "2027" not in caught.value.message
    assert mark(program=program, from_month=DEC, to_month=FEB)[0].months == [DEC, JAN, FEB]


def test_a_program_accredited_on_the_first_day_of_a_month_carries_the_basket_from_that_month() -> None:
    program = a_program(accredited_on=date(2026, 11, 1))
    assert mark(program=program, from_month=NOV, to_month=DEC)[0].months == [NOV, DEC]
    with pytest.raises(BasketProgramNotEligible) as caught:
        mark(program=program, from_month=OCT, to_month=DEC)
    assert "2026-10" in caught.value.message and "2026-11" not in caught.value.message


def test_the_basket_is_refused_for_the_months_after_the_program_is_deregistered() -> None:
    # Deregistered on 2027-01-15: still registered on 2027-01-01, deregistered on 2027-02-01 and later.
    program = a_program(deregistered_on=date(2027, 1, 15))
    with pytest.raises(BasketProgramNotEligible) as caught:
        mark(program=program)
    assert "2027-02 to 2027-08" in caught.value.message
    assert "2027-01" not in caught.value.message
    assert mark(program=program, from_month=SEP, to_month=JAN)[0].months[-1] == JAN


def test_a_general_education_school_cannot_receive_the_basket() -> None:
    school = an_institution(group_code="GENERAL_EDU", purpose_codes=("31714102",))
    with pytest.raises(BasketProviderNotEligible) as caught:
        mark(provider=school)
    assert caught.value.field == "fundingTypeCode"


def test_the_basket_is_refused_if_any_of_the_types_asked_is_the_basket() -> None:
    with pytest.raises(BasketProgramNotEligible):
        mark(program=a_program(purpose=ProgramPurpose.FSPU), funding_types=("MUNICIPAL", "NVS_BASKET"))


@pytest.mark.parametrize("funding_type", ["MUNICIPAL", "STATE", "OTHER"])
def test_other_funding_types_skip_every_basket_rule(funding_type: str) -> None:
    marks = mark(
        funding_types=(funding_type,),
        program=a_program(purpose=ProgramPurpose.FSPU, accredited_on=None, deregistered_on=date(2026, 10, 1)),
        group=a_group(purpose=ProgramPurpose.FSPU),
        provider=an_institution(group_code="GENERAL_EDU"),
        person=a_person(birth_date=None),
    )
    assert [(m.funding_type, m.from_month, m.to_month) for m in marks] == [(funding_type, SEP, AUG)]


def test_municipal_funds_on_an_fspu_program_are_fine() -> None:
    marks = mark(
        program=a_program(purpose=ProgramPurpose.FSPU), funding_types=("MUNICIPAL",), from_month=OCT, to_month=DEC
    )
    assert [m.funding_type for m in marks] == ["MUNICIPAL"]


# --- the basket: the age window (6 to 19 on the first day of each month) --------------------------
@pytest.mark.parametrize(
    "birth_date, eligible",
    [
        (date(2020, 10, 1), True),  # 6th birthday on 2026-10-01: six on the first day
        (date(2020, 10, 2), False),  # 6th birthday a day later: still five on 2026-10-01
        (date(2007, 10, 1), True),  # 19th birthday on 2026-10-01: nineteen
        (date(2006, 10, 2), True),  # 20th birthday on 2026-10-02: still nineteen on the first day
        (date(2006, 10, 1), False),  # 20th birthday on 2026-10-01: twenty
        (date(2016, 3, 15), True),  # the girl, ten
    ],
)
def test_the_basket_age_window_is_read_on_the_first_day_of_the_month(birth_date: date, eligible: bool) -> None:
    def october() -> list[FundingMark]:
        return mark(person=a_person(birth_date=birth_date), from_month=OCT, to_month=OCT)

    if eligible:
        assert october()[0].months == [OCT]
    else:
        with pytest.raises(BasketAgeOutOfRange) as caught:
            october()
        assert "2026-10" in caught.value.message and "6 to 19" in caught.value.message
        assert caught.value.field == "fromMonth"


def test_a_child_turning_six_during_the_year_is_refused_only_for_the_months_before() -> None:
    # Born 2020-12-10: five on 2026-12-01, six on 2027-01-01.
    child = a_person(birth_date=date(2020, 12, 10))
    with pytest.raises(BasketAgeOutOfRange) as caught:
        mark(person=child)
    assert "2026-09 to 2026-12" in caught.value.message and "2027" not in caught.value.message
    assert mark(person=child, from_month=JAN)[0].months[0] == JAN


def test_a_child_turning_twenty_during_the_year_is_refused_for_the_months_from_then() -> None:
    # Born 2007-01-15: nineteen on 2027-01-01, twenty on 2027-02-01.
    child = a_person(birth_date=date(2007, 1, 15))
    with pytest.raises(BasketAgeOutOfRange) as caught:
        mark(person=child)
    assert "2027-02 to 2027-08" in caught.value.message and "2027-01" not in caught.value.message
    assert mark(person=child, to_month=JAN)[0].months[-1] == JAN


def test_a_birthday_on_29_february_counts_from_1_march_in_other_years() -> None:
    # Born 2020-02-29: five on 2026-02-01 (outside this year anyway), six on 2026-03-01;
    # in this school year six or seven every month.
    assert mark(person=a_person(birth_date=date(2020, 2, 29)))[0].months[0] == SEP
    assert funding.age_on(date(2020, 2, 29), date(2026, 2, 28)) == 5
    assert funding.age_on(date(2020, 2, 29), date(2026, 3, 1)) == 6


@pytest.mark.parametrize(
    "birth_date, eligible",
    [
        (date(2019, 10, 1), True),  # seven on 2026-10-01
        (date(2019, 10, 2), False),  # six on 2026-10-01: in by default, out under (7, 18)
        (date(2007, 10, 2), True),  # eighteen on 2026-10-01
        (date(2007, 10, 1), False),  # nineteen on 2026-10-01: in by default, out under (7, 18)
    ],
)
def test_a_custom_basket_policy_is_respected(birth_date: date, eligible: bool) -> None:
    def october(policy: BasketPolicy) -> list[FundingMark]:
        return mark(person=a_person(birth_date=birth_date), from_month=OCT, to_month=OCT, policy=policy)

    assert october(BasketPolicy())  # the default window (6 to 19) admits all four
    if eligible:
        assert october(BasketPolicy(7, 18))
    else:
        with pytest.raises(BasketAgeOutOfRange) as caught:
            october(BasketPolicy(7, 18))
        assert "7 to 18" in caught.value.message


def test_the_default_basket_policy_is_six_to_nineteen() -> None:
    assert (BasketPolicy().minimum_age, BasketPolicy().maximum_age) == (6, 19)


def test_an_unknown_birth_date_refuses_the_basket() -> None:
    with pytest.raises(BasketAgeOutOfRange) as caught:
        mark(person=a_person(birth_date=None))
    assert "birth date" in caught.value.message


def test_basket_eligibility_checks_the_provider_before_the_program_and_the_program_before_the_age() -> None:
    everything_wrong: dict[str, Any] = dict(
        program=a_program(purpose=ProgramPurpose.FSPU, accredited_on=None),
        person=a_person(birth_date=None),
        months=[OCT],
        classifiers=CLASSIFIERS,
        policy=BasketPolicy(),
    )
    with pytest.raises(BasketProviderNotEligible):
        funding.check_basket_eligibility(provider=an_institution(group_code="GENERAL_EDU"), **everything_wrong)
    with pytest.raises(BasketProgramNotEligible):
        funding.check_basket_eligibility(provider=an_institution(), **everything_wrong)


def test_the_basket_type_is_known_by_its_classifier_flag() -> None:
    assert funding.is_basket("NVS_BASKET", CLASSIFIERS)
    assert not any(funding.is_basket(code, CLASSIFIERS) for code in ("MUNICIPAL", "STATE", "OTHER", "NO_SUCH_TYPE"))


# --- ending funding -------------------------------------------------------------------------------
BASKET_AUTUMN = a_mark("NVS_BASKET", SEP, DEC, id=1)
BASKET_SPRING = a_mark("NVS_BASKET", FEB, Month(2027, 4), id=2)
MUNICIPAL_YEAR = a_mark("MUNICIPAL", SEP, AUG, id=3)
MARKS = [BASKET_AUTUMN, BASKET_SPRING, MUNICIPAL_YEAR]


def test_ending_a_type_shortens_its_longer_marks_and_removes_those_starting_after_the_last_month() -> None:
    change = funding.end_funding_of_type(MARKS, funding_type="NVS_BASKET", last_month=OCT)
    assert change.narrowed == [a_mark("NVS_BASKET", SEP, OCT, id=1)]
    assert change.removed == [BASKET_SPRING]


def test_ending_a_type_leaves_its_marks_that_end_by_the_last_month_alone() -> None:
    # Ends at 2027-02: the autumn mark (to 2026-12) is untouched, the spring one is cut to February.
    change = funding.end_funding_of_type(MARKS, funding_type="NVS_BASKET", last_month=FEB)
    assert change.narrowed == [a_mark("NVS_BASKET", FEB, FEB, id=2)]
    assert change.removed == []


def test_ending_a_type_leaves_the_other_types_alone() -> None:
    change = funding.end_funding_of_type(MARKS, funding_type="MUNICIPAL", last_month=OCT)
    assert change.narrowed == [a_mark("MUNICIPAL", SEP, OCT, id=3)]
    assert change.removed == []


def test_ending_before_the_first_month_removes_the_mark() -> None:
    change = funding.end_funding_of_type([BASKET_AUTUMN], funding_type="NVS_BASKET", last_month=Month(2026, 8))
    assert change.narrowed == [] and change.removed == [BASKET_AUTUMN]


def test_ending_at_the_first_month_keeps_that_single_month() -> None:
    change = funding.end_funding_of_type([BASKET_AUTUMN], funding_type="NVS_BASKET", last_month=SEP)
    assert change.narrowed == [a_mark("NVS_BASKET", SEP, SEP, id=1)] and change.removed == []


@pytest.mark.parametrize(
    "marks, funding_type, last_month",
    [
        ([], "NVS_BASKET", OCT),  # nothing marked at all
        ([BASKET_AUTUMN], "NVS_BASKET", DEC),  # already ends there
        ([BASKET_AUTUMN], "NVS_BASKET", JAN),  # already ends before
        ([MUNICIPAL_YEAR], "NVS_BASKET", OCT),  # only another type is marked
    ],
    ids=["nothing", "ends-there", "ends-before", "other-type"],
)
def test_ending_funding_that_does_not_run_past_the_month_is_refused(
    marks: list[FundingMark], funding_type: str, last_month: Month
) -> None:
    with pytest.raises(FundingNotMarked) as caught:
        funding.end_funding_of_type(marks, funding_type=funding_type, last_month=last_month)
    assert caught.value.field == "lastFundedMonth"
    assert funding_type in caught.value.message and str(last_month) in caught.value.message


def test_ending_every_type_at_once_shortens_and_removes_across_types() -> None:
    change = funding.end_funding(MARKS, last_month=OCT)
    assert change.narrowed == [a_mark("NVS_BASKET", SEP, OCT, id=1), a_mark("MUNICIPAL", SEP, OCT, id=3)]
    assert change.removed == [BASKET_SPRING]


def test_ending_every_type_when_nothing_runs_past_is_an_empty_change_not_an_error() -> None:
    change = funding.end_funding([BASKET_AUTUMN], last_month=DEC)
    assert not change
    assert change == FundingChange([], [])


def test_removing_all_marks_removes_every_one_and_shortens_none() -> None:
    change = funding.remove_all(MARKS)
    assert change.removed == MARKS and change.narrowed == []
    assert change
    assert not funding.remove_all([])


def test_a_shortened_mark_keeps_its_id_type_start_and_special_needs_flag() -> None:
    sen = a_mark("NVS_BASKET", SEP, AUG, id=7, special_needs=True)
    (short,) = funding.end_funding([sen], last_month=NOV).narrowed
    assert short == FundingMark(7, 1, "NVS_BASKET", SEP, NOV, True)
    assert short.months == [SEP, OCT, NOV]


# --- rates in force ---------------------------------------------------------------------------------
GENERAL_15 = BasketRate(None, Month(2015, 10), Decimal("15.00"))
GENERAL_20 = BasketRate(None, Month(2022, 3), Decimal("20.00"), special_needs_factor=Decimal("2"))
VILNIUS_25 = BasketRate("13", Month(2024, 4), Decimal("25.00"), special_needs_factor=Decimal("2"))
RATES = [VILNIUS_25, GENERAL_15, GENERAL_20]  # in no particular order


@pytest.mark.parametrize(
    "municipality, month, expected",
    [
        ("13", Month(2015, 10), GENERAL_15),  # the first rate, everywhere
        ("13", Month(2022, 2), GENERAL_15),
        ("13", Month(2022, 3), GENERAL_20),
        ("13", Month(2024, 3), GENERAL_20),  # Vilnius's own rate is not in force yet
        ("13", Month(2024, 4), VILNIUS_25),
        ("13", OCT, VILNIUS_25),
        ("19", OCT, GENERAL_20),  # another municipality's rate does not apply
        ("49", Month(2024, 4), GENERAL_20),
    ],
)
def test_the_newest_rate_for_the_municipality_or_in_general_is_in_force(
    municipality: str, month: Month, expected: BasketRate
) -> None:
    assert funding.rate_in_force(RATES, municipality, month) == expected


def test_on_the_same_month_the_municipalitys_own_rate_beats_the_general_one() -> None:
    general = BasketRate(None, Month(2024, 4), Decimal("22.00"))
    rates = [VILNIUS_25, general, GENERAL_20]
    assert funding.rate_in_force(rates, "13", Month(2024, 4)) == VILNIUS_25
    assert funding.rate_in_force(list(reversed(rates)), "13", Month(2024, 4)) == VILNIUS_25
    assert funding.rate_in_force(rates, "19", Month(2024, 4)) == general


def test_a_later_general_rate_supersedes_an_earlier_municipal_one() -> None:
    general_30 = BasketRate(None, Month(2026, 1), Decimal("30.00"))
    rates = RATES + [general_30]
    assert funding.rate_in_force(rates, "13", Month(2025, 12)) == VILNIUS_25
    assert funding.rate_in_force(rates, "13", Month(2026, 1)) == general_30
    assert funding.rate_in_force(rates, "13", OCT) == general_30


def test_no_rate_before_the_first_one_is_a_missing_rate() -> None:
    with pytest.raises(BasketRateMissing) as caught:
        funding.rate_in_force(RATES, "13", Month(2015, 9))
    assert "13" in caught.value.message and "2015-09" in caught.value.message


def test_a_municipal_rate_alone_leaves_other_municipalities_without_a_rate() -> None:
    with pytest.raises(BasketRateMissing):
        funding.rate_in_force([VILNIUS_25], "19", OCT)
    with pytest.raises(BasketRateMissing):
        funding.rate_in_force([], "13", OCT)


# --- the basket calculation (hand-computed) ---------------------------------------------------------
MUSIC = "120000001"  # provider A, direction MUSIC: no priority
ROBOTICS = "120000011"  # provider A, direction IT (flag steam): priority
SPORT = "120000021"  # provider B, direction SPORT: no priority
CRAFT = "120000022"  # provider B, directions SPORT and TECHCREAT (steam): priority, one priority direction is enough
PROVIDER_A = an_institution(code=PROVIDER_CODE, municipality_code="13")  # Vilnius: 25 EUR
PROVIDER_B = an_institution(
    code=OTHER_PROVIDER_CODE, municipality_code="19", group_code="OTHER_PROVIDER"
)  # general: 20 EUR
PROVIDERS = {p.code: p for p in (PROVIDER_A, PROVIDER_B)}
PROGRAMS = {
    MUSIC: a_program(code=MUSIC, direction_codes=("MUSIC",)),
    ROBOTICS: a_program(code=ROBOTICS, direction_codes=("IT",)),
    SPORT: a_program(code=SPORT, provider_code=OTHER_PROVIDER_CODE, direction_codes=("SPORT",)),
    CRAFT: a_program(code=CRAFT, provider_code=OTHER_PROVIDER_CODE, direction_codes=("SPORT", "TECHCREAT")),
}
CALC_RATES = [
    BasketRate(None, Month(2015, 10), Decimal("15.00"), priority_factor=Decimal("1.333")),
    BasketRate(
        None, Month(2022, 3), Decimal("20.00"), priority_factor=Decimal("1.333"), special_needs_factor=Decimal("2.0")
    ),
    BasketRate(
        "13", Month(2024, 4), Decimal("25.00"), priority_factor=Decimal("1.333"), special_needs_factor=Decimal("2.0")
    ),
]


def calculate(funded: list[FundedChildren], rates: list[BasketRate] = CALC_RATES) -> list[BasketLine]:
    return funding.calculate_basket(
        funded, rates=rates, providers=PROVIDERS, programs=PROGRAMS, classifiers=CLASSIFIERS
    )


def test_priority_programs_are_those_with_a_steam_direction() -> None:
    assert funding.is_priority_program(PROGRAMS[ROBOTICS], CLASSIFIERS)
    assert funding.is_priority_program(PROGRAMS[CRAFT], CLASSIFIERS)
    assert not funding.is_priority_program(PROGRAMS[MUSIC], CLASSIFIERS)
    assert not funding.is_priority_program(PROGRAMS[SPORT], CLASSIFIERS)


def test_the_basket_of_two_providers_in_two_municipalities_over_three_months() -> None:
    A, B = PROVIDER_CODE, OTHER_PROVIDER_CODE
    funded = [  # deliberately out of order: the lines come sorted by provider, then month
        FundedChildren(B, NOV, CRAFT, True, 1),
        FundedChildren(A, OCT, MUSIC, False, 5),
        FundedChildren(B, SEP, SPORT, False, 6),
        FundedChildren(A, SEP, ROBOTICS, False, 3),
        FundedChildren(A, NOV, MUSIC, False, 5),
        FundedChildren(B, OCT, CRAFT, False, 3),
        FundedChildren(A, SEP, MUSIC, False, 4),
        FundedChildren(B, SEP, SPORT, True, 1),
        FundedChildren(A, OCT, ROBOTICS, True, 2),
        FundedChildren(B, OCT, SPORT, False, 6),
        FundedChildren(A, SEP, MUSIC, True, 1),
    ]
    # Provider A, Vilnius (13): 25.00 a month.
    #   2026-09: music 4 x 25 = 100.00; robotics 3 x 25 x 1.333 = 99.975; music SEN 1 x 25 x 2.0 = 50.00
    #            8 children, 249.975 -> 249.98
    #   2026-10: music 5 x 25 = 125.00; robotics SEN 2 x 25 x 1.333 x 2.0 = 133.30
    #            7 children, 258.30
    #   2026-11: music 5 x 25 = 125.00; 5 children
    # Provider B, municipality 19 (general rate): 20.00 a month.
    #   2026-09: sport 6 x 20 = 120.00; sport SEN 1 x 20 x 2.0 = 40.00; 7 children, 160.00
    #   2026-10: sport 6 x 20 = 120.00; craft 3 x 20 x 1.333 = 79.98; 9 children, 199.98
    #   2026-11: craft SEN 1 x 20 x 1.333 x 2.0 = 53.32; 1 child, 53.32
    assert calculate(funded) == [
        BasketLine(A, SEP, 8, Decimal("25.00"), Decimal("249.98")),
        BasketLine(A, OCT, 7, Decimal("25.00"), Decimal("258.30")),
        BasketLine(A, NOV, 5, Decimal("25.00"), Decimal("125.00")),
        BasketLine(B, SEP, 7, Decimal("20.00"), Decimal("160.00")),
        BasketLine(B, OCT, 9, Decimal("20.00"), Decimal("199.98")),
        BasketLine(B, NOV, 1, Decimal("20.00"), Decimal("53.32")),
    ]
    # Total over both providers and three months: 249.98 + 258.30 + 125.00 + 160.00 + 199.98 + 53.32 = 1046.58
    assert sum(line.amount for line in calculate(funded)) == Decimal("1046.58")


def test_an_amount_is_rounded_half_up_to_cents() -> None:
    # 2021-05 is under the 15.00 rate: 3 x 15 x 1.333 = 59.985 -> 59.99 (half-up, not half-even 59.98).
    (line,) = calculate([FundedChildren(PROVIDER_CODE, Month(2021, 5), ROBOTICS, False, 3)])
    assert line == BasketLine(PROVIDER_CODE, Month(2021, 5), 3, Decimal("15.00"), Decimal("59.99"))
    assert line.amount.as_tuple().exponent == -2


def test_a_line_is_rounded_once_on_its_sum_not_per_program() -> None:
    # Two priority programs with one child each in 2021-05: 15 x 1.333 = 19.995 each;
    # the line's sum 39.990 stays 39.99 (rounding each part first would give 20.00 + 20.00 = 40.00).
    lines = calculate(
        [
            FundedChildren(OTHER_PROVIDER_CODE, Month(2021, 5), CRAFT, False, 1),
            FundedChildren(
                OTHER_PROVIDER_CODE, Month(2021, 5), CRAFT, True, 1
            ),  # 2021: the 15.00 rate has no SEN factor (1)
        ]
    )
    assert lines == [BasketLine(OTHER_PROVIDER_CODE, Month(2021, 5), 2, Decimal("15.00"), Decimal("39.99"))]


def test_the_rate_of_each_month_applies_across_a_rate_change() -> None:
    # Vilnius: 2024-03 under the general 20.00, 2024-04 under its own 25.00; 2 children each month.
    lines = calculate(
        [
            FundedChildren(PROVIDER_CODE, Month(2024, 4), MUSIC, False, 2),
            FundedChildren(PROVIDER_CODE, Month(2024, 3), MUSIC, False, 2),
        ]
    )
    assert lines == [
        BasketLine(PROVIDER_CODE, Month(2024, 3), 2, Decimal("20.00"), Decimal("40.00")),
        BasketLine(PROVIDER_CODE, Month(2024, 4), 2, Decimal("25.00"), Decimal("50.00")),
    ]


def test_factors_of_one_leave_the_plain_rate() -> None:
    # The shipped rates have no priority factor: a priority SEN child in Vilnius is 25 x 1 x 2 = 50.00.
    rates = [BasketRate("13", Month(2024, 4), Decimal("25.00"), special_needs_factor=Decimal("2.000")), GENERAL_20]
    (line,) = calculate([FundedChildren(PROVIDER_CODE, OCT, ROBOTICS, True, 1)], rates)
    assert line.amount == Decimal("50.00")


def test_no_funded_children_make_no_lines() -> None:
    assert calculate([]) == []


def test_a_month_without_a_rate_fails_the_calculation() -> None:
    with pytest.raises(BasketRateMissing):
        calculate([FundedChildren(PROVIDER_CODE, Month(2015, 9), MUSIC, False, 1)])


def test_the_program_code_constant_of_the_builders_is_the_music_program() -> None:
    # Guards the assumption above that PROGRAM_CODE (used by the builders) is a non-priority program.
    assert PROGRAM_CODE == MUSIC
