"""zeep clients for the end-to-end tests."""
from __future__ import annotations

import datetime as dt

import zeep
from stdnum.ee.ik import calc_check_digit
from zeep.exceptions import Fault
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from gateway.soap.types import TNS


def registry_client(wsdl_url: str, username: str | None, password: str | None) -> zeep.Client:
    wsse = UsernameToken(username, password) if username else None
    return zeep.Client(wsdl_url, wsse=wsse, transport=Transport(timeout=10, operation_timeout=15))


def fault_detail(fault: Fault) -> dict[str, str]:
    """The GatewayFault detail as a dict: code, message, field, correlationId."""
    assert fault.detail is not None, "fault without detail"
    element = fault.detail.find(f"{{{TNS}}}GatewayFault")
    assert element is not None, "fault detail is not a GatewayFault"
    return {child.tag.split("}")[1]: child.text for child in element}


def child_code(born: dt.date, serial: int, *, male: bool = True) -> str:
    """A checksum-valid personal code of a child born in the 2000s."""
    first10 = f"{5 if male else 6}{born:%y%m%d}{serial:03d}"
    return first10 + calc_check_digit(first10 + "0")
