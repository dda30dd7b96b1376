"""Prometheus metrics (``/metrics``, the text format of ``prometheus-client``).

Under gunicorn every worker process counts: ``nvs-gateway serve`` points ``PROMETHEUS_MULTIPROC_DIR`` at a
fresh directory before anything imports this module (prometheus-client chooses its multiprocess values
then), each worker writes its counts there, a scrape sums them (``MultiProcessCollector``), and gunicorn's
``child_exit`` marks a dead worker's live gauges gone (``gateway.server``). Without the variable (waitress,
the tests' in-process gateways) the process's own registry is served.

Counted on the request path, in memory (no database query per request): calls by operation and outcome,
their latency, the population register's calls, the database pool. Read from the database at scrape time,
once per scrape, by ``DatabaseCollector`` (a few indexed or small-table queries): the feed's head, the
notices not yet acknowledged, the last completed data-check runs, the access log's oldest record.

Labels hold operation names and fault codes only, both from closed sets (an operation name the caller
made up is counted as ``unknown``): never a personal code, a user name or an institution.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Engine, event, func, select
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool

log = logging.getLogger("nvs.metrics")

MULTIPROCESS_DIRECTORY = "PROMETHEUS_MULTIPROC_DIR"
UNKNOWN_OPERATION = "unknown"
# Seconds: from a fast read to the population register's deadline and beyond.
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

REQUESTS = Counter(
    "nvs_requests", "SOAP calls answered, by operation and outcome (ok or the fault code)", ["operation", "outcome"]
)
REQUEST_SECONDS = Histogram(
    "nvs_request_duration_seconds", "Time to answer a SOAP call, by operation", ["operation"], buckets=_LATENCY_BUCKETS
)
GR_CALLS = Counter(
    "nvs_population_register_calls",
    "Calls to the population register (GR), by GR operation and outcome (ok or the fault code)",
    ["operation", "outcome"],
)
GR_SECONDS = Histogram(
    "nvs_population_register_call_duration_seconds",
    "Time a population register call took, retries included",
    ["operation"],
    buckets=_LATENCY_BUCKETS,
)
POOL_IN_USE = Gauge(
    "nvs_db_pool_connections_in_use",
    "Database connections checked out of the pools of the live worker processes",
    multiprocess_mode="livesum",
)
POOL_WAITS = Counter(
    "nvs_db_pool_waits", "Connection checkouts that found every connection of the pool in use and waited"
)
POOL_WAIT_SECONDS = Counter("nvs_db_pool_wait_seconds", "Time spent waiting for a pooled database connection")


def multiprocess_mode() -> bool:
    return bool(os.environ.get(MULTIPROCESS_DIRECTORY))


def count_call(operation: str, outcome: str, seconds: float) -> None:
    REQUESTS.labels(operation, outcome).inc()
    REQUEST_SECONDS.labels(operation).observe(seconds)


def count_population_register_call(operation: str, outcome: str, seconds: float) -> None:
    GR_CALLS.labels(operation, outcome).inc()
    GR_SECONDS.labels(operation).observe(seconds)


# --- the database pool ---------------------------------------------------------------
class WaitCountingQueuePool(QueuePool):
    """SQLAlchemy's QueuePool, counting the checkouts that had to wait for a connection to come back."""

    def _do_get(self) -> ConnectionPoolEntry:
        # QueuePool waits when no connection is idle and it may open no more (its overflow is used up).
        if not (-1 < self._max_overflow <= self._overflow and self._pool.empty()):
            return super()._do_get()
        started = time.perf_counter()
        try:
            return super()._do_get()
        finally:
            POOL_WAITS.inc()
            POOL_WAIT_SECONDS.inc(time.perf_counter() - started)


def instrument_pool(engine: Engine) -> None:
    """Connections in use, from the pool's checkout and checkin events."""

    @event.listens_for(engine, "checkout")
    def _checked_out(*_args: object) -> None:
        POOL_IN_USE.inc()

    @event.listens_for(engine, "checkin")
    def _checked_in(*_args: object) -> None:
        POOL_IN_USE.dec()


# --- read from the database at scrape time ------------------------------------------------
class DatabaseCollector(Collector):
    """What the database says, once per scrape; a database that does not answer is reported, not raised."""

    def __init__(self, engine: Engine, now: Callable[[], dt.datetime]) -> None:
        self.engine = engine
        self.now = now

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from storage.models import AccessLogRow, ChangeEventRow, CheckRunRow, NoticeRow

        up = GaugeMetricFamily("nvs_database_up", "1 when the last scrape could read the database")
        try:
            with self.engine.connect() as connection:
                if connection.dialect.name == "postgresql":
                    from storage.feed_checks import _watermark

                    head = connection.scalar(select(func.coalesce(_watermark(), 0)))
                else:
                    head = connection.scalar(select(func.max(ChangeEventRow.sequence)))
                notices = connection.execute(
                    select(func.count(), func.min(NoticeRow.created_at)).where(NoticeRow.acknowledged.is_(False))
                ).one()
                runs = connection.execute(
                    select(CheckRunRow.kind, func.max(CheckRunRow.finished_at))
                    .where(CheckRunRow.status == "completed")
                    .group_by(CheckRunRow.kind)
                ).all()
                oldest_access = connection.scalar(select(func.min(AccessLogRow.at)))
        except Exception as error:  # noqa: BLE001 - a scrape must answer even when the database does not
            log.warning("metrics: the database could not be read: %s", type(error).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        now = self.now()
        feed = GaugeMetricFamily("nvs_feed_head_sequence", "The change feed's newest number a reader may be given")
        feed.add_metric([], head or 0)
        yield feed
        count = GaugeMetricFamily("nvs_notices_unacknowledged", "Notices to institutions not yet acknowledged")
        count.add_metric([], notices[0] or 0)
        yield count
        age = GaugeMetricFamily(
            "nvs_notice_oldest_unacknowledged_age_seconds",
            "Age of the oldest notice not yet acknowledged (0: none)",
        )
        age.add_metric([], _age(now, notices[1]))
        yield age
        last_run = GaugeMetricFamily(
            "nvs_data_check_last_completed_timestamp_seconds",
            "When the last completed run of each data check finished (Unix time)",
            labels=["kind"],
        )
        for kind, finished in runs:
            if finished is not None:
                last_run.add_metric([kind], _utc(finished).timestamp())
        yield last_run
        access = GaugeMetricFamily(
            "nvs_access_log_oldest_record_age_seconds",
            "Age of the oldest access log record: above the retention, the purge has not run (0: none)",
        )
        access.add_metric([], _age(now, oldest_access))
        yield access


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value  # SQLite keeps UTC without a zone


def _age(now: dt.datetime, then: dt.datetime | None) -> float:
    return max(0.0, (now - _utc(then)).total_seconds()) if then is not None else 0.0


class StaticCollector(Collector):
    """Settings an alert compares with (the access log's retention)."""

    def __init__(self, retention_days: int) -> None:
        self.retention_days = retention_days

    def collect(self) -> Iterable[GaugeMetricFamily]:
        retention = GaugeMetricFamily("nvs_access_log_retention_seconds", "NVS_ACCESS_LOG_RETENTION_DAYS, in seconds")
        retention.add_metric([], self.retention_days * 86400)
        yield retention


def exposition(database: Collector | None = None, static: Collector | None = None) -> bytes:
    """The text of one scrape: every worker's counts (or this process's), then what the database says."""
    if multiprocess_mode():
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)
        text = generate_latest(counted)
    else:
        text = generate_latest(REGISTRY)
    read = CollectorRegistry(auto_describe=False)
    for collector in (database, static):
        if collector is not None:
            read.register(collector)
    return text + generate_latest(read)


def metrics_app(
    database: Collector | None = None, static: Collector | None = None
) -> Callable[[dict, Callable], list[bytes]]:
    """A WSGI app answering every GET with the exposition (for a port of its own, NVS_METRICS_PORT)."""

    def app(environ: dict, start_response: Callable) -> list[bytes]:
        body = exposition(database, static)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(body)))])
        return [body]

    return app


def prepare_directory(path: str) -> None:
    """A multiprocess directory must hold no counts of an earlier start (prometheus-client's rule)."""
    os.makedirs(path, exist_ok=True)
    for name in os.listdir(path):
        if name.endswith(".db"):
            os.remove(os.path.join(path, name))


def mark_process_dead(pid: int) -> None:
    if multiprocess_mode():
        multiprocess.mark_process_dead(pid)
