"""The HTTP site: the registry endpoint, its WSDL and XSDs, and (in the sandbox) the population register."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from xml.sax.saxutils import escape

from lxml import etree

from gateway import observability
from gateway.config import FILES_ROOT
from gateway.domain.errors import InternalError
from gateway.health import Readiness
from gateway.logs import correlation_id
from gateway.served_documents import absolute_schema_locations, request_base
from gateway.soap.app import SOAP_ENV, GatewayFault

# A batch keeps a worker process busy for a second or more. Its answer closes the connection
# (Connection: close), so that the client's next batch is accepted by whichever worker is free, not
# queued behind this one on a kept-alive connection while another worker idles. The server puts the
# closer in the environ (gateway.gunicorn_worker); a server without one keeps the connection.
BATCH_OPERATIONS = frozenset({"RegisterStudents", "DeregisterStudents", "MarkFundingBatch"})
CLOSE_CONNECTION = "nvs.close_connection"


def _keep_connection() -> None:
    pass


log = logging.getLogger("nvs.gateway")

WSDL_FILE = FILES_ROOT / "wsdl" / "nvs-gateway-v1.wsdl"
XSD_DIR = FILES_ROOT / "xsd"
_ADDRESS = re.compile(rb'(<(?:[\w.-]+:)?address\b[^>]*?\blocation=")([^"]*)(")')

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def served_wsdl(wsdl: bytes, endpoint: str) -> bytes:
    """The checked-in WSDL, byte for byte, but for its endpoint address."""
    address = escape(endpoint, {'"': "&quot;"}).encode("utf-8")
    return _ADDRESS.sub(lambda m: m.group(1) + address + m.group(3), wsdl, count=1)


def normalised_path(path: str) -> str:
    """The path with its dot segments removed as RFC 3986 (5.2.4) resolves them: ``/xsd/../x`` is
    ``/x``, and ``..`` never climbs above the root (``/../xsd/a.xsd`` is ``/xsd/a.xsd``)."""
    segments: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if segments:
                segments.pop()
        elif segment not in ("", "."):
            segments.append(segment)
    return "/" + "/".join(segments)


def _fault_envelope(fault: GatewayFault) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap11env": SOAP_ENV})
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    element = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(element, "faultcode").text = f"soap11env:{fault.faultcode}"
    etree.SubElement(element, "faultstring").text = fault.faultstring
    etree.SubElement(etree.SubElement(element, "detail"), fault.detail.tag).extend(list(fault.detail))
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


class Site:
    def __init__(
        self,
        registry_app: WsgiApp,
        *,
        public_url: str = "",
        population_register_app: WsgiApp | None = None,
        readiness: Readiness | None = None,
        metrics_app: WsgiApp | None = None,
    ) -> None:
        self.registry_app = registry_app
        self.population_register_app = population_register_app
        self.readiness = readiness
        self.metrics_app = metrics_app  # None: /metrics is served on a port of its own (NVS_METRICS_PORT), or not
        self.public_url = public_url.rstrip("/")
        self.wsdl = WSDL_FILE.read_bytes()
        self.schemas = {p.name: p.read_bytes() for p in XSD_DIR.glob("*.xsd")}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        try:
            # Clients that resolve relative URLs badly ask for "/../xsd/..."; each path is answered as resolved.
            path = environ["PATH_INFO"] = normalised_path(environ.get("PATH_INFO", ""))
            base = self.public_url or request_base(environ)
            if path == "/registry":
                if method == "GET" and environ.get("QUERY_STRING", "").lower().startswith("wsdl"):
                    served = absolute_schema_locations(
                        served_wsdl(self.wsdl, f"{base}/registry"), f"{base}/wsdl/{WSDL_FILE.name}"
                    )
                    return self._send(start_response, "200 OK", "text/xml; charset=utf-8", served)
                return self._soap_call(environ, start_response)
            if (
                path == "/population-register" or path.startswith("/population-register/")
            ) and self.population_register_app is not None:
                return self.population_register_app(environ, start_response)
            if path.startswith("/xsd/") and path[len("/xsd/") :] in self.schemas:
                name = path[len("/xsd/") :]
                served = absolute_schema_locations(self.schemas[name], f"{base}/xsd/{name}")
                return self._send(start_response, "200 OK", "text/xml; charset=utf-8", served)
            if path in ("/health", "/health/live"):  # /health: as before, the process answers
                body = json.dumps({"status": "ok"}).encode()
                return self._send(start_response, "200 OK", "application/json", body)
            if path == "/health/ready" and self.readiness is not None:
                code, report = self.readiness.report()
                status = "200 OK" if code == 200 else "503 Service Unavailable"
                return self._send(start_response, status, "application/json", json.dumps(report).encode())
            if path == "/metrics" and self.metrics_app is not None:
                return self.metrics_app(environ, start_response)
            return self._send(
                start_response,
                "404 Not Found",
                "text/plain; charset=utf-8",
                b"Not found. The registry is at /registry (WSDL: /registry?wsdl).\n",
            )
        except Exception:
            # Last line of defence: never a bare 500 or a traceback to the caller.
            fault = GatewayFault(InternalError())
            log.exception(
                "unhandled error correlation=%s", fault.correlation_id, extra={"correlation_id": fault.correlation_id}
            )
            return self._send(
                start_response, "500 Internal Server Error", "text/xml; charset=utf-8", _fault_envelope(fault)
            )

    def _soap_call(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        """The registry's answer, then the call's access line and counts (gateway.observability)."""
        token = correlation_id.set(None)
        observability.start(environ)
        try:
            answer = self.registry_app(environ, start_response)
            observability.finish(environ)
            noted = environ.get(observability.NOTED)
            if noted is not None and noted.operation in BATCH_OPERATIONS:
                environ.get(CLOSE_CONNECTION, _keep_connection)()
            return answer
        finally:
            correlation_id.reset(token)

    @staticmethod
    def _send(start_response: Callable, status: str, content_type: str, body: bytes) -> list[bytes]:
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]
