"""zeep clients for the end-to-end tests."""

from __future__ import annotations

import datetime as dt
import time

import zeep
from stdnum.ee.ik import calc_check_digit
from zeep.exceptions import Fault
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from gateway.clock import Clock
from gateway.soap.types import TNS


def registry_client(wsdl_url: str, username: str | None, password: str | None) -> zeep.Client:
    wsse = UsernameToken(username, password) if username else None
    return zeep.Client(wsdl_url, wsse=wsse, transport=Transport(timeout=10, operation_timeout=15))


class ClockedUsernameToken(UsernameToken):
    """A PasswordDigest UsernameToken whose Created comes from the gateway's (pinned) clock,
    read anew for every message, as a client's token comes from the client's clock."""

    def __init__(self, username: str, password: str, clock: Clock, **kwargs: object) -> None:
        super().__init__(username, password, use_digest=True, **kwargs)
        self.clock = clock

    def _create_password_digest(self):
        self.created = self.clock.now().replace(microsecond=0)
        return super()._create_password_digest()


def fault_detail(fault: Fault) -> dict[str, str]:
    """The GatewayFault detail as a dict: code, message, field, correlationId."""
    assert fault.detail is not None, "fault without detail"
    element = fault.detail.find(f"{{{TNS}}}GatewayFault")
    assert element is not None, "fault detail is not a GatewayFault"
    return {child.tag.split("}")[1]: child.text for child in element}


def child_code(born: dt.date, serial: int, *, male: bool = True) -> str:
    """A checksum-valid personal code of a child born in the 2000s."""
    first10 = f"{5 if male else 6}{born:%y%m%d}{serial:03d}"
    return first10 + calc_check_digit(first10 + "0")


# --- X-Road message protocol 4.0 headers, as an X-Road client sends them -------------
XROAD = "http://x-road.eu/xsd/xroad.xsd"
IDENTIFIERS = "http://x-road.eu/xsd/identifiers"


def xroad_headers(
    service_code: str,
    message_id: str,
    *,
    user_id: str = "LT38001010010",
    issue: str | None = "NVS-2026/117",
    protocol_version: str = "4.0",
) -> list:
    """client, service, id, userId, issue, protocolVersion as lxml elements (zeep's ``_soapheaders``)."""
    from lxml import etree

    def identifier(tag: str, object_type: str, **parts: str):
        element = etree.Element(f"{{{XROAD}}}{tag}", nsmap={"xrd": XROAD, "iden": IDENTIFIERS})
        element.set(f"{{{IDENTIFIERS}}}objectType", object_type)
        for name, value in parts.items():
            etree.SubElement(element, f"{{{IDENTIFIERS}}}{name}").text = value
        return element

    def simple(tag: str, value: str):
        element = etree.Element(f"{{{XROAD}}}{tag}", nsmap={"xrd": XROAD})
        element.text = value
        return element

    headers = [
        identifier(
            "client",
            "SUBSYSTEM",
            xRoadInstance="LT",
            memberClass="GOV",
            memberCode="188710061",
            subsystemCode="nvs-client",
        ),
        identifier(
            "service",
            "SERVICE",
            xRoadInstance="LT",
            memberClass="GOV",
            memberCode="111959192",
            subsystemCode="mokiniu-registras",
            serviceCode=service_code,
            serviceVersion="v1",
        ),
        simple("id", message_id),
        simple("userId", user_id),
    ]
    if issue is not None:
        headers.append(simple("issue", issue))
    headers.append(simple("protocolVersion", protocol_version))
    return headers


def shape(element) -> tuple:
    """A namespace-prefix-independent form of an element: tag, attributes, text, children."""
    children = tuple(shape(c) for c in element if isinstance(c.tag, str))
    return (
        element.tag,
        tuple(sorted(element.attrib.items())),
        (element.text or "").strip() if not children else "",
        children,
    )


def xroad_headers_of(envelope) -> list[tuple]:
    """The X-Road headers of a received envelope, in their order, prefix-independent."""
    from lxml import etree

    header = envelope.find("{http://schemas.xmlsoap.org/soap/envelope/}Header")
    if header is None:
        return []
    return [shape(h) for h in header if isinstance(h.tag, str) and etree.QName(h).namespace == XROAD]


def changes_when_visible(service, count: int, *, after: int = 0, within: float = 60.0) -> list:
    """The feed's events after ``after`` (up to 100), read again until ``count`` show, within a bound: on
    PostgreSQL an event shows once every transaction writing when it was numbered has ended, anywhere
    on the server (a parallel test's too), so a little after its commit."""
    deadline = time.monotonic() + within
    while True:
        events = service.GetChanges(after=after, limit=100).event
        if len(events) >= count or time.monotonic() > deadline:
            return events
        time.sleep(0.05)
