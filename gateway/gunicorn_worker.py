"""gunicorn's worker for the gateway: its own refusals on /registry are SOAP fault envelopes.

gunicorn answers a request it cannot parse (a malformed request line or header, a negative or
non-numeric Content-Length, broken chunked encoding, headers over its limits) before any WSGI
application runs, with an HTML page. This worker writes our fault envelope instead, as
``gateway.http`` does for waitress; the body's size is ``RequestBodyGuard``'s, on any server.
Imported only where gunicorn serves (``gateway/server.py``).
"""

from __future__ import annotations

from gunicorn import util
from gunicorn.http import errors
from gunicorn.workers.gthread import ThreadWorker

from gateway.domain.errors import GatewayError, InternalError, MalformedMessage, RequestTooLarge
from gateway.http import _NOT_SOAP, FAULT_STATUS, _fault_response
from gateway.wsgi import CLOSE_CONNECTION

# What gunicorn refuses as the client's fault, beside its limits (errors.LimitRequest*).
_CLIENT_ERRORS = tuple(
    getattr(errors, name)
    for name in (
        "InvalidRequestLine",
        "InvalidRequestMethod",
        "InvalidHTTPVersion",
        "InvalidHeader",
        "InvalidHeaderName",
        "InvalidProxyLine",
        "ForbiddenProxyRequest",
        "InvalidSchemeHeaders",
        "UnsupportedTransferCoding",
        "ObsoleteFolding",
        "ExpectationFailed",
        "InvalidChunkSize",
        "ChunkMissingTerminator",
        "InvalidChunkExtension",
        "NoMoreData",
    )
    if hasattr(errors, name)
)


def error_of(exc: BaseException) -> GatewayError:
    """Our fault for one of gunicorn's refusals (its message may quote the request: not repeated)."""
    if isinstance(exc, (errors.LimitRequestLine, errors.LimitRequestHeaders)):
        return RequestTooLarge("The request line or the HTTP headers are larger than this gateway accepts.")
    if isinstance(exc, errors.UnsupportedTransferCoding):
        return MalformedMessage(
            "The request's Transfer-Encoding is not supported: send the body with Content-Length or chunked."
        )
    if isinstance(exc, _CLIENT_ERRORS):
        return MalformedMessage(
            "The HTTP request is malformed (request line, headers, Content-Length or chunked encoding)."
        )
    return InternalError()


class SoapThreadWorker(ThreadWorker):
    """gunicorn's threaded worker, answering its own refusals on the SOAP endpoint with a fault envelope,
    and letting the application close a connection after its answer (``gateway.wsgi.CLOSE_CONNECTION``)."""

    def load_wsgi(self):
        super().load_wsgi()
        application = self.wsgi  # type: ignore[has-type]  # set by gunicorn's load_wsgi, untyped

        def closable(environ, start_response):
            # gunicorn's start_response is its Response's: force_close() sends Connection: close and closes after.
            close = getattr(getattr(start_response, "__self__", None), "force_close", None)
            if close is not None:
                environ[CLOSE_CONNECTION] = close
            return application(environ, start_response)

        self.wsgi = closable

    def handle_error(self, req, client, addr, exc):
        path = getattr(req, "path", None) or getattr(exc, "req", None) and getattr(exc.req, "path", None) or ""
        if path.startswith(_NOT_SOAP):
            return super().handle_error(req, client, addr, exc)
        error = error_of(exc)
        if isinstance(error, InternalError):
            self.log.exception("request failed in the HTTP server")
        _, body = _fault_response(error)
        head = (
            f"HTTP/1.1 {FAULT_STATUS}\r\nConnection: close\r\nContent-Type: text/xml; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        try:
            util.write_nonblock(client, head + body)
        except Exception:  # the client went away: nothing to answer
            self.log.debug("failed to send the fault of a refused request")
