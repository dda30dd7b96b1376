"""What the use cases need from the outside world, as Protocols.

Storage (``storage/``) and the population-register client (``clients/``) implement
these; unit tests use the in-memory fakes in ``tests/fakes.py``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Protocol

from gateway.domain.access import Scope
from gateway.domain.calendar import Month, SchoolYear
from gateway.domain.classifiers import ClassifierEntry, Classifiers
from gateway.domain.funding import BasketRate, FundedChildren, FundingMark
from gateway.domain.model import Group, Institution, PersonRecord, Program, Registration
from gateway.domain.personal_code import PersonalCode
from gateway.domain.users import User, UserRequest


class PopulationRegister(Protocol):
    """Gyventojų registras. Raises ``PopulationRegisterUnavailable`` when it cannot answer."""

    def find_person(self, personal_code: PersonalCode) -> PersonRecord | None:
        """The person with this code, or None when GR does not know the code."""

    def find_persons(self, personal_codes: list[PersonalCode]) -> dict[PersonalCode, PersonRecord | None]:
        """Batch form for data checks: every asked code is a key (None: not found)."""


@dataclass(frozen=True)
class UserAccount:
    """A user with its secrets: the argon2 hash, and the password encrypted for PasswordDigest."""

    user: User
    password_hash: str
    digest_secret: str | None = None

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def username(self) -> str:
        return self.user.username


@dataclass(frozen=True)
class AccessRecord:
    """One line of the access log: who, for whom, what, which persons, why, and the outcome."""

    at: dt.datetime
    operation: str
    request_id: str
    outcome: str  # "ok" or the fault code
    user_id: int | None = None
    username: str | None = None
    scope: Scope | None = None
    personal_codes: tuple[str, ...] = ()
    purpose: str | None = None
    xroad_client: str | None = None
    xroad_user_id: str | None = None
    xroad_issue: str | None = None


class ClassifierRepository(Protocol):
    def version(self) -> str | None: ...
    def load(self) -> Classifiers: ...
    def replace_all(self, entries: Iterable[ClassifierEntry], version: str) -> int: ...


class InstitutionRepository(Protocol):
    def get(self, code: str) -> Institution | None: ...
    def codes_in_municipality(self, municipality_code: str) -> list[str]: ...
    def get_many(self, codes: Iterable[str]) -> dict[str, Institution]: ...
    def upsert(self, institution: Institution) -> str:
        """'created', 'updated' or 'unchanged'."""


class ProgramRepository(Protocol):
    def get(self, code: str) -> Program | None: ...
    def upsert(self, program: Program) -> str: ...
    def existing_providers(self, codes: Iterable[str]) -> set[str]: ...


class GroupRepository(Protocol):
    def get(self, group_id: int) -> Group | None: ...
    def add(self, group: Group) -> Group: ...
    def update(self, group: Group) -> None: ...
    def name_taken(self, provider_code: str, school_year: SchoolYear, name: str, *, except_id: int | None = None) -> bool: ...
    def of_provider(self, provider_code: str, school_year: SchoolYear) -> list[Group]: ...
    def active_learner_counts(self, group_ids: list[int]) -> dict[int, int]: ...


class PersonRepository(Protocol):
    def get(self, personal_code: PersonalCode) -> PersonRecord | None: ...
    def save(self, person: PersonRecord, *, checked_at: dt.datetime) -> None: ...


class RegistrationRepository(Protocol):
    def get(self, registration_id: int) -> Registration | None: ...
    def add(self, registration: Registration) -> Registration: ...
    def update(self, registration: Registration) -> None: ...
    def has_active(self, personal_code: PersonalCode, group_id: int) -> bool: ...
    def latest_of_person(self, personal_code: PersonalCode) -> Registration | None:
        """The person's most recent registration that is not cancelled, with any provider."""
    def of_person_at(self, personal_code: PersonalCode, provider_code: str) -> list[Registration]: ...
    def of_person(self, personal_code: PersonalCode) -> list[Registration]:
        """All the person's registrations with any provider, newest first."""


class FundingRepository(Protocol):
    def of_registration(self, registration_id: int) -> list[FundingMark]:
        """The registration's marks in force."""
    def add(self, mark: FundingMark) -> FundingMark: ...
    def narrow(self, mark: FundingMark) -> None:
        """The mark now covers only from_month to to_month; basket months outside are free again."""
    def remove(self, mark: FundingMark) -> None: ...
    def claimed_months(self, personal_code: PersonalCode, months: list[Month]) -> list[Month]: ...
    def claim_basket(self, personal_code: PersonalCode, mark: FundingMark) -> None:
        """Claim the mark's months for the child atomically, or raise BasketAlreadyClaimed."""
    def funded_children(self, provider_codes: list[str] | None, months: list[Month]) -> list[FundedChildren]: ...


class RateRepository(Protocol):
    def all(self) -> list[BasketRate]: ...
    def replace_all(self, rates: list[BasketRate], version: str) -> None: ...
    def version(self) -> str | None: ...


class UserRepository(Protocol):
    def by_username(self, username: str) -> UserAccount | None: ...
    def add(
        self, user: User, password_hash: str, digest_secret: str | None, request: UserRequest | None = None, *, at: dt.datetime
    ) -> User:
        """Store a new user (``user.id`` is ignored) and the request it came from, if any."""
    def set_password(self, user_id: int, password_hash: str, digest_secret: str | None, *, at: dt.datetime | None = None) -> None: ...
    def set_password_hash(self, user_id: int, password_hash: str) -> None: ...
    def set_active(self, username: str, active: bool) -> bool:
        """False when there is no such user."""
    def all(self) -> list[User]: ...
    def holds_valid_user(self, personal_code: PersonalCode, scope: Scope, on: dt.date) -> bool:
        """Whether the person already has an active user, valid on that day or later, acting for ``scope``."""


class NonceRepository(Protocol):
    def use(self, digest: str, expires_at: dt.datetime) -> bool:
        """Record a nonce as used; False when it already was (a replay), whichever process saw it first."""
    def forget_expired(self, now: dt.datetime) -> int: ...


class LoginFailureRepository(Protocol):
    def get(self, username: str) -> tuple[int, dt.datetime | None] | None:
        """(failures counted, locked until) for a user name with failures on record."""
    def record_failure(
        self, username: str, *, now: dt.datetime, threshold: int, lock_for: dt.timedelta
    ) -> dt.datetime | None:
        """Count a failure (atomically, across processes); the lock's end when this one locked the name."""
    def clear(self, username: str) -> None: ...
    def forget_stale(self, now: dt.datetime, older_than: dt.timedelta) -> int: ...


class AccessLogRepository(Protocol):
    def append(self, record: AccessRecord) -> None: ...
    def of_person(
        self, personal_code: str, since: dt.datetime, before: dt.datetime, *, offset: int, limit: int
    ) -> tuple[int, list[AccessRecord]]:
        """The total and one page of records naming the person, newest first."""
    def purge(self, before: dt.datetime) -> tuple[int, int]:
        """Delete records older than ``before``: (records, person entries) removed."""
    def count(self) -> int: ...


class UnitOfWork(Protocol):
    """One transaction: ``with uow: ...; uow.commit()``. Leaving without commit rolls back."""

    classifiers: ClassifierRepository
    institutions: InstitutionRepository
    programs: ProgramRepository
    groups: GroupRepository
    persons: PersonRepository
    registrations: RegistrationRepository
    users: UserRepository
    funding: FundingRepository
    rates: RateRepository
    nonces: NonceRepository
    login_failures: LoginFailureRepository
    access_log: AccessLogRepository

    def __enter__(self) -> "UnitOfWork": ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
