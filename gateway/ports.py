"""What the use cases need from the outside world, as Protocols.

Storage (``storage/``) and the population-register client (``clients/``) implement
these; unit tests use the in-memory fakes in ``tests/fakes.py``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Iterable, Protocol

from gateway.domain.calendar import Month, SchoolYear
from gateway.domain.classifiers import ClassifierEntry, Classifiers
from gateway.domain.clubs import ClubAttendance, Enrolment
from gateway.domain.funding import BasketRate, FundedChildren, FundingMark
from gateway.domain.lists import ListQuery
from gateway.domain.model import Group, Institution, PersonRecord, Program, Registration
from gateway.domain.personal_code import PersonalCode


class PopulationRegister(Protocol):
    """Gyventojų registras. Raises ``PopulationRegisterUnavailable`` when it cannot answer."""

    def find_person(self, personal_code: PersonalCode) -> PersonRecord | None:
        """The person with this code, or None when GR does not know the code."""

    def find_persons(self, personal_codes: list[PersonalCode]) -> dict[PersonalCode, PersonRecord | None]:
        """Batch form for data checks: every asked code is a key (None: not found)."""


@dataclass(frozen=True)
class UserAccount:
    id: int
    username: str
    password_hash: str
    institution_code: str
    active: bool = True


class ClassifierRepository(Protocol):
    def version(self) -> str | None: ...
    def load(self) -> Classifiers: ...
    def replace_all(self, entries: Iterable[ClassifierEntry], version: str) -> int: ...


class InstitutionRepository(Protocol):
    def get(self, code: str) -> Institution | None: ...
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
    def add(self, username: str, password_hash: str, institution_code: str) -> UserAccount: ...
    def set_password_hash(self, user_id: int, password_hash: str) -> None: ...


class ClubRepository(Protocol):
    def get(self, attendance_id: int) -> ClubAttendance | None: ...
    def active_of(self, personal_code: PersonalCode, school_code: str, school_year: SchoolYear) -> ClubAttendance | None: ...
    def save(self, attendance: ClubAttendance) -> ClubAttendance:
        """Insert (id None) or update; a racing second mark in force for the same pupil, school and
        year updates the first instead (one mark in force, held by a unique index)."""


class EnrolmentRepository(Protocol):
    def of_person(self, personal_code: PersonalCode) -> list[Enrolment]: ...
    def ensure(self, enrolment: Enrolment) -> bool:
        """Add unless the child has an enrolment at that school that year; True when added."""
    def upsert_many(self, enrolments: Iterable[Enrolment]) -> dict[str, int]:
        """Imported enrolments: counts of 'created', 'updated', 'unchanged'."""


class ListRepository(Protocol):
    def rows(self, query: ListQuery, limit: int) -> list[Any]:
        """At most ``limit`` rows of the list after ``query.request.after``, in the list's order."""
    def count(self, query: ListQuery) -> int:
        """How many rows the whole list has (cursor ignored)."""


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
    clubs: ClubRepository
    enrolments: EnrolmentRepository
    lists: ListRepository

    def __enter__(self) -> "UnitOfWork": ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
