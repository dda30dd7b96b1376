"""Safe retries (issue 10, point 1): a request sent again with its request id gets the first answer,
over real HTTP, on SQLite and PostgreSQL.

* Every operation that changes something, retried with the same ``nvs:requestId`` after its answer was
  lost, answers with the very same response element (the same ids, the same warnings), writes nothing
  (no record, no change event), and the access log says ``replayed``; the retry may carry another
  WS-Security token (PasswordDigest: a fresh nonce and time) and other headers: only the Body counts.
* The same request id with another Body: ``RequestIdReused``; a refused call leaves nothing behind.
* A client that drops the connection right after sending, and retries: the original answer.
* A retry racing the original (both in the population register's wait, or started together):
  ``RequestInProgress`` or the original answer, never a second registration.
* A request id another transaction holds: ``RequestInProgress`` (Server, retriable) at once.
* ``RegisterUser``: the same initial password within the window, ``RequestReplayExpired`` after it.
* The X-Road ``id`` serves as the request id; answers are purged after NVS_REQUEST_ID_DAYS.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import socket
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from urllib.parse import urlparse

import pytest
import requests
from lxml import etree
from sqlalchemy import text

from clients.population_register.sandbox import SPECIAL_PERSONS
from gateway.domain.access import OPERATIONS
from gateway.domain.personal_code import PersonalCode
from tests.clock import E2E_TODAY
from tests.e2e.helpers import child_code, registry_client, xroad_headers
from tests.e2e.soap import envelope, parse_fault, parse_success, post

pytestmark = pytest.mark.e2e

SCHOOL, SCHOOL_PROGRAM = "300000011", "100000112"  # Anykščių muzikos mokykla (municipality 34)
ENGINEERS, ENGINEERS_PROGRAM = "300000021", "100000211"
GENERAL_SCHOOL = "300000041"  # a general-education school: marks clubs
COORDINATOR, COORDINATOR_PASSWORD = "sandbox-municipality-34", "Sandbox-municipality-34!"
YEAR, FIRST_DAY = "2026-2027", dt.date(2026, 9, 1)
CONTRACT = {"typeCode": "BILATERAL", "date": E2E_TODAY, "number": "S-1"}
REGISTRATIONS_OF = "SELECT r.id FROM registration r JOIN person p ON p.id = r.person_id WHERE p.personal_code = :code"


@dataclass
class Request:
    """A write request ready to send: who sends it and its Body."""

    username: str
    password: str
    body: str
    retry_password: str | None = None  # ChangePassword: the retry logs in with the new password


def request_id_header(request_id: str) -> str:
    return f"<nvs:requestId>{request_id}</nvs:requestId>"


def send(
    gateway, request: Request, request_id: str | None, *, retry: bool = False, header: str = ""
) -> requests.Response:
    """The request with its request id; a retry carries a PasswordDigest token (fresh nonce and time) and an
    accessPurpose header the first did not: headers differ between retries, the Body does not."""
    headers = (request_id_header(request_id) if request_id else "") + header
    if retry:
        headers += "<nvs:accessPurpose>Pakartota užklausa</nvs:accessPurpose>"
    return post(
        gateway.registry_url,
        envelope(
            request.body,
            username=request.username,
            password=(request.retry_password or request.password) if retry else request.password,
            digest_created=gateway.clock.now() if retry else None,
            header=headers or None,
        ),
    )


def payload(response: requests.Response) -> bytes:
    return etree.tostring(parse_success(response), method="c14n")


def service_of(gateway, institution_code: str):
    user = gateway.database.user(institution_code)
    return registry_client(gateway.wsdl_url, user.username, user.password).service


def user_of(gateway, institution_code: str) -> tuple[str, str]:
    user = gateway.database.user(institution_code)
    return user.username, user.password


def new_group(gateway, name: str) -> int:
    return (
        service_of(gateway, SCHOOL)
        .CreateGroup(schoolYear=YEAR, programCode=SCHOOL_PROGRAM, name=name, subDirectionCode=["MUSIC.PIANO"])
        .groupId
    )


def new_registration(gateway, serial: int) -> int:
    group = new_group(gateway, f"Grupė {serial}")
    return (
        service_of(gateway, SCHOOL)
        .RegisterStudent(
            personalCode=child_code(dt.date(2015, 4, 4), serial),
            groupId=group,
            firstLearningDate=FIRST_DAY,
            contract=CONTRACT,
        )
        .registration.registrationId
    )


def register_student_body(personal_code: str, group_id: int) -> str:
    return (
        f"<nvs:RegisterStudent><nvs:personalCode>{personal_code}</nvs:personalCode><nvs:groupId>{group_id}</nvs:groupId>"
        f"<nvs:firstLearningDate>{FIRST_DAY}</nvs:firstLearningDate><nvs:contract><nvs:typeCode>BILATERAL</nvs:typeCode>"
        f"<nvs:date>{E2E_TODAY}</nvs:date><nvs:number>S-1</nvs:number></nvs:contract></nvs:RegisterStudent>"
    )


def register_user_body(personal_code: str) -> str:
    until = E2E_TODAY + dt.timedelta(days=30)
    return (
        f"<nvs:RegisterUser><nvs:personalCode>{personal_code}</nvs:personalCode><nvs:firstName>Ona</nvs:firstName>"
        "<nvs:lastName>Kartotė</nvs:lastName><nvs:email>ona@example.lt</nvs:email><nvs:phone>+370 600 12345</nvs:phone>"
        "<nvs:position>Mokytoja</nvs:position><nvs:institutionCode>300000011</nvs:institutionCode>"
        "<nvs:institutionName>Anykščių muzikos mokykla</nvs:institutionName>"
        "<nvs:workplaceAddress>Vilniaus g. 1, Anykščiai</nvs:workplaceAddress>"
        f"<nvs:validFrom>{E2E_TODAY}</nvs:validFrom><nvs:validUntil>{until}</nvs:validUntil>"
        f"<nvs:filledOn>{E2E_TODAY}</nvs:filledOn><nvs:confirmations>"
        "<nvs:lawOnPersonalDataProtectionRead>true</nvs:lawOnPersonalDataProtectionRead>"
        "<nvs:registerRegulationsRead>true</nvs:registerRegulationsRead><nvs:userManualRead>true</nvs:userManualRead>"
        "<nvs:confidentialityPledgeSigned>true</nvs:confidentialityPledgeSigned></nvs:confirmations>"
        "<nvs:actsFor><nvs:institutionCode>300000011</nvs:institutionCode></nvs:actsFor>"
        "<nvs:right><nvs:area>registration-correction</nvs:area><nvs:level>manager</nvs:level></nvs:right>"
        "</nvs:RegisterUser>"
    )


# --- one write request per operation that changes something, with what it needs in place ----------
def _create_group(gw) -> Request:
    return Request(
        *user_of(gw, SCHOOL),
        f"<nvs:CreateGroup><nvs:schoolYear>{YEAR}</nvs:schoolYear><nvs:programCode>{SCHOOL_PROGRAM}</nvs:programCode>"
        "<nvs:name>Kartojimas</nvs:name><nvs:subDirectionCode>MUSIC.PIANO</nvs:subDirectionCode>"
        f"<nvs:leader><nvs:firstName>Ona</nvs:firstName><nvs:lastName>Vadovė</nvs:lastName>"
        f"<nvs:personalCode>{child_code(dt.date(1990, 1, 1), 901, male=False)}</nvs:personalCode></nvs:leader>"
        "</nvs:CreateGroup>",
    )


def _update_group(gw) -> Request:
    group = new_group(gw, "Senas vardas")
    return Request(
        *user_of(gw, SCHOOL),
        f"<nvs:UpdateGroup><nvs:groupId>{group}</nvs:groupId><nvs:name>Naujas vardas</nvs:name>"
        "<nvs:subDirectionCode>MUSIC.PIANO</nvs:subDirectionCode></nvs:UpdateGroup>",
    )


def _register_student(gw) -> Request:
    return Request(
        *user_of(gw, SCHOOL), register_student_body(child_code(dt.date(2015, 5, 5), 902), new_group(gw, "R"))
    )


def _correct_registration(gw) -> Request:
    registration = new_registration(gw, 903)
    return Request(
        *user_of(gw, SCHOOL),
        f"<nvs:CorrectRegistration><nvs:registrationId>{registration}</nvs:registrationId>"
        f"<nvs:contract><nvs:typeCode>BILATERAL</nvs:typeCode><nvs:date>{E2E_TODAY}</nvs:date>"
        "<nvs:number>S-2</nvs:number></nvs:contract></nvs:CorrectRegistration>",
    )


def _cancel_registration(gw) -> Request:
    registration = new_registration(gw, 904)
    return Request(
        *user_of(gw, SCHOOL),
        f"<nvs:CancelRegistration><nvs:registrationId>{registration}</nvs:registrationId>"
        "<nvs:reason>Įvesta per klaidą</nvs:reason></nvs:CancelRegistration>",
    )


def _transfer_student(gw) -> Request:
    registration, group = new_registration(gw, 915), new_group(gw, "Perkėlimo grupė")
    return Request(
        *user_of(gw, SCHOOL),
        f"<nvs:TransferStudent><nvs:registrationId>{registration}</nvs:registrationId>"
        f"<nvs:groupId>{group}</nvs:groupId><nvs:fromDate>{E2E_TODAY}</nvs:fromDate></nvs:TransferStudent>",
    )


def _close_group(gw) -> Request:
    group = new_group(gw, "Uždaroma grupė")
    return Request(
        *user_of(gw, SCHOOL),
        f"<nvs:CloseGroup><nvs:groupId>{group}</nvs:groupId><nvs:closingDate>{E2E_TODAY}</nvs:closingDate>"
        "</nvs:CloseGroup>",
    )


def _delete_group(gw) -> Request:
    group = new_group(gw, "Trinama grupė")
    return Request(*user_of(gw, SCHOOL), f"<nvs:DeleteGroup><nvs:groupId>{group}</nvs:groupId></nvs:DeleteGroup>")


def _roll_over_groups(gw) -> Request:
    group = new_group(gw, "Perkeliama į kitus metus")
    return Request(
        *user_of(gw, SCHOOL),
        f"<nvs:RollOverGroups><nvs:fromYear>{YEAR}</nvs:fromYear><nvs:toYear>2027-2028</nvs:toYear>"
        f"<nvs:groupId>{group}</nvs:groupId></nvs:RollOverGroups>",
    )


def _deregister_student(gw) -> Request:
    registration = new_registration(gw, 905)
    return Request(
        *user_of(gw, SCHOOL),
        f"<nvs:DeregisterStudent><nvs:registrationId>{registration}</nvs:registrationId>"
        f"<nvs:departureDate>{E2E_TODAY}</nvs:departureDate><nvs:departureReasonCode>PARENTS_REQUEST"
        "</nvs:departureReasonCode><nvs:orderNumber>V-1</nvs:orderNumber></nvs:DeregisterStudent>",
    )


def _mark_funding(gw) -> Request:
    registration = new_registration(gw, 906)
    return Request(
        *user_of(gw, SCHOOL),
        f"<nvs:MarkFunding><nvs:registrationId>{registration}</nvs:registrationId>"
        "<nvs:fundingTypeCode>NVS_BASKET</nvs:fundingTypeCode><nvs:fromMonth>2026-09</nvs:fromMonth>"
        "<nvs:toMonth>2026-12</nvs:toMonth></nvs:MarkFunding>",
    )


def _register_students(gw) -> Request:
    """A batch: one record stored, one refused (the same child again); the retry answers both as before."""
    group = new_group(gw, "Paketas")
    record = register_student_body(child_code(dt.date(2015, 5, 6), 908), group)
    record = record.replace("nvs:RegisterStudent>", "nvs:record>")
    return Request(*user_of(gw, SCHOOL), f"<nvs:RegisterStudents>{record}{record}</nvs:RegisterStudents>")


def _deregister_students(gw) -> Request:
    registrations = [new_registration(gw, serial) for serial in (909, 910)]
    records = "".join(
        f"<nvs:record><nvs:registrationId>{r}</nvs:registrationId><nvs:departureDate>{E2E_TODAY}</nvs:departureDate>"
        "<nvs:departureReasonCode>PARENTS_REQUEST</nvs:departureReasonCode></nvs:record>"
        for r in registrations
    )
    return Request(*user_of(gw, SCHOOL), f"<nvs:DeregisterStudents>{records}</nvs:DeregisterStudents>")


def _mark_funding_batch(gw) -> Request:
    registration = new_registration(gw, 911)
    return Request(
        *user_of(gw, SCHOOL),
        f"<nvs:MarkFundingBatch><nvs:record><nvs:registrationId>{registration}</nvs:registrationId>"
        "<nvs:fundingTypeCode>NVS_BASKET</nvs:fundingTypeCode><nvs:fromMonth>2026-09</nvs:fromMonth>"
        "<nvs:toMonth>2026-12</nvs:toMonth></nvs:record></nvs:MarkFundingBatch>",
    )


def _end_funding(gw) -> Request:
    registration = new_registration(gw, 907)
    service_of(gw, SCHOOL).MarkFunding(
        registrationId=registration, fundingTypeCode=["NVS_BASKET"], fromMonth="2026-09", toMonth="2027-02"
    )
    return Request(
        *user_of(gw, SCHOOL),
        f"<nvs:EndFunding><nvs:registrationId>{registration}</nvs:registrationId>"
        "<nvs:fundingTypeCode>NVS_BASKET</nvs:fundingTypeCode><nvs:lastFundedMonth>2026-12</nvs:lastFundedMonth>"
        "</nvs:EndFunding>",
    )


def _register_user(gw) -> Request:
    return Request(COORDINATOR, COORDINATOR_PASSWORD, register_user_body(child_code(dt.date(1985, 3, 3), 908)))


def _change_password(gw) -> Request:
    coordinator = registry_client(gw.wsdl_url, COORDINATOR, COORDINATOR_PASSWORD).service
    created = coordinator.RegisterUser(
        **{
            "personalCode": child_code(dt.date(1984, 4, 4), 909),
            "firstName": "Petras",
            "lastName": "Keitėjas",
            "email": "petras@example.lt",
            "phone": "+370 611 11111",
            "position": "Mokytojas",
            "institutionCode": SCHOOL,
            "institutionName": "Mokykla",
            "workplaceAddress": "Anykščiai",
            "validFrom": E2E_TODAY,
            "validUntil": E2E_TODAY + dt.timedelta(days=30),
            "filledOn": E2E_TODAY,
            "confirmations": {
                "lawOnPersonalDataProtectionRead": True,
                "registerRegulationsRead": True,
                "userManualRead": True,
                "confidentialityPledgeSigned": True,
            },
            "actsFor": {"institutionCode": SCHOOL},
            "right": [{"area": "registration-correction", "level": "manager"}],
        }
    )
    new_password = "Žiema-2026-Fortepijonas-Kartoju"
    return Request(
        created.user.username,
        created.initialPassword,
        f"<nvs:ChangePassword><nvs:newPassword>{new_password}</nvs:newPassword></nvs:ChangePassword>",
        retry_password=new_password,
    )


def _fix_person_data(gw) -> Request:
    renamed = next(p for p in SPECIAL_PERSONS if p.kind == "changed-name" and not p.previous_first_name)
    service_of(gw, SCHOOL).RegisterStudent(
        personalCode=renamed.personal_code, groupId=new_group(gw, "F"), firstLearningDate=FIRST_DAY, contract=CONTRACT
    )
    with gw.database.uow_factory() as uow:  # the register still holds the name GR had before
        person = uow.persons.get(PersonalCode(renamed.personal_code))
        uow.persons.save(
            replace(person, last_name=renamed.previous_last_name or "Senoji"),
            checked_at=dt.datetime(2023, 1, 1, tzinfo=dt.UTC),
        )
        uow.commit()
    return Request(
        *user_of(gw, SCHOOL),
        f"<nvs:FixPersonData><nvs:personalCode>{renamed.personal_code}</nvs:personalCode></nvs:FixPersonData>",
    )


def _acknowledge_notice(gw) -> Request:
    """The engineers are told when the school gives up basket months of a child they also teach."""
    from tests.e2e.test_feed_checks_notices import engineers_sub_direction

    school, engineers = service_of(gw, SCHOOL), service_of(gw, ENGINEERS)
    child = child_code(dt.date(2015, 6, 7), 910)
    at_school = school.RegisterStudent(
        personalCode=child, groupId=new_group(gw, "A"), firstLearningDate=FIRST_DAY, contract=CONTRACT
    ).registration.registrationId
    other = engineers.CreateGroup(
        schoolYear=YEAR, programCode=ENGINEERS_PROGRAM, name="Robotika", subDirectionCode=[engineers_sub_direction()]
    ).groupId
    engineers.RegisterStudent(personalCode=child, groupId=other, firstLearningDate=FIRST_DAY, contract=CONTRACT)
    school.MarkFunding(registrationId=at_school, fundingTypeCode=["NVS_BASKET"], fromMonth="2026-09", toMonth="2027-02")
    school.EndFunding(registrationId=at_school, fundingTypeCode="NVS_BASKET", lastFundedMonth="2026-12")
    [notice] = engineers.ListNotices(kind="BASKET_MONTHS_RELEASED").notice
    return Request(
        *user_of(gw, ENGINEERS),
        f"<nvs:AcknowledgeNotice><nvs:noticeId>{notice.noticeId}</nvs:noticeId></nvs:AcknowledgeNotice>",
    )


def _mark_club_attendance(gw) -> Request:
    return Request(
        *user_of(gw, GENERAL_SCHOOL),
        f"<nvs:MarkClubAttendance><nvs:personalCode>{child_code(dt.date(2014, 6, 1), 911)}</nvs:personalCode>"
        f"<nvs:schoolYear>{YEAR}</nvs:schoolYear><nvs:directionCode>SPORT</nvs:directionCode>"
        "<nvs:fromDate>2026-09-15</nvs:fromDate></nvs:MarkClubAttendance>",
    )


def _end_club_attendance(gw) -> Request:
    marked = service_of(gw, GENERAL_SCHOOL).MarkClubAttendance(
        personalCode=child_code(dt.date(2014, 6, 1), 912), schoolYear=YEAR, directionCode=["SPORT"]
    )
    return Request(
        *user_of(gw, GENERAL_SCHOOL),
        f"<nvs:EndClubAttendance><nvs:attendanceId>{marked.attendanceId}</nvs:attendanceId>"
        f"<nvs:endDate>{E2E_TODAY}</nvs:endDate></nvs:EndClubAttendance>",
    )


def _administration(operation: str, body: str) -> Callable[..., Request]:
    """The school's coordinator acts on a fresh user of the school (ADMINISTRATION, contract 1.8)."""

    def request(gw) -> Request:
        from gateway.accounts import Accounts
        from gateway.auth import DigestSecrets
        from gateway.clock import FixedClock
        from gateway.domain.access import Scope
        from gateway.sandbox import INSTITUTION_RIGHTS

        username = f"retry-{operation.lower()}"
        Accounts(gw.database.uow_factory, DigestSecrets(None), clock=FixedClock.on(E2E_TODAY)).ensure_user(
            username, "Pradinis-slaptazodis-1", Scope.institution(SCHOOL), INSTITUTION_RIGHTS
        )
        inner = body.format(username=f"<nvs:username>{username}</nvs:username>")
        return Request(COORDINATOR, COORDINATOR_PASSWORD, f"<nvs:{operation}>{inner}</nvs:{operation}>")

    return request


ADMINISTRATION_REQUESTS: dict[str, Callable[..., Request]] = {
    "ChangeUserRights": _administration(
        "ChangeUserRights",
        "{username}<nvs:right><nvs:area>list-forming</nvs:area><nvs:level>viewer</nvs:level></nvs:right>",
    ),
    "SetUserValidity": _administration(
        "SetUserValidity",
        f"{{username}}<nvs:validFrom>{E2E_TODAY}</nvs:validFrom>"
        f"<nvs:validUntil>{E2E_TODAY + dt.timedelta(days=30)}</nvs:validUntil>",
    ),
    "DisableUser": _administration("DisableUser", "{username}"),
    "EnableUser": _administration("EnableUser", "{username}"),
    # Its answer carries the new initial password: replayed, sealed, within the window as RegisterUser's.
    "ResetPassword": _administration("ResetPassword", "{username}"),
}

WRITE_REQUESTS: dict[str, Callable[..., Request]] = {
    **ADMINISTRATION_REQUESTS,
    "CreateGroup": _create_group,
    "UpdateGroup": _update_group,
    "RegisterStudent": _register_student,
    "RegisterStudents": _register_students,
    "DeregisterStudents": _deregister_students,
    "MarkFundingBatch": _mark_funding_batch,
    "CorrectRegistration": _correct_registration,
    "CancelRegistration": _cancel_registration,
    "DeregisterStudent": _deregister_student,
    "TransferStudent": _transfer_student,
    "CloseGroup": _close_group,
    "DeleteGroup": _delete_group,
    "RollOverGroups": _roll_over_groups,
    "MarkFunding": _mark_funding,
    "EndFunding": _end_funding,
    "RegisterUser": _register_user,
    "ChangePassword": _change_password,
    "FixPersonData": _fix_person_data,
    "AcknowledgeNotice": _acknowledge_notice,
    "MarkClubAttendance": _mark_club_attendance,
    "EndClubAttendance": _end_club_attendance,
}


def test_every_operation_that_changes_something_has_a_retry_case_here() -> None:
    assert set(WRITE_REQUESTS) == {name for name, rule in OPERATIONS.items() if rule.changes}


def state_of(database) -> dict[str, object]:
    """What a second run would change: every table's count, and every user's password hash."""
    state: dict[str, object] = dict(database.snapshot())
    state["change_event"] = database.count("change_event")
    state["passwords"] = sorted(row[0] for row in database.rows("SELECT password_hash FROM app_user"))
    state["request_outcome"] = database.count("request_outcome")
    return state


def outcomes_of(database, request_id: str) -> list[str]:
    return [
        row[0]
        for row in database.rows("SELECT outcome FROM access_log WHERE request_id = :id ORDER BY id", id=request_id)
    ]


@pytest.mark.parametrize("operation", sorted(WRITE_REQUESTS))
def test_a_retry_whose_first_answer_was_lost_gets_that_answer_and_nothing_is_done_twice(
    live_gateway, operation
) -> None:
    database = live_gateway.database
    request = WRITE_REQUESTS[operation](live_gateway)
    request_id = str(uuid.uuid4())
    first = payload(send(live_gateway, request, request_id))  # the answer the client never saw
    done = state_of(database)

    again = send(live_gateway, request, request_id, retry=True)
    assert payload(again) == first  # the same ids, warnings, password: byte for byte (canonical form)
    assert state_of(database) == done  # nothing written twice: no record, no change event, no new password
    assert payload(send(live_gateway, request, request_id, retry=True)) == first  # and again
    if OPERATIONS[operation].personal_data:
        assert outcomes_of(database, request_id) == ["ok", "replayed", "replayed"]


def test_the_same_request_id_with_another_body_is_refused_and_changes_nothing(live_gateway) -> None:
    database = live_gateway.database
    username, password = user_of(live_gateway, SCHOOL)
    group = new_group(live_gateway, "Kitas kūnas")
    request_id = str(uuid.uuid4())
    first = Request(username, password, register_student_body(child_code(dt.date(2015, 7, 7), 920), group))
    parse_success(send(live_gateway, first, request_id))
    before = state_of(database)
    other = Request(username, password, register_student_body(child_code(dt.date(2015, 7, 8), 921), group))
    fault = parse_fault(send(live_gateway, other, request_id))
    assert (fault.faultcode, fault.code, fault.detail.get("field")) == ("Client", "RequestIdReused", "requestId")
    assert state_of(database) == before
    # Another user's request ids are its own: the same id is a new request for it.
    engineers = Request(
        *user_of(live_gateway, ENGINEERS),
        "<nvs:CreateGroup><nvs:schoolYear>2026-2027</nvs:schoolYear>"
        f"<nvs:programCode>{ENGINEERS_PROGRAM}</nvs:programCode><nvs:name>Savas</nvs:name>"
        f"<nvs:subDirectionCode>{_engineers_sub_direction()}</nvs:subDirectionCode></nvs:CreateGroup>",
    )
    parse_success(send(live_gateway, engineers, request_id))


def _engineers_sub_direction() -> str:
    from tests.e2e.test_feed_checks_notices import engineers_sub_direction

    return engineers_sub_direction()


def test_a_refused_request_leaves_nothing_behind_so_its_retry_runs_again(live_gateway) -> None:
    username, password = user_of(live_gateway, SCHOOL)
    request_id = str(uuid.uuid4())
    child = child_code(dt.date(2015, 8, 8), 922)
    missing_group = Request(username, password, register_student_body(child, 99_999))
    assert parse_fault(send(live_gateway, missing_group, request_id)).code == "GroupNotFound"
    assert live_gateway.database.count("request_outcome") == 0
    # The caller fixes what was refused; sent again under the same id, as a new request, it is done.
    group = new_group(live_gateway, "Po klaidos")
    fixed = Request(username, password, register_student_body(child, group))
    assert text_of_id(parse_success(send(live_gateway, fixed, request_id))) is not None


def text_of_id(element) -> str | None:
    found = element.find(".//{*}registrationId")
    return None if found is None else found.text


def test_a_client_that_drops_the_connection_after_sending_gets_the_original_answer_on_retry(live_gateway) -> None:
    database = live_gateway.database
    request = Request(
        *user_of(live_gateway, SCHOOL),
        register_student_body(child_code(dt.date(2015, 9, 9), 923), new_group(live_gateway, "Nutrūko")),
    )
    request_id = str(uuid.uuid4())
    document = envelope(
        request.body, username=request.username, password=request.password, header=request_id_header(request_id)
    )
    address = urlparse(live_gateway.registry_url)
    with socket.create_connection((address.hostname, address.port), timeout=5) as connection:
        connection.sendall(
            f"POST {address.path} HTTP/1.1\r\nHost: {address.netloc}\r\nContent-Type: text/xml; charset=utf-8\r\n"
            f"Content-Length: {len(document)}\r\nConnection: close\r\n\r\n".encode()
            + document
        )
    # The connection is gone before any answer; the client retries until it gets one.
    for _ in range(50):
        answer = send(live_gateway, request, request_id, retry=True)
        if answer.status_code == 200 or parse_fault(answer).code != "RequestInProgress":
            break
        time.sleep(0.2)
    registration = text_of_id(parse_success(answer))
    rows = database.rows(REGISTRATIONS_OF, code=child_code(dt.date(2015, 9, 9), 923))
    assert [str(row[0]) for row in rows] == [registration]


@pytest.mark.parametrize("gr_latency", [0.0, 0.8], ids=["together", "in-the-gr-wait"])
def test_a_retry_racing_the_original_gets_its_answer_or_request_in_progress_never_a_second_registration(
    start_gateway, gr_latency
) -> None:
    gateway = start_gateway(sandbox_gr_latency=gr_latency, population_register_read_timeout=5.0)
    database = gateway.database
    username, password = user_of(gateway, SCHOOL)
    group = new_group(gateway, "Lenktynės")
    for round_number in range(4):
        child = child_code(dt.date(2015, 10, 1 + round_number), 930 + round_number)
        request = Request(username, password, register_student_body(child, group))
        request_id = str(uuid.uuid4())
        start = threading.Barrier(3)

        def attempt(delay: float, request=request, request_id=request_id, start=start):
            start.wait()
            time.sleep(delay)
            answer = send(gateway, request, request_id)
            return ("ok", payload(answer)) if answer.status_code == 200 else (parse_fault(answer).code, b"")

        # The original, and two retries: one at once, one while the original waits for GR.
        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(attempt, (0.0, 0.0, gr_latency / 2)))
        # PopulationRegisterUnavailable: GR (the sandbox's, on a loaded machine) missed the deadline: nothing done.
        assert {code for code, _ in results} <= {"ok", "RequestInProgress", "PopulationRegisterUnavailable"}, results
        answers = {body for code, body in results if code == "ok"}
        assert len(answers) <= 1, "two different answers to one request"
        for _ in range(3):  # a last retry, once all is quiet (again if GR, loaded, missed its deadline)
            last = send(gateway, request, request_id)
            if last.status_code == 200 or parse_fault(last).code != "PopulationRegisterUnavailable":
                break
        final = payload(last)
        assert answers <= {final}
        assert len(database.rows(REGISTRATIONS_OF, code=child)) == 1


def test_a_request_id_held_by_another_transaction_is_request_in_progress_at_once(database, start_gateway) -> None:
    if database.kind != "postgresql":
        pytest.skip("on SQLite writers are serialised: the retry waits for the original and replays its answer")
    gateway = start_gateway()
    username, password = user_of(gateway, SCHOOL)
    request = Request(
        username, password, register_student_body(child_code(dt.date(2015, 11, 1), 940), new_group(gateway, "U"))
    )
    request_id = str(uuid.uuid4())
    user_id = database.rows("SELECT id FROM app_user WHERE username = :name", name=username)[0][0]
    key = int.from_bytes(
        hashlib.sha256(f"nvs-request-id/{user_id}/{request_id}".encode()).digest()[:8], "big", signed=True
    )
    with database.engine.connect() as holder:  # another worker, in the middle of the same request
        holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
        started = time.monotonic()
        fault = parse_fault(send(gateway, request, request_id))
        assert time.monotonic() - started < 10  # not waiting for the holder, which would hold it for ever
        assert (fault.faultcode, fault.code) == ("Server", "RequestInProgress")
        holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
    assert database.count("registration") == 0
    parse_success(send(gateway, request, request_id))  # once the other has finished, the retry goes through


def test_a_retried_register_user_gets_the_same_password_within_the_window_then_a_fault_naming_the_reset(
    live_gateway,
) -> None:
    database = live_gateway.database
    request = _register_user(live_gateway)
    request_id = str(uuid.uuid4())
    first = parse_success(send(live_gateway, request, request_id))
    password = first.findtext("{*}initialPassword")
    assert password
    stored = database.rows("SELECT response, sealed_response FROM request_outcome")
    assert stored[0][0] is None and password not in (stored[0][1] or "")  # kept sealed only
    live_gateway.clock.advance(dt.timedelta(minutes=14))
    assert parse_success(send(live_gateway, request, request_id, retry=True)).findtext("{*}initialPassword") == password
    live_gateway.clock.advance(dt.timedelta(minutes=2))
    users = database.count("app_user")
    fault = parse_fault(send(live_gateway, request, request_id, retry=True))
    assert (fault.faultcode, fault.code) == ("Client", "RequestReplayExpired")
    assert "reset-password" in fault.detail["message"] and password not in fault.text
    assert database.count("app_user") == users


def test_the_x_road_id_serves_as_the_request_id(live_gateway) -> None:
    request = _create_group(live_gateway)
    message_id = str(uuid.uuid4())
    headers = "".join(etree.tostring(h).decode() for h in xroad_headers("CreateGroup", message_id=message_id))
    first = payload(send(live_gateway, request, None, header=headers))
    groups = live_gateway.database.count("nvs_group")
    assert payload(send(live_gateway, request, None, header=headers)) == first
    assert live_gateway.database.count("nvs_group") == groups


def test_answers_are_purged_after_the_settings_days(live_gateway, monkeypatch, capsys) -> None:
    from gateway.cli import main

    request = _create_group(live_gateway)
    request_id = str(uuid.uuid4())
    parse_success(send(live_gateway, request, request_id))
    monkeypatch.setenv("NVS_DATABASE_URL", live_gateway.database.url)
    monkeypatch.setenv("NVS_REQUEST_ID_DAYS", "7")
    monkeypatch.setenv("NVS_CLOCK_START", (live_gateway.clock.now() + dt.timedelta(days=6)).isoformat())
    assert main(["request-ids", "purge"]) == 0
    assert live_gateway.database.count("request_outcome") == 1
    monkeypatch.setenv("NVS_CLOCK_START", (live_gateway.clock.now() + dt.timedelta(days=8)).isoformat())
    assert main(["access-log", "purge"]) == 0  # the existing housekeeping purges the answers too
    assert "request ids" in capsys.readouterr().out
    assert live_gateway.database.count("request_outcome") == 0
