"""Revision 0300 starts the feed with what the register already holds: a follower reading from
0 reproduces the registrations and funding marks made before the feed existed. On SQLite and
PostgreSQL (a scratch schema: the test goes down to 0100, the revision before the feed, and back).
Revision 0500 (numbers from a sequence) keeps the numbering going, down and up again."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from gateway import feed
from gateway.bootstrap import prepare_database, unit_of_work_factory
from gateway.clock import FixedClock
from gateway.config import REPOSITORY_ROOT
from gateway.domain.model import Contract, Departure
from gateway.domain.scope import ReadScope
from gateway.sandbox import install_sandbox
from gateway.services import NewFunding, NewGroup, NewRegistration, Registry
from storage.db import make_engine, migration_transaction
from tests.e2e.helpers import child_code
from tests.present import present
from tests.storage.test_feed_concurrency import (
    Follower,
    SandboxPeople,
    caller_of,
    marks_in_copy,
    marks_in_database,
    registrations_in_copy,
    registrations_in_database,
)

TODAY = dt.date(2026, 11, 2)


class Scratch:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.uow_factory = unit_of_work_factory(self.engine)


@pytest.fixture(params=["sqlite", "postgresql"])
def scratch(request: pytest.FixtureRequest, tmp_path) -> Iterator[Scratch]:
    admin = schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'scratch.db'}"
    else:
        base = os.environ.get("NVS_TEST_DATABASE_URL", "")
        if not base:
            pytest.skip("NVS_TEST_DATABASE_URL is not set: PostgreSQL runs are skipped")
        schema = f"nvs_scratch_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        admin = make_engine(base)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    database = Scratch(url)
    prepare_database(database.engine)
    with database.uow_factory() as uow:
        classifiers = uow.classifiers.load()
    install_sandbox(database.uow_factory, classifiers)
    yield database
    database.engine.dispose()
    if admin is not None:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def migrate_to(database: Scratch, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(REPOSITORY_ROOT / "storage" / "migrations"))
    with migration_transaction(database.engine) as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def follow_until(follower: Follower, sequence: int) -> None:
    """Polls until the follower has seen `sequence`, for at most a minute: on PostgreSQL an event
    shows a little after its commit (Follower.follow)."""
    deadline = time.monotonic() + 60
    while (not follower.sequences or follower.sequences[-1] < sequence) and time.monotonic() < deadline:
        follower.poll()
        time.sleep(0.01)


def test_the_feed_starts_with_a_snapshot_of_what_was_registered_before_it(scratch: Scratch) -> None:
    registry = Registry(scratch.uow_factory, SandboxPeople(), clock=FixedClock.on(TODAY))
    school = caller_of("300000011")
    group = present(
        registry.create_group(
            school,
            NewGroup(
                name="Prieš srautą",
                sub_direction_codes=("MUSIC.PIANO",),
                school_year="2026-2027",
                program_code="100000112",
            ),
        ).group.id
    )
    contract = Contract("BILATERAL", dt.date(2026, 9, 1), "S-1")
    ids = [
        present(
            registry.register_student(
                school,
                NewRegistration(child_code(dt.date(2015, 1, 1 + n), 600 + n), group, dt.date(2026, 9, 1), contract),
            )[0].registration.id
        )
        for n in range(4)
    ]
    registry.mark_funding(school, NewFunding(ids[0], ("NVS_BASKET", "MUNICIPAL"), "2026-09"))
    registry.mark_funding(school, NewFunding(ids[1], ("OTHER",), "2026-10"))
    registry.deregister_student(school, ids[1], Departure(dt.date(2026, 10, 30), "PARENTS_REQUEST"))
    registry.cancel_registration(school, ids[2], "Klaida")
    registry.end_funding(school, ids[0], "MUNICIPAL", "2026-12")

    migrate_to(scratch, "0100", down=True)  # as if these were made before the feed existed
    migrate_to(scratch, "head")

    follower = Follower(feed.Feed(scratch.uow_factory), ReadScope.all(), page_size=3)
    with scratch.engine.connect() as connection:
        stored = connection.execute(text("SELECT max(sequence) FROM change_event")).scalar() or 0
    deadline = time.monotonic() + 60  # on PostgreSQL an event shows a little after its commit (Follower.follow)
    while follower.poll() or (follower.cursor < stored and time.monotonic() < deadline):
        time.sleep(0.01)
    assert registrations_in_copy(follower) == registrations_in_database(scratch)
    assert marks_in_copy(follower) == marks_in_database(scratch)
    assert follower.sequences == list(range(1, 7))  # 3 registrations (not the cancelled one) and 3 marks
    with scratch.engine.connect() as connection:
        deregistered_on = connection.execute(
            text("SELECT deregistered_on FROM registration WHERE id = :id"), {"id": ids[1]}
        ).scalar_one()
    assert deregistered_on is not None

    # New changes continue the sequence.
    registry.correct_registration(school, ids[3], dt.date(2026, 9, 2), None)
    follow_until(follower, 7)
    assert follower.sequences[-1] == 7

    # Revision 0500 down (the counter again, at the last number) and up (the sequence after it).
    migrate_to(scratch, "0410", down=True)
    with scratch.engine.connect() as connection:
        assert connection.execute(text("SELECT value FROM feed_counter")).scalar_one() == 7
    migrate_to(scratch, "head")
    registry.correct_registration(school, ids[3], dt.date(2026, 9, 3), None)
    follow_until(follower, 8)
    assert follower.sequences == list(range(1, 9))
