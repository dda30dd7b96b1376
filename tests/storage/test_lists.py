"""The lists on SQLite and PostgreSQL: each list's filters, the three kinds of scope, keyset
paging while others write, and cancelled records never listed. The data is made through the
use cases (Registry, Clubs) with the sandbox population register's synthetic persons."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from clients.population_register.sandbox import generated_person
from gateway.clock import FixedClock
from gateway.clubs import Clubs, NewClubAttendance
from gateway.config import REPOSITORY_ROOT
from gateway.domain.calendar import SchoolYear
from gateway.domain.clubs import ClubAttendance, Enrolment
from gateway.domain.lists import ListName, Scope
from gateway.domain.model import Contract, Departure
from gateway.domain.personal_code import PersonalCode
from gateway.lists import Lists, arrival_filter, basket_filter, club_filter, departure_filter, learner_filter
from gateway.services import Caller, NewFunding, NewGroup, NewRegistration, Registry
from tests.e2e.helpers import child_code

TODAY = dt.date(2026, 11, 28)
CLOCK = FixedClock.on(TODAY)
YEAR = "2026-2027"
# Providers: Anykščiai (34), Vilnius (13), Kaunas (19). Schools: Vilnius (13), Kaunas (19).
ANYKSCIAI_MUSIC, VILNIUS_MUSIC, KAUNAS_ART = "300000011", "300000012", "300000013"
VILNIUS_SCHOOL, KAUNAS_SCHOOL = "300000041", "300000042"
PROGRAMS = {ANYKSCIAI_MUSIC: ("100000112", "MUSIC.PIANO"), VILNIUS_MUSIC: ("100000122", "MUSIC.CHOIR")}


class SandboxGR:
    def find_person(self, code: PersonalCode):
        return generated_person(code.value)


def caller(code: str) -> Caller:
    return Caller(user_id=0, username=f"user-{code}", institution_code=code)


@dataclass
class World:
    registry: Registry
    clubs: Clubs
    lists: Lists
    groups: dict[str, int] = field(default_factory=dict)
    children: dict[str, str] = field(default_factory=dict)
    registrations: dict[str, int] = field(default_factory=dict)

    def group(self, provider: str, name: str = "G", program: str | None = None) -> int:
        key = f"{provider}/{name}"
        if key not in self.groups:
            program_code, sub_direction = PROGRAMS.get(provider, ("", ""))
            if program:
                program_code = program
            view = self.registry.create_group(
                caller(provider),
                NewGroup(name=name, sub_direction_codes=(sub_direction,), school_year=YEAR, program_code=program_code),
            )
            self.groups[key] = view.group.id
        return self.groups[key]

    def register(
        self, label: str, provider: str, first_day: dt.date = dt.date(2026, 9, 1), group: str = "G", serial: int = 0
    ) -> int:
        code = self.children.setdefault(
            label,
            child_code(
                dt.date(2015, 1 + len(self.children) % 12, 1 + len(self.children) % 28),
                serial or 100 + len(self.children),
            ),
        )
        view, _ = self.registry.register_student(
            caller(provider),
            NewRegistration(code, self.group(provider, group), first_day, Contract("BILATERAL", first_day, "S-1")),
        )
        self.registrations[f"{label}@{provider}/{group}"] = view.registration.id
        return view.registration.id

    def page(self, scope: Scope, name: ListName, list_filter: Any, size: int = 500, cursor: str | None = None):
        return self.lists.page(scope, name, list_filter, size, cursor)

    def ids(self, scope: Scope, name: ListName, list_filter: Any) -> list[int]:
        rows = self.page(scope, name, list_filter).rows
        return [getattr(r, "registration_id", None) or r.attendance_id for r in rows]


@pytest.fixture
def world(database) -> World:
    registry = Registry(database.uow_factory, SandboxGR(), clock=CLOCK)
    return World(registry, Clubs(database.uow_factory, SandboxGR(), clock=CLOCK), Lists(database.uow_factory))


@pytest.fixture
def populated(world: World, database) -> World:
    """A: Anykščiai music school, a pupil of the Vilnius school (formal enrolment), basket in October.
    B: Vilnius music school. C: Anykščiai, then deregistered in October. D: Anykščiai, cancelled.
    E: clubs at the Kaunas school only. F: Anykščiai, arrived in October, in a second group."""
    w = world
    w.register("A", ANYKSCIAI_MUSIC)
    w.register("B", VILNIUS_MUSIC, dt.date(2026, 9, 8))
    w.register("C", ANYKSCIAI_MUSIC)
    w.register("D", ANYKSCIAI_MUSIC)
    w.register("F", ANYKSCIAI_MUSIC, dt.date(2026, 10, 5), group="G2")
    w.registry.deregister_student(
        caller(ANYKSCIAI_MUSIC), w.registrations["C@300000011/G"], Departure(dt.date(2026, 10, 15), "PARENTS_REQUEST")
    )
    w.registry.cancel_registration(caller(ANYKSCIAI_MUSIC), w.registrations["D@300000011/G"], "Entered by mistake")
    w.registry.mark_funding(
        caller(ANYKSCIAI_MUSIC), NewFunding(w.registrations["A@300000011/G"], ("NVS_BASKET",), "2026-09", "2026-12")
    )
    w.registry.mark_funding(
        caller(VILNIUS_MUSIC), NewFunding(w.registrations["B@300000012/G"], ("MUNICIPAL",), "2026-09", "2026-12")
    )
    with database.uow_factory() as uow:
        uow.enrolments.upsert_many(
            [Enrolment(PersonalCode(w.children["A"]), VILNIUS_SCHOOL, SchoolYear(2026), dt.date(2026, 9, 1))]
        )
        uow.commit()
    w.children["E"] = child_code(dt.date(2014, 5, 5), 555)
    w.clubs.mark(
        caller(KAUNAS_SCHOOL),
        NewClubAttendance(w.children["E"], YEAR, ("SPORT",), ("MUSIC.PIANO",), dt.date(2026, 9, 15)),
    )
    return w


def reg(w: World, key: str) -> int:
    return w.registrations[key]


# --- each list's filters ----------------------------------------------------------------------
def test_learners_are_the_active_registrations_of_the_school_year(populated: World) -> None:
    w, mine = populated, Scope.of_institution(ANYKSCIAI_MUSIC)
    assert w.ids(mine, ListName.LEARNERS, learner_filter(YEAR)) == [reg(w, "A@300000011/G"), reg(w, "F@300000011/G2")]
    assert w.ids(mine, ListName.LEARNERS, learner_filter(YEAR, group_id=w.groups["300000011/G2"])) == [
        reg(w, "F@300000011/G2")
    ]
    assert w.ids(mine, ListName.LEARNERS, learner_filter(YEAR, program_code="100000112")) == [
        reg(w, "A@300000011/G"),
        reg(w, "F@300000011/G2"),
    ]
    assert w.ids(mine, ListName.LEARNERS, learner_filter(YEAR, program_code="100000111")) == []
    assert w.ids(mine, ListName.LEARNERS, learner_filter("2025-2026")) == []
    row = w.page(mine, ListName.LEARNERS, learner_filter(YEAR)).rows[0]
    assert (row.status, row.institution_code, row.group_name, str(row.school_year)) == (
        "active",
        ANYKSCIAI_MUSIC,
        "G",
        YEAR,
    )
    assert (row.program_code, row.program_name, row.first_learning_date) == (
        "100000112",
        "Ansamblinis muzikavimas",
        dt.date(2026, 9, 1),
    )
    assert row.person.personal_code.value == w.children["A"] and row.person.first_name and row.person.birth_date


def test_arrivals_are_by_first_learning_date_and_keep_those_who_left_since(populated: World) -> None:
    w, mine = populated, Scope.of_institution(ANYKSCIAI_MUSIC)
    september = arrival_filter(dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    assert w.ids(mine, ListName.ARRIVALS, september) == [reg(w, "A@300000011/G"), reg(w, "C@300000011/G")]
    october = arrival_filter(dt.date(2026, 10, 5), dt.date(2026, 10, 5))
    assert w.ids(mine, ListName.ARRIVALS, october) == [reg(w, "F@300000011/G2")]


def test_departures_are_by_departure_date_with_the_reason(populated: World) -> None:
    w, mine = populated, Scope.of_institution(ANYKSCIAI_MUSIC)
    rows = w.page(mine, ListName.DEPARTURES, departure_filter(dt.date(2026, 10, 1), dt.date(2026, 10, 31))).rows
    assert [(r.registration_id, r.departure_date, r.departure_reason_code) for r in rows] == [
        (reg(w, "C@300000011/G"), dt.date(2026, 10, 15), "PARENTS_REQUEST")
    ]
    assert w.ids(mine, ListName.DEPARTURES, departure_filter(dt.date(2026, 10, 16), dt.date(2026, 12, 31))) == []


def test_basket_recipients_of_a_month_show_the_municipality_of_the_general_education_school(populated: World) -> None:
    w = populated
    rows = w.page(Scope.everything(), ListName.BASKET_RECIPIENTS, basket_filter("2026-10")).rows
    assert [(r.registration_id, r.school_code, r.school_municipality_code) for r in rows] == [
        (reg(w, "A@300000011/G"), VILNIUS_SCHOOL, "13")
    ]
    assert (rows[0].program_code, rows[0].first_learning_date, rows[0].institution_code) == (
        "100000112",
        dt.date(2026, 9, 1),
        ANYKSCIAI_MUSIC,
    )
    assert w.ids(Scope.everything(), ListName.BASKET_RECIPIENTS, basket_filter("2027-01")) == []  # not funded then
    assert (
        w.ids(Scope.everything(), ListName.BASKET_RECIPIENTS, basket_filter("2026-10", VILNIUS_MUSIC)) == []
    )  # B: municipal funds only
    assert w.ids(Scope.everything(), ListName.BASKET_RECIPIENTS, basket_filter("2026-10", ANYKSCIAI_MUSIC)) == [
        reg(w, "A@300000011/G")
    ]


def test_a_basket_recipient_without_a_known_school_has_no_municipality(world: World) -> None:
    registration = world.register("X", ANYKSCIAI_MUSIC)
    world.registry.mark_funding(
        caller(ANYKSCIAI_MUSIC), NewFunding(registration, ("NVS_BASKET",), "2026-09", "2026-10")
    )
    (row,) = world.page(Scope.everything(), ListName.BASKET_RECIPIENTS, basket_filter("2026-09")).rows
    assert (row.school_code, row.school_municipality_code) == (None, None)


def test_the_school_that_month_is_the_enrolment_covering_it_the_latest_to_start(world: World, database) -> None:
    registration = world.register("M", ANYKSCIAI_MUSIC)
    world.registry.mark_funding(
        caller(ANYKSCIAI_MUSIC), NewFunding(registration, ("NVS_BASKET",), "2026-09", "2027-02")
    )
    code = PersonalCode(world.children["M"])
    with database.uow_factory() as uow:
        uow.enrolments.upsert_many(
            [
                Enrolment(code, VILNIUS_SCHOOL, SchoolYear(2026), dt.date(2026, 9, 1), dt.date(2026, 12, 31)),
                Enrolment(code, KAUNAS_SCHOOL, SchoolYear(2026), dt.date(2026, 12, 15)),
                Enrolment(
                    code, VILNIUS_SCHOOL, SchoolYear(2025), dt.date(2025, 9, 1)
                ),  # last year's: never this year's school
            ]
        )
        uow.commit()
    school = {
        m: [
            (r.school_code, r.school_municipality_code)
            for r in world.page(Scope.everything(), ListName.BASKET_RECIPIENTS, basket_filter(m)).rows
        ]
        for m in ("2026-11", "2026-12", "2027-01")
    }
    assert school == {
        "2026-11": [(VILNIUS_SCHOOL, "13")],
        "2026-12": [(KAUNAS_SCHOOL, "19")],  # both cover December: the later start wins
        "2027-01": [(KAUNAS_SCHOOL, "19")],
    }


def test_the_basket_list_is_only_of_accredited_programs(world: World, database) -> None:
    registration = world.register("Q", ANYKSCIAI_MUSIC)
    world.registry.mark_funding(
        caller(ANYKSCIAI_MUSIC), NewFunding(registration, ("NVS_BASKET",), "2026-09", "2026-12")
    )
    with database.engine.begin() as connection:  # NŠPR deregisters the program from November
        connection.execute(text("UPDATE program SET deregistered_on = '2026-11-01' WHERE code = '100000112'"))
    try:
        assert world.ids(Scope.everything(), ListName.BASKET_RECIPIENTS, basket_filter("2026-10")) == [registration]
        assert world.ids(Scope.everything(), ListName.BASKET_RECIPIENTS, basket_filter("2026-11")) == []
    finally:
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE program SET deregistered_on = NULL WHERE code = '100000112'"))


def test_club_attendance_by_school_year_direction_and_day(populated: World) -> None:
    w = populated
    school = Scope.of_institution(KAUNAS_SCHOOL)
    rows = w.page(school, ListName.CLUB_ATTENDANCE, club_filter(YEAR)).rows
    assert [(r.school_code, r.direction_codes, r.sub_direction_codes, r.from_date, r.end_date) for r in rows] == [
        (KAUNAS_SCHOOL, ("SPORT",), ("MUSIC.PIANO",), dt.date(2026, 9, 15), None)
    ]
    for direction, expected in (("SPORT", 1), ("MUSIC", 1), ("ART", 0)):  # MUSIC through its sub-direction
        assert len(w.page(school, ListName.CLUB_ATTENDANCE, club_filter(YEAR, direction)).rows) == expected, direction
    assert w.page(school, ListName.CLUB_ATTENDANCE, club_filter(YEAR, active_on=dt.date(2026, 9, 14))).rows == []
    w.clubs.end(caller(KAUNAS_SCHOOL), rows[0].attendance_id, dt.date(2026, 10, 31))
    assert len(w.page(school, ListName.CLUB_ATTENDANCE, club_filter(YEAR, active_on=dt.date(2026, 10, 31))).rows) == 1
    assert w.page(school, ListName.CLUB_ATTENDANCE, club_filter(YEAR, active_on=dt.date(2026, 11, 1))).rows == []
    ended = w.page(school, ListName.CLUB_ATTENDANCE, club_filter(YEAR)).rows
    assert [r.end_date for r in ended] == [dt.date(2026, 10, 31)]  # ended marks stay in the year's list
    assert w.page(school, ListName.CLUB_ATTENDANCE, club_filter("2025-2026")).rows == []


# --- scopes ----------------------------------------------------------------------------------------
def test_an_institution_sees_only_its_own_rows(populated: World) -> None:
    w = populated
    assert w.ids(Scope.of_institution(VILNIUS_MUSIC), ListName.LEARNERS, learner_filter(YEAR)) == [
        reg(w, "B@300000012/G")
    ]
    assert w.ids(Scope.of_institution(KAUNAS_ART), ListName.LEARNERS, learner_filter(YEAR)) == []
    assert w.ids(Scope.of_institution(VILNIUS_MUSIC), ListName.BASKET_RECIPIENTS, basket_filter("2026-10")) == []
    assert w.ids(Scope.of_institution(VILNIUS_SCHOOL), ListName.CLUB_ATTENDANCE, club_filter(YEAR)) == []
    assert len(w.ids(Scope.of_institution(KAUNAS_SCHOOL), ListName.CLUB_ATTENDANCE, club_filter(YEAR))) == 1


def test_a_municipality_sees_children_of_its_providers_and_pupils_of_its_schools(populated: World) -> None:
    w = populated
    learners = {
        m: w.ids(Scope.of_municipality(m), ListName.LEARNERS, learner_filter(YEAR)) for m in ("34", "13", "19", "21")
    }
    assert learners == {
        "34": [reg(w, "A@300000011/G"), reg(w, "F@300000011/G2")],  # its provider's learners
        "13": [reg(w, "A@300000011/G"), reg(w, "B@300000012/G")],  # its provider's B, and A: a pupil of its school
        "19": [],  # E attends clubs at a Kaunas school but learns with no provider
        "21": [],
    }
    assert w.ids(Scope.of_municipality("13"), ListName.BASKET_RECIPIENTS, basket_filter("2026-10")) == [
        reg(w, "A@300000011/G")
    ]
    assert w.ids(Scope.of_municipality("34"), ListName.BASKET_RECIPIENTS, basket_filter("2026-10")) == [
        reg(w, "A@300000011/G")
    ]
    assert w.ids(Scope.of_municipality("19"), ListName.BASKET_RECIPIENTS, basket_filter("2026-10")) == []
    september = departure_filter(dt.date(2026, 9, 1), dt.date(2026, 12, 31))
    assert w.ids(Scope.of_municipality("34"), ListName.DEPARTURES, september) == [reg(w, "C@300000011/G")]
    assert w.ids(Scope.of_municipality("13"), ListName.DEPARTURES, september) == []
    clubs = {
        m: len(w.ids(Scope.of_municipality(m), ListName.CLUB_ATTENDANCE, club_filter(YEAR))) for m in ("19", "13", "34")
    }
    assert clubs == {"19": 1, "13": 0, "34": 0}


def test_a_pupil_of_a_school_is_seen_with_a_provider_of_another_municipality_and_the_other_way_round(
    populated: World,
) -> None:
    w = populated
    # E, a Kaunas pupil, joins the Vilnius music school: Kaunas now sees that registration, and
    # Vilnius sees E's club mark at the Kaunas school.
    registration = w.registry.register_student(
        caller(VILNIUS_MUSIC),
        NewRegistration(
            w.children["E"],
            w.group(VILNIUS_MUSIC),
            dt.date(2026, 11, 2),
            Contract("BILATERAL", dt.date(2026, 11, 2), "S-9"),
        ),
    )[0].registration.id
    assert w.ids(Scope.of_municipality("19"), ListName.LEARNERS, learner_filter(YEAR)) == [registration]
    assert len(w.ids(Scope.of_municipality("13"), ListName.CLUB_ATTENDANCE, club_filter(YEAR))) == 1


def test_a_municipality_sees_a_child_only_in_the_school_year_that_puts_it_in_scope(world: World, database) -> None:
    registration = world.register("Y", ANYKSCIAI_MUSIC)
    with database.uow_factory() as uow:  # Y attended the Vilnius school last year, not this year
        uow.enrolments.upsert_many(
            [Enrolment(PersonalCode(world.children["Y"]), VILNIUS_SCHOOL, SchoolYear(2025), dt.date(2025, 9, 1))]
        )
        uow.commit()
    assert world.ids(Scope.of_municipality("13"), ListName.LEARNERS, learner_filter(YEAR)) == []
    assert world.ids(Scope.of_municipality("34"), ListName.LEARNERS, learner_filter(YEAR)) == [registration]


def test_everything_is_every_row_but_the_cancelled(populated: World) -> None:
    w = populated
    assert w.ids(Scope.everything(), ListName.LEARNERS, learner_filter(YEAR)) == sorted(
        [reg(w, "A@300000011/G"), reg(w, "B@300000012/G"), reg(w, "F@300000011/G2")]
    )
    arrivals = w.ids(Scope.everything(), ListName.ARRIVALS, arrival_filter(dt.date(2026, 9, 1), dt.date(2027, 8, 31)))
    assert reg(w, "D@300000011/G") not in arrivals and len(arrivals) == 4
    assert len(w.ids(Scope.everything(), ListName.CLUB_ATTENDANCE, club_filter(YEAR))) == 1


def test_cancelled_registrations_never_appear_in_any_list_or_count(populated: World) -> None:
    w = populated
    cancelled = reg(w, "D@300000011/G")
    everywhere = [
        (ListName.LEARNERS, learner_filter(YEAR)),
        (ListName.ARRIVALS, arrival_filter(dt.date(2026, 9, 1), dt.date(2027, 8, 31))),
        (ListName.DEPARTURES, departure_filter(dt.date(2026, 9, 1), dt.date(2027, 8, 31))),
        (ListName.BASKET_RECIPIENTS, basket_filter("2026-09")),
    ]
    for scope in (Scope.of_institution(ANYKSCIAI_MUSIC), Scope.of_municipality("34"), Scope.everything()):
        for name, list_filter in everywhere:
            assert cancelled not in w.ids(scope, name, list_filter), (scope, name)
            assert w.lists.count(scope, name, list_filter) == len(w.ids(scope, name, list_filter))
    # A deregistered registration cancelled afterwards leaves the departures too.
    w.registry.cancel_registration(caller(ANYKSCIAI_MUSIC), reg(w, "C@300000011/G"), "Entered by mistake")
    assert (
        w.ids(Scope.everything(), ListName.DEPARTURES, departure_filter(dt.date(2026, 9, 1), dt.date(2027, 8, 31)))
        == []
    )


def test_a_cancelled_registration_does_not_put_a_child_in_a_municipalitys_scope(world: World) -> None:
    kept = world.register("Z", ANYKSCIAI_MUSIC)
    mistaken = world.register("Z", VILNIUS_MUSIC)
    # The child is in Vilnius's scope through the Vilnius registration: Vilnius sees both of them.
    assert world.ids(Scope.of_municipality("13"), ListName.LEARNERS, learner_filter(YEAR)) == [kept, mistaken]
    world.registry.cancel_registration(caller(VILNIUS_MUSIC), mistaken, "Entered by mistake")
    assert world.ids(Scope.of_municipality("13"), ListName.LEARNERS, learner_filter(YEAR)) == []
    assert world.ids(Scope.of_municipality("34"), ListName.LEARNERS, learner_filter(YEAR)) == [kept]


# --- paging ---------------------------------------------------------------------------------------
def walk(w: World, scope: Scope, name: ListName, list_filter: Any, size: int, between=None) -> list[int]:
    seen, cursor, pages = [], None, 0
    while True:
        page = w.page(scope, name, list_filter, size, cursor)
        seen.extend(getattr(r, "registration_id", None) or r.attendance_id for r in page.rows)
        pages += 1
        if page.next_cursor is None:
            return seen
        if between is not None:
            between(pages)
        cursor = page.next_cursor
        assert pages < 100


def test_pages_walk_the_whole_list_in_its_order(world: World) -> None:
    ids = [world.register(f"P{i}", ANYKSCIAI_MUSIC, dt.date(2026, 9, 1) + dt.timedelta(days=i % 5)) for i in range(7)]
    mine = Scope.of_institution(ANYKSCIAI_MUSIC)
    for size in (1, 2, 3, 7, 500):
        assert walk(world, mine, ListName.LEARNERS, learner_filter(YEAR), size) == ids, size
    page = world.page(mine, ListName.LEARNERS, learner_filter(YEAR), 7)
    assert page.next_cursor is None  # a full last page says no more


def test_rows_written_between_page_fetches_cause_no_duplicates_and_no_gaps(world: World) -> None:
    """Registrations, corrections of first learning dates and deregistrations happen while a
    reader pages: every row that exists throughout is read exactly once; none twice."""
    existing = [world.register(f"R{i}", ANYKSCIAI_MUSIC, dt.date(2026, 9, 1) + dt.timedelta(days=i)) for i in range(9)]
    added: list[int] = []

    def meanwhile(page_number: int) -> None:
        # Someone registers a child with an early first learning date (it sorts before the cursor by
        # date, but registrations are listed by id, which only grows), and corrects an early row.
        added.append(world.register(f"N{page_number}", ANYKSCIAI_MUSIC, dt.date(2026, 9, 1)))
        world.registry.correct_registration(caller(ANYKSCIAI_MUSIC), existing[-page_number], dt.date(2026, 9, 2), None)

    arrivals = arrival_filter(dt.date(2026, 9, 1), dt.date(2026, 9, 30))
    seen = walk(world, Scope.of_institution(ANYKSCIAI_MUSIC), ListName.ARRIVALS, arrivals, 2, between=meanwhile)
    assert len(seen) == len(set(seen)), "a row was returned twice"
    assert set(existing) <= set(seen), "a row that existed throughout was skipped"
    assert set(seen) - set(existing) <= set(added)


def test_departures_page_by_departure_date_without_duplicates_while_others_leave(world: World) -> None:
    mine = Scope.of_institution(ANYKSCIAI_MUSIC)
    ids = [world.register(f"L{i}", ANYKSCIAI_MUSIC) for i in range(8)]
    for i, registration in enumerate(ids[:6]):
        world.registry.deregister_student(
            caller(ANYKSCIAI_MUSIC), registration, Departure(dt.date(2026, 10, 1 + i % 3), "PARENTS_REQUEST")
        )
    late = iter(ids[6:])

    def meanwhile(page_number: int) -> None:  # one more leaves, on the earliest date (before the cursor)
        registration = next(late, None)
        if registration is not None:
            world.registry.deregister_student(
                caller(ANYKSCIAI_MUSIC), registration, Departure(dt.date(2026, 10, 1), "PARENTS_REQUEST")
            )

    october = departure_filter(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    seen = walk(world, mine, ListName.DEPARTURES, october, 2, between=meanwhile)
    assert len(seen) == len(set(seen)) and set(ids[:6]) <= set(seen)
    rows = world.page(mine, ListName.DEPARTURES, october).rows
    assert [(r.departure_date, r.registration_id) for r in rows] == sorted(
        (r.departure_date, r.registration_id) for r in rows
    )


def test_every_list_pages_with_its_cursor(populated: World) -> None:
    w = populated
    for name, list_filter in (
        (ListName.LEARNERS, learner_filter(YEAR)),
        (ListName.ARRIVALS, arrival_filter(dt.date(2026, 9, 1), dt.date(2027, 8, 31))),
        (ListName.DEPARTURES, departure_filter(dt.date(2026, 9, 1), dt.date(2027, 8, 31))),
        (ListName.BASKET_RECIPIENTS, basket_filter("2026-10")),
        (ListName.CLUB_ATTENDANCE, club_filter(YEAR)),
    ):
        whole = w.ids(Scope.everything(), name, list_filter)
        assert walk(w, Scope.everything(), name, list_filter, 1) == whole, name
        assert w.lists.count(Scope.everything(), name, list_filter) == len(whole)


def test_export_batches_read_the_list_a_batch_at_a_time(populated: World) -> None:
    w = populated
    arrivals = arrival_filter(dt.date(2026, 9, 1), dt.date(2027, 8, 31))
    batches = list(w.lists.batches(Scope.everything(), ListName.ARRIVALS, arrivals, batch_size=2))
    assert [len(b) for b in batches] == [2, 2]
    assert [r.registration_id for b in batches for r in b] == w.ids(Scope.everything(), ListName.ARRIVALS, arrivals)


# --- the repositories of clubs and enrolments --------------------------------------------------------
def test_one_club_mark_in_force_per_pupil_school_and_year_is_held_by_the_database(world: World, database) -> None:
    """A racing second mark (it read 'none in force' before the first committed, so it is new)
    does not add a second mark in force: the unique index turns it into an update of the first."""
    code = child_code(dt.date(2014, 3, 3), 31)
    first = world.clubs.mark(caller(VILNIUS_SCHOOL), NewClubAttendance(code, YEAR, ("SPORT",)))
    racing = ClubAttendance(
        None, PersonalCode(code), VILNIUS_SCHOOL, SchoolYear(2026), ("ART",), (), dt.date(2026, 9, 1), TODAY
    )
    with database.uow_factory() as uow:
        saved = uow.clubs.save(racing)
        uow.commit()
    assert (saved.id, saved.direction_codes) == (first.attendance_id, ("ART",))
    assert database.count("club_attendance") == 1


def test_a_club_mark_records_the_school_unless_an_enrolment_says_so_already(world: World, database) -> None:
    code = PersonalCode(child_code(dt.date(2014, 4, 4), 41))
    with database.uow_factory() as uow:
        uow.enrolments.upsert_many([Enrolment(code, VILNIUS_SCHOOL, SchoolYear(2026), dt.date(2026, 10, 1))])
        uow.commit()
    world.clubs.mark(caller(VILNIUS_SCHOOL), NewClubAttendance(code.value, YEAR, ("SPORT",)))
    world.clubs.mark(caller(KAUNAS_SCHOOL), NewClubAttendance(code.value, YEAR, ("ART",)))
    with database.uow_factory() as uow:
        found = sorted((e.school_code, e.from_date, e.source.value) for e in uow.enrolments.of_person(code))
    assert found == [(VILNIUS_SCHOOL, dt.date(2026, 10, 1), "import"), (KAUNAS_SCHOOL, dt.date(2026, 9, 1), "clubs")]


def test_importing_enrolments_again_counts_created_updated_and_unchanged(database) -> None:
    codes = [PersonalCode(child_code(dt.date(2013, 1, 1), n)) for n in range(3)]
    first = [Enrolment(c, VILNIUS_SCHOOL, SchoolYear(2026), dt.date(2026, 9, 1)) for c in codes]
    with database.uow_factory() as uow:
        assert uow.enrolments.upsert_many(first) == {"created": 3, "updated": 0, "unchanged": 0}
        uow.commit()
    second = first[:2] + [
        Enrolment(codes[2], VILNIUS_SCHOOL, SchoolYear(2026), dt.date(2026, 9, 1), dt.date(2027, 1, 31))
    ]
    with database.uow_factory() as uow:
        assert uow.enrolments.upsert_many(second) == {"created": 0, "updated": 1, "unchanged": 2}
        uow.commit()
    with database.uow_factory() as uow:
        assert uow.enrolments.of_person(codes[2])[0].to_date == dt.date(2027, 1, 31)


def test_revision_0200_downgrades_and_upgrades_again(database) -> None:
    config = Config()
    config.set_main_option("script_location", str(REPOSITORY_ROOT / "storage" / "migrations"))
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0300")
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == "0300"
    with database.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    head = ScriptDirectory.from_config(config).get_current_head()
    with database.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head


def test_a_municipalitys_lists_read_window_after_window_give_the_same_rows(populated: World, monkeypatch) -> None:
    """A municipality's rows are read in bounded windows of the driving table (storage.lists.WINDOW);
    with windows of two rows every list still gives all its rows, once, in order, page after page."""
    import storage.lists

    w = populated
    lists = [
        (ListName.LEARNERS, learner_filter(YEAR)),
        (ListName.ARRIVALS, arrival_filter(dt.date(2026, 9, 1), dt.date(2027, 8, 31))),
        (ListName.DEPARTURES, departure_filter(dt.date(2026, 9, 1), dt.date(2027, 8, 31))),
        (ListName.BASKET_RECIPIENTS, basket_filter("2026-10")),
        (ListName.CLUB_ATTENDANCE, club_filter(YEAR)),
    ]
    for municipality in ("34", "13", "19"):
        scope = Scope.of_municipality(municipality)
        whole = {name: w.ids(scope, name, list_filter) for name, list_filter in lists}
        monkeypatch.setattr(storage.lists, "WINDOW", 2)
        for name, list_filter in lists:
            assert walk(w, scope, name, list_filter, 1) == whole[name], (municipality, name)
            assert w.ids(scope, name, list_filter) == whole[name]
        monkeypatch.setattr(storage.lists, "WINDOW", 4000)
    assert any(whole.values())
