"""What the use cases need from the outside world, as Protocols.

Storage (``storage/``) and the population-register client (``clients/``) implement
these; unit tests use the in-memory fakes in ``tests/fakes.py``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from gateway.domain.access import Right, Scope
from gateway.domain.calendar import Month, SchoolYear
from gateway.domain.checks import CheckKind, CheckRun, CheckStatus, DataIssue, PersonComparison, RunStatus
from gateway.domain.classifiers import ClassifierEntry, Classifiers
from gateway.domain.clubs import ClubAttendance, Enrolment
from gateway.domain.feed import ChangeEvent
from gateway.domain.funding import BasketRate, FundedChildren, FundingMark
from gateway.domain.lists import ListQuery
from gateway.domain.lists import Scope as ListScope
from gateway.domain.model import Group, Institution, PersonRecord, Program, Registration
from gateway.domain.notices import Notice, NoticeKind, NoticeState
from gateway.domain.personal_code import PersonalCode
from gateway.domain.portal import Family
from gateway.domain.retention import ErasedLearner
from gateway.domain.scope import ReadScope
from gateway.domain.statistics import Dimension, Measured, Period
from gateway.domain.users import User, UserRequest

T = TypeVar("T")


def stored(value: T | None) -> T:
    """What the store holds by construction: the row a foreign key names, the id of a row read from it."""
    assert value is not None, "the store holds it (a foreign key, or the id of a stored row)"
    return value


class PopulationRegister(Protocol):
    """Gyventojų registras. Raises ``PopulationRegisterUnavailable`` when it cannot answer."""

    def find_person(self, personal_code: PersonalCode) -> PersonRecord | None:
        """The person with this code, or None when GR does not know the code."""

    def find_persons(self, personal_codes: list[PersonalCode]) -> dict[PersonalCode, PersonRecord | None]:
        """Batch form for data checks: every asked code is a key (None: not found)."""


@runtime_checkable
class FamilyRegister(Protocol):
    """GR's GetFamily (its contract 1.1): a person's children and legal guardians, or None when GR does not
    know the person. Raises ``PopulationRegisterUnavailable`` when it cannot answer."""

    def find_family(self, personal_code: PersonalCode) -> Family | None: ...


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
class UserChange:
    """What an administrator changed of a user, when (ADMINISTRATION): never a password."""

    at: dt.datetime
    username: str
    operation: str  # ChangeUserRights, SetUserValidity, DisableUser, EnableUser, ResetPassword
    detail: str
    by_username: str
    by_user_id: int | None = None  # None: the console


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
    id: int | None = None  # given by storage; the position a GetAccessLog cursor points after


@dataclass(frozen=True)
class StoredOutcome:
    """The answer a request sent with a request id got (``gateway.request_ids``)."""

    user_id: int
    request_id: str
    operation: str
    body_hash: str
    created_at: dt.datetime
    response: bytes | None = None  # the response element as sent
    sealed_response: str | None = None  # the same, sealed, when it carries a password (RegisterUser)


class RequestOutcomeRepository(Protocol):
    def lock(self, user_id: int, request_id: str) -> bool:
        """Hold (until the transaction ends) the user's request id, or False at once when another
        transaction, in any process, holds it."""

    def get(self, user_id: int, request_id: str) -> StoredOutcome | None: ...
    def add(self, outcome: StoredOutcome) -> None: ...
    def forget(self, user_id: int, request_id: str) -> None: ...
    def purge(self, before: dt.datetime) -> int:
        """Delete the answers stored before ``before``; how many."""

    def forget_sealed(self, before: dt.datetime) -> int:
        """Empty the sealed answers (initial passwords) stored before ``before``; how many."""


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
    def name_taken(
        self, provider_code: str, school_year: SchoolYear, name: str, *, except_id: int | None = None
    ) -> bool: ...
    def of_provider(self, provider_code: str, school_year: SchoolYear) -> list[Group]: ...
    def active_learner_counts(self, group_ids: list[int]) -> dict[int, int]: ...
    def registration_count(self, group_id: int) -> int:
        """Every registration the group ever had, cancelled ones included."""

    def last_departure(self, group_id: int) -> dt.date | None:
        """The latest departure date of the group's registrations (None: nobody left it)."""

    def delete(self, group_id: int) -> None: ...
    def lock(self, group_id: int, *, exclusive: bool) -> Group | None:
        """The group, its row locked to the end of the transaction by the read itself (PostgreSQL: FOR
        UPDATE / FOR SHARE; SQLite has one writer at a time); None when there is no such group."""

    def lock_for_registrations(
        self, group_id: int, personal_codes: list[PersonalCode]
    ) -> tuple[Group, set[str]] | None:
        """``lock(group_id, exclusive=False)`` for registrations into the group, and which of these children
        (their codes) have an active registration in it, read with the group (one statement on PostgreSQL)."""

    def copy_of(self, origin_id: int) -> Group | None:
        """The group rolled over from ``origin_id`` (there is at most one)."""

    def providers_with_groups(self, school_year: SchoolYear) -> list[str]: ...


class PersonRepository(Protocol):
    def get(self, personal_code: PersonalCode) -> PersonRecord | None: ...
    def save(self, person: PersonRecord, *, checked_at: dt.datetime) -> None: ...
    def save_many(self, persons: list[PersonRecord], *, checked_at: dt.datetime) -> None:
        """``save`` for a batch's persons at once."""


class RegistrationRepository(Protocol):
    def get(self, registration_id: int) -> Registration | None: ...
    def add(self, registration: Registration) -> Registration: ...
    def update(self, registration: Registration) -> None: ...
    def has_active(self, personal_code: PersonalCode, group_id: int) -> bool: ...
    def add_many(self, registrations: list[Registration]) -> list[Registration]:
        """``add`` for a batch's registrations at once, their ids in order; ``AlreadyRegistered`` (naming
        none of them) when a concurrent request registered one of the children first."""

    def add_with_persons(
        self, registrations: list[tuple[Registration, PersonRecord]], *, checked_at: dt.datetime
    ) -> list[Registration]:
        """Each child's person saved as GR gave it (``PersonRepository.save_many``), then the registrations
        added (``add_many``, and its ``AlreadyRegistered``), in as few round trips as the store can."""

    def active_in_group(self, group_id: int) -> list[Registration]:
        """The group's active registrations, by id."""

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
    def move_basket_claims(self, from_mark_id: int, to_mark_id: int, months: list[Month]) -> None:
        """The child's basket claims of these months now belong to another mark, in place: the claim
        (child, month) is never released, so no rival can take it meanwhile (TransferStudent)."""

    def claimed_months(self, personal_code: PersonalCode, months: list[Month]) -> list[Month]: ...
    def basket_holders(self, personal_code: PersonalCode) -> list[tuple[Month, int]]:
        """The child's basket months and the registration holding each (by its funding mark), by month."""

    def claim_basket(self, personal_code: PersonalCode, mark: FundingMark) -> None:
        """Claim the mark's months for the child, or raise BasketAlreadyClaimed naming the months taken already;
        the free months it took then stay in the transaction until the refusal rolls it (or the record's
        savepoint) back, as every refusal does."""

    def funded_children(self, provider_codes: list[str] | None, months: list[Month]) -> list[FundedChildren]: ...


class RateRepository(Protocol):
    def all(self) -> list[BasketRate]: ...
    def replace_all(self, rates: list[BasketRate], version: str) -> None: ...
    def version(self) -> str | None: ...


class UserRepository(Protocol):
    def by_username(self, username: str) -> UserAccount | None: ...
    def for_login(self, username: str) -> tuple[UserAccount | None, tuple[int, dt.datetime | None] | None]:
        """The account (if any) and (failures counted, locked until) on record for the name (if any), together."""

    def add(
        self,
        user: User,
        password_hash: str,
        digest_secret: str | None,
        request: UserRequest | None = None,
        *,
        at: dt.datetime,
    ) -> User:
        """Store a new user (``user.id`` is ignored) and the request it came from, if any."""

    def set_password(
        self, user_id: int, password_hash: str, digest_secret: str | None, *, at: dt.datetime | None = None
    ) -> None: ...
    def set_password_hash(self, user_id: int, password_hash: str) -> None: ...
    def set_active(self, username: str, active: bool) -> bool:
        """False when there is no such user."""

    def all(self) -> list[User]: ...
    def page(
        self, *, municipal_of: str | None, institution_code: str | None, after: str | None, limit: int
    ) -> list[User]:
        """Users by user name after ``after``, at most ``limit``: every user, or (``municipal_of``) the
        users of the institutions owned by and located in that municipality; optionally of one institution."""

    def set_rights(self, user_id: int, rights: frozenset[Right]) -> None: ...
    def record_change(self, user_id: int, change: UserChange) -> None: ...
    def changes_of(self, user_id: int) -> list[UserChange]:
        """Oldest first."""

    def set_validity(self, user_id: int, valid_from: dt.date, valid_until: dt.date) -> None: ...
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
        self,
        personal_code: str,
        since: dt.datetime,
        before: dt.datetime,
        *,
        offset: int,
        limit: int,
        older_than: int | None = None,
    ) -> tuple[int, int, list[AccessRecord]]:
        """The total, how many are newer than ``older_than``, and up to ``limit`` records naming the
        person, newest first (by id): those older than ``older_than`` when given, else after ``offset``."""

    def purge(self, before: dt.datetime) -> tuple[int, int]:
        """Delete records older than ``before``: (records, person entries) removed."""

    def count(self) -> int: ...
    def persons_concerned(
        self,
        *,
        registration_ids: Iterable[int] = (),
        group_ids: Iterable[int] = (),
        attendance_ids: Iterable[int] = (),
        notice_ids: Iterable[int] = (),
    ) -> list[str]:
        """Personal codes of the persons the named records are about (a group: its leaders), whoever holds them."""


class FeedRepository(Protocol):
    """The change feed. ``append`` queues an event in the unit of work; the unit of work's
    ``commit`` numbers the queued events and writes them in the same transaction, so that
    a reader is never given a number while a lower one can still appear (see storage.feed_checks.SqlFeedRepository)."""

    def append(self, event: ChangeEvent) -> None: ...
    def last_sequence(self) -> int:
        """The highest number a reader may be given now, the watermark (0: none yet)."""

    def read(self, scope: ReadScope, after: int, limit: int) -> list[ChangeEvent]:
        """Committed events with a sequence above ``after`` that the scope covers, in sequence order."""


class NoticeRepository(Protocol):
    def add(self, notice: Notice) -> bool:
        """Store the notice; False (and nothing stored) when the institution already has one with its dedup key."""

    def get(self, notice_id: int) -> Notice | None: ...
    def acknowledge(self, notice_id: int, *, at: dt.datetime, by: str) -> Notice: ...
    def page(
        self,
        institution_code: str,
        state: NoticeState,
        kind: NoticeKind | None,
        after: tuple[bool, int] | None,
        limit: int,
    ) -> list[Notice]:
        """Unacknowledged first, newest first within each; ``after`` is the (acknowledged, id) of the last one seen."""

    def count_unacknowledged(self, institution_code: str) -> int: ...


class CheckRepository(Protocol):
    """Runs of the data checks, their findings per institution, and the reads they need."""

    def running_run(self, kind: CheckKind) -> CheckRun | None: ...
    def start_run(self, kind: CheckKind, *, at: dt.datetime, total: int) -> CheckRun: ...
    def set_progress(self, run_id: int, *, done: int, total: int) -> None: ...
    def finish_run(self, run_id: int, status: RunStatus, *, at: dt.datetime) -> None: ...
    def complete_run(self, run: CheckRun, *, at: dt.datetime, institution_codes: list[str] | None) -> None:
        """The run becomes the one each institution's status shows (None: every institution);
        their findings of earlier runs of the kind go."""

    def count_persons(self) -> int: ...
    def count_checked(self, run_id: int) -> int: ...
    def unchecked_persons(self, run_id: int, *, after: int, limit: int) -> list[tuple[int, PersonRecord]]:
        """Stored persons the run has no result for, by storage order after the position ``after``."""

    def save_comparison(self, run_id: int, position: int, comparison: PersonComparison) -> bool:
        """The person at ``position`` (from ``unchecked_persons``) is checked in this run; False when
        it already was (another process continuing the same run got there first)."""

    def registrations_of(self, personal_codes: list[PersonalCode]) -> list[Registration]:
        """The persons' registrations that are not cancelled, with any provider."""

    def count_registrations(self, provider_code: str | None) -> int: ...
    def registrations_page(self, *, after: int, limit: int, provider_code: str | None) -> list[Registration]:
        """Registrations that are not cancelled, by id after ``after``."""

    def add_issue(self, issue: DataIssue) -> None: ...
    def status(self, institution_code: str, kind: CheckKind) -> CheckStatus | None: ...
    def issues_page(
        self, institution_code: str, *, check: CheckKind | None, code: str | None, after: int, limit: int
    ) -> list[DataIssue]:
        """Open findings of the institution's last completed runs, by id after ``after``."""

    def persons_to_fix(
        self, institution_code: str, personal_code: PersonalCode | None, limit: int
    ) -> list[PersonalCode]:
        """Persons of the institution with open population-register findings (one, or all up to limit)."""

    def resolve_population_register_issues(self, personal_code: PersonalCode, *, at: dt.datetime) -> None: ...


class ClubRepository(Protocol):
    def get(self, attendance_id: int) -> ClubAttendance | None: ...
    def active_of(
        self, personal_code: PersonalCode, school_code: str, school_year: SchoolYear
    ) -> ClubAttendance | None: ...
    def of_person(self, personal_code: PersonalCode) -> list[ClubAttendance]:
        """Every club mark of a pupil, newest school year first."""

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


class StatisticsRepository(Protocol):
    def measure(self, scope: ListScope, period: Period, dimensions: Sequence[Dimension]) -> Measured:
        """Each statistic's counts per key of ``dimensions``: its list's rows counted in the database."""


class Savepoint:
    """The handle of ``UnitOfWork.savepoint``: ``discard()`` asks for its work to be undone at its end."""

    def __init__(self) -> None:
        self.discarded = False

    def discard(self) -> None:
        self.discarded = True


class ArchiveRepository(Protocol):
    """Closed school years moved out of the active tables (storage/archive.py)."""

    def school_years(self) -> list[int]: ...
    def left_to_move(self, school_year: int) -> dict[str, int]: ...
    def note_archived(self, school_year: int) -> None: ...
    def archived_through(self) -> int | None: ...
    def move_registrations(self, school_year: int, limit: int) -> int: ...
    def move_groups(self, school_year: int, limit: int) -> int: ...
    def move_club_marks(self, school_year: int, limit: int) -> int: ...
    def refresh_statistics(self) -> None: ...
    def history_of(self, personal_code: PersonalCode) -> list[tuple[Registration, Group]]: ...
    def funded_children(self, provider_codes: list[str] | None, months: Sequence[dt.date]) -> list[FundedChildren]: ...


class RetentionRepository(Protocol):
    """Personal data past its retention: pseudonymised or deleted (storage/retention.py)."""

    def count_learners_past_retention(self, through_year: int) -> int: ...
    def erase_learners(
        self, through_year: int, limit: int, today: dt.date, after_person: int = 0
    ) -> list[ErasedLearner]: ...
    def erase_group_leaders(self, through_year: int) -> int: ...
    def count_enrolments_past_retention(self, through_year: int) -> int: ...
    def delete_enrolments(self, through_year: int, limit: int) -> int: ...


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
    feed: FeedRepository
    notices: NoticeRepository
    checks: CheckRepository
    clubs: ClubRepository
    enrolments: EnrolmentRepository
    lists: ListRepository
    statistics: StatisticsRepository
    request_outcomes: RequestOutcomeRepository
    archive: ArchiveRepository
    retention: RetentionRepository

    def __enter__(self) -> UnitOfWork: ...
    def __exit__(self, *exc: object) -> None: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...
    def savepoint(self) -> AbstractContextManager[Savepoint]:
        """A part of the transaction that an exception undoes alone (its writes, its queued change events
        and access-log records), leaving the rest; ``Savepoint.discard`` undoes it at the end of the block too."""
