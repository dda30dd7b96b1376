"""The GR check's run in SQLite and PostgreSQL: two processes continuing the same interrupted run
at once ask GR twice at worst, but store each person's result, findings and notices once."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace

from sqlalchemy import text

from clients.population_register.fake import InMemoryPopulationRegister
from clients.population_register.sandbox import SPECIAL_PERSONS
from gateway.checks import DataChecks, PopulationRegisterCheck
from gateway.clock import FixedClock
from gateway.domain.calendar import SchoolYear
from gateway.domain.checks import Category
from gateway.domain.errors import PopulationRegisterUnavailable
from gateway.domain.model import Contract, DeclaredResidence, Group, ProgramPurpose, Registration
from gateway.domain.personal_code import PersonalCode
from gateway.services import Caller

NOW = dt.datetime(2026, 11, 2, 23, 0, tzinfo=dt.UTC)
SCHOOL = "300000011"
KNOWN = [p for p in SPECIAL_PERSONS if p.kind != "not-found"]


def held_with_previous_values(database) -> None:
    with database.uow_factory() as uow:
        group = uow.groups.add(
            Group(None, SCHOOL, SchoolYear(2026), "100000112", ProgramPurpose.NVS, "GR", ("MUSIC.PIANO",))
        )
        for special in KNOWN:
            current = special.record()
            residence = current.residence
            if special.previous_municipality_code:
                residence = DeclaredResidence(special.previous_municipality_code, None, None)
            uow.persons.save(
                replace(
                    current,
                    first_name=special.previous_first_name or current.first_name,
                    last_name=special.previous_last_name or current.last_name,
                    deceased_on=None,
                    departed_abroad_on=None,
                    residence=residence,
                ),
                checked_at=NOW,
            )
            uow.registrations.add(
                Registration(
                    None,
                    PersonalCode(special.personal_code),
                    group.id,
                    SCHOOL,
                    dt.date(2026, 9, 1),
                    Contract("BILATERAL", dt.date(2026, 9, 1), "S"),
                    dt.date(2026, 9, 1),
                )
            )
        uow.commit()


class Register:
    def __init__(self, fail_first: bool = False, both_inside: threading.Barrier | None = None) -> None:
        self.inner = InMemoryPopulationRegister({p.personal_code: p for p in (s.record() for s in KNOWN)})  # type: ignore[misc]
        self.fail_first = fail_first
        # Holds the first GR call until the other process is inside the same run too: otherwise,
        # on a busy machine, one may finish the run before the other starts (and starts a new one).
        self.both_inside = both_inside

    def find_person(self, code):
        return self.inner.find_person(code)

    def find_persons(self, codes):
        if self.fail_first:
            self.fail_first = False
            raise PopulationRegisterUnavailable()
        if self.both_inside is not None:
            barrier, self.both_inside = self.both_inside, None
            barrier.wait(timeout=30)
        return self.inner.find_persons(codes)


def test_two_processes_continuing_one_run_store_everything_once(database) -> None:
    held_with_previous_values(database)
    interrupted = PopulationRegisterCheck(
        database.uow_factory, Register(fail_first=True), batch_size=1, concurrency=1, clock=FixedClock(NOW)
    ).run()
    assert not interrupted.completed and interrupted.done_now == 0

    start, both_inside = threading.Barrier(2), threading.Barrier(2)
    summaries = []

    def resume() -> None:
        start.wait()
        register = Register(both_inside=both_inside)
        summaries.append(
            PopulationRegisterCheck(
                database.uow_factory, register, batch_size=1, concurrency=2, clock=FixedClock(NOW)
            ).run()
        )

    threads = [threading.Thread(target=resume) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(s.completed and s.resumed for s in summaries)
    with database.engine.connect() as connection:
        issues = connection.execute(
            text(
                "SELECT code, personal_code, institution_code, count(*) FROM data_issue GROUP BY code, personal_code, institution_code"
            )
        ).all()
        notices = connection.execute(
            text("SELECT kind, personal_code, count(*) FROM notice GROUP BY kind, personal_code")
        ).all()
        runs = connection.execute(text("SELECT count(*) FROM check_run")).scalar_one()
    assert len(issues) == 5 and all(row[3] == 1 for row in issues)
    assert len(notices) == 2 and all(row[2] == 1 for row in notices)
    assert runs == 1
    status = (
        DataChecks(database.uow_factory, Register(), clock=FixedClock(NOW))
        .status(Caller(0, "x", SCHOOL))
        .population_register
    )
    assert (status.count(Category.PERSONAL_DATA), status.count(Category.RESIDENCE)) == (3, 2)
