"""Twenty providers claim the same child's basket for the same month at the same moment,
over real HTTP, round after round: exactly one wins, every other gets BasketAlreadyClaimed,
and the database never holds a double claim."""

from __future__ import annotations

import datetime as dt
import os
import threading

import pytest
from sqlalchemy import text
from zeep.exceptions import Fault

from clients.population_register.sandbox import load_municipalities
from gateway import administration
from gateway.accounts import Accounts
from gateway.auth import DigestSecrets
from gateway.domain.access import Scope
from gateway.domain.model import Institution, Program, ProgramPurpose
from gateway.sandbox import INSTITUTION_RIGHTS
from tests.clock import e2e_clock
from tests.e2e.helpers import child_code, fault_detail, registry_client

PROVIDERS = 20
ROUNDS = int(os.environ.get("NVS_BASKET_RACE_ROUNDS", "5"))
YEAR, FIRST_DAY = "2026-2027", dt.date(2026, 9, 1)


@pytest.fixture
def twenty_providers(live_gateway):
    """Twenty music schools, each with an accredited NVŠ program, a user and a group."""
    database = live_gateway.database
    municipalities = [m.code for m in load_municipalities()]
    institutions = [
        Institution(
            f"3009000{i:02d}",
            f"Lenktynių muzikos mokykla {i}",
            municipalities[i % len(municipalities)],
            "20",
            "NVS_SCHOOL",
            ("MUSIC_SCHOOL",),
        )
        for i in range(PROVIDERS)
    ]
    programs = [
        Program(
            f"19000{i:04d}",
            "Fortepijono pradmenys",
            inst.code,
            ProgramPurpose.NVS,
            ("MUSIC",),
            dt.date(2020, 1, 1),
            dt.date(2020, 6, 1),
        )
        for i, inst in enumerate(institutions)
    ]
    administration.import_institutions(database.uow_factory, institutions)
    administration.import_programs(database.uow_factory, programs)
    accounts = Accounts(database.uow_factory, DigestSecrets(None), clock=e2e_clock())
    services, groups = [], []
    for institution, program in zip(institutions, programs, strict=False):
        password = f"Race-{institution.code}!"
        accounts.ensure_user(
            f"race-{institution.code}", password, Scope.institution(institution.code), INSTITUTION_RIGHTS
        )
        service = registry_client(live_gateway.wsdl_url, f"race-{institution.code}", password).service
        services.append(service)
        groups.append(
            service.CreateGroup(
                schoolYear=YEAR, programCode=program.code, name="Lenktynės", subDirectionCode=["MUSIC.PIANO"]
            ).groupId
        )
    return services, groups


def test_exactly_one_of_twenty_concurrent_basket_claims_wins_every_round(live_gateway, twenty_providers) -> None:
    services, groups = twenty_providers
    for round_number in range(ROUNDS):
        child = child_code(dt.date(2015, 1, 1 + round_number), 500 + round_number)
        registrations = [
            service.RegisterStudent(
                personalCode=child,
                groupId=group,
                firstLearningDate=FIRST_DAY,
                contract={"typeCode": "BILATERAL", "date": FIRST_DAY, "number": f"R-{round_number}"},
            ).registration.registrationId
            for service, group in zip(services, groups, strict=False)
        ]
        start = threading.Barrier(PROVIDERS)
        outcomes: list[str] = []
        lock = threading.Lock()

        def claim(service, registration_id: int) -> None:
            start.wait()
            try:
                service.MarkFunding(
                    registrationId=registration_id,
                    fundingTypeCode=["NVS_BASKET"],
                    fromMonth="2026-11",
                    toMonth="2026-11",
                )
                outcome = "won"
            except Fault as fault:
                detail = fault_detail(fault)
                outcome = detail["code"] + (" 2026-11" if "2026-11" in detail["message"] else "")
            with lock:
                outcomes.append(outcome)

        threads = [threading.Thread(target=claim, args=pair) for pair in zip(services, registrations, strict=False)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["BasketAlreadyClaimed 2026-11"] * (PROVIDERS - 1) + ["won"], f"round {round_number}"

    with live_gateway.database.engine.connect() as connection:
        doubles = connection.execute(
            text("SELECT person_id, month, count(*) FROM basket_claim GROUP BY person_id, month HAVING count(*) > 1")
        ).all()
        claims = connection.execute(text("SELECT count(*) FROM basket_claim")).scalar_one()
        marks = connection.execute(
            text("SELECT count(*) FROM funding_mark WHERE funding_type = 'NVS_BASKET'")
        ).scalar_one()
    assert doubles == [] and claims == ROUNDS and marks == ROUNDS  # the losers left nothing behind
