"""``nvs-gateway roll-over`` as an operator runs it, on SQLite and PostgreSQL: groups of every provider
(or the named ones) copied into the next year with their learners, a refused group named in the
summary without holding the others back, and a second run that copies and moves nothing."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway import administration
from gateway.cli import main
from gateway.domain.calendar import SchoolYear
from gateway.domain.model import Contract, Group, PersonRecord, Program, ProgramPurpose, Registration
from gateway.domain.personal_code import PersonalCode
from tests.e2e.helpers import child_code

SCHOOL, PROGRAM = "300000011", "100000112"
ENDED_PROGRAM = "100000118"
NOW = dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.UTC)


@pytest.fixture
def last_year(database, monkeypatch):
    """Two groups of 2025-2026: one with three learners, one in a program deregistered since 2026-08-31."""
    monkeypatch.setenv("NVS_DATABASE_URL", database.url)
    monkeypatch.setenv("NVS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("NVS_CLOCK_START", "2026-11-16T10:00:00+02:00")
    ended = Program(
        ENDED_PROGRAM,
        "Baigta",
        SCHOOL,
        ProgramPurpose.NVS,
        ("MUSIC",),
        dt.date(2020, 1, 1),
        dt.date(2020, 6, 1),
        deregistered_on=dt.date(2026, 8, 31),
    )
    administration.import_programs(database.uow_factory, [ended])
    with database.uow_factory() as uow:
        kept = uow.groups.add(
            Group(None, SCHOOL, SchoolYear(2025), PROGRAM, ProgramPurpose.NVS, "Ansamblis", ("MUSIC.PIANO",))
        )
        refused = uow.groups.add(
            Group(None, SCHOOL, SchoolYear(2025), ENDED_PROGRAM, ProgramPurpose.NVS, "Senoji", ("MUSIC.PIANO",))
        )
        for serial in range(3):
            code = PersonalCode(child_code(dt.date(2015, 3, 1 + serial), 70 + serial))
            uow.persons.save(PersonRecord(code, "Vaikas", f"Nr{serial}", code.sex, code.birth_date), checked_at=NOW)
            uow.registrations.add(
                Registration(
                    None,
                    code,
                    kept.id,
                    SCHOOL,
                    dt.date(2025, 9, 1),
                    Contract("BILATERAL", dt.date(2025, 8, 28), f"S-{serial}"),
                    dt.date(2025, 9, 1),
                )
            )
        uow.commit()
    return database, kept, refused


def test_roll_over_copies_carries_names_the_refused_group_and_a_second_run_changes_nothing(last_year, capsys) -> None:
    database, kept, refused = last_year
    arguments = ["roll-over", "--from", "2025-2026", "--to", "2026-2027", "--carry-learners", "--institution", SCHOOL]

    assert main(arguments) == 1  # a group was refused

    out = capsys.readouterr()
    assert "2 group(s); 1 copied, 0 copied before; 3 learner(s) carried" in out.out
    assert f"refused: group {refused.id} 'Senoji' of {SCHOOL}: ProgramDeregistered" in out.out
    assert "rolling over 2025-2026" in out.err  # the progress bar
    copies = database.rows("SELECT id, school_year, name FROM nvs_group WHERE rolled_over_from = :id", id=kept.id)
    assert [(c.school_year, c.name) for c in copies] == [(2026, "Ansamblis")]
    carried = database.rows(
        "SELECT first_learning_date, transferred_from_id FROM registration WHERE group_id = :id AND status = 'active'",
        id=copies[0].id,
    )
    assert len(carried) == 3 and {str(r.first_learning_date)[:10] for r in carried} == {"2026-09-01"}
    before = database.snapshot()

    assert main(arguments) == 1
    assert "1 copied before; 0 learner(s) carried" in capsys.readouterr().out
    assert database.snapshot() == before


def test_roll_over_refuses_years_that_do_not_follow(last_year, capsys) -> None:
    assert main(["roll-over", "--from", "2025-2026", "--to", "2027-2028"]) == 2
    assert "InvalidSchoolYear" in capsys.readouterr().err
