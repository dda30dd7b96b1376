"""Users, authentication, X-Road headers and the access log, as integrators and operators meet them:
zeep over real HTTP, and the nvs-gateway commands."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from pathlib import Path

import pytest
import requests
import zeep
from lxml import etree
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from zeep.exceptions import Fault
from zeep.plugins import HistoryPlugin
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from gateway.accounts import Accounts
from gateway.auth import DigestSecrets
from gateway.bootstrap import SANDBOX_DIGEST_SECRET_KEY
from gateway.cli import main
from gateway.clock import FixedClock
from gateway.config import REPOSITORY_ROOT
from gateway.domain.access import Scope
from gateway.domain.calendar import SchoolYear
from gateway.ports import AccessRecord
from gateway.sandbox import INSTITUTION_RIGHTS
from tests.clock import E2E_START, E2E_TODAY
from tests.e2e.helpers import (
    XROAD,
    ClockedUsernameToken,
    child_code,
    fault_detail,
    registry_client,
    xroad_headers,
    xroad_headers_of,
)

SCHOOL = "300000011"  # municipal, Anykščiai (34)
VILNIUS_SCHOOL = "300000012"  # municipal, Vilnius (13)
ANYKSCIAI_CLUB = "300000023"  # non-state, Anykščiai
TODAY = E2E_TODAY
YEAR = SchoolYear.containing(TODAY)
PURPOSE = "{urn:lt:mokiniu-registras:nvs-gateway:v1}accessPurpose"


def refused(call) -> dict[str, str]:
    with pytest.raises(Fault) as fault:
        call()
    return fault_detail(fault.value)


def make_user(
    database,
    username: str,
    password: str = "Pradinis-slaptazodis-1",
    *,
    scope: Scope | None = None,
    rights=INSTITUTION_RIGHTS,
    digest: bool = True,
    **dates,
) -> None:
    secrets = DigestSecrets(SANDBOX_DIGEST_SECRET_KEY if digest else None)
    Accounts(database.uow_factory, secrets, clock=FixedClock.on(TODAY)).ensure_user(
        username, password, scope or Scope.institution(SCHOOL), rights, **dates
    )


def contract() -> dict:
    return {"typeCode": "BILATERAL", "date": YEAR.starts_on, "number": "S-1"}


# --- users from registration requests ------------------------------------------------------
def request_file(tmp_path: Path, **changes: str) -> Path:
    """The README's example request, with today's dates (and any element replaced)."""
    source = (REPOSITORY_ROOT / "data" / "users" / "example-request.xml").read_text(encoding="utf-8")
    values = {
        "validFrom": TODAY.isoformat(),
        "validUntil": (TODAY + dt.timedelta(days=365)).isoformat(),
        "filledOn": TODAY.isoformat(),
    }
    values.update(changes)
    tree = etree.fromstring(source.encode())
    ns = "{urn:lt:mokiniu-registras:user-registration-request:v1}"
    for name, value in values.items():
        next(tree.iter(ns + name)).text = value
    path = tmp_path / "request.xml"
    path.write_bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))
    return path


@pytest.fixture
def cli(database, monkeypatch):
    monkeypatch.setenv("NVS_DATABASE_URL", database.url)
    monkeypatch.setenv("NVS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("NVS_DIGEST_SECRET_KEY", SANDBOX_DIGEST_SECRET_KEY)
    return database


def test_a_request_file_becomes_a_user_who_logs_in_with_the_printed_password(
    cli, live_gateway, tmp_path, capsys
) -> None:
    assert main(["users", "add", str(request_file(tmp_path))]) == 0
    out = capsys.readouterr().out
    username = out.split("created user ")[1].split()[0]
    password = out.split("initial password")[1].split(": ", 1)[1].strip()
    assert username == "ona.kairiene"
    service = registry_client(live_gateway.wsdl_url, username, password).service
    assert service.LookupPerson(personalCode=child_code(dt.date(2015, 1, 1), 7)).person.firstName
    # Her rights (learning data manager) let her open groups of her school; the access log is not hers to read.
    assert service.CreateGroup(
        schoolYear=str(YEAR), programCode="100000112", name="G", subDirectionCode=["MUSIC.PIANO"]
    ).groupId
    assert (
        refused(
            lambda: service.GetAccessLog(personalCode=child_code(dt.date(2015, 1, 1), 7), dateFrom=TODAY, dateTo=TODAY)
        )["code"]
        == "AccessDenied"
    )
    # The password is shown once: listing shows the user, never the password nor the personal code.
    assert main(["users", "list"]) == 0
    listing = capsys.readouterr().out
    assert "ona.kairiene" in listing and "institution 300000011" in listing and "active" in listing
    assert password not in listing and "48001010010" not in listing
    assert main(["users", "disable", username]) == 0
    assert (
        refused(lambda: service.LookupPerson(personalCode=child_code(dt.date(2015, 1, 1), 7)))["code"]
        == "AuthenticationFailed"
    )
    assert main(["users", "disable", "nobody-like-this"]) == 1


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"confidentialityPledgeSigned": "false"}, "ConfidentialityPledgeNotSigned"),
        ({"validUntil": (TODAY - dt.timedelta(days=1)).isoformat()}, "InvalidUserRequest"),
        (
            {
                "filledOn": (TODAY + dt.timedelta(days=3)).isoformat(),
                "validFrom": (TODAY + dt.timedelta(days=3)).isoformat(),
            },
            "InvalidUserRequest",
        ),
        ({"personalCode": "48001010011"}, "InvalidPersonalCode"),
    ],
    ids=["no-pledge", "until-before-from", "filled-in-future", "bad-personal-code"],
)
def test_a_request_that_cannot_be_granted_creates_no_user(cli, tmp_path, capsys, changes, expected) -> None:
    before = cli.count("app_user")
    assert main(["users", "add", str(request_file(tmp_path, **changes))]) == 1
    err = capsys.readouterr().err
    assert expected in err and "48001010011" not in err
    assert cli.count("app_user") == before


def test_a_request_file_outside_its_schema_is_refused_with_its_problems(cli, tmp_path, capsys) -> None:
    path = request_file(tmp_path)
    path.write_text(
        path.read_text(encoding="utf-8").replace("<level>viewer</level>", "<level>owner</level>", 1), encoding="utf-8"
    )
    assert main(["users", "add", str(path)]) == 1
    assert "owner" in capsys.readouterr().err


def register_user_request(personal_code: str, institution: str, **changes) -> dict:
    request = {
        "personalCode": personal_code,
        "firstName": "Jonas",
        "lastName": "Petraitis",
        "email": "jonas@example.lt",
        "phone": "+370 611 11111",
        "position": "Mokytojas",
        "institutionCode": institution,
        "institutionName": "Mokykla",
        "workplaceAddress": "Anykščiai",
        "validFrom": TODAY,
        "validUntil": TODAY + dt.timedelta(days=30),
        "filledOn": TODAY,
        "confirmations": {
            "lawOnPersonalDataProtectionRead": True,
            "registerRegulationsRead": True,
            "userManualRead": True,
            "confidentialityPledgeSigned": True,
        },
        "actsFor": {"institutionCode": institution},
        "right": [
            {"area": "registration-correction", "level": "manager"},
            {"area": "student-personal-data", "level": "viewer"},
        ],
    }
    request.update(changes)
    return request


def test_a_coordinator_registers_users_of_its_own_municipal_schools_only(live_gateway) -> None:
    database = live_gateway.database
    coordinator = registry_client(live_gateway.wsdl_url, "sandbox-municipality-34", "Sandbox-municipality-34!").service
    before = database.count("app_user")
    teacher = child_code(dt.date(1980, 5, 5), 11)
    refusals = {
        "WrongIssuer": [
            register_user_request(teacher, ANYKSCIAI_CLUB),
            register_user_request(teacher, VILNIUS_SCHOOL),
            register_user_request(
                teacher, SCHOOL, actsFor={"municipalityCode": "34"}, right=[{"area": "list-forming", "level": "viewer"}]
            ),
        ],
        "ConfidentialityPledgeNotSigned": [
            register_user_request(
                teacher,
                SCHOOL,
                confirmations={
                    "lawOnPersonalDataProtectionRead": True,
                    "registerRegulationsRead": True,
                    "userManualRead": True,
                    "confidentialityPledgeSigned": False,
                },
            )
        ],
        "InvalidUserRequest": [
            register_user_request(teacher, SCHOOL, validUntil=TODAY - dt.timedelta(days=1)),
            register_user_request(teacher, SCHOOL, actsFor={"institutionCode": SCHOOL, "central": True}),
        ],
    }
    for code, requests_ in refusals.items():
        for request in requests_:
            detail = refused(lambda: coordinator.RegisterUser(**request))
            assert detail["code"] == code, request
            assert teacher not in str(detail)
    assert database.count("app_user") == before

    created = coordinator.RegisterUser(**register_user_request(teacher, SCHOOL))
    assert created.user.username == "jonas.petraitis" and created.user.actsFor.institutionCode == SCHOOL
    assert [(r.area, r.level) for r in created.user.right] == [
        ("student-personal-data", "viewer"),
        ("registration-correction", "manager"),
    ]
    assert (
        refused(lambda: coordinator.RegisterUser(**register_user_request(teacher, SCHOOL)))["code"] == "DuplicateUser"
    )

    # The new user logs in with the initial password, changes it, and only the new one works.
    user = registry_client(live_gateway.wsdl_url, created.user.username, created.initialPassword).service
    assert refused(lambda: user.ChangePassword(newPassword="short"))["code"] == "PasswordTooWeak"
    assert user.ChangePassword(newPassword="Naujas-Slaptazodis-2026") == created.user.username
    assert refused(lambda: user.ChangePassword(newPassword="Dar-Vienas-2026!"))["code"] == "AuthenticationFailed"
    renewed = registry_client(live_gateway.wsdl_url, created.user.username, "Naujas-Slaptazodis-2026").service
    assert renewed.LookupPerson(personalCode=child_code(dt.date(2015, 2, 2), 3)).person
    # PasswordDigest works with the new password too (the sealed secret follows the change).
    digest = zeep.Client(
        live_gateway.wsdl_url,
        wsse=ClockedUsernameToken(created.user.username, "Naujas-Slaptazodis-2026", live_gateway.clock),
    )
    assert digest.service.LookupPerson(personalCode=child_code(dt.date(2015, 2, 2), 3)).person


# --- authentication --------------------------------------------------------------------------
def test_repeated_failures_lock_a_user_name_across_gateways_whether_it_exists_or_not(start_gateway) -> None:
    first, second = (
        start_gateway(lockout_threshold=3, lockout_minutes=10),
        start_gateway(lockout_threshold=3, lockout_minutes=10),
    )
    database = first.database
    make_user(database, "lockout-user", "Teisingas-slaptazodis-1")
    code = child_code(dt.date(2015, 3, 3), 9)
    for username in ("lockout-user", "no-such-user"):
        for gateway in (first, second, first):  # the count is in the database: both workers add to it
            service = registry_client(gateway.wsdl_url, username, "wrong password").service
            assert refused(lambda: service.LookupPerson(personalCode=code))["code"] == "AuthenticationFailed"
        for gateway in (first, second):
            service = registry_client(gateway.wsdl_url, username, "Teisingas-slaptazodis-1").service
            assert refused(lambda: service.LookupPerson(personalCode=code))["code"] == "AccountLocked"
    other = registry_client(first.wsdl_url, database.user(SCHOOL).username, database.user(SCHOOL).password).service
    assert other.LookupPerson(personalCode=code).person  # other users are not affected


def test_failures_below_the_threshold_are_forgotten_after_a_success(start_gateway) -> None:
    gateway = start_gateway(lockout_threshold=3)
    make_user(gateway.database, "forgetful", "Teisingas-slaptazodis-1")
    code = child_code(dt.date(2015, 3, 3), 9)
    wrong = registry_client(gateway.wsdl_url, "forgetful", "wrong").service
    right = registry_client(gateway.wsdl_url, "forgetful", "Teisingas-slaptazodis-1").service
    for _ in range(3):
        refused(lambda: wrong.LookupPerson(personalCode=code))
        refused(lambda: wrong.LookupPerson(personalCode=code))
        assert right.LookupPerson(personalCode=code).person


def test_a_replayed_digest_envelope_is_refused_by_every_gateway_on_the_database(start_gateway) -> None:
    first, second = start_gateway(), start_gateway()
    user = first.database.user(SCHOOL)
    history = HistoryPlugin()
    client = zeep.Client(
        first.wsdl_url, wsse=ClockedUsernameToken(user.username, user.password, first.clock), plugins=[history]
    )
    client.service.LookupPerson(personalCode=child_code(dt.date(2015, 3, 3), 9))
    envelope = etree.tostring(history.last_sent["envelope"])
    for gateway in (second, first):
        answer = requests.post(
            gateway.registry_url, data=envelope, headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=10
        )
        assert answer.status_code == 500
        assert b"<tns:code>TokenReplayed</tns:code>" in answer.content or b"TokenReplayed</" in answer.content


def test_digest_tokens_must_be_fresh_and_need_a_sealed_secret(live_gateway) -> None:
    user = live_gateway.database.user(SCHOOL)
    code = child_code(dt.date(2015, 3, 3), 9)
    stale = live_gateway.clock.now() - dt.timedelta(minutes=6)
    old_token = zeep.Client(
        live_gateway.wsdl_url, wsse=UsernameToken(user.username, user.password, use_digest=True, created=stale)
    )
    assert refused(lambda: old_token.service.LookupPerson(personalCode=code))["code"] == "MessageExpired"
    # A user whose password was set without a digest key has no sealed secret: PasswordText only.
    make_user(live_gateway.database, "text-only", "Teisingas-slaptazodis-1", digest=False)
    digest = zeep.Client(
        live_gateway.wsdl_url, wsse=ClockedUsernameToken("text-only", "Teisingas-slaptazodis-1", live_gateway.clock)
    )
    assert refused(lambda: digest.service.LookupPerson(personalCode=code))["code"] == "AuthenticationFailed"
    assert (
        registry_client(live_gateway.wsdl_url, "text-only", "Teisingas-slaptazodis-1")
        .service.LookupPerson(personalCode=code)
        .person
    )


def test_users_are_refused_outside_their_validity_dates(live_gateway) -> None:
    database = live_gateway.database
    make_user(database, "not-yet", valid_from=TODAY + dt.timedelta(days=1), valid_until=TODAY + dt.timedelta(days=90))
    make_user(database, "too-late", valid_from=TODAY - dt.timedelta(days=90), valid_until=TODAY - dt.timedelta(days=1))
    make_user(database, "last-day", valid_from=TODAY - dt.timedelta(days=90), valid_until=TODAY)
    code = child_code(dt.date(2015, 3, 3), 9)
    for username, expected in (("not-yet", "CredentialsNotYetValid"), ("too-late", "CredentialsExpired")):
        service = registry_client(live_gateway.wsdl_url, username, "Pradinis-slaptazodis-1").service
        assert refused(lambda: service.LookupPerson(personalCode=code))["code"] == expected
        # ...but only once the password was right: a wrong one says nothing about the dates.
        wrong = registry_client(live_gateway.wsdl_url, username, "wrong").service
        assert refused(lambda: wrong.LookupPerson(personalCode=code))["code"] == "AuthenticationFailed"
    assert (
        registry_client(live_gateway.wsdl_url, "last-day", "Pradinis-slaptazodis-1")
        .service.LookupPerson(personalCode=code)
        .person
    )


# --- X-Road headers ---------------------------------------------------------------------------
def test_x_road_headers_come_back_in_order_and_wrong_ones_are_refused_with_them(live_gateway, caplog) -> None:
    caplog.set_level(logging.INFO, logger="nvs.gateway")
    user = live_gateway.database.user(SCHOOL)
    history = HistoryPlugin()
    client = zeep.Client(
        live_gateway.wsdl_url,
        wsse=UsernameToken(user.username, user.password),
        plugins=[history],
        transport=Transport(timeout=10, operation_timeout=15),
    )
    code = child_code(dt.date(2015, 3, 3), 9)
    message_id = str(uuid.uuid4())
    sent = xroad_headers("LookupPerson", message_id)
    hash_header = etree.Element(f"{{{XROAD}}}requestHash", algorithmId="http://www.w3.org/2001/04/xmlenc#sha512")
    hash_header.text = "c2VjdXJpdHkgc2VydmVyJ3M="
    client.service.LookupPerson(personalCode=code, _soapheaders=sent + [hash_header])
    echoed = xroad_headers_of(history.last_received["envelope"])
    assert [h[0].split("}")[1] for h in echoed] == ["client", "service", "id", "userId", "issue", "protocolVersion"]
    assert dict((h[0].split("}")[1], h[2]) for h in echoed)["id"] == message_id
    # The X-Road id is the request id in the log; the userId (a personal code) and the child's code are not there.
    assert f"request={message_id}" in caplog.text
    assert "38001010010" not in caplog.text and code not in caplog.text

    cases = [
        (xroad_headers("LookupPerson", str(uuid.uuid4()), protocol_version="3.1"), "protocolVersion"),
        (xroad_headers("GetStudent", str(uuid.uuid4())), "service/serviceCode"),
        ([h for h in xroad_headers("LookupPerson", str(uuid.uuid4())) if not h.tag.endswith("}client")], "client"),
    ]
    before = live_gateway.database.count("person")
    for headers, field in cases:
        with pytest.raises(Fault) as fault:
            client.service.LookupPerson(personalCode=code, _soapheaders=headers)
        detail = fault_detail(fault.value)
        assert (detail["code"], detail["field"]) == ("InvalidXRoadHeader", field)
        assert len(xroad_headers_of(history.last_received["envelope"])) == len(headers)  # the fault carries them too
    # Without X-Road headers nothing is required.
    assert client.service.LookupPerson(personalCode=code).person
    assert xroad_headers_of(history.last_received["envelope"]) == []
    assert live_gateway.database.count("person") == before


# --- the access log -----------------------------------------------------------------------------
def test_the_access_log_answers_who_accessed_a_child_when_and_why(live_gateway) -> None:
    database = live_gateway.database
    school, other = database.user(SCHOOL), database.user(VILNIUS_SCHOOL)
    provider = registry_client(live_gateway.wsdl_url, school.username, school.password).service
    intruder = registry_client(live_gateway.wsdl_url, other.username, other.password).service
    coordinator = registry_client(live_gateway.wsdl_url, "sandbox-municipality-34", "Sandbox-municipality-34!").service
    admin_user = database.user_named("sandbox-admin")
    admin = registry_client(live_gateway.wsdl_url, admin_user.username, admin_user.password).service
    child = child_code(dt.date(2016, 6, 6), 61)

    purpose = etree.Element(PURPOSE)
    purpose.text = "Priėmimas pagal sutartį S-1"
    group = provider.CreateGroup(
        schoolYear=str(YEAR), programCode="100000112", name="Žurnalas", subDirectionCode=["MUSIC.PIANO"]
    )
    provider.RegisterStudent(
        personalCode=child,
        groupId=group.groupId,
        firstLearningDate=YEAR.starts_on,
        contract=contract(),
        _soapheaders=[purpose],
    )
    registrations_before = database.count("registration")
    assert refused(lambda: intruder.GetStudent(personalCode=child, institutionCode=SCHOOL))["code"] == "AccessDenied"
    assert (
        refused(
            lambda: intruder.RegisterStudent(
                personalCode=child, groupId=group.groupId, firstLearningDate=YEAR.starts_on, contract=contract()
            )
        )["code"]
        == "GroupNotFound"
    )
    assert database.count("registration") == registrations_before  # refused, nothing written but the log
    coordinator.GetStudent(
        personalCode=child, _soapheaders=xroad_headers("GetStudent", "case-7", issue="Savivaldybės patikra")
    )

    answer = admin.GetAccessLog(personalCode=child, dateFrom=TODAY, dateTo=TODAY)
    seen = [(r.username, r.operation, r.outcome) for r in answer.record]
    assert seen == [
        ("sandbox-municipality-34", "GetStudent", "ok"),
        (other.username, "RegisterStudent", "GroupNotFound"),
        (other.username, "GetStudent", "AccessDenied"),
        (school.username, "RegisterStudent", "ok"),
    ]
    assert answer.total == 4 and answer.page == 1
    assert answer.record[0].actsFor.municipalityCode == "34" and answer.record[0].requestId == "case-7"
    assert answer.record[0].xroadIssue == "Savivaldybės patikra"
    assert (
        answer.record[3].purpose == "Priėmimas pagal sutartį S-1" and answer.record[3].actsFor.institutionCode == SCHOOL
    )

    second_page = admin.GetAccessLog(
        personalCode=child, dateFrom=TODAY - dt.timedelta(days=7), dateTo=TODAY, page=2, pageSize=3
    )
    assert second_page.total == 5  # the administrator's own question is in the log too
    assert [r.operation for r in second_page.record] == ["GetStudent", "RegisterStudent"]
    assert (
        admin.GetAccessLog(
            personalCode=child, dateFrom=TODAY - dt.timedelta(days=7), dateTo=TODAY - dt.timedelta(days=1)
        ).total
        == 0
    )
    assert (
        refused(lambda: admin.GetAccessLog(personalCode=child, dateFrom=TODAY, dateTo=TODAY - dt.timedelta(days=1)))[
            "code"
        ]
        == "InvalidPeriod"
    )


def test_access_log_records_cannot_be_changed_and_the_purge_removes_only_old_ones(cli, capsys) -> None:
    database = cli
    now = E2E_START
    from gateway.access_log import AccessLog

    log = AccessLog(database.uow_factory, clock=FixedClock(now))
    for days, code in ((800, child_code(dt.date(2015, 1, 1), 1)), (10, child_code(dt.date(2015, 1, 1), 2))):
        log.record(
            AccessRecord(
                at=now - dt.timedelta(days=days),
                operation="GetStudent",
                request_id=f"old-{days}",
                outcome="ok",
                username="someone",
                scope=Scope.institution(SCHOOL),
                personal_codes=(code,),
            )
        )
    with pytest.raises(DBAPIError):
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE access_log SET outcome = 'forged'"))
    if database.kind == "postgresql":
        for statement in ("DELETE FROM access_log_person", "DELETE FROM access_log", "TRUNCATE access_log_person"):
            with pytest.raises(DBAPIError):
                with database.engine.begin() as connection:
                    connection.execute(text(statement))
    assert database.count("access_log") == 2

    assert main(["access-log", "purge"]) == 0
    out = capsys.readouterr().out
    assert (
        "retention 730 day(s): removed 1 access log record(s) (1 person entries)" in out and "1 record(s) remain" in out
    )
    assert [row.request_id for row in database.rows("SELECT request_id FROM access_log")] == ["old-10"]
    assert database.count("access_log_person") == 1
