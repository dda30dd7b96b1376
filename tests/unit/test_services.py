"""The register's use cases (gateway.services.Registry) on in-memory fakes: FakeUnitOfWork
(tests/fakes.py) for storage and InMemoryPopulationRegister for GR. No database, no SOAP."""

from __future__ import annotations

import datetime as dt
from datetime import date
from typing import Any

import pytest

from clients.population_register.fake import InMemoryPopulationRegister
from gateway.clock import FixedClock
from gateway.domain import model
from gateway.domain.calendar import SchoolYear
from gateway.domain.errors import (
    AccessDenied,
    AlreadyRegistered,
    DuplicateGroupName,
    FirstLearningDateOutsideSchoolYear,
    GroupNotFound,
    InstitutionCodeRequired,
    InvalidDepartureDate,
    InvalidPersonalCode,
    InvalidSchoolYear,
    InvalidSubDirection,
    PersonDeceased,
    PersonNotFound,
    PopulationRegisterUnavailable,
    ProgramNotRegistered,
    ProviderNotEligible,
    RegistrationNotActive,
    RegistrationNotFound,
    StudentNotFound,
    UnknownInstitution,
    UnknownProgram,
)
from gateway.domain.model import Departure, ProgramPurpose, RegistrationStatus
from gateway.domain.personal_code import PersonalCode
from gateway.services import Caller, GroupInput, LeaderInput, NewGroup, NewRegistration, Registry
from tests.fakes import (
    BOY_CODE,
    GIRL_CODE,
    OTHER_PROVIDER_CODE,
    PROGRAM_CODE,
    PROVIDER_CODE,
    TEACHER_CODE,
    FakeUnitOfWork,
    a_contract,
    a_group,
    a_person,
    a_program,
    a_registration,
    an_institution,
    valid_code,
)
from tests.present import present

TODAY = date(2026, 10, 5)  # a Monday in the 2026-2027 school year
NOW = dt.datetime(2026, 10, 5, 9, 30, tzinfo=dt.UTC)
CALLER = Caller(user_id=1, username="muzikos.mokykla", institution_code=PROVIDER_CODE)
OTHER_CALLER = Caller(user_id=2, username="sporto.klubas", institution_code=OTHER_PROVIDER_CODE)
FSPU_PROGRAM_CODE = "120000003"
OTHER_PROGRAM_CODE = "120000002"
UNKNOWN_CODE = valid_code("3991111999")  # valid, but GR does not know it


def with_wrong_check_digit(code: str) -> str:
    return code[:10] + str((int(code[10]) + 1) % 10)


GIRL = a_person(personal_code=GIRL_CODE, first_name="Austėja", last_name="Bandomaitė")
BOY = a_person(personal_code=BOY_CODE, first_name="Matas", last_name="Bandomaitis")


@pytest.fixture
def uow() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    uow.seed(
        an_institution(),
        an_institution(
            code=OTHER_PROVIDER_CODE,
            name="Sporto klubas „Bandymas“",
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
    )
    return uow


@pytest.fixture
def population_register() -> InMemoryPopulationRegister:
    return InMemoryPopulationRegister({GIRL.personal_code: GIRL, BOY.personal_code: BOY})


@pytest.fixture
def registry(uow: FakeUnitOfWork, population_register: InMemoryPopulationRegister) -> Registry:
    return Registry(uow_factory=lambda: uow, population_register=population_register, clock=FixedClock(NOW))


def new_group(**overrides: Any) -> NewGroup:
    values: dict[str, Any] = dict(
        name="Fortepijonas, 1 klasė",
        sub_direction_codes=("MUSIC.PIANO",),
        leaders=(),
        school_year="2026-2027",
        program_code=PROGRAM_CODE,
        purpose=None,
    )
    values.update(overrides)
    return NewGroup(**values)


def new_registration(**overrides: Any) -> NewRegistration:
    values: dict[str, Any] = dict(
        personal_code=GIRL_CODE,
        group_id=1,
        first_learning_date=date(2026, 10, 1),
        contract=a_contract(signed_on=date(2026, 9, 30)),
    )
    values.update(overrides)
    return NewRegistration(**values)


OTHER_GROUP = a_group(
    id=2,
    provider_code=OTHER_PROVIDER_CODE,
    program_code=OTHER_PROGRAM_CODE,
    name="Krepšinis",
    sub_direction_codes=("SPORT.BASKETBALL",),
)


# --- the fake unit of work itself ---------------------------------------------------------------
def test_the_fake_forgets_changes_made_without_a_commit() -> None:
    uow = FakeUnitOfWork()
    with uow:
        uow.institutions.upsert(an_institution())
    with uow:
        assert uow.institutions.get(PROVIDER_CODE) is None
    assert uow.committed == 0
    assert uow.stored.institutions == {}


def test_the_fake_keeps_committed_changes_for_the_next_transaction() -> None:
    uow = FakeUnitOfWork()
    with uow:
        uow.institutions.upsert(an_institution())
        uow.commit()
    with uow:
        assert uow.institutions.get(PROVIDER_CODE) == an_institution()
    assert uow.committed == 1


def test_the_fake_rolls_back_to_the_last_commit_and_forgets_what_came_after_it() -> None:
    uow = FakeUnitOfWork()
    with uow:
        uow.persons.save(GIRL, checked_at=NOW)
        uow.commit()
        uow.persons.save(BOY, checked_at=NOW)
        uow.rollback()
        assert uow.persons.get(BOY.personal_code) is None
        uow.persons.save(BOY, checked_at=NOW)
    assert set(uow.stored.persons) == {GIRL.personal_code}


def test_the_fake_serves_as_its_own_factory_each_with_starting_from_the_committed_state() -> None:
    uow = FakeUnitOfWork()
    factory = lambda: uow  # noqa: E731 - the way Registry receives it
    with factory() as first:
        first.groups.add(a_group(id=None))
    with factory() as second:
        assert second.groups.of_provider(PROVIDER_CODE, SchoolYear(2026)) == []
        second.groups.add(a_group(id=None))
        second.commit()
    with factory() as third:
        assert [g.name for g in third.groups.of_provider(PROVIDER_CODE, SchoolYear(2026))] == ["Fortepijonas, 1 klasė"]


def test_the_fakes_repositories_refuse_work_outside_a_transaction() -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(AssertionError):
        uow.institutions.get(PROVIDER_CODE)
    with uow:
        pass
    with pytest.raises(AssertionError):
        uow.commit()


def test_the_fake_assigns_ids_and_enforces_the_databases_constraints() -> None:
    uow = FakeUnitOfWork()
    uow.seed(a_group(id=1))
    with uow:
        group = uow.groups.add(a_group(id=None, name="Smuikas"))
        assert group.id == 2
        with pytest.raises(DuplicateGroupName):
            uow.groups.add(a_group(id=None, name="Smuikas"))
        with pytest.raises(LookupError):
            uow.registrations.add(a_registration(id=None))
        uow.persons.save(GIRL, checked_at=NOW)
        registration = uow.registrations.add(a_registration(id=None, group_id=2))
        assert registration.id == 1
        with pytest.raises(AlreadyRegistered):
            uow.registrations.add(a_registration(id=None, group_id=2))
        assert uow.groups.active_learner_counts([1, 2]) == {1: 0, 2: 1}


def test_the_fakes_classifiers_are_the_real_classifier_file() -> None:
    uow = FakeUnitOfWork()
    with uow:
        classifiers = uow.classifiers.load()
    assert classifiers.version == "2026.2"
    assert classifiers.get("departure-reason", "PARENTS_REQUEST") is not None


# --- looking a person up (step 1) ------------------------------------------------------------------
def test_lookup_returns_the_population_registers_data_and_no_registration_for_a_newcomer(
    registry: Registry, population_register: InMemoryPopulationRegister
) -> None:
    found = registry.lookup_person(CALLER, GIRL_CODE)
    assert found.person == GIRL
    assert found.last_registration is None
    assert population_register.calls == 1


def test_lookup_returns_the_last_registration_with_the_institutions_name_and_departure_reason(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    uow.seed(
        GIRL,
        OTHER_GROUP,
        a_registration(
            id=10,
            group_id=2,
            provider_code=OTHER_PROVIDER_CODE,
            first_learning_date=date(2026, 9, 1),
            status=RegistrationStatus.DEREGISTERED,
            departure=Departure(date(2026, 9, 25), "PARENTS_REQUEST", "V-3"),
        ),
    )
    last = registry.lookup_person(CALLER, GIRL_CODE).last_registration
    assert last is not None
    assert (last.institution_code, last.institution_name) == (OTHER_PROVIDER_CODE, "Sporto klubas „Bandymas“")
    assert last.first_learning_date == date(2026, 9, 1)
    assert (last.departure_date, last.departure_reason_code) == (date(2026, 9, 25), "PARENTS_REQUEST")
    assert last.departure_reason_name == "Sutartis nutraukta tėvų (globėjų) prašymu"


def test_lookup_returns_the_most_recent_registration_of_all(registry: Registry, uow: FakeUnitOfWork) -> None:
    uow.seed(
        GIRL,
        a_group(),
        OTHER_GROUP,
        a_registration(
            id=1,
            group_id=2,
            provider_code=OTHER_PROVIDER_CODE,
            first_learning_date=date(2026, 9, 1),
            status=RegistrationStatus.DEREGISTERED,
            departure=Departure(date(2026, 9, 25), "OTHER_PROVIDER"),
        ),
        a_registration(id=2, group_id=1, first_learning_date=date(2026, 9, 28)),
    )
    last = registry.lookup_person(CALLER, GIRL_CODE).last_registration
    assert last is not None
    assert (last.institution_code, last.institution_name) == (PROVIDER_CODE, "Vilniaus Bandomoji muzikos mokykla")
    assert (last.departure_date, last.departure_reason_code, last.departure_reason_name) == (None, None, None)


def test_lookup_ignores_cancelled_registrations(registry: Registry, uow: FakeUnitOfWork) -> None:
    uow.seed(
        GIRL,
        a_group(),
        OTHER_GROUP,
        a_registration(
            id=1,
            group_id=2,
            provider_code=OTHER_PROVIDER_CODE,
            first_learning_date=date(2026, 9, 1),
            status=RegistrationStatus.DEREGISTERED,
            departure=Departure(date(2026, 9, 25), "MOVED"),
        ),
        a_registration(id=2, group_id=1, first_learning_date=date(2026, 9, 28)).cancel(
            reason="Ne tas vaikas", today=TODAY
        ),
    )
    last = registry.lookup_person(CALLER, GIRL_CODE).last_registration
    assert last is not None and last.institution_code == OTHER_PROVIDER_CODE


def test_lookup_of_a_person_whose_only_registration_is_cancelled_finds_none(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    uow.seed(GIRL, a_group(), a_registration().cancel(reason="Ne tas vaikas", today=TODAY))
    assert registry.lookup_person(CALLER, GIRL_CODE).last_registration is None


@pytest.mark.parametrize("value", ["", "123", with_wrong_check_digit(GIRL_CODE), "6160315123X"])
def test_lookup_of_an_invalid_code_is_the_callers_fault_and_never_reaches_the_population_register(
    registry: Registry, population_register: InMemoryPopulationRegister, value: str
) -> None:
    with pytest.raises(InvalidPersonalCode) as raised:
        registry.lookup_person(CALLER, value)
    assert raised.value.field == "personalCode"
    assert population_register.calls == 0


def test_lookup_of_a_code_the_population_register_does_not_know_is_person_not_found(registry: Registry) -> None:
    with pytest.raises(PersonNotFound):
        registry.lookup_person(CALLER, UNKNOWN_CODE)


def test_lookup_while_the_population_register_is_down_stores_nothing(
    registry: Registry, population_register: InMemoryPopulationRegister, uow: FakeUnitOfWork
) -> None:
    population_register.make_unavailable()
    with pytest.raises(PopulationRegisterUnavailable):
        registry.lookup_person(CALLER, GIRL_CODE)
    assert uow.committed == 0
    assert uow.stored.persons == {} and uow.stored.registrations == {}


# --- groups ----------------------------------------------------------------------------------------
def test_creates_a_group_with_an_id_and_its_programs_purpose(registry: Registry, uow: FakeUnitOfWork) -> None:
    leaders = (LeaderInput("Rūta", "Mokytoja", TEACHER_CODE), LeaderInput("Jonas", "Mokytojas"))
    view = registry.create_group(CALLER, new_group(leaders=leaders))
    assert view.group.id is not None
    assert view.group.purpose is ProgramPurpose.NVS
    assert (view.program_name, view.active_learners) == ("Fortepijono ir styginių instrumentų programa", 0)
    assert [leader.personal_code for leader in view.group.leaders] == [PersonalCode(TEACHER_CODE), None]
    assert uow.committed == 1
    assert uow.stored.groups == {view.group.id: view.group}


def test_lists_a_years_groups_split_by_purpose_fspu_first(registry: Registry) -> None:
    registry.create_group(CALLER, new_group(name="Fortepijonas, 1 klasė"))
    registry.create_group(CALLER, new_group(name="Dainavimas", sub_direction_codes=("MUSIC.VOCAL",), purpose="NVS"))
    registry.create_group(CALLER, new_group(name="Solfedžio", program_code=FSPU_PROGRAM_CODE))
    sections = registry.list_groups(CALLER, "2026-2027")
    assert [s.purpose for s in sections] == [ProgramPurpose.FSPU, ProgramPurpose.NVS]
    assert [len(s.groups) for s in sections] == [1, 2]
    assert [v.group.name for v in sections[0].groups] == ["Solfedžio"]
    assert sorted(v.group.name for v in sections[1].groups) == ["Dainavimas", "Fortepijonas, 1 klasė"]
    assert sections[0].groups[0].program_name == "Muzikos pradinio ugdymo programa"


def test_lists_only_one_purpose_when_asked(registry: Registry) -> None:
    registry.create_group(CALLER, new_group())
    registry.create_group(CALLER, new_group(name="Solfedžio", program_code=FSPU_PROGRAM_CODE))
    sections = registry.list_groups(CALLER, "2026-2027", purpose="NVS")
    assert [(s.purpose, len(s.groups)) for s in sections] == [(ProgramPurpose.NVS, 1)]


def test_lists_only_the_callers_groups_of_that_year(registry: Registry, uow: FakeUnitOfWork) -> None:
    registry.create_group(CALLER, new_group())
    registry.create_group(CALLER, new_group(school_year="2025-2026"))
    uow.seed(OTHER_GROUP)
    sections = registry.list_groups(CALLER, "2026-2027")
    assert [v.group.provider_code for s in sections for v in s.groups] == [PROVIDER_CODE]
    assert [len(s.groups) for s in registry.list_groups(OTHER_CALLER, "2026-2027")] == [0, 1]


def test_counts_active_learners_only_not_deregistered_nor_cancelled_ones(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    third = a_person(personal_code=valid_code("6150101321"), first_name="Ieva")
    fourth = a_person(personal_code=valid_code("5150202654"), first_name="Jokūbas")
    uow.seed(
        GIRL,
        BOY,
        third,
        fourth,
        a_group(id=1),
        a_group(id=3, name="Smuikas", sub_direction_codes=("MUSIC.VIOLIN",)),
        a_registration(id=1, personal_code=GIRL_CODE),
        a_registration(id=2, personal_code=BOY_CODE),
        a_registration(
            id=3,
            personal_code=third.personal_code,
            status=RegistrationStatus.DEREGISTERED,
            departure=Departure(date(2026, 9, 30), "MOVED"),
        ),
        a_registration(id=4, personal_code=fourth.personal_code).cancel(reason="Įvesta per klaidą", today=TODAY),
    )
    [nvs] = registry.list_groups(CALLER, "2026-2027", purpose="NVS")
    assert {v.group.id: v.active_learners for v in nvs.groups} == {1: 2, 3: 0}


def test_rejects_the_temporary_program_code(registry: Registry, uow: FakeUnitOfWork) -> None:
    uow.seed(a_program(code="999999999"))
    with pytest.raises(ProgramNotRegistered):
        registry.create_group(CALLER, new_group(program_code="999999999"))


@pytest.mark.parametrize("program_code", ["129999999", OTHER_PROGRAM_CODE], ids=["unknown", "another-institutions"])
def test_rejects_a_program_the_caller_does_not_have(registry: Registry, program_code: str) -> None:
    with pytest.raises(UnknownProgram) as raised:
        registry.create_group(CALLER, new_group(program_code=program_code))
    assert raised.value.field == "programCode"


def test_rejects_a_second_group_of_the_same_name_in_the_same_year_only(registry: Registry, uow: FakeUnitOfWork) -> None:
    registry.create_group(CALLER, new_group(name="Smuikas"))
    with pytest.raises(DuplicateGroupName):
        registry.create_group(CALLER, new_group(name="Smuikas", sub_direction_codes=("MUSIC.VIOLIN",)))
    registry.create_group(CALLER, new_group(name="Smuikas", school_year="2027-2028"))
    uow.seed(a_group(id=None, provider_code=OTHER_PROVIDER_CODE, program_code=OTHER_PROGRAM_CODE, name="Krepšinis"))
    registry.create_group(CALLER, new_group(name="Krepšinis"))
    assert uow.committed == 3


@pytest.mark.parametrize("school_year", ["2026-2028", "2026/2027", "šiemet"])
def test_rejects_an_invalid_school_year(registry: Registry, school_year: str) -> None:
    with pytest.raises(InvalidSchoolYear):
        registry.create_group(CALLER, new_group(school_year=school_year))
    with pytest.raises(InvalidSchoolYear):
        registry.list_groups(CALLER, school_year)


def test_an_ineligible_provider_cannot_create_a_group(registry: Registry, uow: FakeUnitOfWork) -> None:
    kindergarten = an_institution(code="300100009", group_code="OTHER_PROVIDER", purpose_codes=("31714101",))
    uow.seed(kindergarten, a_program(code="120000009", provider_code=kindergarten.code))
    caller = Caller(9, "darzelis", kindergarten.code)
    with pytest.raises(ProviderNotEligible):
        registry.create_group(caller, new_group(program_code="120000009"))
    assert uow.stored.groups == {}


def test_a_leader_with_an_invalid_personal_code_is_rejected_naming_the_leader(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    wrong = with_wrong_check_digit(TEACHER_CODE)
    leaders = (LeaderInput("Rūta", "Mokytoja", TEACHER_CODE), LeaderInput("Jonas", "Mokytojas", wrong))
    with pytest.raises(InvalidPersonalCode) as raised:
        registry.create_group(CALLER, new_group(leaders=leaders))
    assert raised.value.field == "leader[2]/personalCode"
    assert wrong not in raised.value.message
    assert uow.committed == 0


def test_a_failed_group_creation_commits_nothing(registry: Registry, uow: FakeUnitOfWork) -> None:
    with pytest.raises(InvalidSubDirection):
        registry.create_group(CALLER, new_group(sub_direction_codes=("MUSIC.PIANO", "SPORT.CHESS")))
    assert uow.committed == 0 and uow.stored.groups == {}


def test_renames_a_group_and_keeps_its_program_year_and_learners(registry: Registry, uow: FakeUnitOfWork) -> None:
    uow.seed(GIRL, a_group(id=1), a_registration(group_id=1))
    view = registry.update_group(
        CALLER, 1, GroupInput(name="Fortepijonas, 2 klasė", sub_direction_codes=("MUSIC.PIANO",))
    )
    assert (view.group.name, view.active_learners) == ("Fortepijonas, 2 klasė", 1)
    stored = uow.stored.groups[1]
    assert stored.name == "Fortepijonas, 2 klasė"
    assert (stored.program_code, stored.school_year) == (PROGRAM_CODE, SchoolYear(2026))


def test_a_group_may_keep_its_own_name_when_changed(registry: Registry, uow: FakeUnitOfWork) -> None:
    uow.seed(a_group(id=1))
    view = registry.update_group(
        CALLER, 1, GroupInput(name="Fortepijonas, 1 klasė", sub_direction_codes=("MUSIC.VOCAL",))
    )
    assert view.group.sub_direction_codes == ("MUSIC.VOCAL",)


def test_rejects_renaming_a_group_to_a_taken_name(registry: Registry, uow: FakeUnitOfWork) -> None:
    uow.seed(a_group(id=1), a_group(id=3, name="Smuikas"))
    with pytest.raises(DuplicateGroupName):
        registry.update_group(CALLER, 1, GroupInput(name="Smuikas", sub_direction_codes=("MUSIC.PIANO",)))
    assert uow.stored.groups[1].name == "Fortepijonas, 1 klasė"


@pytest.mark.parametrize("group_id", [2, 999], ids=["another-institutions", "unknown"])
def test_changing_a_group_the_caller_does_not_have_is_group_not_found(
    registry: Registry, uow: FakeUnitOfWork, group_id: int
) -> None:
    uow.seed(OTHER_GROUP)
    with pytest.raises(GroupNotFound):
        registry.update_group(CALLER, group_id, GroupInput(name="Perimta", sub_direction_codes=("SPORT.BASKETBALL",)))
    assert uow.stored.groups[2] == OTHER_GROUP


def test_a_changed_leader_with_an_invalid_personal_code_is_rejected_naming_the_leader(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    uow.seed(a_group(id=1))
    change = GroupInput(
        name="Fortepijonas", sub_direction_codes=("MUSIC.PIANO",), leaders=(LeaderInput("A", "B", "1"),)
    )
    with pytest.raises(InvalidPersonalCode) as raised:
        registry.update_group(CALLER, 1, change)
    assert raised.value.field == "leader[1]/personalCode"


# --- registering a student (step 2) -----------------------------------------------------------------
def test_registering_stores_the_persons_population_register_data_and_the_registration(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    uow.seed(a_group(id=1))
    view, warnings = registry.register_student(CALLER, new_registration())
    assert warnings == []
    registration = view.registration
    assert registration.id is not None and registration.is_active
    assert (registration.group_id, registration.provider_code, registration.registered_on) == (1, PROVIDER_CODE, TODAY)
    assert (view.person, view.group) == (GIRL, a_group(id=1))
    assert uow.committed == 1
    assert uow.stored.persons == {GIRL.personal_code: GIRL}
    assert uow.stored.persons_checked_at == {GIRL.personal_code: NOW}
    assert uow.stored.registrations == {registration.id: registration}


def test_registering_late_is_accepted_with_a_warning(registry: Registry, uow: FakeUnitOfWork) -> None:
    uow.seed(a_group(id=1))
    view, warnings = registry.register_student(
        CALLER,
        new_registration(first_learning_date=date(2026, 9, 21), contract=a_contract(signed_on=date(2026, 9, 21))),
    )
    assert [w.code for w in warnings] == [model.LATE_REGISTRATION]
    assert view.registration.id in uow.stored.registrations


@pytest.mark.parametrize(
    "arrange, request_overrides, error",
    [
        (lambda gr: gr.add(a_person(personal_code=GIRL_CODE, deceased_on=date(2026, 9, 1))), {}, PersonDeceased),
        (lambda gr: None, {"first_learning_date": date(2026, 8, 31)}, FirstLearningDateOutsideSchoolYear),
        (lambda gr: None, {"personal_code": UNKNOWN_CODE}, PersonNotFound),
        (lambda gr: gr.make_unavailable(), {}, PopulationRegisterUnavailable),
    ],
    ids=["deceased", "outside-the-school-year", "unknown-to-gr", "gr-unavailable"],
)
def test_a_failed_registration_leaves_nothing_committed(
    registry: Registry,
    uow: FakeUnitOfWork,
    population_register: InMemoryPopulationRegister,
    arrange: Any,
    request_overrides: dict[str, Any],
    error: type[Exception],
) -> None:
    uow.seed(a_group(id=1))
    arrange(population_register)
    with pytest.raises(error):
        registry.register_student(CALLER, new_registration(**request_overrides))
    assert uow.committed == 0
    assert uow.stored.persons == {} and uow.stored.registrations == {}


def test_a_child_cannot_be_registered_twice_in_a_group_while_active(registry: Registry, uow: FakeUnitOfWork) -> None:
    uow.seed(a_group(id=1))
    first, _ = registry.register_student(CALLER, new_registration())
    with pytest.raises(AlreadyRegistered):
        registry.register_student(CALLER, new_registration())
    registry.deregister_student(CALLER, present(first.registration.id), Departure(date(2026, 10, 2), "HEALTH"))
    again, _ = registry.register_student(CALLER, new_registration(first_learning_date=date(2026, 10, 5)))
    assert again.registration.id != first.registration.id
    assert len(uow.stored.registrations) == 2


@pytest.mark.parametrize("group_id", [2, 999], ids=["another-institutions", "unknown"])
def test_registering_in_a_group_the_caller_does_not_have_never_asks_the_population_register(
    registry: Registry, uow: FakeUnitOfWork, population_register: InMemoryPopulationRegister, group_id: int
) -> None:
    uow.seed(OTHER_GROUP)
    with pytest.raises(GroupNotFound):
        registry.register_student(CALLER, new_registration(group_id=group_id))
    assert population_register.calls == 0
    assert uow.committed == 0


def test_registering_with_an_invalid_code_never_asks_the_population_register(
    registry: Registry, uow: FakeUnitOfWork, population_register: InMemoryPopulationRegister
) -> None:
    uow.seed(a_group(id=1))
    with pytest.raises(InvalidPersonalCode):
        registry.register_student(CALLER, new_registration(personal_code=with_wrong_check_digit(GIRL_CODE)))
    assert population_register.calls == 0


def test_a_provider_deregistered_from_smir_cannot_register_and_gr_is_not_asked(
    registry: Registry, uow: FakeUnitOfWork, population_register: InMemoryPopulationRegister
) -> None:
    uow.seed(an_institution(deregistered_on=date(2026, 9, 30)), a_group(id=1))
    with pytest.raises(ProviderNotEligible):
        registry.register_student(CALLER, new_registration())
    assert population_register.calls == 0


# --- correcting, cancelling, deregistering ------------------------------------------------------------
OPERATIONS = {
    "correct": lambda registry, caller, rid: registry.correct_registration(caller, rid, date(2026, 9, 10), None),
    "cancel": lambda registry, caller, rid: registry.cancel_registration(caller, rid, "Įvesta per klaidą"),
    "deregister": lambda registry, caller, rid: registry.deregister_student(
        caller, rid, Departure(date(2026, 10, 2), "MOVED")
    ),
}


@pytest.mark.parametrize("operation", OPERATIONS.values(), ids=list(OPERATIONS))
@pytest.mark.parametrize("registration_id", [1, 999], ids=["another-institutions", "unknown"])
def test_a_registration_the_caller_does_not_have_is_registration_not_found(
    registry: Registry, uow: FakeUnitOfWork, operation: Any, registration_id: int
) -> None:
    theirs = a_registration(id=1, group_id=2, provider_code=OTHER_PROVIDER_CODE)
    uow.seed(GIRL, OTHER_GROUP, theirs)
    with pytest.raises(RegistrationNotFound) as raised:
        operation(registry, CALLER, registration_id)
    assert raised.value.field == "registrationId"
    assert uow.committed == 0
    assert uow.stored.registrations == {1: theirs}


def test_corrects_the_first_learning_date_and_keeps_the_contract(registry: Registry, uow: FakeUnitOfWork) -> None:
    registration = a_registration(id=5)
    uow.seed(GIRL, a_group(id=1), registration)
    view, warnings = registry.correct_registration(CALLER, 5, date(2026, 9, 10), None)
    assert warnings == []
    assert view.registration.first_learning_date == date(2026, 9, 10)
    assert uow.stored.registrations[5].first_learning_date == date(2026, 9, 10)
    assert uow.stored.registrations[5].contract == registration.contract


def test_a_rejected_correction_changes_nothing(registry: Registry, uow: FakeUnitOfWork) -> None:
    registration = a_registration(id=5)
    uow.seed(GIRL, a_group(id=1), registration)
    with pytest.raises(FirstLearningDateOutsideSchoolYear):
        registry.correct_registration(CALLER, 5, date(2027, 9, 1), None)
    assert uow.stored.registrations[5] == registration and uow.committed == 0


def test_cancelling_keeps_the_record_and_removes_it_from_counts(registry: Registry, uow: FakeUnitOfWork) -> None:
    uow.seed(GIRL, a_group(id=1), a_registration(id=5))
    view = registry.cancel_registration(CALLER, 5, "Įvesta per klaidą")
    stored = uow.stored.registrations[5]
    assert view.registration == stored
    assert (stored.status, stored.cancellation_reason, stored.cancelled_on) == (
        RegistrationStatus.CANCELLED,
        "Įvesta per klaidą",
        TODAY,
    )
    [nvs] = registry.list_groups(CALLER, "2026-2027", purpose="NVS")
    assert nvs.groups[0].active_learners == 0
    with pytest.raises(RegistrationNotActive):
        registry.cancel_registration(CALLER, 5, "Dar kartą")
    assert uow.committed == 1


def test_deregistering_stores_the_departure_and_names_its_reason(registry: Registry, uow: FakeUnitOfWork) -> None:
    uow.seed(GIRL, a_group(id=1), a_registration(id=5))
    view, warnings = registry.deregister_student(CALLER, 5, Departure(date(2026, 10, 2), "PARENTS_REQUEST", "V-12"))
    assert warnings == []
    assert view.departure_reason_name == "Sutartis nutraukta tėvų (globėjų) prašymu"
    stored = uow.stored.registrations[5]
    assert stored.status is RegistrationStatus.DEREGISTERED
    assert stored.departure == Departure(date(2026, 10, 2), "PARENTS_REQUEST", "V-12")


def test_deregistering_late_is_accepted_with_a_warning(registry: Registry, uow: FakeUnitOfWork) -> None:
    uow.seed(GIRL, a_group(id=1), a_registration(id=5))
    _, warnings = registry.deregister_student(CALLER, 5, Departure(date(2026, 9, 29), "MOVED"))
    assert [w.code for w in warnings] == [model.LATE_DEREGISTRATION]
    assert uow.stored.registrations[5].status is RegistrationStatus.DEREGISTERED


def test_a_rejected_deregistration_leaves_the_registration_active(registry: Registry, uow: FakeUnitOfWork) -> None:
    uow.seed(GIRL, a_group(id=1), a_registration(id=5))
    with pytest.raises(InvalidDepartureDate):
        registry.deregister_student(CALLER, 5, Departure(date(2026, 11, 1), "MOVED"))
    assert uow.stored.registrations[5].is_active and uow.committed == 0


# --- a student's record ------------------------------------------------------------------------------------
def test_get_student_returns_only_the_callers_registrations(registry: Registry, uow: FakeUnitOfWork) -> None:
    uow.seed(
        GIRL,
        a_group(id=1),
        OTHER_GROUP,
        a_registration(id=1, group_id=1),
        a_registration(id=2, group_id=2, provider_code=OTHER_PROVIDER_CODE),
    )
    record = registry.get_student(CALLER, GIRL_CODE)
    assert record.person == GIRL
    assert [v.registration.id for v in record.registrations] == [1]
    assert record.registrations[0].group == a_group(id=1)
    assert [v.registration.id for v in registry.get_student(OTHER_CALLER, GIRL_CODE).registrations] == [2]


def test_get_student_leaves_out_cancelled_registrations_and_names_departure_reasons(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    uow.seed(
        GIRL,
        a_group(id=1),
        a_group(id=3, name="Smuikas"),
        a_registration(
            id=1, group_id=1, status=RegistrationStatus.DEREGISTERED, departure=Departure(date(2026, 9, 30), "HEALTH")
        ),
        a_registration(id=2, group_id=3).cancel(reason="Įvesta per klaidą", today=TODAY),
    )
    [view] = registry.get_student(CALLER, GIRL_CODE).registrations
    assert view.registration.id == 1
    assert view.departure_reason_name == "Dėl sveikatos būklės"


def test_get_student_of_someone_with_only_cancelled_registrations_is_student_not_found(
    registry: Registry, uow: FakeUnitOfWork
) -> None:
    uow.seed(GIRL, a_group(id=1), a_registration(id=1).cancel(reason="Įvesta per klaidą", today=TODAY))
    with pytest.raises(StudentNotFound):
        registry.get_student(CALLER, GIRL_CODE)


@pytest.mark.parametrize("personal_code", [BOY_CODE, UNKNOWN_CODE], ids=["not-a-learner-here", "unknown"])
def test_get_student_of_someone_not_registered_here_is_student_not_found(
    registry: Registry, uow: FakeUnitOfWork, personal_code: str
) -> None:
    uow.seed(
        BOY, OTHER_GROUP, a_registration(id=1, personal_code=BOY_CODE, group_id=2, provider_code=OTHER_PROVIDER_CODE)
    )
    with pytest.raises(StudentNotFound):
        registry.get_student(CALLER, personal_code)


def test_get_student_with_an_invalid_code_is_invalid_personal_code(
    registry: Registry, population_register: InMemoryPopulationRegister
) -> None:
    with pytest.raises(InvalidPersonalCode):
        registry.get_student(CALLER, "1234")
    assert population_register.calls == 0


# --- scope: what coordinators and administrators see ------------------------------------
VILNIUS_COORDINATOR = Caller(user_id=10, username="vilnius", municipality_code="13")  # PROVIDER_CODE is in Vilnius
KAUNAS_COORDINATOR = Caller(user_id=11, username="kaunas", municipality_code="19")  # OTHER_PROVIDER_CODE is in Kaunas
ADMINISTRATOR = Caller(user_id=12, username="admin", central=True)


def registered_with_both_providers(uow: FakeUnitOfWork) -> None:
    uow.seed(
        GIRL,
        a_group(),
        a_group(id=2, provider_code=OTHER_PROVIDER_CODE, program_code=OTHER_PROGRAM_CODE, name="Krepšinis"),
        a_registration(id=1),
        a_registration(id=2, group_id=2, provider_code=OTHER_PROVIDER_CODE),
    )


def test_a_coordinator_gets_the_registrations_in_its_municipality_and_an_administrator_all(registry, uow) -> None:
    registered_with_both_providers(uow)
    assert [
        r.registration.provider_code for r in registry.get_student(VILNIUS_COORDINATOR, GIRL_CODE).registrations
    ] == [PROVIDER_CODE]
    assert [
        r.registration.provider_code for r in registry.get_student(KAUNAS_COORDINATOR, GIRL_CODE).registrations
    ] == [OTHER_PROVIDER_CODE]
    assert len(registry.get_student(ADMINISTRATOR, GIRL_CODE).registrations) == 2
    only_one = registry.get_student(ADMINISTRATOR, GIRL_CODE, institution_code=OTHER_PROVIDER_CODE).registrations
    assert [r.registration.provider_code for r in only_one] == [OTHER_PROVIDER_CODE]
    with pytest.raises(AccessDenied):  # Kaunas cannot look at a Vilnius school
        registry.get_student(KAUNAS_COORDINATOR, GIRL_CODE, institution_code=PROVIDER_CODE)
    with pytest.raises(AccessDenied):  # nor a provider at another one
        registry.get_student(CALLER, GIRL_CODE, institution_code=OTHER_PROVIDER_CODE)


def test_a_coordinator_looks_up_only_children_of_its_scope_and_the_register_is_not_asked_otherwise(
    registry, uow, population_register
) -> None:
    uow.seed(GIRL, a_group(), a_registration(id=1))
    assert registry.lookup_person(VILNIUS_COORDINATOR, GIRL_CODE).last_registration.institution_code == PROVIDER_CODE
    calls = population_register.calls
    with pytest.raises(AccessDenied):
        registry.lookup_person(KAUNAS_COORDINATOR, GIRL_CODE)
    assert population_register.calls == calls


def test_coordinators_name_the_institution_whose_groups_they_list_and_change_nothing(registry, uow) -> None:
    uow.seed(a_group())
    with pytest.raises(InstitutionCodeRequired):
        registry.list_groups(VILNIUS_COORDINATOR, "2026-2027")
    sections = registry.list_groups(VILNIUS_COORDINATOR, "2026-2027", institution_code=PROVIDER_CODE)
    assert sum(len(s.groups) for s in sections) == 1
    with pytest.raises(AccessDenied):
        registry.list_groups(KAUNAS_COORDINATOR, "2026-2027", institution_code=PROVIDER_CODE)
    with pytest.raises(UnknownInstitution):
        registry.list_groups(ADMINISTRATOR, "2026-2027", institution_code="399999999")
    before = uow.committed
    with pytest.raises(AccessDenied):
        registry.cancel_registration(VILNIUS_COORDINATOR, 1, "no")
    assert uow.committed == before
