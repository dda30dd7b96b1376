"""Who administers whom (the issuer rule), the rights a user may be given, and the use cases of the
ADMINISTRATION menu on the in-memory unit of work."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.accounts import Accounts, console_issuer
from gateway.auth import DigestSecrets
from gateway.clock import FixedClock
from gateway.domain.access import Area, Caller, Level, Right, Scope
from gateway.domain.errors import InvalidCursor, InvalidUserRequest, OwnAccount, UserNotFound
from gateway.domain.users import User, check_administers, check_rights, check_validity
from tests.fakes import OTHER_PROVIDER_CODE, PROVIDER_CODE, FakeUnitOfWork, an_institution

TODAY = dt.date(2026, 10, 5)
VILNIUS_SCHOOL = an_institution()  # municipal (20), Vilnius (13)
VILNIUS_STATE_SCHOOL = an_institution(code="190000001", ownership_code="10")
KAUNAS_SCHOOL = an_institution(code=OTHER_PROVIDER_CODE, municipality_code="19")
VIEW = frozenset({Right(Area.LIST_FORMING, Level.VIEWER)})

VILNIUS = Caller(2, "vilnius", municipality_code="13", rights=VIEW)
ADMIN = Caller(4, "admin", central=True, rights=VIEW)


def user(user_id: int, scope: Scope) -> User:
    return User(user_id, f"user-{user_id}", scope, VIEW, TODAY, TODAY + dt.timedelta(days=9), True)


def test_a_coordinator_administers_its_municipal_schools_users_only_and_unknown_and_foreign_look_alike() -> None:
    teacher = user(10, Scope.institution(VILNIUS_SCHOOL.code))
    assert check_administers(VILNIUS, teacher, VILNIUS_SCHOOL) is teacher
    outside = [
        (user(11, Scope.institution(VILNIUS_STATE_SCHOOL.code)), VILNIUS_STATE_SCHOOL),  # a state school in Vilnius
        (user(12, Scope.institution(KAUNAS_SCHOOL.code)), KAUNAS_SCHOOL),  # another municipality's school
        (user(13, Scope.municipality("13")), None),  # a coordinator, even of its own municipality
        (user(14, Scope.central()), None),  # an administrator
        (user(VILNIUS.user_id, Scope.municipality("13")), None),  # itself
        (None, None),  # nobody
    ]
    messages = set()
    for target, institution in outside:
        with pytest.raises(UserNotFound) as refused:
            check_administers(VILNIUS, target, institution)
        messages.add((refused.value.message, refused.value.field))
    assert len(messages) == 1
    for target, institution in outside[:4]:
        assert target is not None
        check_administers(ADMIN, target, institution)
    with pytest.raises(OwnAccount):
        check_administers(ADMIN, user(ADMIN.user_id, Scope.central()), None)
    with pytest.raises(UserNotFound):
        check_administers(Caller(1, "school", institution_code=PROVIDER_CODE), teacher, VILNIUS_SCHOOL)


def test_rights_follow_the_registration_requests_rules_and_what_the_user_acts_for() -> None:
    school, coordinator = Scope.institution(PROVIDER_CODE), Scope.municipality("13")
    check_rights((Right(Area.REGISTRATION_CORRECTION, Level.MANAGER), Right(Area.LIST_FORMING, Level.VIEWER)), school)
    for rights, scope in (
        ((), school),
        ((Right(Area.REGISTRATION_CORRECTION, Level.VIEWER),), school),
        ((Right(Area.LIST_FORMING, Level.VIEWER), Right(Area.LIST_FORMING, Level.MANAGER)), school),
        ((Right(Area.LIST_FORMING, Level.MANAGER),), coordinator),
    ):
        with pytest.raises(InvalidUserRequest):
            check_rights(rights, scope)
    check_validity(TODAY - dt.timedelta(days=3), TODAY, TODAY)
    for valid_from, valid_until in (
        (TODAY, TODAY - dt.timedelta(days=1)),
        (TODAY - dt.timedelta(days=9), TODAY - dt.timedelta(days=1)),
    ):
        with pytest.raises(InvalidUserRequest):
            check_validity(valid_from, valid_until, TODAY)


@pytest.fixture
def accounts() -> tuple[Accounts, FakeUnitOfWork]:
    uow = FakeUnitOfWork()
    uow.seed(VILNIUS_SCHOOL, VILNIUS_STATE_SCHOOL, KAUNAS_SCHOOL)
    accounts = Accounts(lambda: uow, DigestSecrets(None), clock=FixedClock.on(TODAY))
    for n in range(7):
        accounts.ensure_user(f"vilnius-{n}", "Slaptazodis-123", Scope.institution(VILNIUS_SCHOOL.code), VIEW)
    accounts.ensure_user("state-0", "Slaptazodis-123", Scope.institution(VILNIUS_STATE_SCHOOL.code), VIEW)
    accounts.ensure_user("kaunas-0", "Slaptazodis-123", Scope.institution(KAUNAS_SCHOOL.code), VIEW)
    accounts.ensure_user("vilnius", "Slaptazodis-123", Scope.municipality("13"), VIEW)
    return accounts, uow


def test_list_users_pages_by_user_name_in_the_callers_scope(accounts) -> None:
    use_cases, _ = accounts
    coordinator = next(u for u in use_cases.all_users(console_issuer("t")) if u.username == "vilnius").as_caller()
    seen, cursor = [], None
    while True:
        page = use_cases.list_users(coordinator, cursor=cursor, page_size=3)
        seen += [u.username for u in page.users]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [f"vilnius-{n}" for n in range(7)]
    assert len(use_cases.all_users(ADMIN)) == 10
    assert [u.username for u in use_cases.list_users(ADMIN, institution_code=KAUNAS_SCHOOL.code).users] == ["kaunas-0"]
    with pytest.raises(InvalidCursor):
        use_cases.list_users(ADMIN, cursor="u%%%")


def test_a_change_is_recorded_with_who_made_it_and_a_refused_one_changes_nothing(accounts) -> None:
    use_cases, uow = accounts
    coordinator = next(u for u in use_cases.all_users(ADMIN) if u.username == "vilnius").as_caller()
    changed = use_cases.change_rights(coordinator, "vilnius-1", [Right(Area.REGISTRATION_CORRECTION, Level.MANAGER)])
    assert changed.rights == {Right(Area.REGISTRATION_CORRECTION, Level.MANAGER)}
    assert not use_cases.set_active(coordinator, "vilnius-1", False).active
    with pytest.raises(UserNotFound):
        use_cases.set_active(coordinator, "state-0", False)
    with pytest.raises(OwnAccount):
        use_cases.set_active(ADMIN.__class__(coordinator.user_id, "vilnius", central=True), "vilnius", False)
    changes = use_cases.changes_of(ADMIN, "vilnius-1")
    assert [(c.operation, c.detail, c.by_username) for c in changes] == [
        ("ChangeUserRights", "registration-correction:manager", "vilnius"),
        ("DisableUser", "disabled", "vilnius"),
    ]
    assert all(u.active for u in use_cases.all_users(ADMIN) if u.username != "vilnius-1")
    with pytest.raises(UserNotFound):
        use_cases.changes_of(coordinator, "state-0")
