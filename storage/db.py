"""Engines and sessions. Nothing connects at import."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool


def make_engine(url: str, *, pool_class: type | None = None) -> Engine:
    """``pool_class``: a QueuePool of one's own (the site's counts its waits: gateway.metrics).

    ``hide_parameters``: a database error's message (logged with its traceback) never shows the statement's
    parameters, which may be personal codes."""
    pooling: dict[str, Any] = {"poolclass": pool_class} if pool_class is not None else {}
    if url.startswith("sqlite"):
        if ":memory:" in url or url in ("sqlite://", "sqlite:///"):
            pooling = {}  # SQLite's in-memory databases keep their own pool
        engine = create_engine(
            url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True, **pooling
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            # pysqlite's own BEGIN handling breaks SAVEPOINTs; SQLAlchemy emits it instead (below).
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin_immediate(connection):
            # Take the write lock up front: a transaction that read first and writes later would
            # otherwise fail at once (SQLITE_BUSY_SNAPSHOT) when another writer committed meanwhile.
            # SQLite serialises writers anyway; PostgreSQL is the database for concurrent load.
            connection.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    # No ping before each checkout (a round trip per call): connections are recycled after half an hour,
    # and a call that meets a dropped one runs again once on a new one (gateway.soap.app).
    sizes = {} if pool_class is NullPool else {"pool_size": 10, "max_overflow": 10}
    return create_engine(url, pool_pre_ping=False, pool_recycle=1800, hide_parameters=True, **sizes, **pooling)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)


@contextmanager
def migration_transaction(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction for Alembic. On SQLite, foreign keys are off while it runs: batch
    migrations copy a table and drop the old one, which fails while other rows (funding marks) reference it
    and keys are enforced; and SQLite takes that PRAGMA only outside a transaction. All keys are checked
    before the commit."""
    with engine.connect() as connection:
        raw = connection.connection.dbapi_connection if engine.dialect.name == "sqlite" else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                yield connection
                if raw is not None:
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"a migration left {len(broken)} row(s) with a dangling foreign key")
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")
