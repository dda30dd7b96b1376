"""``/health/live`` and ``/health/ready``: for a load balancer, an orchestrator, a person at a terminal.

Live: the process answers HTTP (no database, nothing else). Ready: the process can serve calls: the database
answers, its schema is at the newest Alembic revision this code knows, and the reference data is loaded.
The population register is looked at too, but only reported: without GR, lookups and registrations of new
children fail with the retriable ``PopulationRegisterUnavailable`` while everything else works, so the
gateway is ``degraded`` (HTTP 200), not down. Any database problem is HTTP 503 with the reason.

GR is asked nothing personal: it is "reachable" when a TCP connection to its address opens within a second,
looked at most every ``GR_CHECK_SECONDS`` per process (a probe every second from several balancers must not
become as many connections to a register run by someone else).
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from functools import lru_cache

from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

GR_CHECK_SECONDS = 10.0


@lru_cache(maxsize=1)
def migration_head() -> str | None:
    """The newest Alembic revision of this code (from the migration scripts, read once)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    from gateway.config import REPOSITORY_ROOT

    config = Config()
    config.set_main_option("script_location", str(REPOSITORY_ROOT / "storage" / "migrations"))
    return ScriptDirectory.from_config(config).get_current_head()


class Readiness:
    def __init__(
        self,
        engine: Engine,
        *,
        population_register_url: str | None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.engine = engine
        self.population_register_url = population_register_url
        self._monotonic = monotonic
        self._gr_checked_at = -GR_CHECK_SECONDS
        self._gr_problem: str | None = None
        self._lock = threading.Lock()

    def report(self) -> tuple[int, dict[str, object]]:
        """HTTP status and the JSON body: ``ready``, ``degraded`` (200) or ``unavailable`` (503), with reasons."""
        database = self._database_problem()
        if database is not None:
            return 503, {"status": "unavailable", "database": database}
        body: dict[str, object] = {"status": "ready", "database": "ok"}
        gr = self._population_register_problem()
        if gr is not None:
            body["status"] = "degraded"
            body["population_register"] = gr
        else:
            body["population_register"] = "ok"
        return 200, body

    # --- the database ------------------------------------------------------------
    def _database_problem(self) -> str | None:
        for attempt in (1, 2):
            try:
                return self._schema_problem()
            except DBAPIError as error:
                # A pooled connection the database dropped (it restarted): once more, on a new one.
                if error.connection_invalidated and attempt == 1:
                    continue
                return f"the database does not answer ({_reason(error)})"
            except SQLAlchemyError as error:
                return f"the database does not answer ({type(error).__name__})"
        return "the database does not answer"

    def _schema_problem(self) -> str | None:
        from storage.models import ReferenceDataVersionRow
        from storage.repositories import CLASSIFIER_SET

        head = migration_head()
        with self.engine.connect() as connection:
            try:
                current = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
            except DBAPIError as error:
                if error.connection_invalidated:
                    raise
                return "the database has no schema of this gateway (run nvs-gateway migrate)"
            if current != head:
                return f"the schema is at revision {current}, this gateway needs {head} (run nvs-gateway migrate)"
            classifiers = connection.scalar(
                select(ReferenceDataVersionRow.version).where(ReferenceDataVersionRow.name == CLASSIFIER_SET)
            )
            if classifiers is None:
                return "the reference data (classifiers) is not loaded (run nvs-gateway migrate)"
        return None

    # --- the population register ---------------------------------------------------
    def _population_register_problem(self) -> str | None:
        if not self.population_register_url:
            return None
        with self._lock:
            now = self._monotonic()
            if now - self._gr_checked_at < GR_CHECK_SECONDS:
                return self._gr_problem
            self._gr_checked_at = now
        problem = _unreachable(self.population_register_url)
        with self._lock:
            self._gr_problem = problem
        return problem


def _unreachable(url: str) -> str | None:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    shown = f"{host}:{port}"  # never the URL's user or password
    try:
        with socket.create_connection((host, port), timeout=1.0):
            return None
    except OSError as error:
        return f"the population register at {shown} is not reachable ({error.strerror or type(error).__name__})"


def _reason(error: DBAPIError) -> str:
    """The driver's error class (its message may name hosts and users; the class is enough to act on)."""
    original = getattr(error, "orig", None)
    return type(original).__name__ if original is not None else type(error).__name__
