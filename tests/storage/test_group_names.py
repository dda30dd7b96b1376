"""A group name is unique per provider and school year as people read names, in the database too
(revision 0410): the unique index on name_key holds when two requests race past the domain's
check, and the migration normalises existing names, suffixing those that collide."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from gateway.domain.calendar import SchoolYear
from gateway.domain.errors import DuplicateGroupName
from tests.storage.test_feed_migration import migrate_to, scratch  # noqa: F401 - the scratch database fixture
from tests.storage.test_repositories import PROGRAM, SCHOOL, a_group


@pytest.mark.parametrize("spelling", ["S\u030cokis", "šokis", "ŠOKIS", "Šo\u00adkis"])
def test_the_database_refuses_a_second_group_whose_name_reads_the_same(database, spelling) -> None:
    with database.uow_factory() as uow:
        uow.groups.add(a_group("Šokis"))
        uow.commit()
    with database.uow_factory() as uow:
        assert uow.groups.name_taken(SCHOOL, SchoolYear(2026), spelling)
        with pytest.raises(DuplicateGroupName):  # as if the domain's check had been raced past
            uow.groups.add(a_group(spelling))
    with database.uow_factory() as uow:
        assert not uow.groups.name_taken(SCHOOL, SchoolYear(2027), spelling), "another school year"


def test_renaming_onto_a_taken_name_is_refused_by_the_database(database) -> None:
    with database.uow_factory() as uow:
        uow.groups.add(a_group("Šokis"))
        other = uow.groups.add(a_group("Dailė"))
        uow.commit()
    with database.uow_factory() as uow:
        from dataclasses import replace

        with pytest.raises(DuplicateGroupName):
            uow.groups.update(replace(other, name="ŠOKIS"))


def test_the_migration_normalises_names_and_suffixes_colliding_ones(scratch) -> None:  # noqa: F811
    migrate_to(scratch, "0200", down=True)
    names = ["main", "main ", "S\u030cokis", "Šokis", "\u200b", "Dailė"]
    with scratch.engine.begin() as connection:
        for name in names:
            connection.execute(
                text(
                    "INSERT INTO nvs_group (provider_code, school_year, program_code, purpose, name, sub_direction_codes, leaders) "
                    "VALUES (:provider, 2026, :program, 'NVS', :name, '[\"MUSIC.PIANO\"]', '[]')"
                ),
                {"provider": SCHOOL, "program": PROGRAM, "name": name},
            )
    migrate_to(scratch, "head")
    with scratch.engine.connect() as connection:
        rows = connection.execute(text("SELECT id, name, name_key FROM nvs_group ORDER BY id")).all()
    assert [r.name for r in rows] == ["main", "main (2)", "Šokis", "Šokis (2)", f"Grupė {rows[4].id}", "Dailė"]
    assert len({r.name_key for r in rows}) == len(rows) and all(len(r.name_key) == 64 for r in rows)
    with scratch.uow_factory() as uow:
        with pytest.raises(DuplicateGroupName):
            uow.groups.add(a_group("MAIN"))
