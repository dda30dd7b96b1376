"""Every operation of the contract × every kind of caller, over real HTTP, on SQLite and PostgreSQL.

The operations are read from wsdl/nvs-gateway-v1.wsdl: an operation added to the contract
without a line in EXPECTED (and so, without a decision about who may call it) fails here.
Each call carries the X-Road headers with a fresh message id; for each, the test checks

* the outcome: the response, or the fault code the table expects;
* the X-Road headers come back, in the same order with the same values, in responses and faults,
  and a fault's correlationId is the X-Road id;
* the access log: exactly one record for an operation on personal data, refused calls too,
  with the outcome, the user, its scope, the X-Road userId and issue, and the persons; none otherwise.

One gateway per database serves all the calls (module scope).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import zeep
from lxml import etree
from zeep.exceptions import Fault
from zeep.plugins import HistoryPlugin
from zeep.transports import Transport
from zeep.wsse.username import UsernameToken

from gateway.accounts import Accounts
from gateway.auth import DigestSecrets
from gateway.bootstrap import SANDBOX_DIGEST_SECRET_KEY
from gateway.config import REPOSITORY_ROOT
from gateway.domain.access import OPERATIONS, USER_ADMINISTRATION, Area, Level, Right, Scope
from gateway.domain.calendar import SchoolYear
from gateway.sandbox import INSTITUTION_RIGHTS, READER_RIGHTS
from tests.conftest import Database, LiveGateway, launch_gateway, open_database
from tests.e2e.helpers import ClockedUsernameToken, child_code, fault_detail, xroad_headers, xroad_headers_of
from tests.present import present

WSDL_FILE = REPOSITORY_ROOT / "wsdl" / "nvs-gateway-v1.wsdl"
SCHOOL = "300000011"  # Anykščių muzikos mokykla: municipal (20), Anykščiai (34)
OTHER_SCHOOL = "300000012"  # Vilniaus Pušyno muzikos mokykla: Vilnius (13)
PROGRAM = "100000112"

VIEWER, MANAGER, OTHER, COORDINATOR, OTHER_COORDINATOR, ADMIN = (
    "viewer",
    "manager",
    "other",
    "coordinator",
    "other-coord",
    "admin",
)
EXPIRED, NO_TOKEN, WRONG_PASSWORD, REPLAYED = "expired", "no-token", "wrong-password", "replayed-digest"
PORTAL = "portal"  # the state e-services portal's system user (1.11), for a citizen of the sandbox families
STAFF_USER_ID, CITIZEN_USER_ID = "LT38001010010", "LT48503120113"
KINDS = (
    VIEWER,
    MANAGER,
    OTHER,
    COORDINATOR,
    OTHER_COORDINATOR,
    ADMIN,
    PORTAL,
    EXPIRED,
    NO_TOKEN,
    WRONG_PASSWORD,
    REPLAYED,
)
PORTAL_OPERATIONS = ("GetMyChildren", "GetChildRecord", "GetDataAccessHistory")

OK, DENIED = "ok", "AccessDenied"
BATCHES = ("RegisterStudents", "DeregisterStudents", "MarkFundingBatch")
CHANGES_OF_THE_SCHOOL = {VIEWER: DENIED, MANAGER: OK, COORDINATOR: DENIED, OTHER_COORDINATOR: DENIED, ADMIN: DENIED}
# What each kind of caller gets; the last four kinds are the same for every operation (below).
EXPECTED: dict[str, dict[str, str]] = {
    "LookupPerson": {VIEWER: OK, MANAGER: OK, OTHER: OK, COORDINATOR: OK, OTHER_COORDINATOR: DENIED, ADMIN: OK},
    "CreateGroup": {**CHANGES_OF_THE_SCHOOL, OTHER: "UnknownProgram"},
    "UpdateGroup": {**CHANGES_OF_THE_SCHOOL, OTHER: "GroupNotFound"},
    "ListGroups": {VIEWER: OK, MANAGER: OK, OTHER: DENIED, COORDINATOR: OK, OTHER_COORDINATOR: DENIED, ADMIN: OK},
    "RegisterStudent": {**CHANGES_OF_THE_SCHOOL, OTHER: "GroupNotFound"},
    "CorrectRegistration": {**CHANGES_OF_THE_SCHOOL, OTHER: "RegistrationNotFound"},
    "CancelRegistration": {**CHANGES_OF_THE_SCHOOL, OTHER: "RegistrationNotFound"},
    "DeregisterStudent": {**CHANGES_OF_THE_SCHOOL, OTHER: "RegistrationNotFound"},
    # Batches: another school's caller is let in, and its record refused (the record's fault code).
    "RegisterStudents": {**CHANGES_OF_THE_SCHOOL, OTHER: "GroupNotFound"},
    "DeregisterStudents": {**CHANGES_OF_THE_SCHOOL, OTHER: "RegistrationNotFound"},
    "MarkFundingBatch": {**CHANGES_OF_THE_SCHOOL, OTHER: "RegistrationNotFound"},
    "GetStudent": {VIEWER: OK, MANAGER: OK, OTHER: DENIED, COORDINATOR: OK, OTHER_COORDINATOR: DENIED, ADMIN: OK},
    "RegisterUser": {
        VIEWER: DENIED,
        MANAGER: DENIED,
        OTHER: DENIED,
        COORDINATOR: OK,
        OTHER_COORDINATOR: "WrongIssuer",
        ADMIN: OK,
    },
    "ChangePassword": {VIEWER: OK, MANAGER: OK, OTHER: OK, COORDINATOR: OK, OTHER_COORDINATOR: OK, ADMIN: OK},
    "GetAccessLog": {
        VIEWER: DENIED,
        MANAGER: DENIED,
        OTHER: DENIED,
        COORDINATOR: DENIED,
        OTHER_COORDINATOR: DENIED,
        ADMIN: OK,
    },
    # ADMINISTRATION (1.8): the school's users are administered by its coordinator and centrally; another
    # municipality's coordinator is answered as if the user did not exist.
    "ListUsers": {VIEWER: DENIED, MANAGER: DENIED, OTHER: DENIED, COORDINATOR: OK, OTHER_COORDINATOR: OK, ADMIN: OK},
    **{
        name: {
            VIEWER: DENIED,
            MANAGER: DENIED,
            OTHER: DENIED,
            COORDINATOR: OK,
            OTHER_COORDINATOR: "UserNotFound",
            ADMIN: OK,
        }
        for name in USER_ADMINISTRATION
    },
    "MarkFunding": {**CHANGES_OF_THE_SCHOOL, OTHER: "RegistrationNotFound"},
    "EndFunding": {**CHANGES_OF_THE_SCHOOL, OTHER: "RegistrationNotFound"},
    "GetFunding": {
        VIEWER: DENIED,
        MANAGER: OK,
        OTHER: "RegistrationNotFound",
        COORDINATOR: OK,
        OTHER_COORDINATOR: "RegistrationNotFound",
        ADMIN: OK,
    },
    "CheckBasketAvailability": {VIEWER: OK, MANAGER: OK, OTHER: OK, COORDINATOR: OK, OTHER_COORDINATOR: OK, ADMIN: OK},
    "CalculateBasket": {VIEWER: DENIED, MANAGER: OK, OTHER: OK, COORDINATOR: OK, OTHER_COORDINATOR: OK, ADMIN: OK},
    "GetChanges": {VIEWER: OK, MANAGER: OK, OTHER: OK, COORDINATOR: OK, OTHER_COORDINATOR: OK, ADMIN: OK},
    "GetDataCheckStatus": {
        VIEWER: OK,
        MANAGER: OK,
        OTHER: DENIED,
        COORDINATOR: OK,
        OTHER_COORDINATOR: DENIED,
        ADMIN: OK,
    },
    "ListDataIssues": {
        VIEWER: OK,
        MANAGER: OK,
        OTHER: OK,
        COORDINATOR: DENIED,
        OTHER_COORDINATOR: DENIED,
        ADMIN: DENIED,
    },
    "FixPersonData": {
        VIEWER: DENIED,
        MANAGER: OK,
        OTHER: "StudentNotFound",
        COORDINATOR: DENIED,
        OTHER_COORDINATOR: DENIED,
        ADMIN: DENIED,
    },
    "ListNotices": {VIEWER: OK, MANAGER: OK, OTHER: OK, COORDINATOR: DENIED, OTHER_COORDINATOR: DENIED, ADMIN: DENIED},
    "MarkClubAttendance": {
        **CHANGES_OF_THE_SCHOOL,
        MANAGER: "NotGeneralEducationSchool",
        OTHER: "NotGeneralEducationSchool",
    },
    "EndClubAttendance": {**CHANGES_OF_THE_SCHOOL, MANAGER: "ClubAttendanceNotFound", OTHER: "ClubAttendanceNotFound"},
    **{
        name: {VIEWER: OK, MANAGER: OK, OTHER: OK, COORDINATOR: OK, OTHER_COORDINATOR: OK, ADMIN: OK}
        for name in (
            "ListLearners",
            "ListArrivals",
            "ListDepartures",
            "ListBasketRecipients",
            "ListClubAttendance",
            "GetStatistics",
        )
    },
    # The life of a school year (1.7). The arranged group has a learner: closing it is refused for that
    # (GroupHasLearners) and deleting it too (GroupHasRegistrations), after the rights let the call through.
    "TransferStudent": {**CHANGES_OF_THE_SCHOOL, OTHER: "RegistrationNotFound"},
    "CloseGroup": {**CHANGES_OF_THE_SCHOOL, MANAGER: "GroupHasLearners", OTHER: "GroupNotFound"},
    "DeleteGroup": {**CHANGES_OF_THE_SCHOOL, MANAGER: "GroupHasRegistrations", OTHER: "GroupNotFound"},
    "RollOverGroups": {**CHANGES_OF_THE_SCHOOL, OTHER: "GroupNotFound"},
    "AcknowledgeNotice": {
        VIEWER: "NoticeNotFound",
        MANAGER: "NoticeNotFound",
        OTHER: "NoticeNotFound",
        COORDINATOR: DENIED,
        OTHER_COORDINATOR: DENIED,
        ADMIN: DENIED,
    },
    # Citizens through the state e-services portal (1.11): the portal only. The arranged child is not the
    # citizen's (LT48503120113's, the sandbox's Kazlauskai mother): answered as a child nobody knows.
    "GetMyChildren": {
        VIEWER: DENIED,
        MANAGER: DENIED,
        OTHER: DENIED,
        COORDINATOR: DENIED,
        OTHER_COORDINATOR: DENIED,
        ADMIN: DENIED,
        PORTAL: OK,
    },
    **{
        name: {
            VIEWER: DENIED,
            MANAGER: DENIED,
            OTHER: DENIED,
            COORDINATOR: DENIED,
            OTHER_COORDINATOR: DENIED,
            ADMIN: DENIED,
            PORTAL: "ChildNotFound",
        }
        for name in ("GetChildRecord", "GetDataAccessHistory")
    },
}
for _expected in EXPECTED.values():
    _expected.setdefault(PORTAL, DENIED)  # the portal calls nothing but its own operations
    _expected.update(
        {
            EXPIRED: "CredentialsExpired",
            NO_TOKEN: "AuthenticationFailed",
            WRONG_PASSWORD: "AuthenticationFailed",
            REPLAYED: "TokenReplayed",
        }
    )


def wsdl_operations() -> list[str]:
    tree = etree.parse(str(WSDL_FILE))
    return tree.xpath("//wsdl:portType/wsdl:operation/@name", namespaces={"wsdl": "http://schemas.xmlsoap.org/wsdl/"})


def test_every_operation_of_the_contract_has_a_rights_entry_and_a_row_here() -> None:
    operations = wsdl_operations()
    assert len(operations) >= 12
    assert sorted(OPERATIONS) == sorted(operations), "the rights table (gateway/domain/access.py) and the WSDL differ"
    assert sorted(EXPECTED) == sorted(operations), "every operation needs its row in EXPECTED"
    assert all(set(row) == set(KINDS) for row in EXPECTED.values())


@dataclass(frozen=True)
class Kind:
    name: str
    username: str | None
    password: str | None
    scope: Scope | None
    digest: bool = False


@dataclass
class Arrangement:
    child: str
    group_id: int
    registration_id: int


@dataclass
class Matrix:
    gateway: LiveGateway
    database: Database
    kinds: dict[str, Kind]
    clients: dict[str, tuple[zeep.Client, HistoryPlugin]]
    accounts: Accounts
    year: SchoolYear
    arrangements: dict[str, Arrangement] = field(default_factory=dict)
    serial: Iterator[int] = field(default_factory=lambda: iter(range(100, 10_000)))

    def arrangement(self, operation: str) -> Arrangement:
        """A group of the school and a registered child, one per operation (changes stay apart)."""
        if operation not in self.arrangements:
            manager = self.kinds[MANAGER]
            service = self.client(Kind("arranger", manager.username, manager.password, manager.scope)).service
            group = service.CreateGroup(
                schoolYear=str(self.year),
                programCode=PROGRAM,
                name=f"Matrica {operation}",
                subDirectionCode=["MUSIC.PIANO"],
            )
            child = child_code(dt.date(2015, 4, 4), next(self.serial))
            registration = service.RegisterStudent(
                personalCode=child,
                groupId=group.groupId,
                firstLearningDate=self.year.starts_on,
                contract=contract(self.year.starts_on),
            ).registration
            if operation == "EndFunding":  # something to end
                service.MarkFunding(
                    registrationId=registration.registrationId,
                    fundingTypeCode=["MUNICIPAL"],
                    fromMonth=month_of(self.year.starts_on),
                )
            self.arrangements[operation] = Arrangement(child, group.groupId, registration.registrationId)
        return self.arrangements[operation]

    def client(self, kind: Kind) -> zeep.Client:
        client, _history = self.clients["any"]
        if kind.username is None:
            client.wsse = None
        elif kind.digest:
            client.wsse = ClockedUsernameToken(kind.username, present(kind.password), self.gateway.clock)
        else:
            client.wsse = UsernameToken(kind.username, kind.password)
        return client


def month_of(day: dt.date) -> str:
    return f"{day:%Y-%m}"


def contract(on: dt.date) -> dict:
    return {"typeCode": "BILATERAL", "date": on, "number": "S-1"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def matrix(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    database = open_database(request, request.param, tmp_path_factory.mktemp("matrix"))
    # Wrong passwords are sent on purpose, many times: no lockout in this module (lockout has its own tests).
    gateway, stop = launch_gateway(database, lockout_threshold=1_000_000)
    accounts = Accounts(database.uow_factory, DigestSecrets(SANDBOX_DIGEST_SECRET_KEY), clock=gateway.clock)
    today = gateway.clock.today()
    viewer_rights = [
        Right(a, Level.VIEWER) for a in (Area.STUDENT_PERSONAL_DATA, Area.STUDENT_LEARNING_DATA, Area.LIST_FORMING)
    ]
    accounts.ensure_user("matrix-viewer", "Matrix-viewer-2026!", Scope.institution(SCHOOL), viewer_rights)
    accounts.ensure_user(
        "matrix-expired",
        "Matrix-expired-2026!",
        Scope.institution(SCHOOL),
        INSTITUTION_RIGHTS,
        valid_from=today - dt.timedelta(days=400),
        valid_until=today - dt.timedelta(days=1),
    )
    manager = database.user(SCHOOL)
    kinds = {
        VIEWER: Kind(VIEWER, "matrix-viewer", "Matrix-viewer-2026!", Scope.institution(SCHOOL)),
        # The manager logs in with PasswordDigest (a fresh nonce per call): digest success on every operation.
        MANAGER: Kind(MANAGER, manager.username, manager.password, manager.scope, digest=True),
        OTHER: Kind(
            OTHER,
            database.user(OTHER_SCHOOL).username,
            database.user(OTHER_SCHOOL).password,
            Scope.institution(OTHER_SCHOOL),
        ),
        COORDINATOR: Kind(COORDINATOR, "sandbox-municipality-34", "Sandbox-municipality-34!", Scope.municipality("34")),
        OTHER_COORDINATOR: Kind(
            OTHER_COORDINATOR, "sandbox-municipality-13", "Sandbox-municipality-13!", Scope.municipality("13")
        ),
        ADMIN: Kind(ADMIN, "sandbox-admin", database.user_named("sandbox-admin").password, Scope.central()),
        PORTAL: Kind(PORTAL, "sandbox-portal", database.user_named("sandbox-portal").password, Scope.portal()),
        EXPIRED: Kind(EXPIRED, "matrix-expired", "Matrix-expired-2026!", Scope.institution(SCHOOL)),
        NO_TOKEN: Kind(NO_TOKEN, None, None, None),
        WRONG_PASSWORD: Kind(WRONG_PASSWORD, manager.username, "not-the-password", None),
        REPLAYED: Kind(REPLAYED, manager.username, manager.password, None, digest=True),
    }
    history = HistoryPlugin(maxlen=1)
    client = zeep.Client(gateway.wsdl_url, plugins=[history], transport=Transport(timeout=10, operation_timeout=30))
    yield Matrix(gateway, database, kinds, {"any": (client, history)}, accounts, SchoolYear.containing(today))
    stop()
    database.engine.dispose()


def request_for(matrix: Matrix, operation: str, kind: str) -> dict[str, Any]:
    year, today = matrix.year, matrix.gateway.clock.today()
    if operation in (
        "RegisterUser",
        "ChangePassword",
        "CreateGroup",
        "CalculateBasket",
        "GetChanges",
        "GetDataCheckStatus",
        "ListDataIssues",
        "ListNotices",
        "AcknowledgeNotice",
        "MarkClubAttendance",
        "EndClubAttendance",
        "ListLearners",
        "ListArrivals",
        "ListDepartures",
        "ListBasketRecipients",
        "ListClubAttendance",
        "GetStatistics",
        "ListUsers",
        *USER_ADMINISTRATION,
        *PORTAL_OPERATIONS,
    ):
        arranged = None
    else:
        arranged = matrix.arrangement(operation)
    serial = next(matrix.serial)

    def target() -> str:
        """A fresh user of the school for each administration call (a change stays its own)."""
        username = f"matrix-target-{serial}"
        matrix.accounts.ensure_user(username, f"Matrix-target-{serial}!", Scope.institution(SCHOOL), INSTITUTION_RIGHTS)
        return username

    requests: dict[str, Callable[[], dict[str, Any]]] = {
        "LookupPerson": lambda: {"personalCode": present(arranged).child},
        "GetMyChildren": lambda: {},
        "GetChildRecord": lambda: {"personalCode": child_code(dt.date(2014, 2, 2), serial)},
        "GetDataAccessHistory": lambda: {
            "personalCode": child_code(dt.date(2014, 2, 2), serial),
            "dateFrom": today,
            "dateTo": today,
        },
        "CreateGroup": lambda: {
            "schoolYear": str(year),
            "programCode": PROGRAM,
            "name": f"Nauja {kind}",
            "subDirectionCode": ["MUSIC.PIANO"],
        },
        "UpdateGroup": lambda: {
            "groupId": present(arranged).group_id,
            "name": f"Pervadinta {kind}",
            "subDirectionCode": ["MUSIC.PIANO"],
        },
        "ListGroups": lambda: {"schoolYear": str(year), "institutionCode": SCHOOL},
        "RegisterStudent": lambda: {
            "personalCode": child_code(dt.date(2014, 2, 2), serial),
            "groupId": present(arranged).group_id,
            "firstLearningDate": year.starts_on,
            "contract": contract(year.starts_on),
        },
        "RegisterStudents": lambda: {
            "record": [
                {
                    "personalCode": child_code(dt.date(2014, 2, 2), serial),
                    "groupId": present(arranged).group_id,
                    "firstLearningDate": year.starts_on,
                    "contract": contract(year.starts_on),
                }
            ]
        },
        "DeregisterStudents": lambda: {
            "record": [
                {
                    "registrationId": present(arranged).registration_id,
                    "departureDate": today,
                    "departureReasonCode": "PARENTS_REQUEST",
                }
            ]
        },
        "MarkFundingBatch": lambda: {
            "record": [
                {
                    "registrationId": present(arranged).registration_id,
                    "fundingTypeCode": ["MUNICIPAL"],
                    "fromMonth": month_of(year.starts_on),
                    "toMonth": month_of(year.starts_on),
                }
            ]
        },
        "CorrectRegistration": lambda: {
            "registrationId": present(arranged).registration_id,
            "firstLearningDate": year.starts_on,
        },
        "CancelRegistration": lambda: {
            "registrationId": present(arranged).registration_id,
            "reason": "Įvesta per klaidą",
        },
        "DeregisterStudent": lambda: {
            "registrationId": present(arranged).registration_id,
            "departureDate": today,
            "departureReasonCode": "PARENTS_REQUEST",
        },
        "GetStudent": lambda: {"personalCode": present(arranged).child, "institutionCode": SCHOOL},
        "RegisterUser": lambda: user_request(serial, kind, today),
        "ChangePassword": lambda: {"newPassword": f"Naujas-slaptazodis-{serial}"},
        "MarkFunding": lambda: {
            "registrationId": present(arranged).registration_id,
            "fundingTypeCode": ["MUNICIPAL"],
            "fromMonth": month_of(year.starts_on),
            "toMonth": month_of(year.starts_on),
        },
        "EndFunding": lambda: {
            "registrationId": present(arranged).registration_id,
            "fundingTypeCode": "MUNICIPAL",
            "lastFundedMonth": month_of(year.starts_on),
        },
        "GetFunding": lambda: {"registrationId": present(arranged).registration_id},
        "CheckBasketAvailability": lambda: {
            "personalCode": present(arranged).child,
            "fromMonth": month_of(year.starts_on),
            "toMonth": month_of(year.starts_on),
        },
        "CalculateBasket": lambda: {"fromMonth": month_of(year.starts_on), "toMonth": month_of(year.starts_on)},
        "GetChanges": lambda: {"after": 0, "limit": 10},
        "MarkClubAttendance": lambda: {
            "personalCode": child_code(dt.date(2014, 2, 2), serial),
            "schoolYear": str(year),
            "directionCode": ["MUSIC"],
        },
        "EndClubAttendance": lambda: {"attendanceId": 999_999, "endDate": today},
        "ListLearners": lambda: {"schoolYear": str(year)},
        "ListArrivals": lambda: {"fromDate": year.starts_on, "toDate": today},
        "ListDepartures": lambda: {"fromDate": year.starts_on, "toDate": today},
        "ListBasketRecipients": lambda: {"month": month_of(year.starts_on)},
        "ListClubAttendance": lambda: {"schoolYear": str(year)},
        "GetStatistics": lambda: {"schoolYear": str(year), "groupBy": ["municipality"]},
        "GetDataCheckStatus": lambda: {"institutionCode": SCHOOL},
        "ListDataIssues": lambda: {},
        "FixPersonData": lambda: {"personalCode": present(arranged).child},
        "ListNotices": lambda: {},
        "AcknowledgeNotice": lambda: {"noticeId": [999_999]},
        "TransferStudent": lambda: {
            "registrationId": present(arranged).registration_id,
            "groupId": matrix.arrangement("TransferStudent into").group_id,
            "fromDate": today,
        },
        "CloseGroup": lambda: {"groupId": present(arranged).group_id, "closingDate": today},
        "DeleteGroup": lambda: {"groupId": present(arranged).group_id},
        "RollOverGroups": lambda: {
            "fromYear": str(year),
            "toYear": str(SchoolYear(year.first_year + 1)),
            "groupId": [present(arranged).group_id],
        },
        "ListUsers": lambda: {"institutionCode": SCHOOL},
        "ChangeUserRights": lambda: {
            "username": target(),
            "right": [{"area": "list-forming", "level": "viewer"}],
        },
        "SetUserValidity": lambda: {
            "username": target(),
            "validFrom": today,
            "validUntil": today + dt.timedelta(days=30),
        },
        "DisableUser": lambda: {"username": target()},
        "EnableUser": lambda: {"username": target()},
        "ResetPassword": lambda: {"username": target()},
        "GetAccessLog": lambda: {
            "personalCode": matrix.arrangement(operation).child,
            "dateFrom": today - dt.timedelta(days=1),
            "dateTo": today + dt.timedelta(days=1),
        },
    }
    return requests[operation]()


def user_request(serial: int, kind: str, today: dt.date) -> dict[str, Any]:
    return {
        "personalCode": child_code(dt.date(1985, 3, 3), serial),
        "firstName": "Rūta",
        "lastName": f"Matricaitė{serial}",
        "email": "ruta@example.lt",
        "phone": "+370 600 00000",
        "position": "Mokytoja",
        "institutionCode": SCHOOL,
        "institutionName": "Anykščių muzikos mokykla",
        "workplaceAddress": "Anykščiai",
        "validFrom": today,
        "validUntil": today + dt.timedelta(days=365),
        "filledOn": today,
        "confirmations": {
            "lawOnPersonalDataProtectionRead": True,
            "registerRegulationsRead": True,
            "userManualRead": True,
            "confidentialityPledgeSigned": True,
        },
        "actsFor": {"institutionCode": SCHOOL},
        "right": [{"area": "student-personal-data", "level": "viewer"}],
        "username": f"matrix-user-{kind}-{serial}",
    }


def caller_for(matrix: Matrix, operation: str, kind: str) -> Kind:
    """The kind's caller; ChangePassword changes a fresh user's password, so the shared ones keep theirs."""
    template = matrix.kinds[kind]
    if operation != "ChangePassword" or kind in (EXPIRED, NO_TOKEN, WRONG_PASSWORD, REPLAYED):
        return template
    username, password = f"matrix-cp-{kind}", f"Matrix-cp-{kind}-Start1"
    rights = READER_RIGHTS if kind in (COORDINATOR, OTHER_COORDINATOR, ADMIN) else INSTITUTION_RIGHTS
    matrix.accounts.ensure_user(username, password, present(template.scope), rights)
    return Kind(kind, username, password, template.scope, digest=template.digest)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("operation", sorted(EXPECTED))
def test_operation_by_caller(matrix: Matrix, operation: str, kind: str) -> None:
    expected = EXPECTED[operation][kind]
    caller = caller_for(matrix, operation, kind)
    request = request_for(matrix, operation, kind)
    client, history = matrix.clients["any"]
    service = matrix.client(caller).service
    if kind == REPLAYED:
        # A token already used once (its nonce is spent): replaying it must fail, whatever the operation.
        created = matrix.gateway.clock.now().replace(microsecond=0)
        client.wsse = UsernameToken(
            caller.username, caller.password, use_digest=True, nonce=uuid.uuid4().hex, created=created
        )
        service.ListGroups(schoolYear=str(matrix.year), _soapheaders=xroad_headers("ListGroups", uuid.uuid4().hex))

    message_id = str(uuid.uuid4())
    user_id = CITIZEN_USER_ID if kind == PORTAL else STAFF_USER_ID
    sent = xroad_headers(operation, message_id, issue=f"matrix/{operation}/{kind}", user_id=user_id)
    outcome = call_outcome = OK
    try:
        answer = getattr(service, operation)(**request, _soapheaders=sent)
        if operation in BATCHES:  # a batch answers; its record says whether the caller could do it
            [result] = answer.result
            outcome = result.fault.code if result.fault is not None else OK
    except Fault as fault:
        detail = fault_detail(fault)
        outcome = call_outcome = detail["code"]
        assert detail["correlationId"] == message_id, "the X-Road id is the request's correlation id"
        if "personalCode" in request:
            assert request["personalCode"] not in fault.message, "personal codes never in faults"
    assert outcome == expected, f"{operation} by {kind}"

    echoed = xroad_headers_of(present(history.last_received)["envelope"])
    assert echoed == [shape_of(h) for h in sent], "X-Road headers echoed in order with their values"

    records = matrix.database.rows(
        "SELECT id, outcome, username, scope_kind, scope_code, xroad_user_id, xroad_issue FROM access_log WHERE request_id = :id",
        id=message_id,
    )
    if not OPERATIONS[operation].personal_data:
        assert records == []
        return
    assert len(records) == 1, "one access log record per call on personal data"
    record = records[0]
    assert record.outcome == call_outcome  # a batch's call is ok, whatever its records' outcomes
    assert record.username == caller.username
    authenticated = kind not in (EXPIRED, NO_TOKEN, WRONG_PASSWORD, REPLAYED)
    scope = (present(caller.scope).kind.value, present(caller.scope).code) if authenticated else (None, None)
    assert (record.scope_kind, record.scope_code) == scope
    assert (record.xroad_user_id, record.xroad_issue) == (user_id, f"matrix/{operation}/{kind}")
    persons = {
        row.personal_code
        for row in matrix.database.rows(
            "SELECT personal_code FROM access_log_person WHERE access_log_id = :id", id=record.id
        )
    }
    if "personalCode" in request:
        assert request["personalCode"] in persons


def shape_of(element) -> tuple:
    from tests.e2e.helpers import shape

    return shape(etree.fromstring(etree.tostring(element)))
