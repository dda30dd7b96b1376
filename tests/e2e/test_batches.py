"""Batches (issue 10, point 2; contract 1.9) over real HTTP, on SQLite and PostgreSQL.

* A RegisterStudents of 500 records, some bad: every good record is stored, every bad one is answered
  with its index, code and field, in the order sent; the population register is asked once, with its
  batch operation; the answer validates against the contract.
* ``atomic``: one refusal and nothing is written, every refusal is named; ``validateOnly``: every check
  runs (the rules, GR, the basket against what is stored and what earlier records claim) and nothing is
  written.
* DeregisterStudents and MarkFundingBatch: records independent, a basket month taken by an earlier
  record refused as one taken before.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
import xmlschema
from lxml import etree
from prometheus_client import REGISTRY

from gateway.config import REPOSITORY_ROOT
from gateway.soap.types import TNS
from tests.clock import E2E_TODAY
from tests.e2e.helpers import child_code, registry_client
from tests.e2e.soap import envelope, parse_success, post
from tests.e2e.test_feed_checks_notices import engineers_sub_direction

pytestmark = pytest.mark.e2e

SCHOOL, SCHOOL_PROGRAM = "300000011", "100000112"
ENGINEERS, ENGINEERS_PROGRAM = "300000021", "100000211"
YEAR, FIRST_DAY = "2026-2027", dt.date(2026, 9, 1)
UNKNOWN_TO_GR = "51203159990"  # the sandbox population register answers NOT_FOUND (tests/messages)
WRONG_CHECK_DIGIT = "51503150013"  # 51503150012 with its check digit one off
SCHEMA = xmlschema.XMLSchema(str(REPOSITORY_ROOT / "xsd" / "nvs-gateway-v1.xsd"))


@dataclass(frozen=True)
class Result:
    index: int
    outcome: str
    registration_id: int | None
    personal_code: str | None
    code: str | None
    field: str | None


def q(name: str) -> str:
    return f"{{{TNS}}}{name}"


def results_of(answer: etree._Element) -> list[Result]:
    return [
        Result(
            index=int(r.findtext(q("index"))),
            outcome=r.findtext(q("outcome")),
            registration_id=int(r.findtext(f"{q('registration')}/{q('registrationId')}") or 0)
            or int(r.findtext(q("registrationId")) or 0)
            or None,
            personal_code=r.findtext(f"{q('registration')}/{q('person')}/{q('personalCode')}"),
            code=r.findtext(f"{q('fault')}/{q('code')}"),
            field=r.findtext(f"{q('fault')}/{q('field')}"),
        )
        for r in answer.findall(q("result"))
    ]


def totals_of(answer: etree._Element) -> tuple[str, int, int]:
    return answer.findtext(q("written")), int(answer.findtext(q("accepted"))), int(answer.findtext(q("refused")))


def send(gateway, institution: str, operation: str, records: list[str], **flags: bool) -> etree._Element:
    user = gateway.database.user(institution)
    options = "".join(f"<nvs:{name}>{str(value).lower()}</nvs:{name}>" for name, value in flags.items())
    body = f"<nvs:{operation}>{options}{''.join(records)}</nvs:{operation}>"
    response = post(gateway.registry_url, envelope(body, username=user.username, password=user.password))
    answer = parse_success(response)
    SCHEMA.validate(etree.tostring(answer))  # the results are the contract's, whatever the records' fate
    return answer


def registration_record(personal_code: str, group_id: int, number: str = "S-1") -> str:
    return (
        f"<nvs:record><nvs:personalCode>{personal_code}</nvs:personalCode><nvs:groupId>{group_id}</nvs:groupId>"
        f"<nvs:firstLearningDate>{FIRST_DAY}</nvs:firstLearningDate><nvs:contract><nvs:typeCode>BILATERAL"
        f"</nvs:typeCode><nvs:date>{E2E_TODAY}</nvs:date><nvs:number>{number}</nvs:number></nvs:contract></nvs:record>"
    )


def departure_record(registration_id: int) -> str:
    return (
        f"<nvs:record><nvs:registrationId>{registration_id}</nvs:registrationId><nvs:departureDate>{E2E_TODAY}"
        "</nvs:departureDate><nvs:departureReasonCode>PARENTS_REQUEST</nvs:departureReasonCode></nvs:record>"
    )


def funding_record(registration_id: int, funding_type: str, from_month: str, to_month: str) -> str:
    return (
        f"<nvs:record><nvs:registrationId>{registration_id}</nvs:registrationId><nvs:fundingTypeCode>{funding_type}"
        f"</nvs:fundingTypeCode><nvs:fromMonth>{from_month}</nvs:fromMonth><nvs:toMonth>{to_month}</nvs:toMonth>"
        "</nvs:record>"
    )


def service_of(gateway, institution: str):
    user = gateway.database.user(institution)
    return registry_client(gateway.wsdl_url, user.username, user.password).service


def new_group(gateway, name: str, institution: str = SCHOOL, program: str = SCHOOL_PROGRAM) -> int:
    service = service_of(gateway, institution)
    sub_direction = "MUSIC.PIANO" if institution == SCHOOL else engineers_sub_direction()
    return service.CreateGroup(
        schoolYear=YEAR, programCode=program, name=name, subDirectionCode=[sub_direction]
    ).groupId


def register(gateway, personal_code: str, group_id: int, institution: str = SCHOOL) -> int:
    return (
        service_of(gateway, institution)
        .RegisterStudent(
            personalCode=personal_code,
            groupId=group_id,
            firstLearningDate=FIRST_DAY,
            contract={"typeCode": "BILATERAL", "date": E2E_TODAY, "number": "S-0"},
        )
        .registration.registrationId
    )


def stored_state(database) -> dict[str, int]:
    return {
        table: database.count(table)
        for table in ("registration", "person", "change_event", "funding_mark", "basket_claim", "notice")
    }


def gr_calls(operation: str) -> float:
    """The gateway's count of population-register calls (the in-process gateways share this registry)."""
    return (
        REGISTRY.get_sample_value("nvs_population_register_calls_total", {"operation": operation, "outcome": "ok"})
        or 0.0
    )


def test_a_batch_of_500_with_bad_records_stores_every_good_one_and_answers_each_bad_one_in_place(
    live_gateway,
) -> None:
    database = live_gateway.database
    groups = [new_group(live_gateway, "Paketas A"), new_group(live_gateway, "Paketas B")]
    records: list[str] = []
    expected: dict[int, tuple[str, str, str | None, str | None]] = {}
    want: tuple[str, str | None, str | None]
    for index in range(1, 501):
        code, group = child_code(dt.date(2014 + index % 5, 1 + index % 12, 1 + index % 28), index), groups[index % 2]
        if index % 50 == 7:
            code, want = UNKNOWN_TO_GR, ("refused", "PersonNotFound", f"record[{index}]/personalCode")
        elif index % 50 == 13:
            code, want = WRONG_CHECK_DIGIT, ("refused", "InvalidPersonalCode", f"record[{index}]/personalCode")
        elif index % 50 == 21:
            group, want = 999_999, ("refused", "GroupNotFound", f"record[{index}]/groupId")
        elif index % 50 == 34:  # the record before, again: the same child in the same group
            code, group = expected[index - 1][0], groups[(index - 1) % 2]
            want = ("refused", "AlreadyRegistered", f"record[{index}]")
        else:
            want = ("stored", None, None)
        records.append(registration_record(code, group, f"S-{index}"))
        expected[index] = (code, *want)
    before = stored_state(database)
    single, batch = gr_calls("GetPerson"), gr_calls("GetPersons")

    answer = send(live_gateway, SCHOOL, "RegisterStudents", records)

    results = results_of(answer)
    assert [r.index for r in results] == list(range(1, 501))  # one result per record, in the order sent
    for r in results:
        code, outcome, fault, field = expected[r.index]
        assert (r.outcome, r.code) == (outcome, fault), r
        if outcome == "stored":
            assert r.personal_code == code and r.registration_id is not None
        else:
            assert (r.field or "").startswith(field or "-"), r
    good = sum(1 for e in expected.values() if e[1] == "stored")
    assert totals_of(answer) == ("true", good, 500 - good)
    after = stored_state(database)
    assert after["registration"] - before["registration"] == good
    assert after["change_event"] - before["change_event"] == good  # one REGISTERED event per stored record
    stored_ids = {r.registration_id for r in results if r.outcome == "stored"}
    in_database = {row[0] for row in database.rows("SELECT id FROM registration")}
    assert stored_ids <= in_database
    # GR was asked once for the batch's persons, with its batch operation; never person by person.
    assert (gr_calls("GetPerson") - single, gr_calls("GetPersons") - batch) == (0, 1)


def test_an_atomic_batch_with_a_refusal_writes_nothing_and_names_every_refusal(live_gateway) -> None:
    database = live_gateway.database
    group = new_group(live_gateway, "Atominis")
    records = [registration_record(child_code(dt.date(2015, 2, 2), 600 + i), group) for i in range(5)]
    records[1] = registration_record(UNKNOWN_TO_GR, group)
    records[3] = registration_record(child_code(dt.date(2015, 2, 2), 610), 999_999)
    before = stored_state(database)

    answer = send(live_gateway, SCHOOL, "RegisterStudents", records, atomic=True)

    assert totals_of(answer) == ("false", 3, 2)
    assert [(r.index, r.outcome, r.code) for r in results_of(answer)] == [
        (1, "valid", None),
        (2, "refused", "PersonNotFound"),
        (3, "valid", None),
        (4, "refused", "GroupNotFound"),
        (5, "valid", None),
    ]
    assert all(r.registration_id is None for r in results_of(answer))  # nothing stored, no id given
    assert stored_state(database) == before

    # The same batch, mended: all five stored.
    records[1] = registration_record(child_code(dt.date(2015, 2, 2), 611), group)
    records[3] = registration_record(child_code(dt.date(2015, 2, 2), 612), group)
    assert totals_of(send(live_gateway, SCHOOL, "RegisterStudents", records, atomic=True)) == ("true", 5, 0)
    assert database.count("registration") == before["registration"] + 5


def test_validate_only_runs_every_check_and_writes_nothing(live_gateway) -> None:
    database = live_gateway.database
    group = new_group(live_gateway, "Tikrinimas")
    registered = child_code(dt.date(2015, 3, 3), 620)
    register(live_gateway, registered, group)
    fresh = child_code(dt.date(2015, 3, 3), 621)
    before = stored_state(database)

    answer = send(
        live_gateway,
        SCHOOL,
        "RegisterStudents",
        [
            registration_record(fresh, group),
            registration_record(fresh, group),  # an earlier record of the batch counts, although nothing is kept
            registration_record(registered, group),  # what is stored counts
            registration_record(UNKNOWN_TO_GR, group),  # GR is asked
        ],
        validateOnly=True,
    )

    assert totals_of(answer) == ("false", 1, 3)
    assert [(r.outcome, r.code) for r in results_of(answer)] == [
        ("valid", None),
        ("refused", "AlreadyRegistered"),
        ("refused", "AlreadyRegistered"),
        ("refused", "PersonNotFound"),
    ]
    assert stored_state(database) == before

    # The basket against what is stored: another provider holds this child's basket from October.
    child = child_code(dt.date(2014, 4, 4), 622)
    ours = register(live_gateway, child, group)
    theirs = register(live_gateway, child, new_group(live_gateway, "Robotai", ENGINEERS, ENGINEERS_PROGRAM), ENGINEERS)
    service_of(live_gateway, ENGINEERS).MarkFunding(
        registrationId=theirs, fundingTypeCode=["NVS_BASKET"], fromMonth="2026-10", toMonth="2026-12"
    )
    before = stored_state(database)
    answer = send(
        live_gateway,
        SCHOOL,
        "MarkFundingBatch",
        [
            funding_record(ours, "NVS_BASKET", "2026-09", "2026-09"),
            funding_record(ours, "NVS_BASKET", "2026-11", "2026-12"),
            funding_record(ours, "MUNICIPAL", "2026-09", "2026-12"),
        ],
        validateOnly=True,
    )
    assert [(r.outcome, r.code, r.field) for r in results_of(answer)] == [
        ("valid", None, None),
        ("refused", "BasketAlreadyClaimed", "record[2]/fromMonth"),
        ("valid", None, None),
    ]
    assert totals_of(answer) == ("false", 2, 1)
    assert stored_state(database) == before


def test_a_basket_month_claimed_by_an_earlier_record_is_taken_for_a_later_one(live_gateway) -> None:
    database = live_gateway.database
    child = child_code(dt.date(2014, 5, 5), 630)
    first = register(live_gateway, child, new_group(live_gateway, "Pirma"))
    second = register(live_gateway, child, new_group(live_gateway, "Antra"))

    answer = send(
        live_gateway,
        SCHOOL,
        "MarkFundingBatch",
        [
            funding_record(first, "NVS_BASKET", "2026-09", "2026-12"),
            funding_record(second, "NVS_BASKET", "2026-12", "2027-01"),
            funding_record(second, "MUNICIPAL", "2026-09", "2026-12"),
        ],
    )

    assert [(r.index, r.outcome, r.code, r.registration_id) for r in results_of(answer)] == [
        (1, "stored", None, first),
        (2, "refused", "BasketAlreadyClaimed", None),
        (3, "stored", None, second),
    ]
    claims = database.rows(
        "SELECT r.id, count(*) FROM basket_claim c JOIN funding_mark m ON m.id = c.funding_mark_id "
        "JOIN registration r ON r.id = m.registration_id GROUP BY r.id"
    )
    assert [tuple(row) for row in claims] == [(first, 4)]  # September to December, the first record's only


def test_deregister_students_answers_each_record_and_keeps_the_good_ones(live_gateway) -> None:
    database = live_gateway.database
    group = new_group(live_gateway, "Išvyksta")
    leaving = [register(live_gateway, child_code(dt.date(2015, 6, 6), 640 + i), group) for i in range(3)]
    service_of(live_gateway, SCHOOL).DeregisterStudent(
        registrationId=leaving[1], departureDate=E2E_TODAY, departureReasonCode="PARENTS_REQUEST"
    )

    answer = send(live_gateway, SCHOOL, "DeregisterStudents", [departure_record(r) for r in (*leaving, 999_999)])

    assert [(r.index, r.outcome, r.code, r.field) for r in results_of(answer)] == [
        (1, "stored", None, None),
        (2, "refused", "RegistrationNotActive", "record[2]/registrationId"),
        (3, "stored", None, None),
        (4, "refused", "RegistrationNotFound", "record[4]/registrationId"),
    ]
    statuses = dict(
        database.rows(f"SELECT id, status FROM registration WHERE id IN ({', '.join(str(r) for r in leaving)})")  # noqa: S608
    )
    assert statuses == {leaving[0]: "deregistered", leaving[1]: "deregistered", leaving[2]: "deregistered"}
    assert totals_of(answer) == ("true", 2, 2)


def test_a_child_registered_concurrently_is_refused_alone_and_the_rest_stored(live_gateway, monkeypatch) -> None:
    """The batch's rules read the children already in its groups once; a request registering one of them
    between that read and the batch's insert makes the insert fail on the database's unique index: the
    batch is then run record by record, and only that record is refused."""
    from storage.repositories import SqlGroupRepository

    database = live_gateway.database
    group = new_group(live_gateway, "Lenktynės")
    raced = child_code(dt.date(2015, 8, 8), 650)
    register(live_gateway, raced, group)
    # As if the other request had committed just after the batch's read (with the group's lock): the read misses it.
    real_lock = SqlGroupRepository.lock_for_registrations

    def read_before_the_rival(self, group_id, personal_codes):
        found = real_lock(self, group_id, personal_codes)
        return (found[0], set()) if found else None

    monkeypatch.setattr(SqlGroupRepository, "lock_for_registrations", read_before_the_rival)
    others = [child_code(dt.date(2015, 8, 8), 651 + i) for i in range(3)]
    before = stored_state(database)

    answer = send(live_gateway, SCHOOL, "RegisterStudents", [registration_record(c, group) for c in [*others, raced]])

    assert [(r.outcome, r.code) for r in results_of(answer)] == [("stored", None)] * 3 + [
        ("refused", "AlreadyRegistered")
    ]
    after = stored_state(database)
    assert (after["registration"] - before["registration"], after["change_event"] - before["change_event"]) == (3, 3)
