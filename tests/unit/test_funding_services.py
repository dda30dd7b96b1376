"""The funding use cases of gateway.services.Registry (MarkFunding, EndFunding, GetFunding,
CheckBasketAvailability, CalculateBasket, and what deregistration and cancellation do to
marks) on in-memory fakes: FakeUnitOfWork (tests/fakes.py), whose basket claims are keyed by
(personal code, month) like the database's, and InMemoryPopulationRegister for GR."""

from __future__ import annotations

import datetime as dt
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from clients.population_register.fake import InMemoryPopulationRegister
from gateway.clock import FixedClock
from gateway.domain.calendar import Month
from gateway.domain.errors import (
    BasketAgeOutOfRange,
    BasketAlreadyClaimed,
    BasketProgramNotEligible,
    BasketRateMissing,
    FundingAlreadyMarked,
    FundingNotMarked,
    FundingOutsideRegistration,
    InvalidFundingPeriod,
    InvalidMonth,
    InvalidPersonalCode,
    RegistrationNotActive,
    RegistrationNotFound,
    RequestRejected,
    UnknownClassifierCode,
)
from gateway.domain.funding import BasketLine, BasketPolicy, BasketRate
from gateway.domain.model import Departure, ProgramPurpose, RegistrationStatus
from gateway.domain.personal_code import PersonalCode
from gateway.services import Caller, NewFunding, Registry
from tests.fakes import (
    BOY_CODE,
    GIRL_CODE,
    OTHER_PROVIDER_CODE,
    PROVIDER_CODE,
    FakeUnitOfWork,
    a_group,
    a_person,
    a_program,
    a_registration,
    an_institution,
    valid_code,
)

TODAY = date(2026, 10, 5)  # a Monday in the 2026-2027 school year
NOW = dt.datetime(2026, 10, 5, 9, 30, tzinfo=dt.UTC)
CALLER = Caller(user_id=1, username="muzikos.mokykla", institution_code=PROVIDER_CODE)  # provider A, Vilnius (13)
OTHER_CALLER = Caller(user_id=2, username="sporto.klubas", institution_code=OTHER_PROVIDER_CODE)  # provider B, 15
OTHER_PROVIDER_NAME = "Sporto klubas „Bandymas“"
FSPU_PROGRAM_CODE = "120000003"
OTHER_PROGRAM_CODE = "120000002"
THIRD_CODE = valid_code("5180101777")  # a boy born 2018-01-01

SEP, OCT, NOV, DEC = Month(2026, 9), Month(2026, 10), Month(2026, 11), Month(2026, 12)
JAN, AUG = Month(2027, 1), Month(2027, 8)
SCHOOL_YEAR_MONTHS = SEP.through(AUG)

GIRL = a_person(personal_code=GIRL_CODE, first_name="Austėja", last_name="Bandomaitė")  # born 2016-03-15
BOY = a_person(personal_code=BOY_CODE, first_name="Matas", last_name="Bandomaitis")  # born 2015-07-04
THIRD = a_person(personal_code=THIRD_CODE, first_name="Jonas", last_name="Trečiasis")

# Registrations seeded in every test (ids fixed):
GIRL_AT_A = 1  # the girl in A's piano group (1)
GIRL_AT_B = 2  # the girl in B's basketball group (2)
BOY_AT_A = 3  # the boy in A's piano group (1)
GIRL_AT_A_FSPU = 4  # the girl in A's FŠPU group (3)
THIRD_AT_B = 5  # the third child in B's basketball group (2)

# As data/rates/basket-rates.xml: 15 from 2015-10, 20 from 2022-03 (SEN x2), Vilnius 25 from 2024-04 (SEN x2).
SHIPPED_RATES = [
    BasketRate(None, Month(2015, 10), Decimal("15.00")),
    BasketRate(None, Month(2022, 3), Decimal("20.00"), special_needs_factor=Decimal("2.000")),
    BasketRate("13", Month(2024, 4), Decimal("25.00"), special_needs_factor=Decimal("2.000")),
]


@pytest.fixture
def uow() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    uow.seed(
        an_institution(),
        an_institution(
            code=OTHER_PROVIDER_CODE,
            name=OTHER_PROVIDER_NAME,
            municipality_code="19",
            ownership_code="30",
            group_code="OTHER_PROVIDER",
            purpose_codes=("31714102",),
        ),
        a_program(),
        a_program(code=FSPU_PROGRAM_CODE, name="Muzikos pradinio ugdymo programa", purpose=ProgramPurpose.FSPU),
        a_program(
            code=OTHER_PROGRAM_CODE,
            provider_code=OTHER_PROVIDER_CODE,
            name="Krepšinio programa",
            direction_codes=("SPORT",),
        ),
        a_group(id=1),
        a_group(
            id=2,
            provider_code=OTHER_PROVIDER_CODE,
            program_code=OTHER_PROGRAM_CODE,
            name="Krepšinis",
            sub_direction_codes=("SPORT.BASKETBALL",),
        ),
        a_group(id=3, program_code=FSPU_PROGRAM_CODE, purpose=ProgramPurpose.FSPU, name="Solfedžio grupė"),
        GIRL,
        BOY,
        THIRD,
        a_registration(id=GIRL_AT_A, personal_code=GIRL_CODE, group_id=1, provider_code=PROVIDER_CODE),
        a_registration(id=GIRL_AT_B, personal_code=GIRL_CODE, group_id=2, provider_code=OTHER_PROVIDER_CODE),
        a_registration(id=BOY_AT_A, personal_code=BOY_CODE, group_id=1, provider_code=PROVIDER_CODE),
        a_registration(id=GIRL_AT_A_FSPU, personal_code=GIRL_CODE, group_id=3, provider_code=PROVIDER_CODE),
        a_registration(id=THIRD_AT_B, personal_code=THIRD_CODE, group_id=2, provider_code=OTHER_PROVIDER_CODE),
    )
    uow.stored.rates.extend(SHIPPED_RATES)
    return uow


@pytest.fixture
def population_register() -> InMemoryPopulationRegister:
    return InMemoryPopulationRegister({p.personal_code: p for p in (GIRL, BOY, THIRD)})


@pytest.fixture
def registry(uow: FakeUnitOfWork, population_register: InMemoryPopulationRegister) -> Registry:
    return Registry(uow_factory=lambda: uow, population_register=population_register, clock=FixedClock(NOW))


def funding_of(
    registration_id: int, *types: str, from_month: str = "2026-09", to_month: str | None = None, **kw: Any
) -> NewFunding:
    return NewFunding(registration_id, types or ("NVS_BASKET",), from_month, to_month, **kw)


def stored_marks(uow: FakeUnitOfWork, registration_id: int) -> list[tuple[str, Month, Month]]:
    marks = [m for m in uow.stored.funding_marks.values() if m.registration_id == registration_id]
    return sorted((m.funding_type, m.from_month, m.to_month) for m in marks)


def claimed(uow: FakeUnitOfWork, code: str) -> list[Month]:
    person = PersonalCode(code)
    return sorted(month for (who, month) in uow.stored.basket_claims if who == person)


def free_months(registry: Registry, code: str, from_month: str = "2026-09", to_month: str = "2027-08") -> list[Month]:
    return [
        month for month, free in registry.check_basket_availability(OTHER_CALLER, code, from_month, to_month) if free
    ]


# --- marking funding --------------------------------------------------------------------------------
def test_marking_funding_stores_a_mark_per_type_and_claims_the_basket_months(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    view = registry.mark_funding(CALLER, funding_of(GIRL_AT_A, "NVS_BASKET", "MUNICIPAL", to_month="2026-12"))
    assert view.registration_id == GIRL_AT_A
    assert [(m.funding_type, m.from_month, m.to_month) for m in view.marks] == [
        ("MUNICIPAL", SEP, DEC),
        ("NVS_BASKET", SEP, DEC),
    ]
    assert all(m.id is not None for m in view.marks)
    assert stored_marks(uow, GIRL_AT_A) == [("MUNICIPAL", SEP, DEC), ("NVS_BASKET", SEP, DEC)]
    basket_id = next(m.id for m in view.marks if m.funding_type == "NVS_BASKET")
    assert uow.stored.basket_claims == {(PersonalCode(GIRL_CODE), m): basket_id for m in (SEP, OCT, NOV, DEC)}
    assert uow.committed == 1


def test_a_mark_without_a_last_month_runs_to_august_and_claims_the_whole_school_year(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, special_needs=True))
    (mark,) = uow.stored.funding_marks.values()
    assert (mark.from_month, mark.to_month, mark.special_needs) == (SEP, AUG, True)
    assert claimed(uow, GIRL_CODE) == SCHOOL_YEAR_MONTHS


def test_other_funding_types_claim_nothing_and_are_not_exclusive(registry: Registry, uow: FakeUnitOfWork) -> None:
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, "MUNICIPAL", "STATE"))
    registry.mark_funding(OTHER_CALLER, funding_of(GIRL_AT_B, "MUNICIPAL", "OTHER"))
    assert stored_marks(uow, GIRL_AT_A) == [("MUNICIPAL", SEP, AUG), ("STATE", SEP, AUG)]
    assert stored_marks(uow, GIRL_AT_B) == [("MUNICIPAL", SEP, AUG), ("OTHER", SEP, AUG)]
    assert uow.stored.basket_claims == {}


def test_marking_the_same_type_twice_on_a_registration_is_refused_and_nothing_changes(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, to_month="2026-12"))
    with pytest.raises(FundingAlreadyMarked) as caught:
        registry.mark_funding(
            CALLER, funding_of(GIRL_AT_A, "MUNICIPAL", "NVS_BASKET", from_month="2026-12", to_month="2027-01")
        )
    assert "2026-12" in caught.value.message
    assert stored_marks(uow, GIRL_AT_A) == [("NVS_BASKET", SEP, DEC)]
    assert uow.committed == 1


def test_an_invalid_month_is_refused_naming_its_field(registry: Registry) -> None:
    with pytest.raises(InvalidMonth) as caught:
        registry.mark_funding(CALLER, funding_of(GIRL_AT_A, from_month="2026-9"))
    assert caught.value.field == "fromMonth"
    with pytest.raises(InvalidMonth) as caught:
        registry.mark_funding(CALLER, funding_of(GIRL_AT_A, to_month="2026-13"))
    assert caught.value.field == "toMonth"


def test_funding_outside_the_registration_is_refused_through_the_service(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    with pytest.raises(FundingOutsideRegistration) as caught:
        registry.mark_funding(CALLER, funding_of(GIRL_AT_A, "MUNICIPAL", from_month="2027-06", to_month="2027-09"))
    assert caught.value.field == "toMonth"
    assert uow.stored.funding_marks == {}


def test_the_basket_on_an_fspu_groups_registration_is_refused_and_nothing_is_stored(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    with pytest.raises(BasketProgramNotEligible):
        registry.mark_funding(CALLER, funding_of(GIRL_AT_A_FSPU, "MUNICIPAL", "NVS_BASKET"))
    assert uow.stored.funding_marks == {} and uow.stored.basket_claims == {}
    assert uow.committed == 0
    # Municipal funds alone are fine on the FŠPU group.
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A_FSPU, "MUNICIPAL"))
    assert stored_marks(uow, GIRL_AT_A_FSPU) == [("MUNICIPAL", SEP, AUG)]


def test_the_registrys_basket_policy_is_the_one_applied(
    uow: FakeUnitOfWork, population_register: InMemoryPopulationRegister
) -> None:
    # The girl (born 2016-03-15) is ten until 2027-03-15: under an 11-to-19 policy she is out from 2026-09 to 2027-03.
    registry = Registry(
        uow_factory=lambda: uow,
        population_register=population_register,
        clock=FixedClock(NOW),
        basket_policy=BasketPolicy(11, 19),
    )
    with pytest.raises(BasketAgeOutOfRange) as caught:
        registry.mark_funding(CALLER, funding_of(GIRL_AT_A))
    assert "2026-09 to 2027-03" in caught.value.message
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, from_month="2027-04"))
    assert claimed(uow, GIRL_CODE) == Month(2027, 4).through(AUG)


def test_the_age_window_reads_the_stored_persons_birth_date(registry: Registry, uow: FakeUnitOfWork) -> None:
    uow.seed(a_person(personal_code=GIRL_CODE, birth_date=None))
    with pytest.raises(BasketAgeOutOfRange):
        registry.mark_funding(CALLER, funding_of(GIRL_AT_A))
    assert uow.stored.basket_claims == {}


def test_marking_funding_on_a_deregistered_registration_is_refused(registry: Registry, uow: FakeUnitOfWork) -> None:
    registry.deregister_student(CALLER, GIRL_AT_A, Departure(date(2026, 9, 30), "PARENTS_REQUEST"))
    with pytest.raises(RegistrationNotActive):
        registry.mark_funding(CALLER, funding_of(GIRL_AT_A, "MUNICIPAL", to_month="2026-09"))


# --- the basket's exclusivity ---------------------------------------------------------------------
def test_a_rival_claim_for_an_overlapping_month_is_refused_naming_the_months_and_not_the_provider(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, to_month="2026-12"))
    committed = uow.committed
    with pytest.raises(BasketAlreadyClaimed) as caught:
        registry.mark_funding(OTHER_CALLER, funding_of(GIRL_AT_B, "MUNICIPAL", "NVS_BASKET", from_month="2026-11"))
    message = caught.value.message
    assert "2026-11 to 2026-12" in message
    assert "2026-09" not in message and "2027" not in message
    assert PROVIDER_CODE not in message and "Vilniaus" not in message
    # Nothing of the refused request was committed: neither its basket mark nor its municipal one.
    assert uow.committed == committed
    assert stored_marks(uow, GIRL_AT_B) == []
    assert stored_marks(uow, GIRL_AT_A) == [("NVS_BASKET", SEP, DEC)]
    assert claimed(uow, GIRL_CODE) == [SEP, OCT, NOV, DEC]
    (a_mark_id,) = uow.stored.funding_marks
    assert set(uow.stored.basket_claims.values()) == {a_mark_id}


def test_a_rival_claim_of_the_same_provider_for_another_registration_is_refused_too(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    uow.seed(a_group(id=4, name="Smuikas, 1 klasė", sub_direction_codes=("MUSIC.PIANO",)))
    uow.seed(a_registration(id=6, personal_code=GIRL_CODE, group_id=4))
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, from_month="2026-10", to_month="2026-10"))
    with pytest.raises(BasketAlreadyClaimed) as caught:
        registry.mark_funding(CALLER, funding_of(6, to_month="2026-12"))
    assert "2026-10" in caught.value.message and "2026-09" not in caught.value.message
    assert stored_marks(uow, 6) == []


def test_a_claim_of_the_months_next_to_a_rivals_succeeds(registry: Registry, uow: FakeUnitOfWork) -> None:
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, to_month="2026-10"))
    registry.mark_funding(OTHER_CALLER, funding_of(GIRL_AT_B, from_month="2026-11"))
    assert claimed(uow, GIRL_CODE) == SCHOOL_YEAR_MONTHS
    assert free_months(registry, GIRL_CODE) == []


def test_switching_providers_at_a_month_boundary_as_a_new_user_would_try_it(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    # Nobody holds the basket yet.
    assert free_months(registry, GIRL_CODE, "2026-09", "2026-12") == [SEP, OCT, NOV, DEC]
    # The first provider marks September to December.
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, to_month="2026-12"))
    assert free_months(registry, GIRL_CODE, "2026-09", "2027-01") == [JAN]
    # The second provider's claim from November is refused naming November to December.
    with pytest.raises(BasketAlreadyClaimed) as caught:
        registry.mark_funding(OTHER_CALLER, funding_of(GIRL_AT_B, from_month="2026-11"))
    assert "2026-11 to 2026-12" in caught.value.message
    assert free_months(registry, GIRL_CODE, "2026-09", "2027-01") == [JAN]
    # The first provider ends its mark at October: November and December are free again.
    view = registry.end_funding(CALLER, GIRL_AT_A, "NVS_BASKET", "2026-10")
    assert [(m.funding_type, m.from_month, m.to_month) for m in view.marks] == [("NVS_BASKET", SEP, OCT)]
    assert free_months(registry, GIRL_CODE, "2026-09", "2027-01") == [NOV, DEC, JAN]
    # September and October are still the first provider's.
    with pytest.raises(BasketAlreadyClaimed) as caught:
        registry.mark_funding(OTHER_CALLER, funding_of(GIRL_AT_B, from_month="2026-10", to_month="2026-11"))
    assert "2026-10" in caught.value.message and "2026-11" not in caught.value.message
    # The second provider's claim from November now succeeds.
    view = registry.mark_funding(OTHER_CALLER, funding_of(GIRL_AT_B, from_month="2026-11"))
    assert [(m.funding_type, m.from_month, m.to_month) for m in view.marks] == [("NVS_BASKET", NOV, AUG)]
    assert free_months(registry, GIRL_CODE) == []
    ids = {m.registration_id: m.id for m in uow.stored.funding_marks.values()}
    child = PersonalCode(GIRL_CODE)
    assert uow.stored.basket_claims[(child, OCT)] == ids[GIRL_AT_A]
    assert uow.stored.basket_claims[(child, NOV)] == ids[GIRL_AT_B]


# --- ending funding ---------------------------------------------------------------------------------
def test_ending_funding_shortens_and_removes_only_the_given_type(registry: Registry, uow: FakeUnitOfWork) -> None:
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, "NVS_BASKET", "MUNICIPAL", to_month="2026-12"))
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, from_month="2027-02", to_month="2027-04"))
    view = registry.end_funding(CALLER, GIRL_AT_A, "NVS_BASKET", "2026-10")
    assert [(m.funding_type, m.from_month, m.to_month) for m in view.marks] == [
        ("MUNICIPAL", SEP, DEC),
        ("NVS_BASKET", SEP, OCT),
    ]
    assert stored_marks(uow, GIRL_AT_A) == [("MUNICIPAL", SEP, DEC), ("NVS_BASKET", SEP, OCT)]
    assert claimed(uow, GIRL_CODE) == [SEP, OCT]


def test_ending_funding_that_does_not_run_past_the_month_is_refused(registry: Registry, uow: FakeUnitOfWork) -> None:
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, to_month="2026-10"))
    committed = uow.committed
    with pytest.raises(FundingNotMarked) as caught:
        registry.end_funding(CALLER, GIRL_AT_A, "NVS_BASKET", "2026-10")
    assert caught.value.field == "lastFundedMonth"
    with pytest.raises(FundingNotMarked):
        registry.end_funding(CALLER, GIRL_AT_A, "MUNICIPAL", "2026-09")
    assert uow.committed == committed
    assert claimed(uow, GIRL_CODE) == [SEP, OCT]


def test_ending_an_unknown_funding_type_is_refused(registry: Registry) -> None:
    with pytest.raises(UnknownClassifierCode) as caught:
        registry.end_funding(CALLER, GIRL_AT_A, "NVS_KREPSELIS", "2026-10")
    assert caught.value.field == "fundingTypeCode"
    with pytest.raises(InvalidMonth) as caught_month:
        registry.end_funding(CALLER, GIRL_AT_A, "NVS_BASKET", "spalis")
    assert caught_month.value.field == "lastFundedMonth"


def test_getting_funding_returns_the_marks_ordered_by_first_month_then_type(registry: Registry) -> None:
    assert registry.get_funding(CALLER, GIRL_AT_A).marks == []
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, "STATE", from_month="2026-11"))
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, "NVS_BASKET", "MUNICIPAL", to_month="2026-10"))
    view = registry.get_funding(CALLER, GIRL_AT_A)
    assert view.registration_id == GIRL_AT_A
    assert [(m.funding_type, m.from_month, m.to_month) for m in view.marks] == [
        ("MUNICIPAL", SEP, OCT),
        ("NVS_BASKET", SEP, OCT),
        ("STATE", NOV, AUG),
    ]


# --- deregistration and cancellation ------------------------------------------------------------------
def test_deregistration_ends_every_mark_at_the_month_of_departure_and_frees_the_later_basket_months(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A))  # the basket, 2026-09 to 2027-08
    registry.mark_funding(
        CALLER, funding_of(GIRL_AT_A, "MUNICIPAL", from_month="2026-11")
    )  # starts after the departure
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, "STATE", to_month="2026-09"))  # ends before it
    registry.deregister_student(CALLER, GIRL_AT_A, Departure(date(2026, 10, 20), "OTHER_PROVIDER"))
    assert uow.stored.registrations[GIRL_AT_A].status is RegistrationStatus.DEREGISTERED
    assert stored_marks(uow, GIRL_AT_A) == [("NVS_BASKET", SEP, OCT), ("STATE", SEP, SEP)]
    assert claimed(uow, GIRL_CODE) == [SEP, OCT]
    assert free_months(registry, GIRL_CODE) == NOV.through(AUG)
    # The new provider takes the basket over from the next month.
    registry.mark_funding(OTHER_CALLER, funding_of(GIRL_AT_B, from_month="2026-11"))
    assert free_months(registry, GIRL_CODE) == []
    with pytest.raises(BasketAlreadyClaimed) as caught:
        registry.mark_funding(OTHER_CALLER, funding_of(GIRL_AT_B, from_month="2026-10", to_month="2026-10"))
    assert "2026-10" in caught.value.message


def test_deregistration_removes_a_basket_mark_starting_after_the_departure_month(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, to_month="2026-09"))
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, from_month="2026-11", to_month="2027-01"))
    registry.deregister_student(CALLER, GIRL_AT_A, Departure(date(2026, 10, 20), "PARENTS_REQUEST"))
    assert stored_marks(uow, GIRL_AT_A) == [("NVS_BASKET", SEP, SEP)]
    assert claimed(uow, GIRL_CODE) == [SEP]
    assert free_months(registry, GIRL_CODE, "2026-09", "2027-01") == [OCT, NOV, DEC, JAN]


def test_deregistration_without_marks_changes_no_funding(registry: Registry, uow: FakeUnitOfWork) -> None:
    registry.deregister_student(CALLER, GIRL_AT_A, Departure(date(2026, 10, 1), "PARENTS_REQUEST"))
    assert uow.stored.funding_marks == {} and uow.stored.basket_claims == {}


def test_a_departure_in_the_first_month_keeps_that_month_funded(registry: Registry, uow: FakeUnitOfWork) -> None:
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A))
    registry.deregister_student(CALLER, GIRL_AT_A, Departure(date(2026, 9, 1), "PARENTS_REQUEST"))
    assert stored_marks(uow, GIRL_AT_A) == [("NVS_BASKET", SEP, SEP)]
    assert claimed(uow, GIRL_CODE) == [SEP]


def test_cancelling_a_registration_removes_its_marks_and_frees_every_month(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, "NVS_BASKET", "MUNICIPAL"))
    registry.mark_funding(CALLER, funding_of(BOY_AT_A))
    registry.cancel_registration(CALLER, GIRL_AT_A, "entered by mistake")
    assert uow.stored.registrations[GIRL_AT_A].status is RegistrationStatus.CANCELLED
    assert stored_marks(uow, GIRL_AT_A) == []
    assert registry.get_funding(CALLER, GIRL_AT_A).marks == []
    assert claimed(uow, GIRL_CODE) == []
    assert free_months(registry, GIRL_CODE) == SCHOOL_YEAR_MONTHS
    assert claimed(uow, BOY_CODE) == SCHOOL_YEAR_MONTHS  # another child's claims are untouched
    # The other provider may now claim the whole year, September included.
    registry.mark_funding(OTHER_CALLER, funding_of(GIRL_AT_B))
    assert claimed(uow, GIRL_CODE) == SCHOOL_YEAR_MONTHS


def test_cancelling_a_deregistered_registration_frees_its_remaining_months(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A))
    registry.deregister_student(CALLER, GIRL_AT_A, Departure(date(2026, 10, 2), "PARENTS_REQUEST"))
    registry.cancel_registration(CALLER, GIRL_AT_A, "entered by mistake")
    assert stored_marks(uow, GIRL_AT_A) == [] and claimed(uow, GIRL_CODE) == []


def test_correcting_the_first_learning_date_later_leaves_no_basket_month_before_it(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, to_month="2026-12"))
    try:
        registry.correct_registration(CALLER, GIRL_AT_A, date(2026, 11, 2), None)
    except RequestRejected:
        return  # refusing the correction while funding is marked before the new date is also acceptable
    assert claimed(uow, GIRL_CODE) == [NOV, DEC]
    assert all(m.from_month >= NOV for m in uow.stored.funding_marks.values())


# --- another institution's registration -------------------------------------------------------------
def test_another_institutions_registration_is_not_found_for_any_funding_operation(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    registry.mark_funding(OTHER_CALLER, funding_of(GIRL_AT_B, "MUNICIPAL", to_month="2026-12"))
    committed = uow.committed
    with pytest.raises(RegistrationNotFound) as caught:
        registry.get_funding(CALLER, GIRL_AT_B)
    assert caught.value.field == "registrationId"
    with pytest.raises(RegistrationNotFound):
        registry.mark_funding(CALLER, funding_of(GIRL_AT_B))
    with pytest.raises(RegistrationNotFound):
        registry.end_funding(CALLER, GIRL_AT_B, "MUNICIPAL", "2026-10")
    with pytest.raises(RegistrationNotFound):
        registry.get_funding(CALLER, 999)
    assert uow.committed == committed
    assert stored_marks(uow, GIRL_AT_B) == [("MUNICIPAL", SEP, DEC)]
    assert uow.stored.basket_claims == {}


# --- basket availability ------------------------------------------------------------------------------
def test_availability_answers_per_month_with_yes_or_no_only(registry: Registry) -> None:
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, from_month="2026-10", to_month="2026-11"))
    answer = registry.check_basket_availability(OTHER_CALLER, GIRL_CODE, "2026-09", "2026-12")
    assert answer == [(SEP, True), (OCT, False), (NOV, False), (DEC, True)]


def test_availability_of_a_child_nobody_claimed_is_all_free(registry: Registry) -> None:
    unknown = valid_code("6190505123")
    assert registry.check_basket_availability(CALLER, unknown, "2026-09", "2026-09") == [(SEP, True)]


def test_availability_may_be_asked_for_up_to_24_months(registry: Registry) -> None:
    answer = registry.check_basket_availability(CALLER, GIRL_CODE, "2026-01", "2027-12")
    assert len(answer) == 24 and answer[0][0] == Month(2026, 1) and answer[-1][0] == Month(2027, 12)


@pytest.mark.parametrize(
    "from_month, to_month",
    [("2026-01", "2028-01"), ("2026-12", "2026-11")],
    ids=["25-months", "reversed"],
)
def test_availability_for_more_than_24_months_or_a_reversed_range_is_an_invalid_period(
    registry: Registry, from_month: str, to_month: str
) -> None:
    with pytest.raises(InvalidFundingPeriod) as caught:
        registry.check_basket_availability(CALLER, GIRL_CODE, from_month, to_month)
    assert caught.value.field == "toMonth"


def test_availability_for_an_invalid_personal_code_is_refused(
    registry: Registry, population_register: InMemoryPopulationRegister
) -> None:
    wrong_check_digit = GIRL_CODE[:10] + str((int(GIRL_CODE[10]) + 1) % 10)
    for code in (wrong_check_digit, "123", ""):
        with pytest.raises(InvalidPersonalCode) as caught:
            registry.check_basket_availability(CALLER, code, "2026-09", "2026-12")
        assert caught.value.field == "personalCode"
    assert population_register.calls == 0


def test_availability_with_an_invalid_month_is_refused(registry: Registry) -> None:
    with pytest.raises(InvalidMonth) as caught:
        registry.check_basket_availability(CALLER, GIRL_CODE, "2026-09", "2026/12")
    assert caught.value.field == "toMonth"


# --- the basket calculation ---------------------------------------------------------------------------
def test_the_basket_calculation_counts_only_the_callers_institution(registry: Registry) -> None:
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, to_month="2026-10", special_needs=True))
    registry.mark_funding(CALLER, funding_of(BOY_AT_A, to_month="2026-10"))
    registry.mark_funding(CALLER, funding_of(BOY_AT_A, "MUNICIPAL"))  # not the basket: not counted
    registry.mark_funding(OTHER_CALLER, funding_of(THIRD_AT_B, to_month="2026-10"))
    registry.mark_funding(OTHER_CALLER, funding_of(GIRL_AT_B, from_month="2026-11", to_month="2026-11"))
    # Provider A (Vilnius, 25.00): the girl with SEN 25 x 2.0 = 50.00, the boy 25.00: 2 children, 75.00 a month;
    # November: nobody at A.
    a_lines = registry.calculate_basket(CALLER, "2026-09", "2026-11")
    assert [(r.line, r.institution_name, r.municipality_code) for r in a_lines] == [
        (
            BasketLine(PROVIDER_CODE, SEP, 2, Decimal("25.00"), Decimal("75.00")),
            "Vilniaus Bandomoji muzikos mokykla",
            "13",
        ),
        (
            BasketLine(PROVIDER_CODE, OCT, 2, Decimal("25.00"), Decimal("75.00")),
            "Vilniaus Bandomoji muzikos mokykla",
            "13",
        ),
    ]
    # Provider B (municipality 19, the general 20.00): the third child in September and October, the girl in November.
    b_lines = registry.calculate_basket(OTHER_CALLER, "2026-09", "2026-12")
    assert [(r.line, r.institution_name, r.municipality_code) for r in b_lines] == [
        (BasketLine(OTHER_PROVIDER_CODE, SEP, 1, Decimal("20.00"), Decimal("20.00")), OTHER_PROVIDER_NAME, "19"),
        (BasketLine(OTHER_PROVIDER_CODE, OCT, 1, Decimal("20.00"), Decimal("20.00")), OTHER_PROVIDER_NAME, "19"),
        (BasketLine(OTHER_PROVIDER_CODE, NOV, 1, Decimal("20.00"), Decimal("20.00")), OTHER_PROVIDER_NAME, "19"),
    ]


def test_the_basket_calculation_follows_ended_funding(registry: Registry) -> None:
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, to_month="2026-10"))
    registry.mark_funding(CALLER, funding_of(BOY_AT_A, to_month="2026-10"))
    registry.end_funding(CALLER, GIRL_AT_A, "NVS_BASKET", "2026-09")
    # September: 2 x 25 = 50.00; October: only the boy, 25.00.
    lines = [r.line for r in registry.calculate_basket(CALLER, "2026-09", "2026-10")]
    assert lines == [
        BasketLine(PROVIDER_CODE, SEP, 2, Decimal("25.00"), Decimal("50.00")),
        BasketLine(PROVIDER_CODE, OCT, 1, Decimal("25.00"), Decimal("25.00")),
    ]


def test_the_basket_calculation_applies_the_priority_factor_of_a_steam_program(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    robotics = "120000011"
    uow.seed(
        a_program(code=robotics, name="Robotika", direction_codes=("IT",)),
        a_group(id=5, program_code=robotics, name="Robotika", sub_direction_codes=("IT.OTHER",)),
        a_registration(id=7, personal_code=BOY_CODE, group_id=5),
    )
    uow.stored.rates[:] = [BasketRate("13", Month(2024, 4), Decimal("15.00"), priority_factor=Decimal("1.333"))]
    registry.mark_funding(CALLER, funding_of(7, from_month="2026-09", to_month="2026-09"))
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, from_month="2026-09", to_month="2026-09"))
    # September: the boy in robotics 15 x 1.333 = 19.995, the girl in piano 15.00: 34.995 -> 35.00 (half-up).
    (report,) = registry.calculate_basket(CALLER, "2026-09", "2026-09")
    assert report.line == BasketLine(PROVIDER_CODE, SEP, 2, Decimal("15.00"), Decimal("35.00"))


def test_the_basket_calculation_of_months_without_claims_is_empty(registry: Registry) -> None:
    assert registry.calculate_basket(CALLER, "2026-09", "2027-08") == []


def test_the_basket_calculation_without_a_rate_in_force_is_refused(registry: Registry, uow: FakeUnitOfWork) -> None:
    registry.mark_funding(CALLER, funding_of(GIRL_AT_A, to_month="2026-10"))
    uow.stored.rates.clear()
    with pytest.raises(BasketRateMissing):
        registry.calculate_basket(CALLER, "2026-09", "2026-10")


@pytest.mark.parametrize("from_month, to_month", [("2026-10", "2026-09"), ("2025-01", "2027-01")])
def test_the_basket_calculation_for_a_reversed_or_too_long_period_is_refused(
    registry: Registry, from_month: str, to_month: str
) -> None:
    with pytest.raises(InvalidFundingPeriod):
        registry.calculate_basket(CALLER, from_month, to_month)
