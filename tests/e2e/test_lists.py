"""Lists and clubs as a new user of the sandbox lives them, over real HTTP (zeep -> waitress -> Spyne),
on SQLite and PostgreSQL. Responses are validated against the XSD on the way out."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from zeep.exceptions import Fault

from tests.e2e.helpers import child_code, fault_detail, registry_client

YEAR = "2026-2027"
FIRST_DAY = dt.date(2026, 9, 1)
MUSIC_SCHOOL, MUSIC_PROGRAM = "300000011", "100000112"  # Anykščiai (34)
VILNIUS_MUSIC = "300000012"
VILNIUS_SCHOOL = "300000041"  # a general-education school in Vilnius city (13)


def service_of(gateway, institution_code: str):
    user = gateway.database.user(institution_code)
    return registry_client(gateway.wsdl_url, user.username, user.password).service


def contract(day: dt.date) -> dict:
    return {"typeCode": "BILATERAL", "date": day, "number": "S-1"}


def all_pages(operation, row_name: str, **request) -> list:
    """Follow nextCursor to the end; every page but the last is full."""
    rows: list[Any] = []  # zeep's row objects
    cursor = None
    while True:
        page = operation(cursor=cursor, **request)
        found = getattr(page, row_name) or []
        rows.extend(found)
        if page.nextCursor is None:
            return rows
        assert len(found) == request.get("pageSize", 100)
        cursor = page.nextCursor


def test_a_providers_learners_arrivals_and_departures_match_what_it_registered(live_gateway) -> None:
    provider = service_of(live_gateway, MUSIC_SCHOOL)
    group = provider.CreateGroup(
        schoolYear=YEAR, programCode=MUSIC_PROGRAM, name="Ansamblis", subDirectionCode=["MUSIC.PIANO"]
    )
    registered = {}
    for n in range(5):
        day = FIRST_DAY + dt.timedelta(days=7 * n)
        child = child_code(dt.date(2015, 2, 1 + n), 200 + n)
        registered[child] = provider.RegisterStudent(
            personalCode=child, groupId=group.groupId, firstLearningDate=day, contract=contract(day)
        ).registration
    children = list(registered)
    provider.DeregisterStudent(
        registrationId=registered[children[1]].registrationId,
        departureDate=dt.date(2026, 10, 20),
        departureReasonCode="PARENTS_REQUEST",
    )
    provider.CancelRegistration(registrationId=registered[children[2]].registrationId, reason="Entered by mistake")

    learners = all_pages(provider.ListLearners, "learner", schoolYear=YEAR, pageSize=2)
    assert [r.person.personalCode for r in learners] == [children[0], children[3], children[4]]
    first = learners[0]
    assert (first.status, first.institutionCode, first.groupId, first.groupName, first.programName) == (
        "active",
        MUSIC_SCHOOL,
        group.groupId,
        "Ansamblis",
        "Ansamblinis muzikavimas",
    )
    assert first.person.firstName == registered[children[0]].person.firstName
    assert first.firstLearningDate == FIRST_DAY and first.departureDate is None

    september = all_pages(
        provider.ListArrivals, "arrival", fromDate=dt.date(2026, 9, 1), toDate=dt.date(2026, 9, 30), pageSize=1
    )
    assert [r.person.personalCode for r in september] == [
        children[0],
        children[1],
        children[3],
        children[4],
    ]  # not the cancelled one
    assert [r.status for r in september] == ["active", "deregistered", "active", "active"]

    departures = provider.ListDepartures(fromDate=dt.date(2026, 10, 1), toDate=dt.date(2026, 10, 31))
    assert [(r.person.personalCode, r.departureDate, r.departureReasonCode) for r in departures.departure] == [
        (children[1], dt.date(2026, 10, 20), "PARENTS_REQUEST")
    ]
    assert departures.departure[0].departureReasonName and departures.nextCursor is None

    other = service_of(live_gateway, VILNIUS_MUSIC)  # another provider sees none of it
    assert other.ListLearners(schoolYear=YEAR).learner == []
    assert other.ListArrivals(fromDate=dt.date(2026, 9, 1), toDate=dt.date(2026, 9, 30)).arrival == []


def test_a_general_education_school_marks_clubs_and_the_clubs_list_shows_them(live_gateway) -> None:
    school = service_of(live_gateway, VILNIUS_SCHOOL)
    pupil, other_pupil = child_code(dt.date(2014, 6, 1), 301), child_code(dt.date(2013, 3, 3), 302)
    marked = school.MarkClubAttendance(
        personalCode=pupil,
        schoolYear=YEAR,
        directionCode=["SPORT"],
        subDirectionCode=["MUSIC.PIANO"],
        fromDate=dt.date(2026, 9, 15),
    )
    assert (marked.institutionCode, marked.schoolYear, marked.directionCode, marked.subDirectionCode) == (
        VILNIUS_SCHOOL,
        YEAR,
        ["SPORT"],
        ["MUSIC.PIANO"],
    )
    assert marked.person.personalCode == pupil and marked.person.firstName and marked.endDate is None
    school.MarkClubAttendance(personalCode=other_pupil, schoolYear=YEAR, directionCode=["ART"])

    listed = school.ListClubAttendance(schoolYear=YEAR)
    assert [(a.person.personalCode, a.directionCode, a.subDirectionCode) for a in listed.attendance] == [
        (pupil, ["SPORT"], ["MUSIC.PIANO"]),
        (other_pupil, ["ART"], []),
    ]
    music = school.ListClubAttendance(schoolYear=YEAR, directionCode="MUSIC")  # through the sub-direction
    assert [a.person.personalCode for a in music.attendance] == [pupil]

    again = school.MarkClubAttendance(personalCode=pupil, schoolYear=YEAR, directionCode=["SPORT", "DANCE"])
    assert (
        again.attendanceId == marked.attendanceId
        and again.directionCode == ["SPORT", "DANCE"]
        and again.subDirectionCode == []
    )
    ended = school.EndClubAttendance(attendanceId=marked.attendanceId, endDate=dt.date(2026, 11, 27))
    assert ended.endDate == dt.date(2026, 11, 27)
    on_the_last_day = school.ListClubAttendance(schoolYear=YEAR, activeOn=dt.date(2026, 11, 28))
    assert [a.person.personalCode for a in on_the_last_day.attendance] == [other_pupil]

    with pytest.raises(Fault) as refused:
        school.EndClubAttendance(attendanceId=marked.attendanceId, endDate=dt.date(2026, 11, 28))
    assert fault_detail(refused.value)["code"] == "ClubAttendanceEnded"
    other_school = service_of(live_gateway, "300000042")
    with pytest.raises(Fault) as refused:
        other_school.EndClubAttendance(attendanceId=marked.attendanceId, endDate=dt.date(2026, 11, 28))
    assert fault_detail(refused.value)["code"] == "ClubAttendanceNotFound"
    assert other_school.ListClubAttendance(schoolYear=YEAR).attendance == []


@pytest.mark.parametrize(
    "institution, request_, code, field",
    [
        (MUSIC_SCHOOL, {"directionCode": ["SPORT"]}, "NotGeneralEducationSchool", None),  # an NVŠ school
        ("300000046", {"directionCode": ["SPORT"]}, "NotGeneralEducationSchool", None),  # a kindergarten
        (VILNIUS_SCHOOL, {}, "ClubDirectionRequired", "directionCode"),
        (VILNIUS_SCHOOL, {"directionCode": ["SPORT", "CHESS"]}, "UnknownClassifierCode", "directionCode[2]"),
        (VILNIUS_SCHOOL, {"subDirectionCode": ["MUSIC.KAZOO"]}, "InvalidSubDirection", "subDirectionCode[1]"),
        (
            VILNIUS_SCHOOL,
            {"directionCode": ["SPORT"], "fromDate": dt.date(2027, 9, 1)},
            "InvalidClubPeriod",
            "fromDate",
        ),
        (VILNIUS_SCHOOL, {"directionCode": ["SPORT"], "schoolYear": "2026-2028"}, "InvalidSchoolYear", "schoolYear"),
        (VILNIUS_SCHOOL, {"directionCode": ["SPORT"], "personalCode": "61006219989"}, "PersonDeceased", "personalCode"),
        (VILNIUS_SCHOOL, {"directionCode": ["SPORT"], "personalCode": "51203159990"}, "PersonNotFound", "personalCode"),
    ],
)
def test_club_rules_reach_the_school_as_faults_and_nothing_is_written(
    live_gateway, institution, request_, code, field
) -> None:
    service = service_of(live_gateway, institution)
    before = live_gateway.database.snapshot()
    request = {"personalCode": child_code(dt.date(2014, 6, 1), 303), "schoolYear": YEAR, **request_}
    with pytest.raises(Fault) as refused:
        service.MarkClubAttendance(**request)
    detail = fault_detail(refused.value)
    assert (detail["code"], detail.get("field")) == (code, field)
    assert request["personalCode"] not in str(detail)
    assert live_gateway.database.snapshot() == before


def test_the_basket_list_shows_the_municipality_where_the_child_does_general_education(live_gateway) -> None:
    provider, school = service_of(live_gateway, MUSIC_SCHOOL), service_of(live_gateway, VILNIUS_SCHOOL)
    child, unknown_school = child_code(dt.date(2015, 5, 5), 401), child_code(dt.date(2015, 6, 6), 402)
    group = provider.CreateGroup(
        schoolYear=YEAR, programCode=MUSIC_PROGRAM, name="Krepšelis", subDirectionCode=["MUSIC.PIANO"]
    )
    for code in (child, unknown_school):
        registration = provider.RegisterStudent(
            personalCode=code, groupId=group.groupId, firstLearningDate=FIRST_DAY, contract=contract(FIRST_DAY)
        ).registration
        provider.MarkFunding(
            registrationId=registration.registrationId,
            fundingTypeCode=["NVS_BASKET"],
            fromMonth="2026-09",
            toMonth="2026-12",
        )
    school.MarkClubAttendance(personalCode=child, schoolYear=YEAR, directionCode=["SPORT"])  # a Vilnius pupil

    october = provider.ListBasketRecipients(month="2026-10")
    rows = {r.person.personalCode: r for r in october.recipient}
    assert set(rows) == {child, unknown_school}
    known = rows[child]
    assert (known.schoolCode, known.schoolMunicipalityCode, known.schoolMunicipalityName) == (
        VILNIUS_SCHOOL,
        "13",
        "Vilniaus miesto savivaldybė",
    )
    assert (known.institutionCode, known.programCode, known.programName, known.firstLearningDate, known.month) == (
        MUSIC_SCHOOL,
        MUSIC_PROGRAM,
        "Ansamblinis muzikavimas",
        FIRST_DAY,
        "2026-10",
    )
    assert known.person.birthDate == dt.date(2015, 5, 5)
    assert rows[unknown_school].schoolMunicipalityCode is None
    assert provider.ListBasketRecipients(month="2027-01").recipient == []
    assert provider.ListBasketRecipients(month="2026-10", institutionCode=VILNIUS_MUSIC).recipient == []
    assert school.ListBasketRecipients(month="2026-10").recipient == []  # the school is no provider


def test_a_cursor_is_for_its_own_list_and_filters_and_bad_requests_are_client_faults(live_gateway) -> None:
    provider = service_of(live_gateway, MUSIC_SCHOOL)
    group = provider.CreateGroup(schoolYear=YEAR, programCode=MUSIC_PROGRAM, name="G", subDirectionCode=["MUSIC.PIANO"])
    for n in range(3):
        provider.RegisterStudent(
            personalCode=child_code(dt.date(2016, 1, 1 + n), 500 + n),
            groupId=group.groupId,
            firstLearningDate=FIRST_DAY,
            contract=contract(FIRST_DAY),
        )
    page = provider.ListLearners(schoolYear=YEAR, pageSize=1)
    assert len(page.learner) == 1 and page.nextCursor
    cases = [
        (lambda: provider.ListLearners(schoolYear="2025-2026", cursor=page.nextCursor), "InvalidCursor", "cursor"),
        (
            lambda: provider.ListArrivals(fromDate=FIRST_DAY, toDate=FIRST_DAY, cursor=page.nextCursor),
            "InvalidCursor",
            "cursor",
        ),
        (
            lambda: service_of(live_gateway, VILNIUS_MUSIC).ListLearners(schoolYear=YEAR, cursor=page.nextCursor),
            "InvalidCursor",
            "cursor",
        ),
        (lambda: provider.ListLearners(schoolYear=YEAR, cursor="bm90LWEtY3Vyc29y"), "InvalidCursor", "cursor"),
        (
            lambda: provider.ListDepartures(fromDate=dt.date(2026, 10, 2), toDate=dt.date(2026, 10, 1)),
            "InvalidDateRange",
            "toDate",
        ),
        (
            lambda: provider.ListClubAttendance(schoolYear=YEAR, directionCode="CHESS"),
            "UnknownClassifierCode",
            "directionCode",
        ),
        (lambda: provider.ListLearners(schoolYear=YEAR, pageSize=501), "InvalidMessage", "pageSize"),
    ]
    for call, code, field in cases:
        with pytest.raises(Fault) as refused:
            call()
        detail = fault_detail(refused.value)
        assert refused.value.code.endswith("Client")
        assert (detail["code"], detail.get("field")) == (code, field)
    second = provider.ListLearners(schoolYear=YEAR, pageSize=1, cursor=page.nextCursor)
    assert second.learner[0].registrationId > page.learner[0].registrationId


def test_with_the_sandbox_enrolments_alone_the_basket_list_knows_where_adomas_goes_to_school(live_gateway) -> None:
    """The README's example child is enrolled at a Vilnius school in the sandbox (data/sandbox/enrolments.xml):
    an Anykščiai provider registering him and marking the basket sees Vilnius city next to him."""
    adomas = "51509150009"
    provider = service_of(live_gateway, MUSIC_SCHOOL)
    group = provider.CreateGroup(
        schoolYear=YEAR, programCode=MUSIC_PROGRAM, name="Fortepijonas 1", subDirectionCode=["MUSIC.PIANO"]
    )
    registration = provider.RegisterStudent(
        personalCode=adomas, groupId=group.groupId, firstLearningDate=FIRST_DAY, contract=contract(FIRST_DAY)
    ).registration
    provider.MarkFunding(
        registrationId=registration.registrationId, fundingTypeCode=["NVS_BASKET"], fromMonth="2026-09"
    )
    (row,) = provider.ListBasketRecipients(month="2026-11").recipient
    assert (row.person.personalCode, row.person.firstName, row.schoolCode, row.schoolMunicipalityName) == (
        adomas,
        "Adomas",
        VILNIUS_SCHOOL,
        "Vilniaus miesto savivaldybė",
    )
