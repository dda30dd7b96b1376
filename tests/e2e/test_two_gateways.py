"""Two gateway processes on one PostgreSQL schema behave as one gateway (issue 9, point 5).

Each gateway is ``nvs-gateway serve --sandbox`` in real OS processes of its own (gunicorn, one
worker each, and its own sandbox GR), on its own port, sharing the test session's schema: the
state that must be shared between processes and hosts (failed log-ins, used nonces, basket
claims, the feed's numbers) lives in the database, so a caller cannot tell which one it reached.
SQLite is embedded and one host's; several gateway hosts mean PostgreSQL, so these run there.
"""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from lxml import etree
from zeep.exceptions import Fault

from gateway.accounts import Accounts
from gateway.auth import DigestSecrets
from gateway.domain.access import Scope
from gateway.sandbox import INSTITUTION_RIGHTS
from tests.clock import e2e_clock
from tests.conftest import POSTGRES_URL, Database, open_database
from tests.e2e.helpers import child_code, fault_detail, registry_client
from tests.e2e.soap import envelope, parse_fault, parse_success, post
from tests.processes import GatewayProcess

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.postgres,
    pytest.mark.skipif(
        not POSTGRES_URL,
        reason="several gateway processes share a PostgreSQL database; NVS_TEST_DATABASE_URL is not set",
    ),
]
YEAR, FIRST_DAY = "2026-2027", dt.date(2026, 9, 1)
LIST_GROUPS = f"<nvs:ListGroups><nvs:schoolYear>{YEAR}</nvs:schoolYear></nvs:ListGroups>"


@pytest.fixture(scope="module")
def two_gateways(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    directory: Path = tmp_path_factory.mktemp("two-gateways")
    database: Database = open_database(request, "postgresql", directory)
    gateways = [GatewayProcess(database.url, directory), GatewayProcess(database.url, directory)]
    try:
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda gateway: gateway.start(), gateways))
        yield database, gateways[0], gateways[1]
    finally:
        for gateway in gateways:
            gateway.stop()
        database.engine.dispose()


def call(
    gateway: GatewayProcess, body: str, username: str, password: str, *, header: str | None = None
) -> requests.Response:
    return post(gateway.registry_url, envelope(body, username=username, password=password, header=header))


def test_failed_log_ins_on_one_gateway_lock_the_user_name_on_the_other(two_gateways) -> None:
    database, first, second = two_gateways
    spread, one_sided = database.user("300000021"), database.user("300000022")
    for attempt in range(5):  # NVS_LOCKOUT_THRESHOLD: five failures in a row, split between the two
        answer = call((first, second)[attempt % 2], LIST_GROUPS, spread.username, "not-the-password")
        assert parse_fault(answer).code == "AuthenticationFailed"
    for gateway in (first, second):
        assert parse_fault(call(gateway, LIST_GROUPS, spread.username, spread.password)).code == "AccountLocked"
    for _ in range(5):  # all five on the first gateway ...
        assert (
            parse_fault(call(first, LIST_GROUPS, one_sided.username, "not-the-password")).code == "AuthenticationFailed"
        )
    # ... and the right password on the second is refused too.
    assert parse_fault(call(second, LIST_GROUPS, one_sided.username, one_sided.password)).code == "AccountLocked"


def test_a_digest_envelope_used_on_one_gateway_is_refused_on_the_other_even_when_both_get_it_at_once(
    two_gateways,
) -> None:
    database, first, second = two_gateways
    user = database.user("300000014")
    clock = e2e_clock()  # where the gateways' clocks started (NVS_CLOCK_START), running on
    used = envelope(LIST_GROUPS, username=user.username, password=user.password, digest_created=clock.now())
    parse_success(post(first.registry_url, used))
    assert parse_fault(post(second.registry_url, used)).code == "TokenReplayed"
    assert parse_fault(post(first.registry_url, used)).code == "TokenReplayed"
    for _ in range(8):
        fresh = envelope(LIST_GROUPS, username=user.username, password=user.password, digest_created=clock.now())
        start = threading.Barrier(2)

        def send(gateway: GatewayProcess) -> str:
            start.wait()
            answer = post(gateway.registry_url, fresh)
            return "accepted" if answer.status_code == 200 else parse_fault(answer).code

        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(send, (first, second)))
        assert outcomes == ["TokenReplayed", "accepted"]


def test_of_two_providers_claiming_one_basket_month_through_different_gateways_exactly_one_wins(two_gateways) -> None:
    database, first, second = two_gateways
    providers = [
        (first, database.user("300000011"), "100000112", "MUSIC.PIANO"),
        (second, database.user("300000012"), "100000122", "MUSIC.PIANO"),
    ]
    services, groups = [], []
    for gateway, user, program, sub_direction in providers:
        service = registry_client(gateway.wsdl_url, user.username, user.password).service
        services.append(service)
        groups.append(
            service.CreateGroup(
                schoolYear=YEAR, programCode=program, name="Dviese", subDirectionCode=[sub_direction]
            ).groupId
        )
    for round_number in range(6):
        child = child_code(dt.date(2014, 2, 1 + round_number), 700 + round_number)
        registrations = [
            service.RegisterStudent(
                personalCode=child,
                groupId=group,
                firstLearningDate=FIRST_DAY,
                contract={"typeCode": "BILATERAL", "date": FIRST_DAY, "number": f"D-{round_number}"},
            ).registration.registrationId
            for service, group in zip(services, groups, strict=False)
        ]
        start = threading.Barrier(2)

        def claim(service, registration_id: int) -> str:
            start.wait()
            try:
                service.MarkFunding(
                    registrationId=registration_id,
                    fundingTypeCode=["NVS_BASKET"],
                    fromMonth="2026-12",
                    toMonth="2027-01",
                )
                return "won"
            except Fault as fault:
                return fault_detail(fault)["code"]

        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(claim, services, registrations))
        assert outcomes == ["BasketAlreadyClaimed", "won"], f"round {round_number}"
        claims = database.rows(
            "SELECT count(*) FROM basket_claim c JOIN person p ON p.id = c.person_id WHERE p.personal_code = :code",
            code=child,
        )
        assert claims[0][0] == 2  # December and January, once each


def test_the_feed_read_through_either_gateway_is_the_same_gapless_sequence_of_what_both_wrote(two_gateways) -> None:
    database, first, second = two_gateways
    user = database.user("300000013")
    setup = registry_client(first.wsdl_url, user.username, user.password).service
    group = setup.CreateGroup(
        schoolYear=YEAR, programCode="100000132", name="Keramika", subDirectionCode=["ART.CERAMICS"]
    ).groupId
    acknowledged: list[int] = []
    lock = threading.Lock()

    def writer(index: int) -> None:
        gateway = (first, second)[index % 2]
        service = registry_client(gateway.wsdl_url, user.username, user.password).service
        for n in range(6):
            made = service.RegisterStudent(
                personalCode=child_code(dt.date(2013, 3, 1 + index), 100 + n),
                groupId=group,
                firstLearningDate=FIRST_DAY,
                contract={"typeCode": "BILATERAL", "date": FIRST_DAY, "number": f"F-{index}-{n}"},
            ).registration.registrationId
            with lock:
                acknowledged.append(made)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(writer, range(4)))

    def read_all(gateways: list[GatewayProcess], limit: int) -> list[tuple[int, str, int]]:
        """A follower paging by its cursor, asking the gateways in turn."""
        events, cursor, turn = [], 0, 0
        clients = [registry_client(g.wsdl_url, user.username, user.password).service for g in gateways]
        while True:
            page = clients[turn % len(clients)].GetChanges(after=cursor, limit=limit)
            turn += 1
            events += [(e.sequence, e.kind, e.registration.registrationId) for e in page.event]
            cursor = page.lastSequence
            if not page.more:
                return events

    through_first, through_second = read_all([first], 1000), read_all([second], 1000)
    alternating = read_all([first, second], 5)
    assert through_first == through_second == alternating
    sequences = [sequence for sequence, _, _ in through_first]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences))), "the feed has a gap"
    assert sorted(r for _, kind, r in through_first if kind == "REGISTERED") == sorted(acknowledged)


def test_an_administrators_change_through_one_gateway_binds_the_users_next_call_through_the_other(
    two_gateways,
) -> None:
    """Rights, validity and the active flag are read from the database on every call, and the cache of
    verified passwords is keyed by the stored hash: no process goes on with what another has changed."""
    database, first, second = two_gateways
    username, password = "two-gateways-teacher", "Pradinis-slaptazodis-1"
    Accounts(database.uow_factory, DigestSecrets(None), clock=e2e_clock()).ensure_user(
        username, password, Scope.institution("300000011"), INSTITUTION_RIGHTS
    )
    admin = {g: registry_client(g.wsdl_url, "sandbox-admin", "Sandbox-admin-central!").service for g in (first, second)}
    teacher = {g: registry_client(g.wsdl_url, username, password).service for g in (first, second)}

    def outcome(gateway: GatewayProcess, service=None) -> str:
        try:
            (service or teacher[gateway]).ListGroups(schoolYear=YEAR)
            return "ok"
        except Fault as fault:
            return fault_detail(fault)["code"]

    # Both processes have verified the password (and remember it a while).
    assert (outcome(first), outcome(second)) == ("ok", "ok")
    admin[first].ChangeUserRights(username=username, right=[{"area": "student-personal-data", "level": "viewer"}])
    assert outcome(second) == "AccessDenied"  # ListGroups needs list forming
    admin[second].ChangeUserRights(username=username, right=[{"area": "list-forming", "level": "viewer"}])
    assert outcome(first) == "ok"

    admin[first].DisableUser(username=username)
    assert (outcome(second), outcome(first)) == ("AuthenticationFailed", "AuthenticationFailed")
    admin[second].EnableUser(username=username)
    assert outcome(first) == "ok"

    tomorrow = e2e_clock().today() + dt.timedelta(days=1)
    admin[second].SetUserValidity(username=username, validFrom=tomorrow, validUntil=tomorrow + dt.timedelta(days=9))
    assert outcome(first) == "CredentialsNotYetValid"
    admin[first].SetUserValidity(username=username, validFrom=tomorrow - dt.timedelta(days=1), validUntil=tomorrow)
    assert outcome(second) == "ok"

    initial = admin[first].ResetPassword(username=username).initialPassword
    assert (outcome(second), outcome(first)) == ("AuthenticationFailed", "AuthenticationFailed")
    for gateway in (first, second):
        assert outcome(gateway, registry_client(gateway.wsdl_url, username, initial).service) == "ok"


def test_a_request_and_its_retries_sent_to_both_gateways_at_once_are_done_once_and_answered_alike(
    two_gateways,
) -> None:
    """Issue 10.1: a request id held by one gateway's transaction is RequestInProgress on the other; once
    it committed, either gateway answers its retry with the first answer."""
    database, first, second = two_gateways
    user = database.user("300000012")
    service = registry_client(first.wsdl_url, user.username, user.password).service
    group = service.CreateGroup(
        schoolYear=YEAR, programCode="100000122", name="Pakartojimai", subDirectionCode=["MUSIC.PIANO"]
    ).groupId

    def register(child: str) -> str:
        return (
            f"<nvs:RegisterStudent><nvs:personalCode>{child}</nvs:personalCode><nvs:groupId>{group}</nvs:groupId>"
            f"<nvs:firstLearningDate>{FIRST_DAY}</nvs:firstLearningDate><nvs:contract><nvs:typeCode>BILATERAL"
            f"</nvs:typeCode><nvs:date>{FIRST_DAY}</nvs:date><nvs:number>P-1</nvs:number></nvs:contract>"
            "</nvs:RegisterStudent>"
        )

    def answer_of(response) -> tuple[str, bytes]:
        if response.status_code == 200:
            return "ok", etree.tostring(parse_success(response), method="c14n")
        return parse_fault(response).code, b""

    registrations = "SELECT r.id FROM registration r JOIN person p ON p.id = r.person_id WHERE p.personal_code = :code"
    # One after the other: the retry reaches the other gateway.
    child = child_code(dt.date(2015, 3, 3), 760)
    request_id = str(uuid.uuid4())
    header = f"<nvs:requestId>{request_id}</nvs:requestId>"
    done = answer_of(call(first, register(child), user.username, user.password, header=header))
    assert done[0] == "ok"
    assert answer_of(call(second, register(child), user.username, user.password, header=header)) == done
    assert len(database.rows(registrations, code=child)) == 1
    # All at once, three times each round: one does it, the others wait their turn or replay.
    for round_number in range(6):
        child = child_code(dt.date(2015, 3, 4 + round_number), 761 + round_number)
        header = f"<nvs:requestId>{uuid.uuid4()}</nvs:requestId>"
        start = threading.Barrier(3)

        def send(gateway: GatewayProcess, child=child, header=header, start=start) -> tuple[str, bytes]:
            start.wait()
            return answer_of(call(gateway, register(child), user.username, user.password, header=header))

        with ThreadPoolExecutor(3) as pool:
            results = list(pool.map(send, (first, second, second if round_number % 2 else first)))
        assert {code for code, _ in results} <= {"ok", "RequestInProgress"}, results
        final = answer_of(
            call(first if round_number % 2 else second, register(child), user.username, user.password, header=header)
        )
        assert final[0] == "ok"
        assert {body for code, body in results if code == "ok"} <= {final[1]}
        assert len(database.rows(registrations, code=child)) == 1
