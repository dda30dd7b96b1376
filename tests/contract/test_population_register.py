"""The population register (GR) contract.

The behavioural tests run twice: against the in-memory fake seeded with sandbox data, and
against ``ZeepPopulationRegister`` calling the Spyne sandbox over real HTTP on 127.0.0.1.
What only one side can show (transport failures, timeouts, retries, the served WSDL, raw
XML attacks) is tested on that side. The sample messages in
``tests/messages/population_register`` are validated against the XSD and compared with
what the sandbox really answers.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import socket
import socketserver
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import requests
import xmlschema
import zeep
from lxml import etree
from requests import PreparedRequest, Response
from requests.adapters import HTTPAdapter
from stdnum.ee.ik import calc_check_digit

from clients.population_register import client as client_module
from clients.population_register import sandbox
from clients.population_register.client import ZeepPopulationRegister
from clients.population_register.fake import InMemoryPopulationRegister
from clients.population_register.sandbox import (
    FEMALE_FIRST_NAMES,
    MALE_FIRST_NAMES,
    SPECIAL_KINDS,
    SPECIAL_PERSONS,
    SURNAMES,
    build_sandbox_app,
    feminine_surname,
    generated_person,
    load_municipalities,
    sandbox_people_fixture,
)
from gateway.domain.errors import PopulationRegisterUnavailable
from gateway.domain.personal_code import PersonalCode, is_valid_personal_code
from tests.present import present
from tests.writers import WriterSwitch

ROOT = Path(__file__).resolve().parents[2]
XSD_DIR = ROOT / "xsd"
XSD_NAME = "population-register-v1.xsd"
WSDL_FILE = ROOT / "wsdl" / "population-register-v1.wsdl"
MESSAGES = ROOT / "tests" / "messages" / "population_register"
TNS = sandbox.TNS
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
NS = {"s": SOAP_ENV, "gr": TNS}
GIRL_SURNAME_ENDINGS = ("aitė", "ytė", "iūtė", "utė")


def with_check_digit(first_ten: str) -> str:
    return first_ten + calc_check_digit(first_ten + "0")


def make_code(sex: str, born: dt.date, serial: int) -> str:
    """A checksum-valid code of a child born in 2000-2099."""
    return with_check_digit(f"{'5' if sex == 'M' else '6'}{born:%y%m%d}{serial:03d}")


# 260 ordinary children, boys and girls alternating, born between 2008 and 2020.
SAMPLE_CODES = [
    make_code("M" if i % 2 else "F", dt.date(2008, 1, 3) + dt.timedelta(days=17 * i), 100 + i) for i in range(260)
]
NINE_CODE = "90000000018"  # first digit 9: neither sex nor birth date in the code
UNKNOWN_DAY_CODE = with_check_digit("6130600007")  # a girl born in June 2013, day unknown (00)
SPECIAL = {person.kind: person for person in reversed(SPECIAL_PERSONS)}  # first person of each kind
NOT_FOUND_CODE = SPECIAL["not-found"].personal_code
INVALID_CHECKSUM_CODE = SAMPLE_CODES[0][:10] + str((int(SAMPLE_CODES[0][10]) + 1) % 10)
BOY = PersonalCode(SAMPLE_CODES[1])
GIRL = PersonalCode(SAMPLE_CODES[0])


def pc(value: str) -> PersonalCode:
    return PersonalCode(value)


# ---------------------------------------------------------------------------
# A real HTTP server for the sandbox
# ---------------------------------------------------------------------------


class _ThreadingServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (read timeout) is expected here


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve ``app`` on 127.0.0.1 (a free port) in a thread; yield the sandbox's URL."""
    server = make_server("127.0.0.1", 0, app, server_class=_ThreadingServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/population-register"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class CountingAdapter(HTTPAdapter):
    """Counts HTTP attempts (no urllib3 retries below it) and records their timeouts and errors."""

    def __init__(self) -> None:
        super().__init__(max_retries=0)
        self.sends = 0
        self.timeouts: list[Any] = []
        self.errors: list[type[BaseException]] = []

    def send(
        self,
        request: PreparedRequest,
        stream: bool = False,
        timeout: float | tuple[float, float] | tuple[float, None] | None = None,
        verify: bool | str = True,
        cert: bytes | str | tuple[bytes | str, bytes | str] | None = None,
        proxies: Mapping[str, str] | None = None,
    ) -> Response:
        self.sends += 1
        self.timeouts.append(timeout)
        try:
            return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
        except Exception as exc:
            self.errors.append(type(exc))
            raise


@contextmanager
def zeep_register(url: str, **options: Any) -> Iterator[tuple[ZeepPopulationRegister, CountingAdapter]]:
    session = requests.Session()
    adapter = CountingAdapter()
    session.mount("http://", adapter)
    register = ZeepPopulationRegister(url, session=session, **options)
    try:
        yield register, adapter
    finally:
        register.close()
        session.close()


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def unanswered_connects() -> Iterator[str]:
    """A listening socket whose accept queue is full: a new connect hangs until its timeout."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(8):
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    try:
        yield f"http://127.0.0.1:{port}/population-register"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with serving(build_sandbox_app()) as url:
        yield url


def _seeded_fake() -> InMemoryPopulationRegister:
    codes = SAMPLE_CODES + [NINE_CODE, UNKNOWN_DAY_CODE] + [p.personal_code for p in SPECIAL_PERSONS]
    return InMemoryPopulationRegister({pc(code): record for code in codes if (record := generated_person(code))})


@pytest.fixture(params=["fake", pytest.param("zeep", marks=pytest.mark.e2e)])
def register(request: pytest.FixtureRequest) -> Iterator[Any]:
    if request.param == "fake":
        yield _seeded_fake()
    else:
        with zeep_register(request.getfixturevalue("sandbox_url")) as (zeep_client, _):
            yield zeep_client


@pytest.fixture(params=["fake", pytest.param("zeep", marks=pytest.mark.e2e)])
def unavailable_register(request: pytest.FixtureRequest) -> Iterator[Any]:
    """A register that cannot answer: the fake switched off, or a sandbox failing every call."""
    if request.param == "fake":
        fake = _seeded_fake()
        fake.make_unavailable(True)
        yield fake
    else:
        with serving(build_sandbox_app(failure_rate=1.0, random_seed=1)) as url, zeep_register(url) as (zeep_client, _):
            yield zeep_client


# ---------------------------------------------------------------------------
# Behaviour: the fake and the zeep client against the sandbox
# ---------------------------------------------------------------------------


def test_found_person_has_the_sandbox_data(register: Any) -> None:
    record = register.find_person(GIRL)

    assert record == generated_person(GIRL.value)
    assert record.personal_code == GIRL
    assert record.sex == "F" and record.birth_date == GIRL.birth_date
    assert record.first_name in FEMALE_FIRST_NAMES
    assert record.deceased_on is None and record.departed_abroad_on is None
    municipalities = {m.code: m.name for m in load_municipalities()}
    assert municipalities[record.residence.municipality_code] == record.residence.municipality_name
    assert record.residence.address


def test_generated_names_are_stable_across_calls(register: Any) -> None:
    first = register.find_person(BOY)
    again = register.find_person(BOY)
    in_batch = register.find_persons([BOY, GIRL])[BOY]

    assert first == again == in_batch
    assert (first.first_name, first.last_name) == (again.first_name, again.last_name)


def test_generated_names_are_plausible_for_the_sex(register: Any) -> None:
    codes = [pc(code) for code in SAMPLE_CODES[:60]]
    records = register.find_persons(codes)

    girls_surnames = {feminine_surname(surname) for surname in SURNAMES}
    for code, record in records.items():
        assert record.sex == code.sex
        if code.sex == "M":
            assert record.first_name in MALE_FIRST_NAMES
            assert record.last_name in SURNAMES
        else:
            assert record.first_name in FEMALE_FIRST_NAMES
            assert record.last_name in girls_surnames
            assert record.last_name.endswith(GIRL_SURNAME_ENDINGS)
    # the hash spreads people over many names and municipalities
    assert len({r.last_name for r in records.values()}) > 10
    assert len({r.residence.municipality_code for r in records.values()}) > 10


def test_code_without_date_or_sex_is_found(register: Any) -> None:
    nine = register.find_person(pc(NINE_CODE))
    unknown_day = register.find_person(pc(UNKNOWN_DAY_CODE))

    assert nine.sex in ("M", "F") and dt.date(2008, 1, 1) <= nine.birth_date <= dt.date(2020, 12, 31)
    assert unknown_day.sex == "F" and unknown_day.birth_date is None


def test_unknown_person_is_not_found(register: Any) -> None:
    assert register.find_person(pc(NOT_FOUND_CODE)) is None


@pytest.mark.parametrize("person", SPECIAL_PERSONS, ids=lambda p: f"{p.kind}-{p.personal_code[-4:]}")
def test_special_person(register: Any, person: sandbox.SpecialPerson) -> None:
    code = pc(person.personal_code)
    record = register.find_person(code)

    if person.kind == "not-found":
        assert record is None
        return
    assert record.personal_code == code
    assert (record.first_name, record.last_name) == (person.first_name, person.last_name)
    assert record.sex == code.sex and record.birth_date == code.birth_date
    if person.kind == "deceased":
        assert record.deceased_on == person.deceased_on is not None
    else:
        assert record.deceased_on is None
    if person.kind == "departed-abroad":
        assert record.departed_abroad_on == person.departed_abroad_on is not None
        assert record.residence is None
    else:
        assert record.departed_abroad_on is None
        assert record.residence.municipality_code == person.municipality_code
    if person.kind == "changed-residence":
        assert person.previous_municipality_code not in (None, record.residence.municipality_code)
    if person.kind == "changed-name":
        previous = (person.previous_first_name or record.first_name, person.previous_last_name or record.last_name)
        assert previous != (record.first_name, record.last_name)


def test_batch_of_more_than_a_hundred_codes_returns_every_code(register: Any) -> None:
    codes = [pc(code) for code in SAMPLE_CODES[:250]] + [pc(NOT_FOUND_CODE), pc(SAMPLE_CODES[5])]

    records = register.find_persons(codes)

    assert set(records) == set(codes) and len(records) == 251
    assert records[pc(NOT_FOUND_CODE)] is None
    assert all(records[pc(code)] == generated_person(code) for code in SAMPLE_CODES[:250])


def test_an_empty_batch_is_an_empty_answer(register: Any) -> None:
    assert register.find_persons([]) == {}


def test_unavailable_register_raises_without_the_code(unavailable_register: Any) -> None:
    with pytest.raises(PopulationRegisterUnavailable) as single:
        unavailable_register.find_person(BOY)
    with pytest.raises(PopulationRegisterUnavailable) as batch:
        unavailable_register.find_persons([BOY, GIRL])

    for error in (single.value, batch.value):
        assert error.__cause__ is None  # an upstream text may echo the code: it is not chained either
        for text in (str(error), repr(error), error.message):
            assert BOY.value not in text and GIRL.value not in text


# ---------------------------------------------------------------------------
# The zeep client: transport behaviour
# ---------------------------------------------------------------------------


@pytest.mark.e2e
def test_batches_are_sent_in_chunks_of_a_hundred(sandbox_url: str) -> None:
    with zeep_register(sandbox_url) as (register, adapter):
        records = register.find_persons([pc(code) for code in SAMPLE_CODES[:250]])

    assert len(records) == 250
    assert adapter.sends == 3  # 100 + 100 + 50


@pytest.mark.e2e
def test_each_call_carries_the_connect_and_read_timeouts(sandbox_url: str) -> None:
    with zeep_register(sandbox_url, connect_timeout=1.5, read_timeout=4.0) as (register, adapter):
        register.find_person(BOY)
        register.find_persons([BOY])

    assert adapter.timeouts == [(1.5, 4.0), (1.5, 4.0)]


@pytest.mark.e2e
def test_read_timeout_makes_the_register_unavailable() -> None:
    with serving(build_sandbox_app(latency_seconds=1.0)) as url:
        with zeep_register(url, read_timeout=0.2, retries=1) as (register, adapter):
            with pytest.raises(PopulationRegisterUnavailable) as raised:
                register.find_person(BOY)

    assert adapter.errors == [requests.ReadTimeout, requests.ReadTimeout]  # the read is retried once
    assert BOY.value not in str(raised.value)


@pytest.mark.e2e
def test_connect_timeout_makes_the_register_unavailable() -> None:
    with unanswered_connects() as url:
        with zeep_register(url, connect_timeout=0.2, retries=0) as (register, adapter):
            with pytest.raises(PopulationRegisterUnavailable):
                register.find_person(BOY)

    assert adapter.errors == [requests.ConnectTimeout]


@pytest.mark.e2e
def test_refused_connection_is_retried_then_unavailable() -> None:
    url = f"http://127.0.0.1:{unused_port()}/population-register"
    with zeep_register(url, retries=2) as (register, adapter):
        with pytest.raises(PopulationRegisterUnavailable) as raised:
            register.find_persons([BOY, GIRL])

    assert adapter.sends == 3
    assert all(issubclass(error, requests.ConnectionError) for error in adapter.errors)
    assert BOY.value not in str(raised.value) and GIRL.value not in str(raised.value)


@pytest.mark.e2e
def test_a_soap_fault_is_not_retried() -> None:
    with serving(build_sandbox_app(failure_rate=1.0, random_seed=7)) as url:
        with zeep_register(url, retries=2) as (register, adapter):
            with pytest.raises(PopulationRegisterUnavailable):
                register.find_person(BOY)

    assert adapter.sends == 1 and adapter.errors == []


@pytest.mark.e2e
def test_an_html_error_page_makes_the_register_unavailable() -> None:
    def bad_gateway(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("502 Bad Gateway", [("Content-Type", "text/html")])
        return [b"<html><body>Bad gateway</body></html>"]

    with serving(bad_gateway) as url, zeep_register(url) as (register, adapter):
        with pytest.raises(PopulationRegisterUnavailable):
            register.find_person(BOY)

    assert adapter.sends == 1


@pytest.mark.e2e
def test_an_answer_about_another_person_is_refused() -> None:
    """A register answering for the wrong code must not be believed."""

    def wrong_person(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = (MESSAGES / "GetPerson-response-found.xml").read_bytes()
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
        return [body]

    with serving(wrong_person) as url, zeep_register(url) as (register, _):
        with pytest.raises(PopulationRegisterUnavailable):
            register.find_person(BOY)
        assert present(register.find_person(pc("61111309960"))).last_name == "Petrauskaitė"


@pytest.mark.e2e
@pytest.mark.parametrize(
    "spoil",
    [
        lambda xml: xml.replace(b"<gr:status>FOUND</gr:status>", b"<gr:status>MAYBE</gr:status>"),
        lambda xml: xml.replace(b"GetPersonResponse", b"GetPersonsResponse"),
        lambda xml: xml.replace(b"</gr:firstName>", b"</gr:firstName><gr:nickname>X</gr:nickname>"),
        lambda xml: xml[: len(xml) // 2],
    ],
    ids=["a status outside the contract", "another operation's answer", "an unknown element", "cut short"],
)
def test_an_answer_outside_the_contract_makes_the_register_unavailable(spoil) -> None:
    """GetPerson's answer is read with lxml against the schema (not zeep's objects): what zeep would have
    refused is refused."""
    found = (MESSAGES / "GetPerson-response-found.xml").read_bytes()
    assert spoil(found) != found

    def spoilt(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/xml; charset=utf-8")])
        return [spoil(found)]

    with serving(spoilt) as url, zeep_register(url) as (register, _):
        with pytest.raises(PopulationRegisterUnavailable):
            register.find_person(pc("61111309960"))


@pytest.mark.e2e
def test_failure_rate_is_deterministic_with_a_seed() -> None:
    def outcomes(seed: int) -> list[bool]:
        with (
            serving(build_sandbox_app(failure_rate=0.5, random_seed=seed)) as url,
            zeep_register(url, retries=0) as (register, _),
        ):
            result = []
            for _ in range(12):
                try:
                    register.find_person(BOY)
                    result.append(True)
                except PopulationRegisterUnavailable:
                    result.append(False)
            return result

    first = outcomes(42)
    assert first == outcomes(42)
    assert True in first and False in first


@pytest.mark.e2e
def test_neither_we_nor_zeep_log_personal_codes(sandbox_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with zeep_register(sandbox_url) as (register, _):
        register.find_person(BOY)
        register.find_persons([GIRL, pc(NOT_FOUND_CODE)])
    with zeep_register(f"http://127.0.0.1:{unused_port()}/gr", retries=1) as (register, _):
        with pytest.raises(PopulationRegisterUnavailable):
            register.find_person(BOY)

    client_side = [r for r in caplog.records if not r.name.startswith("spyne")]
    assert any(r.name == client_module.__name__ for r in client_side)  # the failure was logged ...
    for record in client_side:  # ... but no code, and no envelope
        text = record.getMessage()
        assert BOY.value not in text and GIRL.value not in text and NOT_FOUND_CODE not in text


def test_the_wsdl_is_parsed_once_per_process() -> None:
    one = ZeepPopulationRegister("http://gr.invalid/a")
    two = ZeepPopulationRegister("http://gr.invalid/b", read_timeout=1.0)
    try:
        assert one._client.wsdl is two._client.wsdl
        assert one._client.transport is not two._client.transport
    finally:
        one.close()
        two.close()


# ---------------------------------------------------------------------------
# The sandbox over HTTP: raw messages and the served WSDL
# ---------------------------------------------------------------------------


def _post(url: str, body: bytes) -> requests.Response:
    return requests.post(url, data=body, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=5)


def _get_person_request(code: str) -> bytes:
    return (MESSAGES / "GetPerson-request.xml").read_bytes().replace(b"61111309960", code.encode())


def _payload(document: bytes) -> etree._Element:
    root = etree.fromstring(document)
    return root.find("s:Body", NS)[0]


def _shape(element: etree._Element) -> tuple[Any, ...]:
    """Tag, text and children: equal for equal XML whatever the prefixes and indentation."""
    return (element.tag, (element.text or "").strip(), tuple(_shape(child) for child in element))


@pytest.mark.e2e
def test_invalid_checksum_is_not_found_at_the_sandbox(sandbox_url: str) -> None:
    assert not is_valid_personal_code(INVALID_CHECKSUM_CODE)

    response = _post(sandbox_url, _get_person_request(INVALID_CHECKSUM_CODE))

    assert response.status_code == 200
    assert _payload(response.content).findtext("gr:status", namespaces=NS) == "NOT_FOUND"


@pytest.mark.e2e
def test_sandbox_answers_the_sample_requests_with_the_sample_responses(sandbox_url: str) -> None:
    cases = [
        (_get_person_request("61111309960"), "GetPerson-response-found.xml"),
        (_get_person_request(NOT_FOUND_CODE), "GetPerson-response-not-found.xml"),
        ((MESSAGES / "GetPersons-request.xml").read_bytes(), "GetPersons-response.xml"),
    ]
    for request_body, expected in cases:
        response = _post(sandbox_url, request_body)
        assert response.status_code == 200
        assert _shape(_payload(response.content)) == _shape(_payload((MESSAGES / expected).read_bytes()))


@pytest.mark.e2e
def test_the_sandbox_writes_the_bytes_spyne_writes(sandbox_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sandbox answers with the gateway's compiled writers (gateway.soap.direct_xml): each answer
    is sent again with them turned off, and the two must be the same bytes; and they did write."""
    switch = WriterSwitch(monkeypatch)
    special = [p.personal_code for p in SPECIAL_PERSONS]
    for request_body in (
        _get_person_request("61111309960"),
        _get_person_request(NOT_FOUND_CODE),
        (MESSAGES / "GetPersons-request.xml").read_bytes(),
        *(_get_person_request(code) for code in special),
    ):
        switch.writers()
        direct = _post(sandbox_url, request_body)
        switch.spyne()
        spyne = _post(sandbox_url, request_body)
        assert direct.status_code == spyne.status_code == 200
        assert direct.content == spyne.content
    assert set(switch.written) == {"GetPersonResponse", "GetPersonsResponse"}
    assert len(switch.written) == 3 + len(special)


@pytest.mark.e2e
def test_a_request_with_a_dtd_gets_a_soap_fault(sandbox_url: str) -> None:
    attack = (
        b'<?xml version="1.0"?>\n'
        b'<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        b'<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" '
        b'xmlns:gr="urn:lt:registrucentras:gyventoju-registras:v1"><s:Body>'
        b"<gr:GetPerson><gr:personalCode>&x;</gr:personalCode></gr:GetPerson></s:Body></s:Envelope>"
    )
    response = _post(sandbox_url, attack)

    assert response.status_code == 500
    fault = _payload(response.content)
    assert fault.tag == f"{{{SOAP_ENV}}}Fault"
    assert fault.findtext("faultcode").endswith("Client")
    assert fault.findtext("detail/gr:RegisterFault/gr:code", namespaces=NS) == "ForbiddenXmlConstruct"
    assert b"root:" not in response.content
    # and the sandbox still answers
    assert _post(sandbox_url, _get_person_request(BOY.value)).status_code == 200


@pytest.mark.e2e
def test_a_request_outside_the_schema_gets_a_fault_that_does_not_echo_it(sandbox_url: str) -> None:
    response = _post(sandbox_url, _get_person_request("6111130996X"))

    assert response.status_code == 500
    fault = _payload(response.content)
    assert fault.findtext("detail/gr:RegisterFault/gr:code", namespaces=NS) == "InvalidRequest"
    assert b"6111130996X" not in response.content


@pytest.mark.e2e
def test_simulated_outage_is_a_server_fault_with_register_fault_detail() -> None:
    with serving(build_sandbox_app(failure_rate=1.0)) as url:
        response = _post(url, _get_person_request(BOY.value))

    assert response.status_code == 500
    fault = _payload(response.content)
    assert fault.findtext("faultcode").endswith("Server")
    assert fault.findtext("detail/gr:RegisterFault/gr:code", namespaces=NS) == "Unavailable"
    _schema().validate(fault.find("detail/gr:RegisterFault", NS))


@pytest.mark.e2e
def test_served_wsdl_is_the_checked_in_file_with_the_request_address(sandbox_url: str) -> None:
    response = requests.get(sandbox_url + "?wsdl", timeout=5)
    assert response.status_code == 200

    served = etree.fromstring(response.content)
    address = served.find(".//{http://schemas.xmlsoap.org/wsdl/soap/}address")
    assert address.get("location") == sandbox_url
    # The import is absolute, beside the address (a client resolving "../xsd/" against ".../population-register?wsdl"
    # would climb above the server root).
    schema_location = f"{sandbox_url}/xsd/{XSD_NAME}"
    assert served.find(".//{http://www.w3.org/2001/XMLSchema}import").get("schemaLocation") == schema_location
    assert requests.get(schema_location, timeout=5).content == (XSD_DIR / XSD_NAME).read_bytes()
    checked_in = WSDL_FILE.read_bytes()
    original_location = present(re.search(rb'<soap:address\s+location="([^"]*)"', checked_in)).group(1)
    restored = response.content.replace(schema_location.encode(), f"../xsd/{XSD_NAME}".encode())
    assert restored.replace(sandbox_url.encode(), original_location) == checked_in  # byte for byte, but for those two


@pytest.mark.e2e
def test_a_client_can_load_the_served_wsdl_and_its_schema(sandbox_url: str) -> None:
    xsd = requests.get(sandbox_url.rsplit("/", 1)[0] + "/xsd/" + XSD_NAME, timeout=5)
    assert xsd.content == (XSD_DIR / XSD_NAME).read_bytes()

    with requests.Session() as session:
        remote = zeep.Client(sandbox_url + "?wsdl", transport=zeep.Transport(session=session, operation_timeout=5))
        answer = remote.service.GetPerson(personalCode=NOT_FOUND_CODE)
    assert answer.status == "NOT_FOUND"


# ---------------------------------------------------------------------------
# Contract files and sample messages
# ---------------------------------------------------------------------------


def _schema() -> xmlschema.XMLSchema:
    # a bare file name with an absolute base_url (soap-stack.md §1.5: a relative path resolves to xsd/xsd/)
    return xmlschema.XMLSchema(XSD_NAME, base_url=str(XSD_DIR), allow="sandbox")


def _sample_payloads() -> list[Path]:
    return sorted(MESSAGES.glob("*.xml"))


def test_there_are_sample_messages() -> None:
    names = {path.name for path in _sample_payloads()}
    assert {
        "GetPerson-request.xml",
        "GetPerson-response-found.xml",
        "GetPerson-response-not-found.xml",
        "GetPersons-request.xml",
        "GetPersons-response.xml",
        "RegisterFault-response.xml",
    } <= names


@pytest.mark.parametrize("path", _sample_payloads(), ids=lambda p: p.name)
def test_sample_message_is_valid_against_the_xsd(path: Path) -> None:
    payload = _payload(path.read_bytes())
    if payload.tag == f"{{{SOAP_ENV}}}Fault":
        payload = payload.find("detail/gr:RegisterFault", NS)
    _schema().validate(payload)


def test_schema_rejects_what_the_contract_forbids() -> None:
    schema = _schema()
    request = _payload(_get_person_request("1234567890"))  # ten digits
    assert not schema.is_valid(request)

    too_many = etree.Element(f"{{{TNS}}}GetPersons")
    for code in SAMPLE_CODES[:101]:
        etree.SubElement(too_many, f"{{{TNS}}}personalCode").text = code
    assert not schema.is_valid(too_many)
    too_many.remove(too_many[-1])
    assert schema.is_valid(too_many)


def test_every_string_is_bounded_and_every_list_too() -> None:
    xs = "http://www.w3.org/2001/XMLSchema"
    tree = etree.parse(str(XSD_DIR / XSD_NAME))
    for restriction in tree.iter(f"{{{xs}}}restriction"):
        if restriction.get("base") == "xs:string":
            assert restriction.find(f"{{{xs}}}maxLength") is not None, restriction.getparent().get("name")
    for element in tree.iter(f"{{{xs}}}element"):
        assert element.get("type") != "xs:string", element.get("name")
        assert element.get("maxOccurs") != "unbounded", element.get("name")


def test_wsdl_declares_every_operation_with_a_typed_fault() -> None:
    document = client_module._wsdl_document()
    binding = document.bindings[client_module.BINDING]
    assert set(binding._operations) == {"GetPerson", "GetPersons", "GetFamily"}
    for operation in binding._operations.values():
        assert operation.input.body.qname == f"{{{TNS}}}{operation.name}"
        assert operation.output.body.qname == f"{{{TNS}}}{operation.name}Response"
        assert [fault.name for fault in operation.faults.values()] == ["RegisterFault"]


# ---------------------------------------------------------------------------
# Sandbox data, without SOAP
# ---------------------------------------------------------------------------


def test_special_persons_are_valid_codes_of_children_of_every_kind() -> None:
    assert {person.kind for person in SPECIAL_PERSONS} == set(SPECIAL_KINDS)
    assert len({person.personal_code for person in SPECIAL_PERSONS}) == len(SPECIAL_PERSONS)
    for person in SPECIAL_PERSONS:
        assert is_valid_personal_code(person.personal_code)
        assert 2008 <= present(pc(person.personal_code).birth_date).year <= 2020
        assert person.description


def test_changed_persons_carry_previous_values_that_differ() -> None:
    codes = {m.code for m in load_municipalities()}
    for person in SPECIAL_PERSONS:
        if person.kind == "changed-residence":
            assert person.previous_municipality_code in codes and person.municipality_code in codes
            assert person.previous_municipality_code != person.municipality_code
        if person.kind == "changed-name":
            changes = [(person.previous_first_name, person.first_name), (person.previous_last_name, person.last_name)]
            changes = [(previous, current) for previous, current in changes if previous is not None]
            assert changes and all(previous != current for previous, current in changes)


def test_people_fixture_is_json() -> None:
    people = json.loads(json.dumps(sandbox_people_fixture()))

    assert [p["code"] for p in people] == [p.personal_code for p in SPECIAL_PERSONS]
    by_kind = {p["kind"]: p for p in people}
    assert by_kind["not-found"]["current"] is None
    assert by_kind["deceased"]["current"]["deceased_on"] == "2024-02-11"
    assert by_kind["departed-abroad"]["current"]["municipality_code"] is None
    changed = by_kind["changed-residence"]
    assert changed["previous"]["municipality_code"] != changed["current"]["municipality_code"]


def test_generated_person_is_deterministic_and_none_for_invalid_codes() -> None:
    assert generated_person(BOY.value) == generated_person(BOY.value)
    assert generated_person(INVALID_CHECKSUM_CODE) is None
    assert generated_person("not a code") is None
    assert generated_person(NOT_FOUND_CODE) is None


def test_nine_code_sex_and_birth_date_come_from_the_hash() -> None:
    records = [present(generated_person(code)) for code in (NINE_CODE, "91234567895")]
    assert all(r.sex in ("M", "F") and r.birth_date is not None for r in records)
    assert records[0] == generated_person(NINE_CODE)


@pytest.mark.parametrize(
    ("masculine", "unmarried", "married"),
    [
        ("Kazlauskas", "Kazlauskaitė", "Kazlauskienė"),
        ("Adomaitis", "Adomaitytė", "Adomaitienė"),
        ("Kairys", "Kairytė", "Kairienė"),
        ("Butkus", "Butkutė", "Butkienė"),
        ("Stankevičius", "Stankevičiūtė", "Stankevičienė"),
        ("Mažeika", "Mažeikaitė", "Mažeikienė"),
    ],
)
def test_feminine_surnames(masculine: str, unmarried: str, married: str) -> None:
    assert feminine_surname(masculine) == unmarried
    assert feminine_surname(masculine, married=True) == married


def test_every_surname_has_a_feminine_form() -> None:
    for surname in SURNAMES:
        assert feminine_surname(surname).endswith(GIRL_SURNAME_ENDINGS)


def test_sandbox_rejects_impossible_settings() -> None:
    with pytest.raises(ValueError):
        build_sandbox_app(failure_rate=1.5)
    with pytest.raises(ValueError):
        build_sandbox_app(latency_seconds=-1)


# ---------------------------------------------------------------------------
# The fake's own bookkeeping
# ---------------------------------------------------------------------------


def test_fake_counts_calls_and_can_be_switched_off() -> None:
    fake = InMemoryPopulationRegister()
    assert fake.calls == 0
    assert fake.find_person(BOY) is None

    fake.add(present(generated_person(BOY.value)))
    assert fake.find_persons([BOY, GIRL]) == {BOY: generated_person(BOY.value), GIRL: None}
    assert fake.calls == 2

    fake.make_unavailable(True)
    with pytest.raises(PopulationRegisterUnavailable):
        fake.find_person(BOY)
    fake.make_unavailable(False)
    assert fake.find_person(BOY) is not None
    assert fake.calls == 4


# ---------------------------------------------------------------------------
# Families (GetFamily, GR contract 1.1)
# ---------------------------------------------------------------------------


def test_fixed_families_and_their_names_over_real_http(sandbox_url: str) -> None:
    with zeep_register(sandbox_url) as (client, _):
        mother = client.find_family(pc("48503120113"))
        assert mother is not None
        assert [c.value for c in mother.children] == ["61504200131", "51209010141", "50401150150"]
        emilija = client.find_family(pc("61504200131"))
        assert emilija is not None
        assert [(g.kind.value, g.personal_code.value if g.personal_code else None) for g in emilija.guardians] == [
            ("PARENT", "48503120113"),
            ("PARENT", "38307050124"),
        ]
        ward = client.find_family(pc("51402220197"))
        assert ward is not None
        assert [(g.kind.value, g.institution_code) for g in ward.guardians] == [("INSTITUTION", "300000099")]
        assert client.find_family(pc(NOT_FOUND_CODE)) is None
        assert present(client.find_person(pc("61504200131"))).first_name == "Emilija"


def test_derived_families_agree_both_ways() -> None:
    for code in SAMPLE_CODES[:5]:
        family = sandbox.sandbox_family(code)
        assert family is not None and len(family.guardians) == 2
        for guardian in family.guardians:
            assert guardian.personal_code is not None and is_valid_personal_code(guardian.personal_code)
            parent = sandbox.sandbox_family(guardian.personal_code)
            assert parent is not None and code in parent.children
    assert sandbox.sandbox_family(NINE_CODE) == sandbox.SandboxFamily()


def test_fake_answers_families() -> None:
    from gateway.domain.portal import Family

    fake = _seeded_fake()
    fake.add_family(Family(GIRL, guardians=()))
    assert fake.find_family(GIRL) == Family(GIRL)
    assert fake.find_family(pc(NOT_FOUND_CODE)) is None
