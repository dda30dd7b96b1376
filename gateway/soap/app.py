"""The contract-first Spyne application.

Spyne is code-first; we keep ``xsd/`` and ``wsdl/`` as the contract by:
- validating every request body against ``xsd/nvs-gateway-v1.xsd`` before any of
  our code runs (``ContractSoap11.validate_body``), with a fault naming the field;
- refusing DTDs and entities outright (SOAP 1.1 forbids them; Spyne would crash);
- turning every error, ours or Spyne's, into one fault shape: faultcode Client or
  Server and a ``GatewayFault`` detail with code, message, field and correlation id;
- serving the checked-in WSDL (``gateway.wsgi``), never Spyne's generated one.
"""
from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Callable

from lxml import etree
from spyne import Application, Fault
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

from gateway import auth
from gateway.config import REPOSITORY_ROOT
from gateway.domain.errors import (
    AuthenticationFailed,
    ForbiddenXmlConstruct,
    GatewayError,
    InternalError,
    InvalidMessage,
    MalformedMessage,
    RequestTooLarge,
    UnknownOperation,
)
from gateway.ports import UnitOfWork
from gateway.services import Caller, Registry
from gateway.soap.lists_service import NvsListsService
from gateway.soap.service import NvsRegistryService
from gateway.soap.types import TNS

log = logging.getLogger("nvs.gateway")

GATEWAY_XSD = REPOSITORY_ROOT / "xsd" / "nvs-gateway-v1.xsd"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
PASSWORD_TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"

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


_NAMESPACE = re.compile(r"\{[^}]*\}")
_PREFIX = re.compile(r"(?<=/)[A-Za-z_][\w.-]*:")
# Values quoted in libxml2's messages may be personal codes: they never reach the caller.
_QUOTED_VALUE = re.compile(r"(The value |^)'[^']*'")


def describe_schema_error(entry: "etree._LogEntry", operation: str) -> InvalidMessage:
    """A caller-facing message and field path from libxml2's first error, without values."""
    path = _PREFIX.sub("", entry.path or "")
    parts = [p for p in path.split("/") if p]
    if operation in [re.sub(r"\[\d+\]$", "", p) for p in parts]:
        parts = parts[[re.sub(r"\[\d+\]$", "", p) for p in parts].index(operation) + 1 :]
    message = _NAMESPACE.sub("", entry.message)
    message = re.sub(r"^Element '[^']*': ", "", message)
    message = _QUOTED_VALUE.sub(lambda m: m.group(1) or "the value", message).strip()
    element = parts[-1] if parts else operation
    return InvalidMessage(f"Element '{element}' is not valid: {message}"[:1000], field="/".join(parts) or None)


class ContractSoap11(Soap11):
    """SOAP 1.1 that validates bodies against the hand-written XSD and refuses DTDs."""

    def __init__(self, operations: set[str]) -> None:
        super().__init__(validator=None)
        self.request_elements = {f"{{{TNS}}}{name}" for name in operations}

    def create_in_document(self, ctx, charset=None):  # type: ignore[no-untyped-def]
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
        try:
            super().decompose_incoming_envelope(ctx, message)
        except Fault:
            raise
        except Exception as exc:
            raise GatewayFault(MalformedMessage()) from exc

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
            raise GatewayFault(describe_schema_error(schema.error_log[0], etree.QName(body.tag).localname))


# --- authentication and error mapping around every operation ------------------
@dataclass
class RequestContext:
    registry: Registry
    caller: Caller | None = None


def username_token(header_elements) -> tuple[str | None, str | None]:  # type: ignore[no-untyped-def]
    for header in header_elements or ():
        if not isinstance(header.tag, str) or header.tag != f"{{{WSSE}}}Security":
            continue
        token = header.find(f"{{{WSSE}}}UsernameToken")
        if token is None:
            return None, None
        password = token.find(f"{{{WSSE}}}Password")
        if password is not None and password.get("Type", PASSWORD_TEXT) != PASSWORD_TEXT:
            raise AuthenticationFailed("Only the PasswordText UsernameToken profile is accepted.")
        return token.findtext(f"{{{WSSE}}}Username"), None if password is None else (password.text or "")
    return None, None


class RegistryApplication(Application):
    def __init__(self, registry: Registry, uow_factory: Callable[[], UnitOfWork]) -> None:
        self.registry = registry
        self.uow_factory = uow_factory
        services = [NvsRegistryService, NvsListsService]
        operations = {name for service in services for name in service.public_methods}
        super().__init__(
            services,
            tns=TNS,
            name="NvsRegistryService",
            in_protocol=ContractSoap11(operations),
            out_protocol=Soap11(),
        )

    def call_wrapper(self, ctx):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        operation = ctx.method_request_string.rsplit("}", 1)[-1]
        user = "-"
        try:
            username, password = username_token(ctx.in_header_doc)
            caller = auth.authenticate(self.uow_factory, username, password)
            user = caller.username
            ctx.udc = RequestContext(registry=self.registry, caller=caller)
            result = super().call_wrapper(ctx)
        except GatewayError as error:
            fault = GatewayFault(error)
            log.info("%s user=%s fault=%s correlation=%s", operation, user, error.code, fault.correlation_id)
            raise fault from None
        except Fault:
            raise
        except Exception:
            fault = GatewayFault(InternalError())
            log.exception("%s user=%s fault=InternalError correlation=%s", operation, user, fault.correlation_id)
            raise fault from None
        log.info("%s user=%s ok in %.0f ms", operation, user, (time.perf_counter() - started) * 1000)
        return result


# Spyne's own faults (raised before our code runs) and what they mean in our catalogue.
_SPYNE_FAULTS: dict[str, type[GatewayError]] = {
    "Client.RequestTooLong": RequestTooLarge,
    "Client.RequestNotAllowed": MalformedMessage,
    "Client.XMLSyntaxError": MalformedMessage,
    "Client.SoapError": MalformedMessage,
    "Client.ResourceNotFound": UnknownOperation,
}


def as_gateway_fault(error: BaseException) -> GatewayFault:
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
            return GatewayFault(cls(message))
        if code.startswith("Client"):
            return GatewayFault(InvalidMessage())
    return GatewayFault(InternalError())


class RegistryWsgiApplication(WsgiApplication):
    """Every error leaves as our fault shape, however early it happened."""

    def handle_error(self, p_ctx, others, error, start_response):  # type: ignore[no-untyped-def]
        fault = as_gateway_fault(error)
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
) -> RegistryWsgiApplication:
    application = RegistryApplication(registry, uow_factory)
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
