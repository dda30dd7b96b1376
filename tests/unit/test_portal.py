"""Whom a citizen sees through the state e-services portal (gateway.domain.portal), and who the citizen is."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.domain.access import Caller, Scope, authorize
from gateway.domain.errors import AccessDenied, ChildNotFound, CitizenNotIdentified
from gateway.domain.personal_code import PersonalCode
from gateway.domain.portal import (
    Family,
    GuardianKind,
    LegalGuardian,
    Relation,
    check_represents,
    citizen_of,
    is_minor,
    represented,
)

TODAY = dt.date(2026, 11, 16)
MOTHER, FATHER = PersonalCode("48503120113"), PersonalCode("38307050124")
EMILIJA, LUKAS, DOVYDAS = PersonalCode("61504200131"), PersonalCode("51209010141"), PersonalCode("50401150150")
IEVA, OTHER_MOTHER = PersonalCode("61706120177"), PersonalCode("49001010165")
WARD = PersonalCode("51402220197")


def parents(*codes: PersonalCode) -> tuple[LegalGuardian, ...]:
    return tuple(LegalGuardian(GuardianKind.PARENT, c) for c in codes)


def seen(citizen: PersonalCode, family: Family | None, *children: Family) -> dict[PersonalCode, Relation]:
    birth_dates = {c.personal_code: c.personal_code.birth_date for c in children}
    return {r.personal_code: r.relation for r in represented(citizen, family, children, birth_dates, TODAY)}


def test_a_parent_sees_themself_and_their_minor_wards_only() -> None:
    family = Family(MOTHER, children=(EMILIJA, LUKAS, DOVYDAS, IEVA))
    children = (
        Family(EMILIJA, guardians=parents(MOTHER, FATHER)),
        Family(LUKAS, guardians=parents(MOTHER, FATHER)),
        Family(DOVYDAS, guardians=parents(MOTHER, FATHER)),  # an adult now
        Family(IEVA, guardians=parents(OTHER_MOTHER)),  # listed, but the mother is not her guardian
    )
    assert seen(MOTHER, family, *children) == {
        MOTHER: Relation.SELF,
        EMILIJA: Relation.LEGAL_REPRESENTATIVE,
        LUKAS: Relation.LEGAL_REPRESENTATIVE,
    }


def test_an_institutions_ward_is_seen_by_no_citizen() -> None:
    home = LegalGuardian(GuardianKind.INSTITUTION, institution_code="300000099", institution_name="Globos namai")
    assert seen(MOTHER, Family(MOTHER, children=(WARD,)), Family(WARD, guardians=(home,))) == {MOTHER: Relation.SELF}


def test_an_appointed_guardian_sees_the_child() -> None:
    guardian = (LegalGuardian(GuardianKind.GUARDIAN, OTHER_MOTHER),)
    assert seen(OTHER_MOTHER, Family(OTHER_MOTHER, children=(WARD,)), Family(WARD, guardians=guardian))[WARD] == (
        Relation.LEGAL_REPRESENTATIVE
    )


def test_a_citizen_gr_does_not_know_sees_only_themself() -> None:
    assert seen(MOTHER, None) == {MOTHER: Relation.SELF}


def test_minors_by_the_day() -> None:
    assert is_minor(EMILIJA, None, TODAY)
    assert not is_minor(DOVYDAS, None, TODAY)
    assert is_minor(DOVYDAS, None, dt.date(2022, 1, 14)) and not is_minor(DOVYDAS, None, dt.date(2022, 1, 15))
    assert not is_minor(PersonalCode("90000000018"), None, TODAY)  # no birth date known: no guardian sees them


def test_another_child_is_answered_as_one_nobody_knows() -> None:
    people = represented(MOTHER, Family(MOTHER), (), {}, TODAY)
    assert check_represents(people, MOTHER).relation is Relation.SELF
    with pytest.raises(ChildNotFound) as refused:
        check_represents(people, IEVA)
    assert refused.value.field == "personalCode"


@pytest.mark.parametrize("user_id", [None, "", "   ", "EE48503120113", "48503120113", "LT48503120114", "LT4850312011"])
def test_the_citizen_is_lt_and_a_valid_personal_code(user_id: str | None) -> None:
    with pytest.raises(CitizenNotIdentified) as refused:
        citizen_of(user_id)
    assert refused.value.field == "userId"
    assert "48503120113" not in refused.value.message


def test_the_citizen_of_a_user_id() -> None:
    assert citizen_of("LT48503120113") == MOTHER


def test_the_portal_calls_its_operations_only_and_nobody_else_calls_them() -> None:
    portal = Caller.acting_for(Scope.portal(), user_id=1, username="portal")
    admin = Caller.acting_for(Scope.central(), user_id=2, username="admin")
    for operation in ("GetMyChildren", "GetChildRecord", "GetDataAccessHistory"):
        assert authorize(portal, operation).personal_data
        with pytest.raises(AccessDenied):
            authorize(admin, operation)
    for operation in ("GetStudent", "ChangePassword", "CheckBasketAvailability", "LookupPerson"):
        with pytest.raises(AccessDenied):
            authorize(portal, operation)
