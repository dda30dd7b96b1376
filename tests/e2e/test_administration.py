"""The ADMINISTRATION menu over SOAP (contract 1.8): ListUsers, ChangeUserRights, SetUserValidity,
DisableUser, EnableUser, ResetPassword, as administrators and coordinators meet them: zeep over real
HTTP, on SQLite and PostgreSQL. Every change is made to a user the test creates (the sandbox's users
are shared by the session's tests on PostgreSQL and stay as they are)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from zeep.exceptions import Fault

from gateway.accounts import Accounts
from gateway.auth import DigestSecrets
from gateway.bootstrap import SANDBOX_DIGEST_SECRET_KEY
from gateway.cli import main
from gateway.clock import FixedClock
from gateway.domain.access import Scope
from gateway.sandbox import INSTITUTION_RIGHTS, READER_RIGHTS
from tests.clock import E2E_TODAY
from tests.e2e.helpers import child_code, fault_detail, registry_client
from tests.e2e.soap import envelope, parse_success, post

pytestmark = pytest.mark.e2e

TODAY = E2E_TODAY
ANYKSCIAI_SCHOOL = "300000011"  # municipal (20), Anykščiai (34)
VILNIUS_SCHOOL = "300000041"  # municipal (20), Vilnius (13)
VILNIUS_STATE_SCHOOL = "300000044"  # state (10), Vilnius (13)
VILNIUS_PRIVATE = "300000021"  # non-state (30), Vilnius (13)
ADMIN = ("sandbox-admin", "Sandbox-admin-central!")
VILNIUS_COORDINATOR = ("sandbox-municipality-13", "Sandbox-municipality-13!")
PASSWORD = "Pradinis-slaptazodis-1"
OPERATIONS = ("ChangeUserRights", "SetUserValidity", "DisableUser", "EnableUser", "ResetPassword")
YEAR = "2026-2027"


def make_user(database, username: str, institution: str | None = None, *, scope: Scope | None = None) -> None:
    rights = INSTITUTION_RIGHTS if scope is None else READER_RIGHTS
    Accounts(database.uow_factory, DigestSecrets(SANDBOX_DIGEST_SECRET_KEY), clock=FixedClock.on(TODAY)).ensure_user(
        username,
        PASSWORD,
        scope or Scope.institution(institution or ANYKSCIAI_SCHOOL),
        rights,
        valid_from=TODAY - dt.timedelta(days=30),
        valid_until=TODAY + dt.timedelta(days=365),
        issued_by="test",
    )


def service(gateway, who: tuple[str, str]):
    return registry_client(gateway.wsdl_url, *who).service


def refused(call) -> dict[str, str]:
    with pytest.raises(Fault) as fault:
        call()
    return fault_detail(fault.value)


def request_of(operation: str, username: str) -> dict:
    requests: dict[str, dict] = {
        "ChangeUserRights": {"username": username, "right": [{"area": "list-forming", "level": "viewer"}]},
        "SetUserValidity": {"username": username, "validFrom": TODAY, "validUntil": TODAY + dt.timedelta(days=9)},
    }
    return requests.get(operation, {"username": username})


def stored(database, username: str) -> tuple:
    return tuple(
        database.rows(
            "SELECT rights, valid_from, valid_until, active, password_hash FROM app_user WHERE username = :u",
            u=username,
        )[0]
    )


def all_pages(admin, page_size: int, **filters) -> list:
    users, cursor, pages = [], None, 0
    while True:
        page = admin.ListUsers(pageSize=page_size, cursor=cursor, **filters)
        users += page.user
        pages += 1
        cursor = page.nextCursor
        if cursor is None:
            return users
        assert len(page.user) == page_size
        assert pages < 100


# --- ListUsers -----------------------------------------------------------------------------------
def test_an_administrator_lists_every_user_a_coordinator_its_municipal_schools_users_never_a_secret(
    live_gateway,
) -> None:
    database = live_gateway.database
    admin, coordinator = service(live_gateway, ADMIN), service(live_gateway, VILNIUS_COORDINATOR)
    created = admin.RegisterUser(
        personalCode=child_code(dt.date(1980, 5, 5), 21),
        firstName="Ona",
        lastName="Kairienė",
        email="ona@example.lt",
        phone="+370 611 11111",
        position="Mokytoja",
        institutionCode=VILNIUS_SCHOOL,
        institutionName="Mokykla",
        workplaceAddress="Vilnius",
        validFrom=TODAY,
        validUntil=TODAY + dt.timedelta(days=30),
        filledOn=TODAY,
        confirmations={
            "lawOnPersonalDataProtectionRead": True,
            "registerRegulationsRead": True,
            "userManualRead": True,
            "confidentialityPledgeSigned": True,
        },
        actsFor={"institutionCode": VILNIUS_SCHOOL},
        right=[{"area": "registration-correction", "level": "manager"}],
    )
    everyone = sorted(row[0] for row in database.rows("SELECT username FROM app_user"))
    listed = all_pages(admin, 7)
    assert [u.username for u in listed] == everyone  # by user name, every page after the other, none twice
    ona = next(u for u in listed if u.username == created.user.username)
    assert (ona.firstName, ona.actsFor.institutionCode, ona.active, ona.issuedBy) == (
        "Ona",
        VILNIUS_SCHOOL,
        True,
        "sandbox-admin",
    )
    assert [(r.area, r.level) for r in ona.right] == [("registration-correction", "manager")]

    municipal_vilnius = sorted(
        row[0]
        for row in database.rows(
            "SELECT u.username FROM app_user u JOIN institution i ON i.code = u.institution_code"
            " WHERE i.ownership_code = '20' AND i.municipality_code = '13'"
        )
    )
    assert created.user.username in municipal_vilnius and "sandbox-300000041" in municipal_vilnius
    assert [u.username for u in all_pages(coordinator, 2)] == municipal_vilnius
    # Not the state school's, the non-state one's, a coordinator's or an administrator's users.
    assert coordinator.ListUsers(institutionCode=VILNIUS_STATE_SCHOOL).user == []
    assert coordinator.ListUsers(institutionCode=VILNIUS_PRIVATE).user == []
    assert [u.username for u in admin.ListUsers(institutionCode=VILNIUS_STATE_SCHOOL).user] == ["sandbox-300000044"]

    # The answer as it travels: no password, no hash, no personal code.
    answer = post(live_gateway.registry_url, envelope("<nvs:ListUsers/>", username=ADMIN[0], password=ADMIN[1]))
    parse_success(answer)
    assert "argon2" not in answer.text and created.initialPassword not in answer.text
    assert not re.search(r">\d{11}<", answer.text)
    assert refused(lambda: admin.ListUsers(cursor="not-a-cursor"))["code"] == "InvalidCursor"
    school = service(live_gateway, ("sandbox-300000041", "Sandbox-300000041!"))
    assert refused(lambda: school.ListUsers())["code"] == "AccessDenied"


# --- who acts on whom ----------------------------------------------------------------------------
def test_a_coordinator_acts_on_its_municipal_schools_users_and_on_no_one_else(live_gateway) -> None:
    database = live_gateway.database
    coordinator = service(live_gateway, VILNIUS_COORDINATOR)
    make_user(database, "adm-vilnius-teacher", VILNIUS_SCHOOL)
    make_user(database, "adm-state-teacher", VILNIUS_STATE_SCHOOL)
    make_user(database, "adm-private-teacher", VILNIUS_PRIVATE)
    make_user(database, "adm-anyksciai-teacher", ANYKSCIAI_SCHOOL)
    make_user(database, "adm-coordinator", scope=Scope.municipality("13"))
    make_user(database, "adm-administrator", scope=Scope.central())
    outside = (
        "adm-state-teacher",
        "adm-private-teacher",
        "adm-anyksciai-teacher",
        "adm-coordinator",
        "adm-administrator",
        "sandbox-admin",
        "sandbox-municipality-13",  # its own user: a coordinator's, so not one it administers
    )
    before = {name: stored(database, name) for name in outside if name.startswith("adm-")}
    unknown = refused(lambda: coordinator.DisableUser(username="adm-nobody-like-this"))
    assert unknown["code"] == "UserNotFound" and unknown["field"] == "username"
    for operation in OPERATIONS:
        for username in outside:
            detail = refused(lambda: getattr(coordinator, operation)(**request_of(operation, username)))  # noqa: B023
            # Answered as a user that does not exist: the coordinator learns nothing of it.
            assert (detail["code"], detail["message"]) == (unknown["code"], unknown["message"]), (operation, username)
    assert {name: stored(database, name) for name in before} == before

    for operation in OPERATIONS:
        answer = getattr(coordinator, operation)(**request_of(operation, "adm-vilnius-teacher"))
        user = answer if operation != "ResetPassword" else answer.user
        assert user.username == "adm-vilnius-teacher"
    # The administrator acts on all of them.
    admin = service(live_gateway, ADMIN)
    for username in ("adm-state-teacher", "adm-coordinator", "adm-administrator"):
        assert admin.DisableUser(username=username).active is False
    # Nobody acts on their own user.
    for operation in OPERATIONS:
        assert refused(lambda: getattr(admin, operation)(**request_of(operation, ADMIN[0])))["code"] == "OwnAccount"  # noqa: B023
    assert stored(database, ADMIN[0])[3] is True or stored(database, ADMIN[0])[3] == 1
    assert service(live_gateway, ADMIN).ListUsers(pageSize=1).user  # still in

    # Every call, refused ones too, is in the access log with its outcome.
    outcomes = database.rows(
        "SELECT outcome, count(*) FROM access_log WHERE username = :u AND operation IN"
        " ('ChangeUserRights', 'SetUserValidity', 'DisableUser', 'EnableUser', 'ResetPassword') GROUP BY outcome",
        u=VILNIUS_COORDINATOR[0],
    )
    assert dict(outcomes) == {"UserNotFound": 1 + len(OPERATIONS) * len(outside), "ok": len(OPERATIONS)}


# --- what each change does ----------------------------------------------------------------------
def test_changed_rights_are_in_force_at_the_users_next_call(live_gateway) -> None:
    database = live_gateway.database
    admin = service(live_gateway, ADMIN)
    make_user(database, "adm-rights", ANYKSCIAI_SCHOOL)
    make_user(database, "adm-rights-coordinator", scope=Scope.municipality("34"))
    teacher = service(live_gateway, ("adm-rights", PASSWORD))
    assert teacher.ListGroups(schoolYear=YEAR).schoolYear == YEAR

    changed = admin.ChangeUserRights(
        username="adm-rights",
        right=[
            {"area": "student-personal-data", "level": "viewer"},
            {"area": "registration-correction", "level": "manager"},
        ],
    )
    assert [(r.area, r.level) for r in changed.right] == [
        ("student-personal-data", "viewer"),
        ("registration-correction", "manager"),
    ]
    detail = refused(lambda: teacher.ListGroups(schoolYear=YEAR))
    assert detail["code"] == "AccessDenied" and "list forming" in detail["message"]
    assert teacher.LookupPerson(personalCode=child_code(dt.date(2015, 2, 2), 3)).person
    admin.ChangeUserRights(username="adm-rights", right=[{"area": "list-forming", "level": "viewer"}])
    assert teacher.ListGroups(schoolYear=YEAR).schoolYear == YEAR

    # The registration request's rules: each area once, registration-correction as manager only,
    # coordinators viewer only; nothing changes when refused.
    before = stored(database, "adm-rights")
    for username, rights in (
        ("adm-rights", [{"area": "registration-correction", "level": "viewer"}]),
        ("adm-rights", [{"area": "list-forming", "level": "viewer"}, {"area": "list-forming", "level": "manager"}]),
        ("adm-rights-coordinator", [{"area": "list-forming", "level": "manager"}]),
    ):
        assert refused(lambda: admin.ChangeUserRights(username=username, right=rights))["code"] == "InvalidUserRequest"  # noqa: B023
    assert stored(database, "adm-rights") == before


def test_validity_dates_are_in_force_at_the_users_next_call(live_gateway) -> None:
    database = live_gateway.database
    admin = service(live_gateway, ADMIN)
    make_user(database, "adm-validity", ANYKSCIAI_SCHOOL)
    teacher = service(live_gateway, ("adm-validity", PASSWORD))
    later = admin.SetUserValidity(
        username="adm-validity", validFrom=TODAY + dt.timedelta(days=1), validUntil=TODAY + dt.timedelta(days=60)
    )
    assert (later.validFrom, later.validUntil) == (TODAY + dt.timedelta(days=1), TODAY + dt.timedelta(days=60))
    assert refused(lambda: teacher.ListGroups(schoolYear=YEAR))["code"] == "CredentialsNotYetValid"
    for valid_from, valid_until in (
        (TODAY, TODAY - dt.timedelta(days=1)),
        (TODAY - dt.timedelta(days=9), TODAY - dt.timedelta(days=1)),
    ):
        detail = refused(
            lambda: admin.SetUserValidity(username="adm-validity", validFrom=valid_from, validUntil=valid_until)  # noqa: B023
        )
        assert (detail["code"], detail["field"]) == ("InvalidUserRequest", "validUntil")
    admin.SetUserValidity(username="adm-validity", validFrom=TODAY - dt.timedelta(days=1), validUntil=TODAY)
    assert teacher.ListGroups(schoolYear=YEAR).schoolYear == YEAR  # the last valid day


def test_a_disabled_user_is_refused_at_its_next_call_and_let_in_again_when_enabled(live_gateway) -> None:
    database = live_gateway.database
    coordinator = service(live_gateway, ("sandbox-municipality-34", "Sandbox-municipality-34!"))
    make_user(database, "adm-disabled", ANYKSCIAI_SCHOOL)
    teacher = service(live_gateway, ("adm-disabled", PASSWORD))
    assert teacher.ListGroups(schoolYear=YEAR).schoolYear == YEAR
    assert coordinator.DisableUser(username="adm-disabled").active is False
    assert refused(lambda: teacher.ListGroups(schoolYear=YEAR))["code"] == "AuthenticationFailed"
    listed = coordinator.ListUsers(institutionCode=ANYKSCIAI_SCHOOL).user
    assert next(u for u in listed if u.username == "adm-disabled").active is False
    assert coordinator.EnableUser(username="adm-disabled").active is True
    assert teacher.ListGroups(schoolYear=YEAR).schoolYear == YEAR


def test_every_change_is_recorded_with_who_made_it_and_the_console_shares_the_use_cases(
    live_gateway, monkeypatch, capsys
) -> None:
    database = live_gateway.database
    monkeypatch.setenv("NVS_DATABASE_URL", database.url)
    monkeypatch.setenv("NVS_LOG_LEVEL", "WARNING")
    admin = service(live_gateway, ADMIN)
    make_user(database, "adm-history", ANYKSCIAI_SCHOOL)
    admin.ChangeUserRights(username="adm-history", right=[{"area": "list-forming", "level": "viewer"}])
    admin.SetUserValidity(username="adm-history", validFrom=TODAY, validUntil=TODAY + dt.timedelta(days=9))
    initial = admin.ResetPassword(username="adm-history").initialPassword
    # The console's users disable / enable / list are the same use cases, as a central administrator.
    assert main(["users", "disable", "adm-history"]) == 0
    teacher = service(live_gateway, ("adm-history", initial))
    assert refused(lambda: teacher.ListGroups(schoolYear=YEAR))["code"] == "AuthenticationFailed"
    assert main(["users", "enable", "adm-history"]) == 0
    assert teacher.ListGroups(schoolYear=YEAR).schoolYear == YEAR
    assert main(["users", "disable", "adm-nobody-like-this"]) == 1
    capsys.readouterr()
    assert main(["users", "history", "adm-history"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[2:4] for line in lines[:3]] == [
        ["ChangeUserRights", "list-forming:viewer"],
        ["SetUserValidity", "valid"],
        ["ResetPassword", "a"],
    ]
    assert all(line.endswith("by sandbox-admin") for line in lines[:3])
    assert [line.split()[2] for line in lines[3:5]] == ["DisableUser", "EnableUser"]
    assert all(" by console:" in line for line in lines[3:5])
    assert lines[-1] == "5 change(s) of adm-history"
    assert initial not in "\n".join(lines)
    assert main(["users", "list"]) == 0
    listing = capsys.readouterr().out
    assert "adm-history" in listing and "argon2" not in listing


def test_a_reset_password_works_until_its_holder_changes_it_and_the_old_one_stops_at_once(live_gateway) -> None:
    database = live_gateway.database
    admin = service(live_gateway, ADMIN)
    make_user(database, "adm-reset", ANYKSCIAI_SCHOOL)
    old = service(live_gateway, ("adm-reset", PASSWORD))
    assert old.ListGroups(schoolYear=YEAR).schoolYear == YEAR  # verified once: the gateway remembers it a while
    # Locked out after failed log-ins: the reset lets the holder in again.
    wrong = service(live_gateway, ("adm-reset", "not-the-password"))
    for _ in range(5):
        assert refused(lambda: wrong.ListGroups(schoolYear=YEAR))["code"] == "AuthenticationFailed"
    assert refused(lambda: old.ListGroups(schoolYear=YEAR))["code"] == "AccountLocked"

    reset = admin.ResetPassword(username="adm-reset")
    initial = reset.initialPassword
    assert reset.user.username == "adm-reset" and len(initial) == 20 and initial != PASSWORD
    assert refused(lambda: old.ListGroups(schoolYear=YEAR))["code"] == "AuthenticationFailed"
    holder = service(live_gateway, ("adm-reset", initial))
    assert holder.ListGroups(schoolYear=YEAR).schoolYear == YEAR
    # As after RegisterUser, the holder replaces the initial password; from then on only the new one works.
    assert holder.ChangePassword(newPassword="Naujas-Slaptazodis-2026") == "adm-reset"
    assert refused(lambda: holder.ListGroups(schoolYear=YEAR))["code"] == "AuthenticationFailed"
    assert service(live_gateway, ("adm-reset", "Naujas-Slaptazodis-2026")).ListGroups(schoolYear=YEAR).schoolYear
    # Another reset gives another password.
    assert admin.ResetPassword(username="adm-reset").initialPassword not in (initial, PASSWORD)
