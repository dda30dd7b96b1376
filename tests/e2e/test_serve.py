"""``nvs-gateway serve --sandbox`` as `make serve` runs it: real processes, the README's URLs, Ctrl+C."""

from __future__ import annotations

import re

import pytest
import requests
import zeep

from gateway.config import Settings
from gateway.server import check_serving_settings
from tests.clock import E2E_TODAY
from tests.e2e.helpers import registry_client
from tests.e2e.soap import TEXT_XML, envelope, parse_success, text_of
from tests.present import present
from tests.processes import GatewayProcess, free_port

pytestmark = pytest.mark.e2e
LEARNER = "51509150009"  # Adomas, a sandbox child
ADDRESS = re.compile(rb'<(?:[\w.-]+:)?address\b[^>]*?\blocation="([^"]*)"')


def test_serve_sandbox_answers_at_the_readme_addresses_with_prefork_workers_and_stops_on_ctrl_c(
    database, tmp_path
) -> None:
    metrics_port = free_port()
    gateway = GatewayProcess(
        database.url, tmp_path, server="gunicorn", workers=2, NVS_METRICS_PORT=str(metrics_port)
    ).start()
    try:
        processes = gateway.group()
        assert len(processes) == 4, f"master, 2 workers and the sandbox GR, not {processes}:\n{gateway.log()}"
        wsdl = requests.get(gateway.wsdl_url, timeout=10)
        assert wsdl.ok and present(ADDRESS.search(wsdl.content)).group(1) == gateway.registry_url.encode()
        assert requests.get(f"{gateway.base_url}/xsd/nvs-gateway-v1.xsd", timeout=10).ok
        # The sandbox GR runs in a process of its own; the site forwards /population-register to it,
        # so its WSDL names the address the integrator used.
        gr_wsdl = requests.get(f"{gateway.base_url}/population-register?wsdl", timeout=10)
        assert (
            gr_wsdl.ok
            and present(ADDRESS.search(gr_wsdl.content)).group(1) == f"{gateway.base_url}/population-register".encode()
        )
        answer = zeep.Client(f"{gateway.base_url}/population-register?wsdl").service.GetPerson(
            personalCode="51509150009"
        )
        assert answer.status == "FOUND" and answer.person.firstName == "Adomas"  # a SOAP call forwarded there and back
        provider = database.user("300000011")
        person = (
            registry_client(gateway.wsdl_url, provider.username, provider.password)
            .service.LookupPerson(personalCode="51509150009")
            .person
        )
        assert (person.firstName, person.birthDate.isoformat()) == ("Adomas", "2015-09-15")
        assert_a_batch_answer_closes_its_connection_and_a_single_call_keeps_it(gateway, provider)
        # /metrics on a port of its own, served by the master (gateway.server.MetricsServer).
        metrics = requests.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10)
        assert metrics.ok and 'nvs_requests_total{operation="LookupPerson",outcome="ok"}' in metrics.text
        assert gateway.interrupt() == 0, gateway.log()
        assert gateway.group() == [], "a process of the gateway outlived Ctrl+C"
        assert "Traceback" not in gateway.log()
        # Only the master stops the metrics server: a worker that inherited it has no thread of it to wait for.
        assert "still running" not in gateway.log() and "did not stop" not in gateway.log(), gateway.log()
    finally:
        gateway.stop()


def assert_a_batch_answer_closes_its_connection_and_a_single_call_keeps_it(gateway, provider) -> None:
    """A batch keeps its worker busy for seconds: its answer says Connection: close, so that the client's
    next batch goes to whichever worker is free (gateway.wsgi.BATCH_OPERATIONS); a client's session
    simply connects again."""
    lookup = f"<nvs:LookupPerson><nvs:personalCode>{LEARNER}</nvs:personalCode></nvs:LookupPerson>"
    batch = (
        "<nvs:DeregisterStudents><nvs:record><nvs:registrationId>999999</nvs:registrationId>"
        f"<nvs:departureDate>{E2E_TODAY}</nvs:departureDate><nvs:departureReasonCode>PARENTS_REQUEST"
        "</nvs:departureReasonCode></nvs:record></nvs:DeregisterStudents>"
    )
    with requests.Session() as session:

        def call(body: str) -> requests.Response:
            document = envelope(body, username=provider.username, password=provider.password)
            return session.post(gateway.registry_url, data=document, headers={"Content-Type": TEXT_XML}, timeout=30)

        single = call(lookup)
        assert single.ok and single.headers.get("Connection", "").lower() != "close"
        for _ in range(2):  # the second batch goes out on a new connection
            answered = call(batch)
            assert text_of(parse_success(answered), "refused") == "1"
            assert answered.headers.get("Connection", "").lower() == "close"
        assert call(lookup).ok


def test_serve_with_waitress_is_one_process_beside_the_sandbox_gr_and_stops_on_ctrl_c(database, tmp_path) -> None:
    if database.kind != "sqlite":
        pytest.skip("the same code path on either database; once is enough")
    gateway = GatewayProcess(database.url, tmp_path, server="waitress").start()
    try:
        assert len(gateway.group()) == 2, gateway.log()
        assert requests.get(f"{gateway.base_url}/population-register?wsdl", timeout=10).ok
        assert gateway.interrupt() == 0, gateway.log()
        assert gateway.group() == []
        assert "Traceback" not in gateway.log()
    finally:
        gateway.stop()


def test_workers_default_to_the_cores_and_a_restart_waits_longer_than_the_population_register_can() -> None:
    import os

    assert Settings().worker_count == len(os.sched_getaffinity(0))
    assert Settings(workers=3).worker_count == 3
    check_serving_settings(Settings())  # 30 s against GR's deadline of 8 s
    with pytest.raises(ValueError, match="NVS_GRACEFUL_TIMEOUT"):
        check_serving_settings(Settings(graceful_timeout=8.0))
    # Without a deadline shorter than every attempt together, every attempt is the bound: 2 x (3 + 5) s.
    assert Settings(population_register_deadline=60.0).population_register_bound == 16.0
    with pytest.raises(ValueError, match="NVS_GRACEFUL_TIMEOUT"):
        check_serving_settings(Settings(population_register_deadline=60.0, graceful_timeout=16.0))
    with pytest.raises(ValueError, match="NVS_SERVER"):
        check_serving_settings(Settings(server="uwsgi"))
