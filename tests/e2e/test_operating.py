"""Operating the gateway (issue 13): /metrics summed over gunicorn's workers, JSON log lines without personal
codes whose correlation ids match the faults', and readiness that follows the database away and back."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import TypeVar

import pytest
import requests
import zeep
from prometheus_client.parser import text_string_to_metric_families
from zeep.exceptions import Fault
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from tests.e2e.helpers import child_code, fault_detail, xroad_headers
from tests.processes import GatewayProcess, free_port

pytestmark = pytest.mark.e2e

YEAR = "2026-2027"
FIRST_DAY = dt.date(2026, 9, 1)
MUSIC_SCHOOL, MUSIC_PROGRAM = "300000011", "100000112"
X_ROAD_USER = "LT38001010010"  # the X-Road userId: a country code and a personal code
T = TypeVar("T")
CODE = re.compile(r"(?<!\d)\d{11}(?!\d)")


def _client(wsdl_url: str, username: str, password: str) -> zeep.Client:
    """A zeep client that opens a new connection for every call, so that gunicorn's workers share the calls."""
    session = requests.Session()
    session.headers["Connection"] = "close"
    transport = Transport(session=session, timeout=10, operation_timeout=15)
    return zeep.Client(wsdl_url, wsse=UsernameToken(username, password), transport=transport)


def _samples(base_url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = requests.get(f"{base_url}/metrics", timeout=10).text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def _total(samples: dict, name: str, **labels: str) -> float:
    return sum(value for (found, have), value in samples.items() if found == name and set(labels.items()) <= set(have))


def test_a_scenario_under_two_workers_is_counted_in_metrics_and_logged_as_json_without_personal_codes(
    database, tmp_path
) -> None:
    if database.kind != "sqlite":
        pytest.skip("the same code path on either database; the readiness test below runs on PostgreSQL")
    gateway = GatewayProcess(
        database.url, tmp_path, server="gunicorn", workers=2, NVS_LOG_LEVEL="INFO", NVS_LOG_FORMAT="json"
    ).start()
    try:
        provider = database.user(MUSIC_SCHOOL)
        service = _client(gateway.wsdl_url, provider.username, provider.password).service
        calls: dict[tuple[str, str], int] = {}

        def called(operation: str, outcome: str = "ok") -> None:
            calls[(operation, outcome)] = calls.get((operation, outcome), 0) + 1

        group = service.CreateGroup(
            schoolYear=YEAR, programCode=MUSIC_PROGRAM, name="Fortepijonas", subDirectionCode=["MUSIC.PIANO"]
        )
        called("CreateGroup")
        children = [child_code(dt.date(2015, 4, 10), serial) for serial in range(20, 44)]
        registrations = []
        for child in children:
            registered = service.RegisterStudent(
                personalCode=child,
                groupId=group.groupId,
                firstLearningDate=FIRST_DAY,
                contract={"typeCode": "BILATERAL", "date": FIRST_DAY, "number": "S-1"},
            )
            called("RegisterStudent")
            registrations.append(registered.registration.registrationId)
        for registration in registrations[:6]:
            service.MarkFunding(
                registrationId=registration, fundingTypeCode=["NVS_BASKET"], fromMonth="2026-09", toMonth="2026-12"
            )
            called("MarkFunding")
        learners = service.ListLearners(schoolYear=YEAR, pageSize=100)
        called("ListLearners")
        assert len(learners.learner) == len(children)
        # Faults: a registration into a group that does not exist, and one sent through X-Road, whose message id
        # is the correlation id.
        with pytest.raises(Fault) as unknown_group:
            service.RegisterStudent(
                personalCode=children[0],
                groupId=999999,
                firstLearningDate=FIRST_DAY,
                contract={"typeCode": "BILATERAL", "date": FIRST_DAY, "number": "S-1"},
            )
        refused = fault_detail(unknown_group.value)
        called("RegisterStudent", refused["code"])
        with pytest.raises(Fault) as again:
            service.MarkFunding(
                registrationId=registrations[0],
                fundingTypeCode=["NVS_BASKET"],
                fromMonth="2026-09",
                toMonth="2026-12",
                _soapheaders=xroad_headers("MarkFunding", "ops-test-0001", user_id=X_ROAD_USER),
            )
        through_x_road = fault_detail(again.value)
        called("MarkFunding", through_x_road["code"])
        assert through_x_road["correlationId"] == "ops-test-0001"
        # A request the contract refuses before dispatch is counted too, under its operation.
        with pytest.raises(Fault) as invalid:
            service.ListLearners(schoolYear="2026")
        called("ListLearners", fault_detail(invalid.value)["code"])

        samples = _samples(gateway.base_url)
        made = sum(calls.values())
        assert _total(samples, "nvs_requests_total") == made, samples
        for (operation, outcome), count in calls.items():
            assert _value(samples, "nvs_requests_total", operation=operation, outcome=outcome) == count, (
                operation,
                outcome,
            )
        assert _total(samples, "nvs_request_duration_seconds_count") == made
        assert _value(samples, "nvs_request_duration_seconds_count", operation="RegisterStudent") == len(children) + 1
        # Each child was new to the worker that registered it: one GetPerson each, answered.
        assert _value(samples, "nvs_population_register_calls_total", operation="GetPerson", outcome="ok") == len(
            children
        )
        assert _value(samples, "nvs_population_register_call_duration_seconds_count", operation="GetPerson") == len(
            children
        )
        assert _value(samples, "nvs_database_up") == 1
        assert _value(samples, "nvs_feed_head_sequence") >= len(children)
        assert _value(samples, "nvs_db_pool_connections_in_use") >= 0
        assert ("nvs_db_pool_waits_total", ()) in samples
        # No personal code is a label value, whatever the metric.
        assert not any(CODE.search(value) for _, labels in samples for _, value in labels)

        log = gateway.log_path.read_text()
        access = [
            json.loads(line) for line in log.splitlines() if line.startswith("{") and '"nvs.gateway.access"' in line
        ]
        assert len(access) == made, log[-3000:]
        workers = {line["pid"] for line in access}
        assert len(workers) == 2, f"one worker served every call: {workers}"  # the counts above are two workers' sums
        for line in access:
            assert {"time", "level", "correlation_id", "operation", "outcome", "duration_ms"} <= line.keys(), line
            if line["outcome"] == "ok":  # authenticated; a request the contract refused was never authenticated
                assert (line["user"], line["institution"]) == (provider.username, MUSIC_SCHOOL), line
        assert any(
            line["correlation_id"] == refused["correlationId"] and line["outcome"] == refused["code"] for line in access
        )
        assert any(line["correlation_id"] == "ops-test-0001" for line in access)
        for line in log.splitlines():  # gunicorn's lines and the gateway's alike; only serve's banner is not JSON
            if line.startswith("{"):
                json.loads(line)
        for code in [*children, X_ROAD_USER[2:]]:
            assert code not in log, f"a personal code in the log: {code}"
        assert provider.password not in log.split("Stop with Ctrl+C.")[-1]  # the sandbox banner shows it, once
    finally:
        gateway.stop()


# --- readiness: a PostgreSQL that goes away and comes back ------------------------------------
class TcpProxy:
    """127.0.0.1:port forwarded to the database's port; ``close`` drops every connection and stops listening,
    as a stopped server would look, ``open`` listens again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread (a close alone does not, on Linux)
            except OSError:
                pass
            listener.close()
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            connection.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _ready(base_url: str) -> tuple[int, dict]:
    response = requests.get(f"{base_url}/health/ready", timeout=30)
    return response.status_code, response.json()


def _until(predicate: Callable[[], T], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


@pytest.mark.postgres
def test_readiness_turns_503_with_a_reason_while_postgresql_is_away_and_200_when_it_is_back(database, tmp_path) -> None:
    if database.kind != "postgresql":
        pytest.skip("a PostgreSQL server that goes away (through a proxy)")
    parts = urllib.parse.urlsplit(database.url)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432)).open()
    netloc = parts.netloc.rsplit("@", 1)
    host = f"{netloc[0]}@127.0.0.1:{proxy.port}" if len(netloc) == 2 else f"127.0.0.1:{proxy.port}"
    gateway = GatewayProcess(urllib.parse.urlunsplit(parts._replace(netloc=host)), tmp_path, server="waitress")
    try:
        gateway.start()
        assert requests.get(f"{gateway.base_url}/health/live", timeout=10).json() == {"status": "ok"}
        assert _ready(gateway.base_url) == (200, {"status": "ready", "database": "ok", "population_register": "ok"})
        provider = database.user(MUSIC_SCHOOL)
        service = _client(gateway.wsdl_url, provider.username, provider.password).service
        assert service.ListLearners(schoolYear=YEAR).learner == []  # the pool holds a connection now

        proxy.close()
        status, report = _ready(gateway.base_url)
        assert status == 503 and report["status"] == "unavailable", report
        assert report["database"].startswith("the database does not answer"), report
        assert requests.get(f"{gateway.base_url}/health/live", timeout=10).ok  # the process still answers
        assert requests.get(f"{gateway.base_url}/health", timeout=10).ok
        with pytest.raises(Fault) as down:
            service.ListLearners(schoolYear=YEAR)
        assert fault_detail(down.value)["code"] in ("ServiceUnavailable", "InternalError", "DatabaseUnavailable")

        proxy.open()
        assert _until(lambda: _ready(gateway.base_url)[0] == 200), _ready(gateway.base_url)
        assert _ready(gateway.base_url)[1]["status"] == "ready"
        assert service.ListLearners(schoolYear=YEAR).learner == []
    finally:
        gateway.stop()
        proxy.close()


# --- readiness and metrics of one process ------------------------------------------------------
def test_readiness_names_a_schema_behind_the_code_missing_reference_data_and_an_unreachable_population_register(
    database, start_gateway
) -> None:
    gateway = start_gateway()
    assert _ready(gateway.base_url) == (200, {"status": "ready", "database": "ok", "population_register": "ok"})
    with database.engine.begin() as connection:
        head = connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0410'")
    try:
        status, report = _ready(gateway.base_url)
        assert status == 503 and report["status"] == "unavailable"
        assert (
            report["database"] == f"the schema is at revision 0410, this gateway needs {head} (run nvs-gateway migrate)"
        )
    finally:
        with database.engine.begin() as connection:
            connection.exec_driver_sql(f"UPDATE alembic_version SET version_num = '{head}'")
    with database.engine.begin() as connection:
        row = connection.exec_driver_sql(
            "SELECT version, loaded_at FROM reference_data_version WHERE name = 'classifiers'"
        ).one()
        connection.exec_driver_sql("DELETE FROM reference_data_version WHERE name = 'classifiers'")
    try:
        status, report = _ready(gateway.base_url)
        assert (status, report["database"]) == (
            503,
            "the reference data (classifiers) is not loaded (run nvs-gateway migrate)",
        )
    finally:
        with database.engine.begin() as connection:
            connection.exec_driver_sql(
                "INSERT INTO reference_data_version (name, version, loaded_at) VALUES ('classifiers', ?, ?)"
                if database.kind == "sqlite"
                else "INSERT INTO reference_data_version (name, version, loaded_at) VALUES ('classifiers', %s, %s)",
                (row[0], row[1]),
            )
    assert _ready(gateway.base_url)[0] == 200
    # GR away: degraded, still 200, with the address (never a password in it) and the reason.
    closed = free_port()
    away = start_gateway(population_register_url=f"http://user:secret@127.0.0.1:{closed}/population-register")
    status, report = _ready(away.base_url)
    assert (status, report["status"], report["database"]) == (200, "degraded", "ok")
    assert report["population_register"].startswith(f"the population register at 127.0.0.1:{closed} is not reachable")
    assert "secret" not in json.dumps(report)


def test_metrics_of_one_process_read_the_database_at_scrape_time_and_can_have_a_port_of_their_own(
    database, start_gateway
) -> None:
    if database.kind != "sqlite":
        pytest.skip("the same code path on either database")
    from gateway.config import Settings
    from gateway.server import MetricsServer

    gateway = start_gateway(access_log_retention_days=30)
    samples = _samples(gateway.base_url)
    assert _value(samples, "nvs_database_up") == 1
    assert _value(samples, "nvs_access_log_retention_seconds") == 30 * 86400
    assert _value(samples, "nvs_notices_unacknowledged") == 0
    assert _value(samples, "nvs_notice_oldest_unacknowledged_age_seconds") == 0
    port = free_port()
    separate = start_gateway(metrics_port=port)
    assert requests.get(f"{separate.base_url}/metrics", timeout=10).status_code == 404  # not on the registry's port
    server = MetricsServer(Settings(database_url=database.url, host="127.0.0.1", metrics_port=port))
    try:
        text = _until(lambda: _fetch(f"http://127.0.0.1:{port}/metrics"), timeout=10)
        assert text is not None and "nvs_database_up 1.0" in text and "nvs_requests_total" in text
    finally:
        server.close()


def _fetch(url: str) -> str | None:
    try:
        return requests.get(url, timeout=5).text
    except requests.RequestException:
        return None
