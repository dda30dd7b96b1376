"""What an integrator fetches and what happens when the population register misbehaves."""

from __future__ import annotations

import datetime as dt
import http.client
import re

import pytest
import requests
from lxml import etree
from zeep.exceptions import Fault

from gateway.config import REPOSITORY_ROOT
from gateway.domain.calendar import SchoolYear
from tests.clock import E2E_TODAY
from tests.e2e.helpers import child_code, fault_detail, registry_client

ADDRESS = re.compile(rb'(<(?:[\w.-]+:)?address\b[^>]*?\blocation=")([^"]*)(")')
SCHEMA_LOCATION = re.compile(rb'(\bschemaLocation=")([^"]*)(")')
XS = "http://www.w3.org/2001/XMLSchema"


def schema_locations(document: bytes) -> list[str]:
    root = etree.fromstring(document)
    return [
        e.get("schemaLocation") for e in root.iter(f"{{{XS}}}import", f"{{{XS}}}include") if e.get("schemaLocation")
    ]


def test_the_served_wsdl_is_the_checked_in_file_with_its_own_endpoint_and_absolute_schema_locations(
    live_gateway,
) -> None:
    served = requests.get(live_gateway.wsdl_url, timeout=10)
    assert served.status_code == 200 and served.headers["Content-Type"].startswith("text/xml")
    checked_in = (REPOSITORY_ROOT / "wsdl" / "nvs-gateway-v1.wsdl").read_bytes()
    assert ADDRESS.search(served.content).group(2) == live_gateway.registry_url.encode()
    # "../xsd/..." resolved against ".../registry?wsdl" is above the server root: JAX-WS asks for "/../xsd/" and stops.
    assert schema_locations(served.content) == [f"{live_gateway.base_url}/xsd/nvs-gateway-v1.xsd"]
    assert SCHEMA_LOCATION.sub(b"", ADDRESS.sub(b"", served.content)) == SCHEMA_LOCATION.sub(
        b"", ADDRESS.sub(b"", checked_in)
    )


def test_the_public_url_setting_goes_into_the_served_wsdls(start_gateway) -> None:
    gateway = start_gateway(public_url="https://mr.example.lt/nvs")
    served = requests.get(gateway.wsdl_url, timeout=10).content
    assert ADDRESS.search(served).group(2) == b"https://mr.example.lt/nvs/registry"
    assert schema_locations(served) == ["https://mr.example.lt/nvs/xsd/nvs-gateway-v1.xsd"]
    assert schema_locations(requests.get(f"{gateway.base_url}/xsd/xroad.xsd", timeout=10).content) == [
        "https://mr.example.lt/nvs/xsd/xroad-identifiers.xsd"
    ]
    register = requests.get(f"{gateway.base_url}/population-register?wsdl", timeout=10).content
    assert ADDRESS.search(register).group(2) == b"https://mr.example.lt/nvs/population-register"
    assert schema_locations(register) == [
        "https://mr.example.lt/nvs/population-register/xsd/population-register-v1.xsd"
    ]


def test_every_schema_location_a_client_follows_from_either_wsdl_is_absolute_and_served(live_gateway) -> None:
    """What wsimport does: fetch the WSDL, then every schema it names, and every schema those name."""
    pending = [
        live_gateway.wsdl_url,
        f"{live_gateway.base_url}/population-register?wsdl",
        f"{live_gateway.base_url}/xsd/xroad.xsd",
    ]
    fetched: dict[str, bytes] = {}
    while pending:
        url = pending.pop()
        if url in fetched:
            continue
        response = requests.get(url, timeout=10)
        assert response.status_code == 200, url
        fetched[url] = response.content
        for location in schema_locations(response.content):
            assert location.startswith(f"{live_gateway.base_url}/"), (
                f"{url} names {location!r}, not an absolute URL of this site"
            )
            pending.append(location)
    assert {
        f"{live_gateway.base_url}/xsd/nvs-gateway-v1.xsd",
        f"{live_gateway.base_url}/xsd/xroad-identifiers.xsd",
        f"{live_gateway.base_url}/population-register/xsd/population-register-v1.xsd",
    } <= set(fetched)


def test_every_schema_is_served_as_checked_in_but_for_absolute_schema_locations(live_gateway) -> None:
    for path in sorted((REPOSITORY_ROOT / "xsd").glob("*.xsd")):
        served = requests.get(f"{live_gateway.base_url}/xsd/{path.name}", timeout=10)
        assert served.status_code == 200, path.name
        checked_in = path.read_bytes()
        assert SCHEMA_LOCATION.sub(b"", served.content) == SCHEMA_LOCATION.sub(b"", checked_in), path.name
        for location, original in zip(schema_locations(served.content), schema_locations(checked_in), strict=False):
            assert location == f"{live_gateway.base_url}/xsd/{original}", path.name


def raw_get(gateway, target: str, host: str | None = None) -> tuple[int, bytes]:
    """GET ``target`` exactly as written (requests and curl remove dot segments before sending)."""
    connection = http.client.HTTPConnection(gateway.base_url.removeprefix("http://"), timeout=10)
    try:
        connection.putrequest("GET", target, skip_host=host is not None)
        if host is not None:
            connection.putheader("Host", host)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# (path as sent, the schema it must serve, or None for a 404)
DOT_SEGMENT_PATHS = [
    ("/../xsd/nvs-gateway-v1.xsd", "nvs-gateway-v1.xsd"),  # what a client makes of "../xsd/" beside /registry
    ("/registry/../xsd/nvs-gateway-v1.xsd", "nvs-gateway-v1.xsd"),
    ("/./xsd/./xroad-identifiers.xsd", "xroad-identifiers.xsd"),
    ("/population-register/../../xsd/population-register-v1.xsd", "population-register-v1.xsd"),
    ("/xsd/../pyproject.toml", None),
    ("/xsd/../../../../etc/passwd", None),
    ("/xsd/%2e%2e/%2e%2e/pyproject.toml", None),
    ("/xsd/..%2fgateway%2fwsgi.py", None),
    ("/xsd/..\\..\\pyproject.toml", None),
    ("/..", None),
    ("/xsd/../registry/../../wsdl/nvs-gateway-v1.wsdl", None),
]


def test_dot_segments_are_resolved_never_escape_the_site_and_never_fail(live_gateway) -> None:
    wrong = []
    for target, expected in DOT_SEGMENT_PATHS:
        status, body = raw_get(live_gateway, target)
        if expected is None:
            if status != 404 or b"/registry" not in body:
                wrong.append(f"{target}: HTTP {status} {body[:120]!r}, expected the plain 404")
            continue
        locations = [
            f"{live_gateway.base_url}/xsd/{name}"
            for name in schema_locations((REPOSITORY_ROOT / "xsd" / expected).read_bytes())
        ]
        if status != 200 or etree.fromstring(body).tag != f"{{{XS}}}schema" or schema_locations(body) != locations:
            wrong.append(f"{target}: HTTP {status} {body[:120]!r}, expected {expected}")
    assert not wrong, "\n".join(wrong)


def test_a_host_header_that_is_no_host_name_stays_out_of_the_wsdl(live_gateway) -> None:
    status, body = raw_get(live_gateway, "/registry?wsdl", host='evil.example"/><x a="')
    assert status == 200
    address = etree.fromstring(body).find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address").get("location")
    assert "evil" not in address and address.endswith("/registry")


def test_unknown_paths_get_a_plain_404_and_health_answers(live_gateway) -> None:
    missing = requests.get(f"{live_gateway.base_url}/nothing-here", timeout=10)
    assert missing.status_code == 404 and "/registry" in missing.text
    assert requests.get(f"{live_gateway.base_url}/health", timeout=10).json() == {"status": "ok"}


def _register_someone(gateway, database):
    user = database.user("300000011")
    service = registry_client(gateway.wsdl_url, user.username, user.password).service
    year = SchoolYear.containing(E2E_TODAY)
    group = service.CreateGroup(
        schoolYear=str(year), programCode="100000112", name="G", subDirectionCode=["MUSIC.PIANO"]
    )
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
def test_a_population_register_in_trouble_is_a_retriable_server_fault_and_nothing_is_written(
    start_gateway, database, gr_trouble
) -> None:
    gateway = start_gateway(**gr_trouble)
    register = _register_someone(gateway, database)
    before = database.snapshot()
    with pytest.raises(Fault) as refused:
        register()
    assert refused.value.code.endswith("Server")
    assert fault_detail(refused.value)["code"] == "PopulationRegisterUnavailable"
    assert database.snapshot() == before
