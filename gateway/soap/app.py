"""The contract-first Spyne application.

Spyne is code-first; we keep ``xsd/`` and ``wsdl/`` as the contract by:
- validating every request body against ``xsd/nvs-gateway-v1.xsd`` before any of
  our code runs (``ContractSoap11.validate_body``), with a fault naming the field;
- refusing DTDs and entities outright (SOAP 1.1 forbids them; Spyne would crash);
- turning every error, ours or Spyne's, into one fault shape: faultcode Client or
  Server and a ``GatewayFault`` detail with code, message, field and correlation id;
- serving the checked-in WSDL (``gateway.wsgi``), never Spyne's generated one.

Around every operation (``RegistryApplication.call_wrapper``): the X-Road headers are
checked, the UsernameToken authenticated, the rights table asked whether the operation
is allowed (``gateway.domain.access.authorize``), and, for operations on personal data,
an access log record written in a transaction of its own, whatever the outcome. The
X-Road headers are copied into the response and into faults (``echo_xroad_headers``).
"""
from __future__ import annotations

import copy
import logging
import re
import threading
import time
import uuid
from functools import lru_cache
from dataclasses import dataclass, field
from typing import Callable

from lxml import etree
from spyne import Application, Fault
from spyne.model.complex import ComplexModelBase
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from gateway.access_log import AccessLog
from gateway.accounts import Accounts
from gateway.auth import Authenticator, UsernameToken
from gateway.clock import Clock
from gateway.config import REPOSITORY_ROOT
from gateway.domain import access
from gateway.domain.access import Caller
from gateway.domain.errors import (
    AuthenticationFailed,
    ForbiddenXmlConstruct,
    GatewayError,
    InternalError,
    HeaderNotUnderstood,
    InvalidMessage,
    InvalidXRoadHeader,
    MalformedMessage,
    RequestTooLarge,
    UnknownOperation,
)
from gateway.ports import AccessRecord, UnitOfWork
from gateway.services import Registry
from gateway.soap.access_service import AccessControlService
from gateway.soap.feed_service import NvsFeedService
from gateway.soap.lists_service import NvsListsService
from gateway.soap.service import NvsRegistryService
from gateway.soap.types import TNS

log = logging.getLogger("nvs.gateway")

GATEWAY_XSD = REPOSITORY_ROOT / "xsd" / "nvs-gateway-v1.xsd"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
PASSWORD_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
XROAD = "http://x-road.eu/xsd/xroad.xsd"
XROAD_IDENTIFIERS = "http://x-road.eu/xsd/identifiers"

# Spyne's loggers print whole documents and client faults with tracebacks: requests carry
# personal codes and passwords, so they stay silent and we log what we choose.
logging.getLogger("spyne").setLevel(logging.CRITICAL + 1)


class GatewayFault(Fault):
    """A SOAP 1.1 fault with our ``GatewayFault`` detail element."""

    def __init__(self, error: GatewayError, correlation_id: str | None = None) -> None:
        self.error = error
        self.correlation_id = correlation_id or uuid.uuid4().hex
        detail = etree.Element(f"{{{TNS}}}GatewayFault", nsmap={"nvs": TNS})
        etree.SubElement(detail, f"{{{TNS}}}code").text = error.code
        etree.SubElement(detail, f"{{{TNS}}}message").text = error.message
        if error.field:
            etree.SubElement(detail, f"{{{TNS}}}field").text = error.field
        etree.SubElement(detail, f"{{{TNS}}}correlationId").text = self.correlation_id
        super().__init__(faultcode=error.role, faultstring=error.message, detail=detail)


# --- request validation against the contract ----------------------------------
_local_schema = threading.local()


def contract_schema() -> etree.XMLSchema:
    """One compiled schema per thread: lxml's error log belongs to the schema object."""
    schema = getattr(_local_schema, "schema", None)
    if schema is None:
        schema = _local_schema.schema = etree.XMLSchema(etree.parse(str(GATEWAY_XSD)))
    return schema


# Clark-notation namespaces in libxml2's messages (not the braces of a pattern such as [0-9]{11}).
_NAMESPACE = re.compile(r"\{(?:urn|https?):[^}]*\}")
_PREFIX = re.compile(r"(?<=/)[A-Za-z_][\w.-]*:")
# Values quoted in libxml2's messages may be personal codes: they never reach the caller.
_QUOTED_VALUE = re.compile(r"(The value |^)'[^']*'")
_EXPECTED = re.compile(r"Expected is (?:one of )?\( ([^ ,)]+)")
_INDEX = re.compile(r"\[\d+\]$")


def _readable(message: str) -> str:
    """Our namespace as its usual prefix; other namespaces named in full."""
    return message.replace(f"{{{TNS}}}", "nvs:")


def describe_schema_error(entry: "etree._LogEntry", body: "etree._Element") -> InvalidMessage:
    """A caller-facing message and the field path from libxml2's first error, without values.

    libxml2 points at the parent of a missing element ("Missing child element(s)"), or at the
    element found where another was expected ("This element is not expected"), which is either
    misplaced (the expected one comes later), one too many (it repeats its predecessor), or
    standing where a missing element belongs: then the field is the missing one.
    """
    operation = etree.QName(body).localname
    path = _PREFIX.sub("", entry.path or "")
    parts = [p for p in path.split("/") if p]
    bare = [_INDEX.sub("", p) for p in parts]
    if operation in bare:
        parts = parts[bare.index(operation) + 1 :]
    message = _readable(entry.message)
    expected = _EXPECTED.search(message)
    if expected:
        wanted = _NAMESPACE.sub("", expected.group(1)).removeprefix("nvs:")
        if "Missing child element" in message:
            parts = parts + [wanted]
        elif "This element is not expected" in message and "Expected is one of" not in message:
            # The element libxml2 expected is missing if the contract requires it and it does not come later.
            found = _element_at(body, parts)
            if found is not None and _is_missing(found, wanted) and _required_in_contract(operation, parts[:-1], wanted):
                parts = parts[:-1] + [wanted]
    message = re.sub(r"^Element '[^']*': ", "", message)
    message = _QUOTED_VALUE.sub(lambda m: m.group(1) or "the value", message).strip()
    element = parts[-1] if parts else operation
    return InvalidMessage(f"Element '{element}' is not valid: {message}"[:1000], field="/".join(parts) or None)


@lru_cache(maxsize=1)
def _contract_types() -> dict[str, dict[str, tuple[str | None, int]]]:
    """Each complex type of the contract: its children's names, types and minOccurs."""
    xs = "{http://www.w3.org/2001/XMLSchema}"
    types: dict[str, dict[str, tuple[str | None, int]]] = {}
    for complex_type in etree.parse(str(GATEWAY_XSD)).getroot().iter(f"{xs}complexType"):
        children = {}
        for element in complex_type.iter(f"{xs}element"):
            type_name = (element.get("type") or "").split(":")[-1] or None
            children[element.get("name")] = (type_name, int(element.get("minOccurs", "1")))
        types[complex_type.get("name")] = children
    return types


def _required_in_contract(operation: str, parent_parts: list[str], child: str) -> bool:
    types = _contract_types()
    current: str | None = operation  # each wrapper element has a complex type of its own name
    for part in parent_parts:
        current = types.get(current or "", {}).get(_INDEX.sub("", part), (None, 0))[0]
    found = types.get(current or "", {}).get(child)
    return found is not None and found[1] >= 1


def _element_at(body: "etree._Element", parts: list[str]) -> "etree._Element | None":
    element = body
    for part in parts:
        name, _, index = part.partition("[")
        matches = [c for c in element if isinstance(c.tag, str) and etree.QName(c).localname == name]
        position = int(index.rstrip("]")) - 1 if index else 0
        if position >= len(matches):
            return None
        element = matches[position]
    return element


def _is_missing(found: "etree._Element", wanted: str) -> bool:
    previous = found.getprevious()
    while previous is not None and not isinstance(previous.tag, str):
        previous = previous.getprevious()
    if previous is not None and previous.tag == found.tag:
        return False  # one more of a repeated element than maxOccurs allows
    later = [found] + list(found.itersiblings())
    return all(not isinstance(e.tag, str) or etree.QName(e).localname != wanted for e in later)


# A DOCTYPE in the prolog, found before parsing: entity bombs must not get as far as the parser.
_DOCTYPE_IN_PROLOG = re.compile(rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*|<\?.*?\?>\s*)*<!DOCTYPE", re.S)
# xs:date allows years Python cannot hold (0, negative, five digits): refused before Spyne meets them.
_DATE_OUT_OF_RANGE = re.compile(r"^\s*(?:-\d{4,}|0000|\d{5,})-\d{2}-\d{2}")


class ContractSoap11(Soap11):
    """SOAP 1.1 that validates bodies against the hand-written XSD and refuses DTDs."""

    def __init__(self, operations: set[str]) -> None:
        super().__init__(validator=None)
        self.request_elements = {f"{{{TNS}}}{name}" for name in operations}

    def create_in_document(self, ctx, charset=None):  # type: ignore[no-untyped-def]
        if ctx.transport.get_request_method() == "POST":
            content_type = (ctx.transport.get_request_content_type() or "").split(";")[0].strip().lower()
            if content_type != "text/xml":
                raise GatewayFault(MalformedMessage("SOAP 1.1 requests are sent with Content-Type text/xml."))
        body = b"".join(ctx.in_string)
        ctx.in_string = [body]  # an iterator: keep what was read for the parser
        if _DOCTYPE_IN_PROLOG.match(body[:4096]):
            raise GatewayFault(ForbiddenXmlConstruct())
        try:
            super().create_in_document(ctx, charset)
        except Fault:
            raise
        except Exception as exc:  # a broken charset or multipart body: still the caller's fault
            raise GatewayFault(MalformedMessage()) from exc
        root = ctx.in_document[0] if isinstance(ctx.in_document, tuple) else ctx.in_document
        docinfo = root.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
            raise GatewayFault(ForbiddenXmlConstruct())

    def decompose_incoming_envelope(self, ctx, message=Soap11.REQUEST):  # type: ignore[no-untyped-def]
        envelope = ctx.in_document[0] if isinstance(ctx.in_document, tuple) else ctx.in_document
        check_envelope(envelope)
        try:
            super().decompose_incoming_envelope(ctx, message)
        except Fault:
            raise
        except Exception as exc:
            raise GatewayFault(MalformedMessage()) from exc
        if ctx.in_body_doc is not None and ctx.in_body_doc.tag == f"{{{SOAP_ENV}}}Fault":
            raise GatewayFault(UnknownOperation("A SOAP Fault is an answer, not a request."))
        check_headers_understood(ctx.in_header_doc)

    def validate_body(self, ctx, message):  # type: ignore[no-untyped-def]
        body = ctx.in_body_doc
        if body is None or not isinstance(body.tag, str):
            raise GatewayFault(MalformedMessage("The SOAP Body has no request element."))
        if body.tag not in self.request_elements:
            name = etree.QName(body.tag)
            raise GatewayFault(
                UnknownOperation(
                    f"'{name.localname}' in namespace '{name.namespace or ''}' is not an operation of this service "
                    f"(namespace {TNS})."
                )
            )
        schema = contract_schema()
        try:
            valid = schema.validate(body)
        except etree.XMLSchemaValidateError as exc:  # e.g. entity references left in the tree
            raise GatewayFault(ForbiddenXmlConstruct()) from exc
        if not valid:
            raise GatewayFault(describe_schema_error(schema.error_log[0], body))
        check_dates_in_range(body)


def check_envelope(envelope) -> None:  # type: ignore[no-untyped-def]
    """SOAP 1.1 with WS-I BP: an optional Header, then one Body holding exactly one element."""
    if not isinstance(envelope.tag, str) or envelope.tag != f"{{{SOAP_ENV}}}Envelope":
        return  # Spyne names what is wrong with a non-envelope
    children = [c for c in envelope if isinstance(c.tag, str)]
    names = [c.tag for c in children]
    header, body = f"{{{SOAP_ENV}}}Header", f"{{{SOAP_ENV}}}Body"
    if names not in ([body], [header, body]):
        raise GatewayFault(MalformedMessage("The envelope must hold an optional Header, then exactly one Body, and nothing else."))
    body_element = children[-1]
    if (body_element.text or "").strip() or any((c.tail or "").strip() for c in body_element):
        raise GatewayFault(MalformedMessage("The SOAP Body holds text besides its request element."))
    if len([c for c in body_element if isinstance(c.tag, str)]) != 1:
        raise GatewayFault(MalformedMessage("The SOAP Body must hold exactly one request element."))


def check_dates_in_range(body) -> None:  # type: ignore[no-untyped-def]
    for element in body.iter():
        if isinstance(element.tag, str) and len(element) == 0 and element.text and _DATE_OUT_OF_RANGE.match(element.text):
            raise GatewayFault(InvalidMessage("A date's year must be between 0001 and 9999.", field=_field_path(body, element)))


def _field_path(body, element) -> str:  # type: ignore[no-untyped-def]
    """``contract/date``, ``leader[2]/personalCode``: the element's path below the operation element."""
    parts = []
    while element is not None and element is not body:
        name = etree.QName(element).localname
        same = [e for e in element.getparent() if isinstance(e.tag, str) and e.tag == element.tag]
        parts.append(f"{name}[{same.index(element) + 1}]" if len(same) > 1 else name)
        element = element.getparent()
    return "/".join(reversed(parts))


UNDERSTOOD_HEADERS = (WSSE, XROAD, TNS)


def check_headers_understood(header_elements) -> None:  # type: ignore[no-untyped-def]
    """SOAP 1.1 §4.2.3: a header marked mustUnderstand="1" that we do not process is refused."""
    for header in header_elements or ():
        if not isinstance(header.tag, str):
            continue
        if header.get(f"{{{SOAP_ENV}}}mustUnderstand") in ("1", "true") and etree.QName(header).namespace not in UNDERSTOOD_HEADERS:
            raise GatewayFault(
                HeaderNotUnderstood(f"The header {etree.QName(header).localname} is marked mustUnderstand and is not processed here.")
            )


# --- the SOAP headers: WS-Security, X-Road, accessPurpose -------------------------
def username_token(header_elements) -> UsernameToken | None:  # type: ignore[no-untyped-def]
    """The wsse:UsernameToken of the wsse:Security header, if any."""
    for header in header_elements or ():
        if not isinstance(header.tag, str) or header.tag != f"{{{WSSE}}}Security":
            continue
        token = header.find(f"{{{WSSE}}}UsernameToken")
        if token is None:
            return None
        password = token.find(f"{{{WSSE}}}Password")
        kind = PASSWORD_TEXT if password is None else password.get("Type", PASSWORD_TEXT)
        if kind not in (PASSWORD_TEXT, PASSWORD_DIGEST):
            raise AuthenticationFailed("Only the PasswordText and PasswordDigest UsernameToken profiles are accepted.")
        return UsernameToken(
            username=token.findtext(f"{{{WSSE}}}Username"),
            password=None if password is None else (password.text or ""),
            digest=kind == PASSWORD_DIGEST,
            nonce=token.findtext(f"{{{WSSE}}}Nonce"),
            created=token.findtext(f"{{{WSU}}}Created"),
        )
    return None


@dataclass(frozen=True)
class XRoadHeaders:
    """The X-Road message protocol 4.0 headers of a request (all None when there were none)."""

    id: str | None = None
    user_id: str | None = None
    issue: str | None = None
    client: str | None = None


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")


def xroad_elements(header_elements) -> list:  # type: ignore[no-untyped-def,type-arg]
    return [h for h in header_elements or () if isinstance(h.tag, str) and etree.QName(h).namespace == XROAD]


def _identifier(element) -> str:  # type: ignore[no-untyped-def]
    parts = [element.findtext(f"{{{XROAD_IDENTIFIERS}}}{name}") for name in ("xRoadInstance", "memberClass", "memberCode", "subsystemCode")]
    return "/".join(p.strip() for p in parts if p)[:300]


def xroad_headers(header_elements, operation: str) -> XRoadHeaders:  # type: ignore[no-untyped-def]
    """Check the X-Road headers, when there are any: client, id and protocolVersion 4.x are
    required, and a service header must name this operation."""
    found = {etree.QName(h).localname: h for h in xroad_elements(header_elements)}
    if not found:
        return XRoadHeaders()
    version = (found["protocolVersion"].text or "").strip() if "protocolVersion" in found else ""
    if not version.startswith("4."):
        raise InvalidXRoadHeader("X-Road protocolVersion must be 4.x.", field="protocolVersion")
    if "client" not in found:
        raise InvalidXRoadHeader("The X-Road client header is missing.", field="client")
    message_id = (found["id"].text or "").strip() if "id" in found else ""
    if not message_id:
        raise InvalidXRoadHeader("The X-Road id header is missing or empty.", field="id")
    if "service" in found:
        code = (found["service"].findtext(f"{{{XROAD_IDENTIFIERS}}}serviceCode") or "").strip()
        if code != operation:
            raise InvalidXRoadHeader(f"The X-Road service header names '{code[:50]}', not {operation}.", field="service/serviceCode")

    def text(name: str, limit: int) -> str | None:
        value = (found[name].text or "").strip() if name in found else ""
        return value[:limit] or None

    return XRoadHeaders(id=message_id, user_id=text("userId", 100), issue=text("issue", 500), client=_identifier(found["client"]))


def access_purpose(header_elements) -> str | None:  # type: ignore[no-untyped-def]
    for header in header_elements or ():
        if isinstance(header.tag, str) and header.tag == f"{{{TNS}}}accessPurpose":
            return (header.text or "").strip()[:500] or None
    return None


def request_id_of(ctx) -> str:  # type: ignore[no-untyped-def]
    """The X-Road message id when there is a usable one (it is then the correlation id too), else a new one."""
    for header in xroad_elements(getattr(ctx, "in_header_doc", None)):
        if etree.QName(header).localname == "id" and _REQUEST_ID.fullmatch((header.text or "").strip()):
            return (header.text or "").strip()
    return uuid.uuid4().hex


def echo_xroad_headers(ctx) -> None:  # type: ignore[no-untyped-def]
    """X-Road: the response (and a fault) carries every request header of the X-Road
    namespace, in the same order with the same values; requestHash is the security server's."""
    headers = [h for h in xroad_elements(ctx.in_header_doc) if etree.QName(h).localname != "requestHash"]
    if not headers or ctx.out_document is None:
        return
    envelope = ctx.out_document
    header = envelope.find(f"{{{SOAP_ENV}}}Header")
    if header is None:
        header = etree.Element(f"{{{SOAP_ENV}}}Header")
        envelope.insert(0, header)
    for element in headers:
        header.append(copy.deepcopy(element))


def personal_codes_in(value, found: list[str]) -> list[str]:  # type: ignore[no-untyped-def]
    """Every personalCode in a response, however deep (persons, leaders)."""
    if isinstance(value, ComplexModelBase):
        for name in type(value).get_flat_type_info(type(value)):
            item = getattr(value, name, None)
            if name == "personalCode" and isinstance(item, str):
                found.append(item)
            else:
                personal_codes_in(item, found)
    elif isinstance(value, (list, tuple)):
        for item in value:
            personal_codes_in(item, found)
    return found


# --- authentication, rights, access log and error mapping around every operation --
@dataclass
class RequestContext:
    registry: Registry
    caller: Caller | None = None
    accounts: Accounts | None = None
    access_log: AccessLog | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


class RegistryApplication(Application):
    def __init__(
        self,
        registry: Registry,
        uow_factory: Callable[[], UnitOfWork],
        *,
        clock: Clock,
        authenticator: Authenticator | None = None,
        accounts: Accounts | None = None,
        access_log: AccessLog | None = None,
    ) -> None:
        self.registry = registry
        self.uow_factory = uow_factory
        self.clock = clock
        self.authenticator = authenticator or Authenticator(uow_factory, clock=clock)
        self.accounts = accounts
        self.access_log = access_log or AccessLog(uow_factory, clock=clock)
        services = [NvsRegistryService, AccessControlService, NvsFeedService, NvsListsService]
        operations = {name for service in services for name in service.public_methods}
        super().__init__(
            services,
            tns=TNS,
            name="NvsRegistryService",
            in_protocol=ContractSoap11(operations),
            out_protocol=Soap11(),
        )
        self.event_manager.add_listener("method_return_document", echo_xroad_headers)
        self.event_manager.add_listener("method_exception_document", echo_xroad_headers)

    def call_wrapper(self, ctx):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        operation = ctx.method_request_string.rsplit("}", 1)[-1]
        request_id = request_id_of(ctx)
        context = ctx.udc = RequestContext(
            registry=self.registry, accounts=self.accounts, access_log=self.access_log, request_id=request_id
        )
        rule = access.OPERATIONS.get(operation)
        xroad, purpose, claimed, outcome, result = XRoadHeaders(), None, None, "ok", None
        try:
            xroad = xroad_headers(ctx.in_header_doc, operation)
            purpose = access_purpose(ctx.in_header_doc)
            token = username_token(ctx.in_header_doc)
            claimed = token.username if token else None
            context.caller = self.authenticator.authenticate(token)
            access.authorize(context.caller, operation)
            result = super().call_wrapper(ctx)
        except GatewayError as error:
            outcome = error.code
            fault = GatewayFault(error, request_id)
            self._record(rule, operation, ctx, context, xroad, purpose, claimed, outcome, None)
            log.info("%s user=%s request=%s fault=%s", operation, _who(context, claimed), request_id, error.code)
            raise fault from None
        except Fault:
            raise
        except Exception:
            fault = GatewayFault(InternalError(), request_id)
            log.exception("%s user=%s request=%s fault=InternalError", operation, _who(context, claimed), request_id)
            self._record(rule, operation, ctx, context, xroad, purpose, claimed, "InternalError", None)
            raise fault from None
        try:
            self._record(rule, operation, ctx, context, xroad, purpose, claimed, outcome, result)
        except Exception:
            # Personal data is not handed out unrecorded (a change, if any, is committed: say so in the log).
            fault = GatewayFault(InternalError(), request_id)
            log.exception("%s user=%s request=%s access log not written: fault=InternalError", operation, _who(context, claimed), request_id)
            raise fault from None
        # The X-Road userId is a country code and a personal code: the access log has it, the log never.
        log.info(
            "%s user=%s request=%s%s ok in %.0f ms",
            operation, _who(context, claimed), request_id, f" xroad-client={xroad.client}" if xroad.client else "",
            (time.perf_counter() - started) * 1000,
        )
        return result

    def _record(self, rule, operation, ctx, context, xroad, purpose, claimed, outcome, result) -> None:  # type: ignore[no-untyped-def]
        """An access log record for an operation on personal data; refused calls included."""
        if rule is not None and not rule.personal_data:
            return
        codes = [e.text for e in (ctx.in_body_doc.iter(f"{{{TNS}}}personalCode") if ctx.in_body_doc is not None else ()) if e.text]
        personal_codes_in(result, codes)
        caller = context.caller
        try:
            self.access_log.record(
                AccessRecord(
                    at=self.clock.now(),
                    operation=operation,
                    request_id=context.request_id,
                    outcome=outcome,
                    user_id=caller.user_id if caller else None,
                    username=caller.username if caller else (claimed or "")[:100] or None,
                    scope=caller.scope if caller else None,
                    personal_codes=tuple(c for c in codes if len(c) == 11 and c.isdigit()),
                    purpose=purpose,
                    xroad_client=xroad.client,
                    xroad_user_id=xroad.user_id,
                    xroad_issue=xroad.issue,
                )
            )
        except Exception:
            if outcome == "ok":
                raise
            log.exception("%s request=%s: the access log record of a refused call was not written", operation, context.request_id)


def _who(context: RequestContext, claimed: str | None) -> str:
    if context.caller is not None:
        return context.caller.username
    return "-"


# Spyne's own faults (raised before our code runs) and what they mean in our catalogue.
_SPYNE_FAULTS: dict[str, type[GatewayError]] = {
    "Client.RequestTooLong": RequestTooLarge,
    "Client.RequestNotAllowed": MalformedMessage,
    "Client.XMLSyntaxError": MalformedMessage,
    "Client.SoapError": MalformedMessage,
    "Client.ResourceNotFound": UnknownOperation,
}


def as_gateway_fault(error: BaseException, correlation_id: str | None = None) -> GatewayFault:
    if isinstance(error, GatewayFault):
        return error
    if isinstance(error, Fault):
        code = str(error.faultcode)
        if code in _SPYNE_FAULTS:
            cls = _SPYNE_FAULTS[code]
            message = (
                "Use HTTP POST with Content-Type text/xml and a SOAP 1.1 envelope."
                if code == "Client.RequestNotAllowed"
                else None
            )
            return GatewayFault(cls(message), correlation_id)
        if code.startswith("Client"):
            return GatewayFault(InvalidMessage(), correlation_id)
    return GatewayFault(InternalError(), correlation_id)


class RegistryWsgiApplication(WsgiApplication):
    """Every error leaves as our fault shape, however early it happened."""

    def handle_error(self, p_ctx, others, error, start_response):  # type: ignore[no-untyped-def]
        fault = as_gateway_fault(error, request_id_of(p_ctx))
        if fault is not error:
            if fault.error.role == "Server":
                log.error("request failed before dispatch: %s correlation=%s", type(error).__name__, fault.correlation_id)
            else:
                log.info("request rejected: fault=%s correlation=%s", fault.error.code, fault.correlation_id)
        p_ctx.out_error = fault
        p_ctx.out_document = None
        p_ctx.out_string = None
        return super().handle_error(p_ctx, others, fault, start_response)


def build_registry_app(
    registry: Registry,
    uow_factory: Callable[[], UnitOfWork],
    *,
    max_request_bytes: int,
    validate_responses: bool = False,
    authenticator: Authenticator | None = None,
    accounts: Accounts | None = None,
    access_log: AccessLog | None = None,
) -> RegistryWsgiApplication:
    application = RegistryApplication(
        registry, uow_factory, clock=registry.clock, authenticator=authenticator, accounts=accounts, access_log=access_log
    )
    if validate_responses:
        application.event_manager.add_listener("method_return_document", _assert_response_valid)
    return RegistryWsgiApplication(application, max_content_length=max_request_bytes)


def _assert_response_valid(ctx) -> None:  # type: ignore[no-untyped-def]
    """Development and test safety net: a response outside the contract is our bug."""
    body = ctx.out_document.find(f"{{{SOAP_ENV}}}Body")
    payload = body[0] if body is not None and len(body) else None
    if payload is None or payload.tag == f"{{{SOAP_ENV}}}Fault":
        return
    schema = contract_schema()
    if not schema.validate(payload):
        entry = schema.error_log[0]
        log.error("response violates the contract at %s: %s", entry.path, _NAMESPACE.sub("", entry.message))
        raise RuntimeError("response violates the contract")
