"""Every change the Registry makes is an event of the change feed, in the same transaction
(FakeUnitOfWork numbers the events when it commits and drops them when it does not, as the
database does); GetChanges reads them by scope and cursor."""

from __future__ import annotations

import datetime as dt
from datetime import date

import pytest

from clients.population_register.fake import InMemoryPopulationRegister
from gateway import feed
from gateway.clock import FixedClock
from gateway.domain.calendar import Month
from gateway.domain.errors import AlreadyRegistered, BasketAlreadyClaimed, ChangeSequenceAhead, RegistrationNotActive
from gateway.domain.feed import ChangeEvent, ChangeKind, RegistrationState
from gateway.domain.model import Contract, Departure, ProgramPurpose
from gateway.domain.personal_code import PersonalCode
from gateway.domain.scope import ReadScope
from gateway.services import Caller, NewFunding, NewRegistration, Registry
from tests.fakes import (
    BOY_CODE,
    GIRL_CODE,
    OTHER_PROVIDER_CODE,
    PROGRAM_CODE,
    PROVIDER_CODE,
    FakeUnitOfWork,
    a_group,
    a_person,
    a_program,
    an_institution,
)

TODAY = date(2026, 10, 5)
NOW = dt.datetime(2026, 10, 5, 9, 30, tzinfo=dt.UTC)
CALLER = Caller(user_id=1, username="muzikos.mokykla", institution_code=PROVIDER_CODE)  # Vilnius city (13)
OTHER_CALLER = Caller(user_id=2, username="sporto.klubas", institution_code=OTHER_PROVIDER_CODE)  # Kaunas city (19)
OTHER_PROGRAM_CODE = "120000002"
CONTRACT = Contract("BILATERAL", date(2026, 9, 1), "S-1")

GIRL = a_person(personal_code=GIRL_CODE)
BOY = a_person(personal_code=BOY_CODE, first_name="Matas", last_name="Bandomaitis")


@pytest.fixture
def uow() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
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
        a_program(
            code=OTHER_PROGRAM_CODE, provider_code=OTHER_PROVIDER_CODE, name="Krepšinis", direction_codes=("SPORT",)
        ),
        a_group(id=1),
        a_group(
            id=2,
            provider_code=OTHER_PROVIDER_CODE,
            program_code=OTHER_PROGRAM_CODE,
            name="Krepšinis",
            sub_direction_codes=("SPORT.BASKETBALL",),
        ),
    )
    return uow


@pytest.fixture
def registry(uow: FakeUnitOfWork) -> Registry:
    gr = InMemoryPopulationRegister({GIRL.personal_code: GIRL, BOY.personal_code: BOY})
    return Registry(uow_factory=lambda: uow, population_register=gr, clock=FixedClock(NOW))


def register(
    registry: Registry,
    code: str = GIRL_CODE,
    group_id: int = 1,
    caller: Caller = CALLER,
    first: date = date(2026, 9, 1),
) -> int:
    view, _ = registry.register_student(caller, NewRegistration(code, group_id, first, CONTRACT))
    return view.registration.id  # type: ignore[return-value]


def events(uow: FakeUnitOfWork) -> list[ChangeEvent]:
    return list(uow.stored.change_events)


def kinds(uow: FakeUnitOfWork, after: int = 0) -> list[tuple[int, ChangeKind]]:
    return [(e.sequence, e.kind) for e in events(uow) if e.sequence > after]  # type: ignore[operator]


# --- what each change records --------------------------------------------------------
def test_a_registration_is_an_event_with_its_natural_keys_and_the_providers_municipality(uow, registry) -> None:
    registration_id = register(registry)
    [event] = events(uow)
    assert (event.sequence, event.kind, event.occurred_at) == (1, ChangeKind.REGISTERED, NOW)
    assert (event.institution_code, event.personal_code, event.municipality_code) == (
        PROVIDER_CODE,
        PersonalCode(GIRL_CODE),
        "13",
    )
    assert event.registration == RegistrationState(
        registration_id=registration_id,
        status="active",
        group_id=1,
        group_name="Fortepijonas, 1 klasė",
        school_year="2026-2027",
        program_code=PROGRAM_CODE,
        first_learning_date=date(2026, 9, 1),
        registered_on=TODAY,
        contract=CONTRACT,
    )
    assert event.funding is None and event.club_attendance is None


def test_a_correction_is_an_event_and_so_is_each_mark_it_shortens(uow, registry) -> None:
    registration_id = register(registry)
    registry.mark_funding(CALLER, NewFunding(registration_id, ("MUNICIPAL", "NVS_BASKET"), "2026-09", "2027-01"))
    before = uow.stored.feed_counter
    registry.correct_registration(CALLER, registration_id, date(2026, 10, 1), None)
    recorded = [e for e in events(uow) if e.sequence > before]
    assert [e.kind for e in recorded] == [ChangeKind.CORRECTED, ChangeKind.FUNDING_ENDED, ChangeKind.FUNDING_ENDED]
    assert recorded[0].registration.first_learning_date == date(2026, 10, 1)  # type: ignore[union-attr]
    assert {(e.funding.funding_type, e.funding.from_month, e.funding.to_month) for e in recorded[1:]} == {  # type: ignore[union-attr]
        ("MUNICIPAL", Month(2026, 10), Month(2027, 1)),
        ("NVS_BASKET", Month(2026, 10), Month(2027, 1)),
    }


def test_funding_marked_and_ended_are_events_carrying_the_mark_and_the_registration(uow, registry) -> None:
    registration_id = register(registry)
    registry.mark_funding(CALLER, NewFunding(registration_id, ("NVS_BASKET", "MUNICIPAL"), "2026-09"))
    registry.end_funding(CALLER, registration_id, "NVS_BASKET", "2026-12")
    assert kinds(uow, after=1) == [
        (2, ChangeKind.FUNDING_MARKED),
        (3, ChangeKind.FUNDING_MARKED),
        (4, ChangeKind.FUNDING_ENDED),
    ]
    ended = events(uow)[-1]
    assert ended.funding.funding_type == "NVS_BASKET" and ended.funding.to_month == Month(2026, 12)  # type: ignore[union-attr]
    assert ended.funding.registration_id == registration_id == ended.registration.registration_id  # type: ignore[union-attr]


def test_a_deregistration_is_an_event_then_its_marks_end_or_go(uow, registry) -> None:
    registration_id = register(registry)
    registry.mark_funding(CALLER, NewFunding(registration_id, ("MUNICIPAL",), "2026-09"))
    registry.mark_funding(CALLER, NewFunding(registration_id, ("STATE",), "2026-11"))
    registry.deregister_student(CALLER, registration_id, Departure(date(2026, 10, 2), "PARENTS_REQUEST"))
    assert kinds(uow, after=3) == [
        (4, ChangeKind.DEREGISTERED),
        (5, ChangeKind.FUNDING_ENDED),
        (6, ChangeKind.FUNDING_REMOVED),
    ]
    deregistered = events(uow)[3]
    assert deregistered.registration.status == "deregistered"  # type: ignore[union-attr]
    assert deregistered.registration.departure == Departure(date(2026, 10, 2), "PARENTS_REQUEST")  # type: ignore[union-attr]
    assert events(uow)[5].funding.funding_type == "STATE"  # type: ignore[union-attr]


def test_a_cancellation_removes_the_marks_and_ends_with_the_registrations_tombstone(uow, registry) -> None:
    registration_id = register(registry)
    registry.mark_funding(CALLER, NewFunding(registration_id, ("MUNICIPAL", "OTHER"), "2026-09"))
    registry.cancel_registration(CALLER, registration_id, "Ne tas vaikas")
    assert kinds(uow, after=3) == [
        (4, ChangeKind.FUNDING_REMOVED),
        (5, ChangeKind.FUNDING_REMOVED),
        (6, ChangeKind.CANCELLED),
    ]
    tombstone = events(uow)[-1]
    assert tombstone.registration.status == "cancelled" and tombstone.registration.cancelled_on == TODAY  # type: ignore[union-attr]


def test_a_refused_change_records_nothing_and_takes_no_number(uow, registry) -> None:
    register(registry)
    with pytest.raises(AlreadyRegistered):
        register(registry)
    girl_at_b = register(registry, group_id=2, caller=OTHER_CALLER)
    registry.mark_funding(CALLER, NewFunding(1, ("NVS_BASKET",), "2026-09"))
    with pytest.raises(BasketAlreadyClaimed):
        registry.mark_funding(OTHER_CALLER, NewFunding(girl_at_b, ("NVS_BASKET", "MUNICIPAL"), "2026-10"))
    registry.cancel_registration(OTHER_CALLER, girl_at_b, "Klaida")
    with pytest.raises(RegistrationNotActive):
        registry.cancel_registration(OTHER_CALLER, girl_at_b, "Dar kartą")
    assert [s for s, _ in kinds(uow)] == [1, 2, 3, 4]  # the numbers stay gapless
    assert uow.stored.feed_counter == 4


def test_club_attendance_events_are_one_call_for_the_lists_work(uow) -> None:
    school = an_institution(
        code="300000041", name="Vilniaus Saulėtekio gimnazija", group_code="GENERAL_SCHOOL", purpose_codes=()
    )
    uow.seed(school)
    with uow:
        feed.club_attendance_changed(
            uow,
            ChangeKind.CLUB_ATTENDANCE_MARKED,
            institution_code=school.code,
            personal_code=PersonalCode(GIRL_CODE),
            attendance_id=9,
            school_year="2026-2027",
            direction_codes=("MUSIC",),
            sub_direction_codes=("MUSIC.PIANO",),
            at=NOW,
        )
        uow.commit()
    [event] = events(uow)
    assert event.kind is ChangeKind.CLUB_ATTENDANCE_MARKED and event.municipality_code == "13"
    assert event.club_attendance.sub_direction_codes == ("MUSIC.PIANO",) and event.registration is None  # type: ignore[union-attr]


def test_an_event_without_the_state_its_kind_needs_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        ChangeEvent(ChangeKind.CANCELLED, PROVIDER_CODE, PersonalCode(GIRL_CODE), NOW)
    with pytest.raises(ValueError):
        ChangeEvent(ChangeKind.FUNDING_REMOVED, PROVIDER_CODE, PersonalCode(GIRL_CODE), NOW)


# --- reading the feed --------------------------------------------------------------
def test_get_changes_gives_the_callers_institution_only_and_a_cursor_to_continue(uow, registry) -> None:
    register(registry)  # 1 at A
    register(registry, group_id=2, caller=OTHER_CALLER)  # 2 at B
    register(registry, code=BOY_CODE)  # 3 at A
    reader = feed.Feed(lambda: uow)
    page = reader.get_changes(CALLER, 0, limit=1)
    assert [e.sequence for e in page.events] == [1] and page.last_sequence == 1 and page.more
    page = reader.get_changes(CALLER, page.last_sequence, limit=1)
    assert [e.sequence for e in page.events] == [3] and page.last_sequence == 3 and not page.more
    page = reader.get_changes(CALLER, 3)
    assert page.events == [] and page.last_sequence == 3 and not page.more
    assert [e.sequence for e in reader.get_changes(OTHER_CALLER, 0).events] == [2]


def test_scopes_read_by_institution_by_municipality_or_everything(uow, registry) -> None:
    register(registry)
    register(registry, group_id=2, caller=OTHER_CALLER)
    reader = feed.Feed(lambda: uow)
    assert [e.sequence for e in reader.read(ReadScope.of_municipality("19"), 0).events] == [2]
    assert [e.sequence for e in reader.read(ReadScope.of_municipality("13", "19"), 0).events] == [1, 2]
    assert [e.sequence for e in reader.read(ReadScope.all(), 0).events] == [1, 2]
    assert reader.read(ReadScope(), 0).events == []


def test_the_limit_is_kept_between_1_and_1000(uow, registry) -> None:
    register(registry)
    register(registry, code=BOY_CODE)
    reader = feed.Feed(lambda: uow)
    assert len(reader.read(ReadScope.all(), 0, limit=0).events) == 1
    assert len(reader.read(ReadScope.all(), 0, limit=5000).events) == 2


def test_a_fspu_program_registration_is_recorded_like_any_other(uow, registry) -> None:
    uow.seed(
        a_program(code="120000003", purpose=ProgramPurpose.FSPU),
        a_group(id=3, program_code="120000003", name="Solfedžio"),
    )
    register(registry, group_id=3)
    assert events(uow)[0].registration.program_code == "120000003"  # type: ignore[union-attr]


def test_a_cursor_beyond_the_last_change_is_refused_rather_than_answered_with_nothing(uow, registry) -> None:
    register(registry)
    reader = feed.Feed(lambda: uow)
    assert reader.get_changes(CALLER, 1).events == []  # the end: nothing new, no fault
    with pytest.raises(ChangeSequenceAhead) as refused:
        reader.get_changes(CALLER, 2)
    assert refused.value.field == "after" and "restored from a backup" in refused.value.message
