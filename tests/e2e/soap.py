"""Raw SOAP 1.1 for the end-to-end tests: envelopes built by hand, posted as bytes.

zeep (``tests/e2e/helpers.py``) only sends what the WSDL allows; these helpers send
anything, so that the tests can see what the gateway answers to bad input:

* ``security_header`` / ``envelope``: a SOAP 1.1 envelope around a body string, with a
  WS-Security UsernameToken (PasswordText, or PasswordDigest when asked) header;
* ``add_security``: the same header put into an existing envelope (the golden messages);
* ``post``: raw bytes to the registry with requests, always with a timeout;
* ``parse_fault``: asserts the response is a well-formed SOAP 1.1 Fault envelope carrying a
  ``GatewayFault`` detail and returns (status, faultcode, faultstring, detail dict);
* ``parse_success``: asserts a 200 SOAP 1.1 response and returns the Body's element.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from xml.sax.saxutils import escape

import requests
from lxml import etree

from gateway.soap.types import TNS

SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
PASSWORD_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
BASE64_BINARY = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"

TEXT_XML = "text/xml; charset=utf-8"
DEFAULT_TIMEOUT = (5, 60)  # (connect, read) seconds: a hung gateway fails the test instead of hanging it

# Responses are parsed as strictly as requests should be: no DTD, no entities, no network.
_PARSER = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)


# --- building requests --------------------------------------------------------------
def security_header(username: str, password: str, *, digest_created: dt.datetime | None = None) -> str:
    """A ``wsse:Security`` header with a UsernameToken: PasswordText, or PasswordDigest created at ``digest_created``."""
    if digest_created is not None:
        nonce = os.urandom(16)
        created = digest_created.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        value = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
        password_element = (
            f'<wsse:Password Type="{PASSWORD_DIGEST}">{value}</wsse:Password>'
            f'<wsse:Nonce EncodingType="{BASE64_BINARY}">{base64.b64encode(nonce).decode()}</wsse:Nonce>'
            f"<wsu:Created>{created}</wsu:Created>"
        )
    else:
        password_element = f'<wsse:Password Type="{PASSWORD_TEXT}">{escape(password)}</wsse:Password>'
    return (
        f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}" soapenv:mustUnderstand="1">'
        f"<wsse:UsernameToken><wsse:Username>{escape(username)}</wsse:Username>{password_element}</wsse:UsernameToken>"
        "</wsse:Security>"
    )


def envelope(
    body: str,
    *,
    username: str | None = None,
    password: str | None = None,
    digest_created: dt.datetime | None = None,
    header: str | None = None,
    soap_ns: str = SOAP11_ENV,
) -> bytes:
    """A SOAP envelope (``soapenv`` prefix, ``nvs`` bound to the gateway's namespace) around ``body``.

    ``header`` is extra raw header content; the Security header is added when a username is given.
    """
    headers = ""
    if username is not None:
        headers += security_header(username, password or "", digest_created=digest_created)
    if header:
        headers += header
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{soap_ns}" xmlns:nvs="{TNS}">'
        + (f"<soapenv:Header>{headers}</soapenv:Header>" if headers else "")
        + f"<soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    )
    return text.encode("utf-8")


def add_security(document: bytes, username: str, password: str) -> bytes:
    """``document`` (a SOAP 1.1 envelope) with a Security header for the user, as the first header."""
    root = etree.fromstring(document, _PARSER)
    assert root.tag == f"{{{SOAP11_ENV}}}Envelope", "not a SOAP 1.1 envelope"
    header = root.find(f"{{{SOAP11_ENV}}}Header")
    if header is None:
        header = etree.Element(f"{{{SOAP11_ENV}}}Header")
        root.insert(0, header)
    wrapper = etree.fromstring(f'<w xmlns:soapenv="{SOAP11_ENV}">{security_header(username, password)}</w>')
    header.insert(0, wrapper[0])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


# --- sending --------------------------------------------------------------------------
def post(
    url: str,
    data: bytes | Iterable[bytes] | None,
    *,
    content_type: str | None = TEXT_XML,
    soap_action: str | None = None,
    method: str = "POST",
    timeout: float | tuple[float, float] = DEFAULT_TIMEOUT,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    """Send ``data`` as it is (an iterable body goes out chunked, without Content-Length)."""
    sent = dict(headers or {})
    if content_type is not None:
        sent["Content-Type"] = content_type
    if soap_action is not None:
        sent["SOAPAction"] = f'"{soap_action}"'
    return requests.request(method, url, data=data, headers=sent, timeout=timeout)


# --- reading responses -------------------------------------------------------------------
@dataclass(frozen=True)
class SoapFault:
    status: int
    faultcode: str
    faultstring: str
    detail: dict[str, str]
    content_type: str
    text: str

    @property
    def code(self) -> str:
        return self.detail.get("code", "")


def _document(response: requests.Response) -> etree._Element:
    assert response.content, f"HTTP {response.status_code} with an empty body"
    try:
        root = etree.fromstring(response.content, _PARSER)
    except etree.XMLSyntaxError as exc:  # pragma: no cover - the assertion is the point
        raise AssertionError(
            f"HTTP {response.status_code}: the body is not XML ({exc}): {response.text[:300]!r}"
        ) from None
    assert root.getroottree().docinfo.doctype == "", "a response with a DOCTYPE"
    assert root.tag == f"{{{SOAP11_ENV}}}Envelope", f"not a SOAP 1.1 envelope: {root.tag}"
    return root


def _body_child(root: etree._Element) -> etree._Element:
    bodies = root.findall(f"{{{SOAP11_ENV}}}Body")
    assert len(bodies) == 1, "a SOAP envelope has exactly one Body"
    children = [c for c in bodies[0] if isinstance(c.tag, str)]
    assert len(children) == 1, f"the Body must hold one element, not {len(children)}"
    return children[0]


def parse_fault(response: requests.Response) -> SoapFault:
    """Assert a well-formed SOAP 1.1 Fault with a GatewayFault detail; return its parts."""
    content_type = response.headers.get("Content-Type", "")
    root = _document(response)
    fault = _body_child(root)
    assert fault.tag == f"{{{SOAP11_ENV}}}Fault", f"HTTP {response.status_code}: not a Fault but {fault.tag}"
    children = [c for c in fault if isinstance(c.tag, str)]
    names = [c.tag for c in children]
    # SOAP 1.1 §4.4: faultcode, faultstring, optional faultactor, optional detail; all unqualified.
    assert names[:2] == ["faultcode", "faultstring"], f"SOAP 1.1 fault layout: {names}"
    assert set(names[2:]) <= {"faultactor", "detail"} and len(names) == len(set(names)), (
        f"SOAP 1.1 fault layout: {names}"
    )
    faultcode = (children[0].text or "").strip()
    prefix, _, local = faultcode.rpartition(":")
    assert prefix and fault.nsmap.get(prefix) == SOAP11_ENV, (
        f"faultcode {faultcode!r} is not a QName in the SOAP 1.1 namespace"
    )
    detail = fault.find("detail")
    assert detail is not None, "fault without detail"
    gateway_fault = detail.find(f"{{{TNS}}}GatewayFault")
    assert gateway_fault is not None, f"the fault detail is not a GatewayFault: {[c.tag for c in detail]}"
    values = {etree.QName(c).localname: (c.text or "") for c in gateway_fault if isinstance(c.tag, str)}
    return SoapFault(
        status=response.status_code,
        faultcode=local,
        faultstring=children[1].text or "",
        detail=values,
        content_type=content_type,
        text=response.text,
    )


def parse_success(response: requests.Response) -> etree._Element:
    """Assert HTTP 200 with a SOAP 1.1 response; return the Body's element."""
    if response.status_code != 200:
        try:
            fault = parse_fault(response)
        except AssertionError:
            raise AssertionError(f"HTTP {response.status_code}: {response.text[:500]!r}") from None
        raise AssertionError(f"HTTP {response.status_code}: fault {fault.faultcode} {fault.detail}")
    assert response.headers.get("Content-Type", "").startswith("text/xml"), response.headers.get("Content-Type")
    return _body_child(_document(response))


def text_of(element: etree._Element, path: str) -> str | None:
    """The text at ``path`` (local names separated by '/', in the gateway's namespace)."""
    found = element.find("/".join(f"{{{TNS}}}{step}" for step in path.split("/")))
    return None if found is None else found.text
