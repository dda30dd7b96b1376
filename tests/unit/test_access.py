"""Rights, scopes and user registration rules (gateway.domain.access, gateway.domain.users): no SOAP, no SQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest

from gateway.domain.access import (
    OPERATIONS,
    USED_BY_NVS,
    Area,
    Caller,
    Level,
    Right,
    Scope,
    authorize,
    child_in_scope,
    readable_history,
    visible_registrations,
)
from gateway.domain.errors import (
    AccessDenied,
    ConfidentialityPledgeNotSigned,
    CredentialsExpired,
    CredentialsNotYetValid,
    InvalidUserRequest,
    PasswordTooWeak,
    UnknownClassifierCode,
    UnknownInstitution,
    WrongIssuer,
)
from gateway.domain.model import RegistrationStatus
from gateway.domain.personal_code import PersonalCode
from gateway.domain.users import (
    Confirmations,
    User,
    UserRequest,
    check_new_password,
    check_request,
    generate_password,
    username_for,
)
from tests.fakes import CLASSIFIERS, OTHER_PROVIDER_CODE, PROVIDER_CODE, TEACHER_CODE, a_registration, an_institution

TODAY = dt.date(2026, 10, 5)
VILNIUS_SCHOOL = an_institution()  # municipal, Vilnius (13)
KAUNAS_CLUB = an_institution(code=OTHER_PROVIDER_CODE, municipality_code="19", ownership_code="30")
INSTITUTIONS = {i.code: i for i in (VILNIUS_SCHOOL, KAUNAS_CLUB)}
ALL_MANAGER = frozenset(Right(a, Level.MANAGER) for a in USED_BY_NVS)
ALL_VIEWER = frozenset(Right(a, Level.VIEWER) for a in USED_BY_NVS)

PROVIDER = Caller(1, "mokykla", institution_code=PROVIDER_CODE, rights=ALL_MANAGER)
VILNIUS = Caller(2, "vilnius", municipality_code="13", rights=ALL_VIEWER)
KAUNAS = Caller(3, "kaunas", municipality_code="19", rights=ALL_VIEWER)
ADMIN = Caller(4, "admin", central=True, rights=ALL_VIEWER)


def test_a_manager_right_covers_viewing_but_not_another_area() -> None:
    manager = Right(Area.STUDENT_LEARNING_DATA, Level.MANAGER)
    assert manager.covers(Right(Area.STUDENT_LEARNING_DATA, Level.VIEWER))
    assert not Right(Area.STUDENT_LEARNING_DATA, Level.VIEWER).covers(manager)
    assert not manager.covers(Right(Area.STUDENT_PERSONAL_DATA, Level.VIEWER))


def test_a_caller_acts_for_exactly_one_institution_municipality_or_centrally() -> None:
    for wrong in (
        dict(),
        dict(institution_code="1", municipality_code="13"),
        dict(municipality_code="13", central=True),
    ):
        with pytest.raises(ValueError):
            Caller(1, "x", **wrong)
    assert Caller.acting_for(Scope.municipality("13"), user_id=1, username="x").scope == Scope.municipality("13")


def test_coordinators_and_administrators_change_nothing_whatever_their_rights() -> None:
    for operation, rule in OPERATIONS.items():
        if rule.changes and operation not in ("RegisterUser", "ChangePassword"):
            for reader in (replace(VILNIUS, rights=ALL_MANAGER), replace(ADMIN, rights=ALL_MANAGER)):
                with pytest.raises(AccessDenied):
                    authorize(reader, operation)
            authorize(PROVIDER, operation)


def test_registration_and_correction_need_the_registration_correction_right() -> None:
    without = replace(PROVIDER, rights=ALL_MANAGER - {Right(Area.REGISTRATION_CORRECTION, Level.MANAGER)})
    for operation in ("RegisterStudent", "CorrectRegistration", "CancelRegistration", "DeregisterStudent"):
        with pytest.raises(AccessDenied, match="registration-correction"):
            authorize(without, operation)
    authorize(without, "CreateGroup")  # learning data manager


def test_rights_of_areas_the_gateway_does_not_use_grant_nothing() -> None:
    unused = Caller(
        1,
        "x",
        institution_code=PROVIDER_CODE,
        rights=frozenset(Right(a, Level.MANAGER) for a in Area if a not in USED_BY_NVS),
    )
    needing_a_right = [op for op, rule in OPERATIONS.items() if rule.needs]
    assert needing_a_right
    for operation in needing_a_right:
        with pytest.raises(AccessDenied):
            authorize(unused, operation)


def test_an_operation_missing_from_the_rights_table_is_refused() -> None:
    with pytest.raises(AccessDenied):
        authorize(ADMIN, "DeleteEverything")


def test_only_administrators_read_the_access_log_and_coordinators_and_administrators_register_users() -> None:
    authorize(ADMIN, "GetAccessLog")
    for caller in (PROVIDER, VILNIUS):
        with pytest.raises(AccessDenied):
            authorize(caller, "GetAccessLog")
    authorize(VILNIUS, "RegisterUser")
    with pytest.raises(AccessDenied):
        authorize(PROVIDER, "RegisterUser")


def test_a_coordinator_sees_children_registered_with_providers_located_in_its_municipality() -> None:
    in_vilnius = a_registration(id=1, provider_code=PROVIDER_CODE)
    in_kaunas = a_registration(id=2, provider_code=OTHER_PROVIDER_CODE)
    cancelled_in_kaunas = a_registration(id=3, provider_code=OTHER_PROVIDER_CODE, status=RegistrationStatus.CANCELLED)
    both = [in_vilnius, in_kaunas, cancelled_in_kaunas]
    assert visible_registrations(VILNIUS, both, INSTITUTIONS) == [in_vilnius]
    assert visible_registrations(KAUNAS, both, INSTITUTIONS) == [in_kaunas]
    assert visible_registrations(ADMIN, both, INSTITUTIONS) == [in_vilnius, in_kaunas]
    assert visible_registrations(PROVIDER, both, INSTITUTIONS) == [in_vilnius]
    assert child_in_scope(KAUNAS, both, INSTITUTIONS)
    assert not child_in_scope(
        KAUNAS, [in_vilnius, cancelled_in_kaunas], INSTITUTIONS
    )  # a cancelled record puts no one in scope
    assert child_in_scope(PROVIDER, [], INSTITUTIONS)  # registration step 1: any child
    assert readable_history(PROVIDER, both, INSTITUTIONS) == [
        in_vilnius,
        in_kaunas,
    ]  # the last school attended, anywhere
    assert readable_history(VILNIUS, both, INSTITUTIONS) == [in_vilnius]


# --- user registration requests -------------------------------------------------------
def a_request(**overrides) -> UserRequest:
    values = dict(
        personal_code=PersonalCode(TEACHER_CODE),
        first_name="Ona",
        last_name="Kairienė",
        email="ona@example.lt",
        phone="+370 600 12345",
        position="Mokytoja",
        employer_code=PROVIDER_CODE,
        employer_name="Mokykla",
        workplace_address="Vilnius",
        valid_from=TODAY,
        valid_until=TODAY + dt.timedelta(days=365),
        filled_on=TODAY,
        confirmations=Confirmations(True, True, True, True),
        acts_for=Scope.institution(PROVIDER_CODE),
        rights=(Right(Area.STUDENT_PERSONAL_DATA, Level.VIEWER), Right(Area.REGISTRATION_CORRECTION, Level.MANAGER)),
    )
    values.update(overrides)
    return UserRequest(**values)  # type: ignore[arg-type]


def check(request: UserRequest, issuer: Caller = ADMIN) -> None:
    institution = (
        INSTITUTIONS.get(request.acts_for.code or "") if request.acts_for.kind.value == "institution" else None
    )
    check_request(request, issuer=issuer, institution=institution, classifiers=CLASSIFIERS, today=TODAY)


def test_a_complete_request_is_granted_centrally_and_by_the_municipality_of_a_municipal_school() -> None:
    check(a_request())
    check(a_request(), issuer=VILNIUS)


def test_no_user_without_the_signed_confidentiality_pledge() -> None:
    with pytest.raises(ConfidentialityPledgeNotSigned):
        check(a_request(confirmations=Confirmations(True, True, True, False)))
    check(a_request(confirmations=Confirmations(False, False, False, True)))  # the others are recorded, not required


@pytest.mark.parametrize(
    "dates, field",
    [
        (dict(valid_until=TODAY - dt.timedelta(days=1)), "validUntil"),  # before valid-from
        (
            dict(filled_on=TODAY + dt.timedelta(days=1), valid_from=TODAY + dt.timedelta(days=2)),
            "filledOn",
        ),  # filled in the future
        (
            dict(valid_from=TODAY - dt.timedelta(days=10), filled_on=TODAY - dt.timedelta(days=3)),
            "validFrom",
        ),  # before filling in
        (
            dict(
                valid_from=TODAY - dt.timedelta(days=40),
                valid_until=TODAY - dt.timedelta(days=2),
                filled_on=TODAY - dt.timedelta(days=50),
            ),
            "validUntil",
        ),
    ],
)
def test_dates_that_do_not_make_sense_are_refused(dates: dict, field: str) -> None:
    with pytest.raises(InvalidUserRequest) as refused:
        check(a_request(**dates))
    assert refused.value.field == field


def test_the_wrong_issuer_is_refused() -> None:
    with pytest.raises(WrongIssuer):  # a municipal school of Vilnius, registered by Kaunas
        check(a_request(), issuer=KAUNAS)
    club = a_request(acts_for=Scope.institution(OTHER_PROVIDER_CODE), employer_code=OTHER_PROVIDER_CODE)
    with pytest.raises(WrongIssuer, match="non-state"):  # a non-state club in Kaunas, registered by Kaunas
        check(club, issuer=KAUNAS)
    check(club)  # centrally it is
    coordinator = a_request(
        acts_for=Scope.municipality("13"), rights=(Right(Area.STUDENT_PERSONAL_DATA, Level.VIEWER),)
    )
    with pytest.raises(WrongIssuer):
        check(coordinator, issuer=VILNIUS)
    check(coordinator)
    with pytest.raises(WrongIssuer):
        check(a_request(), issuer=PROVIDER)


def test_rights_and_scope_must_fit() -> None:
    with pytest.raises(InvalidUserRequest, match="manager rights only"):
        check(a_request(rights=(Right(Area.REGISTRATION_CORRECTION, Level.VIEWER),)))
    with pytest.raises(InvalidUserRequest, match="twice"):
        check(a_request(rights=(Right(Area.LIST_FORMING, Level.VIEWER), Right(Area.LIST_FORMING, Level.MANAGER))))
    with pytest.raises(InvalidUserRequest, match="viewer rights only"):
        check(a_request(acts_for=Scope.central(), rights=(Right(Area.LIST_FORMING, Level.MANAGER),)))
    with pytest.raises(InvalidUserRequest, match="works there"):
        check(a_request(employer_code=OTHER_PROVIDER_CODE))
    with pytest.raises(UnknownInstitution):
        check(a_request(acts_for=Scope.institution("399999999")))
    with pytest.raises(UnknownClassifierCode):
        check(a_request(acts_for=Scope.municipality("99"), rights=(Right(Area.LIST_FORMING, Level.VIEWER),)))


def test_a_user_is_valid_only_between_its_dates() -> None:
    user = User(1, "ona", Scope.institution(PROVIDER_CODE), frozenset(), TODAY, TODAY + dt.timedelta(days=1), True)
    user.check_valid_on(TODAY)
    user.check_valid_on(TODAY + dt.timedelta(days=1))
    with pytest.raises(CredentialsNotYetValid):
        user.check_valid_on(TODAY - dt.timedelta(days=1))
    with pytest.raises(CredentialsExpired):
        user.check_valid_on(TODAY + dt.timedelta(days=2))


def test_generated_passwords_pass_the_policy_and_weak_ones_do_not() -> None:
    passwords = {generate_password() for _ in range(20)}
    assert len(passwords) == 20
    for password in passwords:
        check_new_password(password, username="ona.kairiene", same_as_current=False)
    for weak in ("Short1!", "alllowercaseletters", "ona.kairiene-2026-X"):
        with pytest.raises(PasswordTooWeak):
            check_new_password(weak, username="ona.kairiene", same_as_current=False)
    with pytest.raises(PasswordTooWeak, match="differ"):
        check_new_password("Geras-Slaptazodis-2026", username="ona", same_as_current=True)


def test_user_names_are_made_from_names_in_ascii_and_kept_unique() -> None:
    taken = {"ona.kairiene"}
    assert username_for("Ona", "Kairienė", taken.__contains__) == "ona.kairiene-2"
    assert username_for("Žydrūnė", "Šalčiūtė-Ąžuolė", taken.__contains__) == "zydrune.salciute-azuole"
