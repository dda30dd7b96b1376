"""Who may do what: functional areas and rights, the scope a user acts for, and the one
table (``OPERATIONS``) saying what every operation of the contract needs.

Rights come from the user registration request (seed): per functional area, either
**viewer** (reads) or **manager** (changes; a manager may also read). A user acts for
exactly one institution, one municipality (a coordinator) or centrally (an
administrator). Two questions are answered here, without SOAP or SQL:

* may this caller call this operation at all? (``authorize``: the rights table)
* which institutions and children's registrations does the caller see?
  (``Caller.sees_institution``, ``visible_registrations``, ``child_in_scope``;
  the use cases in ``gateway.services`` ask them)

Municipality scope (rules.md, decision): in LookupPerson and GetStudent a coordinator sees a
child when the child has a registration with a provider located in the municipality
(``child_in_scope``/``visible_registrations``). The lists also count the pupils of
general-education schools located in it (gateway/domain/lists.py, ``scope_of``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway.domain.errors import AccessDenied
from gateway.domain.model import Institution, Registration, RegistrationStatus

# Ownership of an ŠMIR institution: 10 state, 20 municipal, 30 non-state (rules.md).
MUNICIPAL_OWNERSHIP = "20"


class Area(enum.StrEnum):
    """The functional areas of the seed's registration request, in its order."""

    STUDENT_PERSONAL_DATA = "student-personal-data"
    STUDENT_LEARNING_DATA = "student-learning-data"
    REGISTRATION_CORRECTION = "registration-correction"
    BLANK_DISTRIBUTION = "blank-distribution"
    CERTIFICATES = "certificates"
    BASKET_CALCULATION = "basket-calculation"
    EXAM_PLANNING = "exam-planning"
    LIST_FORMING = "list-forming"
    COMPETENCE_ASSESSOR = "competence-assessor"


# The areas the NVŠ gateway uses; rights over the others are recorded but grant nothing here.
USED_BY_NVS = frozenset(
    {
        Area.STUDENT_PERSONAL_DATA,
        Area.STUDENT_LEARNING_DATA,
        Area.REGISTRATION_CORRECTION,
        Area.BASKET_CALCULATION,
        Area.LIST_FORMING,
    }
)
# The seed offers registration-correction with manager rights only.
MANAGER_ONLY = frozenset({Area.REGISTRATION_CORRECTION})

AREA_LABELS = {
    Area.STUDENT_PERSONAL_DATA: "student personal data",
    Area.STUDENT_LEARNING_DATA: "student learning data",
    Area.REGISTRATION_CORRECTION: "student registration-correction",
    Area.BLANK_DISTRIBUTION: "blank distribution",
    Area.CERTIFICATES: "certificate forming and printing",
    Area.BASKET_CALCULATION: "student basket calculation",
    Area.EXAM_PLANNING: "exam planning",
    Area.LIST_FORMING: "list forming",
    Area.COMPETENCE_ASSESSOR: "competence assessor",
}


class Level(enum.StrEnum):
    VIEWER = "viewer"  # peržiūrėtojas: reads
    MANAGER = "manager"  # tvarkytojas: changes, and reads


@dataclass(frozen=True)
class Right:
    area: Area
    level: Level

    def covers(self, needed: Right) -> bool:
        """A manager's right covers the viewer's right over the same area."""
        return self.area is needed.area and (self.level is Level.MANAGER or needed.level is Level.VIEWER)

    def __str__(self) -> str:
        return f"{self.level.value} of {AREA_LABELS[self.area]}"


class ScopeKind(enum.StrEnum):
    INSTITUTION = "institution"
    MUNICIPALITY = "municipality"
    CENTRAL = "central"
    # The state e-services portal (contract 1.11): a system user that acts for the citizen named in the
    # X-Road userId header, and calls the portal operations only.
    PORTAL = "portal"


@dataclass(frozen=True)
class Scope:
    """What a user acts for: one institution (its ŠMIR code), one municipality (its code), centrally, or
    (a system user) the state e-services portal's citizens."""

    kind: ScopeKind
    code: str | None = None

    def __post_init__(self) -> None:
        if (self.kind in (ScopeKind.CENTRAL, ScopeKind.PORTAL)) != (self.code is None):
            raise ValueError("an institution or municipality scope has a code; the central and portal scopes none")

    @classmethod
    def institution(cls, code: str) -> Scope:
        return cls(ScopeKind.INSTITUTION, code)

    @classmethod
    def municipality(cls, code: str) -> Scope:
        return cls(ScopeKind.MUNICIPALITY, code)

    @classmethod
    def central(cls) -> Scope:
        return cls(ScopeKind.CENTRAL)

    @classmethod
    def portal(cls) -> Scope:
        return cls(ScopeKind.PORTAL)

    def __str__(self) -> str:
        return self.kind.value if self.code is None else f"{self.kind.value} {self.code}"


@dataclass(frozen=True)
class Caller:
    """An authenticated user: whom it acts for (exactly one of an institution, a municipality
    or centrally) and its rights. The use cases decide scope from it; the SOAP layer asks
    ``authorize`` whether the operation is allowed at all."""

    user_id: int
    username: str
    institution_code: str | None = None
    municipality_code: str | None = None
    central: bool = False
    rights: frozenset[Right] = field(default_factory=frozenset)
    portal: bool = False  # the state e-services portal, acting for a citizen (gateway.portal)

    def __post_init__(self) -> None:
        scopes = (self.institution_code is not None, self.municipality_code is not None, self.central, self.portal)
        if sum(scopes) != 1:
            raise ValueError("a caller acts for exactly one institution, one municipality, centrally or as the portal")

    @classmethod
    def acting_for(cls, scope: Scope, *, user_id: int, username: str, rights: Iterable[Right] = ()) -> Caller:
        return cls(
            user_id=user_id,
            username=username,
            institution_code=scope.code if scope.kind is ScopeKind.INSTITUTION else None,
            municipality_code=scope.code if scope.kind is ScopeKind.MUNICIPALITY else None,
            central=scope.kind is ScopeKind.CENTRAL,
            rights=frozenset(rights),
            portal=scope.kind is ScopeKind.PORTAL,
        )

    @property
    def scope(self) -> Scope:
        if self.institution_code is not None:
            return Scope.institution(self.institution_code)
        if self.municipality_code is not None:
            return Scope.municipality(self.municipality_code)
        if self.portal:
            return Scope.portal()
        return Scope.central()

    def has(self, needed: Right) -> bool:
        return any(right.covers(needed) for right in self.rights)

    def acting_institution(self) -> str:
        """The institution whose data this caller changes. Coordinators and administrators
        read; changes belong to the institution's own users."""
        if self.institution_code is None:
            raise AccessDenied(
                "Only a user acting for an institution changes its data; coordinators and administrators read."
            )
        return self.institution_code

    def sees_institution(self, institution: Institution) -> bool:
        if self.portal:  # the portal sees a child's data through gateway.domain.portal, never an institution's
            return False
        if self.institution_code is not None:
            return institution.code == self.institution_code
        if self.municipality_code is not None:
            return institution.municipality_code == self.municipality_code
        return True


# --- the rights table ------------------------------------------------------------
@dataclass(frozen=True)
class OperationRule:
    """What an operation needs: every right in ``needs``, a caller acting as one of
    ``acting_as``; ``personal_data``: each call is written to the access log."""

    needs: tuple[Right, ...]
    acting_as: frozenset[ScopeKind]
    personal_data: bool
    changes: bool = False


# The register's own users; the portal (a system user) calls the portal operations and nothing else.
EVERY_SCOPE = frozenset({ScopeKind.INSTITUTION, ScopeKind.MUNICIPALITY, ScopeKind.CENTRAL})
PORTAL_ONLY = frozenset({ScopeKind.PORTAL})


def _reads(*areas: Area) -> OperationRule:
    return OperationRule(tuple(Right(a, Level.VIEWER) for a in areas), EVERY_SCOPE, personal_data=True)


def _changes(*areas: Area) -> OperationRule:
    # Coordinators and administrators never change a provider's data (rules.md: read-only views).
    return OperationRule(
        tuple(Right(a, Level.MANAGER) for a in areas),
        frozenset({ScopeKind.INSTITUTION}),
        personal_data=True,
        changes=True,
    )


# The operations that change users, not a provider's data: coordinators and administrators make them.
USER_ADMINISTRATION = ("ChangeUserRights", "SetUserValidity", "DisableUser", "EnableUser", "ResetPassword")

OPERATIONS: Mapping[str, OperationRule] = {
    # Registration step 1: GR's data of a person. Providers look up any child they are about to register.
    "LookupPerson": _reads(Area.STUDENT_PERSONAL_DATA),
    # Groups are learning data (program, sub-directions, leaders).
    "CreateGroup": _changes(Area.STUDENT_LEARNING_DATA),
    "UpdateGroup": _changes(Area.STUDENT_LEARNING_DATA),
    # The seed's "NVŠ group list" is one of the LISTS.
    "ListGroups": _reads(Area.LIST_FORMING),
    # Registration and its correction, cancellation and deregistration: the registration-correction right.
    "RegisterStudent": _changes(Area.REGISTRATION_CORRECTION),
    "RegisterStudents": _changes(Area.REGISTRATION_CORRECTION),
    "CorrectRegistration": _changes(Area.REGISTRATION_CORRECTION),
    "CancelRegistration": _changes(Area.REGISTRATION_CORRECTION),
    "DeregisterStudent": _changes(Area.REGISTRATION_CORRECTION),
    "DeregisterStudents": _changes(Area.REGISTRATION_CORRECTION),
    # A learner: stored personal data and the registrations (learning data).
    "GetStudent": _reads(Area.STUDENT_PERSONAL_DATA, Area.STUDENT_LEARNING_DATA),
    # Users: issued centrally, or by a municipality for its own institutions (checked by the use case).
    "RegisterUser": OperationRule(
        (), frozenset({ScopeKind.MUNICIPALITY, ScopeKind.CENTRAL}), personal_data=True, changes=True
    ),
    # Everyone changes their own password; no personal data of anyone is read.
    "ChangePassword": OperationRule((), EVERY_SCOPE, personal_data=False, changes=True),
    # ADMINISTRATION (1.8): whoever registers a user administers it (the issuer rule, checked by the
    # use case: a coordinator its municipal schools' users). Users' data is personal data: every call
    # is written to the access log, with its outcome.
    "ListUsers": OperationRule((), frozenset({ScopeKind.MUNICIPALITY, ScopeKind.CENTRAL}), personal_data=True),
    **{
        operation: OperationRule(
            (), frozenset({ScopeKind.MUNICIPALITY, ScopeKind.CENTRAL}), personal_data=True, changes=True
        )
        for operation in USER_ADMINISTRATION
    },
    # Who accessed a child's data: central administrators only.
    "GetAccessLog": OperationRule((), frozenset({ScopeKind.CENTRAL}), personal_data=True),
    # Funding marks are the basket-calculation area: the provider's own users mark and end them.
    "MarkFunding": _changes(Area.BASKET_CALCULATION),
    "MarkFundingBatch": _changes(Area.BASKET_CALCULATION),
    "EndFunding": _changes(Area.BASKET_CALCULATION),
    "GetFunding": _reads(Area.BASKET_CALCULATION),
    # "Anyone may ask whether a basket month is still free" (rules.md): no right needed, but it
    # is about a person, so it is written to the access log.
    "CheckBasketAvailability": OperationRule((), EVERY_SCOPE, personal_data=True),
    # The basket calculation of the caller's scope: its institution, its municipality's providers, or all.
    # The change feed: registrations and funding with natural keys, personal codes included.
    "GetChanges": _reads(Area.STUDENT_PERSONAL_DATA, Area.STUDENT_LEARNING_DATA),
    # "My school": when the checks ran and what they found (counts) of an institution the caller sees.
    "GetDataCheckStatus": OperationRule(
        (Right(Area.STUDENT_PERSONAL_DATA, Level.VIEWER),), EVERY_SCOPE, personal_data=False
    ),
    # The findings, the fix and the notices are the institution's own work list.
    "ListDataIssues": OperationRule(
        (Right(Area.STUDENT_PERSONAL_DATA, Level.VIEWER),), frozenset({ScopeKind.INSTITUTION}), personal_data=True
    ),
    "FixPersonData": _changes(Area.STUDENT_PERSONAL_DATA),
    "ListNotices": OperationRule(
        (Right(Area.STUDENT_PERSONAL_DATA, Level.VIEWER),), frozenset({ScopeKind.INSTITUTION}), personal_data=True
    ),
    # A notice is about a child: acknowledging one (or probing another institution's) is in the child's log.
    "AcknowledgeNotice": OperationRule((), frozenset({ScopeKind.INSTITUTION}), personal_data=True, changes=True),
    # Clubs attended: general-education schools record them for their pupils (learning data).
    "MarkClubAttendance": _changes(Area.STUDENT_LEARNING_DATA),
    "EndClubAttendance": _changes(Area.STUDENT_LEARNING_DATA),
    # The seed's LISTS, each cut to the caller's scope (gateway.domain.lists.scope_of).
    "ListLearners": _reads(Area.LIST_FORMING),
    "ListArrivals": _reads(Area.LIST_FORMING),
    "ListDepartures": _reads(Area.LIST_FORMING),
    "ListBasketRecipients": _reads(Area.LIST_FORMING),
    "ListClubAttendance": _reads(Area.LIST_FORMING),
    # The life of a school year (1.7). Moving a learner is a registration change (its funding follows by
    # rule, as deregistration ends it, so no basket right is needed); closing and deleting a group change
    # learning data; a rollover copies groups and, with carryLearners, moves learners: it needs both.
    "TransferStudent": _changes(Area.REGISTRATION_CORRECTION),
    "CloseGroup": _changes(Area.STUDENT_LEARNING_DATA),
    "DeleteGroup": _changes(Area.STUDENT_LEARNING_DATA),
    "RollOverGroups": _changes(Area.STUDENT_LEARNING_DATA, Area.REGISTRATION_CORRECTION),
    # Counts and amounts, no person's data: not written to the access log.
    "CalculateBasket": OperationRule((Right(Area.BASKET_CALCULATION, Level.VIEWER),), EVERY_SCOPE, personal_data=False),
    # The REPORTS menu's statistics: the lists counted (so the lists' right), no person's data.
    "GetStatistics": OperationRule((Right(Area.LIST_FORMING, Level.VIEWER),), EVERY_SCOPE, personal_data=False),
    # Citizens through the state e-services portal (1.11): only the portal calls them, for the citizen in the
    # X-Road userId header; which children it sees is gateway.domain.portal's. Every call is in the access log.
    "GetMyChildren": OperationRule((), PORTAL_ONLY, personal_data=True),
    "GetChildRecord": OperationRule((), PORTAL_ONLY, personal_data=True),
    "GetDataAccessHistory": OperationRule((), PORTAL_ONLY, personal_data=True),
}

_SCOPE_WORDS = {
    ScopeKind.INSTITUTION: "a user of an institution",
    ScopeKind.MUNICIPALITY: "a municipality coordinator",
    ScopeKind.CENTRAL: "a central administrator",
    ScopeKind.PORTAL: "the state e-services portal",
}


def authorize(caller: Caller, operation: str) -> OperationRule:
    """The rule of ``operation`` if the caller may call it; ``AccessDenied`` otherwise.

    An operation missing from the table is refused: a new operation is closed until
    someone decides who may call it.
    """
    rule = OPERATIONS.get(operation)
    if rule is None:
        raise AccessDenied(f"{operation} has no entry in the rights table.")
    if caller.scope.kind not in rule.acting_as:
        allowed = " or ".join(_SCOPE_WORDS[k] for k in ScopeKind if k in rule.acting_as)
        raise AccessDenied(f"{operation} is for {allowed}; you act as {_SCOPE_WORDS[caller.scope.kind]}.")
    for needed in rule.needs:
        if not caller.has(needed):
            raise AccessDenied(f"{operation} needs the right: {needed}.")
    return rule


# --- scope: which registrations and children a caller sees -------------------------
def visible_registrations(
    caller: Caller, registrations: Iterable[Registration], institutions: Mapping[str, Institution]
) -> list[Registration]:
    """The registrations (cancelled ones excluded) with a provider the caller sees."""
    return [
        r
        for r in registrations
        if r.status is not RegistrationStatus.CANCELLED
        and r.provider_code in institutions
        and caller.sees_institution(institutions[r.provider_code])
    ]


def child_in_scope(
    caller: Caller, registrations: Iterable[Registration], institutions: Mapping[str, Institution]
) -> bool:
    """Whether the caller may read a child's data at all.

    A provider may (registration step 1 is about children it does not have yet); an
    administrator may; a coordinator when the child is registered with a provider
    located in its municipality.
    """
    if caller.municipality_code is None:
        return True
    return bool(visible_registrations(caller, registrations, institutions))


def readable_history(
    caller: Caller, registrations: Iterable[Registration], institutions: Mapping[str, Institution]
) -> list[Registration]:
    """The registrations (not cancelled) a caller may learn of when looking a person up:
    a provider and an administrator all of them (the seed's step 1 shows the last school
    attended), a coordinator those in its municipality."""
    if caller.municipality_code is None:
        return [r for r in registrations if r.status is not RegistrationStatus.CANCELLED]
    return visible_registrations(caller, registrations, institutions)


def check_looks_at(caller: Caller, institution: Institution) -> None:
    """A caller naming an institution (ListGroups, GetStudent) must see it."""
    if not caller.sees_institution(institution):
        if caller.institution_code is not None:
            raise AccessDenied(
                "You act for another institution: you see only your own institution's data.", field="institutionCode"
            )
        raise AccessDenied("This institution is not located in your municipality.", field="institutionCode")
