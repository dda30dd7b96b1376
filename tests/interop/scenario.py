"""The core scenario every SOAP stack runs against a live gateway, and what it must see.

As the music school's user (WS-Security UsernameToken, PasswordText): LookupPerson, CreateGroup,
RegisterStudent (with an ``nvs:requestId`` header, and again with the same one, as a retry after a lost
answer: the same registration, none added), CorrectRegistration, MarkFunding (the NVŠ basket), DeregisterStudent; a second
child registered by mistake and CancelRegistration; GetStudent, ListGroups; then two refusals
read from the GatewayFault detail: a schema fault (a contract number one past maxLength, inside
``contract``: the field must be named whatever prefixes the stack uses) and a business fault (a
group that does not exist).

Each stack's script takes its inputs from the environment (``environment``) and prints what it
saw as ``key=value`` lines (``parse_report``); the test compares them with ``EXPECTED`` and the
database. The dates lie in school year 2026-2027, in November 2026: they hold for a gateway whose
clock reads any day from 2026-11-01 on (a departure may not be later than the current month's end).
"""

from __future__ import annotations

import datetime as dt
import os

from tests.conftest import LiveGateway
from tests.e2e.helpers import child_code

MUSIC_SCHOOL = "300000011"  # Anykščių muzikos mokykla: an NVŠ school with an accredited NVS program
CHILD = child_code(dt.date(2015, 9, 15), 801)
MISTAKEN_CHILD = child_code(dt.date(2014, 3, 2), 802, male=False)

INPUTS = {
    "NVS_SCHOOL_YEAR": "2026-2027",
    "NVS_PROGRAM": "100000112",
    "NVS_SUB_DIRECTION": "MUSIC.PIANO",
    "NVS_LEADER_FIRST_NAME": "Ona",
    "NVS_LEADER_LAST_NAME": "Kairienė",
    "NVS_FIRST_LEARNING_DATE": "2026-11-02",
    "NVS_CONTRACT_TYPE": "BILATERAL",
    "NVS_CONTRACT_DATE": "2026-10-29",
    "NVS_CONTRACT_NUMBER": "S-1",
    "NVS_CORRECTED_DATE": "2026-11-03",
    "NVS_FUNDING_TYPE": "NVS_BASKET",
    "NVS_FUNDING_MONTH": "2026-11",
    "NVS_DEPARTURE_DATE": "2026-11-27",
    "NVS_DEPARTURE_REASON": "PARENTS_REQUEST",
    "NVS_ORDER_NUMBER": "V-12",
    "NVS_CANCEL_REASON": "Įvesta per klaidą",
    "NVS_TOO_LONG_CONTRACT_NUMBER": "N" * 51,  # maxLength 50
    "NVS_MISSING_GROUP": "2147483647",
    "NVS_REQUEST_ID": "7d1c2a4e-5b6f-4c3d-8e9f-0a1b2c3d4e5f",  # the nvs:requestId header (contract 1.6)
}


def group_name(stack: str) -> str:
    return f"Kanklių ansamblis ({stack})"  # not ASCII: each stack's UTF-8 is tested too


def environment(gateway: LiveGateway, stack: str) -> dict[str, str]:
    """The process environment for a stack's script: the machine's, and the scenario's inputs."""
    user = gateway.database.user(MUSIC_SCHOOL)
    return {
        **os.environ,
        **INPUTS,
        "NVS_WSDL": gateway.wsdl_url,
        "NVS_USERNAME": user.username,
        "NVS_PASSWORD": user.password,
        "NVS_CHILD": CHILD,
        "NVS_MISTAKEN_CHILD": MISTAKEN_CHILD,
        "NVS_GROUP_NAME": group_name(stack),
    }


def expected(stack: str) -> dict[str, str]:
    return {
        "lookup.personalCode": CHILD,
        "lookup.birthDate": "2015-09-15",
        "group.name": group_name(stack),
        "group.purpose": "NVS",
        "registered.status": "active",
        "registered.firstLearningDate": INPUTS["NVS_FIRST_LEARNING_DATE"],
        "retried.sameRegistration": "true",
        "corrected.firstLearningDate": INPUTS["NVS_CORRECTED_DATE"],
        "funding.fundingTypeCode": "NVS_BASKET",
        "funding.months": "2026-11..2026-11",
        "deregistered.status": "deregistered",
        "deregistered.departureDate": INPUTS["NVS_DEPARTURE_DATE"],
        "cancelled.status": "cancelled",
        "cancelled.reason": INPUTS["NVS_CANCEL_REASON"],
        "student.registrations": "1",
        "student.status": "deregistered",
        "listed.section": "NVS",
        "listed.activeLearners": "0",
        "fault.schema.code": "InvalidMessage",
        "fault.schema.field": "contract/number",
        "fault.domain.code": "GroupNotFound",
        "fault.domain.field": "groupId",
    }


def parse_report(stdout: str) -> dict[str, str]:
    report = {}
    for line in stdout.splitlines():
        key, separator, value = line.partition("=")
        if separator and key and " " not in key:
            report[key] = value
    return report


def check_scenario(gateway: LiveGateway, stack: str, report: dict[str, str], output: str = "") -> None:
    """The stack saw what the scenario promises, and the database holds what the calls did."""
    want = expected(stack)
    differences = {key: (report.get(key), value) for key, value in want.items() if report.get(key) != value}
    assert not differences, f"{stack} saw (got, expected): {differences}\nits output:\n{output[-3000:]}"
    database = gateway.database
    assert [row.name for row in database.rows("SELECT name FROM nvs_group")] == [group_name(stack)]
    statuses = database.rows("SELECT status, cancellation_reason FROM registration ORDER BY id")
    assert [(row.status, row.cancellation_reason) for row in statuses] == [
        ("deregistered", None),
        ("cancelled", INPUTS["NVS_CANCEL_REASON"]),
    ]
