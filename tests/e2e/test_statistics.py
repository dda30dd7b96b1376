"""GetStatistics (the REPORTS menu) over real HTTP, on SQLite and PostgreSQL: its totals are the lists'
counts for the same caller, its lines split them by what they are grouped by, and a wrong period is a
clear fault."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal

import pytest
from zeep.exceptions import Fault

from gateway.domain.calendar import Month, SchoolYear
from tests.e2e.helpers import child_code, fault_detail, registry_client
from tests.e2e.test_list_scopes import ANYKSCIAI_COORDINATOR, VILNIUS_COORDINATOR, VILNIUS_PROGRAM
from tests.e2e.test_lists import (
    FIRST_DAY,
    MUSIC_PROGRAM,
    MUSIC_SCHOOL,
    VILNIUS_MUSIC,
    VILNIUS_SCHOOL,
    YEAR,
    all_pages,
    contract,
    service_of,
)

SCHOOL_YEAR = SchoolYear.parse(YEAR)
MONTHS = [str(m) for m in Month.of(SCHOOL_YEAR.starts_on).through(Month.of(SCHOOL_YEAR.ends_on))]


def arrange(gateway) -> dict[str, str]:
    """Two providers in two municipalities: learners of several ages and both sexes, a departure, basket
    months, and a general-education school's club marks. The children's codes by role."""
    anyksciai, vilnius = service_of(gateway, MUSIC_SCHOOL), service_of(gateway, VILNIUS_MUSIC)
    children = {
        "young": child_code(dt.date(2020, 3, 4), 811),
        "girl": child_code(dt.date(2016, 7, 8), 812, male=False),
        "teen": child_code(dt.date(2012, 1, 2), 813),
        "leaver": child_code(dt.date(2015, 5, 6), 814, male=False),
        "vilnius": child_code(dt.date(2014, 9, 10), 815),
    }
    group = anyksciai.CreateGroup(
        schoolYear=YEAR, programCode=MUSIC_PROGRAM, name="Statistika", subDirectionCode=["MUSIC.PIANO"]
    )
    registered = {}
    for role in ("young", "girl", "teen", "leaver"):
        registered[role] = anyksciai.RegisterStudent(
            personalCode=children[role],
            groupId=group.groupId,
            firstLearningDate=FIRST_DAY,
            contract=contract(FIRST_DAY),
        ).registration.registrationId
    for role, last in (("girl", "2026-11"), ("teen", "2026-10")):
        anyksciai.MarkFunding(
            registrationId=registered[role], fundingTypeCode=["NVS_BASKET"], fromMonth="2026-09", toMonth=last
        )
    anyksciai.DeregisterStudent(
        registrationId=registered["leaver"], departureDate=dt.date(2026, 10, 20), departureReasonCode="PARENTS_REQUEST"
    )
    vilnius_group = vilnius.CreateGroup(
        schoolYear=YEAR, programCode=VILNIUS_PROGRAM, name="Statistika", subDirectionCode=["MUSIC.PIANO"]
    )
    vilnius.RegisterStudent(
        personalCode=children["vilnius"],
        groupId=vilnius_group.groupId,
        firstLearningDate=FIRST_DAY,
        contract=contract(FIRST_DAY),
    )
    school = service_of(gateway, VILNIUS_SCHOOL)
    school.MarkClubAttendance(
        personalCode=children["vilnius"], schoolYear=YEAR, directionCode=["SPORT"], subDirectionCode=["MUSIC.PIANO"]
    )
    school.MarkClubAttendance(personalCode=children["teen"], schoolYear=YEAR, directionCode=["ART"])
    return children


def what_the_lists_count(service) -> dict[str, object]:
    year = {"fromDate": SCHOOL_YEAR.starts_on, "toDate": SCHOOL_YEAR.ends_on}
    departures = all_pages(service.ListDepartures, "departure", **year)
    return {
        "learners": len(all_pages(service.ListLearners, "learner", schoolYear=YEAR)),
        "arrivals": len(all_pages(service.ListArrivals, "arrival", **year)),
        "departures": Counter(r.departureReasonCode for r in departures),
        "basketRecipients": sum(len(all_pages(service.ListBasketRecipients, "recipient", month=m)) for m in MONTHS),
        "clubAttendance": len(all_pages(service.ListClubAttendance, "attendance", schoolYear=YEAR)),
    }


def counted(counts) -> dict[str, object]:
    return {
        "learners": counts.learners,
        "arrivals": counts.arrivals,
        "departures": Counter({d.reasonCode: d.count for d in counts.departure}),
        "basketRecipients": counts.basketRecipients,
        "clubAttendance": counts.clubAttendance,
    }


def test_the_totals_are_the_lists_counts_for_every_kind_of_caller(live_gateway) -> None:
    arrange(live_gateway)
    admin = live_gateway.database.user_named("sandbox-admin")
    callers = {
        "provider": service_of(live_gateway, MUSIC_SCHOOL),
        "school": service_of(live_gateway, VILNIUS_SCHOOL),
        "Anykščiai coordinator": registry_client(live_gateway.wsdl_url, *ANYKSCIAI_COORDINATOR).service,
        "Vilnius coordinator": registry_client(live_gateway.wsdl_url, *VILNIUS_COORDINATOR).service,
        "administrator": registry_client(live_gateway.wsdl_url, admin.username, admin.password).service,
    }
    seen = {}
    for who, service in callers.items():
        statistics = service.GetStatistics(schoolYear=YEAR, groupBy=["municipality"])
        assert counted(statistics.total) == what_the_lists_count(service), who
        assert statistics.total.departures == sum(d.count for d in statistics.total.departure), who
        # A line per municipality: each row has one, so the lines add up to the total.
        for measure in ("learners", "arrivals", "departures", "basketRecipients", "clubAttendance"):
            assert sum(getattr(line.counts, measure) for line in statistics.line) == getattr(statistics.total, measure)
        seen[who] = statistics.total
    # The arrangement itself, as the provider sees it: three learners, one left; 3 + 2 basket months.
    provider = seen["provider"]
    assert (provider.learners, provider.arrivals, provider.departures, provider.basketRecipients) == (3, 4, 1, 5)
    # Vilnius' coordinator sees the children of its territory: the Vilnius provider's learner, and the
    # teenager learning in Anykščiai who goes to school in Vilnius (rules.md, Municipality scope).
    vilnius = seen["Vilnius coordinator"]
    assert (vilnius.learners, vilnius.clubAttendance, vilnius.basketRecipients) == (2, 2, 2)
    assert seen["administrator"].learners >= provider.learners + 1


def test_a_basket_amount_is_what_the_basket_calculation_says(live_gateway) -> None:
    arrange(live_gateway)
    provider = service_of(live_gateway, MUSIC_SCHOOL)
    statistics = provider.GetStatistics(schoolYear=YEAR, groupBy=["provider"])
    calculated = provider.CalculateBasket(fromMonth=MONTHS[0], toMonth=MONTHS[-1])
    assert statistics.total.basketAmount == calculated.totalAmount > Decimal("0")
    [line] = statistics.line
    assert [(g.dimension, g.code, g.name) for g in line.group] == [
        ("provider", MUSIC_SCHOOL, "Anykščių muzikos mokykla")
    ]


def test_a_months_statistics_count_that_months_lists(live_gateway) -> None:
    arrange(live_gateway)
    provider = service_of(live_gateway, MUSIC_SCHOOL)
    november = provider.GetStatistics(month="2026-11", groupBy=["sex"]).total
    assert november.arrivals == len(
        all_pages(provider.ListArrivals, "arrival", fromDate=dt.date(2026, 11, 1), toDate=dt.date(2026, 11, 30))
    )
    assert november.basketRecipients == len(all_pages(provider.ListBasketRecipients, "recipient", month="2026-11")) == 1
    october = provider.GetStatistics(month="2026-10", groupBy=["sex"]).total
    assert (october.departures, october.basketRecipients) == (1, 2)
    # Who learnt in October: the leaver too (gone on the 20th); in November, not.
    assert (october.learners, november.learners) == (4, 3)


def test_lines_by_age_band_and_sex_split_the_learners(live_gateway) -> None:
    arrange(live_gateway)
    provider = service_of(live_gateway, MUSIC_SCHOOL)
    statistics = provider.GetStatistics(schoolYear=YEAR, groupBy=["ageBand", "sex"])
    learners = {
        tuple(g.code for g in line.group): line.counts.learners for line in statistics.line if line.counts.learners
    }
    # Ages on 1 September 2026: 6, 10 (a girl) and 14; the girl who left is not a learner now.
    assert learners == {("0-6", "M"): 1, ("7-10", "F"): 1, ("11-14", "M"): 1}
    by_direction = provider.GetStatistics(schoolYear=YEAR, groupBy=["direction"])
    assert [(tuple(g.code for g in line.group), line.counts.learners) for line in by_direction.line] == [
        (("MUSIC",), 3)
    ]


def test_a_period_must_be_one_school_year_or_one_month(live_gateway) -> None:
    provider = service_of(live_gateway, MUSIC_SCHOOL)
    for period in ({}, {"schoolYear": YEAR, "month": "2026-10"}):
        with pytest.raises(Fault) as refused:
            provider.GetStatistics(groupBy=["sex"], **period)
        detail = fault_detail(refused.value)
        assert (detail["code"], detail["field"]) == ("OnePeriodRequired", "schoolYear"), detail["message"]
