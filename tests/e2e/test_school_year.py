"""The life of a school year over real HTTP, on SQLite and PostgreSQL (issue 11): a learner moved
between groups keeps one unbroken history and its basket months, with no moment another provider
could claim them; a group with learners cannot be closed; a rollover with learners produces next
year's groups and registrations, and run twice gives the same result."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest
import requests
import zeep
from zeep.exceptions import Fault
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from gateway.domain.calendar import SchoolYear
from gateway.domain.model import Group, ProgramPurpose
from tests.e2e.helpers import child_code, fault_detail, registry_client

YEAR, LAST_YEAR = "2026-2027", "2025-2026"
FIRST_DAY, LAST_YEARS_FIRST_DAY = dt.date(2026, 9, 1), dt.date(2025, 9, 1)
MUSIC_SCHOOL, MUSIC_PROGRAM, FSPU_PROGRAM = "300000011", "100000112", "100000111"
ENGINEERS, ENGINEERS_PROGRAM = "300000021", "100000211"  # the rival provider
SCHOOL_YEAR_MONTHS = [f"2026-{m:02d}" for m in range(9, 13)] + [f"2027-{m:02d}" for m in range(1, 9)]


def service_of(gateway, institution_code: str):
    user = gateway.database.user(institution_code)
    return registry_client(gateway.wsdl_url, user.username, user.password).service


def a_group(service, name: str, program: str = MUSIC_PROGRAM, year: str = YEAR, sub: str = "MUSIC.PIANO") -> int:
    return service.CreateGroup(schoolYear=year, programCode=program, name=name, subDirectionCode=[sub]).groupId


def register(service, child: str, group_id: int, first_day: dt.date = FIRST_DAY) -> int:
    contract = {"typeCode": "BILATERAL", "date": first_day, "number": "S-1"}
    return service.RegisterStudent(
        personalCode=child, groupId=group_id, firstLearningDate=first_day, contract=contract
    ).registration.registrationId


def refused(call) -> dict[str, str]:
    with pytest.raises(Fault) as caught:
        call()
    return fault_detail(caught.value)


def marks(service, registration_id: int) -> list[tuple[str, str, str]]:
    return [
        (m.fundingTypeCode, m.fromMonth, m.toMonth) for m in service.GetFunding(registrationId=registration_id).mark
    ]


def basket_holders(gateway, child: str) -> dict[str, int]:
    """Month -> the registration holding the child's basket claim, as stored."""
    rows = gateway.database.rows(
        "SELECT c.month, m.registration_id FROM basket_claim c JOIN person p ON p.id = c.person_id "
        "JOIN funding_mark m ON m.id = c.funding_mark_id WHERE p.personal_code = :code",
        code=child,
    )
    return {
        f"{row.month:%Y-%m}" if not isinstance(row.month, str) else row.month[:7]: row.registration_id for row in rows
    }


# --- TransferStudent --------------------------------------------------------------------
def test_a_learner_moved_between_groups_keeps_one_unbroken_history_and_its_basket_months(live_gateway) -> None:
    school, rival = service_of(live_gateway, MUSIC_SCHOOL), service_of(live_gateway, ENGINEERS)
    child = child_code(dt.date(2015, 5, 5), 41)
    old_group, new_group = a_group(school, "Ansamblis A"), a_group(school, "Ansamblis B")
    registration = register(school, child, old_group)
    school.MarkFunding(registrationId=registration, fundingTypeCode=["NVS_BASKET", "MUNICIPAL"], fromMonth="2026-09")

    moved = school.TransferStudent(registrationId=registration, groupId=new_group, fromDate=dt.date(2026, 12, 1))

    assert moved.warning == []
    new_registration = moved.registration.registrationId
    assert (moved.endedRegistration.status, moved.endedRegistration.departure.date) == (
        "deregistered",
        dt.date(2026, 11, 30),
    )
    assert moved.endedRegistration.departure.reasonCode == "TRANSFERRED"
    assert (moved.registration.groupId, moved.registration.firstLearningDate) == (new_group, dt.date(2026, 12, 1))
    assert moved.registration.transferredFromRegistrationId == registration
    history = school.GetStudent(personalCode=child).registration
    periods = sorted((r.firstLearningDate, r.departure.date if r.departure else None, r.groupId) for r in history)
    assert periods == [
        (dt.date(2026, 9, 1), dt.date(2026, 11, 30), old_group),
        (dt.date(2026, 12, 1), None, new_group),
    ]  # one after the other: no gap, no overlap
    assert marks(school, registration) == [("MUNICIPAL", "2026-09", "2026-11"), ("NVS_BASKET", "2026-09", "2026-11")]
    assert sorted(marks(school, new_registration)) == [
        ("MUNICIPAL", "2026-12", "2027-08"),
        ("NVS_BASKET", "2026-12", "2027-08"),
    ]
    holders = basket_holders(live_gateway, child)
    assert sorted(holders) == SCHOOL_YEAR_MONTHS
    assert {m for m, r in holders.items() if r == new_registration} == set(SCHOOL_YEAR_MONTHS[3:])
    answer = rival.CheckBasketAvailability(personalCode=child, fromMonth="2026-09", toMonth="2027-08")
    assert answer.available is False and not any(m.available for m in answer.month)
    kinds = [
        row.kind
        for row in live_gateway.database.rows(
            "SELECT kind FROM change_event WHERE registration_id IN (:a, :b) ORDER BY sequence",
            a=registration,
            b=new_registration,
        )
    ]
    assert kinds[-6:] == [
        "DEREGISTERED",
        "FUNDING_ENDED",
        "FUNDING_ENDED",
        "REGISTERED",
        "FUNDING_MARKED",
        "FUNDING_MARKED",
    ]


def test_into_an_fspu_program_the_basket_ends_with_a_warning_and_its_months_are_free(live_gateway) -> None:
    school, rival = service_of(live_gateway, MUSIC_SCHOOL), service_of(live_gateway, ENGINEERS)
    child = child_code(dt.date(2014, 6, 6), 42)
    registration = register(school, child, a_group(school, "Ansamblis C"))
    school.MarkFunding(registrationId=registration, fundingTypeCode=["NVS_BASKET"], fromMonth="2026-09")

    moved = school.TransferStudent(
        registrationId=registration,
        groupId=a_group(school, "Fortepijonas", FSPU_PROGRAM),
        fromDate=dt.date(2026, 12, 1),
    )

    assert [w.code for w in moved.warning] == ["FundingNotCarried"]
    assert marks(school, moved.registration.registrationId) == []
    months = rival.CheckBasketAvailability(personalCode=child, fromMonth="2026-11", toMonth="2026-12").month
    assert [(m.month, m.available) for m in months] == [("2026-11", False), ("2026-12", True)]


def test_transfers_that_cannot_be_are_refused_naming_why(live_gateway) -> None:
    school, rival = service_of(live_gateway, MUSIC_SCHOOL), service_of(live_gateway, ENGINEERS)
    group = a_group(school, "Ansamblis D")
    registration = register(school, child_code(dt.date(2015, 7, 7), 43), group)
    rivals_group = a_group(rival, "Robotika", ENGINEERS_PROGRAM, sub=_sub_direction_of_it())
    assert (
        refused(
            lambda: school.TransferStudent(registrationId=registration, groupId=group, fromDate=dt.date(2026, 12, 1))
        )["code"]
        == "SameGroup"
    )
    assert (
        refused(
            lambda: school.TransferStudent(
                registrationId=registration, groupId=rivals_group, fromDate=dt.date(2026, 12, 1)
            )
        )["code"]
        == "GroupNotFound"
    )
    too_early = refused(
        lambda: school.TransferStudent(registrationId=registration, groupId=a_group(school, "E"), fromDate=FIRST_DAY)
    )
    assert (too_early["code"], too_early["field"]) == ("InvalidTransferDate", "fromDate")


def test_no_moment_of_a_transfer_lets_another_provider_claim_the_basket(live_gateway) -> None:
    """While the transfer runs, another provider's threads claim the same month (MarkFunding) and
    ask whether it is free (CheckBasketAvailability) again and again: none wins, none sees it free,
    and afterwards the stored claim of the month is the new registration's."""
    school, rival_user = service_of(live_gateway, MUSIC_SCHOOL), live_gateway.database.user(ENGINEERS)
    # The transfer's own client waits longer than the default 15 s: on SQLite it queues behind the rivals' writes.
    patient = zeep.Client(
        live_gateway.wsdl_url,
        wsse=UsernameToken(
            live_gateway.database.user(MUSIC_SCHOOL).username, live_gateway.database.user(MUSIC_SCHOOL).password
        ),
        transport=Transport(timeout=10, operation_timeout=120),
    ).service
    rounds, hammers = 3, 4
    rival_group = a_group(
        service_of(live_gateway, ENGINEERS), "Lenktynės", ENGINEERS_PROGRAM, sub=_sub_direction_of_it()
    )
    groups = [a_group(school, f"Lenktynių grupė {i}") for i in range(rounds + 1)]
    for round_number in range(rounds):
        child = child_code(dt.date(2015, 2, 1 + round_number), 600 + round_number)
        registration = register(school, child, groups[0])
        school.MarkFunding(registrationId=registration, fundingTypeCode=["NVS_BASKET"], fromMonth="2026-09")
        rival_registration = register(service_of(live_gateway, ENGINEERS), child, rival_group)
        outcomes: list[str] = []
        lock, done, start = threading.Lock(), threading.Event(), threading.Barrier(hammers + 1)

        def hammer(claims: bool) -> None:
            service = registry_client(live_gateway.wsdl_url, rival_user.username, rival_user.password).service
            start.wait()
            calls = 0
            while not done.is_set() or calls < 3:
                calls += 1
                try:
                    if claims:
                        service.MarkFunding(
                            registrationId=rival_registration,
                            fundingTypeCode=["NVS_BASKET"],
                            fromMonth="2027-01",
                            toMonth="2027-01",
                        )
                        outcome = "won"
                    else:
                        free = service.CheckBasketAvailability(
                            personalCode=child, fromMonth="2027-01", toMonth="2027-01"
                        )
                        outcome = "seen free" if free.available else "claimed"
                except Fault as fault:
                    outcome = fault_detail(fault)["code"]
                except requests.RequestException:
                    outcome = "no answer"  # an overloaded machine; the stored claim below is the proof
                with lock:
                    outcomes.append(outcome)
                time.sleep(0.005)

        threads = [threading.Thread(target=hammer, args=(i % 2 == 0,)) for i in range(hammers)]
        for thread in threads:
            thread.start()
        start.wait()
        moved = patient.TransferStudent(
            registrationId=registration, groupId=groups[round_number + 1], fromDate=dt.date(2026, 12, 1)
        )
        done.set()
        for thread in threads:
            thread.join(timeout=120)
        answered = [o for o in outcomes if o != "no answer"]
        assert answered and set(answered) <= {"BasketAlreadyClaimed", "claimed"}, f"round {round_number}: {outcomes}"
        assert basket_holders(live_gateway, child)["2027-01"] == moved.registration.registrationId
        assert marks(school, moved.registration.registrationId) == [("NVS_BASKET", "2026-12", "2027-08")]
        assert marks(service_of(live_gateway, ENGINEERS), rival_registration) == []  # the losers left nothing
    doubles = live_gateway.database.rows(
        "SELECT person_id, month FROM basket_claim GROUP BY person_id, month HAVING count(*) > 1"
    )
    assert doubles == []


# --- CloseGroup, DeleteGroup -----------------------------------------------------------
def test_a_group_with_learners_cannot_be_closed_and_a_closed_one_takes_nobody(live_gateway) -> None:
    school = service_of(live_gateway, MUSIC_SCHOOL)
    group = a_group(school, "Uždaroma grupė")
    registration = register(school, child_code(dt.date(2015, 8, 8), 44), group)

    fault = refused(lambda: school.CloseGroup(groupId=group, closingDate=dt.date(2026, 11, 13)))
    assert (fault["code"], fault["field"]) == ("GroupHasLearners", "groupId")
    assert "1 active learner" in fault["message"]

    school.DeregisterStudent(
        registrationId=registration, departureDate=dt.date(2026, 11, 13), departureReasonCode="COMPLETED"
    )
    closed = school.CloseGroup(groupId=group, closingDate=dt.date(2026, 11, 13))
    assert closed.closedOn == dt.date(2026, 11, 13)

    listed = [g.groupId for s in school.ListGroups(schoolYear=YEAR).section for g in s.group]
    assert group not in listed
    with_closed = {
        g.groupId: g for s in school.ListGroups(schoolYear=YEAR, includeClosed=True).section for g in s.group
    }
    assert with_closed[group].closedOn == dt.date(2026, 11, 13)
    late = refused(lambda: register(school, child_code(dt.date(2015, 9, 9), 45), group, dt.date(2026, 11, 16)))
    assert late["code"] == "GroupClosed"
    assert refused(lambda: school.DeleteGroup(groupId=group))["code"] == "GroupHasRegistrations"


def test_a_group_that_never_had_a_registration_can_be_deleted(live_gateway) -> None:
    school = service_of(live_gateway, MUSIC_SCHOOL)
    group = a_group(school, "Per klaidą sukurta")
    assert school.DeleteGroup(groupId=group) == group
    assert group not in [
        g.groupId for s in school.ListGroups(schoolYear=YEAR, includeClosed=True).section for g in s.group
    ]
    assert refused(lambda: school.DeleteGroup(groupId=group))["code"] == "GroupNotFound"


# --- RollOverGroups -------------------------------------------------------------------
def test_rollover_with_learners_makes_next_years_groups_and_registrations_and_twice_is_once(live_gateway) -> None:
    school = service_of(live_gateway, MUSIC_SCHOOL)
    groups = [a_group(school, name, year=LAST_YEAR) for name in ("Ansamblis 1A", "Ansamblis 2A")]
    children = [child_code(dt.date(2015, 10, 1 + i), 46 + i) for i in range(3)]
    for child, group in zip(children, (groups[0], groups[0], groups[1]), strict=True):
        register(school, child, group, LAST_YEARS_FIRST_DAY)
    database = live_gateway.database

    first = school.RollOverGroups(fromYear=LAST_YEAR, toYear=YEAR, groupId=groups, carryLearners=True)

    assert [(r.fromGroupId, r.created, r.carriedLearners) for r in first.rolledOver] == [
        (groups[0], True, 2),
        (groups[1], True, 1),
    ]
    carried = {r.person.personalCode: r for rolled in first.rolledOver for r in rolled.registration}
    assert sorted(carried) == sorted(children)
    assert all(r.firstLearningDate == FIRST_DAY and r.transferredFromRegistrationId for r in carried.values())
    copies = {r.fromGroupId: r.group for r in first.rolledOver}
    assert {c.name for c in copies.values()} == {"Ansamblis 1A", "Ansamblis 2A"}
    assert all(c.schoolYear == YEAR and c.rolledOverFromGroupId == origin for origin, c in copies.items())
    listed = {g.groupId: g.activeLearners for s in school.ListGroups(schoolYear=YEAR).section for g in s.group}
    assert (listed[copies[groups[0]].groupId], listed[copies[groups[1]].groupId]) == (2, 1)
    history = school.GetStudent(personalCode=children[0]).registration
    periods = sorted((r.schoolYear, r.firstLearningDate, r.departure.date if r.departure else None) for r in history)
    assert periods == [(LAST_YEAR, LAST_YEARS_FIRST_DAY, dt.date(2026, 8, 31)), (YEAR, FIRST_DAY, None)]
    before = database.snapshot()

    second = school.RollOverGroups(fromYear=LAST_YEAR, toYear=YEAR, groupId=groups, carryLearners=True)

    assert [(r.fromGroupId, r.group.groupId, r.created, r.carriedLearners) for r in second.rolledOver] == [
        (origin, copies[origin].groupId, False, 0) for origin in groups
    ]
    assert all(r.registration == [] for r in second.rolledOver)
    logged = database.rows(
        "SELECT p.personal_code FROM access_log a JOIN access_log_person p ON p.access_log_id = a.id "
        "WHERE a.operation = 'RollOverGroups' AND a.outcome = 'ok'"
    )
    assert set(children) <= {row.personal_code for row in logged}  # the learners moved are in the access log
    after = database.snapshot()
    assert {k: after[k] for k in ("nvs_group", "registration")} == {k: before[k] for k in ("nvs_group", "registration")}


def test_rollover_refuses_a_program_deregistered_for_the_new_year_naming_the_group(live_gateway) -> None:
    from gateway import administration
    from gateway.domain.model import Program

    school = service_of(live_gateway, MUSIC_SCHOOL)
    administration.import_programs(
        live_gateway.database.uow_factory,
        [
            Program(
                "100000119",
                "Baigta programa",
                MUSIC_SCHOOL,
                ProgramPurpose.NVS,
                ("MUSIC",),
                dt.date(2020, 1, 1),
                dt.date(2020, 6, 1),
                deregistered_on=dt.date(2026, 8, 31),
            )
        ],
    )
    with live_gateway.database.uow_factory() as uow:  # made while the program ran: CreateGroup would refuse it now
        old = uow.groups.add(
            Group(None, MUSIC_SCHOOL, SchoolYear(2025), "100000119", ProgramPurpose.NVS, "Senoji", ("MUSIC.PIANO",))
        )
        uow.commit()
    keeps = a_group(school, "Tęsiama", year=LAST_YEAR)
    before = live_gateway.database.snapshot()

    fault = refused(lambda: school.RollOverGroups(fromYear=LAST_YEAR, toYear=YEAR, groupId=[keeps, old.id]))

    assert (fault["code"], fault["field"]) == ("ProgramDeregistered", "groupId")
    assert f"group {old.id} ('Senoji')" in fault["message"]
    assert live_gateway.database.snapshot()["nvs_group"] == before["nvs_group"]  # all or nothing


def _sub_direction_of_it() -> str:
    from gateway.reference_data import load_classifiers

    return next(e.code for e in load_classifiers().entries("nvs-sub-direction") if e.parent in ("TECHCREAT", "IT"))
