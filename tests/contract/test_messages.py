"""The public contract (xsd/ + wsdl/) against its golden messages (tests/messages/registry/).

* every MANIFEST line: a ``valid`` message's payload (the SOAP Body's child, or the Fault
  detail's child) is the expected element and passes the XSD; an ``invalid`` one fails it,
  and every error is about the element the MANIFEST names (so a file cannot fail for a
  reason nobody intended); libxml2, the runtime validator, agrees with xmlschema;
* the MANIFEST and the directory list the same files;
* the XSD keeps the shape rules Spyne can mirror (sequences only, bounded strings and lists,
  documented types, one named type per wrapper);
* the WSDL loads in zeep, binds every operation document/literal with the GatewayFault
  fault, and zeep reads and writes the golden payloads exactly as they are.
"""

from __future__ import annotations

import collections
import re
from pathlib import Path

import pytest
import xmlschema
from lxml import etree
from zeep import Client, Settings

from gateway.domain.personal_code import is_valid_personal_code

ROOT = Path(__file__).resolve().parents[2]
XSD_FILE = ROOT / "xsd" / "nvs-gateway-v1.xsd"
WSDL_FILE = ROOT / "wsdl" / "nvs-gateway-v1.wsdl"
MESSAGES = ROOT / "tests" / "messages" / "registry"
MANIFEST = MESSAGES / "MANIFEST"

TNS = "urn:lt:mokiniu-registras:nvs-gateway:v1"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
XS = "http://www.w3.org/2001/XMLSchema"
WSDL = "http://schemas.xmlsoap.org/wsdl/"
WSDL_SOAP = "http://schemas.xmlsoap.org/wsdl/soap/"
BINDING = f"{{{TNS}}}NvsRegistryBinding"

# Every operation of the checked-in WSDL's port type (test_wsdl_equivalence.py holds Spyne to the same list).
OPERATIONS = tuple(
    op.get("name")
    for op in etree.parse(str(ROOT / "wsdl" / "nvs-gateway-v1.wsdl")).iter(f"{{{WSDL}}}portType")
    for op in op.iter(f"{{{WSDL}}}operation")
)
# Global elements that are SOAP headers, not operation wrappers.
HEADER_ELEMENTS = {"accessPurpose", "requestId"}

# Golden messages are read like requests from outside: no DTD, no entities, no network.
PARSER = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, remove_comments=True)

ManifestLine = collections.namedtuple("ManifestLine", "file kind what")


def read_manifest() -> list[ManifestLine]:
    lines = []
    for raw in MANIFEST.read_text(encoding="utf-8").splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        file, kind, what = raw.split(None, 2)
        assert kind in ("valid", "invalid"), raw
        lines.append(ManifestLine(file, kind, what.strip()))
    return lines


ENTRIES = read_manifest()
VALID = [e for e in ENTRIES if e.kind == "valid"]
INVALID = [e for e in ENTRIES if e.kind == "invalid"]


def payload_of(path: Path) -> etree._Element:
    """The SOAP 1.1 Body's only child, or for a Fault the child of its detail."""
    tree = etree.parse(str(path), PARSER)
    assert tree.docinfo.doctype == "", f"{path.name}: SOAP messages carry no DTD"
    envelope = tree.getroot()
    assert envelope.tag == f"{{{SOAP_ENV}}}Envelope", f"{path.name}: not a SOAP 1.1 envelope"
    body = envelope.find(f"{{{SOAP_ENV}}}Body")
    assert body is not None, f"{path.name}: no soap:Body"
    children = [c for c in body if isinstance(c.tag, str)]
    assert len(children) == 1, f"{path.name}: the Body must hold exactly one element"
    payload = children[0]
    if payload.tag == f"{{{SOAP_ENV}}}Fault":
        assert [c.tag for c in payload][:2] == ["faultcode", "faultstring"], f"{path.name}: SOAP 1.1 fault layout"
        detail = payload.find("detail")
        assert detail is not None and len(detail) == 1, f"{path.name}: a fault detail with one element"
        payload = detail[0]
    return payload


def local(tag: str) -> str:
    return etree.QName(tag).localname


def as_resource(payload: etree._Element) -> xmlschema.XMLResource:
    """An in-memory payload for a sandboxed schema: it needs a base_url of its own."""
    return xmlschema.XMLResource(payload, base_url=str(MESSAGES), allow="sandbox")


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    # An absolute path: a relative one with allow='sandbox' resolved to xsd/xsd/ (soap-stack §1.5).
    return xmlschema.XMLSchema(str(XSD_FILE), allow="sandbox")


@pytest.fixture(scope="module")
def libxml2_schema() -> etree.XMLSchema:
    """The engine the gateway validates requests with at runtime (soap-stack §1.2)."""
    return etree.XMLSchema(etree.parse(str(XSD_FILE), PARSER))


@pytest.fixture(scope="module")
def xsd_tree() -> etree._ElementTree:
    return etree.parse(str(XSD_FILE), PARSER)


@pytest.fixture(scope="module")
def wsdl_tree() -> etree._ElementTree:
    return etree.parse(str(WSDL_FILE), PARSER)


@pytest.fixture(scope="module")
def client() -> Client:
    return Client(str(WSDL_FILE), settings=Settings(strict=True, forbid_dtd=True, forbid_external=True))


# --- golden messages against the XSD ------------------------------------------
@pytest.mark.parametrize("entry", VALID, ids=lambda e: e.file)
def test_valid_message_passes_the_schema(entry: ManifestLine, schema: xmlschema.XMLSchema) -> None:
    payload = payload_of(MESSAGES / entry.file)
    assert payload.tag == f"{{{TNS}}}{entry.what}"
    schema.validate(as_resource(payload))


@pytest.mark.parametrize("entry", INVALID, ids=lambda e: e.file)
def test_invalid_message_fails_the_schema_for_its_stated_reason(
    entry: ManifestLine, schema: xmlschema.XMLSchema
) -> None:
    payload = payload_of(MESSAGES / entry.file)
    assert local(payload.tag) in OPERATIONS, "invalid messages are request bodies"
    blamed, _, reason = entry.what.partition(":")
    assert reason.strip(), f"MANIFEST line of {entry.file} needs '<element>: <reason>'"
    errors = list(schema.iter_errors(as_resource(payload)))
    assert errors, f"{entry.file} passed the schema; expected: {entry.what}"
    # Each error is on the blamed element, or names it as a missing/unexpected child.
    named = re.compile(rf"[:}}']{re.escape(blamed)}'")
    for error in errors:
        on_it = error.elem is not None and local(error.elem.tag) == blamed
        assert on_it or named.search(error.reason or ""), (
            f"{entry.file}: unexpected error {error.reason!r} at {error.path}"
        )


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.file)
def test_libxml2_gives_the_same_verdict(entry: ManifestLine, libxml2_schema: etree.XMLSchema) -> None:
    payload = etree.fromstring(etree.tostring(payload_of(MESSAGES / entry.file)))
    assert libxml2_schema.validate(payload) is (entry.kind == "valid"), str(libxml2_schema.error_log.last_error)


# --- the MANIFEST is complete ------------------------------------------------------
def test_manifest_and_directory_list_the_same_files() -> None:
    listed = [e.file for e in ENTRIES]
    duplicates = sorted(f for f, n in collections.Counter(listed).items() if n > 1)
    assert not duplicates, f"listed twice in MANIFEST: {duplicates}"
    present = {p.name for p in MESSAGES.iterdir() if p.is_file() and p.name != "MANIFEST"}
    assert sorted(present - set(listed)) == [], "files missing from MANIFEST"
    assert sorted(set(listed) - present) == [], "MANIFEST lines without a file"


def test_every_operation_has_a_golden_request_and_response() -> None:
    valid = {(e.file, e.what) for e in VALID}
    for op in OPERATIONS:
        assert (f"{op}.request.xml", op) in valid
        assert (f"{op}.response.xml", f"{op}Response") in valid
    assert ("fault-person-not-found.xml", "GatewayFault") in valid
    assert ("fault-invalid-message.xml", "GatewayFault") in valid
    assert len(INVALID) >= 12
    assert all(e.file.endswith(".invalid.xml") for e in INVALID)
    assert all(not e.file.endswith(".invalid.xml") for e in VALID)


@pytest.mark.parametrize("entry", VALID, ids=lambda e: e.file)
def test_personal_codes_in_valid_messages_are_checksum_valid(entry: ManifestLine) -> None:
    codes = [el.text for el in payload_of(MESSAGES / entry.file).iter(f"{{{TNS}}}personalCode")]
    assert all(is_valid_personal_code(code) for code in codes), entry.file


# --- the XSD keeps the shape Spyne can mirror --------------------------------------
def test_schema_header(xsd_tree: etree._ElementTree) -> None:
    root = xsd_tree.getroot()
    assert root.get("targetNamespace") == TNS
    assert root.get("elementFormDefault") == "qualified"
    assert re.fullmatch(r"1\.\d+", root.get("version"))  # minor versions are additive within the v1 namespace


def test_schema_uses_only_sequences_and_elements(xsd_tree: etree._ElementTree) -> None:
    forbidden = (
        "all",
        "choice",
        "any",
        "anyAttribute",
        "attribute",
        "attributeGroup",
        "group",
        "extension",
        "union",
        "list",
        "include",
        "import",
        "redefine",
    )
    for name in forbidden:
        assert xsd_tree.findall(f".//{{{XS}}}{name}") == [], f"xs:{name} is not allowed"
    assert xsd_tree.xpath("//*[@mixed='true' or @substitutionGroup or @abstract='true' or @nillable='true']") == []
    assert xsd_tree.xpath("//*[@ref]") == [], "local elements are declared, not referenced"
    for element in xsd_tree.iter(f"{{{XS}}}element"):
        assert element.get("type"), f"element {element.get('name')} needs a named type (no anonymous types)"


# Lists a response may hold without a fixed bound: the gateway writes them, no caller can inflate
# them, and any bound that fits them (CalculateBasket: providers times months) is more than JDK
# schema parsers accept (5,000 content-model nodes).
UNBOUNDED_RESPONSE_LISTS = {("CalculateBasketResponse", "line"), ("GetStatisticsResponse", "line")}


def test_schema_bounds_every_string_and_list(xsd_tree: etree._ElementTree) -> None:
    for simple in xsd_tree.getroot().iterfind(f"{{{XS}}}simpleType"):
        restriction = simple.find(f"{{{XS}}}restriction")
        if restriction.get("base") == "xs:string":
            assert restriction.find(f"{{{XS}}}maxLength") is not None, simple.get("name")
    for element in xsd_tree.iter(f"{{{XS}}}element"):
        owner = next(element.iterancestors(f"{{{XS}}}complexType"), None)
        if (owner is not None and owner.get("name"), element.get("name")) not in UNBOUNDED_RESPONSE_LISTS:
            assert element.get("maxOccurs", "1") != "unbounded", element.get("name")
            # JDK parsers refuse a content model of more than 5,000 nodes (jdk.xml.maxOccurLimit).
            assert int(element.get("maxOccurs", "1")) <= 5000, element.get("name")
        assert element.get("type") != "xs:string", f"{element.get('name')}: use a bounded simple type"


def test_schema_documents_every_type(xsd_tree: etree._ElementTree) -> None:
    for kind in ("simpleType", "complexType"):
        for node in xsd_tree.getroot().iterfind(f"{{{XS}}}{kind}"):
            text = node.findtext(f"{{{XS}}}annotation/{{{XS}}}documentation") or ""
            assert text.strip(), f"{node.get('name')} has no xs:documentation"


def test_wrappers_have_named_types_of_their_own_name(schema: xmlschema.XMLSchema) -> None:
    expected = {name for op in OPERATIONS for name in (op, f"{op}Response")} | {"GatewayFault"}
    assert set(schema.elements) == expected | HEADER_ELEMENTS
    for name, element in schema.elements.items():
        if name in HEADER_ELEMENTS:
            continue
        type_name = "GatewayFaultDetail" if name == "GatewayFault" else name
        assert element.type.name == f"{{{TNS}}}{type_name}"


# --- the WSDL ---------------------------------------------------------------------
def test_wsdl_binds_every_operation_with_the_fault(client: Client) -> None:
    binding = client.wsdl.bindings[BINDING]
    assert sorted(binding.all()) == sorted(OPERATIONS)
    for name in OPERATIONS:
        operation = binding.get(name)
        assert operation.style == "document"
        assert operation.soapaction == name
        assert operation.input.body.qname == f"{{{TNS}}}{name}"
        assert operation.output.body.qname == f"{{{TNS}}}{name}Response"
        assert list(operation.faults) == ["GatewayFault"]
        fault_parts = operation.abstract.fault_messages["GatewayFault"].parts
        assert list(fault_parts) == ["detail"]
        assert fault_parts["detail"].element.qname == f"{{{TNS}}}GatewayFault"
    port = client.wsdl.services["NvsRegistryService"].ports["NvsRegistryPort"]
    assert port.binding.name.text == BINDING
    assert port.binding_options["address"] == "http://127.0.0.1:8080/registry"


def test_wsdl_follows_the_basic_profile_checklist(wsdl_tree: etree._ElementTree) -> None:
    root = wsdl_tree.getroot()
    wsdl_children = [c for c in root if isinstance(c.tag, str) and etree.QName(c).namespace == WSDL]
    order = [local(c.tag) for c in wsdl_children if local(c.tag) != "documentation"]
    collapsed = [k for i, k in enumerate(order) if i == 0 or order[i - 1] != k]
    assert collapsed == ["types", "message", "portType", "binding", "service"]
    # The one extension: JAX-WS's binding declaration, optional (BP R2026: never wsdl:required).
    extensions = [c for c in root if isinstance(c.tag, str) and etree.QName(c).namespace != WSDL]
    assert [c.tag for c in extensions] == ["{http://java.sun.com/xml/ns/jaxws}bindings"]
    assert not root.xpath("//*[@wsdl:required]", namespaces={"wsdl": WSDL})

    schemas = root.findall(f"{{{WSDL}}}types/{{{XS}}}schema")
    assert len(schemas) == 1 and [local(c.tag) for c in schemas[0]] == ["import"]
    assert schemas[0][0].get("schemaLocation") == "../xsd/nvs-gateway-v1.xsd"

    for message in root.iterfind(f"{{{WSDL}}}message"):
        parts = message.findall(f"{{{WSDL}}}part")
        expected_part = "detail" if message.get("name") == "GatewayFault" else "parameters"
        assert [p.get("name") for p in parts] == [expected_part], message.get("name")
        assert parts[0].get("element") == f"tns:{message.get('name')}" and parts[0].get("type") is None

    soap_binding = root.find(f"{{{WSDL}}}binding/{{{WSDL_SOAP}}}binding")
    assert soap_binding.get("style") == "document"
    assert soap_binding.get("transport") == "http://schemas.xmlsoap.org/soap/http"
    for body in root.iter(f"{{{WSDL_SOAP}}}body"):
        assert dict(body.attrib) == {"use": "literal"}
    for fault in root.iter(f"{{{WSDL_SOAP}}}fault"):
        assert dict(fault.attrib) == {"name": "GatewayFault", "use": "literal"}

    for operation in root.iterfind(f"{{{WSDL}}}portType/{{{WSDL}}}operation"):
        assert local(operation[0].tag) == "documentation" and operation[0].text.strip(), operation.get("name")


# --- zeep reads and writes the golden payloads as they are ---------------------------
def _shape(element: etree._Element) -> tuple:
    """Namespace-prefix-independent form of an element: tag, text, children."""
    children = tuple(_shape(c) for c in element if isinstance(c.tag, str))
    return element.tag, (element.text or "").strip() if not children else "", children


@pytest.mark.parametrize("entry", VALID, ids=lambda e: e.file)
def test_zeep_round_trips_the_golden_payload(entry: ManifestLine, client: Client) -> None:
    payload = payload_of(MESSAGES / entry.file)
    element = client.get_element(payload.tag)
    value = element.parse(payload, client.wsdl.types)
    if value is None and not len(payload):  # zeep parses an empty request (GetMyChildren) as no value at all
        value = element.type()
    rendered = etree.Element("container")
    element.render(rendered, value)
    assert _shape(rendered[0]) == _shape(payload)


# --- the X-Road headers (xsd/xroad.xsd, vendored) ----------------------------------------
def test_the_golden_x_road_headers_are_valid_x_road_message_protocol_4_headers() -> None:
    xroad = xmlschema.XMLSchema(str(ROOT / "xsd" / "xroad.xsd"), allow="sandbox")
    envelope = etree.parse(str(MESSAGES / "GetStudent.xroad-headers.request.xml"), PARSER).getroot()
    headers = [
        h
        for h in envelope.find(f"{{{SOAP_ENV}}}Header")
        if etree.QName(h).namespace == "http://x-road.eu/xsd/xroad.xsd"
    ]
    assert [local(h.tag) for h in headers] == ["client", "service", "id", "userId", "issue", "protocolVersion"]
    for header in headers:
        xroad.validate(xmlschema.XMLResource(header, base_url=str(MESSAGES), allow="sandbox"))
    purpose = envelope.find(f"{{{SOAP_ENV}}}Header/{{{TNS}}}accessPurpose")
    xmlschema.XMLSchema(str(XSD_FILE), allow="sandbox").validate(
        xmlschema.XMLResource(purpose, base_url=str(MESSAGES), allow="sandbox")
    )
