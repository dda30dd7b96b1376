"""What an integrator fetches and what happens when the population register misbehaves."""
from __future__ import annotations

import datetime as dt
import re

import pytest
import requests
from zeep.exceptions import Fault

from gateway.config import REPOSITORY_ROOT
from gateway.domain.calendar import SchoolYear
from tests.clock import E2E_TODAY
from tests.e2e.helpers import child_code, fault_detail, registry_client

ADDRESS = re.compile(rb'(<(?:[\w.-]+:)?address\b[^>]*?\blocation=")([^"]*)(")')


def test_the_served_wsdl_is_the_checked_in_file_with_its_own_endpoint(live_gateway) -> None:
    served = requests.get(live_gateway.wsdl_url, timeout=10)
    assert served.status_code == 200 and served.headers["Content-Type"].startswith("text/xml")
    checked_in = (REPOSITORY_ROOT / "wsdl" / "nvs-gateway-v1.wsdl").read_bytes()
    assert ADDRESS.search(served.content).group(2) == live_gateway.registry_url.encode()
    assert ADDRESS.sub(b"", served.content) == ADDRESS.sub(b"", checked_in)


def test_the_public_url_setting_goes_into_the_served_wsdl(start_gateway) -> None:
    gateway = start_gateway(public_url="https://mr.example.lt/nvs")
    served = requests.get(gateway.wsdl_url, timeout=10).content
    assert ADDRESS.search(served).group(2) == b"https://mr.example.lt/nvs/registry"


def test_every_schema_the_wsdls_import_is_served_as_checked_in(live_gateway) -> None:
    for path in sorted((REPOSITORY_ROOT / "xsd").glob("*.xsd")):
        served = requests.get(f"{live_gateway.base_url}/xsd/{path.name}", timeout=10)
        assert served.status_code == 200 and served.content == path.read_bytes(), path.name
    assert requests.get(f"{live_gateway.base_url}/xsd/../pyproject.toml", timeout=10).status_code == 404


def test_unknown_paths_get_a_plain_404_and_health_answers(live_gateway) -> None:
    missing = requests.get(f"{live_gateway.base_url}/nothing-here", timeout=10)
    assert missing.status_code == 404 and "/registry" in missing.text
    assert requests.get(f"{live_gateway.base_url}/health", timeout=10).json() == {"status": "ok"}


def _register_someone(gateway, database):
    user = database.user("300000011")
    service = registry_client(gateway.wsdl_url, user.username, user.password).service
    year = SchoolYear.containing(E2E_TODAY)
    group = service.CreateGroup(schoolYear=str(year), programCode="100000112", name="G", subDirectionCode=["MUSIC.PIANO"])
    return lambda: service.RegisterStudent(
        personalCode=child_code(dt.date(2015, 5, 5), 5),
        groupId=group.groupId,
        firstLearningDate=year.starts_on,
        contract={"typeCode": "BILATERAL", "date": year.starts_on, "number": "S-1"},
    )


@pytest.mark.parametrize(
    "gr_trouble",
    [
        {"sandbox_gr_failure_rate": 1.0},
        {"sandbox_gr_latency": 1.5, "population_register_read_timeout": 0.3},
        {"population_register_url": "http://127.0.0.1:9/population-register"},  # nothing listens there
    ],
    ids=["gr-fails", "gr-too-slow", "gr-unreachable"],
)
def test_a_population_register_in_trouble_is_a_retriable_server_fault_and_nothing_is_written(start_gateway, database, gr_trouble) -> None:
    gateway = start_gateway(**gr_trouble)
    register = _register_someone(gateway, database)
    before = database.snapshot()
    with pytest.raises(Fault) as refused:
        register()
    assert refused.value.code.endswith("Server")
    assert fault_detail(refused.value)["code"] == "PopulationRegisterUnavailable"
    assert database.snapshot() == before
