"""The life of a school year on in-memory fakes: TransferStudent, CloseGroup, DeleteGroup and
RollOverGroups (gateway.services.Registry, deciding through gateway.domain.model and
gateway.domain.funding). FakeUnitOfWork's basket claims are keyed by (personal code, month)
like the database's, so "the claim is never released" is visible as the key staying put."""

from __future__ import annotations

import datetime as dt

import pytest

from clients.population_register.fake import InMemoryPopulationRegister
from gateway.clock import FixedClock
from gateway.domain.calendar import Month, SchoolYear
from gateway.domain.errors import (
    BasketAlreadyClaimed,
    DuplicateGroupName,
    GroupClosed,
    GroupHasLearners,
    GroupHasRegistrations,
    GroupNotFound,
    InvalidClosingDate,
    InvalidSchoolYear,
    InvalidTransferDate,
    ProgramDeregistered,
    RegistrationNotActive,
    RegistrationNotFound,
    SameGroup,
)
from gateway.domain.feed import ChangeKind
from gateway.domain.model import FUNDING_NOT_CARRIED, TRANSFER_REASON, Departure, ProgramPurpose, RegistrationStatus
from gateway.domain.personal_code import PersonalCode
from gateway.services import Caller, NewFunding, NewRegistration, Registry
from tests.fakes import (
    BOY_CODE,
    GIRL_CODE,
    OTHER_PROVIDER_CODE,
    PROVIDER_CODE,
    FakeUnitOfWork,
    a_contract,
    a_group,
    a_person,
    a_program,
    a_registration,
    an_institution,
)

TODAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
CALLER = Caller(user_id=1, username="muzikos.mokykla", institution_code=PROVIDER_CODE)
OTHER_CALLER = Caller(user_id=2, username="sporto.klubas", institution_code=OTHER_PROVIDER_CODE)
FSPU_PROGRAM = "120000003"
OTHER_PROGRAM = "120000002"
ENDING_PROGRAM = "120000004"  # deregistered in NŠPR at the end of 2025-2026

PIANO, VIOLIN, SOLFEGE, BASKETBALL = 1, 2, 3, 4  # 2026-2027 groups
LAST_YEAR_PIANO, LAST_YEAR_ENDING = 11, 12  # 2025-2026 groups
GIRL_IN_PIANO, GIRL_AT_OTHER, BOY_LAST_YEAR, GIRL_LAST_YEAR = 1, 2, 3, 4

SEP, OCT, NOV, DEC, AUG = Month(2026, 9), Month(2026, 10), Month(2026, 11), Month(2026, 12), Month(2027, 8)
GIRL = PersonalCode(GIRL_CODE)


@pytest.fixture
def uow() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    last_year = SchoolYear(2025)
    uow.seed(
        an_institution(),
        an_institution(
            code=OTHER_PROVIDER_CODE,
            name="Sporto klubas",
            municipality_code="19",
            group_code="OTHER_PROVIDER",
            purpose_codes=("31714102",),
        ),
        a_program(),
        a_program(code=FSPU_PROGRAM, name="Solfedžio programa", purpose=ProgramPurpose.FSPU),
        a_program(code=ENDING_PROGRAM, name="Baigiama programa", deregistered_on=dt.date(2026, 8, 31)),
        a_program(code=OTHER_PROGRAM, provider_code=OTHER_PROVIDER_CODE, name="Krepšinis", direction_codes=("SPORT",)),
        a_group(id=PIANO),
        a_group(id=VIOLIN, name="Smuikas", sub_direction_codes=("MUSIC.VIOLIN",)),
        a_group(id=SOLFEGE, program_code=FSPU_PROGRAM, purpose=ProgramPurpose.FSPU, name="Solfedžio grupė"),
        a_group(
            id=BASKETBALL,
            provider_code=OTHER_PROVIDER_CODE,
            program_code=OTHER_PROGRAM,
            name="Krepšinis",
            sub_direction_codes=("SPORT.BASKETBALL",),
        ),
        a_group(id=LAST_YEAR_PIANO, school_year=last_year, name="Fortepijonas, pažengę"),
        a_group(id=LAST_YEAR_ENDING, school_year=last_year, program_code=ENDING_PROGRAM, name="Senoji grupė"),
        a_person(personal_code=GIRL_CODE),
        a_person(personal_code=BOY_CODE, first_name="Matas"),
        a_registration(id=GIRL_IN_PIANO, group_id=PIANO),
        a_registration(id=GIRL_AT_OTHER, group_id=BASKETBALL, provider_code=OTHER_PROVIDER_CODE),
        a_registration(
            id=BOY_LAST_YEAR,
            personal_code=BOY_CODE,
            group_id=LAST_YEAR_PIANO,
            first_learning_date=dt.date(2025, 9, 1),
            contract=a_contract(signed_on=dt.date(2025, 8, 28)),
            registered_on=dt.date(2025, 9, 1),
        ),
        a_registration(
            id=GIRL_LAST_YEAR,
            group_id=LAST_YEAR_PIANO,
            first_learning_date=dt.date(2025, 9, 1),
            contract=a_contract(signed_on=dt.date(2025, 8, 28)),
            registered_on=dt.date(2025, 9, 1),
        ),
    )
    return uow


@pytest.fixture
def registry(uow: FakeUnitOfWork) -> Registry:
    return Registry(uow_factory=lambda: uow, population_register=InMemoryPopulationRegister({}), clock=FixedClock(NOW))


def with_basket_and_municipal_funds(registry: Registry) -> None:
    registry.mark_funding(CALLER, NewFunding(GIRL_IN_PIANO, ("NVS_BASKET", "MUNICIPAL"), "2026-09"))


def claims_of(uow: FakeUnitOfWork, code: PersonalCode = GIRL) -> dict[Month, int]:
    """Month -> the registration whose mark holds the basket claim."""
    stored = uow.stored
    return {
        month: stored.funding_marks[mark_id].registration_id
        for (person, month), mark_id in stored.basket_claims.items()
        if person == code
    }


def marks_of(uow: FakeUnitOfWork, registration_id: int) -> set[tuple[str, str, str]]:
    return {
        (m.funding_type, str(m.from_month), str(m.to_month))
        for m in uow.stored.funding_marks.values()
        if m.registration_id == registration_id
    }


# --- TransferStudent --------------------------------------------------------------
def test_a_transfer_ends_the_old_registration_the_day_before_and_starts_a_linked_one(registry, uow) -> None:
    moved = registry.transfer_student(CALLER, GIRL_IN_PIANO, VIOLIN, dt.date(2026, 12, 1))

    old, new = uow.stored.registrations[GIRL_IN_PIANO], uow.stored.registrations[moved.started.registration.id]
    assert old.status is RegistrationStatus.DEREGISTERED
    assert old.departure == Departure(dt.date(2026, 11, 30), TRANSFER_REASON)
    assert (new.status, new.group_id, new.first_learning_date) == (
        RegistrationStatus.ACTIVE,
        VIOLIN,
        dt.date(2026, 12, 1),
    )
    assert new.transferred_from == GIRL_IN_PIANO
    assert new.contract == old.contract  # the same provider: the contract goes on
    assert moved.ended.departure_reason_name == "Perkeltas į kitą to paties teikėjo grupę"
    assert moved.warnings == []
    history = registry.get_student(CALLER, GIRL_CODE).registrations
    assert [(v.group.id, v.registration.first_learning_date) for v in history][:2] == [
        (VIOLIN, dt.date(2026, 12, 1)),
        (PIANO, dt.date(2026, 9, 1)),
    ]


def test_in_an_accredited_program_the_basket_months_move_to_the_new_registration_in_place(registry, uow) -> None:
    with_basket_and_municipal_funds(registry)
    keys_before = set(uow.stored.basket_claims)

    moved = registry.transfer_student(CALLER, GIRL_IN_PIANO, VIOLIN, dt.date(2026, 12, 1))

    new_id = moved.started.registration.id
    assert set(uow.stored.basket_claims) == keys_before  # no month of the child was ever free
    claims = claims_of(uow)
    assert {m for m, r in claims.items() if r == GIRL_IN_PIANO} == set(SEP.through(NOV))
    assert {m for m, r in claims.items() if r == new_id} == set(DEC.through(AUG))
    assert marks_of(uow, GIRL_IN_PIANO) == {("NVS_BASKET", "2026-09", "2026-11"), ("MUNICIPAL", "2026-09", "2026-11")}
    assert marks_of(uow, new_id) == {("NVS_BASKET", "2026-12", "2027-08"), ("MUNICIPAL", "2026-12", "2027-08")}
    with pytest.raises(BasketAlreadyClaimed):
        registry.mark_funding(OTHER_CALLER, NewFunding(GIRL_AT_OTHER, ("NVS_BASKET",), "2027-01", "2027-01"))


def test_a_transfer_in_the_middle_of_a_month_moves_that_month_with_the_learner(registry, uow) -> None:
    with_basket_and_municipal_funds(registry)

    moved = registry.transfer_student(CALLER, GIRL_IN_PIANO, VIOLIN, dt.date(2026, 11, 16))

    assert uow.stored.registrations[GIRL_IN_PIANO].departure.date == dt.date(2026, 11, 15)
    assert claims_of(uow)[NOV] == moved.started.registration.id
    assert claims_of(uow)[OCT] == GIRL_IN_PIANO


def test_into_an_fspu_program_the_basket_ends_the_month_before_with_a_warning_and_other_funds_follow(
    registry, uow
) -> None:
    with_basket_and_municipal_funds(registry)

    moved = registry.transfer_student(CALLER, GIRL_IN_PIANO, SOLFEGE, dt.date(2026, 12, 1))

    new_id = moved.started.registration.id
    assert [w.code for w in moved.warnings] == [FUNDING_NOT_CARRIED]
    assert "NVS_BASKET" in moved.warnings[0].message and "ends with 2026-11" in moved.warnings[0].message
    assert set(claims_of(uow)) == set(SEP.through(NOV))  # December on is free for another provider
    assert marks_of(uow, new_id) == {("MUNICIPAL", "2026-12", "2027-08")}
    free = registry.check_basket_availability(OTHER_CALLER, GIRL_CODE, "2026-11", "2026-12")
    assert free == [(NOV, False), (DEC, True)]


def test_a_transfer_records_the_change_events_of_both_registrations_and_their_marks(registry, uow) -> None:
    with_basket_and_municipal_funds(registry)
    seen = len(uow.stored.change_events)

    moved = registry.transfer_student(CALLER, GIRL_IN_PIANO, VIOLIN, dt.date(2026, 12, 1))

    events = uow.stored.change_events[seen:]
    assert [(e.kind, e.registration.registration_id) for e in events] == [
        (ChangeKind.DEREGISTERED, GIRL_IN_PIANO),
        (ChangeKind.FUNDING_ENDED, GIRL_IN_PIANO),
        (ChangeKind.FUNDING_ENDED, GIRL_IN_PIANO),
        (ChangeKind.REGISTERED, moved.started.registration.id),
        (ChangeKind.FUNDING_MARKED, moved.started.registration.id),
        (ChangeKind.FUNDING_MARKED, moved.started.registration.id),
    ]
    assert events[0].registration.departure.reason_code == TRANSFER_REASON


@pytest.mark.parametrize(
    ("registration", "group", "from_date", "error"),
    [
        (GIRL_IN_PIANO, PIANO, dt.date(2026, 12, 1), SameGroup),
        (GIRL_IN_PIANO, BASKETBALL, dt.date(2026, 12, 1), GroupNotFound),  # another provider's group
        (GIRL_AT_OTHER, VIOLIN, dt.date(2026, 12, 1), RegistrationNotFound),  # another provider's registration
        (GIRL_IN_PIANO, VIOLIN, dt.date(2026, 9, 1), InvalidTransferDate),  # the old period would have no day
        (GIRL_IN_PIANO, VIOLIN, dt.date(2026, 12, 2), InvalidTransferDate),  # ends after this month
        (GIRL_IN_PIANO, LAST_YEAR_PIANO, dt.date(2026, 10, 1), InvalidTransferDate),  # outside the group's year
    ],
)
def test_a_transfer_is_refused_and_nothing_changes(registry, uow, registration, group, from_date, error) -> None:
    before = uow.stored.copy()
    with pytest.raises(error):
        registry.transfer_student(CALLER, registration, group, from_date)
    assert uow.stored.registrations == before.registrations


def test_an_ended_registration_cannot_be_transferred(registry) -> None:
    registry.transfer_student(CALLER, GIRL_IN_PIANO, VIOLIN, dt.date(2026, 12, 1))
    with pytest.raises(RegistrationNotActive):
        registry.transfer_student(CALLER, GIRL_IN_PIANO, SOLFEGE, dt.date(2026, 12, 1))


# --- CloseGroup, DeleteGroup ---------------------------------------------------------
def test_a_group_with_active_learners_cannot_be_closed_and_the_fault_says_how_many(registry, uow) -> None:
    with pytest.raises(GroupHasLearners) as refused:
        registry.close_group(CALLER, LAST_YEAR_PIANO, dt.date(2026, 8, 31))
    assert "2 active learner(s)" in refused.value.message
    assert uow.stored.groups[LAST_YEAR_PIANO].closed_on is None


def test_a_closed_group_leaves_the_list_and_accepts_no_registration(registry, uow) -> None:
    registry.deregister_student(CALLER, GIRL_IN_PIANO, Departure(dt.date(2026, 11, 10), "COMPLETED"))
    with pytest.raises(InvalidClosingDate):
        registry.close_group(CALLER, PIANO, dt.date(2026, 11, 9))  # before its last departure

    closed = registry.close_group(CALLER, PIANO, dt.date(2026, 11, 10))

    assert closed.group.closed_on == dt.date(2026, 11, 10)
    listed = {g.group.id for s in registry.list_groups(CALLER, "2026-2027") for g in s.groups}
    assert PIANO not in listed and VIOLIN in listed
    everything = {g.group.id for s in registry.list_groups(CALLER, "2026-2027", include_closed=True) for g in s.groups}
    assert PIANO in everything
    with pytest.raises(GroupClosed):
        registry.register_student(
            CALLER, NewRegistration(BOY_CODE, PIANO, dt.date(2026, 11, 20), a_contract(signed_on=TODAY))
        )
    with pytest.raises(GroupClosed):
        registry.close_group(CALLER, PIANO, dt.date(2026, 11, 12))


def test_only_a_group_that_never_had_a_registration_can_be_deleted(registry, uow) -> None:
    registry.cancel_registration(CALLER, GIRL_IN_PIANO, "Įvesta per klaidą")
    with pytest.raises(GroupHasRegistrations):
        registry.delete_group(CALLER, PIANO)  # the cancelled registration is kept, and so its group

    registry.delete_group(CALLER, VIOLIN)

    assert VIOLIN not in uow.stored.groups and PIANO in uow.stored.groups
    with pytest.raises(GroupNotFound):
        registry.delete_group(OTHER_CALLER, SOLFEGE)


# --- RollOverGroups -----------------------------------------------------------------
def test_rollover_copies_a_group_into_the_next_year_and_carries_its_learners(registry, uow) -> None:
    result = registry.roll_over_groups(CALLER, "2025-2026", "2026-2027", (LAST_YEAR_PIANO,), carry_learners=True)

    [rolled] = result
    copy = uow.stored.groups[rolled.copy.group.id]
    origin = uow.stored.groups[LAST_YEAR_PIANO]
    assert rolled.created
    assert (copy.school_year, copy.rolled_over_from) == (SchoolYear(2026), LAST_YEAR_PIANO)
    assert (copy.name, copy.program_code, copy.sub_direction_codes, copy.leaders) == (
        origin.name,
        origin.program_code,
        origin.sub_direction_codes,
        origin.leaders,
    )
    assert rolled.copy.active_learners == 2
    for old_id in (BOY_LAST_YEAR, GIRL_LAST_YEAR):
        old = uow.stored.registrations[old_id]
        assert old.departure == Departure(dt.date(2026, 8, 31), TRANSFER_REASON)
    carried = {r.transferred_from: r for r in uow.stored.registrations.values() if r.group_id == copy.id}
    assert set(carried) == {BOY_LAST_YEAR, GIRL_LAST_YEAR}
    assert {r.first_learning_date for r in carried.values()} == {dt.date(2026, 9, 1)}


def test_rollover_run_twice_gives_the_same_result(registry, uow) -> None:
    registry.roll_over_groups(CALLER, "2025-2026", "2026-2027", (LAST_YEAR_PIANO,), carry_learners=True)
    groups, registrations = dict(uow.stored.groups), dict(uow.stored.registrations)

    [again] = registry.roll_over_groups(CALLER, "2025-2026", "2026-2027", (LAST_YEAR_PIANO,), carry_learners=True)

    assert not again.created and again.carried == []
    assert uow.stored.groups == groups and uow.stored.registrations == registrations


def test_rollover_refuses_a_program_deregistered_for_the_new_year_naming_the_group(registry, uow) -> None:
    committed = uow.committed
    with pytest.raises(ProgramDeregistered) as refused:
        registry.roll_over_groups(CALLER, "2025-2026", "2026-2027", (LAST_YEAR_PIANO, LAST_YEAR_ENDING))
    assert f"group {LAST_YEAR_ENDING} ('Senoji grupė')" in refused.value.message
    assert refused.value.field == "groupId"
    assert uow.committed == committed  # one transaction: nothing copied


def test_rollover_of_a_group_into_a_year_ending_later_is_allowed() -> None:
    # ENDING_PROGRAM is deregistered from 2027-09-01: it still runs in 2026-2027.
    uow = FakeUnitOfWork()
    uow.seed(
        an_institution(),
        a_program(code=ENDING_PROGRAM, deregistered_on=dt.date(2027, 9, 1)),
        a_group(id=5, school_year=SchoolYear(2025), program_code=ENDING_PROGRAM),
    )
    registry = Registry(lambda: uow, InMemoryPopulationRegister({}), clock=FixedClock(NOW))
    [rolled] = registry.roll_over_groups(CALLER, "2025-2026", "2026-2027")
    assert rolled.copy.group.school_year == SchoolYear(2026)


def test_rollover_goes_into_the_next_year_only(registry) -> None:
    with pytest.raises(InvalidSchoolYear):
        registry.roll_over_groups(CALLER, "2025-2026", "2027-2028")


def test_rollover_refuses_a_name_the_provider_already_uses_in_the_new_year(registry, uow) -> None:
    with pytest.raises(DuplicateGroupName) as refused:
        # PIANO (2026-2027) already has the name of LAST_YEAR_PIANO, and is no copy of it.
        uow.seed(a_group(id=20, school_year=SchoolYear(2025), name="Smuikas", sub_direction_codes=("MUSIC.VIOLIN",)))
        registry.roll_over_groups(CALLER, "2025-2026", "2026-2027", (20,))
    assert "group 20" in refused.value.message


def test_the_operators_rollover_reports_refused_groups_and_does_the_others(registry, uow) -> None:
    progress: list[tuple[int, int]] = []
    done, refused = registry.roll_over_for_operator(
        "2025-2026", "2026-2027", carry_learners=True, progress=lambda n, total: progress.append((n, total))
    )
    assert [r.origin.id for r in done] == [LAST_YEAR_PIANO]
    assert [(r.group.id, r.code) for r in refused] == [(LAST_YEAR_ENDING, "ProgramDeregistered")]
    assert progress == [(1, 2), (2, 2)]
    done_again, _ = registry.roll_over_for_operator("2025-2026", "2026-2027", carry_learners=True)
    assert [(r.created, r.carried) for r in done_again] == [(False, [])]


def test_a_rollover_months_later_is_no_late_registration_or_deregistration_for_the_data_check(registry, uow) -> None:
    from gateway.domain.checks import student_data_issues
    from gateway.domain.funding import BasketPolicy

    registry.roll_over_groups(CALLER, "2025-2026", "2026-2027", (LAST_YEAR_PIANO,), carry_learners=True)

    stored = uow.stored
    for registration in stored.registrations.values():
        if registration.id == GIRL_LAST_YEAR or registration.transferred_from == GIRL_LAST_YEAR:
            found = student_data_issues(
                registration=registration,
                program=stored.programs[stored.groups[registration.group_id].program_code],
                provider=stored.institutions[PROVIDER_CODE],
                person=stored.persons[GIRL],
                marks=[],
                classifiers=stored.classifiers,
                policy=BasketPolicy(),
                today=TODAY,
            )
            assert [f.code for f in found] == [], registration
