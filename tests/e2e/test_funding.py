"""The NVŠ basket as two providers live it, over real HTTP (issue: funding)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from zeep.exceptions import Fault

from tests.e2e.helpers import child_code, fault_detail, registry_client

YEAR = "2026-2027"
FIRST_DAY = dt.date(2026, 9, 1)
MUSIC_SCHOOL, MUSIC_PROGRAM = "300000011", "100000112"  # Anykščiai: the general rate (20 EUR)
ENGINEERS, ENGINEERS_PROGRAM = "300000021", "100000211"  # Vilnius city: 25 EUR from 2024-04
FSPU_PROGRAM = "100000111"
NOT_ACCREDITED_PROGRAM = "100000123"  # of 300000012


def service_of(gateway, institution_code: str):
    user = gateway.database.user(institution_code)
    return registry_client(gateway.wsdl_url, user.username, user.password).service


def register(service, child: str, program: str, sub_direction: str, group_name: str = "G") -> int:
    group = service.CreateGroup(schoolYear=YEAR, programCode=program, name=group_name, subDirectionCode=[sub_direction])
    registered = service.RegisterStudent(
        personalCode=child,
        groupId=group.groupId,
        firstLearningDate=FIRST_DAY,
        contract={"typeCode": "BILATERAL", "date": FIRST_DAY, "number": "S-1"},
    )
    return registered.registration.registrationId


def availability(service, child: str) -> dict[str, bool]:
    answer = service.CheckBasketAvailability(personalCode=child, fromMonth="2026-09", toMonth="2026-12")
    months = {m.month: m.available for m in answer.month}
    assert answer.available == all(months.values())
    return months


def test_two_providers_share_a_child_and_switch_the_basket_at_a_month_boundary(live_gateway) -> None:
    first, second = service_of(live_gateway, MUSIC_SCHOOL), service_of(live_gateway, ENGINEERS)
    child = child_code(dt.date(2015, 4, 10), 17)
    first_registration = register(first, child, MUSIC_PROGRAM, "MUSIC.PIANO")
    second_registration = register(second, child, ENGINEERS_PROGRAM, _sub_direction_of_it())
    assert availability(second, child) == {"2026-09": True, "2026-10": True, "2026-11": True, "2026-12": True}

    marked = first.MarkFunding(
        registrationId=first_registration, fundingTypeCode=["NVS_BASKET"], fromMonth="2026-09", toMonth="2026-12"
    )
    assert [(m.fundingTypeCode, m.fromMonth, m.toMonth) for m in marked.mark] == [("NVS_BASKET", "2026-09", "2026-12")]
    assert availability(second, child) == {"2026-09": False, "2026-10": False, "2026-11": False, "2026-12": False}

    before = live_gateway.database.snapshot()
    with pytest.raises(Fault) as refused:
        second.MarkFunding(
            registrationId=second_registration, fundingTypeCode=["NVS_BASKET"], fromMonth="2026-11", toMonth="2026-12"
        )
    detail = fault_detail(refused.value)
    assert detail["code"] == "BasketAlreadyClaimed"
    assert "2026-11 to 2026-12" in detail["message"]
    assert MUSIC_SCHOOL not in detail["message"] and "Anykšči" not in detail["message"]  # never who holds it
    assert live_gateway.database.snapshot() == before
    assert live_gateway.database.count("funding_mark") == 1

    ended = first.EndFunding(registrationId=first_registration, fundingTypeCode="NVS_BASKET", lastFundedMonth="2026-10")
    assert [(m.fromMonth, m.toMonth) for m in ended.mark] == [("2026-09", "2026-10")]
    assert availability(second, child) == {"2026-09": False, "2026-10": False, "2026-11": True, "2026-12": True}

    switched = second.MarkFunding(
        registrationId=second_registration,
        fundingTypeCode=["NVS_BASKET", "MUNICIPAL"],
        fromMonth="2026-11",
        toMonth="2026-12",
    )
    assert sorted((m.fundingTypeCode, m.fromMonth, m.toMonth) for m in switched.mark) == [
        ("MUNICIPAL", "2026-11", "2026-12"),
        ("NVS_BASKET", "2026-11", "2026-12"),
    ]
    assert availability(first, child) == {"2026-09": False, "2026-10": False, "2026-11": False, "2026-12": False}
    assert [(m.fundingTypeCode, m.toMonth) for m in first.GetFunding(registrationId=first_registration).mark] == [
        ("NVS_BASKET", "2026-10")
    ]

    first_report = first.CalculateBasket(fromMonth="2026-09", toMonth="2026-12")
    assert [(line.month, line.fundedChildren, line.rate, line.amount) for line in first_report.line] == [
        ("2026-09", 1, Decimal("20.00"), Decimal("20.00")),
        ("2026-10", 1, Decimal("20.00"), Decimal("20.00")),
    ]
    assert first_report.totalAmount == Decimal("40.00")
    second_report = second.CalculateBasket(fromMonth="2026-09", toMonth="2026-12")
    assert [(line.institutionCode, line.month, line.fundedChildren, line.amount) for line in second_report.line] == [
        (ENGINEERS, "2026-11", 1, Decimal("25.00")),
        (ENGINEERS, "2026-12", 1, Decimal("25.00")),
    ]
    assert second_report.totalAmount == Decimal("50.00")


def _sub_direction_of_it() -> str:
    from gateway.reference_data import load_classifiers

    program_directions = ("TECHCREAT", "IT")
    return next(e.code for e in load_classifiers().entries("nvs-sub-direction") if e.parent in program_directions)


def test_deregistration_ends_the_basket_with_the_month_of_departure_and_cancellation_frees_it(live_gateway) -> None:
    first = service_of(live_gateway, MUSIC_SCHOOL)
    child = child_code(dt.date(2014, 2, 2), 18)
    registration = register(first, child, MUSIC_PROGRAM, "MUSIC.PIANO")
    first.MarkFunding(registrationId=registration, fundingTypeCode=["NVS_BASKET"], fromMonth="2026-09")
    assert first.GetFunding(registrationId=registration).mark[0].toMonth == "2027-08"  # to the end of the school year

    first.DeregisterStudent(
        registrationId=registration, departureDate=dt.date(2026, 10, 15), departureReasonCode="PARENTS_REQUEST"
    )
    assert [(m.fromMonth, m.toMonth) for m in first.GetFunding(registrationId=registration).mark] == [
        ("2026-09", "2026-10")
    ]
    assert availability(first, child) == {"2026-09": False, "2026-10": False, "2026-11": True, "2026-12": True}

    other = register(first, child, MUSIC_PROGRAM, "MUSIC.PIANO", group_name="G2")
    first.MarkFunding(registrationId=other, fundingTypeCode=["NVS_BASKET"], fromMonth="2026-11", toMonth="2026-12")
    first.CancelRegistration(registrationId=other, reason="Entered by mistake")
    assert availability(first, child)["2026-11"] is True
    assert first.GetFunding(registrationId=other).mark == []


@pytest.mark.parametrize(
    "institution, program, sub_direction, born, months, expected",
    [
        (
            MUSIC_SCHOOL,
            FSPU_PROGRAM,
            "MUSIC.PIANO",
            dt.date(2015, 1, 1),
            ("2026-09", "2026-12"),
            "BasketProgramNotEligible",
        ),
        (
            "300000012",
            NOT_ACCREDITED_PROGRAM,
            "MUSIC.PIANO",
            dt.date(2015, 1, 1),
            ("2026-09", "2026-12"),
            "BasketProgramNotEligible",
        ),
        (
            MUSIC_SCHOOL,
            MUSIC_PROGRAM,
            "MUSIC.PIANO",
            dt.date(2006, 10, 15),
            ("2026-09", "2026-12"),
            "BasketAgeOutOfRange",
        ),  # 20 from 2026-10-15
        (
            MUSIC_SCHOOL,
            MUSIC_PROGRAM,
            "MUSIC.PIANO",
            dt.date(2020, 12, 2),
            ("2026-09", "2026-12"),
            "BasketAgeOutOfRange",
        ),  # 5 on 2026-12-01
        (
            MUSIC_SCHOOL,
            MUSIC_PROGRAM,
            "MUSIC.PIANO",
            dt.date(2015, 1, 1),
            ("2026-08", "2026-12"),
            "FundingOutsideRegistration",
        ),
        (
            MUSIC_SCHOOL,
            MUSIC_PROGRAM,
            "MUSIC.PIANO",
            dt.date(2015, 1, 1),
            ("2026-09", "2027-09"),
            "FundingOutsideRegistration",
        ),
        (
            MUSIC_SCHOOL,
            MUSIC_PROGRAM,
            "MUSIC.PIANO",
            dt.date(2015, 1, 1),
            ("2026-12", "2026-09"),
            "InvalidFundingPeriod",
        ),
    ],
    ids=["fspu", "not-accredited", "too-old", "too-young", "before-registration", "after-school-year", "backwards"],
)
def test_basket_claims_the_rules_forbid_are_refused_with_their_fault(
    live_gateway, institution, program, sub_direction, born, months, expected
) -> None:
    service = service_of(live_gateway, institution)
    registration = register(service, child_code(born, 19), program, sub_direction)
    before = live_gateway.database.snapshot()
    with pytest.raises(Fault) as refused:
        service.MarkFunding(
            registrationId=registration, fundingTypeCode=["NVS_BASKET"], fromMonth=months[0], toMonth=months[1]
        )
    assert fault_detail(refused.value)["code"] == expected
    assert live_gateway.database.snapshot() == before and live_gateway.database.count("funding_mark") == 0


def test_other_funding_types_are_not_exclusive(live_gateway) -> None:
    first, second = service_of(live_gateway, MUSIC_SCHOOL), service_of(live_gateway, ENGINEERS)
    child = child_code(dt.date(2013, 3, 3), 20)
    for service, program, sub in (
        (first, MUSIC_PROGRAM, "MUSIC.PIANO"),
        (second, ENGINEERS_PROGRAM, _sub_direction_of_it()),
    ):
        registration = register(service, child, program, sub)
        marked = service.MarkFunding(
            registrationId=registration, fundingTypeCode=["MUNICIPAL", "STATE"], fromMonth="2026-09", toMonth="2026-12"
        )
        assert len(marked.mark) == 2
    assert availability(first, child) == {"2026-09": True, "2026-10": True, "2026-11": True, "2026-12": True}


def test_funding_of_another_institutions_registration_is_not_found(live_gateway) -> None:
    first, second = service_of(live_gateway, MUSIC_SCHOOL), service_of(live_gateway, ENGINEERS)
    registration = register(first, child_code(dt.date(2013, 3, 3), 21), MUSIC_PROGRAM, "MUSIC.PIANO")
    for attempt in (
        lambda: second.MarkFunding(registrationId=registration, fundingTypeCode=["NVS_BASKET"], fromMonth="2026-09"),
        lambda: second.GetFunding(registrationId=registration),
        lambda: second.EndFunding(registrationId=registration, fundingTypeCode="NVS_BASKET", lastFundedMonth="2026-09"),
    ):
        with pytest.raises(Fault) as refused:
            attempt()
        assert fault_detail(refused.value)["code"] == "RegistrationNotFound"
