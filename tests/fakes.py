"""In-memory stand-ins for storage, and builders with defaults, for the unit tests.

``FakeUnitOfWork`` implements the ``UnitOfWork`` Protocol of ``gateway/ports.py`` with
state, not mocks (cosmicpython's fake, with the transaction semantics that matter):

* ``with uow:`` starts a transaction on a working copy of the committed state;
  ``commit()`` makes the working copy the committed state (and counts in ``committed``);
  leaving the block without committing, or ``rollback()``, throws the changes away;
* one object serves as the factory too: ``Registry(uow_factory=lambda: uow, ...)``;
  every ``with`` starts afresh from what was committed;
* repositories used outside ``with uow:`` fail loudly (the real ones have no session then);
* change events appended in a transaction are numbered and stored when it commits, and
  thrown away when it does not (as ``SqlFeedRepository`` does);
* the constraints the database enforces (a group name per provider and year, one active
  registration of a person per group, a registration's person must be stored) raise the
  same domain errors as ``storage/repositories.py`` does.

Tests arrange data with ``uow.seed(...)`` (written straight into the committed state, not
counted as a commit) and check the outcome in ``uow.stored`` (the committed state only).
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

from stdnum.ee.ik import calc_check_digit

from gateway import ports
from gateway.domain.access import MUNICIPAL_OWNERSHIP, Right, Scope, ScopeKind
from gateway.domain.calendar import Month, SchoolYear, describe_months
from gateway.domain.checks import (
    ISSUE_TYPES,
    PERSONAL_DATA_MISMATCH,
    RESIDENCE_MISMATCH,
    Category,
    CheckKind,
    CheckRun,
    CheckStatus,
    DataIssue,
    PersonComparison,
    RunStatus,
)
from gateway.domain.classifiers import ClassifierEntry, Classifiers
from gateway.domain.errors import AlreadyRegistered, BasketAlreadyClaimed, DuplicateGroupName, DuplicateUser
from gateway.domain.feed import ChangeEvent
from gateway.domain.funding import BasketRate, FundedChildren, FundingMark
from gateway.domain.model import (
    Contract,
    Group,
    Institution,
    PersonRecord,
    Program,
    ProgramPurpose,
    Registration,
    RegistrationStatus,
)
from gateway.domain.notices import Notice, NoticeKind, NoticeState
from gateway.domain.personal_code import PersonalCode
from gateway.domain.retention import ErasedLearner
from gateway.domain.scope import ReadScope
from gateway.domain.text import comparison_key
from gateway.domain.users import User, UserRequest
from gateway.ports import UserAccount, UserChange
from gateway.reference_data import load_classifiers
from tests.present import present

# The real classifier file, read once per test session (Classifiers is never mutated).
CLASSIFIERS = load_classifiers()


# --- synthetic personal codes ---------------------------------------------------
def valid_code(first_ten: str) -> str:
    """A checksum-valid personal code from its first ten digits (synthetic data only)."""
    assert len(first_ten) == 10 and first_ten.isdigit(), first_ten
    return first_ten + calc_check_digit(first_ten + "0")


# A girl born 2016-03-15 and a boy born 2015-07-04 (aged 10 and 11 in the 2026-2027 school year).
GIRL_CODE = valid_code("6160315123")
BOY_CODE = valid_code("5150704456")
TEACHER_CODE = valid_code("3800512789")


# --- builders -------------------------------------------------------------------
PROVIDER_CODE = "300100001"
OTHER_PROVIDER_CODE = "300100002"
PROGRAM_CODE = "120000001"
SCHOOL_YEAR = SchoolYear(2026)


def an_institution(**overrides: Any) -> Institution:
    """A municipal NVŠ music school in Vilnius, eligible to run NVŠ groups."""
    values: dict[str, Any] = dict(
        code=PROVIDER_CODE,
        name="Vilniaus Bandomoji muzikos mokykla",
        municipality_code="13",
        ownership_code="20",
        group_code="NVS_SCHOOL",
        purpose_codes=("MUSIC_SCHOOL",),
        deregistered_on=None,
    )
    values.update(overrides)
    return Institution(**values)


def a_program(**overrides: Any) -> Program:
    """A registered, accredited NVŠ music program of ``an_institution()``."""
    values: dict[str, Any] = dict(
        code=PROGRAM_CODE,
        name="Fortepijono ir styginių instrumentų programa",
        provider_code=PROVIDER_CODE,
        purpose=ProgramPurpose.NVS,
        direction_codes=("MUSIC",),
        registered_on=dt.date(2020, 5, 4),
        accredited_on=dt.date(2020, 6, 1),
        deregistered_on=None,
    )
    values.update(overrides)
    return Program(**values)


def a_person(**overrides: Any) -> PersonRecord:
    """A living child as GR knows them; sex and birth date follow the personal code unless given."""
    code = overrides.pop("personal_code", GIRL_CODE)
    code = code if isinstance(code, PersonalCode) else PersonalCode(code)
    values: dict[str, Any] = dict(
        personal_code=code,
        first_name="Austėja",
        last_name="Bandomaitė",
        sex=code.sex,
        birth_date=code.birth_date,
        deceased_on=None,
        residence=None,
        departed_abroad_on=None,
    )
    values.update(overrides)
    return PersonRecord(**values)


def a_group(**overrides: Any) -> Group:
    """A 2026-2027 piano group of ``an_institution()`` in ``a_program()`` (id 1 unless given)."""
    values: dict[str, Any] = dict(
        id=1,
        provider_code=PROVIDER_CODE,
        school_year=SCHOOL_YEAR,
        program_code=PROGRAM_CODE,
        purpose=ProgramPurpose.NVS,
        name="Fortepijonas, 1 klasė",
        sub_direction_codes=("MUSIC.PIANO",),
        leaders=(),
    )
    values.update(overrides)
    return Group(**values)


def a_contract(**overrides: Any) -> Contract:
    values: dict[str, Any] = dict(type_code="BILATERAL", signed_on=dt.date(2026, 8, 28), number="S-2026/15")
    values.update(overrides)
    return Contract(**values)


def a_registration(**overrides: Any) -> Registration:
    """An active registration of the girl in ``a_group()`` from 2026-09-01 (id 1 unless given)."""
    code = overrides.pop("personal_code", GIRL_CODE)
    values: dict[str, Any] = dict(
        id=1,
        personal_code=code if isinstance(code, PersonalCode) else PersonalCode(code),
        group_id=1,
        provider_code=PROVIDER_CODE,
        first_learning_date=dt.date(2026, 9, 1),
        contract=a_contract(),
        registered_on=dt.date(2026, 9, 1),
    )
    values.update(overrides)
    return Registration(**values)


# --- the fake storage -------------------------------------------------------------
@dataclass
class Tables:
    """Everything storage holds. Domain objects are frozen, so copying the dicts is a snapshot."""

    classifiers: Classifiers
    institutions: dict[str, Institution] = field(default_factory=dict)
    programs: dict[str, Program] = field(default_factory=dict)
    groups: dict[int, Group] = field(default_factory=dict)
    persons: dict[PersonalCode, PersonRecord] = field(default_factory=dict)
    persons_checked_at: dict[PersonalCode, dt.datetime] = field(default_factory=dict)
    registrations: dict[int, Registration] = field(default_factory=dict)
    users: dict[int, UserAccount] = field(default_factory=dict)
    funding_marks: dict[int, FundingMark] = field(default_factory=dict)
    # (personal code, month) -> mark id: the basket's exclusivity key, as in the database
    basket_claims: dict[tuple[PersonalCode, Month], int] = field(default_factory=dict)
    rates: list[BasketRate] = field(default_factory=list)
    user_requests: dict[int, UserRequest] = field(default_factory=dict)
    user_changes: list[tuple[int, UserChange]] = field(default_factory=list)
    change_events: list[ChangeEvent] = field(default_factory=list)
    feed_counter: int = 0
    notices: dict[int, Notice] = field(default_factory=dict)
    check_runs: dict[int, CheckRun] = field(default_factory=dict)
    # (run id, person position) -> comparison; a person's position is its place in ``persons`` (1-based)
    person_checks: dict[tuple[int, int], PersonComparison] = field(default_factory=dict)
    data_issues: dict[int, DataIssue] = field(default_factory=dict)
    # (institution code, check kind) -> (run id, checked at)
    institution_checks: dict[tuple[str, CheckKind], tuple[int, dt.datetime]] = field(default_factory=dict)

    def copy(self) -> Tables:
        return Tables(
            classifiers=self.classifiers,
            institutions=dict(self.institutions),
            programs=dict(self.programs),
            groups=dict(self.groups),
            persons=dict(self.persons),
            persons_checked_at=dict(self.persons_checked_at),
            registrations=dict(self.registrations),
            users=dict(self.users),
            funding_marks=dict(self.funding_marks),
            basket_claims=dict(self.basket_claims),
            rates=list(self.rates),
            user_requests=dict(self.user_requests),
            user_changes=list(self.user_changes),
            change_events=list(self.change_events),
            feed_counter=self.feed_counter,
            notices=dict(self.notices),
            check_runs=dict(self.check_runs),
            person_checks=dict(self.person_checks),
            data_issues=dict(self.data_issues),
            institution_checks=dict(self.institution_checks),
        )


class _Repository:
    def __init__(self, uow: FakeUnitOfWork) -> None:
        self._uow = uow

    @property
    def _tables(self) -> Tables:
        return self._uow._in_transaction()


class FakeClassifierRepository(_Repository):
    def load(self) -> Classifiers:
        return self._tables.classifiers

    def version(self) -> str | None:
        # Not in the ClassifierRepository Protocol, but gateway/administration.py calls it.
        return self._tables.classifiers.version

    def replace_all(self, entries: Iterable[ClassifierEntry], version: str) -> int:
        entries = list(entries)
        self._tables.classifiers = Classifiers(entries, version)
        return len(entries)


class FakeInstitutionRepository(_Repository):
    def get(self, code: str) -> Institution | None:
        return self._tables.institutions.get(code)

    def get_many(self, codes: Iterable[str]) -> dict[str, Institution]:
        return {c: self._tables.institutions[c] for c in codes if c in self._tables.institutions}

    def codes_in_municipality(self, municipality_code: str) -> list[str]:
        return [i.code for i in self._tables.institutions.values() if i.municipality_code == municipality_code]

    def upsert(self, institution: Institution) -> str:
        return _upsert(self._tables.institutions, institution.code, institution)


class FakeProgramRepository(_Repository):
    def get(self, code: str) -> Program | None:
        return self._tables.programs.get(code)

    def upsert(self, program: Program) -> str:
        return _upsert(self._tables.programs, program.code, program)

    def existing_providers(self, codes: Iterable[str]) -> set[str]:
        return set(codes) & set(self._tables.institutions)


def _upsert(table: dict[str, Any], key: str, value: Any) -> str:
    old = table.get(key)
    table[key] = value
    if old is None:
        return "created"
    return "unchanged" if old == value else "updated"


class FakeGroupRepository(_Repository):
    def get(self, group_id: int) -> Group | None:
        return self._tables.groups.get(group_id)

    def add(self, group: Group) -> Group:
        # The database's unique (provider, year, name) constraint.
        if self.name_taken(group.provider_code, group.school_year, group.name):
            raise DuplicateGroupName(field="name")
        # The database's unique rolled_over_from: one copy per group.
        if group.rolled_over_from is not None and self.copy_of(group.rolled_over_from) is not None:
            raise DuplicateGroupName(field="name")
        group_id = self._uow._next_group_id()
        stored = self._tables.groups[group_id] = replace(group, id=group_id)
        return stored

    def update(self, group: Group) -> None:
        assert group.id in self._tables.groups, f"no group {group.id} to update"
        self._tables.groups[group.id] = group

    def name_taken(
        self, provider_code: str, school_year: SchoolYear, name: str, *, except_id: int | None = None
    ) -> bool:
        key = comparison_key(name)
        return any(
            g.provider_code == provider_code
            and g.school_year == school_year
            and comparison_key(g.name) == key
            and g.id != except_id
            for g in self._tables.groups.values()
        )

    def of_provider(self, provider_code: str, school_year: SchoolYear) -> list[Group]:
        groups = [
            g for g in self._tables.groups.values() if g.provider_code == provider_code and g.school_year == school_year
        ]
        return sorted(groups, key=lambda g: (g.name, g.id))

    def active_learner_counts(self, group_ids: list[int]) -> dict[int, int]:
        counts = {group_id: 0 for group_id in group_ids}
        for registration in self._tables.registrations.values():
            if registration.group_id in counts and registration.status is RegistrationStatus.ACTIVE:
                counts[registration.group_id] += 1
        return counts

    def registration_count(self, group_id: int) -> int:
        return sum(r.group_id == group_id for r in self._tables.registrations.values())

    def last_departure(self, group_id: int) -> dt.date | None:
        dates = [
            r.departure.date
            for r in self._tables.registrations.values()
            if r.group_id == group_id and r.departure is not None and r.status is not RegistrationStatus.CANCELLED
        ]
        return max(dates, default=None)

    def delete(self, group_id: int) -> None:
        # The database's foreign keys: a registration keeps its group; a copy forgets its origin.
        assert not self.registration_count(group_id), "a group with registrations cannot be deleted"
        del self._tables.groups[group_id]
        for key, other in list(self._tables.groups.items()):
            if other.rolled_over_from == group_id:
                self._tables.groups[key] = replace(other, rolled_over_from=None)

    def lock(self, group_id: int, *, exclusive: bool) -> Group | None:
        return self.get(group_id)  # one transaction at a time: nothing to wait for

    def lock_for_registrations(
        self, group_id: int, personal_codes: list[PersonalCode]
    ) -> tuple[Group, set[str]] | None:
        group = self.lock(group_id, exclusive=False)
        if group is None:
            return None
        active = {
            r.personal_code.value
            for r in self._tables.registrations.values()
            if r.is_active and r.group_id == group_id and r.personal_code in personal_codes
        }
        return group, active

    def copy_of(self, origin_id: int) -> Group | None:
        return next((g for g in self._tables.groups.values() if g.rolled_over_from == origin_id), None)

    def providers_with_groups(self, school_year: SchoolYear) -> list[str]:
        return sorted({g.provider_code for g in self._tables.groups.values() if g.school_year == school_year})


class FakePersonRepository(_Repository):
    def get(self, personal_code: PersonalCode) -> PersonRecord | None:
        return self._tables.persons.get(personal_code)

    def save(self, person: PersonRecord, *, checked_at: dt.datetime) -> None:
        self._tables.persons[person.personal_code] = person
        self._tables.persons_checked_at[person.personal_code] = checked_at

    def save_many(self, persons: list[PersonRecord], *, checked_at: dt.datetime) -> None:
        for person in persons:
            self.save(person, checked_at=checked_at)


class FakeRegistrationRepository(_Repository):
    def get(self, registration_id: int) -> Registration | None:
        return self._tables.registrations.get(registration_id)

    def add(self, registration: Registration) -> Registration:
        if registration.personal_code not in self._tables.persons:
            raise LookupError("the person must be saved before their registration")
        # The database's unique index on active (person, group).
        if registration.is_active and self.has_active(registration.personal_code, registration.group_id):
            raise AlreadyRegistered(field="personalCode")
        registration_id = self._uow._next_registration_id()
        stored = self._tables.registrations[registration_id] = replace(registration, id=registration_id)
        return stored

    def add_many(self, registrations: list[Registration]) -> list[Registration]:
        return [self.add(r) for r in registrations]

    def add_with_persons(
        self, registrations: list[tuple[Registration, PersonRecord]], *, checked_at: dt.datetime
    ) -> list[Registration]:
        for _, person in registrations:
            self._tables.persons[person.personal_code] = person
            self._tables.persons_checked_at[person.personal_code] = checked_at
        return self.add_many([registration for registration, _ in registrations])

    def update(self, registration: Registration) -> None:
        assert registration.id in self._tables.registrations, f"no registration {registration.id} to update"
        self._tables.registrations[registration.id] = registration

    def has_active(self, personal_code: PersonalCode, group_id: int) -> bool:
        return any(
            r.personal_code == personal_code and r.group_id == group_id and r.is_active
            for r in self._tables.registrations.values()
        )

    def active_in_group(self, group_id: int) -> list[Registration]:
        found = [r for r in self._tables.registrations.values() if r.group_id == group_id and r.is_active]
        return sorted(found, key=lambda r: r.id or 0)

    def latest_of_person(self, personal_code: PersonalCode) -> Registration | None:
        candidates = [r for r in self._newest_first(personal_code) if r.status is not RegistrationStatus.CANCELLED]
        return candidates[0] if candidates else None

    def of_person_at(self, personal_code: PersonalCode, provider_code: str) -> list[Registration]:
        return [r for r in self._newest_first(personal_code) if r.provider_code == provider_code]

    def of_person(self, personal_code: PersonalCode) -> list[Registration]:
        return self._newest_first(personal_code)

    def _newest_first(self, personal_code: PersonalCode) -> list[Registration]:
        # As storage orders them: by first learning date, then by id, both descending.
        mine = [r for r in self._tables.registrations.values() if r.personal_code == personal_code]
        return sorted(mine, key=lambda r: (r.first_learning_date, r.id or 0), reverse=True)


class FakeUserRepository(_Repository):
    def by_username(self, username: str) -> UserAccount | None:
        return next((u for u in self._tables.users.values() if u.username == username), None)

    def for_login(self, username: str) -> tuple[UserAccount | None, tuple[int, dt.datetime | None] | None]:
        return self.by_username(username), None  # the fakes count no login failures

    def add(
        self,
        user: User,
        password_hash: str,
        digest_secret: str | None,
        request: UserRequest | None = None,
        *,
        at: dt.datetime,
    ) -> User:
        if self.by_username(user.username) is not None:
            raise DuplicateUser("This user name is taken.", field="username")
        stored = replace(user, id=self._uow._next_user_id())
        self._tables.users[stored.id] = UserAccount(stored, password_hash, digest_secret)
        if request is not None:
            self._tables.user_requests[stored.id] = request
        return stored

    def set_password(
        self, user_id: int, password_hash: str, digest_secret: str | None, *, at: dt.datetime | None = None
    ) -> None:
        self._tables.users[user_id] = replace(
            self._tables.users[user_id], password_hash=password_hash, digest_secret=digest_secret
        )

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        self._tables.users[user_id] = replace(self._tables.users[user_id], password_hash=password_hash)

    def set_active(self, username: str, active: bool) -> bool:
        account = self.by_username(username)
        if account is None:
            return False
        self._tables.users[account.id] = replace(account, user=replace(account.user, active=active))
        return True

    def all(self) -> list[User]:
        return sorted((a.user for a in self._tables.users.values()), key=lambda u: u.username)

    def page(
        self, *, municipal_of: str | None, institution_code: str | None, after: str | None, limit: int
    ) -> list[User]:
        def listed(user: User) -> bool:
            code = user.acts_for.code if user.acts_for.kind is ScopeKind.INSTITUTION else None
            if institution_code is not None and code != institution_code:
                return False
            if municipal_of is None:
                return True
            institution = self._tables.institutions.get(code or "")
            return (
                institution is not None
                and institution.ownership_code == MUNICIPAL_OWNERSHIP
                and institution.municipality_code == municipal_of
            )

        return [u for u in self.all() if (after is None or u.username > after) and listed(u)][:limit]

    def set_rights(self, user_id: int, rights: frozenset[Right]) -> None:
        account = self._tables.users[user_id]
        self._tables.users[user_id] = replace(account, user=replace(account.user, rights=frozenset(rights)))

    def record_change(self, user_id: int, change: UserChange) -> None:
        self._tables.user_changes.append((user_id, change))

    def changes_of(self, user_id: int) -> list[UserChange]:
        return [change for changed, change in self._tables.user_changes if changed == user_id]

    def set_validity(self, user_id: int, valid_from: dt.date, valid_until: dt.date) -> None:
        account = self._tables.users[user_id]
        self._tables.users[user_id] = replace(
            account, user=replace(account.user, valid_from=valid_from, valid_until=valid_until)
        )

    def holds_valid_user(self, personal_code: PersonalCode, scope: Scope, on: dt.date) -> bool:
        def valid(user: User) -> bool:
            return user.active and user.acts_for == scope and (user.valid_until is None or user.valid_until >= on)

        return any(
            request.personal_code == personal_code and valid(self._tables.users[user_id].user)
            for user_id, request in self._tables.user_requests.items()
        )


class FakeFundingRepository(_Repository):
    def of_registration(self, registration_id: int) -> list[FundingMark]:
        marks = [m for m in self._tables.funding_marks.values() if m.registration_id == registration_id]
        return sorted(marks, key=lambda m: (m.from_month, m.funding_type, m.id))

    def add(self, mark: FundingMark) -> FundingMark:
        mark_id = self._uow._next_id(self._uow._mark_ids, "funding_marks")
        mark = self._tables.funding_marks[mark_id] = replace(mark, id=mark_id)
        return mark

    def narrow(self, mark: FundingMark) -> None:
        self._tables.funding_marks[present(mark.id, "a stored mark's id")] = mark
        for key, mark_id in list(self._tables.basket_claims.items()):
            if mark_id == mark.id and not mark.from_month <= key[1] <= mark.to_month:
                del self._tables.basket_claims[key]

    def remove(self, mark: FundingMark) -> None:
        del self._tables.funding_marks[present(mark.id, "a stored mark's id")]
        for key, mark_id in list(self._tables.basket_claims.items()):
            if mark_id == mark.id:
                del self._tables.basket_claims[key]

    def move_basket_claims(self, from_mark_id: int, to_mark_id: int, months: list[Month]) -> None:
        # In place, as the real UPDATE: the key (child, month) never leaves the table.
        for key, mark_id in list(self._tables.basket_claims.items()):
            if mark_id == from_mark_id and key[1] in months:
                self._tables.basket_claims[key] = to_mark_id

    def claimed_months(self, personal_code: PersonalCode, months: list[Month]) -> list[Month]:
        return sorted(m for m in months if (personal_code, m) in self._tables.basket_claims)

    def basket_holders(self, personal_code: PersonalCode) -> list[tuple[Month, int]]:
        marks = self._tables.funding_marks
        return sorted(
            (month, marks[mark_id].registration_id)
            for (code, month), mark_id in self._tables.basket_claims.items()
            if code == personal_code and mark_id in marks
        )

    def claim_basket(self, personal_code: PersonalCode, mark: FundingMark) -> None:
        conflict = self.claimed_months(personal_code, mark.months)
        if conflict:
            raise BasketAlreadyClaimed(f"already claimed for {describe_months(conflict)}")
        for month in mark.months:
            self._tables.basket_claims[(personal_code, month)] = present(mark.id, "a stored mark's id")

    def funded_children(self, provider_codes: list[str] | None, months: list[Month]) -> list[FundedChildren]:
        counts: dict[tuple[str, Month, str, bool], int] = {}
        for (_, month), mark_id in self._tables.basket_claims.items():
            if month not in months:
                continue
            mark = self._tables.funding_marks[mark_id]
            registration = self._tables.registrations[mark.registration_id]
            if provider_codes is not None and registration.provider_code not in provider_codes:
                continue
            program = self._tables.groups[registration.group_id].program_code
            key = (registration.provider_code, month, program, mark.special_needs)
            counts[key] = counts.get(key, 0) + 1
        return [FundedChildren(p, m, prog, sn, n) for (p, m, prog, sn), n in counts.items()]


class FakeRateRepository(_Repository):
    def all(self) -> list[BasketRate]:
        return list(self._tables.rates)

    def replace_all(self, rates: list[BasketRate], version: str) -> None:
        self._tables.rates = list(rates)

    def version(self) -> str | None:
        return None


class FakeFeedRepository(_Repository):
    def append(self, event: ChangeEvent) -> None:
        _ = self._tables  # only inside a transaction
        self._uow._pending_events.append(event)

    def publish_pending(self) -> None:
        tables = self._tables
        for event in self._uow._pending_events:
            tables.feed_counter += 1
            tables.change_events.append(replace(event, sequence=tables.feed_counter))
        self._uow._pending_events.clear()

    def last_sequence(self) -> int:
        return self._tables.feed_counter

    def read(self, scope: ReadScope, after: int, limit: int) -> list[ChangeEvent]:
        found = [
            e
            for e in self._tables.change_events
            if present(e.sequence, "a published event's number") > after
            and scope.covers(e.institution_code, e.municipality_code)
        ]
        return found[:limit]


class FakeNoticeRepository(_Repository):
    def add(self, notice: Notice) -> bool:
        notices = self._tables.notices
        if notice.dedup_key is not None and any(
            n.institution_code == notice.institution_code and n.dedup_key == notice.dedup_key for n in notices.values()
        ):
            return False
        notice_id = self._uow._next_id(self._uow._notice_ids, "notices")
        notices[notice_id] = replace(notice, id=notice_id)
        return True

    def get(self, notice_id: int) -> Notice | None:
        return self._tables.notices.get(notice_id)

    def acknowledge(self, notice_id: int, *, at: dt.datetime, by: str) -> Notice:
        notice = self._tables.notices[notice_id]
        if notice.acknowledged_at is None:
            notice = self._tables.notices[notice_id] = replace(notice, acknowledged_at=at, acknowledged_by=by)
        return notice

    def page(
        self,
        institution_code: str,
        state: NoticeState,
        kind: NoticeKind | None,
        after: tuple[bool, int] | None,
        limit: int,
    ) -> list[Notice]:
        found = [
            n
            for n in self._tables.notices.values()
            if n.institution_code == institution_code
            and (state is NoticeState.ALL or n.acknowledged == (state is NoticeState.ACKNOWLEDGED))
            and (kind is None or n.kind is kind)
        ]
        ordered = sorted(found, key=lambda n: (n.acknowledged, -(n.id or 0)))
        if after is not None:
            ordered = [n for n in ordered if (n.acknowledged, -(n.id or 0)) > (after[0], -after[1])]
        return ordered[:limit]

    def count_unacknowledged(self, institution_code: str) -> int:
        return sum(
            1 for n in self._tables.notices.values() if n.institution_code == institution_code and not n.acknowledged
        )


class FakeCheckRepository(_Repository):
    FIXABLE = (PERSONAL_DATA_MISMATCH, RESIDENCE_MISMATCH)

    def running_run(self, kind: CheckKind) -> CheckRun | None:
        running = [r for r in self._tables.check_runs.values() if r.kind is kind and r.status is RunStatus.RUNNING]
        return max(running, key=lambda r: r.id) if running else None

    def start_run(self, kind: CheckKind, *, at: dt.datetime, total: int) -> CheckRun:
        run = CheckRun(self._uow._next_id(self._uow._run_ids, "check_runs"), kind, RunStatus.RUNNING, at, total=total)
        self._tables.check_runs[run.id] = run
        return run

    def set_progress(self, run_id: int, *, done: int, total: int) -> None:
        self._tables.check_runs[run_id] = replace(self._tables.check_runs[run_id], done=done, total=total)

    def finish_run(self, run_id: int, status: RunStatus, *, at: dt.datetime) -> None:
        self._tables.check_runs[run_id] = replace(self._tables.check_runs[run_id], status=status, finished_at=at)

    def complete_run(self, run: CheckRun, *, at: dt.datetime, institution_codes: list[str] | None) -> None:
        tables = self._tables
        self.finish_run(run.id, RunStatus.COMPLETED, at=at)
        for code in institution_codes if institution_codes is not None else list(tables.institutions):
            tables.institution_checks[(code, run.kind)] = (run.id, at)
        tables.data_issues = {
            i: issue
            for i, issue in tables.data_issues.items()
            if issue.check is not run.kind
            or issue.run_id == run.id
            or tables.institution_checks.get((issue.institution_code, issue.check), (None,))[0] == issue.run_id
        }
        tables.person_checks = {
            key: c
            for key, c in tables.person_checks.items()
            if key[0] == run.id or tables.check_runs[key[0]].status is RunStatus.RUNNING
        }

    def count_persons(self) -> int:
        return len(self._tables.persons)

    def count_checked(self, run_id: int) -> int:
        return sum(1 for (r, _) in self._tables.person_checks if r == run_id)

    def unchecked_persons(self, run_id: int, *, after: int, limit: int) -> list[tuple[int, PersonRecord]]:
        found = [
            (position, person)
            for position, person in enumerate(self._tables.persons.values(), 1)
            if position > after and (run_id, position) not in self._tables.person_checks
        ]
        return found[:limit]

    def save_comparison(self, run_id: int, position: int, comparison: PersonComparison) -> bool:
        if (run_id, position) in self._tables.person_checks:
            return False
        self._tables.person_checks[(run_id, position)] = comparison
        return True

    def registrations_of(self, personal_codes: list[PersonalCode]) -> list[Registration]:
        wanted = set(personal_codes)
        return sorted(
            (
                r
                for r in self._tables.registrations.values()
                if r.personal_code in wanted and r.status is not RegistrationStatus.CANCELLED
            ),
            key=lambda r: r.id or 0,
        )

    def count_registrations(self, provider_code: str | None) -> int:
        return len(self.registrations_page(after=0, limit=10**9, provider_code=provider_code))

    def registrations_page(self, *, after: int, limit: int, provider_code: str | None) -> list[Registration]:
        found = sorted(
            (
                r
                for r in self._tables.registrations.values()
                if (r.id or 0) > after
                and r.status is not RegistrationStatus.CANCELLED
                and (provider_code is None or r.provider_code == provider_code)
            ),
            key=lambda r: r.id or 0,
        )
        return found[:limit]

    def add_issue(self, issue: DataIssue) -> None:
        issue_id = self._uow._next_id(self._uow._issue_ids, "data_issues")
        self._tables.data_issues[issue_id] = replace(issue, id=issue_id)

    def _open(self, institution_code: str) -> list[DataIssue]:
        shown = self._tables.institution_checks
        return sorted(
            (
                i
                for i in self._tables.data_issues.values()
                if i.institution_code == institution_code
                and i.resolved_at is None
                and shown.get((institution_code, i.check), (None,))[0] == i.run_id
            ),
            key=lambda i: i.id or 0,
        )

    def status(self, institution_code: str, kind: CheckKind) -> CheckStatus | None:
        shown = self._tables.institution_checks.get((institution_code, kind))
        if shown is None:
            return None
        counts: dict[Category, int] = {}
        for issue in self._open(institution_code):
            if issue.check is kind:
                counts[ISSUE_TYPES[issue.code].category] = counts.get(ISSUE_TYPES[issue.code].category, 0) + 1
        return CheckStatus(kind, shown[1], counts)

    def issues_page(
        self, institution_code: str, *, check: CheckKind | None, code: str | None, after: int, limit: int
    ) -> list[DataIssue]:
        found = [
            i
            for i in self._open(institution_code)
            if (i.id or 0) > after and (check is None or i.check is check) and (code is None or i.code == code)
        ]
        return found[:limit]

    def persons_to_fix(
        self, institution_code: str, personal_code: PersonalCode | None, limit: int
    ) -> list[PersonalCode]:
        codes = {
            i.personal_code
            for i in self._open(institution_code)
            if i.check is CheckKind.POPULATION_REGISTER
            and i.code in self.FIXABLE
            and i.personal_code is not None
            and (personal_code is None or i.personal_code == personal_code)
        }
        return sorted(codes, key=lambda c: c.value)[:limit]

    def resolve_population_register_issues(self, personal_code: PersonalCode, *, at: dt.datetime) -> None:
        for key, issue in list(self._tables.data_issues.items()):
            if (
                issue.personal_code == personal_code
                and issue.check is CheckKind.POPULATION_REGISTER
                and issue.code in self.FIXABLE
                and issue.resolved_at is None
            ):
                self._tables.data_issues[key] = replace(issue, resolved_at=at)


class FakeArchiveRepository:
    """An archive nothing was ever moved to (the archive's own tests run on SQL: tests/storage/test_archive.py)."""

    def school_years(self) -> list[int]:
        return []

    def left_to_move(self, school_year: int) -> dict[str, int]:
        return {"registrations": 0, "groups": 0, "club_marks": 0, "still_active": 0}

    def note_archived(self, school_year: int) -> None:
        raise AssertionError("nothing is archived in memory")

    def archived_through(self) -> int | None:
        return None

    def move_registrations(self, school_year: int, limit: int) -> int:
        return 0

    def move_groups(self, school_year: int, limit: int) -> int:
        return 0

    def move_club_marks(self, school_year: int, limit: int) -> int:
        return 0

    def refresh_statistics(self) -> None:
        pass

    def history_of(self, personal_code: PersonalCode) -> list[tuple[Registration, Group]]:
        return []

    def funded_children(self, provider_codes: list[str] | None, months: Sequence[dt.date]) -> list[FundedChildren]:
        return []


class FakeRetentionRepository:
    """Nothing past retention in memory (retention's own tests run on SQL: tests/storage/test_retention.py)."""

    def count_learners_past_retention(self, through_year: int) -> int:
        return 0

    def erase_learners(
        self, through_year: int, limit: int, today: dt.date, after_person: int = 0
    ) -> list[ErasedLearner]:
        return []

    def erase_group_leaders(self, through_year: int) -> int:
        return 0

    def count_enrolments_past_retention(self, through_year: int) -> int:
        return 0

    def delete_enrolments(self, through_year: int, limit: int) -> int:
        return 0


class FakeUnitOfWork:
    """``UnitOfWork`` in memory; also its own factory (``lambda: uow``)."""

    # Typed as the ports, so the type checker holds each fake to its protocol.
    classifiers: ports.ClassifierRepository
    institutions: ports.InstitutionRepository
    programs: ports.ProgramRepository
    groups: ports.GroupRepository
    persons: ports.PersonRepository
    registrations: ports.RegistrationRepository
    users: ports.UserRepository
    funding: ports.FundingRepository
    rates: ports.RateRepository
    notices: ports.NoticeRepository
    checks: ports.CheckRepository
    feed: ports.FeedRepository
    _feed: FakeFeedRepository
    # Not faked, declared for the protocol's sake: the use cases unit-tested on this fake never
    # reach them (the SQL tests cover them); one that did would fail on the unset attribute.
    nonces: ports.NonceRepository
    login_failures: ports.LoginFailureRepository
    access_log: ports.AccessLogRepository
    clubs: ports.ClubRepository
    enrolments: ports.EnrolmentRepository
    lists: ports.ListRepository
    statistics: ports.StatisticsRepository
    request_outcomes: ports.RequestOutcomeRepository
    archive: ports.ArchiveRepository
    retention: ports.RetentionRepository

    def __init__(self, classifiers: Classifiers = CLASSIFIERS) -> None:
        self._committed = Tables(classifiers=classifiers)
        self._working: Tables | None = None
        # Ids come from sequences that, as in a database, a rollback does not rewind.
        self._group_ids: Iterator[int] = itertools.count(1)
        self._registration_ids: Iterator[int] = itertools.count(1)
        self._user_ids: Iterator[int] = itertools.count(1)
        self._mark_ids: Iterator[int] = itertools.count(1)
        self._notice_ids: Iterator[int] = itertools.count(1)
        self._run_ids: Iterator[int] = itertools.count(1)
        self._issue_ids: Iterator[int] = itertools.count(1)
        self._pending_events: list[ChangeEvent] = []
        self.committed = 0
        self.rolled_back = 0
        self.classifiers = FakeClassifierRepository(self)
        self.institutions = FakeInstitutionRepository(self)
        self.programs = FakeProgramRepository(self)
        self.groups = FakeGroupRepository(self)
        self.persons = FakePersonRepository(self)
        self.registrations = FakeRegistrationRepository(self)
        self.users = FakeUserRepository(self)
        self.funding = FakeFundingRepository(self)
        self.rates = FakeRateRepository(self)
        self.feed = self._feed = FakeFeedRepository(self)
        self.notices = FakeNoticeRepository(self)
        self.checks = FakeCheckRepository(self)
        self.archive = FakeArchiveRepository()
        self.retention = FakeRetentionRepository()

    # --- the UnitOfWork protocol ----------------------------------------------------
    def __enter__(self) -> FakeUnitOfWork:
        assert self._working is None, "FakeUnitOfWork: a transaction is already open (nested `with uow:`)"
        self._working = self._committed.copy()
        self._pending_events.clear()
        return self

    def __exit__(self, *exc: object) -> None:
        self._working = None  # whatever was not committed is gone
        self._pending_events.clear()

    def commit(self) -> None:
        self._feed.publish_pending()
        self._committed = self._in_transaction().copy()
        self.committed += 1

    def rollback(self) -> None:
        self._in_transaction()
        self._working = self._committed.copy()
        self._pending_events.clear()
        self.rolled_back += 1

    @contextmanager
    def savepoint(self) -> Iterator[ports.Savepoint]:
        before, queued = self._in_transaction().copy(), len(self._pending_events)
        handle = ports.Savepoint()
        try:
            yield handle
        except BaseException:
            self._working = before
            del self._pending_events[queued:]
            raise
        if handle.discarded:
            self._working = before
            del self._pending_events[queued:]

    # --- for tests --------------------------------------------------------------------
    @property
    def stored(self) -> Tables:
        """The committed state: what a later transaction (or another request) would see."""
        return self._committed

    @property
    def in_transaction(self) -> bool:
        return self._working is not None

    def seed(self, *objects: Any) -> list[Any]:
        """Store objects as already committed data; returns them as stored (groups and
        registrations without an id get one). Not counted in ``committed``."""
        stored: list[Any] = []
        tables = self._committed
        for obj in objects:
            if isinstance(obj, Institution):
                tables.institutions[obj.code] = obj
            elif isinstance(obj, Program):
                tables.programs[obj.code] = obj
            elif isinstance(obj, PersonRecord):
                tables.persons[obj.personal_code] = obj
            elif isinstance(obj, Group):
                group_id = obj.id if obj.id is not None else self._next_group_id()
                obj = tables.groups[group_id] = replace(obj, id=group_id)
            elif isinstance(obj, Registration):
                registration_id = obj.id if obj.id is not None else self._next_registration_id()
                obj = tables.registrations[registration_id] = replace(obj, id=registration_id)
            elif isinstance(obj, UserAccount):
                tables.users[obj.id] = obj
            else:
                raise TypeError(f"cannot seed a {type(obj).__name__}")
            stored.append(obj)
        return stored

    # --- internals --------------------------------------------------------------------
    def _in_transaction(self) -> Tables:
        if self._working is None:
            raise AssertionError("FakeUnitOfWork: repositories are only usable inside `with uow:`")
        return self._working

    def _next_group_id(self) -> int:
        return self._next_id(self._group_ids, "groups")

    def _next_registration_id(self) -> int:
        return self._next_id(self._registration_ids, "registrations")

    def _next_user_id(self) -> int:
        return self._next_id(self._user_ids, "users")

    def _next_id(self, ids: Iterator[int], table: str) -> int:
        """The sequence's next id that no seeded object took explicitly."""
        states = [self._committed] + ([self._working] if self._working is not None else [])
        while True:
            candidate = next(ids)
            if all(candidate not in getattr(state, table) for state in states):
                return candidate
