"""The rules of institutions, programs, groups and registrations (gateway.domain.model),
checked in plain Python against the real classifier file."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from gateway.domain import model
from gateway.domain.calendar import SchoolYear
from gateway.domain.errors import (
    AlreadyRegistered,
    ContractRequired,
    DuplicateGroupName,
    FirstLearningDateOutsideSchoolYear,
    InvalidDepartureDate,
    InvalidSubDirection,
    PersonDeceased,
    ProgramDeregistered,
    ProgramNotRegistered,
    ProviderNotEligible,
    PurposeMismatch,
    RegistrationNotActive,
    RequestRejected,
    UnknownClassifierCode,
    UnknownProgram,
)
from gateway.domain.model import (
    Contract,
    Departure,
    Leader,
    ProgramPurpose,
    Registration,
    RegistrationStatus,
)
from gateway.domain.personal_code import PersonalCode
from tests.fakes import (
    CLASSIFIERS,
    OTHER_PROVIDER_CODE,
    PROVIDER_CODE,
    TEACHER_CODE,
    a_contract,
    a_group,
    a_person,
    a_program,
    a_registration,
    an_institution,
)
from tests.present import present

TODAY = date(2026, 10, 5)  # a Monday in the 2026-2027 school year
YEAR = SchoolYear(2026)


# --- provider eligibility -------------------------------------------------------------------
def test_an_nvs_school_may_provide_nvs() -> None:
    school = an_institution(group_code="NVS_SCHOOL", purpose_codes=("MUSIC_SCHOOL",))
    assert school.may_provide_nvs(CLASSIFIERS)
    school.check_may_provide_nvs(CLASSIFIERS)


def test_an_nvs_school_is_eligible_by_its_group_whatever_its_purpose_codes() -> None:
    assert an_institution(group_code="NVS_SCHOOL", purpose_codes=()).may_provide_nvs(CLASSIFIERS)


@pytest.mark.parametrize(
    "group_code, purpose_codes",
    [
        ("OTHER_PROVIDER", ("31714102",)),
        ("FREELANCE", ("31914102",)),
        ("OTHER_PROVIDER", ("31714101", "31714102")),  # pre-school and NVŠ: NVŠ is enough
        ("FREELANCE", ("31914101", "31914102")),
    ],
)
def test_an_other_provider_or_free_lance_teacher_with_an_nvs_purpose_may_provide_nvs(
    group_code: str, purpose_codes: tuple[str, ...]
) -> None:
    provider = an_institution(group_code=group_code, purpose_codes=purpose_codes)
    assert provider.may_provide_nvs(CLASSIFIERS)
    provider.check_may_provide_nvs(CLASSIFIERS)


@pytest.mark.parametrize(
    "group_code, purpose_codes",
    [
        ("OTHER_PROVIDER", ("31714101",)),
        ("FREELANCE", ("31914101",)),
        ("OTHER_PROVIDER", ()),
        ("FREELANCE", ()),
        ("OTHER_PROVIDER", ("GYMNASIUM",)),
    ],
)
def test_an_other_provider_or_free_lance_teacher_without_an_nvs_purpose_is_not_eligible(
    group_code: str, purpose_codes: tuple[str, ...]
) -> None:
    provider = an_institution(group_code=group_code, purpose_codes=purpose_codes)
    assert not provider.may_provide_nvs(CLASSIFIERS)
    with pytest.raises(ProviderNotEligible):
        provider.check_may_provide_nvs(CLASSIFIERS)


def test_a_general_education_school_is_not_an_nvs_provider() -> None:
    school = an_institution(group_code="GENERAL_EDU", purpose_codes=("GYMNASIUM",))
    assert school.is_general_education_school(CLASSIFIERS)
    assert not school.may_provide_nvs(CLASSIFIERS)
    with pytest.raises(ProviderNotEligible):
        school.check_may_provide_nvs(CLASSIFIERS)


def test_a_general_education_school_is_not_eligible_even_with_an_nvs_purpose_code() -> None:
    school = an_institution(group_code="GENERAL_EDU", purpose_codes=("31714102",))
    assert not school.may_provide_nvs(CLASSIFIERS)


@pytest.mark.parametrize("group_code", ["PRESCHOOL", "VOCATIONAL", "NO_SUCH_GROUP"])
def test_other_institution_groups_are_not_eligible(group_code: str) -> None:
    assert not an_institution(group_code=group_code, purpose_codes=("31714102",)).may_provide_nvs(CLASSIFIERS)


def test_only_a_general_education_school_counts_as_one() -> None:
    assert not an_institution(group_code="NVS_SCHOOL").is_general_education_school(CLASSIFIERS)
    assert not an_institution(group_code="OTHER_PROVIDER").is_general_education_school(CLASSIFIERS)


@pytest.mark.parametrize(
    "group_code, purpose_codes",
    [("NVS_SCHOOL", ("MUSIC_SCHOOL",)), ("OTHER_PROVIDER", ("31714102",)), ("FREELANCE", ("31914102",))],
)
def test_a_deregistered_institution_is_not_eligible(group_code: str, purpose_codes: tuple[str, ...]) -> None:
    provider = an_institution(group_code=group_code, purpose_codes=purpose_codes, deregistered_on=date(2025, 12, 31))
    assert not provider.may_provide_nvs(CLASSIFIERS)
    with pytest.raises(ProviderNotEligible):
        provider.check_may_provide_nvs(CLASSIFIERS)


# --- programs -------------------------------------------------------------------------------
def test_a_registered_program_of_the_provider_is_usable() -> None:
    a_program().check_usable_by(PROVIDER_CODE, TODAY)


def test_another_providers_program_is_unknown_to_the_caller() -> None:
    with pytest.raises(UnknownProgram) as raised:
        a_program(provider_code=OTHER_PROVIDER_CODE).check_usable_by(PROVIDER_CODE, TODAY)
    assert raised.value.field == "programCode"


def test_the_temporary_program_code_is_not_registered() -> None:
    with pytest.raises(ProgramNotRegistered) as raised:
        a_program(code="999999999").check_usable_by(PROVIDER_CODE, TODAY)
    assert raised.value.field == "programCode"
    with pytest.raises(ProgramNotRegistered):
        model.check_program_code("999999999")
    model.check_program_code("120000001")


def test_a_program_without_a_registration_date_is_not_registered() -> None:
    with pytest.raises(ProgramNotRegistered):
        a_program(registered_on=None).check_usable_by(PROVIDER_CODE, TODAY)


@pytest.mark.parametrize("deregistered_on", [date(2026, 9, 30), TODAY], ids=["before-today", "today"])
def test_a_deregistered_program_is_not_usable(deregistered_on: date) -> None:
    program = a_program(deregistered_on=deregistered_on)
    assert program.is_deregistered(TODAY)
    with pytest.raises(ProgramDeregistered) as raised:
        program.check_usable_by(PROVIDER_CODE, TODAY)
    assert raised.value.field == "programCode"


def test_a_program_deregistered_from_a_later_date_is_still_usable() -> None:
    program = a_program(deregistered_on=date(2026, 10, 6))
    assert not program.is_deregistered(TODAY)
    program.check_usable_by(PROVIDER_CODE, TODAY)


def test_a_program_is_accredited_from_its_accreditation_date() -> None:
    program = a_program(accredited_on=TODAY)
    assert program.is_accredited(TODAY)
    assert not program.is_accredited(date(2026, 10, 4))
    assert not a_program(accredited_on=None).is_accredited(TODAY)


# --- opening a group ------------------------------------------------------------------------
def open_group(**overrides: Any) -> model.Group:
    arguments: dict[str, Any] = dict(
        provider=an_institution(),
        program=a_program(),
        school_year=YEAR,
        name="Fortepijonas, 1 klasė",
        requested_purpose=None,
        sub_direction_codes=("MUSIC.PIANO",),
        leaders=(),
        name_taken=False,
        classifiers=CLASSIFIERS,
        today=TODAY,
    )
    arguments.update(overrides)
    return model.open_group(**arguments)


def test_opens_a_group_of_the_providers_program_for_a_school_year() -> None:
    leaders = (Leader("Rūta", "Mokytoja", PersonalCode(TEACHER_CODE)), Leader("Jonas", "Mokytojas"))
    group = open_group(leaders=leaders)
    assert group.id is None
    assert (group.provider_code, group.school_year, group.program_code) == (PROVIDER_CODE, YEAR, "120000001")
    assert group.name == "Fortepijonas, 1 klasė"
    assert group.sub_direction_codes == ("MUSIC.PIANO",)
    assert group.leaders == leaders


@pytest.mark.parametrize("purpose", [ProgramPurpose.NVS, ProgramPurpose.FSPU])
def test_the_groups_purpose_is_derived_from_its_program(purpose: ProgramPurpose) -> None:
    assert open_group(program=a_program(purpose=purpose)).purpose is purpose


def test_a_requested_purpose_equal_to_the_programs_is_accepted() -> None:
    group = open_group(program=a_program(purpose=ProgramPurpose.FSPU), requested_purpose=ProgramPurpose.FSPU)
    assert group.purpose is ProgramPurpose.FSPU


@pytest.mark.parametrize(
    "program_purpose, requested", [(ProgramPurpose.NVS, ProgramPurpose.FSPU), (ProgramPurpose.FSPU, ProgramPurpose.NVS)]
)
def test_rejects_a_requested_purpose_other_than_the_programs(
    program_purpose: ProgramPurpose, requested: ProgramPurpose
) -> None:
    with pytest.raises(PurposeMismatch) as raised:
        open_group(program=a_program(purpose=program_purpose), requested_purpose=requested)
    assert raised.value.field == "purpose"


def test_accepts_sub_directions_of_any_of_the_programs_directions() -> None:
    group = open_group(
        program=a_program(direction_codes=("MUSIC", "DANCE")), sub_direction_codes=("MUSIC.CHOIR", "DANCE.FOLK_STAGE")
    )
    assert group.sub_direction_codes == ("MUSIC.CHOIR", "DANCE.FOLK_STAGE")


def test_rejects_a_sub_direction_outside_the_programs_directions_naming_its_position() -> None:
    with pytest.raises(InvalidSubDirection) as raised:
        open_group(sub_direction_codes=("MUSIC.PIANO", "MUSIC.VIOLIN", "ART.DRAWING"))
    assert raised.value.field == "subDirectionCode[3]"
    assert "ART.DRAWING" in raised.value.message


@pytest.mark.parametrize("code", ["MUSIC.BANJO", "MUSIC", "music.piano", ""])
def test_rejects_an_unknown_sub_direction(code: str) -> None:
    with pytest.raises(InvalidSubDirection) as raised:
        open_group(sub_direction_codes=("MUSIC.PIANO", code))
    assert raised.value.field == "subDirectionCode[2]"


@pytest.mark.parametrize("operation", ["open", "change"])
def test_a_group_needs_at_least_one_sub_direction(operation: str) -> None:
    with pytest.raises(RequestRejected):
        if operation == "open":
            open_group(sub_direction_codes=())
        else:
            change_group(a_group(), sub_direction_codes=())


def test_rejects_a_name_the_provider_already_uses_that_year() -> None:
    with pytest.raises(DuplicateGroupName) as raised:
        open_group(name_taken=True)
    assert raised.value.field == "name"


def test_collapses_repeated_sub_directions_keeping_their_order() -> None:
    group = open_group(sub_direction_codes=("MUSIC.VIOLIN", "MUSIC.PIANO", "MUSIC.VIOLIN", "MUSIC.PIANO"))
    assert group.sub_direction_codes == ("MUSIC.VIOLIN", "MUSIC.PIANO")


def test_an_ineligible_provider_cannot_open_a_group() -> None:
    provider = an_institution(group_code="OTHER_PROVIDER", purpose_codes=("31714101",))
    with pytest.raises(ProviderNotEligible):
        open_group(provider=provider, program=a_program(provider_code=provider.code))


def test_a_group_cannot_use_another_providers_program() -> None:
    with pytest.raises(UnknownProgram):
        open_group(program=a_program(provider_code=OTHER_PROVIDER_CODE))


def test_a_group_cannot_use_a_deregistered_program() -> None:
    with pytest.raises(ProgramDeregistered):
        open_group(program=a_program(deregistered_on=date(2026, 9, 30)))


def test_a_group_cannot_use_an_unregistered_program() -> None:
    with pytest.raises(ProgramNotRegistered):
        open_group(program=a_program(registered_on=None))


# --- changing a group -----------------------------------------------------------------------
def change_group(group: model.Group, **overrides: Any) -> model.Group:
    arguments: dict[str, Any] = dict(
        program=a_program(),
        name=group.name,
        sub_direction_codes=group.sub_direction_codes,
        leaders=group.leaders,
        name_taken=False,
        classifiers=CLASSIFIERS,
    )
    arguments.update(overrides)
    return model.change_group(group, **arguments)


def test_renames_a_group_and_changes_its_sub_directions_and_leaders_keeping_program_and_year() -> None:
    group = a_group(id=7)
    changed = change_group(
        group,
        name="Fortepijonas, 2 klasė",
        sub_direction_codes=("MUSIC.PIANO", "MUSIC.PIANO", "MUSIC.VOCAL"),
        leaders=(Leader("Rūta", "Mokytoja"),),
    )
    assert changed.name == "Fortepijonas, 2 klasė"
    assert changed.sub_direction_codes == ("MUSIC.PIANO", "MUSIC.VOCAL")
    assert changed.leaders == (Leader("Rūta", "Mokytoja"),)
    assert (changed.id, changed.program_code, changed.school_year, changed.purpose) == (
        7,
        group.program_code,
        group.school_year,
        group.purpose,
    )


def test_a_group_cannot_be_renamed_to_a_taken_name() -> None:
    with pytest.raises(DuplicateGroupName):
        change_group(a_group(), name="Smuikas", name_taken=True)


def test_a_changed_group_keeps_to_its_programs_directions() -> None:
    with pytest.raises(InvalidSubDirection) as raised:
        change_group(a_group(), sub_direction_codes=("SPORT.FOOTBALL",))
    assert raised.value.field == "subDirectionCode[1]"


# --- registering a student ------------------------------------------------------------------
def register(**overrides: Any) -> tuple[Registration, list[model.Warning]]:
    arguments: dict[str, Any] = dict(
        person=a_person(),
        group=a_group(),
        program=a_program(),
        first_learning_date=date(2026, 10, 1),
        contract=a_contract(signed_on=date(2026, 9, 30)),
        already_active_in_group=False,
        classifiers=CLASSIFIERS,
        today=TODAY,
    )
    arguments.update(overrides)
    return model.register_student(**arguments)


def test_registers_a_living_child_in_a_group_as_an_active_registration() -> None:
    person = a_person()
    contract = a_contract(signed_on=date(2026, 9, 30))
    registration, warnings = register(person=person, group=a_group(id=3), contract=contract)
    assert warnings == []
    assert registration.id is None
    assert registration.personal_code == person.personal_code
    assert (registration.group_id, registration.provider_code) == (3, PROVIDER_CODE)
    assert (registration.first_learning_date, registration.contract) == (date(2026, 10, 1), contract)
    assert registration.registered_on == TODAY
    assert registration.status is RegistrationStatus.ACTIVE and registration.is_active
    assert registration.departure is None


def test_a_deceased_person_cannot_be_registered() -> None:
    with pytest.raises(PersonDeceased) as raised:
        register(person=a_person(deceased_on=date(2026, 9, 20)))
    assert raised.value.field == "personalCode"


@pytest.mark.parametrize(
    "first_learning_date", [date(2026, 8, 31), date(2027, 9, 1)], ids=["august-31-before", "september-1-after"]
)
def test_the_first_learning_date_must_lie_inside_the_groups_school_year(first_learning_date: date) -> None:
    with pytest.raises(FirstLearningDateOutsideSchoolYear) as raised:
        register(first_learning_date=first_learning_date)
    assert raised.value.field == "firstLearningDate"
    assert "2026-2027" in raised.value.message


@pytest.mark.parametrize("first_learning_date", [date(2026, 9, 1), date(2027, 8, 31)], ids=["first-day", "last-day"])
def test_the_first_and_last_days_of_the_school_year_are_inside_it(first_learning_date: date) -> None:
    registration, _ = register(first_learning_date=first_learning_date, today=date(2026, 9, 1))
    assert registration.first_learning_date == first_learning_date


def test_a_contract_is_required_from_2012_09_01() -> None:
    with pytest.raises(ContractRequired) as raised:
        register(group=a_group(school_year=SchoolYear(2012)), first_learning_date=date(2012, 9, 1), contract=None)
    assert raised.value.field == "contract"


def test_no_contract_is_required_before_2012_09_01() -> None:
    registration, warnings = register(
        group=a_group(school_year=SchoolYear(2011)), first_learning_date=date(2012, 8, 31), contract=None
    )
    assert registration.contract is None
    assert warnings == []


def test_rejects_an_unknown_contract_type() -> None:
    with pytest.raises(UnknownClassifierCode) as raised:
        register(contract=a_contract(type_code="ORAL"))
    assert raised.value.field == "contract/typeCode"


@pytest.mark.parametrize("type_code", ["BILATERAL", "TRILATERAL"])
def test_accepts_the_contract_types_of_the_classifier(type_code: str) -> None:
    registration, _ = register(contract=a_contract(type_code=type_code, signed_on=date(2026, 9, 30)))
    assert present(registration.contract).type_code == type_code


def test_a_child_cannot_hold_two_active_registrations_in_one_group() -> None:
    with pytest.raises(AlreadyRegistered) as raised:
        register(already_active_in_group=True)
    assert raised.value.field == "personalCode"


def test_no_new_learners_join_a_group_whose_program_is_deregistered() -> None:
    with pytest.raises(ProgramDeregistered):
        register(program=a_program(deregistered_on=date(2026, 9, 30)))


def test_registering_five_working_days_after_the_contract_date_is_on_time() -> None:
    # Contract Monday 2026-09-21; Tuesday to Friday and Monday 2026-09-28 are five working days.
    _, warnings = register(contract=a_contract(signed_on=date(2026, 9, 21)), today=date(2026, 9, 28))
    assert warnings == []


def test_registering_more_than_five_working_days_after_the_contract_date_is_accepted_with_a_warning() -> None:
    registration, warnings = register(contract=a_contract(signed_on=date(2026, 9, 21)), today=date(2026, 9, 29))
    assert registration.is_active
    assert [w.code for w in warnings] == [model.LATE_REGISTRATION]
    assert "6 working days" in warnings[0].message


def test_the_registration_deadline_skips_public_holidays() -> None:
    # Contract Monday 2026-12-21: 22, 23, (24, 25 holidays, 26-27 weekend), 28, 29, 30 are five working days.
    arguments: dict[str, Any] = dict(
        contract=a_contract(signed_on=date(2026, 12, 21)), first_learning_date=date(2026, 12, 21)
    )
    assert register(**arguments, today=date(2026, 12, 30))[1] == []
    assert [w.code for w in register(**arguments, today=date(2026, 12, 31))[1]] == [model.LATE_REGISTRATION]


# --- correcting a registration --------------------------------------------------------------
def test_corrects_the_first_learning_date_keeping_the_contract() -> None:
    registration = a_registration(contract=a_contract(number="S-1"))
    corrected = registration.correct(
        first_learning_date=date(2026, 9, 14), contract=None, school_year=YEAR, classifiers=CLASSIFIERS
    )
    assert corrected.first_learning_date == date(2026, 9, 14)
    assert corrected.contract == registration.contract
    assert (corrected.id, corrected.status) == (registration.id, RegistrationStatus.ACTIVE)


def test_corrects_the_contract_keeping_the_first_learning_date() -> None:
    registration = a_registration()
    contract = Contract("TRILATERAL", date(2026, 8, 30), "T-7")
    corrected = registration.correct(
        first_learning_date=None, contract=contract, school_year=YEAR, classifiers=CLASSIFIERS
    )
    assert corrected.contract == contract
    assert corrected.first_learning_date == registration.first_learning_date


def test_a_cancelled_registration_cannot_be_corrected() -> None:
    cancelled = a_registration().cancel(reason="Įvesta per klaidą", today=TODAY)
    with pytest.raises(RegistrationNotActive):
        cancelled.correct(
            first_learning_date=date(2026, 9, 14), contract=None, school_year=YEAR, classifiers=CLASSIFIERS
        )


@pytest.mark.parametrize("new_date", [date(2026, 8, 31), date(2027, 9, 1)])
def test_a_corrected_first_learning_date_must_stay_inside_the_school_year(new_date: date) -> None:
    with pytest.raises(FirstLearningDateOutsideSchoolYear):
        a_registration().correct(first_learning_date=new_date, contract=None, school_year=YEAR, classifiers=CLASSIFIERS)


def test_a_corrected_first_learning_date_cannot_be_after_the_departure_date() -> None:
    deregistered, _ = a_registration().deregister(
        departure=Departure(date(2026, 9, 30), "PARENTS_REQUEST"), classifiers=CLASSIFIERS, today=TODAY
    )
    with pytest.raises(FirstLearningDateOutsideSchoolYear) as raised:
        deregistered.correct(
            first_learning_date=date(2026, 10, 1), contract=None, school_year=YEAR, classifiers=CLASSIFIERS
        )
    assert raised.value.field == "firstLearningDate"
    corrected = deregistered.correct(
        first_learning_date=date(2026, 9, 30), contract=None, school_year=YEAR, classifiers=CLASSIFIERS
    )
    assert corrected.first_learning_date == date(2026, 9, 30)
    assert corrected.status is RegistrationStatus.DEREGISTERED


def test_a_corrected_contract_must_have_a_known_type() -> None:
    with pytest.raises(UnknownClassifierCode) as raised:
        a_registration().correct(
            first_learning_date=None, contract=a_contract(type_code="ORAL"), school_year=YEAR, classifiers=CLASSIFIERS
        )
    assert raised.value.field == "contract/typeCode"


# --- cancelling a registration --------------------------------------------------------------
def test_cancelling_keeps_the_record_marked_cancelled_with_the_reason() -> None:
    registration = a_registration(id=42)
    cancelled = registration.cancel(reason="Įvesta per klaidą", today=TODAY)
    assert cancelled.status is RegistrationStatus.CANCELLED and not cancelled.is_active
    assert (cancelled.cancellation_reason, cancelled.cancelled_on) == ("Įvesta per klaidą", TODAY)
    assert (
        replace(cancelled, status=RegistrationStatus.ACTIVE, cancelled_on=None, cancellation_reason=None)
        == registration
    )


def test_a_registration_cannot_be_cancelled_twice() -> None:
    cancelled = a_registration().cancel(reason="Įvesta per klaidą", today=TODAY)
    with pytest.raises(RegistrationNotActive):
        cancelled.cancel(reason="Dar kartą", today=TODAY)


# --- deregistering a student ----------------------------------------------------------------
def deregister(registration: Registration | None = None, **departure: Any) -> tuple[Registration, list[model.Warning]]:
    values: dict[str, Any] = dict(date=date(2026, 10, 2), reason_code="PARENTS_REQUEST", order_number=None)
    values.update(departure)
    return (registration or a_registration()).deregister(
        departure=Departure(**values), classifiers=CLASSIFIERS, today=TODAY
    )


def test_deregistering_records_the_departure_and_ends_the_registration() -> None:
    deregistered, warnings = deregister(order_number="V-15")
    assert deregistered.status is RegistrationStatus.DEREGISTERED and not deregistered.is_active
    assert deregistered.departure == Departure(date(2026, 10, 2), "PARENTS_REQUEST", "V-15")
    assert warnings == []


@pytest.mark.parametrize(
    "registration",
    [
        replace(
            a_registration(), status=RegistrationStatus.DEREGISTERED, departure=Departure(date(2026, 9, 30), "MOVED")
        ),
        a_registration().cancel(reason="Įvesta per klaidą", today=TODAY),
    ],
    ids=["deregistered", "cancelled"],
)
def test_only_an_active_registration_can_be_deregistered(registration: Registration) -> None:
    with pytest.raises(RegistrationNotActive):
        deregister(registration)


def test_the_departure_date_cannot_be_before_the_first_learning_date() -> None:
    registration = a_registration(first_learning_date=date(2026, 9, 15))
    with pytest.raises(InvalidDepartureDate) as raised:
        deregister(registration, date=date(2026, 9, 14))
    assert raised.value.field == "departureDate"
    deregistered, _ = deregister(registration, date=date(2026, 9, 15))
    assert present(deregistered.departure).date == date(2026, 9, 15)


def test_the_departure_date_may_be_the_last_day_of_the_current_month() -> None:
    deregistered, warnings = deregister(date=date(2026, 10, 31))
    assert present(deregistered.departure).date == date(2026, 10, 31)
    assert warnings == []


def test_the_departure_date_cannot_be_after_the_current_month() -> None:
    with pytest.raises(InvalidDepartureDate) as raised:
        deregister(date=date(2026, 11, 1))
    assert raised.value.field == "departureDate"


@pytest.mark.parametrize("reason_code", ["BORED", "", "parents_request"])
def test_rejects_an_unknown_departure_reason(reason_code: str) -> None:
    with pytest.raises(UnknownClassifierCode) as raised:
        deregister(reason_code=reason_code)
    assert raised.value.field == "departureReasonCode"


def test_deregistering_three_working_days_after_the_departure_is_on_time() -> None:
    # Departure Wednesday 2026-09-30; Thursday, Friday and today, Monday 2026-10-05, are three working days.
    _, warnings = deregister(date=date(2026, 9, 30))
    assert warnings == []


def test_deregistering_more_than_three_working_days_after_the_departure_is_accepted_with_a_warning() -> None:
    deregistered, warnings = deregister(date=date(2026, 9, 29))
    assert deregistered.status is RegistrationStatus.DEREGISTERED
    assert [w.code for w in warnings] == [model.LATE_DEREGISTRATION]
    assert "4 working days" in warnings[0].message
