"""The floor of bench/request_path.py: a bare Spyne service with one ``@rpc``, lxml validation.

Everything the gateway adds (authentication, rights, the use case, the database, the access log,
the feed, GR) is what the gateway costs above this echo, served by the same HTTP server.
"""

from __future__ import annotations

from spyne import Application, ServiceBase, Unicode, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication

ECHO_NS = "urn:nvs-gateway:bench:echo"


class EchoService(ServiceBase):
    @rpc(Unicode, _returns=Unicode)
    def Echo(ctx, text):  # noqa: N802 - the operation's name
        return text


def build_echo_app() -> WsgiApplication:
    application = Application(
        [EchoService], tns=ECHO_NS, name="Echo", in_protocol=Soap11(validator="lxml"), out_protocol=Soap11()
    )
    return WsgiApplication(application)


def echo_envelope(text: str) -> bytes:
    return (
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
        f'xmlns:e="{ECHO_NS}"><soapenv:Body><e:Echo><e:text>{text}</e:text></e:Echo></soapenv:Body></soapenv:Envelope>'
    ).encode()
