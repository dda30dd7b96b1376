"""Shared fixtures: databases (SQLite always, PostgreSQL when NVS_TEST_DATABASE_URL is set)
and a live gateway on 127.0.0.1 for end-to-end tests over real HTTP."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from gateway.bootstrap import prepare_database, unit_of_work_factory
from gateway.clock import FixedClock
from gateway.ports import UnitOfWork
from gateway.sandbox import SandboxUser, install_sandbox, install_sandbox_enrolments, sandbox_data
from gateway.server import run_waitress, stop_waitress
from storage.db import make_engine
from tests.clock import E2E_START, e2e_clock

POSTGRES_URL = os.environ.get("NVS_TEST_DATABASE_URL", "")
# Tables a test may write; reference data, institutions, programs and users stay as the sandbox installed them.
MUTABLE_TABLES = (
    "registration",
    "person",
    "nvs_group",
    "change_event",
    "notice",
    "check_run",
    "club_attendance",
    "school_enrolment",
    # No foreign keys lead to the archive (revision 0620): a CASCADE does not reach it.
    "archive_nvs_group",
    "archive_registration",
    "archive_funding_mark",
    "archive_club_attendance",
    "archive_club_direction",
    "archive_state",
)
# Written by every call (authentication, access log): emptied between tests, but not part of snapshots.
ACCOUNTABILITY_TABLES = (
    "access_log_person",
    "access_log",
    "used_nonce",
    "login_failure",
    "user_registration_request",
    "user_change",
    "request_outcome",
)


@dataclass
class Database:
    kind: str
    url: str
    engine: Engine
    uow_factory: Callable[[], UnitOfWork]
    users: list[SandboxUser]

    def user(self, institution_code: str) -> SandboxUser:
        return next(u for u in self.users if u.institution_code == institution_code)

    def user_named(self, username: str) -> SandboxUser:
        return next(u for u in self.users if u.username == username)

    def rows(self, query: str, **params: object) -> list:
        with self.engine.connect() as connection:
            return list(connection.execute(text(query), params))

    def count(self, table: str) -> int:
        with self.engine.connect() as connection:
            return connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608 - fixed names

    def snapshot(self) -> Mapping[str, int | str]:
        return {table: self.count(table) for table in MUTABLE_TABLES + ("app_user", "institution", "program")}


def _install(url: str) -> list[SandboxUser]:
    engine = make_engine(url)
    prepare_database(engine)
    uow_factory = unit_of_work_factory(engine)
    with uow_factory() as uow:
        classifiers = uow.classifiers.load()
    users = install_sandbox(uow_factory, classifiers)
    engine.dispose()
    return users


def _restore_sandbox_enrolments(engine: Engine) -> None:
    uow_factory = unit_of_work_factory(engine)
    with uow_factory() as uow:
        classifiers = uow.classifiers.load()
    institutions, _ = sandbox_data(classifiers)
    install_sandbox_enrolments(uow_factory, classifiers, institutions)


def pytest_configure(config: pytest.Config) -> None:
    """NVS_TEST_TRAVEL_TO=2031-01-15 moves this process's clock there for the whole run (time-machine),
    to prove that no test depends on the day it runs (``.ci/run`` does it for a few far dates)."""
    destination = os.environ.get("NVS_TEST_TRAVEL_TO")
    if destination:
        import time_machine

        traveller = time_machine.travel(dt.datetime.fromisoformat(destination).replace(tzinfo=dt.UTC), tick=True)
        traveller.start()
        config.add_cleanup(traveller.stop)


def pytest_report_header(config: pytest.Config) -> str | None:
    destination = os.environ.get("NVS_TEST_TRAVEL_TO")
    return f"the clock is moved to {destination} UTC (NVS_TEST_TRAVEL_TO)" if destination else None


@pytest.fixture(autouse=True)
def pinned_command_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands a test runs (``nvs-gateway ...``) read their clock from NVS_CLOCK_START."""
    monkeypatch.setenv("NVS_CLOCK_START", E2E_START.isoformat())


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[SandboxUser]]:
    """Migrated and loaded once per session; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    users = _install(f"sqlite:///{path}")
    return path, users


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A schema of this test session's own, so that concurrent runs on one server do not collide."""
    if not POSTGRES_URL:
        pytest.skip("NVS_TEST_DATABASE_URL is not set: PostgreSQL runs are skipped")
    schema = f"nvs_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_ready(postgres_url: str) -> list[SandboxUser]:
    return _install(postgres_url)


def open_database(request: pytest.FixtureRequest, kind: str, directory: Path) -> Database:
    """A database of ``kind`` with the sandbox installed: a copy of the SQLite template in
    ``directory``, or this session's PostgreSQL schema emptied of what tests wrote."""
    if kind == "sqlite":
        template, users = request.getfixturevalue("sqlite_template")
        path = directory / "test.db"
        shutil.copy(template, path)
        url = f"sqlite:///{path}"
    else:
        users = request.getfixturevalue("postgres_ready")
        url = request.getfixturevalue("postgres_url")
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(MUTABLE_TABLES)} RESTART IDENTITY CASCADE"))
            connection.execute(
                text("SET LOCAL nvs.access_log_purge = 'on'")
            )  # the access log's guard lets a purge through
            connection.execute(text(f"TRUNCATE {', '.join(ACCOUNTABILITY_TABLES)} RESTART IDENTITY"))
            sandbox = {u.username for u in users}
            connection.execute(
                text("DELETE FROM app_user WHERE NOT (username = ANY(:names))"), {"names": sorted(sandbox)}
            )
        _restore_sandbox_enrolments(engine)  # part of the installed sandbox, as in the SQLite template
        engine.dispose()
    engine = make_engine(url)
    return Database(kind, url, engine, unit_of_work_factory(engine), users)


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    opened = open_database(request, request.param, tmp_path)
    yield opened
    opened.engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveGateway:
    base_url: str
    database: Database
    clock: FixedClock

    @property
    def registry_url(self) -> str:
        return f"{self.base_url}/registry"

    @property
    def wsdl_url(self) -> str:
        return f"{self.base_url}/registry?wsdl"


def _stopped(server, thread: threading.Thread) -> None:
    assert stop_waitress(server, thread), "the waitress loop did not stop"


def launch_gateway(
    database: Database, *, clock: FixedClock | None = None, **overrides: Any
) -> tuple[LiveGateway, Callable[[], None]]:
    """The whole site (registry + sandbox GR) with waitress on a free local port, and its stop.

    The registry calls the sandbox GR over real HTTP through the zeep client.
    Responses are validated against xsd/ on the way out: a response outside the
    contract becomes an InternalError fault, which any test notices.
    The gateway's clock is ``clock``, by default one starting at 10:00 on ``E2E_TODAY``.
    Keyword arguments override Settings (e.g. sandbox_gr_failure_rate=1.0).
    """
    from gateway.bootstrap import build_gateway
    from gateway.config import Settings
    from gateway.http import create_server

    port = free_port()
    values: dict[str, Any] = dict(  # Settings' fields, whose types differ
        database_url=database.url,
        port=port,
        population_register_url=f"http://127.0.0.1:{port}/population-register",
        population_register_read_timeout=5.0,
        population_register_retries=1,
        validate_responses=True,
        threads=8,
    )
    values.update(overrides)
    clock = clock or e2e_clock()
    gateway = build_gateway(Settings(**values), sandbox=True, engine=database.engine, clock=clock)
    server = create_server(
        gateway.site, max_request_bytes=gateway.settings.max_request_bytes, host="127.0.0.1", port=port, threads=8
    )
    thread = threading.Thread(target=run_waitress, args=(server,), daemon=True)
    thread.start()
    return LiveGateway(f"http://127.0.0.1:{port}", database, clock), lambda: _stopped(server, thread)


@pytest.fixture
def start_gateway(database: Database) -> Iterator[Callable[..., LiveGateway]]:
    """Starts gateways on the test's database (see ``launch_gateway``); stops them after the test."""
    stops = []

    def start(**overrides: Any) -> LiveGateway:
        live, stop = launch_gateway(database, **overrides)
        stops.append(stop)
        return live

    yield start
    for stop in stops:
        stop()


@pytest.fixture
def live_gateway(start_gateway: Callable[..., LiveGateway]) -> LiveGateway:
    return start_gateway()
