"""The core scenario every SOAP stack runs against a live gateway, and what it must see.

As the music school's user (WS-Security UsernameToken, PasswordText): LookupPerson, CreateGroup,
RegisterStudent (with an ``nvs:requestId`` header, and again with the same one, as a retry after a lost
answer: the same registration, none added), CorrectRegistration, MarkFunding (the NVŠ basket), DeregisterStudent; a second
child registered by mistake and CancelRegistration; GetStudent, ListGroups; then two refusals
read from the GatewayFault detail: a schema fault (a contract number one past maxLength, inside
``contract``: the field must be named whatever prefixes the stack uses) and a business fault (a
group that does not exist); last a batch (contract 1.9): one RegisterStudents, with a new ``nvs:requestId``
header, of two records, a new child into the scenario's group and a record naming the group that does
not exist (written, one record accepted and stored, one refused, its fault and field read from its
result, not from a SOAP fault), and the same batch again with the same request id, as a retry: the same
registration, none added.

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
# Each stack runs on a gateway and a database of its own (conftest.py), so the children are the same for all.
BATCH_CHILD = child_code(dt.date(2016, 5, 20), 803, male=False)

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
    "NVS_BATCH_REQUEST_ID": "0c9e8d7f-6a5b-4e3d-9c2b-1a0f9e8d7c6b",  # RegisterStudents' own (contract 1.9)
    "NVS_BATCH_CONTRACT_NUMBER": "S-2",
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
        "NVS_BATCH_CHILD": BATCH_CHILD,
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
        # RegisterStudents: record 1 the batch child into the group, record 2 the missing group.
        "batch.written": "true",
        "batch.accepted": "1",
        "batch.refused": "1",
        "batch.indexes": "1,2",
        "batch.outcomes": "stored,refused",
        "batch.registration.status": "active",
        "batch.registration.personalCode": BATCH_CHILD,
        "batch.fault.code": "GroupNotFound",
        "batch.fault.field": "record[2]/groupId",
        # The same batch with the same request id: the first answer again.
        "batch.replayed.written": "true",
        "batch.replayed.outcomes": "stored,refused",
        "batch.replayed.fault.code": "GroupNotFound",
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
        ("active", None),  # the batch's record 1, once: its replay added none
    ]
    batch = database.rows(
        "SELECT registration.id FROM registration JOIN person ON person.id = registration.person_id"
        " WHERE person.personal_code = :code",
        code=BATCH_CHILD,
    )
    stored = [str(row.id) for row in batch]
    assert stored == [report.get("batch.registrationId")] == [report.get("batch.replayed.registrationId")], (
        f"{stack}: the batch's registration in the database {stored}, as the stack saw it "
        f"{report.get('batch.registrationId')}, replayed {report.get('batch.replayed.registrationId')}"
    )
