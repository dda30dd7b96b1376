"""Citizens through the state e-services portal (contract 1.11), over real HTTP on SQLite and PostgreSQL.

A provider registers children of the sandbox's test families and marks a basket, a coordinator reads one
of them; then the sandbox portal user, acting for a parent (X-Road userId LT + the parent's code), sees
exactly that parent's minor children, their records and who accessed their data, and nothing of another
family's child; an adult learner sees their own record.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from lxml import etree
from zeep.exceptions import Fault

from gateway.sandbox import PORTAL_PASSWORD, PORTAL_USER
from gateway.soap.types import TNS
from tests.e2e.helpers import fault_detail, registry_client, xroad_headers

pytestmark = pytest.mark.e2e

YEAR = "2026-2027"
FIRST_DAY = dt.date(2026, 9, 1)
MUSIC_SCHOOL, MUSIC_PROGRAM = "300000011", "100000112"  # Anykščiai (34)
COORDINATOR = ("sandbox-municipality-34", "Sandbox-municipality-34!")
# The sandbox GR's test families (clients/population_register/sandbox.py FAMILIES, README).
MOTHER, FATHER = "48503120113", "38307050124"
EMILIJA, LUKAS, DOVYDAS = "61504200131", "51209010141", "50401150150"  # two minors and an adult son
OTHER_MOTHER, IEVA = "49001010165", "61706120177"  # another family
ADULT_LEARNER = "50103140188"
WARD = "51402220197"  # under an institution's guardianship
NOBODY = "51203159990"  # GR does not know the code
PURPOSE = "Registracija į NVŠ programą, prašymas 2026/41"


def purpose(text: str):
    element = etree.Element(f"{{{TNS}}}accessPurpose", nsmap={"nvs": TNS})
    element.text = text
    return element


def portal_as(gateway, citizen: str | None):
    """The portal's calls for ``citizen`` (None: X-Road headers without userId... none at all)."""
    service = registry_client(gateway.wsdl_url, PORTAL_USER, PORTAL_PASSWORD).service

    def call(operation: str, **arguments):
        headers = xroad_headers(operation, uuid.uuid4().hex, user_id=f"LT{citizen}", issue=None) if citizen else []
        return getattr(service, operation)(**arguments, _soapheaders=headers)

    return call


def refused(call) -> dict[str, str]:
    with pytest.raises(Fault) as fault:
        call()
    return fault_detail(fault.value)


@pytest.fixture
def families(live_gateway):
    """The provider's and the coordinator's calls the history must show."""
    user = live_gateway.database.user(MUSIC_SCHOOL)
    provider = registry_client(live_gateway.wsdl_url, user.username, user.password).service
    group = provider.CreateGroup(
        schoolYear=YEAR, programCode=MUSIC_PROGRAM, name="Fortepijonas", subDirectionCode=["MUSIC.PIANO"]
    )
    registrations = {}
    for child in (EMILIJA, LUKAS, IEVA, ADULT_LEARNER, WARD):
        registered = provider.RegisterStudent(
            personalCode=child,
            groupId=group.groupId,
            firstLearningDate=FIRST_DAY,
            contract={"typeCode": "BILATERAL", "date": FIRST_DAY, "number": f"S-{child[-3:]}"},
            _soapheaders=[purpose(PURPOSE)],
        )
        registrations[child] = registered.registration.registrationId
    provider.MarkFunding(
        registrationId=registrations[EMILIJA], fundingTypeCode=["NVS_BASKET"], fromMonth="2026-09", toMonth="2026-12"
    )
    coordinator = registry_client(live_gateway.wsdl_url, *COORDINATOR).service
    coordinator.GetStudent(personalCode=EMILIJA, institutionCode=MUSIC_SCHOOL)
    return registrations


def codes(children) -> dict[str, str]:
    return {c.person.personalCode: c.relation for c in children}


def test_a_parent_sees_exactly_their_minor_children_and_their_records(live_gateway, families):
    mother = portal_as(live_gateway, MOTHER)
    children = mother("GetMyChildren")
    # Not the adult son, not the other family's daughter, not the mother herself (no registration of hers).
    assert codes(children) == {EMILIJA: "LEGAL_REPRESENTATIVE", LUKAS: "LEGAL_REPRESENTATIVE"}
    emilija = next(c for c in children if c.person.personalCode == EMILIJA)
    assert (emilija.person.firstName, emilija.person.lastName) == ("Emilija", "Kazlauskaitė")
    assert [(r.registrationId, r.institutionCode, r.status) for r in emilija.registration] == [
        (families[EMILIJA], MUSIC_SCHOOL, "active")
    ]
    # The second legal guardian sees the same children.
    assert codes(portal_as(live_gateway, FATHER)("GetMyChildren")) == codes(children)

    record = mother("GetChildRecord", personalCode=EMILIJA)
    assert record.relation == "LEGAL_REPRESENTATIVE"
    [row] = record.registration
    assert row.registration.groupName == "Fortepijonas"
    assert row.registration.programCode == MUSIC_PROGRAM
    assert row.institutionName == "Anykščių muzikos mokykla"
    assert row.programName
    assert [(m.fundingTypeCode, m.fromMonth, m.toMonth) for m in row.fundingMark] == [
        ("NVS_BASKET", "2026-09", "2026-12")
    ]
    assert [(m.month, m.institutionCode) for m in record.basketMonth] == [
        (month, MUSIC_SCHOOL) for month in ("2026-09", "2026-10", "2026-11", "2026-12")
    ]
    assert mother("GetChildRecord", personalCode=LUKAS).basketMonth == []


def test_another_familys_child_is_answered_as_one_nobody_knows(live_gateway, families):
    mother = portal_as(live_gateway, MOTHER)
    unknown = refused(lambda: mother("GetChildRecord", personalCode=NOBODY))
    assert unknown["code"] == "ChildNotFound"
    for child in (IEVA, DOVYDAS, WARD, OTHER_MOTHER):
        detail = refused(lambda child=child: mother("GetChildRecord", personalCode=child))
        assert (detail["code"], detail["message"], detail.get("field")) == (
            unknown["code"],
            unknown["message"],
            unknown.get("field"),
        ), child
        history = refused(
            lambda child=child: mother(
                "GetDataAccessHistory", personalCode=child, dateFrom=dt.date(2026, 9, 1), dateTo=dt.date(2026, 12, 31)
            )
        )
        assert history["code"] == "ChildNotFound"
    # Ieva's own mother does see her; and nobody sees the institution's ward through the portal.
    assert codes(portal_as(live_gateway, OTHER_MOTHER)("GetMyChildren")) == {IEVA: "LEGAL_REPRESENTATIVE"}


def test_an_adult_learner_sees_their_own_record(live_gateway, families):
    learner = portal_as(live_gateway, ADULT_LEARNER)
    assert codes(learner("GetMyChildren")) == {ADULT_LEARNER: "SELF"}
    record = learner("GetChildRecord", personalCode=ADULT_LEARNER)
    assert record.relation == "SELF"
    assert [r.registration.registrationId for r in record.registration] == [families[ADULT_LEARNER]]
    assert refused(lambda: learner("GetChildRecord", personalCode=EMILIJA))["code"] == "ChildNotFound"


def test_the_access_history_names_institutions_and_registries_never_users(live_gateway, families):
    mother = portal_as(live_gateway, MOTHER)
    mother("GetChildRecord", personalCode=EMILIJA)
    period = {"personalCode": EMILIJA, "dateFrom": dt.date(2026, 11, 1), "dateTo": dt.date(2026, 11, 30)}
    answer = mother("GetDataAccessHistory", **period)
    accesses = [(a.actorKind, a.actorCode, a.operation) for a in answer.access]
    # Newest first: this portal call's own record is written with the call, so the latest shown is the one before.
    assert accesses[0] == ("portal", None, "GetChildRecord")
    assert ("municipality", "34", "GetStudent") in accesses
    assert ("institution", MUSIC_SCHOOL, "MarkFunding") in accesses
    registered = next(a for a in answer.access if a.operation == "RegisterStudent")
    assert (registered.actorName, registered.purpose, registered.outcome) == ("Anykščių muzikos mokykla", PURPOSE, "ok")
    coordinator = next(a for a in answer.access if a.actorKind == "municipality")
    assert coordinator.actorName and "sandbox" not in coordinator.actorName
    times = [a.at for a in answer.access]
    assert times == sorted(times, reverse=True)
    assert answer.nextCursor is None

    # Keyset pages: two at a time, no record twice, none left out, whatever is written meanwhile.
    paged, cursor = [], None
    while True:
        page = mother("GetDataAccessHistory", **period, pageSize=2, cursor=cursor)
        paged += [(a.at, a.operation, a.actorKind) for a in page.access]
        cursor = page.nextCursor
        if cursor is None:
            break
    # The first page starts with the question above (recorded since); then exactly what it answered.
    assert paged[0][1:] == ("GetDataAccessHistory", "portal")
    assert paged[1:] == [(a.at, a.operation, a.actorKind) for a in answer.access]

    # Never a user name: the institution answers for its staff.
    user = live_gateway.database.user(MUSIC_SCHOOL)
    for access in answer.access:
        assert user.username not in (access.actorName or "") and COORDINATOR[0] not in (access.actorName or "")


def test_every_portal_call_is_logged_for_the_citizen(live_gateway, families):
    mother = portal_as(live_gateway, MOTHER)
    mother("GetMyChildren")
    mother("GetChildRecord", personalCode=LUKAS)
    refused(lambda: mother("GetChildRecord", personalCode=IEVA))
    rows = live_gateway.database.rows(
        "SELECT operation, scope_kind, username, xroad_user_id, outcome FROM access_log "
        "WHERE scope_kind = 'portal' ORDER BY id"
    )
    assert [tuple(r) for r in rows] == [
        ("GetMyChildren", "portal", PORTAL_USER, f"LT{MOTHER}", "ok"),
        ("GetChildRecord", "portal", PORTAL_USER, f"LT{MOTHER}", "ok"),
        ("GetChildRecord", "portal", PORTAL_USER, f"LT{MOTHER}", "ChildNotFound"),
    ]
    persons = live_gateway.database.rows(
        "SELECT p.personal_code FROM access_log_person p JOIN access_log a ON a.id = p.access_log_id "
        "WHERE a.operation = 'GetMyChildren' ORDER BY p.id"
    )
    assert sorted(r[0] for r in persons) == sorted([EMILIJA, LUKAS])


def test_only_the_portal_calls_the_portal_operations_and_only_with_a_citizen(live_gateway):
    user = live_gateway.database.user(MUSIC_SCHOOL)
    provider = registry_client(live_gateway.wsdl_url, user.username, user.password).service
    assert refused(lambda: provider.GetMyChildren())["code"] == "AccessDenied"
    assert refused(lambda: provider.GetChildRecord(personalCode=EMILIJA))["code"] == "AccessDenied"
    admin = registry_client(live_gateway.wsdl_url, "sandbox-admin", "Sandbox-admin-central!").service
    assert (
        refused(lambda: admin.GetDataAccessHistory(personalCode=EMILIJA, dateFrom=FIRST_DAY, dateTo=FIRST_DAY))["code"]
        == "AccessDenied"
    )

    # The portal calls nothing else.
    portal = registry_client(live_gateway.wsdl_url, PORTAL_USER, PORTAL_PASSWORD).service
    headers = xroad_headers("GetStudent", uuid.uuid4().hex, user_id=f"LT{MOTHER}")
    assert refused(lambda: portal.GetStudent(personalCode=EMILIJA, _soapheaders=headers))["code"] == "AccessDenied"

    # Without a valid citizen in userId: a Client fault with a stable code, naming the header.
    without = refused(lambda: portal_as(live_gateway, None)("GetMyChildren"))
    assert (without["code"], without["field"]) == ("CitizenNotIdentified", "userId")
    for user_id in ("EE48503120113", "LT48503120114", "LT4850312011", "48503120113"):
        headers = xroad_headers("GetMyChildren", uuid.uuid4().hex, user_id=user_id)
        detail = refused(lambda headers=headers: portal.GetMyChildren(_soapheaders=headers))
        assert detail["code"] == "CitizenNotIdentified", user_id
        assert "48503120113" not in detail["message"]
