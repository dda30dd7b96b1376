"""HTTP in front of the SOAP endpoint: every refusal on /registry is a SOAP 1.1 fault envelope.

Two layers, because some requests never reach a WSGI application:

* ``RequestBodyGuard`` (WSGI, any server): a POST's Content-Length must be a number of bytes
  and at most ``NVS_MAX_REQUEST_BYTES``; a body without one (chunked, as a server hands it on)
  is read up to that limit here, so the limit holds whatever the server does with chunks.
* ``create_server`` (waitress only): waitress answers what it cannot parse itself (a negative or
  non-numeric Content-Length, broken chunked encoding, headers over its limit, a body over its
  limit) before any application runs, in plain text. Its error task is replaced by one writing
  our fault envelope, and its body limit is set just above ours, so that it refuses at once
  what we would refuse anyway instead of buffering up to a gigabyte first.

gunicorn's equivalent of the second layer is its worker class, ``gateway.gunicorn_worker``; it reads
chunked bodies only as the application reads them, so a broken chunk is refused by the first layer.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterable
from typing import TypedDict, Unpack, cast

from waitress import server as waitress_server
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.task import ErrorTask
from waitress.utilities import (
    InternalServerError,
    RequestEntityTooLarge,
    RequestHeaderFieldsTooLarge,
    ServerNotImplemented,
)

from gateway import observability
from gateway.domain.errors import GatewayError, InternalError, MalformedMessage, RequestTooLarge
from gateway.metrics import UNKNOWN_OPERATION
from gateway.observability import CallOutcome
from gateway.soap.app import GatewayFault
from gateway.wsgi import _fault_envelope

log = logging.getLogger("nvs.gateway")

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]
FAULT_STATUS = "500 Internal Server Error"  # WS-I BP R1126: a fault envelope travels with HTTP 500
# Paths that are not the SOAP endpoint keep waitress's own plain answers.
_NOT_SOAP = ("/health", "/metrics", "/xsd/", "/population-register")


def _fault_response(error: GatewayError, environ: dict | None = None) -> tuple[GatewayFault, bytes]:
    """The fault envelope of a refusal before Spyne; noted for the access line and the metrics when it was
    refused by the WSGI layer (``environ``), logged here when the HTTP server itself refused it."""
    fault = GatewayFault(error)
    if environ is not None:
        observability.note(
            environ, CallOutcome(operation=UNKNOWN_OPERATION, outcome=error.code, correlation_id=fault.correlation_id)
        )
    elif error.role == "Server":
        log.error(
            "HTTP request failed: fault=%s correlation=%s",
            error.code,
            fault.correlation_id,
            extra={"correlation_id": fault.correlation_id},
        )
    else:
        log.info(
            "HTTP request refused: fault=%s correlation=%s",
            error.code,
            fault.correlation_id,
            extra={"correlation_id": fault.correlation_id},
        )
    return fault, _fault_envelope(fault)


class RequestBodyGuard:
    """WSGI middleware for the SOAP endpoint: the request body's size, before Spyne reads it."""

    def __init__(self, app: WsgiApp, max_request_bytes: int) -> None:
        self.app = app
        self.max_request_bytes = max_request_bytes

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD", "GET").upper() != "POST":
            return self.app(environ, start_response)
        length = str(environ.get("CONTENT_LENGTH") or "").strip()
        if not length:
            try:
                body = environ["wsgi.input"].read(self.max_request_bytes + 1)
            except Exception:  # gunicorn parses chunks as they are read: a broken one fails here
                return self._refuse(
                    environ, start_response, MalformedMessage("The request body's chunked encoding is broken.")
                )
            if len(body) > self.max_request_bytes:
                return self._refuse(environ, start_response, RequestTooLarge())
            environ["wsgi.input"], environ["CONTENT_LENGTH"] = io.BytesIO(body), str(len(body))
        elif not length.isdigit():
            return self._refuse(
                environ, start_response, MalformedMessage("The Content-Length header is not a number of bytes.")
            )
        elif int(length) > self.max_request_bytes:
            return self._refuse(environ, start_response, RequestTooLarge())
        return self.app(environ, start_response)

    @staticmethod
    def _refuse(environ: dict, start_response: Callable, error: GatewayError) -> list[bytes]:
        _, body = _fault_response(error, environ)
        start_response(FAULT_STATUS, [("Content-Type", "text/xml; charset=utf-8"), ("Content-Length", str(len(body)))])
        return [body]


def _error_of(refusal: object) -> GatewayError:
    """Our fault for one of waitress's own refusals (its message may quote the request: not repeated)."""
    if isinstance(refusal, RequestEntityTooLarge):
        return RequestTooLarge()
    if isinstance(refusal, RequestHeaderFieldsTooLarge):
        return RequestTooLarge("The request's HTTP headers are larger than this gateway accepts.")
    if isinstance(refusal, ServerNotImplemented):
        return MalformedMessage(
            "The request's Transfer-Encoding is not supported: send the body with Content-Length or chunked."
        )
    if isinstance(refusal, InternalServerError):
        return InternalError()
    return MalformedMessage(
        "The HTTP request is malformed (request line, headers, Content-Length or chunked encoding)."
    )


class SoapErrorTask(ErrorTask):
    """waitress's answer to a request it could not parse, as a SOAP fault envelope."""

    def execute(self) -> None:
        if (getattr(self.request, "path", None) or "").startswith(_NOT_SOAP):  # no path when the request line failed
            return super().execute()
        # types-waitress types a task's request as the Error; waitress hands an ErrorTask the request's parser.
        parser = cast(HTTPRequestParser, self.request)
        _, body = _fault_response(_error_of(parser.error))
        self.status = FAULT_STATUS
        self.response_headers = [*self.response_headers, ("Content-Type", "text/xml; charset=utf-8")]
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class SoapHttpChannel(HTTPChannel):
    error_task_class = SoapErrorTask


class ServerOptions(TypedDict, total=False):
    """The waitress adjustments (waitress.adjustments.Adjustments) the gateway's servers are given."""

    host: str
    port: int
    threads: int
    ident: str


def create_server(
    app: WsgiApp, *, max_request_bytes: int, **options: Unpack[ServerOptions]
) -> waitress_server.MultiSocketServer | waitress_server.BaseWSGIServer:
    """A waitress server for the site whose own refusals are SOAP faults (``options``: host, port, threads...)."""
    # waitress refuses a body of max_request_body_size bytes or more: ours is the limit plus one byte.
    server = waitress_server.create_server(app, max_request_body_size=max_request_bytes + 1, **options)
    listening = [server] if isinstance(server, waitress_server.BaseWSGIServer) else list((server.map or {}).values())
    for each in listening:
        if isinstance(each, waitress_server.BaseWSGIServer):
            each.channel_class = SoapHttpChannel
    return server
