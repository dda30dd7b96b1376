"""SOAP versions, mandatory headers, WS-Security headers twice or incomplete, and our own headers.

Before 1.4: a SOAP 1.2 envelope got a Client fault, a mustUnderstand header of another namespace
the faultcode Client; an administrator's token followed by a provider's was accepted as the
administrator; a PasswordDigest without Created was MessageExpired; an accessPurpose of 10 KB
was accepted and cut to 500 characters.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import os
from xml.sax.saxutils import escape

from gateway.domain.errors import AuthenticationFailed
from gateway.sandbox import SandboxUser
from gateway.soap.types import TNS
from tests.clock import E2E_START
from tests.e2e import soap
from tests.e2e.hostile.cases import ADMINISTRATOR, HostileCase, check
from tests.e2e.test_bad_input import SENT_CODE, lookup

WSSE, WSU = soap.WSSE, soap.WSU
SOAP12 = soap.SOAP12_ENV
BODY = lookup()
AUTH_MESSAGE = AuthenticationFailed.default_message


def security(inner: str) -> str:
    return f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}">{inner}</wsse:Security>'


def token(username: str, password: str, *extra: str) -> str:
    return (
        f"<wsse:UsernameToken><wsse:Username>{escape(username)}</wsse:Username>"
        f'<wsse:Password Type="{soap.PASSWORD_TEXT}">{escape(password)}</wsse:Password>{"".join(extra)}</wsse:UsernameToken>'
    )


def with_header(header) -> callable:
    """``header(user)`` as the whole SOAP Header around the LookupPerson body."""
    return lambda user: soap.envelope(BODY, header=header(user))


def admin(user: SandboxUser) -> SandboxUser:
    return SandboxUser("sandbox-admin", "Sandbox-admin-central!", None, "", user.scope, user.rights)


def digest(user: SandboxUser, *, created: str | None, nonce: bool = True) -> str:
    nonce_bytes = os.urandom(16)
    value = base64.b64encode(
        hashlib.sha1(nonce_bytes + (created or "").encode() + user.password.encode()).digest()
    ).decode()
    parts = [f'<wsse:Password Type="{soap.PASSWORD_DIGEST}">{value}</wsse:Password>']
    if nonce:
        parts.append(
            f'<wsse:Nonce EncodingType="{soap.BASE64_BINARY}">{base64.b64encode(nonce_bytes).decode()}</wsse:Nonce>'
        )
    if created is not None:
        parts.append(f"<wsu:Created>{created}</wsu:Created>")
    return security(
        f"<wsse:UsernameToken><wsse:Username>{user.username}</wsse:Username>{''.join(parts)}</wsse:UsernameToken>"
    )


def password_element(user: SandboxUser) -> str:
    return f'<wsse:Password Type="{soap.PASSWORD_TEXT}">{escape(user.password)}</wsse:Password>'


VERSIONS = [
    HostileCase(
        "SOAP 1.2 envelope as text/xml",
        lambda user: soap.envelope(BODY, username=user.username, password=user.password, soap_ns=SOAP12),
        "VersionMismatch",
        faultcode="VersionMismatch",
    ),
    HostileCase(
        "SOAP 1.2 envelope as application/soap+xml",
        lambda user: soap.envelope(BODY, username=user.username, password=user.password, soap_ns=SOAP12),
        "VersionMismatch",
        faultcode="VersionMismatch",
        content_type='application/soap+xml; charset=utf-8; action="LookupPerson"',
    ),
    HostileCase(
        "SOAP 1.1 envelope as application/soap+xml",
        lambda user: soap.envelope(BODY, username=user.username, password=user.password),
        "VersionMismatch",
        faultcode="VersionMismatch",
        content_type="application/soap+xml; charset=utf-8",
    ),
    HostileCase(
        "an Envelope in an unknown namespace",
        lambda user: soap.envelope(BODY, username=user.username, password=user.password, soap_ns="urn:not-soap"),
        "VersionMismatch",
        faultcode="VersionMismatch",
    ),
    HostileCase(
        "SOAP 1.2 envelope without Header",
        lambda user: soap.envelope(BODY, soap_ns=SOAP12),
        "VersionMismatch",
        faultcode="VersionMismatch",
    ),
]

MUST_UNDERSTAND = [
    HostileCase(
        "an unknown header with mustUnderstand=1",
        lambda user: soap.envelope(
            BODY,
            username=user.username,
            password=user.password,
            header='<x:Transaction xmlns:x="urn:example:tx" soapenv:mustUnderstand="1">5</x:Transaction>',
        ),
        "HeaderNotUnderstood",
        faultcode="MustUnderstand",
    ),
    HostileCase(
        "WS-Addressing To with mustUnderstand=1",
        lambda user: soap.envelope(
            BODY,
            username=user.username,
            password=user.password,
            header='<wsa:To xmlns:wsa="http://www.w3.org/2005/08/addressing" soapenv:mustUnderstand="1">x</wsa:To>',
        ),
        "HeaderNotUnderstood",
        faultcode="MustUnderstand",
    ),
    HostileCase(
        "an unknown header with mustUnderstand=true",
        lambda user: soap.envelope(
            BODY,
            username=user.username,
            password=user.password,
            header='<x:Tx xmlns:x="urn:example:tx" soapenv:mustUnderstand="true">5</x:Tx>',
        ),
        "HeaderNotUnderstood",
        faultcode="MustUnderstand",
    ),
    HostileCase(
        "an unknown header before the Security header",
        lambda user: soap.envelope(
            BODY,
            header='<x:Tx xmlns:x="urn:example:tx" soapenv:mustUnderstand="1"/>'
            + soap.security_header(user.username, user.password),
        ),
        "HeaderNotUnderstood",
        faultcode="MustUnderstand",
    ),
]

SECURITY = [
    HostileCase(
        "two Security headers: the administrator's, then the provider's",
        with_header(
            lambda user: security(token(ADMINISTRATOR, "Sandbox-admin-central!"))
            + security(token(user.username, user.password))
        ),
        "AuthenticationFailed",
        field="Security[2]",
        absent=("sandbox-admin",),
    ),
    HostileCase(
        "two Security headers: the provider's, then the administrator's",
        with_header(
            lambda user: security(token(user.username, user.password))
            + security(token(ADMINISTRATOR, "Sandbox-admin-central!"))
        ),
        "AuthenticationFailed",
        field="Security[2]",
    ),
    HostileCase(
        "two UsernameTokens in one Security header",
        with_header(
            lambda user: security(token(ADMINISTRATOR, "Sandbox-admin-central!") + token(user.username, user.password))
        ),
        "AuthenticationFailed",
        field="Security/UsernameToken[2]",
    ),
    HostileCase(
        "two Usernames in one token",
        with_header(
            lambda user: security(
                f"<wsse:UsernameToken><wsse:Username>{ADMINISTRATOR}</wsse:Username>"
                f"<wsse:Username>{user.username}</wsse:Username>{password_element(user)}</wsse:UsernameToken>"
            )
        ),
        "AuthenticationFailed",
        field="Security/UsernameToken/Username[2]",
    ),
    HostileCase(
        "two Passwords in one token",
        with_header(
            lambda user: security(
                f"<wsse:UsernameToken><wsse:Username>{user.username}</wsse:Username>"
                f"{password_element(user)}{password_element(user)}</wsse:UsernameToken>"
            )
        ),
        "AuthenticationFailed",
        field="Security/UsernameToken/Password[2]",
    ),
    HostileCase(
        "two Nonces in one token",
        with_header(
            lambda user: security(
                token(user.username, user.password, "<wsse:Nonce>AAAA</wsse:Nonce>", "<wsse:Nonce>BBBB</wsse:Nonce>")
            )
        ),
        "AuthenticationFailed",
        field="Security/UsernameToken/Nonce[2]",
    ),
    HostileCase(
        "two Createds in one token",
        with_header(
            lambda user: security(
                token(
                    user.username,
                    user.password,
                    "<wsu:Created>2026-01-01T00:00:00Z</wsu:Created>",
                    "<wsu:Created>2026-01-01T00:00:00Z</wsu:Created>",
                )
            )
        ),
        "AuthenticationFailed",
        field="Security/UsernameToken/Created[2]",
    ),
    HostileCase(
        "PasswordDigest without Created", with_header(lambda user: digest(user, created=None)), "AuthenticationFailed"
    ),
    HostileCase(
        "PasswordDigest without Nonce",
        with_header(
            lambda user: digest(user, created=E2E_START.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), nonce=False)
        ),
        "AuthenticationFailed",
    ),
    HostileCase(
        "PasswordDigest whose Created is not a time",
        with_header(lambda user: digest(user, created="yesterday")),
        "AuthenticationFailed",
    ),
    HostileCase(
        "PasswordDigest whose Created is in the year 9999",
        with_header(lambda user: digest(user, created="9999-12-31T23:59:59Z")),
        "MessageExpired",
    ),
    HostileCase(
        "PasswordDigest whose Created is in the year 1",
        with_header(lambda user: digest(user, created="0001-01-01T00:00:00Z")),
        "MessageExpired",
    ),
    HostileCase(
        "an unknown password type",
        with_header(
            lambda user: security(
                f"<wsse:UsernameToken><wsse:Username>{user.username}</wsse:Username>"
                f'<wsse:Password Type="urn:x:Kerberos">{user.password}</wsse:Password></wsse:UsernameToken>'
            )
        ),
        "AuthenticationFailed",
    ),
    HostileCase(
        "an empty Username",
        with_header(lambda user: security(token("", user.password))),
        "AuthenticationFailed",
        faultstring=AUTH_MESSAGE,
    ),
    HostileCase(
        "a Username of 101 characters",
        with_header(lambda user: security(token("u" * 101, user.password))),
        "AuthenticationFailed",
        faultstring=AUTH_MESSAGE,
    ),
    HostileCase(
        "a Username with SQL",
        with_header(lambda user: security(token("' OR '1'='1", user.password))),
        "AuthenticationFailed",
        faultstring=AUTH_MESSAGE,
    ),
    HostileCase(
        "the token in no namespace",
        with_header(
            lambda user: security(
                f"<UsernameToken><Username>{user.username}</Username>"
                f"<Password>{escape(user.password)}</Password></UsernameToken>"
            )
        ),
        "AuthenticationFailed",
        faultstring=AUTH_MESSAGE,
    ),
    HostileCase(
        "the Security header in the Body's place",
        lambda user: soap.envelope(soap.security_header(user.username, user.password) + BODY),
        "MalformedMessage",
    ),
]

PURPOSE = f'<nvs:accessPurpose xmlns:nvs="{TNS}">'
OURS = [
    HostileCase(
        "accessPurpose of 501 characters",
        lambda user: soap.envelope(
            BODY, username=user.username, password=user.password, header=f"{PURPOSE}{'P' * 501}</nvs:accessPurpose>"
        ),
        "InvalidMessage",
        field="accessPurpose",
    ),
    HostileCase(
        "accessPurpose of 10 KB",
        lambda user: soap.envelope(
            BODY, username=user.username, password=user.password, header=f"{PURPOSE}{'P' * 10240}</nvs:accessPurpose>"
        ),
        "InvalidMessage",
        field="accessPurpose",
    ),
    HostileCase(
        "accessPurpose empty",
        lambda user: soap.envelope(
            BODY, username=user.username, password=user.password, header=f"{PURPOSE}</nvs:accessPurpose>"
        ),
        "InvalidMessage",
        field="accessPurpose",
    ),
    HostileCase(
        "accessPurpose of white space only",
        lambda user: soap.envelope(
            BODY, username=user.username, password=user.password, header=f"{PURPOSE}   </nvs:accessPurpose>"
        ),
        "BlankText",
        field="accessPurpose",
    ),
    HostileCase(
        "accessPurpose of zero-width spaces only",
        lambda user: soap.envelope(
            BODY,
            username=user.username,
            password=user.password,
            header=f"{PURPOSE}\u200b\u200b\ufeff</nvs:accessPurpose>",
        ),
        "BlankText",
        field="accessPurpose",
    ),
    HostileCase(
        "accessPurpose twice",
        lambda user: soap.envelope(
            BODY,
            username=user.username,
            password=user.password,
            header=f"{PURPOSE}A</nvs:accessPurpose>{PURPOSE}B</nvs:accessPurpose>",
        ),
        "InvalidMessage",
        field="accessPurpose[2]",
    ),
    HostileCase(
        "accessPurpose with a child element",
        lambda user: soap.envelope(
            BODY,
            username=user.username,
            password=user.password,
            header=f"{PURPOSE}A<nvs:x>{SENT_CODE}</nvs:x></nvs:accessPurpose>",
        ),
        "InvalidMessage",
        field="accessPurpose",
    ),
    HostileCase(
        "accessPurpose with an attribute",
        lambda user: soap.envelope(
            BODY,
            username=user.username,
            password=user.password,
            header=f'<nvs:accessPurpose xmlns:nvs="{TNS}" admin="1">A</nvs:accessPurpose>',
        ),
        "InvalidMessage",
        field="accessPurpose",
    ),
    HostileCase(
        "a misspelt header of our namespace",
        lambda user: soap.envelope(
            BODY,
            username=user.username,
            password=user.password,
            header=f'<nvs:accesPurpose xmlns:nvs="{TNS}">case 1</nvs:accesPurpose>',
        ),
        "InvalidMessage",
        field="accesPurpose",
    ),
    HostileCase(
        "a request element as a header",
        lambda user: soap.envelope(
            BODY,
            username=user.username,
            password=user.password,
            header=lookup().replace("<nvs:LookupPerson>", f'<nvs:LookupPerson xmlns:nvs="{TNS}">'),
        ),
        "InvalidMessage",
        field="LookupPerson",
    ),
]


def test_other_soap_versions_get_a_version_mismatch_fault(shared_gateway, logs):
    check(shared_gateway, VERSIONS, logs)


def test_a_mandatory_header_not_understood_gets_a_must_understand_fault(shared_gateway, logs):
    check(shared_gateway, MUST_UNDERSTAND, logs)


def test_security_headers_twice_or_incomplete_are_refused(shared_gateway, logs):
    check(shared_gateway, SECURITY, logs)


def test_headers_of_our_namespace_are_checked_against_the_contract(shared_gateway, logs):
    check(shared_gateway, OURS, logs)


def test_an_access_purpose_within_the_contract_is_accepted_with_mandatory_understanding(shared_gateway):
    user = shared_gateway.database.user_named(ADMINISTRATOR)
    header = f'<nvs:accessPurpose xmlns:nvs="{TNS}" soapenv:mustUnderstand="1">  Byla   Nr. 7 </nvs:accessPurpose>'
    response = soap.post(
        shared_gateway.registry_url,
        soap.envelope(
            f"<nvs:GetAccessLog><nvs:personalCode>{SENT_CODE}</nvs:personalCode><nvs:dateFrom>2026-09-01</nvs:dateFrom>"
            "<nvs:dateTo>2026-09-30</nvs:dateTo></nvs:GetAccessLog>",
            username=user.username,
            password=user.password,
            header=header,
        ),
    )
    soap.parse_success(response)
    stored = shared_gateway.database.rows("SELECT purpose FROM access_log WHERE operation = 'GetAccessLog'")
    assert [row.purpose for row in stored][-1:] == ["Byla Nr. 7"]
