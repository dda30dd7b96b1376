"""A server process for bench/request_path.py, counting the SQL it sends.

    python -m bench.serve_counted gateway serve --sandbox     # `nvs-gateway serve --sandbox`, as it is
    python -m bench.serve_counted echo                        # bench/echo.py on the product's HTTP server

With NVS_BENCH_SQL_COUNTS=DIR, every process of the server (gunicorn's workers too: the
listeners are on SQLAlchemy's Engine and Pool classes, so they hold for every engine the product
makes, and a fork starts a fresh count) writes to DIR/PID.json, at most ten times a second:

* ``statements``: every statement sent through a DBAPI cursor (``before_cursor_execute``), except
  BEGIN, COMMIT and ROLLBACK (SQLite's ``BEGIN IMMEDIATE`` is sent as a statement; PostgreSQL's
  BEGIN is implicit in psycopg): SELECTs, INSERT/UPDATE/DELETE, SAVEPOINTs;
* ``transactions``: SQLAlchemy ``begin`` events, one per database transaction, committed or not;
* ``commits``: ``commit`` events;
* ``checkouts``: connections taken from the pool (``checkout``): each one pre-pinged when the
  engine has ``pool_pre_ping``, a round trip not counted among the statements.

Nothing in the product is changed or wrapped: this module only adds listeners, then runs the
product's own command line (or, for the echo, the product's own server).
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time

COUNTS_DIR = os.environ.get("NVS_BENCH_SQL_COUNTS", "")
_NOT_STATEMENTS = ("BEGIN", "COMMIT", "ROLLBACK")


class _Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.values = {"statements": 0, "transactions": 0, "commits": 0, "checkouts": 0}

    def add(self, name: str) -> None:
        with self.lock:
            self.values[name] += 1

    def snapshot(self) -> dict[str, int]:
        with self.lock:
            return dict(self.values)


_counts = _Counts()


def _flush_forever() -> None:
    path = os.path.join(COUNTS_DIR, f"{os.getpid()}.json")
    written = None
    while True:
        values = _counts.snapshot()
        if values != written:
            with open(path + ".tmp", "w") as file:
                json.dump(values, file)
            os.replace(path + ".tmp", path)
            written = values
        time.sleep(0.1)


def _start_flusher() -> None:
    threading.Thread(target=_flush_forever, name="bench-sql-counts", daemon=True).start()


def _after_fork() -> None:
    global _counts
    _counts = _Counts()
    _start_flusher()


def install_sql_counters() -> None:
    from sqlalchemy import event
    from sqlalchemy.engine import Engine
    from sqlalchemy.pool import Pool

    @event.listens_for(Engine, "before_cursor_execute")
    def _statement(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip()[:8].upper().startswith(_NOT_STATEMENTS):
            _counts.add("statements")

    @event.listens_for(Engine, "begin")
    def _begin(conn):
        _counts.add("transactions")

    @event.listens_for(Engine, "commit")
    def _commit(conn):
        _counts.add("commits")

    @event.listens_for(Pool, "checkout")
    def _checkout(dbapi_connection, record, proxy):
        _counts.add("checkouts")

    os.register_at_fork(after_in_child=_after_fork)
    _start_flusher()


def serve_echo() -> int:
    """The echo on the product's server: ``gateway.server`` where the product has it (gunicorn or
    waitress, as NVS_SERVER says), else waitress with NVS_THREADS threads, as ``nvs-gateway serve``."""
    from pathlib import Path

    import gateway
    from bench.echo import build_echo_app
    from gateway.config import Settings

    settings = Settings.from_env()
    # Looked for beside the product's own files (an editable install elsewhere must not lend its own).
    if not (
        Path(gateway.__file__).parent / "server.py"
    ).exists():  # a product before gateway/server.py: `serve` was waitress
        import waitress

        waitress.serve(build_echo_app(), host=settings.host, port=settings.port, threads=settings.threads, ident="echo")
        return 0
    from gateway.server import serve_wsgi

    return serve_wsgi(build_echo_app, settings, name="nvs-bench-echo")


def main(argv: list[str]) -> int:
    if COUNTS_DIR:
        install_sql_counters()
    if argv[:1] == ["echo"]:
        return serve_echo()
    if argv[:1] == ["gateway"]:
        from gateway.cli import main as nvs_gateway

        return nvs_gateway(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
