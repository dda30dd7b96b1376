"""The sandbox integrators test against: ŠMIR/NŠPR sample files, one user per institution,
a coordinator per municipality that has institutions, a central administrator, and the
sandbox population register's special persons."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway import administration
from gateway.accounts import Accounts, console_issuer
from gateway.auth import DigestSecrets
from gateway.clock import Clock, SystemClock
from gateway.config import FILES_ROOT
from gateway.domain.access import Area, Level, Right, Scope, ScopeKind
from gateway.domain.classifiers import Classifiers
from gateway.domain.clubs import Enrolment
from gateway.domain.model import Institution, Program
from gateway.enrolments import import_enrolments, parse_enrolments
from gateway.imports import parse_institutions, parse_programs
from gateway.ports import UnitOfWork

SANDBOX_DIR = FILES_ROOT / "data" / "sandbox"
INSTITUTIONS_FILE = SANDBOX_DIR / "institutions.xml"
PROGRAMS_FILE = SANDBOX_DIR / "programs.xml"
ENROLMENTS_FILE = SANDBOX_DIR / "enrolments.xml"


# Institution users: registration and correction, the personal and learning data they manage,
# basket calculation (funding marks), and list forming (reads).
INSTITUTION_RIGHTS = frozenset(
    {
        Right(Area.REGISTRATION_CORRECTION, Level.MANAGER),
        Right(Area.STUDENT_PERSONAL_DATA, Level.MANAGER),
        Right(Area.STUDENT_LEARNING_DATA, Level.MANAGER),
        Right(Area.BASKET_CALCULATION, Level.MANAGER),
        Right(Area.LIST_FORMING, Level.VIEWER),
    }
)
# Coordinators and administrators read.
READER_RIGHTS = frozenset(
    Right(area, Level.VIEWER)
    for area in (Area.STUDENT_PERSONAL_DATA, Area.STUDENT_LEARNING_DATA, Area.BASKET_CALCULATION, Area.LIST_FORMING)
)
ADMINISTRATOR = "sandbox-admin"
# The state e-services portal's system user (contract 1.11): calls the portal operations only, for the
# citizen named in the X-Road userId header (README, "Citizens through the state e-services portal").
PORTAL_USER = "sandbox-portal"
PORTAL_PASSWORD = "Sandbox-portal-citizens!"
COORDINATOR_PREFIX = "sandbox-municipality-"  # and the municipality's code


@dataclass(frozen=True)
class SandboxUser:
    username: str
    password: str
    institution_code: str | None
    institution_name: str
    scope: Scope
    rights: frozenset[Right]

    @property
    def municipality_code(self) -> str | None:
        return self.scope.code if self.scope.kind is ScopeKind.MUNICIPALITY else None


def sandbox_users(institutions: list[Institution], classifiers: Classifiers) -> list[SandboxUser]:
    """One user per active institution, one coordinator per municipality that has institutions,
    one central administrator and the state e-services portal's system user. The passwords are
    public: sandbox only."""
    users = [
        SandboxUser(
            f"sandbox-{i.code}", f"Sandbox-{i.code}!", i.code, i.name, Scope.institution(i.code), INSTITUTION_RIGHTS
        )
        for i in institutions
        if i.deregistered_on is None
    ]
    for code in sorted({i.municipality_code for i in institutions}):
        name = classifiers.name("municipality", code) or code
        users.append(
            SandboxUser(
                f"{COORDINATOR_PREFIX}{code}",
                f"Sandbox-municipality-{code}!",
                None,
                name,
                Scope.municipality(code),
                READER_RIGHTS,
            )
        )
    users.append(
        SandboxUser(
            ADMINISTRATOR, "Sandbox-admin-central!", None, "central administrator", Scope.central(), READER_RIGHTS
        )
    )
    users.append(
        SandboxUser(PORTAL_USER, PORTAL_PASSWORD, None, "state e-services portal", Scope.portal(), frozenset())
    )
    return users


def sandbox_data(classifiers: Classifiers) -> tuple[list[Institution], list[Program]]:
    return parse_institutions(INSTITUTIONS_FILE, classifiers), parse_programs(PROGRAMS_FILE, classifiers)


def install_sandbox(
    uow_factory: Callable[[], UnitOfWork],
    classifiers: Classifiers,
    digest_secrets: DigestSecrets | None = None,
    *,
    clock: Clock | None = None,
) -> list[SandboxUser]:
    from gateway.bootstrap import SANDBOX_DIGEST_SECRET_KEY

    institutions, programs = sandbox_data(classifiers)
    administration.import_institutions(uow_factory, institutions)
    administration.import_programs(uow_factory, programs)
    users = sandbox_users(institutions, classifiers)
    accounts = Accounts(
        uow_factory, digest_secrets or DigestSecrets(SANDBOX_DIGEST_SECRET_KEY), clock=clock or SystemClock()
    )
    for user in users:
        accounts.ensure_user(user.username, user.password, user.scope, user.rights)
    _disable_stale_coordinators(accounts, {user.username for user in users})
    install_sandbox_enrolments(uow_factory, classifiers, institutions)
    return users


def _disable_stale_coordinators(accounts: Accounts, current: set[str]) -> None:
    """A sandbox database from before classifiers 2026.2 keeps coordinators named by a provisional
    code (sandbox-municipality-57), acting for the recoded municipality (revision 0400) under a name
    that now means another one (57 is Kupiškio rajono): they are disabled; the README's are created."""
    issuer = console_issuer("sandbox")
    for user in accounts.all_users(issuer):
        if user.username.startswith(COORDINATOR_PREFIX) and user.username not in current and user.active:
            accounts.set_active(issuer, user.username, False)


def install_sandbox_enrolments(
    uow_factory: Callable[[], UnitOfWork], classifiers: Classifiers, institutions: list[Institution]
) -> None:
    """A few formal enrolments, so that the basket list shows a general-education municipality."""
    import_enrolments(uow_factory, _sandbox_enrolments(classifiers, institutions))


def _sandbox_enrolments(classifiers: Classifiers, institutions: list[Institution]) -> list[Enrolment]:
    return parse_enrolments(ENROLMENTS_FILE, classifiers, {i.code: i for i in institutions}.get)


def sandbox_fixture(classifiers: Classifiers, base_url: str) -> dict[str, object]:
    """Everything a test harness needs to know, machine-readably (``nvs-gateway sandbox --json``)."""
    from clients.population_register.sandbox import sandbox_families_fixture, sandbox_people_fixture

    institutions, programs = sandbox_data(classifiers)
    return {
        "registry": {"endpoint": f"{base_url}/registry", "wsdl": f"{base_url}/registry?wsdl"},
        "populationRegister": {
            "endpoint": f"{base_url}/population-register",
            "wsdl": f"{base_url}/population-register?wsdl",
        },
        "institutions": [
            {
                "code": i.code,
                "name": i.name,
                "municipalityCode": i.municipality_code,
                "municipality": classifiers.name("municipality", i.municipality_code),
                "ownershipCode": i.ownership_code,
                "groupCode": i.group_code,
                "purposeCodes": list(i.purpose_codes),
                "deregisteredOn": i.deregistered_on.isoformat() if i.deregistered_on else None,
                "nvsProvider": i.may_provide_nvs(classifiers),
                "generalEducationSchool": i.is_general_education_school(classifiers),
            }
            for i in institutions
        ],
        "programs": [
            {
                "code": p.code,
                "name": p.name,
                "providerCode": p.provider_code,
                "purpose": p.purpose.value,
                "directionCodes": list(p.direction_codes),
                "registeredOn": p.registered_on.isoformat() if p.registered_on else None,
                "accreditedOn": p.accredited_on.isoformat() if p.accredited_on else None,
                "deregisteredOn": p.deregistered_on.isoformat() if p.deregistered_on else None,
            }
            for p in programs
        ],
        "users": [
            {
                "username": u.username,
                "password": u.password,
                "actsFor": u.scope.kind.value,
                "institutionCode": u.institution_code,
                "municipalityCode": u.municipality_code,
                "name": u.institution_name,
                "institutionName": u.institution_name if u.institution_code else None,
                "rights": [
                    {"area": r.area.value, "level": r.level.value}
                    for r in sorted(u.rights, key=lambda r: list(Area).index(r.area))
                ],
            }
            for u in sandbox_users(institutions, classifiers)
        ],
        "enrolments": [
            {
                "schoolCode": e.school_code,
                "personalCode": e.personal_code.value,
                "schoolYear": str(e.school_year),
                "fromDate": e.from_date.isoformat(),
                "toDate": e.to_date.isoformat() if e.to_date else None,
            }
            for e in _sandbox_enrolments(classifiers, institutions)
        ],
        "specialPersons": sandbox_people_fixture(),
        "families": sandbox_families_fixture(),
        "note": "Every other checksum-valid personal code is answered by the sandbox population register "
        "with stable synthetic data derived from the code.",
    }


__all__ = ["SandboxUser", "install_sandbox", "install_sandbox_enrolments", "sandbox_fixture", "sandbox_users"]
