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
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from lxml import etree
from spyne import BODY_STYLE_WRAPPED, Application, Fault, ServiceBase
from spyne.model.complex import ComplexModelBase
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication
from sqlalchemy.exc import DBAPIError

from gateway import metrics, observability
from gateway.access_log import AccessLog
from gateway.accounts import Accounts
from gateway.auth import Authenticator, DigestSecrets, UsernameToken
from gateway.calls import Call, PopulationRegisterNeeded, Transactions
from gateway.clock import Clock
from gateway.config import FILES_ROOT
from gateway.domain import access
from gateway.domain import portal as portal_rules
from gateway.domain.access import Caller
from gateway.domain.errors import (
    AuthenticationFailed,
    ForbiddenXmlConstruct,
    GatewayError,
    HeaderNotUnderstood,
    InternalError,
    InvalidMessage,
    InvalidXRoadHeader,
    MalformedMessage,
    RequestTooLarge,
    SoapVersionMismatch,
    UnknownOperation,
)
from gateway.domain.personal_code import PersonalCode
from gateway.domain.text import normalise
from gateway.logs import correlation_id
from gateway.observability import CallOutcome
from gateway.population_register_cache import CachedPopulationRegister
from gateway.portal import Portal
from gateway.ports import AccessRecord, FamilyRegister, UnitOfWork
from gateway.request_ids import RequestIds, request_id_from_xroad
from gateway.services import Registry
from gateway.soap import direct_xml
from gateway.soap.access_service import AccessControlService
from gateway.soap.batch_service import NvsBatchService
from gateway.soap.feed_service import NvsFeedService
from gateway.soap.lists_service import NvsListsService
from gateway.soap.portal_service import NvsPortalService
from gateway.soap.reports_service import NvsReportsService
from gateway.soap.school_year_service import NvsSchoolYearService
from gateway.soap.service import NvsRegistryService
from gateway.soap.types import TNS

log = logging.getLogger("nvs.gateway")

GATEWAY_XSD = FILES_ROOT / "xsd" / "nvs-gateway-v1.xsd"
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
_CLARK = re.compile(r"^\{([^}]*)\}(.*)$")
# One step of libxml2's node path: "nvs:contract", "personalCode[2]", or "*[4]" for an element in a
# default namespace (which a path cannot name): then the index counts every element sibling.
_STEP = re.compile(r"^(?:(?P<prefix>[^:\[\]]+):)?(?P<name>[^:\[\]]+)(?:\[(?P<index>\d+)\])?$")
_ELEMENT_PREFIX = re.compile(r"^Element '[^']*': ")
# What libxml2 says, and what we say instead. No value the caller sent is repeated: it may be a
# personal code. Lengths, bounds, patterns and allowed values come from the contract.
_FACET = re.compile(r"^\[facet '(?P<facet>\w+)'\] (?P<text>.*)$", re.S)
_LENGTH = re.compile(r"has a length of '(?P<length>\d+)'.*allowed (?:minimum |maximum )?length of '(?P<bound>\d+)'")
_PATTERN = re.compile(r"is not accepted by the pattern '(?P<pattern>.*)'\.$", re.S)
_SET = re.compile(r"is not an element of the set \{(?P<set>.*)\}\.$", re.S)
_BOUND = re.compile(r"\('(?P<bound>[^']*)'\)\.$|than '(?P<exclusive>[^']*)'\.$")
_ATOMIC = re.compile(r"is not a valid value of the (?:local )?(?:atomic|list|union) type(?: '(?P<type>[^']*)')?")
_EXPECTED = re.compile(r"Expected is (?:one of )?\( (?P<names>[^)]*) \)")
_ATTRIBUTE = re.compile(r"The attribute '(?P<attribute>[^']*)' is not allowed")
_INDEX = re.compile(r"\[\d+\]$")

# What a value of each XML Schema built-in type looks like, for people.
_BUILT_IN_WORDS = {
    "date": "a date (YYYY-MM-DD)",
    "dateTime": "a date and time (YYYY-MM-DDThh:mm:ssZ)",
    "gYearMonth": "a month (YYYY-MM)",
    "gYear": "a year (YYYY)",
    "boolean": "true or false",
    "decimal": "a decimal number",
    "string": "text",
    "token": "text",
}
_WHOLE_NUMBERS = {
    "integer",
    "long",
    "int",
    "short",
    "byte",
    "nonNegativeInteger",
    "positiveInteger",
    "unsignedLong",
    "unsignedInt",
    "unsignedShort",
    "unsignedByte",
    "nonPositiveInteger",
    "negativeInteger",
}


def describe_schema_error(entry: etree._LogEntry, body: etree._Element) -> InvalidMessage:
    """A message for people and the field path (local names, whatever prefixes the caller chose)
    from libxml2's first error, without the values sent.

    libxml2 points at the parent of a missing element ("Missing child element(s)"), or at the
    element found where another was expected ("This element is not expected"), which is either
    misplaced (the expected one comes later), one too many (it repeats its predecessor), or
    standing where a missing element belongs: then the field is the missing one.
    """
    operation = etree.QName(body).localname
    found = _element_at_path(body, entry.path or "")
    parts = [p for p in _field_path(body, found).split("/") if p] if found is not None else []
    raw = _ELEMENT_PREFIX.sub("", entry.message or "").strip()
    message = None
    expected = _EXPECTED.search(raw)
    wanted = [_local_name(name.strip()) for name in expected.group("names").split(",")] if expected else []
    if "Missing child element" in raw and wanted:
        # Optional elements may be listed before the one that must come (a batch's atomic before its
        # record): the field is the first the contract requires.
        required = [name for name in wanted if _required_in_contract(operation, parts, name)]
        if required:
            wanted = required[:1]
        parts = parts + [wanted[0]]
        message = (
            f"'{_path(parts)}' is missing."
            if len(wanted) == 1
            else f"One of {_names(wanted)} is missing in '{_path(parts[:-1]) or operation}'."
        )
    elif "This element is not expected" in raw and found is not None:
        here = _path(parts)
        if (
            len(wanted) == 1
            and _is_missing(found, wanted[0])
            and _required_in_contract(operation, parts[:-1], wanted[0])
        ):
            if etree.QName(found).localname == wanted[0]:  # the right name in the wrong (or no) namespace
                namespace = etree.QName(found).namespace
                message = f"'{here}' is in {'the namespace ' + namespace if namespace else 'no namespace'}; the contract has it in {TNS}."
            else:
                parts = parts[:-1] + [wanted[0]]
                message = f"'{_path(parts)}' is missing (found '{etree.QName(found).localname}' in its place)."
        elif _repeats_predecessor(found):
            at_most = _max_occurs_in_contract(operation, parts[:-1], etree.QName(found).localname)
            message = f"'{here}' is one more than the contract allows" + (f" (at most {at_most})." if at_most else ".")
        elif wanted:
            message = f"'{here}' is not expected here: the contract has {_names(wanted, 'or')} at this place."
        else:
            message = f"'{here}' is not expected here: the contract allows nothing more at this place."
    field = _path(parts) or None
    if message is None:
        message = _value_problem(raw, field or operation)
    return InvalidMessage(message[:1000], field=field)


def _value_problem(raw: str, subject: str) -> str:
    """The sentence for an error about an element's value or content."""
    facet = _FACET.match(raw)
    if facet:
        kind, text = facet.group("facet"), facet.group("text")
        length = _LENGTH.search(text)
        if kind == "minLength" and length and length["length"] == "0":
            return f"'{subject}' is empty: the contract requires at least {_characters(length['bound'])}."
        if kind == "minLength" and length:
            return f"'{subject}' is too short: {_characters(length['length'])} where the contract requires at least {length['bound']}."
        if kind == "maxLength" and length:
            return f"'{subject}' is too long: {_characters(length['length'])} where the contract allows at most {length['bound']}."
        if kind == "length" and length:
            return f"'{subject}' must be exactly {_characters(length['bound'])} long, not {length['length']}."
        if kind == "pattern" and (pattern := _PATTERN.search(text)):
            return f"'{subject}' does not match the pattern {pattern['pattern']} of the contract."
        if kind == "enumeration" and (allowed := _SET.search(text)):
            return f"'{subject}' must be one of {allowed['set'].replace(chr(39), '')}."
        bound = _BOUND.search(text)
        limit = bound and (bound["bound"] or bound["exclusive"])
        comparisons = {
            "minInclusive": "at least",
            "maxInclusive": "at most",
            "minExclusive": "more than",
            "maxExclusive": "less than",
        }
        if kind in comparisons and limit:
            return f"'{subject}' must be {comparisons[kind]} {limit}."
        if kind == "totalDigits" and limit:
            return f"'{subject}' has more than {limit} digits."
        if kind == "fractionDigits" and limit:
            return f"'{subject}' has more than {limit} digits after the decimal point."
    atomic = _ATOMIC.search(raw)
    if atomic:
        words = _type_words(atomic["type"])
        return (
            f"'{subject}' must be {words}."
            if words
            else f"'{subject}' is not a valid value of its type in the contract."
        )
    if "is not 'nillable'" in raw:
        return f"'{subject}' must have a value (xsi:nil is not allowed)."
    if "xsi:type" in raw:
        return f"'{subject}' must keep the type the contract gives it (xsi:type may not change it)."
    attribute = _ATTRIBUTE.search(raw)
    if attribute:
        return f"'{subject}' must not have the attribute {_local_name(attribute['attribute'])}."
    if "Element content is not allowed" in raw:
        return f"'{subject}' holds a value, not elements."
    if "Character content" in raw and "element-only" in raw:
        return f"'{subject}' holds elements, not text."
    # Anything else: libxml2's words, without namespaces in braces or quoted values.
    text = re.sub(r"'[^']*'", "…", _NAMESPACE.sub("", raw)).strip()
    return f"'{subject}' is not valid: {text}"


def _characters(count: str) -> str:
    return "1 character" if count == "1" else f"{count} characters"


def _local_name(name: str) -> str:
    match = _CLARK.match(name)
    return match.group(2) if match else name.rpartition(":")[2]


def _path(parts: list[str]) -> str:
    return "/".join(parts)


def _names(names: list[str], conjunction: str = "or") -> str:
    quoted = [f"'{n}'" for n in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} {conjunction} {quoted[-1]}"


def _type_words(type_name: str | None) -> str | None:
    """'a whole number', 'a date (YYYY-MM-DD)'... for a contract or XML Schema type."""
    if not type_name:
        return None
    match = _CLARK.match(type_name)
    namespace, local = (match.group(1), match.group(2)) if match else (None, type_name.rpartition(":")[2])
    if namespace == TNS or (namespace is None and type_name.startswith("nvs:")):
        local = _contract_simple_bases().get(local, local)
    if local in _WHOLE_NUMBERS:
        return "a whole number"
    return _BUILT_IN_WORDS.get(local)


@lru_cache(maxsize=1)
def _contract_simple_bases() -> dict[str, str]:
    """Each simple type of the contract and the XML Schema built-in type it restricts, at the end of the chain."""
    xs = "{http://www.w3.org/2001/XMLSchema}"
    bases = {}
    for simple in etree.parse(str(GATEWAY_XSD)).getroot().iter(f"{xs}simpleType"):
        restriction = simple.find(f"{xs}restriction")
        if simple.get("name") and restriction is not None and restriction.get("base"):
            bases[simple.get("name")] = restriction.get("base")
    resolved = {}
    for name, base in bases.items():
        seen = {name}
        while base.startswith("tns:") and base[4:] in bases and base[4:] not in seen:
            seen.add(base[4:])
            base = bases[base[4:]]
        resolved[name] = base.rpartition(":")[2]
    return resolved


@lru_cache(maxsize=1)
def _contract_types() -> dict[str, dict[str, tuple[str | None, int, str]]]:
    """Each complex type of the contract: its children's names, types, minOccurs and maxOccurs."""
    xs = "{http://www.w3.org/2001/XMLSchema}"
    types: dict[str, dict[str, tuple[str | None, int, str]]] = {}
    for complex_type in etree.parse(str(GATEWAY_XSD)).getroot().iter(f"{xs}complexType"):
        children = {}
        for element in complex_type.iter(f"{xs}element"):
            type_name = (element.get("type") or "").split(":")[-1] or None
            children[element.get("name")] = (
                type_name,
                int(element.get("minOccurs", "1")),
                element.get("maxOccurs", "1"),
            )
        types[complex_type.get("name")] = children
    return types


def _declared_child(operation: str, parent_parts: list[str], child: str) -> tuple[str | None, int, str] | None:
    types = _contract_types()
    current: str | None = operation  # each wrapper element has a complex type of its own name
    for part in parent_parts:
        current = types.get(current or "", {}).get(_INDEX.sub("", part), (None, 0, "1"))[0]
    return types.get(current or "", {}).get(child)


def _required_in_contract(operation: str, parent_parts: list[str], child: str) -> bool:
    declared = _declared_child(operation, parent_parts, child)
    return declared is not None and declared[1] >= 1


def _max_occurs_in_contract(operation: str, parent_parts: list[str], child: str) -> str | None:
    declared = _declared_child(operation, parent_parts, child)
    return declared[2] if declared is not None and declared[2] != "unbounded" else None


def _element_at_path(body: etree._Element, path: str) -> etree._Element | None:
    """The element libxml2's node path names, the validated element being the path's root.

    libxml2 writes ``prefix:name[n]`` (n counting siblings of that name and prefix), ``name[n]`` for
    an element in no namespace, and ``*[n]`` for one in a default namespace (n counting every
    element sibling); ``[n]`` only where there are several.
    """
    steps = [s for s in path.split("/") if s]
    if not steps:
        return None
    element: etree._Element | None = None
    for number, step in enumerate(steps):
        match = _STEP.match(step)
        if match is None:
            return None
        if number == 0:
            candidates = [body]
        else:
            assert element is not None, "the previous step found it"
            candidates = [c for c in element if isinstance(c.tag, str)]
        if match["name"] != "*":
            candidates = [
                c
                for c in candidates
                if etree.QName(c).localname == match["name"]
                and (c.prefix if etree.QName(c).namespace else None) == match["prefix"]
            ]
        position = int(match["index"]) - 1 if match["index"] else 0
        if position >= len(candidates):
            return None
        element = candidates[position]
    return element


def _repeats_predecessor(found: etree._Element) -> bool:
    previous = found.getprevious()
    while previous is not None and not isinstance(previous.tag, str):
        previous = previous.getprevious()
    return previous is not None and previous.tag == found.tag


def _is_missing(found: etree._Element, wanted: str) -> bool:
    if _repeats_predecessor(found):
        return False  # one more of a repeated element than maxOccurs allows
    later = [found] + list(found.itersiblings())
    return all(
        not isinstance(e.tag, str) or etree.QName(e).localname != wanted or etree.QName(e).namespace != TNS
        for e in later
    )


# A DOCTYPE in the prolog, found before parsing: entity bombs must not get as far as the parser.
_DOCTYPE_IN_PROLOG = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>\s*)?(?:<!--.*?-->\s*|<\?.*?\?>\s*)*<!DOCTYPE", re.S
)


class ContractSoap11(Soap11):
    """SOAP 1.1 that validates bodies against the hand-written XSD and refuses DTDs."""

    def __init__(self, operations: set[str], on_invalid: Callable[..., None] | None = None) -> None:
        super().__init__(validator=None)
        self.request_elements = {f"{{{TNS}}}{name}" for name in operations}
        self.on_invalid = on_invalid  # records a refused request of an operation on personal data

    def create_in_document(self, ctx, charset=None):
        if ctx.transport.get_request_method() == "POST":
            content_type = (ctx.transport.get_request_content_type() or "").split(";")[0].strip().lower()
            if content_type == "application/soap+xml":  # SOAP 1.2's media type
                raise GatewayFault(SoapVersionMismatch())
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

    def decompose_incoming_envelope(self, ctx, message=Soap11.REQUEST):
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
        check_gateway_headers(ctx.in_header_doc)

    def validate_body(self, ctx, message):
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
            error = describe_schema_error(schema.error_log[0], body)
            if self.on_invalid is not None:
                self.on_invalid(ctx, error)
            raise GatewayFault(error, request_id_of(ctx))


class AnsweringSoap11(direct_xml.DirectSoap11):
    """SOAP 1.1 out. A response element already serialised in the call (``RequestContext.response_payload``:
    the answer stored for its request id, or replayed from it) is sent as it is, so that a retry gets
    the very bytes of the first answer's Body. Other answers are written by the response's compiled
    writer (gateway.soap.direct_xml: the same elements, without Spyne's generic walk), or by Spyne
    when there is none for the message or the answer holds a value the writer does not expect."""

    def serialize(self, ctx, message):
        payload = getattr(getattr(ctx, "udc", None), "response_payload", None)
        if message is not self.RESPONSE or ctx.out_error is not None or payload is None:
            return super().serialize(ctx, message)
        envelope, body = self.new_envelope()
        body.append(etree.fromstring(payload, _PAYLOAD_PARSER))
        self.set_out_document(ctx, envelope, body)
        return None

    @staticmethod
    def no_result(ctx):
        """What the method returns when the stored answer is sent instead (Spyne wants one value per part)."""
        parts = len(ctx.descriptor.out_message._type_info)
        return [None] * parts if ctx.descriptor.body_style is BODY_STYLE_WRAPPED and parts > 1 else None

    def payload_of(self, ctx, result) -> bytes:
        """The response element the method's result becomes, as UTF-8 XML (what ``serialize`` would send)."""
        out_object = result
        if ctx.descriptor.body_style is not BODY_STYLE_WRAPPED or len(ctx.descriptor.out_message._type_info) <= 1:
            out_object = [result]
        saved = ctx.out_object, ctx.out_document, ctx.out_body_doc, ctx.out_header_doc, ctx.protocol
        try:
            ctx.out_object, ctx.protocol = out_object, ctx.outprot_ctx
            super().serialize(ctx, self.RESPONSE)
            return etree.tostring(ctx.out_body_doc[0], encoding="utf-8")
        finally:
            ctx.out_object, ctx.out_document, ctx.out_body_doc, ctx.out_header_doc, ctx.protocol = saved


# Stored answers are our own serialisation; still parsed as strictly as requests.
_PAYLOAD_PARSER = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)


def check_envelope(envelope) -> None:
    """SOAP 1.1 with WS-I BP: an optional Header, then one Body holding exactly one element.

    An Envelope in another namespace (SOAP 1.2's) is a VersionMismatch (SOAP 1.1 §4.4.1)."""
    if not isinstance(envelope.tag, str):
        return
    if envelope.tag != f"{{{SOAP_ENV}}}Envelope":
        if etree.QName(envelope).localname == "Envelope":
            raise GatewayFault(SoapVersionMismatch())
        return  # Spyne names what is wrong with a non-envelope
    children = [c for c in envelope if isinstance(c.tag, str)]
    names = [c.tag for c in children]
    header, body = f"{{{SOAP_ENV}}}Header", f"{{{SOAP_ENV}}}Body"
    if names not in ([body], [header, body]):
        raise GatewayFault(
            MalformedMessage("The envelope must hold an optional Header, then exactly one Body, and nothing else.")
        )
    body_element = children[-1]
    if (body_element.text or "").strip() or any((c.tail or "").strip() for c in body_element):
        raise GatewayFault(MalformedMessage("The SOAP Body holds text besides its request element."))
    if len([c for c in body_element if isinstance(c.tag, str)]) != 1:
        raise GatewayFault(MalformedMessage("The SOAP Body must hold exactly one request element."))


def _field_path(body, element) -> str:
    """``contract/date``, ``leader[2]/personalCode``: the element's path below the operation element."""
    parts = []
    while element is not None and element is not body:
        name = etree.QName(element).localname
        same = [e for e in element.getparent() if isinstance(e.tag, str) and e.tag == element.tag]
        parts.append(f"{name}[{same.index(element) + 1}]" if len(same) > 1 else name)
        element = element.getparent()
    return "/".join(reversed(parts))


UNDERSTOOD_HEADERS = (WSSE, XROAD, TNS)
GATEWAY_HEADERS = ("accessPurpose", "requestId")


def check_headers_understood(header_elements) -> None:
    """SOAP 1.1 §4.2.3: a header marked mustUnderstand="1" that we do not process is refused."""
    for header in header_elements or ():
        if not isinstance(header.tag, str):
            continue
        if (
            header.get(f"{{{SOAP_ENV}}}mustUnderstand") in ("1", "true")
            and etree.QName(header).namespace not in UNDERSTOOD_HEADERS
        ):
            raise GatewayFault(
                HeaderNotUnderstood(
                    f"The header {etree.QName(header).localname} is marked mustUnderstand and is not processed here."
                )
            )


def check_gateway_headers(header_elements) -> None:
    """Headers of our namespace are the contract's: nvs:accessPurpose and nvs:requestId, each at most once,
    valid against the XSD (lengths included). A misspelt one would otherwise be ignored, and its purpose
    never logged (or its retry run twice)."""
    seen = set()
    for header in header_elements or ():
        if not isinstance(header.tag, str) or etree.QName(header).namespace != TNS:
            continue
        name = etree.QName(header).localname
        if name not in GATEWAY_HEADERS:
            raise GatewayFault(
                InvalidMessage(
                    f"{name} is not a SOAP header of this service (nvs:accessPurpose and nvs:requestId are).",
                    field=name,
                )
            )
        if name in seen:
            raise GatewayFault(InvalidMessage(f"The {name} header is sent twice.", field=f"{name}[2]"))
        seen.add(name)
        bare = copy.deepcopy(header)  # the SOAP attributes (mustUnderstand, actor) are the envelope's, not the XSD's
        for attribute in [a for a in bare.attrib if etree.QName(a).namespace == SOAP_ENV]:
            del bare.attrib[attribute]
        schema = contract_schema()
        if not schema.validate(bare):
            error = describe_schema_error(schema.error_log[0], bare)
            raise GatewayFault(InvalidMessage(error.message, field=error.field or name))


# --- the SOAP headers: WS-Security, X-Road, accessPurpose -------------------------
def _one(parent, tag: str, path: str):
    """The only child ``tag`` of ``parent`` (or None); two are refused: which one would count is not ours to guess."""
    found = parent.findall(tag)
    if len(found) > 1:
        name = etree.QName(tag).localname
        raise AuthenticationFailed(
            f"The message carries two {name} elements ({path}{name}): a message carries one wsse:Security header "
            "with one UsernameToken, with one Username, Password, Nonce and Created.",
            field=f"{path}{name}[2]",
        )
    return found[0] if found else None


def username_token(header_elements) -> UsernameToken | None:
    """The wsse:UsernameToken of the wsse:Security header, if any. Two Security headers, two tokens,
    or two of a token's parts are refused: once an administrator's token followed by a provider's
    was taken as the administrator's."""
    securities = [h for h in header_elements or () if isinstance(h.tag, str) and h.tag == f"{{{WSSE}}}Security"]
    if len(securities) > 1:
        raise AuthenticationFailed(
            "The message carries two wsse:Security headers: send one, with one UsernameToken.", field="Security[2]"
        )
    if not securities:
        return None
    token = _one(securities[0], f"{{{WSSE}}}UsernameToken", "Security/")
    if token is None:
        return None
    where = "Security/UsernameToken/"
    username = _one(token, f"{{{WSSE}}}Username", where)
    password = _one(token, f"{{{WSSE}}}Password", where)
    nonce = _one(token, f"{{{WSSE}}}Nonce", where)
    created = _one(token, f"{{{WSU}}}Created", where)
    kind = PASSWORD_TEXT if password is None else password.get("Type", PASSWORD_TEXT)
    if kind not in (PASSWORD_TEXT, PASSWORD_DIGEST):
        raise AuthenticationFailed("Only the PasswordText and PasswordDigest UsernameToken profiles are accepted.")
    return UsernameToken(
        username=None if username is None else username.text,
        password=None if password is None else (password.text or ""),
        digest=kind == PASSWORD_DIGEST,
        nonce=None if nonce is None else nonce.text,
        created=None if created is None else created.text,
    )


@dataclass(frozen=True)
class XRoadHeaders:
    """The X-Road message protocol 4.0 headers of a request (all None when there were none)."""

    id: str | None = None
    user_id: str | None = None
    issue: str | None = None
    client: str | None = None


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")


def xroad_elements(header_elements) -> list:
    return [h for h in header_elements or () if isinstance(h.tag, str) and etree.QName(h).namespace == XROAD]


def _identifier(element) -> str:
    parts = [
        element.findtext(f"{{{XROAD_IDENTIFIERS}}}{name}")
        for name in ("xRoadInstance", "memberClass", "memberCode", "subsystemCode")
    ]
    return "/".join(p.strip() for p in parts if p)[:300]


def xroad_headers(header_elements, operation: str) -> XRoadHeaders:
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
            raise InvalidXRoadHeader(
                f"The X-Road service header names '{code[:50]}', not {operation}.", field="service/serviceCode"
            )

    def text(name: str, limit: int) -> str | None:
        value = (found[name].text or "").strip() if name in found else ""
        return value[:limit] or None

    return XRoadHeaders(
        id=message_id, user_id=text("userId", 100), issue=text("issue", 500), client=_identifier(found["client"])
    )


def access_purpose(header_elements) -> str | None:
    """The nvs:accessPurpose header (already checked against the XSD), normalised as free text is."""
    for header in header_elements or ():
        if isinstance(header.tag, str) and header.tag == f"{{{TNS}}}accessPurpose":
            purpose = normalise(header.text or "", field="accessPurpose")
            if len(purpose) > 500:  # NFC may lengthen a few characters (composition exclusions)
                raise InvalidMessage("accessPurpose is longer than 500 characters.", field="accessPurpose")
            return purpose
    return None


def client_request_id(header_elements) -> str | None:
    """The caller's id of this request, under which a retry gets the same answer (gateway.request_ids):
    the nvs:requestId header (already checked against the XSD), else the X-Road message id."""
    for header in header_elements or ():
        if isinstance(header.tag, str) and header.tag == f"{{{TNS}}}requestId":
            return (header.text or "").strip() or None
    for header in xroad_elements(header_elements):
        if etree.QName(header).localname == "id" and (header.text or "").strip():
            return request_id_from_xroad(header.text or "")
    return None


def request_id_of(ctx) -> str:
    """The caller's request id (nvs:requestId, else the X-Road message id) when there is a usable one (it is
    then the correlation id too), else a new one, the same for the whole request (kept in the WSGI
    environment once the headers are read)."""
    environ = getattr(getattr(ctx, "transport", None), "req_env", None)
    if isinstance(environ, dict) and environ.get("nvs.request_id"):
        return environ["nvs.request_id"]
    request_id = uuid.uuid4().hex
    for header in getattr(ctx, "in_header_doc", None) or ():
        if (
            isinstance(header.tag, str)
            and header.tag == f"{{{TNS}}}requestId"
            and _REQUEST_ID.fullmatch((header.text or "").strip())
        ):
            request_id = (header.text or "").strip()
            break
    else:
        for header in xroad_elements(getattr(ctx, "in_header_doc", None)):
            if etree.QName(header).localname == "id" and _REQUEST_ID.fullmatch((header.text or "").strip()):
                request_id = (header.text or "").strip()
    if isinstance(environ, dict) and getattr(ctx, "in_header_doc", None) is not None:
        environ["nvs.request_id"] = request_id
        correlation_id.set(request_id)  # every line logged while the call is served carries it
    return request_id


def echo_xroad_headers(ctx) -> None:
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


def personal_codes_in(value, found: list[str]) -> list[str]:
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
    # The response element, serialised in the call: the answer stored for its request id, or replayed.
    response_payload: bytes | None = None
    # A portal call (contract 1.11): the use cases, and the citizen of the X-Road userId it is made for.
    portal: Portal | None = None
    citizen: PersonalCode | None = None


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
        request_ids: RequestIds | None = None,
    ) -> None:
        self.registry = registry
        # The use cases' units of work must join the call's transaction: they are given this same factory.
        self.transactions = uow_factory if isinstance(uow_factory, Transactions) else Transactions(uow_factory)
        self.clock = clock
        self.authenticator = authenticator or Authenticator(self.transactions, clock=clock)
        self.accounts = accounts
        self.access_log = access_log or AccessLog(self.transactions, clock=clock)
        self.request_ids = request_ids or RequestIds(DigestSecrets(None), clock=clock)
        register = registry.population_register if registry is not None else None
        self.portal = Portal(self.transactions, register, clock=clock) if isinstance(register, FamilyRegister) else None
        services: list[type[ServiceBase]] = [
            NvsRegistryService,
            AccessControlService,
            NvsFeedService,
            NvsListsService,
            NvsSchoolYearService,
            NvsBatchService,
            NvsReportsService,
            NvsPortalService,
        ]
        operations = {name for service in services for name in service.public_methods}
        super().__init__(
            services,
            tns=TNS,
            name="NvsRegistryService",
            in_protocol=ContractSoap11(operations, on_invalid=self._record_invalid),
            out_protocol=AnsweringSoap11(),
        )
        self.event_manager.add_listener("method_return_document", echo_xroad_headers)
        self.event_manager.add_listener("method_exception_document", echo_xroad_headers)

    def call_wrapper(self, ctx):
        """One call, one transaction (gateway.calls): authentication, the use case, its access-log
        record and its change events commit together. A refused or failed call is rolled back and
        recorded in a short transaction of its own. When the use case needs GR's answer about a
        person, the transaction is rolled back, GR asked outside it, and the call run again."""
        operation = ctx.method_request_string.rsplit("}", 1)[-1]
        request_id = request_id_of(ctx)
        environ = getattr(ctx.transport, "req_env", None)
        context = ctx.udc = RequestContext(
            registry=self.registry,
            accounts=self.accounts,
            access_log=self.access_log,
            request_id=request_id,
            portal=self.portal,
        )
        rule = access.OPERATIONS.get(operation)
        xroad, purpose, claimed, result, outcome = XRoadHeaders(), None, None, None, "ok"
        call: Call | None = None
        answers: dict = {}
        reconnected = False
        try:
            xroad = xroad_headers(ctx.in_header_doc, operation)
            purpose = access_purpose(ctx.in_header_doc)
            token = username_token(ctx.in_header_doc)
            claimed = token.username if token else None
            # Operations that change something answer a retry of a request (same user, same request id)
            # with the first answer: gateway.request_ids.
            retry_id = client_request_id(ctx.in_header_doc) if rule is not None and rule.changes else None
            while True:
                call = self.transactions.call(answers)
                context.response_payload, outcome = None, "ok"
                try:
                    with call:
                        context.caller = self.authenticator.authenticate(token)
                        access.authorize(context.caller, operation)
                        if context.caller.portal:  # the portal acts for the citizen it names (contract 1.11)
                            context.citizen = portal_rules.citizen_of(xroad.user_id)
                        claim, replayed = None, None
                        if retry_id is not None:
                            claim, replayed = self.request_ids.claim(
                                call.uow, context.caller.user_id, retry_id, operation, ctx.in_body_doc
                            )
                        if replayed is not None:
                            context.response_payload = replayed
                            outcome = "replayed"
                            result = AnsweringSoap11.no_result(ctx)
                        else:
                            result = super().call_wrapper(ctx)
                            outcome = "ok"
                            if claim is not None:
                                context.response_payload = self.out_protocol.payload_of(ctx, result)
                                self.request_ids.keep(call.uow, claim, context.response_payload)
                        record = self._access_record(
                            rule, operation, ctx, context, xroad, purpose, claimed, outcome, result, call.uow
                        )
                        if record is not None:
                            call.uow.access_log.append(record)
                        call.commit()
                    break
                except PopulationRegisterNeeded as needed:
                    if needed.personal_codes <= answers.keys():
                        raise RuntimeError(
                            "the use case asked again for persons GR has answered for in this call"
                        ) from None
                    # Only the call-aware cache raises PopulationRegisterNeeded, so it is the registry's register.
                    register = self.registry.population_register
                    assert isinstance(register, CachedPopulationRegister), (
                        "PopulationRegisterNeeded comes from the cache"
                    )
                    answers = {**answers, **register.fetch(needed.personal_codes)}
                except DBAPIError as error:
                    # A pooled connection the database dropped (a restart, an idle timeout): the pool is not
                    # pinged before each use, so run the call once more on a new connection, unless the
                    # commit had begun (its outcome is then in doubt, and the caller is told so).
                    if not error.connection_invalidated or reconnected or call.committing:
                        raise
                    reconnected = True
        except GatewayError as error:
            self._refused(call, rule, operation, ctx, context, xroad, purpose, claimed, error.code)
            observability.note(environ, _outcome(operation, error.code, context, xroad))
            raise GatewayFault(error, request_id) from None
        except Fault:
            raise
        except Exception:
            log.exception("%s failed: InternalError", operation, extra={"operation": operation})
            self._refused(call, rule, operation, ctx, context, xroad, purpose, claimed, "InternalError")
            observability.note(environ, _outcome(operation, "InternalError", context, xroad))
            raise GatewayFault(InternalError(), request_id) from None
        # The access line is written once the answer is ready (gateway.observability, gateway.wsgi).
        observability.note(environ, _outcome(operation, outcome, context, xroad))
        return result

    def _refused(self, call, rule, operation, ctx, context, xroad, purpose, claimed, outcome) -> None:
        """After the rollback: what a refusal keeps (a failed login's count, a used nonce) and its access-log record."""
        try:
            with self.transactions.own() as uow:
                for action in call.kept_if_refused if call is not None else ():
                    action(uow)
                record = self._access_record(rule, operation, ctx, context, xroad, purpose, claimed, outcome, None, uow)
                if record is not None:
                    uow.access_log.append(record)
                uow.commit()
        except Exception:
            log.exception("%s request=%s: the record of a refused call was not written", operation, context.request_id)

    def _access_record(
        self, rule, operation, ctx, context, xroad, purpose, claimed, outcome, result, uow
    ) -> AccessRecord | None:
        """The access-log record of an operation on personal data: the persons named in the request,
        those its records are about, and those in the answer."""
        if rule is not None and not rule.personal_data:
            return None
        body = ctx.in_body_doc
        codes = [e.text for e in (body.iter(f"{{{TNS}}}personalCode") if body is not None else ()) if e.text]
        ids = _named_ids(body)
        if any(ids.values()):
            # A successful call's answer names the group's leaders; a refused one must not learn them, but leaves a trace.
            codes.extend(
                uow.access_log.persons_concerned(
                    registration_ids=ids["registrationId"],
                    group_ids=ids["groupId"] if result is None else (),
                    attendance_ids=ids["attendanceId"],
                    notice_ids=ids["noticeId"],
                )
            )
        personal_codes_in(result, codes)
        if outcome == "replayed" and context.response_payload is not None:  # the persons the answer names again
            answer = etree.fromstring(context.response_payload, _PAYLOAD_PARSER)
            codes.extend(e.text for e in answer.iter(f"{{{TNS}}}personalCode") if e.text)
        caller = context.caller
        return AccessRecord(
            at=self.clock.now(),
            operation=operation,
            request_id=context.request_id,
            outcome=outcome,
            user_id=caller.user_id if caller else None,
            username=caller.username if caller else (claimed or "")[:100] or None,
            scope=caller.scope if caller else None,
            personal_codes=tuple(dict.fromkeys(c for c in codes if len(c) == 11 and c.isdigit())),
            purpose=purpose,
            xroad_client=xroad.client,
            xroad_user_id=xroad.user_id,
            xroad_issue=xroad.issue,
        )

    def _record_invalid(self, ctx, error: GatewayError) -> None:
        """A request the contract refuses is recorded too, as any refusal is: who it claims to be (it was
        never authenticated), the operation, the fault, and the persons that can be read in it."""
        operation = etree.QName(ctx.in_body_doc).localname
        try:
            token = username_token(ctx.in_header_doc)
            claimed = token.username if token else None
        except GatewayError:
            claimed = None
        try:
            xroad = xroad_headers(ctx.in_header_doc, operation)
        except GatewayError:
            xroad = XRoadHeaders()
        rule = access.OPERATIONS.get(operation)
        if rule is None:
            return
        context = RequestContext(registry=self.registry, request_id=request_id_of(ctx))
        self._refused(None, rule, operation, ctx, context, xroad, None, claimed, error.code)


_NAMED_IDS = ("registrationId", "groupId", "attendanceId", "noticeId")


def _named_ids(body) -> dict[str, list[int]]:
    """The ids of stored records a request names (already valid against the contract: whole numbers)."""
    found: dict[str, list[int]] = {name: [] for name in _NAMED_IDS}
    if body is None:
        return found
    for element in body.iter():
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element).localname
        if name in found and (element.text or "").strip().lstrip("+").isdigit():
            found[name].append(int(element.text.strip()))
    return found


def _outcome(operation: str, outcome: str, context: RequestContext, xroad: XRoadHeaders) -> CallOutcome:
    """What the access line and the metrics say of a dispatched call. The X-Road userId is a country code and a
    personal code: the access log of personal data has it, the log never; a user name that failed to log in is
    not repeated either (it may be anything the caller typed)."""
    caller = context.caller
    return CallOutcome(
        operation=operation,
        outcome=outcome,
        correlation_id=context.request_id,
        user=caller.username if caller else None,
        institution=caller.institution_code if caller else None,
        municipality=caller.municipality_code if caller else None,
        xroad_client=xroad.client,
    )


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

    def handle_error(self, p_ctx, others, error, start_response):
        fault = as_gateway_fault(error, request_id_of(p_ctx))
        if fault is not error and fault.error.role == "Server":
            log.error(
                "request failed before dispatch: %s correlation=%s",
                type(error).__name__,
                fault.correlation_id,
                extra={"correlation_id": fault.correlation_id},
            )
        # A request refused before dispatch (a dispatched call's outcome is noted already by call_wrapper).
        body = getattr(p_ctx, "in_body_doc", None)
        known = getattr(self.app.in_protocol, "request_elements", ())
        tag = body.tag if body is not None and isinstance(body.tag, str) else None
        observability.note(
            getattr(p_ctx.transport, "req_env", None),
            CallOutcome(
                operation=etree.QName(tag).localname if tag in known else metrics.UNKNOWN_OPERATION,
                outcome=fault.error.code,
                correlation_id=fault.correlation_id,
            ),
            replace=False,
        )
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
    request_ids: RequestIds | None = None,
) -> RegistryWsgiApplication:
    application = RegistryApplication(
        registry,
        uow_factory,
        clock=registry.clock,
        authenticator=authenticator,
        accounts=accounts,
        access_log=access_log,
        request_ids=request_ids,
    )
    if validate_responses:
        application.event_manager.add_listener("method_return_document", _assert_response_valid)
    return RegistryWsgiApplication(application, max_content_length=max_request_bytes)


def _assert_response_valid(ctx) -> None:
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
