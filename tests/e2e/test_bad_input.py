"""Bad input over real HTTP (soap-stack.md §5.3): what a careless or hostile client may send.

Every refused request must come back as a well-formed SOAP 1.1 Fault (HTTP 500; 405 only for a
method other than POST), Content-Type text/xml, faultcode Client, a GatewayFault detail with the
catalogue code (gateway/faults.toml), a correlationId and, where a field is at fault, ``field``.
Nothing may leak: no traceback, source path, SQL, or the personal code that was sent, neither in
the response nor in any log record; and the database is exactly as it was.

Requests are raw bytes (``tests/e2e/soap.py``) because zeep only sends what the WSDL allows.
Cases are tables; each table runs in one test on one live gateway (the gateway costs ~0.5 s),
and every failing case is reported by its id. Cases that show a product bug run one by one in
``test_known_bug`` as strict xfails: when the bug is fixed the xfail passes, and the case moves
to its table.

The successful calls at the end (Unicode and injection strings) check that free text is stored
and returned exactly as sent.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from lxml import etree
from sqlalchemy import text

from gateway.domain.calendar import SchoolYear
from gateway.domain.errors import AuthenticationFailed
from gateway.sandbox import SandboxUser
from gateway.soap.types import TNS
from tests.clock import E2E_TODAY
from tests.e2e import soap
from tests.e2e.helpers import child_code

MUSIC_SCHOOL = "300000011"  # Anykščių muzikos mokykla
ACCREDITED_NVS_PROGRAM = "100000112"
# The personal code the refused requests carry: distinctive, checksum-valid, used nowhere else.
SENT_CODE = child_code(dt.date(2013, 7, 17), 731)
CHECKSUM_WRONG = SENT_CODE[:-1] + str((int(SENT_CODE[-1]) + 1) % 10)

MESSAGES = Path(__file__).resolve().parents[1] / "messages" / "registry"
MANIFEST = MESSAGES / "MANIFEST"

# What a response or a log must never show (besides the personal code and the password).
LEAK_MARKERS = (
    "Traceback",
    'File "',
    "SELECT",
    "INSERT",
    "UPDATE ",
    "DELETE ",
    "DROP ",
    "/work",
    ".py",
    "sqlalchemy",
    "psycopg",
    "sqlite3",
    "lxml.etree",
)
CAPTURED_LOGGERS = ("", "nvs", "nvs.gateway", "waitress", "clients", "gateway", "storage", "zeep", "urllib3")
TEXT_XML = soap.TEXT_XML


# --- request bodies ---------------------------------------------------------------------
def lookup(code: str = SENT_CODE) -> str:
    return f"<nvs:LookupPerson><nvs:personalCode>{code}</nvs:personalCode></nvs:LookupPerson>"


def leader(first: str = "Ona", last: str = "Kairienė", code: str | None = SENT_CODE) -> str:
    personal_code = f"<nvs:personalCode>{code}</nvs:personalCode>" if code else ""
    return f"<nvs:leader><nvs:firstName>{first}</nvs:firstName><nvs:lastName>{last}</nvs:lastName>{personal_code}</nvs:leader>"


def create_group(
    name: str = "Fortepijonas 1", *, year: str | None = None, sub: str = "MUSIC.PIANO", leaders: str | None = None
) -> str:
    year = year or str(SchoolYear.containing(E2E_TODAY))
    return (
        f"<nvs:CreateGroup><nvs:schoolYear>{year}</nvs:schoolYear><nvs:programCode>{ACCREDITED_NVS_PROGRAM}</nvs:programCode>"
        f"<nvs:name>{name}</nvs:name><nvs:subDirectionCode>{sub}</nvs:subDirectionCode>"
        f"{leader() if leaders is None else leaders}</nvs:CreateGroup>"
    )


def contract(type_code: str = "BILATERAL", date: str = "2026-09-01", number: str = "S-1") -> str:
    return f"<nvs:contract><nvs:typeCode>{type_code}</nvs:typeCode><nvs:date>{date}</nvs:date><nvs:number>{number}</nvs:number></nvs:contract>"


def register(
    *,
    code: str = SENT_CODE,
    group_id: str | None = "1",
    first: str | None = "2026-09-01",
    contract_xml: str | None = None,
) -> str:
    return (
        f"<nvs:RegisterStudent><nvs:personalCode>{code}</nvs:personalCode>"
        + (f"<nvs:groupId>{group_id}</nvs:groupId>" if group_id is not None else "")
        + (f"<nvs:firstLearningDate>{first}</nvs:firstLearningDate>" if first is not None else "")
        + (contract() if contract_xml is None else contract_xml)
        + "</nvs:RegisterStudent>"
    )


def signed(body: str, **kwargs) -> Callable[[SandboxUser], bytes]:
    """A builder: ``body`` in an envelope signed in as the case's user."""
    return lambda user: soap.envelope(body, username=user.username, password=user.password, **kwargs)


def raw(envelope_text: str) -> Callable[[SandboxUser], bytes]:
    """A builder for a hand-written envelope; ``{SECURITY}`` is replaced by the user's Security header."""
    return lambda user: envelope_text.replace("{SECURITY}", soap.security_header(user.username, user.password)).encode()


def with_doctype(doctype: str, body: str) -> Callable[[SandboxUser], bytes]:
    declaration = b'<?xml version="1.0" encoding="UTF-8"?>'

    def build(user: SandboxUser) -> bytes:
        document = soap.envelope(body, username=user.username, password=user.password)
        assert document.startswith(declaration)
        return declaration + doctype.encode() + document[len(declaration) :]

    return build


def patched(body: str, marker: str, replacement: bytes) -> Callable[[SandboxUser], bytes]:
    """``body`` signed, with ``marker`` replaced by raw bytes (for bytes no str can encode)."""
    return lambda user: soap.envelope(body, username=user.username, password=user.password).replace(
        marker.encode(), replacement
    )


NS = f'xmlns:soapenv="{soap.SOAP11_ENV}" xmlns:nvs="{TNS}"'
HEADER = "<soapenv:Header>{SECURITY}</soapenv:Header>"
OVER_LIMIT = 1024 * 1024 + 4096  # the default NVS_MAX_REQUEST_BYTES is 1 MiB
BILLION_LAUGHS = (
    '<!DOCTYPE lolz [<!ENTITY lol0 "lol">'
    + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    + "]>"
)
QUADRATIC_BLOWUP = f'<!DOCTYPE q [<!ENTITY a "{"A" * 50_000}">]>'


# --- the cases ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[SandboxUser], bytes | Iterable[bytes] | None]
    code: str | tuple[str, ...]  # the GatewayFault code (or the acceptable codes)
    field: str | None = None  # the expected `field`; None: the detail must have none
    faultcode: str = "Client"  # SOAP 1.1 §4.4.1: Client, or VersionMismatch / MustUnderstand
    method: str = "POST"
    content_type: str | None = TEXT_XML
    statuses: tuple[int, ...] = (500,)
    secret: str = SENT_CODE  # never in the response or a log record
    absent: tuple[str, ...] = ()  # more strings the response must not contain
    faultstring: str | None = None  # the exact faultstring, where it is part of the contract
    bug: str | None = None  # a product bug: the case runs as a strict xfail in test_known_bug
    bug_on: tuple[str, ...] = ("sqlite", "postgresql")  # the databases the bug shows on

    def __str__(self) -> str:
        return self.id


TRANSPORT = [
    Case(
        "GET /registry without ?wsdl",
        lambda user: None,
        "MalformedMessage",
        method="GET",
        content_type=None,
        statuses=(405, 500),
    ),
    Case("PUT /registry", signed(create_group()), "MalformedMessage", method="PUT", statuses=(405, 500)),
    Case("DELETE /registry", signed(create_group()), "MalformedMessage", method="DELETE", statuses=(405, 500)),
    Case(
        "POST with Content-Type application/json",
        signed(create_group()),
        "MalformedMessage",
        content_type="application/json",
    ),
    Case(
        "POST without Content-Type",
        signed(create_group()),
        "MalformedMessage",
        content_type=None,
    ),
    Case("empty body", lambda user: b"", "MalformedMessage"),
    Case("truncated XML", lambda user: signed(lookup())(user)[:-40], "MalformedMessage"),
    Case("not XML at all", lambda user: f"personalCode={SENT_CODE}".encode(), "MalformedMessage"),
    Case(
        "non-SOAP root element",
        lambda user: f'<?xml version="1.0"?><request xmlns="{TNS}">{lookup()}</request>'.encode(),
        "MalformedMessage",
    ),
    Case(
        "SOAP 1.2 envelope", signed(lookup(), soap_ns=soap.SOAP12_ENV), "VersionMismatch", faultcode="VersionMismatch"
    ),
    Case("envelope without Body", raw(f"<soapenv:Envelope {NS}>{HEADER}</soapenv:Envelope>"), "MalformedMessage"),
    Case("empty Body", signed(""), "MalformedMessage"),
    Case("Body with text only", signed(f"personalCode {SENT_CODE}"), "MalformedMessage"),
    Case("Body with a comment only", signed(f"<!-- {SENT_CODE} -->"), "MalformedMessage"),
    Case(
        "Body with two children",
        signed(create_group("Pirma") + create_group("Antra")),
        "MalformedMessage",
    ),
    Case(
        "envelope with two Body elements",
        raw(
            f"<soapenv:Envelope {NS}>{HEADER}<soapenv:Body>{create_group('Pirma')}</soapenv:Body>"
            f"<soapenv:Body>{create_group('Antra')}</soapenv:Body></soapenv:Envelope>"
        ),
        "MalformedMessage",
    ),
    Case(
        "unknown operation",
        signed(f"<nvs:DeleteRegistrations><nvs:personalCode>{SENT_CODE}</nvs:personalCode></nvs:DeleteRegistrations>"),
        "UnknownOperation",
    ),
    Case(
        "operation name in a wrong namespace",
        signed(
            lookup()
            .replace("nvs:", "x:")
            .replace("<x:LookupPerson>", '<x:LookupPerson xmlns:x="urn:lt:mokiniu-registras:nvs-gateway:v2">', 1)
        ),
        "UnknownOperation",
    ),
    Case("operation element in no namespace", signed(lookup().replace("nvs:", "")), "UnknownOperation"),
    Case(
        "a response element sent as a request",
        signed(
            f"<nvs:LookupPersonResponse><nvs:person><nvs:personalCode>{SENT_CODE}</nvs:personalCode><nvs:firstName>A</nvs:firstName>"
            "<nvs:lastName>B</nvs:lastName></nvs:person></nvs:LookupPersonResponse>"
        ),
        "UnknownOperation",
    ),
    Case(
        "a SOAP Fault sent as a request",
        signed(
            f"<soapenv:Fault><faultcode>soapenv:Client</faultcode><faultstring>{SENT_CODE}</faultstring></soapenv:Fault>"
        ),
        ("UnknownOperation", "MalformedMessage"),
    ),
]

XML_ATTACKS = [
    Case(
        "DOCTYPE with external entity (XXE file:///etc/passwd)",
        with_doctype('<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', lookup("&xxe;")),
        "ForbiddenXmlConstruct",
        absent=("root:", "/bin/"),
    ),
    Case(
        "DOCTYPE with an external DTD over the network",
        with_doctype('<!DOCTYPE x SYSTEM "http://127.0.0.1:9/evil.dtd">', lookup()),
        "ForbiddenXmlConstruct",
    ),
    Case(
        "DOCTYPE with an external parameter entity",
        with_doctype('<!DOCTYPE x [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>', lookup()),
        ("ForbiddenXmlConstruct", "MalformedMessage"),
        absent=("root:",),
    ),
    Case(
        "internal entity",
        with_doctype(f'<!DOCTYPE x [<!ENTITY code "{SENT_CODE}">]>', lookup("&code;")),
        "ForbiddenXmlConstruct",
    ),
    Case(
        "billion laughs",
        with_doctype(BILLION_LAUGHS, create_group("&lol9;")),
        "ForbiddenXmlConstruct",
    ),
    Case(
        "quadratic blowup",
        with_doctype(QUADRATIC_BLOWUP, create_group("&a;" * 2_000)),
        "ForbiddenXmlConstruct",
    ),
    Case(
        "nesting depth 300",
        signed(lookup().replace(SENT_CODE, "<nvs:x>" * 300 + SENT_CODE + "</nvs:x>" * 300)),
        "MalformedMessage",
    ),
    # The size limit (1 MiB) comes before libxml2's 10 MB text-node limit.
    Case("20 MB text node", signed(lookup(SENT_CODE * (20 * 1024 * 1024 // len(SENT_CODE)))), "RequestTooLarge"),
    Case(
        "body over the size limit, with Content-Length",
        signed(lookup(SENT_CODE * (OVER_LIMIT // len(SENT_CODE)))),
        "RequestTooLarge",
    ),
    Case(
        "body over the size limit, chunked (no Content-Length)",
        lambda user: iter([signed(lookup(SENT_CODE * (OVER_LIMIT // len(SENT_CODE))))(user)]),
        "RequestTooLarge",
    ),
]

SCHEMA = [
    Case("wrong type: groupId not an integer", signed(register(group_id="abc")), "InvalidMessage", field="groupId"),
    Case(
        "wrong type: firstLearningDate not a date",
        signed(register(first="1 September 2026")),
        "InvalidMessage",
        field="firstLearningDate",
    ),
    Case(
        "wrong type: contract date not a date",
        signed(register(contract_xml=contract(date="2026-13-01"))),
        "InvalidMessage",
        field="contract/date",
    ),
    Case(
        "personal code with a letter",
        signed(lookup(SENT_CODE[:-1] + "X")),
        "InvalidMessage",
        field="personalCode",
        secret=SENT_CODE[:-1],
    ),
    Case("personal code of 12 digits", signed(lookup(SENT_CODE + "0")), "InvalidMessage", field="personalCode"),
    Case(
        "leader personal code of 10 digits",
        signed(create_group(leaders=leader(code=SENT_CODE[:10]))),
        "InvalidMessage",
        field="leader/personalCode",
        secret=SENT_CODE[:10],
    ),
    Case(
        "personal code with a wrong check digit",
        signed(lookup(CHECKSUM_WRONG)),
        "InvalidPersonalCode",
        field="personalCode",
        secret=CHECKSUM_WRONG,
    ),
    Case(
        "Identifier above xs:long", signed(register(group_id="9223372036854775808")), "InvalidMessage", field="groupId"
    ),
    Case(
        "groupId at int4's maximum (2147483647)",
        signed(register(group_id="2147483647")),
        "GroupNotFound",
        field="groupId",
    ),
    Case(
        "groupId one above int4 (2147483648)",
        signed(register(group_id="2147483648")),
        "GroupNotFound",
        field="groupId",
    ),
    Case(
        "registrationId at xs:long's maximum",
        signed(
            "<nvs:CancelRegistration><nvs:registrationId>9223372036854775807</nvs:registrationId><nvs:reason>x</nvs:reason></nvs:CancelRegistration>"
        ),
        "RegistrationNotFound",
        field="registrationId",
    ),
    Case(
        "extra element in a foreign namespace",
        signed(lookup().replace("</nvs:LookupPerson>", '<x:admin xmlns:x="urn:x">1</x:admin></nvs:LookupPerson>')),
        "InvalidMessage",
        field="admin",
    ),
    Case(
        "extra second personalCode",
        signed(
            lookup().replace(
                "</nvs:LookupPerson>", f"<nvs:personalCode>{SENT_CODE}</nvs:personalCode></nvs:LookupPerson>"
            )
        ),
        "InvalidMessage",
        field="personalCode[2]",
    ),
    Case(
        "wrong order inside contract",
        signed(
            register(
                contract_xml="<nvs:contract><nvs:number>S-1</nvs:number><nvs:typeCode>BILATERAL</nvs:typeCode>"
                "<nvs:date>2026-09-01</nvs:date></nvs:contract>"
            )
        ),
        "InvalidMessage",
        field="contract/number",
    ),
    Case(
        "unqualified leader children",
        signed(
            create_group(
                leaders=f"<nvs:leader><firstName>Ona</firstName><lastName>K</lastName>"
                f"<personalCode>{SENT_CODE}</personalCode></nvs:leader>"
            )
        ),
        "InvalidMessage",
        field="leader/firstName",
    ),
    Case(
        "leader first name one past maxLength (101)",
        signed(create_group(leaders=leader(first="A" * 101))),
        "InvalidMessage",
        field="leader/firstName",
    ),
    Case(
        "contract number one past maxLength (51)",
        signed(register(contract_xml=contract(number="N" * 51))),
        "InvalidMessage",
        field="contract/number",
    ),
    Case(
        "classifier code one past maxLength (21)",
        signed(create_group(sub="M" * 21)),
        "InvalidMessage",
        field="subDirectionCode",
    ),
    Case(
        "xsi:nil on a required element",
        signed(
            create_group().replace(
                "<nvs:name>Fortepijonas 1</nvs:name>",
                '<nvs:name xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:nil="true"/>',
            )
        ),
        "InvalidMessage",
        field="name",
    ),
    Case(
        "xsi:type overriding the declared type",
        signed(
            lookup().replace(
                "<nvs:personalCode>",
                '<nvs:personalCode xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" xsi:type="xs:string">',
            )
        ),
        "InvalidMessage",
        field="personalCode",
    ),
    Case(
        "missing required element: LookupPerson without personalCode",
        signed("<nvs:LookupPerson/>"),
        "InvalidMessage",
        field="personalCode",
    ),
    Case(
        "missing required element: RegisterStudent without groupId",
        signed(register(group_id=None)),
        "InvalidMessage",
        field="groupId",
    ),
    Case(
        "a date xs:date allows but Python cannot hold (year 10000)",
        signed(register(first="10000-09-01")),
        "InvalidMessage",
        field="firstLearningDate",
    ),
    # xs:date collapses white space, so ' 2026-09-01 ' is a valid date; the group is what is missing.
    Case(
        "a valid date with white space around it",
        signed(register(group_id="999999", first=" 2026-09-01 ")),
        "GroupNotFound",
        field="groupId",
        bug="Spyne's Date parser refuses white space the XSD allows: InvalidMessage without a field",
    ),
]

UNICODE = [
    Case("NUL character", signed(create_group(f"Grupė\x00{SENT_CODE}")), "MalformedMessage"),
    Case("C0 control character U+0001", signed(create_group(f"Grupė\x01{SENT_CODE}")), "MalformedMessage"),
    Case("C0 control character U+001B (ESC)", signed(create_group(f"Grupė\x1b[31m{SENT_CODE}")), "MalformedMessage"),
    Case("C0 control character as a reference &#1;", signed(create_group(f"Grupė&#1;{SENT_CODE}")), "MalformedMessage"),
    Case("NUL as a reference &#0;", signed(lookup(f"&#0;{SENT_CODE}")), "MalformedMessage"),
    Case("U+FFFF (a non-character)", signed(create_group(f"Grupė\uffff{SENT_CODE}")), "MalformedMessage"),
    Case(
        "a lone surrogate (CESU bytes ED A0 80)",
        patched(create_group(f"Grupė@@{SENT_CODE}"), "@@", b"\xed\xa0\x80"),
        "MalformedMessage",
    ),
    Case(
        "bytes that are not UTF-8", patched(create_group(f"Grup@@{SENT_CODE}"), "@@", b"\xff\xfe"), "MalformedMessage"
    ),
    Case(
        "an unknown charset",
        lambda user: signed(lookup())(user).replace(b'encoding="UTF-8"', b'encoding="x-no-such-charset"'),
        "MalformedMessage",
    ),
]

AUTH_MESSAGE = AuthenticationFailed.default_message
AUTH = [
    Case(
        "no Security header",
        lambda user: soap.envelope(create_group()),
        "AuthenticationFailed",
        faultstring=AUTH_MESSAGE,
    ),
    Case(
        "Security header without UsernameToken",
        lambda user: soap.envelope(create_group(), header=f'<wsse:Security xmlns:wsse="{soap.WSSE}"/>'),
        "AuthenticationFailed",
        faultstring=AUTH_MESSAGE,
    ),
    Case(
        "UsernameToken without Password",
        lambda user: soap.envelope(
            create_group(),
            header=f'<wsse:Security xmlns:wsse="{soap.WSSE}"><wsse:UsernameToken>'
            f"<wsse:Username>{user.username}</wsse:Username></wsse:UsernameToken></wsse:Security>",
        ),
        "AuthenticationFailed",
        faultstring=AUTH_MESSAGE,
    ),
    Case(
        "wrong password",
        lambda user: soap.envelope(create_group(), username=user.username, password=user.password + "x"),
        "AuthenticationFailed",
        faultstring=AUTH_MESSAGE,
        absent=("sandbox-",),
    ),
    Case(
        "empty password",
        lambda user: soap.envelope(create_group(), username=user.username, password=""),
        "AuthenticationFailed",
        faultstring=AUTH_MESSAGE,
        absent=("sandbox-",),
    ),
    Case(
        "unknown user",
        lambda user: soap.envelope(create_group(), username="sandbox-399999999", password=user.password),
        "AuthenticationFailed",
        faultstring=AUTH_MESSAGE,
        absent=("399999999",),
    ),
]


def golden_invalid_cases() -> list[Case]:
    """Every ``*.invalid.xml`` of the golden messages, with a Security header: InvalidMessage naming the MANIFEST's element.

    The gateway's `field` is a path below the operation ("contract/number", "subDirectionCode[21]",
    "leader[1]/personalCode"): its last step, without the index, must be the element the MANIFEST blames.
    A request element in another namespace is not an operation at all: UnknownOperation (faults.toml).
    """
    parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, remove_comments=True)
    cases = []
    for line in MANIFEST.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        file, kind, what = line.split(None, 2)
        if kind != "invalid":
            continue
        blamed = what.partition(":")[0].strip()
        document = (MESSAGES / file).read_bytes()
        body = etree.fromstring(document, parser).find(f"{{{soap.SOAP11_ENV}}}Body")
        payload = [child for child in body if isinstance(child.tag, str)][0]
        codes = [el.text for el in payload.iter() if etree.QName(el).localname == "personalCode" and el.text]
        secret = codes[0] if codes and len(codes[0]) >= 10 else SENT_CODE
        if etree.QName(payload).namespace != TNS:
            cases.append(Case(f"golden {file}", _golden(document), "UnknownOperation", secret=secret))
        else:
            cases.append(Case(f"golden {file}", _golden(document), "InvalidMessage", field=f"~{blamed}", secret=secret))
    return cases


def _golden(document: bytes) -> Callable[[SandboxUser], bytes]:
    return lambda user: soap.add_security(document, user.username, user.password)


GOLDEN_INVALID = golden_invalid_cases()
TABLES = {
    "transport": TRANSPORT,
    "xml-attacks": XML_ATTACKS,
    "schema": SCHEMA,
    "unicode": UNICODE,
    "auth": AUTH,
    "golden": GOLDEN_INVALID,
}
BUGS = [case for table in TABLES.values() for case in table if case.bug]


# --- checking a refusal ----------------------------------------------------------------------
@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything logged at INFO or above, as the gateway is configured.

    Spyne is the exception: on a parse error it logs the whole request string at ERROR
    (spyne.protocol.soap.soap11.invalid: password and personal code included), so
    gateway/soap/app.py silences the 'spyne' logger. Lowering it here would test a
    configuration the gateway never runs with; the test asserts the silence instead.
    """
    assert logging.getLogger("spyne").getEffectiveLevel() > logging.CRITICAL, (
        "the 'spyne' logger must stay silenced: it logs whole envelopes (passwords, personal codes) at ERROR"
    )
    for name in CAPTURED_LOGGERS:
        caplog.set_level(logging.INFO, logger=name)
    return caplog


def _record_text(record: logging.LogRecord) -> str:
    return logging.Formatter("%(name)s %(levelname)s %(message)s").format(record)


def _field_matches(expected: str, actual: str | None) -> bool:
    if expected.startswith("~"):  # the path's last step names the element (golden messages)
        return actual is not None and re.sub(r"\[\d+\]$", "", actual.rsplit("/", 1)[-1]) == expected[1:]
    return actual == expected


def refusal_problems(gateway, user: SandboxUser, case: Case, logs: pytest.LogCaptureFixture) -> list[str]:
    """Send the case; return what is wrong with the gateway's answer (nothing when it is right)."""
    before = gateway.database.snapshot()
    first_record = len(logs.records)
    response = soap.post(gateway.registry_url, case.build(user), content_type=case.content_type, method=case.method)
    problems: list[str] = []
    after = gateway.database.snapshot()
    if after != before:
        problems.append(f"the database changed: {before} -> {after}")
    body = response.text
    for marker in LEAK_MARKERS + case.absent + (case.secret, user.password):
        if marker in body:
            problems.append(f"the response contains {marker[:40]!r}")
    for record in logs.records[first_record:]:
        logged = _record_text(record)
        for secret in (case.secret, user.password):
            if secret in logged:
                problems.append(f"log record of {record.name} contains {secret[:20]!r}: {logged[:200]!r}")
        if record.levelno >= logging.ERROR:
            problems.append(
                f"a client error logged at {record.levelname} by {record.name}: {record.getMessage()[:200]!r}"
            )
    try:
        fault = soap.parse_fault(response)
    except AssertionError as exc:
        problems.append(f"not a SOAP 1.1 GatewayFault ({exc}); HTTP {response.status_code}: {body[:300]!r}")
        return problems
    codes = case.code if isinstance(case.code, tuple) else (case.code,)
    if fault.status not in case.statuses:
        problems.append(f"HTTP {fault.status}, expected {' or '.join(map(str, case.statuses))}")
    if not fault.content_type.startswith("text/xml"):
        problems.append(f"Content-Type {fault.content_type!r}")
    if fault.faultcode != case.faultcode:
        problems.append(f"faultcode {fault.faultcode}, expected {case.faultcode}")
    if fault.code not in codes:
        problems.append(f"code {fault.code!r}, expected {' or '.join(codes)} (faultstring {fault.faultstring!r})")
    if not re.fullmatch(r"[0-9a-f]{32}|[0-9a-f-]{36}", fault.detail.get("correlationId", "")):
        problems.append(f"correlationId {fault.detail.get('correlationId')!r}")
    if fault.detail.get("message") != fault.faultstring:
        problems.append("the detail's message differs from the faultstring")
    if case.field is None:
        if "field" in fault.detail:
            problems.append(f"unexpected field {fault.detail['field']!r}")
    elif not _field_matches(case.field, fault.detail.get("field")):
        problems.append(f"field {fault.detail.get('field')!r}, expected {case.field.lstrip('~')!r}")
    if case.faultstring is not None and fault.faultstring != case.faultstring:
        problems.append(f"faultstring {fault.faultstring!r}, expected {case.faultstring!r}")
    return problems


def check_table(gateway, cases: list[Case], logs: pytest.LogCaptureFixture) -> None:
    user = gateway.database.user(MUSIC_SCHOOL)
    report = []
    for case in cases:
        if case.bug and gateway.database.kind in case.bug_on:
            continue
        problems = refusal_problems(gateway, user, case, logs)
        report += [f"[{case.id}] {problem}" for problem in problems]
    assert not report, f"{len(report)} problem(s) on {gateway.database.kind}:\n" + "\n".join(report)


# --- the tables ------------------------------------------------------------------------------
@pytest.mark.parametrize("table", ["transport", "xml-attacks", "schema", "unicode", "golden"])
def test_bad_requests_get_a_clean_client_fault_and_change_nothing(live_gateway, logs, table):
    check_table(live_gateway, TABLES[table], logs)


def test_every_authentication_failure_gets_the_same_fault(live_gateway, logs):
    check_table(live_gateway, AUTH, logs)


@pytest.mark.parametrize("case", [pytest.param(case, id=case.id) for case in BUGS])
def test_known_bug(live_gateway, logs, request, case):
    """A case showing a product bug: a strict xfail on the databases it shows on, a plain test elsewhere."""
    if live_gateway.database.kind in case.bug_on:
        request.node.add_marker(pytest.mark.xfail(strict=True, reason=f"BUG: {case.bug}"))
    problems = refusal_problems(live_gateway, live_gateway.database.user(MUSIC_SCHOOL), case, logs)
    assert not problems, f"[{case.id}] " + "; ".join(problems)


def test_schema_fault_messages_quote_the_contract_faithfully(live_gateway):
    user = live_gateway.database.user(MUSIC_SCHOOL)
    expectations = [  # (request body, what the faultstring must do, check)
        (lookup(SENT_CODE[:-1] + "X"), "quote the pattern [0-9]{11}", lambda text: "[0-9]{11}" in text),
        (
            "<nvs:ListGroups><nvs:schoolYear>2026-2027</nvs:schoolYear><nvs:purpose>NVŠ</nvs:purpose></nvs:ListGroups>",
            "name the allowed values NVS and FSPU",
            lambda text: "NVS" in text and "FSPU" in text,
        ),
        (
            f"<nvs:GetStudent><personalCode>{SENT_CODE}</personalCode></nvs:GetStudent>",
            "not contradict itself ('personalCode is not expected. Expected is ( personalCode )')",
            lambda text: "Expected is ( personalCode )" not in text,
        ),
    ]
    wrong = []
    for body, should, check in expectations:
        fault = soap.parse_fault(soap.post(live_gateway.registry_url, signed(body)(user)))
        assert fault.code == "InvalidMessage"
        if not check(fault.faultstring):
            wrong.append(f"{fault.faultstring!r} should {should}")
    assert not wrong, "\n".join(wrong)


# --- free text is stored and returned literally ------------------------------------------------
def call(gateway, body: str) -> etree._Element:
    user = gateway.database.user(MUSIC_SCHOOL)
    return soap.parse_success(soap.post(gateway.registry_url, signed(body)(user)))


def listed_group_names(gateway) -> list[str]:
    listed = call(
        gateway, f"<nvs:ListGroups><nvs:schoolYear>{SchoolYear.containing(E2E_TODAY)}</nvs:schoolYear></nvs:ListGroups>"
    )
    return [name.text or "" for name in listed.iter(f"{{{TNS}}}name")]


def test_group_name_length_counts_characters_not_bytes(live_gateway, logs):
    emoji_200 = "🎹" * 200  # 200 characters, 800 bytes in UTF-8, 400 UTF-16 code units
    created = call(live_gateway, create_group(emoji_200))
    assert soap.text_of(created, "group/name") == emoji_200
    assert listed_group_names(live_gateway) == [emoji_200]

    case = Case("group name of 201 emoji", signed(create_group("🎹" * 201)), "InvalidMessage", field="name")
    problems = refusal_problems(live_gateway, live_gateway.database.user(MUSIC_SCHOOL), case, logs)
    assert not problems, problems


def test_names_are_stored_normalised_keeping_bidi_controls_and_inner_joiners(live_gateway, logs):
    name = "Fortepijonas \u202eA1\u202c \u200d\u200b\ufeff"  # RTL override, pop; then ZWJ, zero-width space, ZWNBSP at the end
    stored = (
        "Fortepijonas \u202eA1\u202c"  # invisible characters and white space at the end trimmed, bidi controls kept
    )
    first, last = "Ona\u200dMarija", "Kairien\u0117\u202e"  # a joiner inside, an override at the end: kept
    leaders = leader(first, last, code=None)
    created = call(live_gateway, create_group(escape(name), leaders=leaders))
    assert soap.text_of(created, "group/name") == stored
    assert (soap.text_of(created, "group/leader/firstName"), soap.text_of(created, "group/leader/lastName")) == (
        first,
        last,
    )
    listed = call(
        live_gateway,
        f"<nvs:ListGroups><nvs:schoolYear>{SchoolYear.containing(E2E_TODAY)}</nvs:schoolYear></nvs:ListGroups>",
    )
    group = listed.find(f"{{{TNS}}}section/{{{TNS}}}group")
    assert soap.text_of(group, "name") == stored
    assert soap.text_of(group, "leader/firstName") == first and soap.text_of(group, "leader/lastName") == last
    # NFC and NFD spellings, or a name with a space at its end, are the name already taken.
    nfc, nfd = "Grup\u0117", "Grupe\u0307"
    call(live_gateway, create_group(nfd))
    assert listed_group_names(live_gateway).count(nfc) == 1, "stored in NFC"
    user = live_gateway.database.user(MUSIC_SCHOOL)
    for same in (nfc, "  grupė ", "GRUPĖ", "Grup\u00ade\u0307"):
        case = Case(
            f"group name {same!r} beside {nfc!r}", signed(create_group(same)), "DuplicateGroupName", field="name"
        )
        problems = refusal_problems(live_gateway, user, case, logs)
        assert not problems, problems


INJECTION_STRINGS = (
    "' OR 1=1--",
    '"; DROP TABLE registration;--',
    "%",
    "_",
    "\\",
    "<script>alert(1)</script>",
    "') or ('1'='1",  # XPath
    "%' OR name LIKE '%",
    "${jndi:ldap://127.0.0.1/x}",
)


def test_injection_strings_are_stored_and_returned_literally(live_gateway):
    database = live_gateway.database
    user = database.user(MUSIC_SCHOOL)
    for value in INJECTION_STRINGS:
        response = soap.post(live_gateway.registry_url, signed(create_group(escape(value)))(user))
        assert "<script>" not in response.text, "markup must come back escaped"
        assert soap.text_of(soap.parse_success(response), "group/name") == value
    # '%' and '_' are names, not LIKE patterns: each exists once, and a second '%' is a duplicate.
    assert sorted(listed_group_names(live_gateway)) == sorted(INJECTION_STRINGS)
    duplicate = soap.parse_fault(soap.post(live_gateway.registry_url, signed(create_group("%"))(user)))
    assert (duplicate.code, duplicate.detail.get("field")) == ("DuplicateGroupName", "name")

    # A cancellation reason carrying all of them at once.
    school_year = SchoolYear.containing(E2E_TODAY)
    first_day = school_year.starts_on.isoformat()
    child = child_code(dt.date(2014, 4, 4), 404, male=False)
    registered = call(live_gateway, register(code=child, first=first_day, contract_xml=contract(date=first_day)))
    registration_id = soap.text_of(registered, "registration/registrationId")
    reason = " | ".join(INJECTION_STRINGS)
    response = soap.post(
        live_gateway.registry_url,
        signed(
            f"<nvs:CancelRegistration><nvs:registrationId>{registration_id}</nvs:registrationId>"
            f"<nvs:reason>{escape(reason)}</nvs:reason></nvs:CancelRegistration>"
        )(user),
    )
    assert "<script>" not in response.text
    cancelled = soap.parse_success(response)
    assert soap.text_of(cancelled, "registration/status") == "cancelled"
    assert soap.text_of(cancelled, "registration/cancellationReason") == reason
    with database.engine.connect() as connection:
        stored = connection.execute(
            text("SELECT cancellation_reason FROM registration WHERE id = :id"), {"id": int(registration_id)}
        ).scalar_one()
    assert stored == reason

    # Every table is still there, with what the test wrote.
    snapshot = database.snapshot()
    assert snapshot["nvs_group"] == len(INJECTION_STRINGS) and snapshot["registration"] == 1 and snapshot["person"] == 1
    assert snapshot["app_user"] > 0 and snapshot["institution"] > 0 and snapshot["program"] > 0
