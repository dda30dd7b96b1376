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
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from zeep.exceptions import Fault

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


def call(gateway: GatewayProcess, body: str, username: str, password: str, **options: object):
    return post(gateway.registry_url, envelope(body, username=username, password=password, **options))  # type: ignore[arg-type]


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
