"""Retention, run by ``nvs-gateway archive`` after the move, on SQLite and PostgreSQL: a learner whose
last school year is past NVS_RETENTION_LEARNER_YEARS is pseudonymised wherever the register names
the child, the feed carries a PERSON_ERASED tombstone per institution that knew the learner (read
over real HTTP), the basket of those archived months comes out as before; learners with a later
year or a record still active are untouched; archived groups of those years lose their leaders; old
imported enrolments go; an interrupted run and a rerun end as one run."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.cli import main
from gateway.domain.access import Caller
from gateway.domain.calendar import Month, SchoolYear
from gateway.domain.clubs import ClubAttendance, Enrolment
from gateway.domain.errors import StudentNotFound
from gateway.domain.feed import ChangeKind
from gateway.domain.funding import FundingMark
from gateway.domain.model import (
    Contract,
    Departure,
    Group,
    Leader,
    PersonRecord,
    ProgramPurpose,
    Registration,
    RegistrationStatus,
)
from gateway.domain.notices import Notice, NoticeKind
from gateway.domain.personal_code import PersonalCode, Pseudonym
from gateway.feed import registration_changed
from gateway.services import Registry
from tests.clock import e2e_clock
from tests.e2e.helpers import changes_when_visible, child_code, registry_client

SCHOOL, OTHER, PROGRAM = "300000011", "300000012", "100000112"
NOW = dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.UTC)  # 2026-2027: the last closed year is 2025-2026
CENTRAL = Caller(user_id=1, username="admin", central=True)
# Five closed years kept after a learner's last (NVS_RETENTION_LEARNER_YEARS): years up to 2020-2021 go.
FORGOTTEN = PersonalCode(child_code(dt.date(2005, 4, 1), 41))  # 2016 at SCHOOL, 2017 at OTHER: erased
REMEMBERED = PersonalCode(child_code(dt.date(2005, 4, 2), 42))  # 2016, and again in 2022: kept
STILL_LEARNING = PersonalCode(child_code(dt.date(2005, 4, 3), 43))  # 2016, never deregistered: kept
CLUB_ONLY = PersonalCode(child_code(dt.date(2005, 4, 4), 44))  # a club mark of 2017 only: erased


def _registration(uow, code: PersonalCode, provider: str, year: int, name: str, *, ended: bool = True) -> int:
    group = uow.groups.add(
        Group(
            None,
            provider,
            SchoolYear(year),
            PROGRAM,
            ProgramPurpose.NVS,
            name,
            ("MUSIC.PIANO",),
            leaders=(Leader("Mokytoja", "Vadovė", PersonalCode(child_code(dt.date(1970, 1, 5), 7, male=False))),),
        )
    )
    contract = Contract("BILATERAL", dt.date(year, 8, 28), f"R-{year}")
    registration = uow.registrations.add(
        Registration(None, code, group.id, provider, dt.date(year, 9, 1), contract, dt.date(year, 9, 1))
    )
    at = dt.datetime(year, 9, 1, 9, 0, tzinfo=dt.UTC)
    registration_changed(uow, ChangeKind.REGISTERED, registration, at=at, group=group)
    mark = uow.funding.add(FundingMark(None, registration.id, "NVS_BASKET", Month(year, 9), Month(year, 12)))
    uow.funding.claim_basket(code, mark)
    if ended:
        departed = Registration(
            registration.id,
            code,
            group.id,
            provider,
            dt.date(year, 9, 1),
            contract,
            dt.date(year, 9, 1),
            status=RegistrationStatus.DEREGISTERED,
            departure=Departure(dt.date(year + 1, 5, 31), "PARENTS_REQUEST"),
            deregistered_on=dt.date(year + 1, 5, 31),
        )
        uow.registrations.update(departed)
        registration_changed(uow, ChangeKind.DEREGISTERED, departed, at=at.replace(year=year + 1, month=5), group=group)
    return registration.id


@pytest.fixture
def register(database, monkeypatch):
    monkeypatch.setenv("NVS_DATABASE_URL", database.url)
    monkeypatch.setenv("NVS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("NVS_CLOCK_START", "2026-11-16T10:00:00+02:00")
    monkeypatch.setenv("NVS_RETENTION_LEARNER_YEARS", "5")  # the basket's rates start in 2015
    ids: dict[str, list[int]] = {}
    with database.uow_factory() as uow:
        for code in (FORGOTTEN, REMEMBERED, STILL_LEARNING, CLUB_ONLY):
            uow.persons.save(PersonRecord(code, "Vaikas", "Senas", code.sex, code.birth_date), checked_at=NOW)
        ids["forgotten"] = [
            _registration(uow, FORGOTTEN, SCHOOL, 2016, "Choras 2016"),
            _registration(uow, FORGOTTEN, OTHER, 2017, "Smuikas 2017"),
        ]
        ids["remembered"] = [
            _registration(uow, REMEMBERED, SCHOOL, 2016, "Fleita 2016"),
            _registration(uow, REMEMBERED, SCHOOL, 2022, "Fleita 2022"),
        ]
        ids["still_learning"] = [_registration(uow, STILL_LEARNING, SCHOOL, 2016, "Būgnai 2016", ended=False)]
        club = uow.clubs.save(
            ClubAttendance(
                None, CLUB_ONLY, SCHOOL, SchoolYear(2017), ("MUSIC",), (), dt.date(2017, 9, 1), dt.date(2017, 9, 1)
            )
        )
        ids["club"] = [club.id]
        uow.notices.add(
            Notice(SCHOOL, NoticeKind.DATA_ISSUE, NOW, "Vėlai įregistruotas", FORGOTTEN, ids["forgotten"][0])
        )
        for year in (2023, 2024):
            uow.enrolments.ensure(Enrolment(REMEMBERED, SCHOOL, SchoolYear(year), dt.date(year, 9, 1)))
        uow.commit()
    return database, ids


def _registry(database) -> Registry:
    return Registry(database.uow_factory, None, clock=e2e_clock())  # type: ignore[arg-type]  # GR is not asked


def _basket(registry: Registry) -> list[tuple[str, int, str]]:
    return sorted(
        (str(line.line.month), line.line.funded_children, str(line.line.amount))
        for line in registry.calculate_basket(CENTRAL, "2016-09", "2017-12")
    )


def _person(database, person_id: int):
    return database.rows(
        "SELECT personal_code, first_name, last_name, sex, birth_date, erased_on FROM person WHERE id = :id",
        id=person_id,
    )[0]


def test_learners_past_retention_are_pseudonymised_and_the_feed_tells_of_it(register, start_gateway, capsys) -> None:
    database, ids = register
    [forgotten_id] = [r.id for r in database.rows("SELECT id FROM person WHERE personal_code = :c", c=FORGOTTEN.value)]
    [club_only_id] = [r.id for r in database.rows("SELECT id FROM person WHERE personal_code = :c", c=CLUB_ONLY.value)]
    pseudonym = Pseudonym.of_person(forgotten_id).value
    registry = _registry(database)
    basket_before = _basket(registry)
    assert sum(children for _, children, _ in basket_before) > 0
    kept_before = [
        database.rows("SELECT * FROM person WHERE personal_code = :c", c=c.value) for c in (REMEMBERED, STILL_LEARNING)
    ]

    assert main(["archive"]) == 0
    out = capsys.readouterr()
    assert "2 learner(s) of years up to 2020-2021 pseudonymised (3 PERSON_ERASED event(s))" in out.out
    assert "1 enrolment(s) of years up to 2023-2024 deleted" in out.out
    assert "erasing" in out.err  # the progress bar

    # The learner's record: the pseudonym, nothing else that names the child.
    person = _person(database, forgotten_id)
    assert person.personal_code == pseudonym and pseudonym == f"0{forgotten_id:010d}"
    assert (person.first_name, person.last_name, person.sex, person.birth_date) == ("", "", None, None)
    assert person.erased_on is not None
    assert _person(database, club_only_id).personal_code == Pseudonym.of_person(club_only_id).value
    for table in ("person", "change_event", "notice"):
        assert database.rows(f"SELECT 1 FROM {table} WHERE personal_code = :c", c=FORGOTTEN.value) == []  # noqa: S608
    assert [n.personal_code for n in database.rows("SELECT personal_code FROM notice")] == [pseudonym]
    with pytest.raises(StudentNotFound):
        registry.get_student(CENTRAL, FORGOTTEN.value)

    # The others: untouched, and still found.
    assert [
        database.rows("SELECT * FROM person WHERE personal_code = :c", c=c.value) for c in (REMEMBERED, STILL_LEARNING)
    ] == kept_before
    assert {v.registration.id for v in registry.get_student(CENTRAL, REMEMBERED.value).registrations} == set(
        ids["remembered"]
    )

    # The basket of the erased learner's months is what it was; the months stay the learner's.
    assert _basket(registry) == basket_before
    assert database.count("basket_claim") == 4 * 5  # five registrations, September to December each

    # Archived groups of 2016 and 2017 name no leaders; 2022's still does (not past retention).
    leaders = {r.name: r.leaders for r in database.rows("SELECT name, leaders FROM archive_nvs_group")}
    assert {name for name, named in leaders.items() if named not in ("[]", [])} == {"Fleita 2022"}
    assert {int(r.school_year) for r in database.rows("SELECT school_year FROM school_enrolment")} >= {2024}
    assert database.rows("SELECT 1 FROM school_enrolment WHERE school_year <= 2023") == []

    # Over HTTP: each institution's follower sees the tombstone and the pseudonym in the earlier events.
    gateway = start_gateway()
    no_clubs: list[int] = []
    for institution, registrations, clubs, events in (
        (SCHOOL, [ids["forgotten"][0]], no_clubs, 7 + 2),  # 3 ended (x2) and 1 active registration; 2 tombstones
        (OTHER, [ids["forgotten"][1]], no_clubs, 2 + 1),
    ):
        user = database.user(institution)
        service = registry_client(gateway.wsdl_url, user.username, user.password).service
        changes = changes_when_visible(service, events)
        tombstones = [e for e in changes if e.kind == "PERSON_ERASED"]
        erased = [t for t in tombstones if t.personalCode == pseudonym]
        assert len(erased) == 1, institution
        assert erased[0].erasure.registrationId == registrations
        assert erased[0].erasure.clubAttendanceId == clubs
        assert erased[0].registration is None
        earlier = [e for e in changes if e.kind != "PERSON_ERASED" and e.personalCode == pseudonym]
        assert {e.registration.registrationId for e in earlier} == set(registrations)
        assert all(e.personalCode != FORGOTTEN.value for e in changes)
    school = registry_client(gateway.wsdl_url, database.user(SCHOOL).username, database.user(SCHOOL).password)
    club_tombstone = [
        e for e in changes_when_visible(school.service, 9) if e.personalCode == Pseudonym.of_person(club_only_id).value
    ]
    assert [(e.kind, e.erasure.clubAttendanceId) for e in club_tombstone] == [("PERSON_ERASED", ids["club"])]

    events = database.count("change_event")
    assert main(["archive"]) == 0  # nothing left: a rerun erases nothing and tells nothing again
    assert "0 learner(s) of years up to 2020-2021 pseudonymised (0 PERSON_ERASED event(s))" in capsys.readouterr().out
    assert database.count("change_event") == events


def test_an_interrupted_erasure_is_finished_by_a_rerun(register, monkeypatch, capsys) -> None:
    database, _ = register
    monkeypatch.setenv("NVS_RETENTION_LEARNER_YEARS", "30")  # first the archive alone: nothing is that old
    assert main(["archive"]) == 0
    assert "0 learner(s) of years up to 1995-1996 pseudonymised" in capsys.readouterr().out
    monkeypatch.setenv("NVS_RETENTION_LEARNER_YEARS", "5")

    assert main(["archive", "--batch-size", "1", "--max-batches", "1"]) == 0  # stopped, as an interruption
    assert "1 learner(s) of years up to 2020-2021 pseudonymised (2 PERSON_ERASED event(s))" in capsys.readouterr().out
    assert len(database.rows("SELECT id FROM person WHERE erased_on IS NOT NULL")) == 1

    assert main(["archive", "--batch-size", "1"]) == 0
    assert "1 learner(s) of years up to 2020-2021 pseudonymised (1 PERSON_ERASED event(s))" in capsys.readouterr().out
    erased = database.rows("SELECT personal_code FROM person WHERE erased_on IS NOT NULL ORDER BY id")
    assert len(erased) == 2 and all(PersonalCode.stored(r.personal_code).is_pseudonym for r in erased)
    tombstones = database.rows("SELECT personal_code FROM change_event WHERE kind = 'PERSON_ERASED'")
    assert sorted(t.personal_code for t in tombstones) == sorted(
        [erased[0].personal_code] * 2 + [erased[1].personal_code]
    )
