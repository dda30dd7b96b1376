"""The provider's day, as an integrator's system would live it: zeep over real HTTP to the
gateway, which asks the sandbox population register over real HTTP."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from zeep.exceptions import Fault

from gateway.domain.calendar import SchoolYear
from tests.clock import E2E_TODAY
from tests.e2e.helpers import child_code, fault_detail, registry_client

MUSIC_SCHOOL = "300000011"  # Anykščių muzikos mokykla: NVŠ school
OTHER_MUSIC_SCHOOL = "300000012"
ACCREDITED_NVS_PROGRAM = "100000112"
FSPU_PROGRAM = "100000111"
DECEASED_CHILD = "61006219989"
UNKNOWN_TO_GR = "51203159990"


@pytest.fixture
def school_year() -> SchoolYear:
    return SchoolYear.containing(E2E_TODAY)


@pytest.fixture
def provider(live_gateway):
    user = live_gateway.database.user(MUSIC_SCHOOL)
    return registry_client(live_gateway.wsdl_url, user.username, user.password).service


@pytest.fixture
def other_provider(live_gateway):
    user = live_gateway.database.user(OTHER_MUSIC_SCHOOL)
    return registry_client(live_gateway.wsdl_url, user.username, user.password).service


def contract(signed_on: dt.date, number: str = "S-1") -> dict:
    return {"typeCode": "BILATERAL", "date": signed_on, "number": number}


def piano_group(service, school_year: SchoolYear, name: str = "Fortepijonas 1"):
    return service.CreateGroup(
        schoolYear=str(school_year),
        programCode=ACCREDITED_NVS_PROGRAM,
        name=name,
        subDirectionCode=["MUSIC.PIANO"],
        leader=[{"firstName": "Ona", "lastName": "Kairienė"}],
    )


def test_lookup_register_correct_deregister_and_cancel(live_gateway, provider, school_year):
    child = child_code(dt.date(2015, 9, 15), 123)
    looked_up = provider.LookupPerson(personalCode=child)
    assert looked_up.person.personalCode == child
    assert looked_up.person.sex == "M" and looked_up.person.birthDate == dt.date(2015, 9, 15)
    assert looked_up.lastRegistration is None

    group = piano_group(provider, school_year)
    assert group.purpose == "NVS" and group.activeLearners == 0 and group.subDirectionCode == ["MUSIC.PIANO"]

    first_day = school_year.starts_on
    registered = provider.RegisterStudent(
        personalCode=child, groupId=group.groupId, firstLearningDate=first_day, contract=contract(first_day)
    )
    registration = registered.registration
    assert registration.status == "active"
    assert registration.person.firstName == looked_up.person.firstName
    assert registration.groupName == "Fortepijonas 1" and registration.schoolYear == str(school_year)

    corrected = provider.CorrectRegistration(
        registrationId=registration.registrationId, firstLearningDate=first_day + dt.timedelta(days=1)
    )
    assert corrected.registration.firstLearningDate == first_day + dt.timedelta(days=1)
    assert corrected.registration.contract.number == "S-1"  # kept when only the date is corrected

    today = E2E_TODAY
    departed = provider.DeregisterStudent(
        registrationId=registration.registrationId,
        departureDate=today,
        departureReasonCode="PARENTS_REQUEST",
        orderNumber="V-12",
    )
    assert departed.registration.status == "deregistered"
    assert departed.registration.departure.date == today and departed.registration.departure.orderNumber == "V-12"
    assert departed.registration.departure.reasonName  # the classifier's name comes along

    again = provider.LookupPerson(personalCode=child)
    assert again.lastRegistration.institutionCode == MUSIC_SCHOOL
    assert again.lastRegistration.departureReasonCode == "PARENTS_REQUEST"

    # CancelRegistration on another registration: invalidated, kept, gone from counts.
    other_child = child_code(dt.date(2014, 3, 2), 321, male=False)
    mistaken = provider.RegisterStudent(
        personalCode=other_child,
        groupId=group.groupId,
        firstLearningDate=first_day,
        contract=contract(first_day, "S-2"),
    ).registration
    assert provider.ListGroups(schoolYear=str(school_year)).section[1].group[0].activeLearners == 1
    cancelled = provider.CancelRegistration(registrationId=mistaken.registrationId, reason="Entered by mistake")
    assert cancelled.status == "cancelled" and cancelled.cancellationReason == "Entered by mistake"
    assert provider.ListGroups(schoolYear=str(school_year)).section[1].group[0].activeLearners == 0
    assert live_gateway.database.count("registration") == 2  # the cancelled record is kept
    with pytest.raises(Fault) as refused:
        provider.GetStudent(personalCode=other_child)
    assert fault_detail(refused.value)["code"] == "StudentNotFound"


def test_another_institution_can_neither_see_nor_touch_the_records(live_gateway, provider, other_provider, school_year):
    child = child_code(dt.date(2016, 1, 20), 45)
    group = piano_group(provider, school_year)
    first_day = school_year.starts_on
    registration = provider.RegisterStudent(
        personalCode=child, groupId=group.groupId, firstLearningDate=first_day, contract=contract(first_day)
    ).registration
    before = live_gateway.database.snapshot()

    attempts = {
        "StudentNotFound": lambda: other_provider.GetStudent(personalCode=child),
        "GroupNotFound": lambda: other_provider.UpdateGroup(
            groupId=group.groupId, name="Mine now", subDirectionCode=["MUSIC.PIANO"]
        ),
        "RegistrationNotFound": lambda: other_provider.CancelRegistration(
            registrationId=registration.registrationId, reason="x"
        ),
    }
    for expected, attempt in attempts.items():
        with pytest.raises(Fault) as refused:
            attempt()
        assert fault_detail(refused.value)["code"] == expected
    for operation in ("CorrectRegistration", "DeregisterStudent"):
        kwargs = {"registrationId": registration.registrationId}
        if operation == "DeregisterStudent":
            kwargs.update(departureDate=E2E_TODAY, departureReasonCode="PARENTS_REQUEST")
        else:
            kwargs.update(firstLearningDate=first_day)
        with pytest.raises(Fault) as refused:
            getattr(other_provider, operation)(**kwargs)
        assert fault_detail(refused.value)["code"] == "RegistrationNotFound"
    with pytest.raises(Fault) as refused:
        other_provider.RegisterStudent(
            personalCode=child, groupId=group.groupId, firstLearningDate=first_day, contract=contract(first_day)
        )
    assert fault_detail(refused.value)["code"] == "GroupNotFound"
    assert other_provider.ListGroups(schoolYear=str(school_year)).section[1].count == 0
    assert live_gateway.database.snapshot() == before


def test_list_groups_splits_by_purpose_with_counts(provider, school_year):
    piano_group(provider, school_year, "Fortepijonas 1")
    piano_group(provider, school_year, "Fortepijonas 2")
    provider.CreateGroup(
        schoolYear=str(school_year), programCode=FSPU_PROGRAM, name="Solfedžio klasė", subDirectionCode=["MUSIC.PIANO"]
    )
    listed = provider.ListGroups(schoolYear=str(school_year))
    assert [(s.purpose, s.count) for s in listed.section] == [("FSPU", 1), ("NVS", 2)]
    assert [g.name for g in listed.section[1].group] == ["Fortepijonas 1", "Fortepijonas 2"]
    only_nvs = provider.ListGroups(schoolYear=str(school_year), purpose="NVS")
    assert [(s.purpose, s.count) for s in only_nvs.section] == [("NVS", 2)]


def test_update_group_changes_name_sub_directions_and_leaders(provider, school_year):
    group = piano_group(provider, school_year)
    updated = provider.UpdateGroup(
        groupId=group.groupId,
        name="Fortepijonas A",
        subDirectionCode=["MUSIC.PIANO", "MUSIC.VIOLIN"],
        leader=[{"firstName": "Jonas", "lastName": "Petraitis"}],
    )
    assert updated.name == "Fortepijonas A"
    assert updated.subDirectionCode == ["MUSIC.PIANO", "MUSIC.VIOLIN"]
    assert [leader.lastName for leader in updated.leader] == ["Petraitis"]


@pytest.mark.parametrize(
    "personal_code, expected",
    [(DECEASED_CHILD, "PersonDeceased"), (UNKNOWN_TO_GR, "PersonNotFound"), ("51509150008", "InvalidPersonalCode")],
)
def test_registration_refused_for_persons_gr_does_not_allow(
    live_gateway, provider, school_year, personal_code, expected
):
    group = piano_group(provider, school_year)
    before = live_gateway.database.snapshot()
    first_day = school_year.starts_on
    with pytest.raises(Fault) as refused:
        provider.RegisterStudent(
            personalCode=personal_code, groupId=group.groupId, firstLearningDate=first_day, contract=contract(first_day)
        )
    detail = fault_detail(refused.value)
    assert refused.value.code.endswith("Client")
    assert detail["code"] == expected and detail["field"] == "personalCode"
    assert personal_code not in refused.value.message and personal_code not in str(detail)
    assert live_gateway.database.snapshot() == before


def test_late_registration_is_accepted_with_a_warning(provider, school_year):
    group = piano_group(provider, school_year)
    first_day = school_year.starts_on
    signed_long_ago = first_day - dt.timedelta(days=60)
    registered = provider.RegisterStudent(
        personalCode=child_code(dt.date(2013, 5, 5), 77),
        groupId=group.groupId,
        firstLearningDate=first_day,
        contract=contract(signed_long_ago),
    )
    assert registered.registration.status == "active"
    assert [w.code for w in registered.warning] == ["LateRegistration"]


def test_the_same_child_cannot_be_registered_twice_in_a_group(live_gateway, provider, school_year):
    group = piano_group(provider, school_year)
    first_day = school_year.starts_on
    child = child_code(dt.date(2012, 12, 12), 5)
    provider.RegisterStudent(
        personalCode=child, groupId=group.groupId, firstLearningDate=first_day, contract=contract(first_day)
    )
    with pytest.raises(Fault) as refused:
        provider.RegisterStudent(
            personalCode=child, groupId=group.groupId, firstLearningDate=first_day, contract=contract(first_day)
        )
    # The domain's rule, from the children the group's locking read names as active in it.
    assert (fault_detail(refused.value)["code"], fault_detail(refused.value)["field"]) == (
        "AlreadyRegistered",
        "personalCode",
    )
    assert live_gateway.database.count("registration") == 1


def test_group_rules_reach_the_caller_as_faults(provider, live_gateway, school_year):
    cases: list[tuple[dict[str, str | list[str]], str, str]] = [
        ({"programCode": "100000122"}, "UnknownProgram", "programCode"),  # another provider's program
        ({"programCode": "999999999"}, "ProgramNotRegistered", "programCode"),
        ({"purpose": "FSPU"}, "PurposeMismatch", "purpose"),
        ({"subDirectionCode": ["SPORT.FOOTBALL"]}, "InvalidSubDirection", "subDirectionCode[1]"),
        ({"schoolYear": "2025-2027"}, "InvalidSchoolYear", "schoolYear"),
    ]
    for overrides, code, field in cases:
        request: dict[str, str | list[str]] = {
            "schoolYear": str(school_year),
            "programCode": ACCREDITED_NVS_PROGRAM,
            "name": "G",
            "subDirectionCode": ["MUSIC.PIANO"],
        }
        request.update(overrides)
        with pytest.raises(Fault) as refused:
            provider.CreateGroup(**request)
        detail = fault_detail(refused.value)
        assert (detail["code"], detail.get("field")) == (code, field), overrides
    assert live_gateway.database.count("nvs_group") == 0


def test_a_provider_not_eligible_for_nvs_cannot_open_groups(live_gateway, school_year):
    preschool_only = live_gateway.database.user("300000025")  # other provider with purpose 31714101 only
    service = registry_client(live_gateway.wsdl_url, preschool_only.username, preschool_only.password).service
    with pytest.raises(Fault) as refused:
        service.CreateGroup(
            schoolYear=str(school_year), programCode="100000251", name="G", subDirectionCode=["MUSIC.PIANO"]
        )
    assert fault_detail(refused.value)["code"] == "ProviderNotEligible"


@pytest.mark.parametrize("password", ["wrong password", None])
def test_wrong_or_missing_credentials_are_refused_without_saying_which(live_gateway, password):
    user = live_gateway.database.user(MUSIC_SCHOOL)
    for username in (user.username, "nobody-at-all"):
        service = registry_client(live_gateway.wsdl_url, username if password else None, password).service
        with pytest.raises(Fault) as refused:
            service.LookupPerson(personalCode=child_code(dt.date(2015, 1, 1), 1))
        detail = fault_detail(refused.value)
        assert detail["code"] == "AuthenticationFailed"
        assert "nobody" not in refused.value.message and "password" not in detail["message"].lower().replace(
            "usernametoken", ""
        )


def test_two_providers_registering_the_same_new_child_at_once_both_succeed(
    live_gateway, provider, other_provider, school_year
):
    """The person row is written by both: an upsert, not a unique-key failure for the second."""
    first_day = school_year.starts_on
    child = child_code(dt.date(2015, 6, 6), 606)
    groups = [
        service.CreateGroup(
            schoolYear=str(school_year), programCode=program, name="Lenktynės", subDirectionCode=["MUSIC.PIANO"]
        )
        for service, program in ((provider, ACCREDITED_NVS_PROGRAM), (other_provider, "100000122"))
    ]
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def register(service, group_id: int) -> None:
        start.wait()
        try:
            service.RegisterStudent(
                personalCode=child, groupId=group_id, firstLearningDate=first_day, contract=contract(first_day)
            )
            outcomes.append("registered")
        except Fault as fault:
            outcomes.append(fault_detail(fault)["code"])

    threads = [
        threading.Thread(target=register, args=(s, g.groupId))
        for s, g in zip((provider, other_provider), groups, strict=False)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert outcomes == ["registered", "registered"]
    assert live_gateway.database.count("person") == 1 and live_gateway.database.count("registration") == 2
