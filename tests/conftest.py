"""Shared fixtures: databases (SQLite always, PostgreSQL when NVS_TEST_DATABASE_URL is set)
and a live gateway on 127.0.0.1 for end-to-end tests over real HTTP."""
from __future__ import annotations

import os
import shutil
import socket
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pytest
from sqlalchemy import Engine, text

from gateway.bootstrap import prepare_database, unit_of_work_factory
from gateway.ports import UnitOfWork
from gateway.sandbox import SandboxUser, install_sandbox, install_sandbox_enrolments, sandbox_data
from storage.db import make_engine

POSTGRES_URL = os.environ.get("NVS_TEST_DATABASE_URL", "")
# Tables a test may write; reference data, institutions, programs and users stay as the sandbox installed them.
MUTABLE_TABLES = ("registration", "person", "nvs_group", "club_attendance", "school_enrolment")


@dataclass
class Database:
    kind: str
    url: str
    engine: Engine
    uow_factory: Callable[[], UnitOfWork]
    users: list[SandboxUser]

    def user(self, institution_code: str) -> SandboxUser:
        return next(u for u in self.users if u.institution_code == institution_code)

    def count(self, table: str) -> int:
        with self.engine.connect() as connection:
            return connection.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()  # noqa: S608 - fixed names

    def snapshot(self) -> dict[str, int]:
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


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    if request.param == "sqlite":
        template, users = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.db"
        shutil.copy(template, path)
        url = f"sqlite:///{path}"
    else:
        users = request.getfixturevalue("postgres_ready")
        url = request.getfixturevalue("postgres_url")
        engine = make_engine(url)
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {', '.join(MUTABLE_TABLES)} RESTART IDENTITY CASCADE"))
        _restore_sandbox_enrolments(engine)  # part of the installed sandbox, as in the SQLite template
        engine.dispose()
    engine = make_engine(url)
    yield Database(request.param, url, engine, unit_of_work_factory(engine), users)
    engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class LiveGateway:
    base_url: str
    database: Database

    @property
    def registry_url(self) -> str:
        return f"{self.base_url}/registry"

    @property
    def wsdl_url(self) -> str:
        return f"{self.base_url}/registry?wsdl"


@pytest.fixture
def start_gateway(database: Database) -> Iterator[Callable[..., LiveGateway]]:
    """Starts the whole site (registry + sandbox GR) with waitress on a free local port.

    The registry calls the sandbox GR over real HTTP through the zeep client.
    Responses are validated against xsd/ on the way out: a response outside the
    contract becomes an InternalError fault, which any test notices.
    Keyword arguments override Settings (e.g. sandbox_gr_failure_rate=1.0).
    """
    import waitress.server

    from gateway.bootstrap import build_gateway
    from gateway.config import Settings

    running = []

    def start(**overrides: object) -> LiveGateway:
        port = free_port()
        values: dict[str, object] = dict(
            database_url=database.url,
            port=port,
            population_register_url=f"http://127.0.0.1:{port}/population-register",
            population_register_read_timeout=5.0,
            population_register_retries=1,
            validate_responses=True,
            threads=8,
        )
        values.update(overrides)
        gateway = build_gateway(Settings(**values), sandbox=True, engine=database.engine)  # type: ignore[arg-type]
        server = waitress.server.create_server(gateway.site, host="127.0.0.1", port=port, threads=8)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        running.append((server, thread))
        return LiveGateway(f"http://127.0.0.1:{port}", database)

    yield start
    for server, thread in running:
        stop_waitress(server, thread)


@pytest.fixture
def live_gateway(start_gateway: Callable[..., LiveGateway]) -> LiveGateway:
    return start_gateway()


def stop_waitress(server, thread: threading.Thread) -> None:  # type: ignore[no-untyped-def]
    # Drain the worker threads first, then close every channel: closing the listening
    # socket alone leaves workers writing to a closed trigger. The channels are closed from
    # inside the server's own loop (a trigger thunk): closed from this thread, a descriptor
    # could vanish under the loop's select() (EBADF in the server thread, a flaky teardown).
    # The loop ends once its map is empty.
    server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)

    def close_every_channel() -> None:
        for channel in list(server._map.values()):
            channel.close()

    server.trigger.pull_trigger(close_every_channel)
    thread.join(timeout=5)
    assert not thread.is_alive(), "the waitress loop did not stop"
