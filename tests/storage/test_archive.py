"""``nvs-gateway archive`` on SQLite and PostgreSQL: five school years of a provider, of which the
three oldest closed ones leave the active tables (two kept); a run stopped after a few batches and a
rerun end as one run; afterwards a learner's history still shows the archived years, CalculateBasket
gives the archived months' numbers it gave before, an archived basket month is still the child's,
and the active year is untouched."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.cli import main
from gateway.domain.access import Caller
from gateway.domain.calendar import Month, SchoolYear
from gateway.domain.errors import BasketAlreadyClaimed
from gateway.domain.funding import FundingMark
from gateway.domain.model import Contract, Departure, Group, PersonRecord, ProgramPurpose, Registration
from gateway.domain.personal_code import PersonalCode
from gateway.services import Registry
from tests.clock import e2e_clock
from tests.e2e.helpers import child_code

SCHOOL, PROGRAM = "300000011", "100000112"
NOW = dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.UTC)
YEARS = (2021, 2022, 2023, 2024, 2025, 2026)  # today is in 2026-2027: 2024 and 2025 are the two kept
LEARNERS = 4
CENTRAL = Caller(user_id=1, username="admin", central=True)


@pytest.fixture
def register(database, monkeypatch):
    """For each year: one group of LEARNERS learners, all deregistered on 31 May (the active year's
    stay active), each with the basket for September to December; the same children every year."""
    monkeypatch.setenv("NVS_DATABASE_URL", database.url)
    monkeypatch.setenv("NVS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("NVS_CLOCK_START", "2026-11-16T10:00:00+02:00")
    codes = [PersonalCode(child_code(dt.date(2013, 3, 1 + n), 80 + n)) for n in range(LEARNERS)]
    with database.uow_factory() as uow:
        for code in codes:
            uow.persons.save(PersonRecord(code, "Vaikas", "Archyvinis", code.sex, code.birth_date), checked_at=NOW)
        for year in YEARS:
            group = uow.groups.add(
                Group(None, SCHOOL, SchoolYear(year), PROGRAM, ProgramPurpose.NVS, f"Choras {year}", ("MUSIC.PIANO",))
            )
            for n, code in enumerate(codes):
                registration = uow.registrations.add(
                    Registration(
                        None,
                        code,
                        group.id,
                        SCHOOL,
                        dt.date(year, 9, 1),
                        Contract("BILATERAL", dt.date(year, 8, 28), f"A-{year}-{n}"),
                        dt.date(year, 9, 1),
                    )
                )
                mark = uow.funding.add(
                    FundingMark(None, registration.id, "NVS_BASKET", Month(year, 9), Month(year, 12))
                )
                uow.funding.claim_basket(code, mark)
                if year != 2026:
                    uow.registrations.update(
                        Registration(
                            registration.id,
                            code,
                            group.id,
                            SCHOOL,
                            dt.date(year, 9, 1),
                            Contract("BILATERAL", dt.date(year, 8, 28), f"A-{year}-{n}"),
                            dt.date(year, 9, 1),
                            status=registration.status.DEREGISTERED,
                            departure=Departure(dt.date(year + 1, 5, 31), "PARENTS_REQUEST"),
                            deregistered_on=dt.date(year + 1, 5, 31),
                        )
                    )
        uow.commit()
    return database, codes


def _registry(database) -> Registry:
    return Registry(database.uow_factory, None, clock=e2e_clock())  # type: ignore[arg-type]  # GR is not asked


def _basket(registry: Registry) -> list[tuple[str, int, str]]:
    return sorted(
        (str(line.line.month), line.line.funded_children, str(line.line.amount))
        for first, last in (("2021-09", "2023-08"), ("2023-09", "2025-08"), ("2025-09", "2026-12"))
        for line in registry.calculate_basket(CENTRAL, first, last)
    )


def test_archive_moves_the_old_years_in_batches_and_a_rerun_finishes_an_interrupted_run(register, capsys) -> None:
    database, codes = register
    registry = _registry(database)
    basket_before = _basket(registry)
    history_before = registry.get_student(CENTRAL, codes[0].value)
    active_before = database.rows("SELECT id, status FROM registration WHERE status = 'active' ORDER BY id")
    events_before = database.count("change_event")

    assert main(["archive", "--batch-size", "3", "--max-batches", "2"]) == 0  # stopped, as an interruption
    out = capsys.readouterr()
    assert "4 registration(s), 0 group(s), 0 club mark(s) moved in 2 batch(es)" in out.out  # 3 + 1 of 2021
    assert "archiving" in out.err  # the progress bar
    assert database.count("archive_registration") == 4

    assert main(["archive", "--batch-size", "3"]) == 0  # the rerun continues with what is left
    out = capsys.readouterr().out
    assert "years 2021-2022, 2022-2023, 2023-2024" in out
    assert "8 registration(s), 3 group(s)" in out  # 12 old registrations in all: 4 before, 8 now
    years = lambda table: sorted({int(r.school_year) for r in database.rows(f"SELECT school_year FROM {table}")})  # noqa: E731
    assert years("nvs_group") == [2024, 2025, 2026]
    assert years("archive_nvs_group") == [2021, 2022, 2023]
    assert database.count("archive_registration") == 3 * LEARNERS
    assert database.count("archive_funding_mark") == 3 * LEARNERS
    assert database.count("registration") == 3 * LEARNERS
    assert database.rows("SELECT id, status FROM registration WHERE status = 'active' ORDER BY id") == active_before
    assert database.count("change_event") == events_before  # the feed is not archived

    # A learner's history still holds every year; the basket of archived months is what it was.
    history_after = registry.get_student(CENTRAL, codes[0].value)
    assert sorted(v.registration.id or 0 for v in history_after.registrations) == sorted(
        v.registration.id or 0 for v in history_before.registrations
    )
    assert {v.group.name for v in history_after.registrations} >= {"Choras 2021", "Choras 2023"}
    assert _basket(registry) == basket_before

    # An archived basket month is still the child's: another mark cannot claim it.
    with database.uow_factory() as uow:
        group = uow.groups.add(
            Group(None, "300000012", SchoolYear(2024), PROGRAM, ProgramPurpose.NVS, "Kitas", ("MUSIC.PIANO",))
        )
        other = uow.registrations.add(
            Registration(None, codes[0], group.id, SCHOOL, dt.date(2024, 9, 1), None, dt.date(2024, 9, 1))
        )
        mark = uow.funding.add(FundingMark(None, other.id, "NVS_BASKET", Month(2022, 10), Month(2022, 10)))
        with pytest.raises(BasketAlreadyClaimed):
            uow.funding.claim_basket(codes[0], mark)

    assert main(["archive"]) == 0  # nothing left: a third run moves nothing
    assert "0 registration(s), 0 group(s), 0 club mark(s) moved in 0 batch(es)" in capsys.readouterr().out


def test_an_old_group_kept_for_a_learner_still_active_keeps_its_archived_basket_months(register, capsys) -> None:
    """A registration still active in a closed year keeps its group in the active tables; the group's
    ended registrations leave, and their basket months are still counted (their group is not archived)."""
    database, _ = register
    late = PersonalCode(child_code(dt.date(2013, 6, 6), 99))
    [group_id] = [g.id for g in database.rows("SELECT id FROM nvs_group WHERE school_year = 2021")]
    with database.uow_factory() as uow:
        uow.persons.save(PersonRecord(late, "Vaikas", "Pamirštas", late.sex, late.birth_date), checked_at=NOW)
        uow.registrations.add(
            Registration(None, late, group_id, SCHOOL, dt.date(2021, 9, 1), None, dt.date(2021, 9, 1))
        )
        uow.commit()
    registry = _registry(database)
    basket_before = _basket(registry)

    assert main(["archive"]) == 0
    assert "1 registration(s) still active kept" in capsys.readouterr().out
    assert [int(r.school_year) for r in database.rows("SELECT school_year FROM nvs_group ORDER BY school_year")][
        0
    ] == 2021
    assert _basket(registry) == basket_before
