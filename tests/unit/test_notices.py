"""Notices: who is told that basket months were released (and never by whom), listing with
unacknowledged first and paging, acknowledging; on in-memory fakes."""

from __future__ import annotations

import datetime as dt
from datetime import date

import pytest

from clients.population_register.fake import InMemoryPopulationRegister
from gateway.clock import FixedClock
from gateway.domain.calendar import Month
from gateway.domain.errors import NoticeNotFound
from gateway.domain.funding import FundingMark
from gateway.domain.model import Contract, Departure, ProgramPurpose
from gateway.domain.notices import Notice, NoticeKind
from gateway.domain.personal_code import PersonalCode
from gateway.notices import Notices, raise_notice
from gateway.services import Caller, NewFunding, NewRegistration, Registry
from tests.fakes import (
    GIRL_CODE,
    OTHER_PROVIDER_CODE,
    PROVIDER_CODE,
    FakeUnitOfWork,
    a_group,
    a_person,
    a_program,
    an_institution,
    valid_code,
)
from tests.present import present

TODAY = date(2026, 10, 5)
NOW = dt.datetime(2026, 10, 5, 9, 30, tzinfo=dt.UTC)
A = Caller(user_id=1, username="a", institution_code=PROVIDER_CODE)
B = Caller(user_id=2, username="b", institution_code=OTHER_PROVIDER_CODE)
C_CODE = "300100003"
C = Caller(user_id=3, username="c", institution_code=C_CODE)
CONTRACT = Contract("BILATERAL", date(2026, 9, 1), "S-1")
TODDLER_CODE = valid_code("6220101123")  # a girl born 2022-01-01: too young for the basket

GIRL = a_person(personal_code=GIRL_CODE)
TODDLER = a_person(personal_code=TODDLER_CODE, first_name="Ema")


@pytest.fixture
def uow() -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    uow.seed(
        an_institution(),
        an_institution(
            code=OTHER_PROVIDER_CODE,
            name="Sporto klubas",
            municipality_code="19",
            group_code="OTHER_PROVIDER",
            purpose_codes=("31714102",),
        ),
        an_institution(
            code=C_CODE,
            name="Dailės studija",
            municipality_code="19",
            group_code="OTHER_PROVIDER",
            purpose_codes=("31714102",),
        ),
        a_program(),
        a_program(code="120000002", provider_code=OTHER_PROVIDER_CODE, name="Krepšinis", direction_codes=("SPORT",)),
        a_program(
            code="120000004", provider_code=C_CODE, name="Dailė", direction_codes=("ART",), purpose=ProgramPurpose.FSPU
        ),
        a_group(id=1),
        a_group(
            id=2,
            provider_code=OTHER_PROVIDER_CODE,
            program_code="120000002",
            name="Krepšinis",
            sub_direction_codes=("SPORT.BASKETBALL",),
        ),
        a_group(
            id=3,
            provider_code=C_CODE,
            program_code="120000004",
            name="Dailė",
            purpose=ProgramPurpose.FSPU,
            sub_direction_codes=("ART.PAINTING",),
        ),
    )
    return uow


@pytest.fixture
def registry(uow: FakeUnitOfWork) -> Registry:
    gr = InMemoryPopulationRegister({GIRL.personal_code: GIRL, TODDLER.personal_code: TODDLER})
    return Registry(uow_factory=lambda: uow, population_register=gr, clock=FixedClock(NOW))


def register(
    registry: Registry, caller: Caller, group_id: int, code: str = GIRL_CODE, first: date = date(2026, 9, 1)
) -> int:
    view, _ = registry.register_student(caller, NewRegistration(code, group_id, first, CONTRACT))
    return present(view.registration.id)


def notices_of(uow: FakeUnitOfWork, institution: str) -> list[Notice]:
    return [n for n in uow.stored.notices.values() if n.institution_code == institution]


# --- basket months released ----------------------------------------------------------
def test_ending_the_basket_tells_the_other_provider_which_months_it_could_now_claim_but_not_who_released_them(
    uow, registry
) -> None:
    at_a, at_b = register(registry, A, 1), register(registry, B, 2)
    registry.mark_funding(A, NewFunding(at_a, ("NVS_BASKET", "MUNICIPAL"), "2026-09", "2027-06"))
    registry.end_funding(A, at_a, "NVS_BASKET", "2026-12")
    [notice] = notices_of(uow, OTHER_PROVIDER_CODE)
    assert notice.kind is NoticeKind.BASKET_MONTHS_RELEASED
    assert (notice.registration_id, notice.personal_code) == (at_b, PersonalCode(GIRL_CODE))
    assert notice.months == tuple(Month(2027, 1).through(Month(2027, 6)))
    assert PROVIDER_CODE not in notice.message and "Bandomoji" not in notice.message
    assert notices_of(uow, PROVIDER_CODE) == []  # the releasing provider is not told about itself


def test_a_deregistration_releases_the_months_after_the_departure_month(uow, registry) -> None:
    at_a, _ = register(registry, A, 1), register(registry, B, 2)
    registry.mark_funding(A, NewFunding(at_a, ("NVS_BASKET",), "2026-09", "2026-12"))
    registry.deregister_student(A, at_a, Departure(date(2026, 10, 2), "PARENTS_REQUEST"))
    [notice] = notices_of(uow, OTHER_PROVIDER_CODE)
    assert notice.months == (Month(2026, 11), Month(2026, 12))


def test_a_cancellation_releases_every_month_it_held(uow, registry) -> None:
    at_a, _ = register(registry, A, 1), register(registry, B, 2)
    registry.mark_funding(A, NewFunding(at_a, ("NVS_BASKET",), "2026-10", "2026-11"))
    registry.cancel_registration(A, at_a, "Klaida")
    [notice] = notices_of(uow, OTHER_PROVIDER_CODE)
    assert notice.months == (Month(2026, 10), Month(2026, 11))


def test_nobody_is_told_when_no_other_registration_could_claim_the_months(uow, registry) -> None:
    at_a = register(registry, A, 1)
    register(registry, C, 3)  # an FŠPU program cannot carry the basket
    at_b = register(registry, B, 2, first=date(2027, 1, 4))  # covers only months from 2027-01
    registry.mark_funding(A, NewFunding(at_a, ("NVS_BASKET", "MUNICIPAL"), "2026-09", "2026-12"))
    registry.end_funding(A, at_a, "NVS_BASKET", "2026-10")  # releases 2026-11 and 2026-12: before B's registration
    registry.end_funding(A, at_a, "MUNICIPAL", "2026-10")  # not the basket: nothing to tell
    assert notices_of(uow, OTHER_PROVIDER_CODE) == [] and notices_of(uow, C_CODE) == []
    later = Registry(
        uow_factory=lambda: uow,
        population_register=registry.population_register,
        clock=FixedClock.on(date(2027, 1, 11)),
    )
    later.deregister_student(B, at_b, Departure(date(2027, 1, 4), "PARENTS_REQUEST"))
    registry.mark_funding(A, NewFunding(at_a, ("NVS_BASKET",), "2026-11", "2027-03"))
    registry.end_funding(A, at_a, "NVS_BASKET", "2027-01")  # B's registration is no longer active
    assert notices_of(uow, OTHER_PROVIDER_CODE) == []


def test_a_child_outside_the_age_window_is_not_a_claimant(uow, registry) -> None:
    # The toddler cannot carry the basket anywhere, so no provider of hers is told.
    register(registry, A, 1, code=TODDLER_CODE)
    register(registry, B, 2, code=TODDLER_CODE)
    with uow:  # a basket mark left from before the age rule (storage as it is)
        mark = uow.funding.add(FundingMark(None, 1, "NVS_BASKET", Month(2026, 9), Month(2026, 12)))
        uow.commit()
    registry.end_funding(A, 1, "NVS_BASKET", "2026-09")
    assert notices_of(uow, OTHER_PROVIDER_CODE) == [] and mark.id is not None


# --- listing and acknowledging ---------------------------------------------------------
def some_notices(uow: FakeUnitOfWork, count: int, institution: str = PROVIDER_CODE) -> list[int]:
    with uow:
        for n in range(count):
            raise_notice(
                uow,
                Notice(
                    institution, NoticeKind.DATA_ISSUE, NOW + dt.timedelta(minutes=n), f"Nr. {n}", dedup_key=f"k{n}"
                ),
            )
        uow.commit()
    return sorted(present(n.id) for n in uow.stored.notices.values() if n.institution_code == institution)


def test_notices_are_listed_unacknowledged_first_newest_first_a_page_at_a_time(uow) -> None:
    ids = some_notices(uow, 5)
    service = Notices(lambda: uow, clock=FixedClock(NOW))
    service.acknowledge(A, [ids[4], ids[1]])
    seen, token = [], None
    while True:
        page = service.list_notices(A, page_token=token, limit=2)
        assert page.unacknowledged == 3
        seen += [n.id for n in page.notices]
        token = page.next_page_token
        if token is None:
            break
    assert seen == [ids[3], ids[2], ids[0], ids[4], ids[1]]
    assert [n.id for n in service.list_notices(A, state="UNACKNOWLEDGED").notices] == [ids[3], ids[2], ids[0]]
    assert [n.id for n in service.list_notices(A, state="ACKNOWLEDGED").notices] == [ids[4], ids[1]]
    assert service.list_notices(A, kind="PERSON_DECEASED").notices == []


def test_a_notice_acknowledged_while_paging_is_seen_again_not_lost(uow) -> None:
    ids = some_notices(uow, 4)
    service = Notices(lambda: uow, clock=FixedClock(NOW))
    first = service.list_notices(A, limit=2)
    service.acknowledge(A, [present(n.id) for n in first.notices])
    rest = [n.id for n in service.list_notices(A, page_token=first.next_page_token, limit=10).notices]
    assert set(ids) <= {n.id for n in first.notices} | set(rest)


def test_acknowledging_is_idempotent_and_only_for_the_callers_notices(uow) -> None:
    [mine] = some_notices(uow, 1)
    [theirs] = some_notices(uow, 1, institution=OTHER_PROVIDER_CODE)
    service = Notices(lambda: uow, clock=FixedClock(NOW))
    [once] = service.acknowledge(A, [mine])
    [twice] = Notices(lambda: uow, clock=FixedClock(NOW + dt.timedelta(days=1))).acknowledge(A, [mine])
    assert once.acknowledged_at == twice.acknowledged_at == NOW and twice.acknowledged_by == "a"
    with pytest.raises(NoticeNotFound) as refused:
        service.acknowledge(A, [mine, theirs])
    assert refused.value.field == "noticeId[2]"
    assert uow.stored.notices[theirs].acknowledged_at is None
    with pytest.raises(NoticeNotFound):
        service.acknowledge(A, [999])


def test_a_notice_with_a_dedup_key_is_raised_once_per_institution(uow) -> None:
    with uow:
        notice = Notice(PROVIDER_CODE, NoticeKind.PERSON_DECEASED, NOW, "x", dedup_key="PERSON_DECEASED:1:2024-02-11")
        assert raise_notice(uow, notice) is True
        assert raise_notice(uow, notice) is False
        assert raise_notice(
            uow, Notice(OTHER_PROVIDER_CODE, NoticeKind.PERSON_DECEASED, NOW, "x", dedup_key=notice.dedup_key)
        )
        uow.commit()
    assert len(uow.stored.notices) == 2
