"""Storage on SQLite and PostgreSQL: round trips, the constraints that hold under races,
one transaction per unit of work, and migrations that match the models."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from gateway.domain.calendar import SchoolYear
from gateway.domain.errors import AlreadyRegistered, DuplicateGroupName
from gateway.domain.model import (
    Contract,
    DeclaredResidence,
    Departure,
    Group,
    Institution,
    Leader,
    PersonRecord,
    ProgramPurpose,
    Registration,
    RegistrationStatus,
)
from gateway.domain.personal_code import PersonalCode
from storage.models import Base
from tests.e2e.helpers import child_code

SCHOOL = "300000011"
PROGRAM = "100000112"
NOW = dt.datetime(2026, 10, 1, 12, 0, tzinfo=dt.UTC)


def a_person(code: str, **overrides: Any) -> PersonRecord:
    values: dict[str, Any] = dict(
        personal_code=PersonalCode(code),
        first_name="Ąžuolas",
        last_name="Žemaitis",
        sex="M",
        birth_date=dt.date(2015, 3, 4),
        residence=DeclaredResidence("11", "Alytaus miesto savivaldybė", "Vilniaus g. 1"),
    )
    values.update(overrides)
    return PersonRecord(**values)


def a_group(name: str = "Smuikas") -> Group:
    return Group(
        id=None,
        provider_code=SCHOOL,
        school_year=SchoolYear(2026),
        program_code=PROGRAM,
        purpose=ProgramPurpose.NVS,
        name=name,
        sub_direction_codes=("MUSIC.VIOLIN",),
        leaders=(Leader("Ona", "Kairienė", PersonalCode(child_code(dt.date(2001, 1, 1), 9, male=False))),),
    )


def a_registration(code: str, group_id: int) -> Registration:
    return Registration(
        id=None,
        personal_code=PersonalCode(code),
        group_id=group_id,
        provider_code=SCHOOL,
        first_learning_date=dt.date(2026, 9, 1),
        contract=Contract("BILATERAL", dt.date(2026, 8, 30), "S-1"),
        registered_on=dt.date(2026, 9, 1),
    )


def test_migrations_create_exactly_the_schema_the_models_describe(database) -> None:
    with database.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_a_group_with_leaders_and_a_registration_survive_a_round_trip(database) -> None:
    code = child_code(dt.date(2015, 3, 4), 11)
    with database.uow_factory() as uow:
        group = uow.groups.add(a_group())
        uow.persons.save(a_person(code), checked_at=NOW)
        registration = uow.registrations.add(a_registration(code, group.id))
        uow.commit()
    with database.uow_factory() as uow:
        assert uow.groups.get(group.id) == group
        assert uow.persons.get(PersonalCode(code)) == a_person(code)
        assert uow.registrations.get(registration.id) == registration
        assert uow.registrations.has_active(PersonalCode(code), group.id)
        assert uow.groups.active_learner_counts([group.id]) == {group.id: 1}


def test_leaving_a_unit_of_work_without_commit_writes_nothing(database) -> None:
    with database.uow_factory() as uow:
        uow.groups.add(a_group())
        uow.persons.save(a_person(child_code(dt.date(2015, 3, 4), 12)), checked_at=NOW)
    assert database.count("nvs_group") == 0 and database.count("person") == 0


def test_one_active_registration_per_child_and_group_is_held_by_the_database_itself(database) -> None:
    code = child_code(dt.date(2014, 6, 6), 13)
    with database.uow_factory() as uow:
        group = uow.groups.add(a_group())
        uow.persons.save(a_person(code), checked_at=NOW)
        uow.registrations.add(a_registration(code, group.id))
        uow.commit()
    # A racing request that checked has_active() before the first committed gets this far; only the index stops it.
    with database.uow_factory() as uow:
        with pytest.raises(AlreadyRegistered):
            uow.registrations.add(a_registration(code, group.id))
    assert database.count("registration") == 1


def test_a_deregistered_child_can_join_the_same_group_again(database) -> None:
    code = child_code(dt.date(2014, 6, 6), 14)
    with database.uow_factory() as uow:
        group = uow.groups.add(a_group())
        uow.persons.save(a_person(code), checked_at=NOW)
        old = uow.registrations.add(a_registration(code, group.id))
        uow.registrations.update(
            Registration(
                **{
                    **old.__dict__,
                    "status": RegistrationStatus.DEREGISTERED,
                    "departure": Departure(dt.date(2026, 10, 1), "MOVED"),
                }
            )
        )
        uow.registrations.add(a_registration(code, group.id))
        uow.commit()
    with database.uow_factory() as uow:
        statuses = sorted(r.status.value for r in uow.registrations.of_person_at(PersonalCode(code), SCHOOL))
    assert statuses == ["active", "deregistered"]


def test_group_names_are_unique_per_provider_and_year_under_concurrency(database) -> None:
    results: list[str] = []
    barrier = threading.Barrier(4)

    def create() -> None:
        with database.uow_factory() as uow:
            barrier.wait()
            try:
                uow.groups.add(a_group("Choras"))
                uow.commit()
                results.append("created")
            except DuplicateGroupName:
                results.append("duplicate")

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == ["created", "duplicate", "duplicate", "duplicate"]
    assert database.count("nvs_group") == 1


def test_latest_registration_of_a_person_ignores_cancelled_ones(database) -> None:
    code = child_code(dt.date(2013, 2, 2), 15)
    with database.uow_factory() as uow:
        group = uow.groups.add(a_group())
        other = uow.groups.add(a_group("Kita"))
        uow.persons.save(a_person(code), checked_at=NOW)
        kept = uow.registrations.add(a_registration(code, group.id))
        later = uow.registrations.add(
            Registration(**{**a_registration(code, other.id).__dict__, "first_learning_date": dt.date(2026, 10, 1)})
        )
        uow.registrations.update(later.cancel(reason="mistake", today=dt.date(2026, 10, 2)))
        uow.commit()
    with database.uow_factory() as uow:
        assert uow.registrations.latest_of_person(PersonalCode(code)) == kept


def test_institution_upsert_reports_created_updated_and_unchanged(database) -> None:
    institution = Institution("300000099", "Naujoji mokykla", "02", "20", "NVS_SCHOOL", ("MUSIC_SCHOOL",))
    with database.uow_factory() as uow:
        outcomes = [uow.institutions.upsert(institution), uow.institutions.upsert(institution)]
        renamed = Institution(**{**institution.__dict__, "name": "Atnaujinta mokykla"})
        outcomes.append(uow.institutions.upsert(renamed))
        uow.commit()
    assert outcomes == ["created", "unchanged", "updated"]
    with database.uow_factory() as uow:
        assert uow.institutions.get("300000099") == renamed


def test_free_text_is_stored_literally(database) -> None:
    hostile = "'; DROP TABLE registration;-- % _ \\ <script>"
    with database.uow_factory() as uow:
        group = uow.groups.add(a_group(hostile))
        uow.commit()
    with database.uow_factory() as uow:
        assert uow.groups.get(group.id).name == hostile
        assert uow.groups.name_taken(SCHOOL, SchoolYear(2026), hostile)
        assert not uow.groups.name_taken(SCHOOL, SchoolYear(2026), "%")
    assert database.count("registration") == 0  # the table is still there
