"""One call, one transaction, and an access log that misses nothing (issues 8.2 and 9.2, 9.3), over
real HTTP with zeep, on SQLite and PostgreSQL.

* Every call naming a registration, a group, a club mark or a notice records the persons concerned,
  also when it is refused (a probe of another institution's id leaves a trace in that child's log,
  and the caller learns nothing); calls the contract refuses are recorded too.
* The change, its access-log record and its feed event commit together: when the record cannot be
  written, nothing of the change is kept.
* The population register is asked outside any database transaction, within one deadline.
"""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, event, text
from sqlalchemy.pool import NullPool
from zeep.exceptions import Fault

from clients.population_register import client as gr_client
from gateway.domain.calendar import SchoolYear
from storage.repositories import PendingAccessRecord
from tests.clock import E2E_TODAY
from tests.e2e.helpers import child_code, fault_detail, registry_client
from tests.e2e.soap import envelope

SCHOOL, OTHER_SCHOOL = "300000011", "300000012"
YEAR = SchoolYear.containing(E2E_TODAY)
PROGRAM = "100000112"
LEADER = child_code(dt.date(2004, 3, 3), 808)  # an adult leader's code: personal data like a learner's


def service_of(gateway, institution_code: str):
    user = gateway.database.user(institution_code)
    return registry_client(gateway.wsdl_url, user.username, user.password).service


def log_of(database, personal_code: str) -> list[tuple[str | None, str, str]]:
    """(user name, operation, outcome) of every access-log record naming the person, oldest first."""
    return [
        (row[0], row[1], row[2])
        for row in database.rows(
            "SELECT l.username, l.operation, l.outcome FROM access_log l JOIN access_log_person p ON p.access_log_id = l.id "
            "WHERE p.personal_code = :code ORDER BY l.id",
            code=personal_code,
        )
    ]


def refused(call) -> dict[str, str]:
    with pytest.raises(Fault) as fault:
        call()
    return fault_detail(fault.value)


def registered_child(service, serial: int) -> tuple[str, int, int]:
    """A new child registered in a new group: (personal code, group id, registration id)."""
    child = child_code(dt.date(2015, 5, 5), serial)
    group = service.CreateGroup(
        schoolYear=str(YEAR),
        programCode=PROGRAM,
        name=f"Probe {serial}",
        subDirectionCode=["MUSIC.PIANO"],
        leader=[{"firstName": "Ona", "lastName": "Vadovė", "personalCode": LEADER}],
    )
    registered = service.RegisterStudent(
        personalCode=child,
        groupId=group.groupId,
        firstLearningDate=YEAR.starts_on,
        contract={"typeCode": "BILATERAL", "date": YEAR.starts_on, "number": "S-1"},
    )
    return child, group.groupId, registered.registration.registrationId


def test_funding_calls_name_the_child_in_the_access_log(live_gateway) -> None:
    provider = service_of(live_gateway, SCHOOL)
    username = live_gateway.database.user(SCHOOL).username
    child, _, registration_id = registered_child(provider, 11)
    provider.MarkFunding(
        registrationId=registration_id, fundingTypeCode=["NVS_BASKET"], fromMonth="2026-09", toMonth="2026-12"
    )
    provider.GetFunding(registrationId=registration_id)
    provider.EndFunding(registrationId=registration_id, fundingTypeCode="NVS_BASKET", lastFundedMonth="2026-11")
    assert log_of(live_gateway.database, child)[-3:] == [
        (username, "MarkFunding", "ok"),
        (username, "GetFunding", "ok"),
        (username, "EndFunding", "ok"),
    ]


def test_a_probe_of_another_institutions_ids_leaves_a_trace_and_learns_nothing(live_gateway) -> None:
    provider, prober = service_of(live_gateway, SCHOOL), service_of(live_gateway, OTHER_SCHOOL)
    prober_name = live_gateway.database.user(OTHER_SCHOOL).username
    child, group_id, registration_id = registered_child(provider, 12)
    before = live_gateway.database.snapshot()

    probes = {
        "GetFunding": lambda: prober.GetFunding(registrationId=registration_id),
        "MarkFunding": lambda: prober.MarkFunding(
            registrationId=registration_id, fundingTypeCode=["NVS_BASKET"], fromMonth="2026-09"
        ),
        "CorrectRegistration": lambda: prober.CorrectRegistration(
            registrationId=registration_id, firstLearningDate=YEAR.starts_on
        ),
        "CancelRegistration": lambda: prober.CancelRegistration(registrationId=registration_id, reason="Klaida"),
    }
    answers = {operation: refused(probe) for operation, probe in probes.items()}
    # The same answer as for an id that does not exist: nothing about the child or its provider.
    nonexistent = refused(lambda: prober.GetFunding(registrationId=registration_id + 100_000))
    assert {a["code"] for a in answers.values()} == {"RegistrationNotFound"} == {nonexistent["code"]}
    assert {a["message"] for a in answers.values()} == {nonexistent["message"]}
    assert live_gateway.database.snapshot() == before

    trace = [entry for entry in log_of(live_gateway.database, child) if entry[0] == prober_name]
    assert trace == [(prober_name, operation, "RegistrationNotFound") for operation in probes]

    # A group names its leaders: a probe of another institution's group is in the leader's log.
    assert (
        refused(lambda: prober.UpdateGroup(groupId=group_id, name="Perimta", subDirectionCode=["MUSIC.PIANO"]))["code"]
        == "GroupNotFound"
    )
    assert log_of(live_gateway.database, LEADER)[-1] == (prober_name, "UpdateGroup", "GroupNotFound")


def test_a_call_the_contract_refuses_is_recorded_with_the_codes_it_names(live_gateway) -> None:
    user = live_gateway.database.user(SCHOOL)
    child = child_code(dt.date(2016, 2, 2), 13)
    body = (
        f"<nvs:RegisterStudent><nvs:personalCode>{child}</nvs:personalCode><nvs:groupId>1</nvs:groupId>"
        "<nvs:firstLearningDate>not a date</nvs:firstLearningDate></nvs:RegisterStudent>"
    )
    answer = requests.post(
        live_gateway.registry_url,
        data=envelope(body, username=user.username, password=user.password),
        headers={"Content-Type": "text/xml; charset=utf-8"},
        timeout=10,
    )
    assert answer.status_code == 500 and b"InvalidMessage" in answer.content and child.encode() not in answer.content
    # Who the message claims to be (it was never authenticated), what it asked, and the outcome.
    assert log_of(live_gateway.database, child) == [(user.username, "RegisterStudent", "InvalidMessage")]
    rows = live_gateway.database.rows("SELECT user_id, request_id FROM access_log ORDER BY id DESC LIMIT 1")
    assert rows[0][0] is None and rows[0][1] in answer.text  # the correlation id of the fault


def test_a_change_whose_access_log_record_cannot_be_written_is_not_kept(live_gateway, monkeypatch) -> None:
    provider = service_of(live_gateway, SCHOOL)
    group = provider.CreateGroup(
        schoolYear=str(YEAR), programCode=PROGRAM, name="Be žurnalo", subDirectionCode=["MUSIC.PIANO"]
    )
    before = live_gateway.database.snapshot()
    events_before = live_gateway.database.count("change_event")

    # The record is written at the commit: alone (write) or with the call's change event (beside, PostgreSQL).
    def broken(real):
        def written(self, *args):
            if self.values["outcome"] == "ok":
                raise OSError("the access log's disk is full")
            return real(self, *args)

        return written

    monkeypatch.setattr(PendingAccessRecord, "write", broken(PendingAccessRecord.write))
    monkeypatch.setattr(PendingAccessRecord, "beside", broken(PendingAccessRecord.beside))
    child = child_code(dt.date(2015, 7, 7), 14)
    detail = refused(
        lambda: provider.RegisterStudent(
            personalCode=child,
            groupId=group.groupId,
            firstLearningDate=YEAR.starts_on,
            contract={"typeCode": "BILATERAL", "date": YEAR.starts_on, "number": "S-1"},
        )
    )
    assert detail["code"] == "InternalError"
    assert live_gateway.database.snapshot() == before  # no registration, no person
    assert live_gateway.database.count("change_event") == events_before  # and no event of a change that is not there
    assert log_of(live_gateway.database, child) == [
        (live_gateway.database.user(SCHOOL).username, "RegisterStudent", "InternalError")
    ]


def test_a_failed_login_is_counted_although_its_call_is_rolled_back(live_gateway) -> None:
    user = live_gateway.database.user(SCHOOL)
    wrong = registry_client(live_gateway.wsdl_url, user.username, "not the password").service
    assert refused(lambda: wrong.ListGroups(schoolYear=str(YEAR)))["code"] == "AuthenticationFailed"
    assert live_gateway.database.rows("SELECT failures FROM login_failure WHERE username = :u", u=user.username) == [
        (1,)
    ]


class GatedPopulationRegister:
    """Holds every GR call of the gateway until the test opens the gate."""

    def __init__(self, monkeypatch) -> None:
        self.waiting, self.gate = threading.Event(), threading.Event()
        real = gr_client.ZeepPopulationRegister._call

        def held(client, operation, **arguments):
            self.waiting.set()
            assert self.gate.wait(30), "the test never opened the gate"
            return real(client, operation, **arguments)

        monkeypatch.setattr(gr_client.ZeepPopulationRegister, "_call", held)


def test_other_writers_go_on_while_a_registration_waits_for_the_population_register(live_gateway, monkeypatch) -> None:
    provider, other = service_of(live_gateway, SCHOOL), service_of(live_gateway, OTHER_SCHOOL)
    group = provider.CreateGroup(
        schoolYear=str(YEAR), programCode=PROGRAM, name="Laukia GR", subDirectionCode=["MUSIC.PIANO"]
    )
    gr = GatedPopulationRegister(monkeypatch)
    outcome: dict[str, Any] = {}  # zeep's answer objects are untyped

    def register() -> None:
        try:
            outcome["answer"] = provider.RegisterStudent(
                personalCode=child_code(dt.date(2015, 8, 8), 15),
                groupId=group.groupId,
                firstLearningDate=YEAR.starts_on,
                contract={"typeCode": "BILATERAL", "date": YEAR.starts_on, "number": "S-1"},
            )
        except Exception as error:  # reported below
            outcome["error"] = error

    waiting = threading.Thread(target=register)
    waiting.start()
    try:
        assert gr.waiting.wait(15), "the registration never asked the population register"
        # While it waits on GR no transaction of it is open: on SQLite another writer would otherwise wait
        # for the write lock until its own timeout (and fail).
        other.CreateGroup(schoolYear=str(YEAR), programCode="100000121", name="Kitas", subDirectionCode=["MUSIC.PIANO"])
        assert "answer" not in outcome, "the registration did not wait for the population register"
    finally:
        gr.gate.set()
        waiting.join(30)
    assert "error" not in outcome, outcome.get("error")
    assert outcome["answer"].registration.registrationId > 0


def test_the_population_register_deadline_bounds_the_wait_whatever_the_timeouts(start_gateway) -> None:
    # Each attempt would wait up to 30 s and GR answers in 3: only the 1-second deadline can refuse it.
    gateway = start_gateway(
        sandbox_gr_latency=3.0,
        population_register_read_timeout=30.0,
        population_register_retries=2,
        population_register_deadline=1.0,
    )
    provider = service_of(gateway, SCHOOL)
    group = provider.CreateGroup(
        schoolYear=str(YEAR), programCode=PROGRAM, name="Lėtas GR", subDirectionCode=["MUSIC.PIANO"]
    )
    before = gateway.database.snapshot()
    detail = refused(
        lambda: provider.RegisterStudent(
            personalCode=child_code(dt.date(2015, 9, 9), 16),
            groupId=group.groupId,
            firstLearningDate=YEAR.starts_on,
            contract={"typeCode": "BILATERAL", "date": YEAR.starts_on, "number": "S-1"},
        )
    )
    assert detail["code"] == "PopulationRegisterUnavailable"
    assert gateway.database.snapshot() == before
    # A call that does not need GR is neither slowed nor failed by it.
    assert provider.ListGroups(schoolYear=str(YEAR)) is not None


def test_a_connection_the_database_dropped_costs_the_caller_nothing(live_gateway) -> None:
    database = live_gateway.database
    if database.kind != "postgresql":
        pytest.skip("SQLite has no server to drop a connection")
    provider = service_of(live_gateway, SCHOOL)
    provider.ListGroups(schoolYear=str(YEAR))  # the pool now holds a connection
    pooled = [entry.dbapi_connection.info.backend_pid for entry in list(database.engine.pool._pool.queue)]
    assert pooled, "no pooled connection to drop"
    outside = create_engine(database.url, poolclass=NullPool)  # not one of the pool's own connections
    with outside.connect() as admin:
        terminated = [
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one() for pid in pooled
        ]
    outside.dispose()
    assert all(terminated)
    # The pool does not ping before each use: the call meets a dead connection, and runs again on a new one.
    group = provider.CreateGroup(
        schoolYear=str(YEAR), programCode=PROGRAM, name="Po ryšio nutrūkimo", subDirectionCode=["MUSIC.PIANO"]
    )
    assert group.groupId > 0
    assert database.rows("SELECT count(*) FROM nvs_group WHERE name = :n", n="Po ryšio nutrūkimo") == [(1,)]


def test_access_log_pages_follow_a_cursor_and_records_written_meanwhile_shift_nothing(live_gateway) -> None:
    database = live_gateway.database
    provider = service_of(live_gateway, SCHOOL)
    admin_user = database.user_named("sandbox-admin")
    admin = registry_client(live_gateway.wsdl_url, admin_user.username, admin_user.password).service
    child, _, _ = registered_child(provider, 17)
    for _ in range(6):
        provider.GetStudent(personalCode=child)
    written_before = [
        row[0]
        for row in database.rows(
            "SELECT l.id FROM access_log l JOIN access_log_person p ON p.access_log_id = l.id WHERE p.personal_code = :c ORDER BY l.id DESC",
            c=child,
        )
    ]

    seen: list[Any] = []
    cursor, pages = None, 0
    while True:
        page = admin.GetAccessLog(personalCode=child, dateFrom=E2E_TODAY, dateTo=E2E_TODAY, pageSize=3, cursor=cursor)
        pages += 1
        seen.extend((r.requestId, r.operation) for r in page.record)
        provider.GetStudent(personalCode=child)  # a new record between the pages (and the question itself is one)
        cursor = page.nextCursor
        if cursor is None:
            break
    # Every record that existed when the first page was asked, once, newest first, whatever was written
    # between the pages (each question is recorded as it commits, after its own answer).
    operations = [operation for _, operation in seen]
    assert len(seen) == len(set(seen)) == len(written_before)
    assert operations == ["GetStudent"] * 6 + ["RegisterStudent"]
    assert pages == 3
    detail = refused(
        lambda: admin.GetAccessLog(personalCode=child, dateFrom=E2E_TODAY, dateTo=E2E_TODAY, cursor="somewhere-else")
    )
    assert (detail["code"], detail["field"]) == ("InvalidCursor", "cursor")


class StatementCounter:
    """The SQL statements and transactions an engine runs while counting is on (BEGIN/COMMIT are not statements;
    with ``savepoints``, SAVEPOINT and RELEASE are, as the round trips they are)."""

    def __init__(self, engine, *, savepoints: bool = False) -> None:
        self.statements: list[str] = []
        self.transactions = 0
        self.counting = False
        ignored = (
            ("BEGIN", "COMMIT", "ROLLBACK") if savepoints else ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")
        )

        @event.listens_for(engine, "before_cursor_execute")
        def statement(conn, cursor, sql, parameters, context, executemany):
            if self.counting and not sql.lstrip().upper().startswith(ignored):
                self.statements.append(" ".join(sql.split())[:60])

        @event.listens_for(engine, "begin")
        def begin(conn):
            if self.counting:
                self.transactions += 1

        self._listeners = [(engine, "before_cursor_execute", statement), (engine, "begin", begin)]

    def remove(self) -> None:
        for target, name, listener in self._listeners:
            event.remove(target, name, listener)


def test_a_registration_of_a_child_just_looked_up_is_one_transaction_of_few_statements(live_gateway) -> None:
    """The request path's budget (issue 9): with GR's answer remembered from the LookupPerson before it, a
    RegisterStudent is one transaction; on PostgreSQL four statements: the login read (with the reference
    data's versions), the group's locking read (with the children active in it, for AlreadyRegistered), the
    person and registration, the access-log record and the change event. SQLite has no data-modifying CTEs
    to fuse them with, nor a lock to read beside."""
    provider = service_of(live_gateway, SCHOOL)
    group = provider.CreateGroup(
        schoolYear=str(YEAR), programCode=PROGRAM, name="Skaičiuojama", subDirectionCode=["MUSIC.PIANO"]
    )
    child = child_code(dt.date(2015, 8, 8), 31)
    provider.LookupPerson(personalCode=child)
    counter = StatementCounter(live_gateway.database.engine)
    try:
        counter.counting = True
        provider.RegisterStudent(
            personalCode=child,
            groupId=group.groupId,
            firstLearningDate=YEAR.starts_on,
            contract={"typeCode": "BILATERAL", "date": YEAR.starts_on, "number": "S-31"},
        )
        counter.counting = False
    finally:
        counter.remove()
    expected = 4 if live_gateway.database.kind == "postgresql" else 9
    assert (counter.transactions, len(counter.statements)) == (1, expected), counter.statements
    assert log_of(live_gateway.database, child)[-1][1:] == ("RegisterStudent", "ok")


def test_a_basket_mark_reads_the_child_and_its_group_once_and_takes_no_savepoint(live_gateway) -> None:
    """MarkFunding's budget: the login read, the registration, its group, the child, the marks in force, the
    mark, its basket months (skipping months claimed already: no savepoint to come back from), the marks for
    the answer, and the access-log record with the change event (on SQLite, three statements for those)."""
    provider = service_of(live_gateway, SCHOOL)
    _, _, registration_id = registered_child(provider, 32)
    counter = StatementCounter(live_gateway.database.engine, savepoints=True)
    try:
        counter.counting = True
        provider.MarkFunding(
            registrationId=registration_id, fundingTypeCode=["NVS_BASKET"], fromMonth="2026-09", toMonth="2026-12"
        )
        counter.counting = False
    finally:
        counter.remove()
    expected = 9 if live_gateway.database.kind == "postgresql" else 12
    assert (counter.transactions, len(counter.statements)) == (1, expected), counter.statements
