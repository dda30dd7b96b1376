"""The HTTP site: the registry endpoint, its WSDL and XSDs, and (in the sandbox) the population register."""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Callable, Iterable

from lxml import etree

from gateway.config import REPOSITORY_ROOT
from gateway.domain.errors import InternalError
from gateway.soap.app import SOAP_ENV, GatewayFault

log = logging.getLogger("nvs.gateway")

WSDL_FILE = REPOSITORY_ROOT / "wsdl" / "nvs-gateway-v1.wsdl"
XSD_DIR = REPOSITORY_ROOT / "xsd"
_ADDRESS = re.compile(rb'(<(?:[\w.-]+:)?address\b[^>]*?\blocation=")([^"]*)(")')

WsgiApp = Callable[[dict, Callable], Iterable[bytes]]


def served_wsdl(wsdl: bytes, endpoint: str) -> bytes:
    """The checked-in WSDL, byte for byte, but for its endpoint address."""
    return _ADDRESS.sub(lambda m: m.group(1) + endpoint.encode() + m.group(3), wsdl, count=1)


def _request_base(environ: dict) -> str:
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '80')}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}"


def _fault_envelope(fault: GatewayFault) -> bytes:
    envelope = etree.Element(f"{{{SOAP_ENV}}}Envelope", nsmap={"soap11env": SOAP_ENV})
    body = etree.SubElement(envelope, f"{{{SOAP_ENV}}}Body")
    element = etree.SubElement(body, f"{{{SOAP_ENV}}}Fault")
    etree.SubElement(element, "faultcode").text = f"soap11env:{fault.faultcode}"
    etree.SubElement(element, "faultstring").text = fault.faultstring
    etree.SubElement(etree.SubElement(element, "detail"), fault.detail.tag).extend(list(fault.detail))
    return etree.tostring(envelope, xml_declaration=True, encoding="UTF-8")


class Site:
    def __init__(self, registry_app: WsgiApp, *, public_url: str = "", population_register_app: WsgiApp | None = None) -> None:
        self.registry_app = registry_app
        self.population_register_app = population_register_app
        self.public_url = public_url.rstrip("/")
        self.wsdl = WSDL_FILE.read_bytes()
        self.schemas = {p.name: p.read_bytes() for p in XSD_DIR.glob("*.xsd")}

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        method = environ.get("REQUEST_METHOD", "GET").upper()
        try:
            if path.rstrip("/") == "/registry":
                if method == "GET" and environ.get("QUERY_STRING", "").lower().startswith("wsdl"):
                    endpoint = f"{self.public_url or _request_base(environ)}/registry"
                    return self._send(start_response, "200 OK", "text/xml; charset=utf-8", served_wsdl(self.wsdl, endpoint))
                return self.registry_app(environ, start_response)
            if path.startswith("/population-register") and self.population_register_app is not None:
                return self.population_register_app(environ, start_response)
            if path.startswith("/xsd/") and path[len("/xsd/") :] in self.schemas:
                return self._send(start_response, "200 OK", "text/xml; charset=utf-8", self.schemas[path[len("/xsd/") :]])
            if path == "/health":
                body = json.dumps({"status": "ok"}).encode()
                return self._send(start_response, "200 OK", "application/json", body)
            return self._send(start_response, "404 Not Found", "text/plain; charset=utf-8", b"Not found. The registry is at /registry (WSDL: /registry?wsdl).\n")
        except Exception:
            # Last line of defence: never a bare 500 or a traceback to the caller.
            fault = GatewayFault(InternalError())
            log.exception("unhandled error correlation=%s", fault.correlation_id)
            return self._send(start_response, "500 Internal Server Error", "text/xml; charset=utf-8", _fault_envelope(fault))

    @staticmethod
    def _send(start_response: Callable, status: str, content_type: str, body: bytes) -> list[bytes]:
        start_response(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))])
        return [body]
