"""HTTP-level refusals on /registry, over raw sockets: each is a SOAP 1.1 fault envelope.

waitress refuses these before any WSGI application runs; until 1.4 it answered them in plain text
(``gateway/http.py`` explains the two layers and what holds for waitress only).
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
import requests
from requests.structures import CaseInsensitiveDict

from tests.conftest import open_database
from tests.e2e import soap
from tests.e2e.test_bad_input import LEAK_MARKERS, SENT_CODE, lookup
from tests.processes import GatewayProcess

ENVELOPE = soap.envelope(lookup())
LIMIT = 1024 * 1024  # NVS_MAX_REQUEST_BYTES's default


def head(*lines: str, path: str = "/registry") -> bytes:
    return (
        "\r\n".join(
            (
                f"POST {path} HTTP/1.1",
                "Host: gateway.test",
                "Content-Type: text/xml; charset=utf-8",
                "Connection: close",
                *lines,
            )
        )
        + "\r\n\r\n"
    ).encode()


CASES = {  # id: (raw request, expected code)
    "negative Content-Length": (head("Content-Length: -1") + ENVELOPE, "MalformedMessage"),
    "Content-Length not a number": (head("Content-Length: abc") + ENVELOPE, "MalformedMessage"),
    "Content-Length with a sign": (head(f"Content-Length: +{len(ENVELOPE)}") + ENVELOPE, "MalformedMessage"),
    "two different Content-Lengths": (
        head(f"Content-Length: {len(ENVELOPE)}", "Content-Length: 5") + ENVELOPE,
        "MalformedMessage",
    ),
    "Content-Length of a terabyte": (head("Content-Length: 1099511627776"), "RequestTooLarge"),
    "Content-Length one byte over the limit, body not sent": (head(f"Content-Length: {LIMIT + 1}"), "RequestTooLarge"),
    "a chunk size that is not hexadecimal": (
        head("Transfer-Encoding: chunked") + b"zz\r\n" + ENVELOPE + b"\r\n0\r\n\r\n",
        "MalformedMessage",
    ),
    "a chunk not terminated by CRLF": (
        head("Transfer-Encoding: chunked") + b"5\r\nhelloXX0\r\n\r\n",
        "MalformedMessage",
    ),
    "a chunk extension with a control character": (
        head("Transfer-Encoding: chunked") + b"5;\x01\r\nhello\r\n0\r\n\r\n",
        "MalformedMessage",
    ),
    "chunks over the body limit": (
        head("Transfer-Encoding: chunked")
        + b"".join(b"%x\r\n" % 65536 + b"A" * 65536 + b"\r\n" for _ in range(17))
        + b"0\r\n\r\n",
        "RequestTooLarge",
    ),
    "Transfer-Encoding gzip": (head("Transfer-Encoding: gzip") + ENVELOPE, "MalformedMessage"),
    "Transfer-Encoding and Content-Length together": (
        head("Transfer-Encoding: chunked", f"Content-Length: {len(ENVELOPE)}") + b"0\r\n\r\n",
        "MalformedMessage",
    ),
    "headers over waitress's limit": (
        head("X-Padding: " + "p" * 270_000, f"Content-Length: {len(ENVELOPE)}") + ENVELOPE,
        "RequestTooLarge",
    ),
    "a header line without a colon": (
        head("Broken header line", f"Content-Length: {len(ENVELOPE)}") + ENVELOPE,
        "MalformedMessage",
    ),
    "a header name with a space": (
        head("Bad Name: 1", f"Content-Length: {len(ENVELOPE)}") + ENVELOPE,
        "MalformedMessage",
    ),
    "a bare LF in the headers": (head(f"Content-Length: {len(ENVELOPE)}\nX-Other: 1") + ENVELOPE, "MalformedMessage"),
    "a method that is not an HTTP token": (
        b"PO(ST /registry HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "MalformedMessage",
    ),
    "a personal code in a malformed header": (
        head(f"Broken {SENT_CODE}", f"Content-Length: {len(ENVELOPE)}") + ENVELOPE,
        "MalformedMessage",
    ),
}


def exchange(url: str, raw: bytes) -> requests.Response:
    """Send ``raw`` on a fresh connection and read the answer until the server closes it."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        try:
            connection.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may refuse before reading everything: its answer is still there
        received = b""
        try:
            while chunk := connection.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    header_block, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = header_block.decode("latin-1").split("\r\n")
    response = requests.models.Response()
    response.status_code = int(status_line.split()[1])
    response.headers = CaseInsensitiveDict(line.split(": ", 1) for line in header_lines if ": " in line)
    response._content = body
    response.encoding = "utf-8"
    return response


@pytest.mark.parametrize("case", list(CASES))
def test_every_http_level_refusal_is_a_soap_fault(shared_gateway, logs, case):
    raw, code = CASES[case]
    before = shared_gateway.database.snapshot()
    response = exchange(shared_gateway.registry_url, raw)
    fault = soap.parse_fault(response)
    assert (fault.status, fault.faultcode, fault.code) == (500, "Client", code), fault.faultstring
    assert fault.content_type.startswith("text/xml")
    assert fault.detail["correlationId"]
    for marker in LEAK_MARKERS + (SENT_CODE, "waitress"):
        assert marker not in response.text
    for record in logs.records:
        assert SENT_CODE not in record.getMessage()
    assert shared_gateway.database.snapshot() == before


def test_other_paths_keep_plain_http_answers(shared_gateway):
    response = exchange(shared_gateway.registry_url, head("Content-Length: -1", path="/health"))
    assert response.status_code == 400 and b"Envelope" not in response.content


# --- the same refusals from gunicorn, the production server (gateway/gunicorn_worker.py) -----------
@pytest.fixture(scope="module")
def gunicorn_gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    directory = tmp_path_factory.mktemp("gunicorn")
    database = open_database(request, "sqlite", directory)
    gateway = GatewayProcess(database.url, directory, server="gunicorn", workers=1).start()
    try:
        yield gateway
    finally:
        gateway.stop()
        database.engine.dispose()


# waitress's header limit is not gunicorn's: gunicorn refuses a header line over 8,190 bytes.
GUNICORN_CASES = {
    **CASES,
    "headers over waitress's limit": (
        head("X-Padding: " + "p" * 9_000, f"Content-Length: {len(ENVELOPE)}") + ENVELOPE,
        "RequestTooLarge",
    ),
}


@pytest.mark.parametrize("case", list(GUNICORN_CASES))
def test_gunicorn_refuses_them_with_soap_faults_too(gunicorn_gateway, case):
    raw, code = GUNICORN_CASES[case]
    response = exchange(gunicorn_gateway.registry_url, raw)
    fault = soap.parse_fault(response)
    assert (fault.status, fault.faultcode, fault.code) == (500, "Client", code), fault.faultstring
    assert fault.content_type.startswith("text/xml") and fault.detail["correlationId"]
    for marker in LEAK_MARKERS + (SENT_CODE, "gunicorn"):
        assert marker not in response.text
    assert SENT_CODE not in gunicorn_gateway.log()
