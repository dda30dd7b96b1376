"""Institutions and programs are cached per process and database, and an import reaches every process at once.

Two engines on one database stand for two gateway processes: what one imports, the other's next unit of
work returns, while a process that has read a program once does not read it again."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import event

from gateway.bootstrap import unit_of_work_factory
from storage.db import make_engine

PROGRAM = "100000112"
SCHOOL = "300000011"


class Statements:
    """The statements one engine sends that read a given table."""

    def __init__(self, engine, table: str) -> None:
        self.count = 0
        needle = f"FROM {table} "

        @event.listens_for(engine, "before_cursor_execute")
        def seen(conn, cursor, statement, parameters, context, executemany):
            if needle in statement.replace("\n", " ") + " ":
                self.count += 1


@pytest.fixture
def other_process(database):
    """A second engine on the same database, as a second gateway process has."""
    engine = make_engine(database.url)
    yield unit_of_work_factory(engine)
    engine.dispose()


def program_name(uow_factory) -> str:
    with uow_factory() as uow:
        program = uow.programs.get(PROGRAM)
        assert program is not None
        return program.name


def test_a_program_read_once_is_not_read_again(database) -> None:
    reads = Statements(database.engine, "program")
    first = program_name(database.uow_factory)
    assert program_name(database.uow_factory) == first
    with database.uow_factory() as uow:
        assert uow.institutions.get(SCHOOL) is not None
        assert uow.institutions.get_many([SCHOOL, "999999999"]).keys() == {SCHOOL}
        assert uow.institutions.names([SCHOOL]) == {SCHOOL: uow.institutions.get(SCHOOL).name}
    assert reads.count == 1


def test_an_import_in_one_process_is_seen_by_the_next_call_of_another(database, other_process) -> None:
    assert program_name(other_process) != "Fortepijono programa 2"  # now cached by the other process
    with database.uow_factory() as uow:
        program = uow.programs.get(PROGRAM)
        assert uow.programs.upsert(dataclasses.replace(program, name="Fortepijono programa 2")) == "updated"
        # Inside the importing transaction the change is visible, not the cached copy.
        assert uow.programs.get(PROGRAM).name == "Fortepijono programa 2"
        uow.commit()
    assert program_name(other_process) == "Fortepijono programa 2"
    assert program_name(database.uow_factory) == "Fortepijono programa 2"


def test_an_import_that_rolls_back_leaves_every_cache_as_it_was(database, other_process) -> None:
    before = program_name(other_process)
    with database.uow_factory() as uow:
        program = uow.programs.get(PROGRAM)
        uow.programs.upsert(dataclasses.replace(program, name="Niekada neišsaugota"))
        uow.rollback()
    assert program_name(database.uow_factory) == before
    assert program_name(other_process) == before


def test_an_unchanged_import_does_not_start_the_caches_afresh(database) -> None:
    program_name(database.uow_factory)
    reads = Statements(database.engine, "program")
    with database.uow_factory() as uow:
        assert uow.programs.upsert(uow.programs.get(PROGRAM)) == "unchanged"
        uow.commit()
    program_name(database.uow_factory)
    assert reads.count == 1  # the upsert's own read of the row; the cache still holds


def test_a_call_learns_the_reference_versions_from_its_login_read_and_still_sees_an_import(database) -> None:
    """Every call begins with the login read (gateway.auth), which brings the reference data's versions:
    no statement of their own inside a call, and the next call of another process still sees an import."""
    engine = make_engine(database.url)
    try:
        other_process = unit_of_work_factory(engine)
        version_reads: list[str] = []

        @event.listens_for(engine, "before_cursor_execute")
        def seen(conn, cursor, statement, parameters, context, executemany):
            if "reference_data_version" in statement:
                version_reads.append("login" if "app_user" in statement else "own")

        def program_name_in_a_call(uow_factory) -> str:
            with uow_factory() as uow:
                uow.users.for_login("whoever-calls")
                program = uow.programs.get(PROGRAM)
                assert program is not None
                return program.name

        before = program_name_in_a_call(other_process)
        with database.uow_factory() as uow:
            program = uow.programs.get(PROGRAM)
            uow.programs.upsert(dataclasses.replace(program, name=before + " (nauja)"))
            uow.commit()
        assert program_name_in_a_call(other_process) == before + " (nauja)"
        assert version_reads == ["login", "login"]
    finally:
        engine.dispose()
