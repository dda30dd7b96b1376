"""Users of the register, created from the seed's registration request.

The request (``xsd/user-registration-request-v1.xsd``; over SOAP, ``RegisterUser``)
carries the form's 12 fields, the confirmations (the signed confidentiality pledge
is required), the rights asked for per functional area, and what the user acts for.
``check_request`` decides whether it can be granted and by whom: credentials of a
municipal institution's user are issued by that municipality's coordinator; all
others (state and non-state institutions, coordinators, administrators) centrally.
The user's personal code is personal data: stored, never logged, never shown in lists.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import string
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from gateway.domain import classifiers as cls
from gateway.domain.access import MANAGER_ONLY, MUNICIPAL_OWNERSHIP, Caller, Level, Right, Scope, ScopeKind
from gateway.domain.classifiers import Classifiers
from gateway.domain.errors import (
    ConfidentialityPledgeNotSigned,
    CredentialsExpired,
    CredentialsNotYetValid,
    InvalidUserRequest,
    OwnAccount,
    PasswordTooWeak,
    UnknownInstitution,
    UserNotFound,
    WrongIssuer,
)
from gateway.domain.model import Institution
from gateway.domain.personal_code import PersonalCode

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
GENERATED_PASSWORD_LENGTH = 20


@dataclass(frozen=True)
class Confirmations:
    """What the applicant confirms (seed): having read the law, the regulations and the
    manual, and having signed the confidentiality pledge (the only one required)."""

    law_read: bool
    regulations_read: bool
    manual_read: bool
    pledge_signed: bool


@dataclass(frozen=True)
class UserRequest:
    """The registration request of a register user (the seed's 12 fields, in order, and the rest)."""

    personal_code: PersonalCode  # 1
    first_name: str  # 2
    last_name: str  # 3
    email: str  # 4
    phone: str  # 5
    position: str  # 6
    employer_code: str  # 7: the institution (company) where the user works
    employer_name: str  # 8
    workplace_address: str  # 9
    valid_from: dt.date  # 10
    valid_until: dt.date  # 11
    filled_on: dt.date  # 12
    confirmations: Confirmations
    acts_for: Scope
    rights: tuple[Right, ...]
    username: str | None = None


@dataclass(frozen=True)
class User:
    """A register user as stored (without its secrets)."""

    id: int
    username: str
    acts_for: Scope
    rights: frozenset[Right]
    valid_from: dt.date | None
    valid_until: dt.date | None
    active: bool
    first_name: str = ""
    last_name: str = ""
    issued_by: str = ""

    def check_valid_on(self, day: dt.date) -> None:
        if self.valid_from is not None and day < self.valid_from:
            raise CredentialsNotYetValid()
        if self.valid_until is not None and day > self.valid_until:
            raise CredentialsExpired()

    def as_caller(self) -> Caller:
        return Caller.acting_for(self.acts_for, user_id=self.id, username=self.username, rights=self.rights)


def check_request(
    request: UserRequest,
    *,
    issuer: Caller,
    institution: Institution | None,
    classifiers: Classifiers,
    today: dt.date,
) -> None:
    """Whether ``issuer`` may grant this request. ``institution`` is the one the user would
    act for (looked up by the caller; None when unknown or not an institution scope)."""
    if not request.confirmations.pledge_signed:
        raise ConfidentialityPledgeNotSigned()
    _check_dates(request, today)
    _check_rights(request)
    if request.acts_for.kind is ScopeKind.INSTITUTION:
        if institution is None or (institution.deregistered_on is not None and institution.deregistered_on <= today):
            raise UnknownInstitution(field="actsFor/institutionCode")
        if request.employer_code != institution.code:
            raise InvalidUserRequest(
                "A user acting for an institution works there: institutionCode must be the code in actsFor.",
                field="institutionCode",
            )
    elif request.acts_for.kind is ScopeKind.MUNICIPALITY:
        classifiers.require(cls.MUNICIPALITY, request.acts_for.code or "", field="actsFor/municipalityCode")
    _check_issuer(issuer, request.acts_for, institution)


def _check_dates(request: UserRequest, today: dt.date) -> None:
    if request.filled_on > today:
        raise InvalidUserRequest("The request is dated in the future.", field="filledOn")
    if request.valid_until < request.valid_from:
        raise InvalidUserRequest("validUntil is before validFrom.", field="validUntil")
    if request.valid_from < request.filled_on:
        raise InvalidUserRequest("Registration cannot start before the request was filled in.", field="validFrom")
    if request.valid_until < today:
        raise InvalidUserRequest("validUntil has already passed.", field="validUntil")


def _check_rights(request: UserRequest) -> None:
    check_rights(request.rights, request.acts_for)


def check_rights(rights: tuple[Right, ...], acts_for: Scope) -> None:
    """The rights a user acting for ``acts_for`` may hold (the registration request's rule):
    at least one, each area once, registration-correction as manager only, and viewer rights
    only for coordinators and administrators."""
    if not rights:
        raise InvalidUserRequest("At least one right is needed.", field="right")
    seen = set()
    for index, right in enumerate(rights, 1):
        where = f"right[{index}]"
        if right.area in seen:
            raise InvalidUserRequest(f"The area {right.area.value} is asked for twice.", field=where)
        seen.add(right.area)
        if right.area in MANAGER_ONLY and right.level is not Level.MANAGER:
            raise InvalidUserRequest(f"{right.area.value} is granted with manager rights only.", field=where)
        if acts_for.kind is not ScopeKind.INSTITUTION and right.level is Level.MANAGER:
            raise InvalidUserRequest(
                "Municipality coordinators and central administrators read: they are granted viewer rights only.",
                field=where,
            )


def _check_issuer(issuer: Caller, acts_for: Scope, institution: Institution | None) -> None:
    if issuer.central:
        return
    if issuer.municipality_code is None:
        raise WrongIssuer("Users are registered by the central administrator or a municipality coordinator.")
    if acts_for.kind is not ScopeKind.INSTITUTION or institution is None:
        raise WrongIssuer(
            "Coordinators and administrators are registered by the central administrator.", field="actsFor"
        )
    if institution.ownership_code != MUNICIPAL_OWNERSHIP:
        raise WrongIssuer(
            "Users of state and non-state institutions are registered by the central administrator.",
            field="actsFor/institutionCode",
        )
    if institution.municipality_code != issuer.municipality_code:
        raise WrongIssuer("This institution belongs to another municipality.", field="actsFor/institutionCode")


# --- administration: who administers whom ------------------------------------------
# The issuer rule decides: whoever would register a user (``_check_issuer``) administers it
# afterwards. A central administrator administers every user; a municipality coordinator the
# users of institutions owned by (ownership 20) and located in its municipality, no one else (not
# a state or non-state institution's users, not another coordinator, not an administrator).
# A user outside that set is answered as one that does not exist (``UserNotFound``): a coordinator
# does not learn which user names exist elsewhere. Nobody administers their own user (``OwnAccount``):
# raising one's own rights or validity, or disabling the last way in, takes a second person.
# The rights a user may hold are bound by what it acts for, as in the registration request
# (``check_rights``), not by the issuer's own rights: coordinators read (viewer rights only) yet
# issue the manager rights of their schools' staff, as RegisterUser lets them. What a user acts for
# is never changed by administration, so nobody is raised to coordinator or administrator.
def administers(issuer: Caller, target: User, institution: Institution | None) -> bool:
    """Whether ``issuer`` administers ``target``; ``institution``: the one the target acts for, if any."""
    try:
        _check_issuer(issuer, target.acts_for, institution)
    except WrongIssuer:
        return False
    return True


def check_administers(issuer: Caller, target: User | None, institution: Institution | None) -> User:
    if target is None or not administers(issuer, target, institution):
        raise UserNotFound()
    if target.id == issuer.user_id:
        raise OwnAccount()
    return target


def check_validity(valid_from: dt.date, valid_until: dt.date, today: dt.date) -> None:
    if valid_until < valid_from:
        raise InvalidUserRequest("validUntil is before validFrom.", field="validUntil")
    if valid_until < today:
        raise InvalidUserRequest(
            "validUntil has already passed: to end a user's access now, disable it.", field="validUntil"
        )


# --- user names and passwords ----------------------------------------------------
def username_for(first_name: str, last_name: str, taken: Callable[[str], bool]) -> str:
    """``vardenis.pavardenis`` in ASCII, with -2, -3, ... when taken."""

    def ascii_word(text: str) -> str:
        folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
        return re.sub(r"[^a-z0-9]+", "-", folded).strip("-") or "user"

    base = f"{ascii_word(first_name)}.{ascii_word(last_name)}"[:90]
    candidate, suffix = base, 1
    while taken(candidate):
        suffix += 1
        candidate = f"{base}-{suffix}"
    return candidate


_PASSWORD_CLASSES = (string.ascii_lowercase, string.ascii_uppercase, string.digits, "!#%+-.:=?@_")


def generate_password(length: int = GENERATED_PASSWORD_LENGTH) -> str:
    """A random password with every character class (shown once, to be changed by its holder)."""
    alphabet = "".join(_PASSWORD_CLASSES)
    while True:
        password = "".join(secrets.choice(alphabet) for _ in range(length))
        if all(any(c in chars for c in password) for chars in _PASSWORD_CLASSES):
            return password


def check_new_password(password: str, *, username: str, same_as_current: bool) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordTooWeak(f"A password has at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordTooWeak(f"A password has at most {MAX_PASSWORD_LENGTH} characters.")
    classes = sum(any(c in chars for c in password) for chars in _PASSWORD_CLASSES[:3]) + any(
        not c.isalnum() for c in password
    )
    if classes < 3:
        raise PasswordTooWeak(
            "Use at least three of: lower-case letters, upper-case letters, digits, other characters."
        )
    if username.lower() in password.lower():
        raise PasswordTooWeak("The password must not contain the user name.")
    if same_as_current:
        raise PasswordTooWeak("The new password must differ from the current one.")
