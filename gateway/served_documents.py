"""The contract documents as they are served: the checked-in bytes, with every schema location
made absolute for the URL the document is served from.

The checked-in WSDLs import ``../xsd/<name>.xsd``: right in the repository, but a client that
resolves it against ``http://host/registry?wsdl`` lands above the server root (JAX-WS asks for
``http://host/../xsd/...`` and stops). Served, each ``schemaLocation`` of an ``xs:import``,
``xs:include`` or ``xs:redefine`` is resolved against the URL the document would have if the
site mirrored the repository (``<base>/wsdl/<name>.wsdl``, ``<base>/xsd/<name>.xsd``), so every
stack finds the schemas without resolving anything itself. Nothing else in the bytes changes.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin
from xml.sax.saxutils import quoteattr

_SCHEMA_LOCATION = re.compile(
    rb"""(<(?:[\w.-]+:)?(?:import|include|redefine)\b[^>]*?\bschemaLocation=)("[^"]*"|'[^']*')"""
)
# A Host header as RFC 7230 allows it (a name or an IP literal, an optional port); anything else
# is not put into a document (it would be an injection), the server's own name is used instead.
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")


def absolute_schema_locations(document: bytes, document_url: str) -> bytes:
    """``document`` with each relative schemaLocation resolved against ``document_url``."""

    def absolute(match: re.Match[bytes]) -> bytes:
        location = match.group(2)[1:-1].decode("utf-8")
        return match.group(1) + quoteattr(urljoin(document_url, location)).encode("utf-8")

    return _SCHEMA_LOCATION.sub(absolute, document)


def request_base(environ: dict) -> str:
    """``scheme://host[:port]`` of a WSGI request, from its Host header when that is a host name."""
    host = environ.get("HTTP_HOST", "")
    if not _HOST.fullmatch(host):
        host = f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '80')}"
    scheme = "https" if environ.get("wsgi.url_scheme") == "https" else "http"
    return f"{scheme}://{host}"
