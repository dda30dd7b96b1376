"""Repositories speak domain objects; rows stay inside this module."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import cache
from typing import Any, TypeVar, overload

from sqlalchemy import (
    CursorResult,
    Result,
    Row,
    Select,
    String,
    any_,
    bindparam,
    case,
    delete,
    event,
    func,
    insert,
    select,
    text,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, SessionTransaction

from gateway.domain.access import MUNICIPAL_OWNERSHIP, Area, Level, Right, Scope, ScopeKind
from gateway.domain.calendar import Month, SchoolYear, describe_months
from gateway.domain.classifiers import ClassifierEntry, Classifiers
from gateway.domain.errors import AlreadyRegistered, BasketAlreadyClaimed, DuplicateGroupName, DuplicateUser
from gateway.domain.funding import BasketRate, FundedChildren, FundingMark
from gateway.domain.model import (
    Contract,
    DeclaredResidence,
    Departure,
    Group,
    Institution,
    Leader,
    PersonRecord,
    Program,
    ProgramPurpose,
    Registration,
    RegistrationStatus,
)
from gateway.domain.personal_code import PersonalCode
from gateway.domain.text import comparison_key
from gateway.domain.users import User, UserRequest
from gateway.ports import AccessRecord, StoredOutcome, UserAccount, UserChange
from storage.bulk import insert_from_arrays
from storage.models import (
    AccessLogPersonRow,
    AccessLogRow,
    Base,
    BasketClaimRow,
    BasketRateRow,
    ClassifierEntryRow,
    ClubAttendanceRow,
    FundingMarkRow,
    GroupRow,
    InstitutionRow,
    LoginFailureRow,
    NoticeRow,
    PersonRow,
    ProgramRow,
    ReferenceDataVersionRow,
    RegistrationRow,
    RequestOutcomeRow,
    UsedNonceRow,
    UserChangeRow,
    UserRegistrationRequestRow,
    UserRow,
    table_of,
)

# Keys are 32-bit integers; the contract's Identifier is an xs:long. A larger id names nothing stored.
LARGEST_ID = 2**31 - 1
CLASSIFIER_SET = "classifiers"
RATE_SET = "basket-rates"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


T = TypeVar("T")
INSTITUTION_SET = "institutions"
PROGRAM_SET = "programs"


def _reference_versions(session: Session) -> dict[str, str]:
    """The version of every reference data set, read once per unit of work (one statement, a handful of rows;
    none inside a call, whose authentication brings them: ``SqlUserRepository.for_login``)."""
    versions = session.info.get("reference_versions")
    if versions is None:
        rows = session.execute(select(ReferenceDataVersionRow.name, ReferenceDataVersionRow.version))
        versions = session.info["reference_versions"] = {name: version for name, version in rows}
    return versions


# The version of each reference data set as a column of a statement that reads something else (one
# primary-key lookup each); the sets are the ones _set_reference_version is given.
_REFERENCE_SETS = (CLASSIFIER_SET, RATE_SET, INSTITUTION_SET, PROGRAM_SET)
_VERSION_COLUMNS = tuple(
    select(ReferenceDataVersionRow.version)
    .where(ReferenceDataVersionRow.name == name)
    .scalar_subquery()
    .label(f"reference_version_{position}")
    for position, name in enumerate(_REFERENCE_SETS)
)


def _learn_reference_versions(session: Session, row: Row[Any]) -> None:
    if "reference_versions" not in session.info:
        versions = zip(_REFERENCE_SETS, row[-len(_REFERENCE_SETS) :], strict=True)
        session.info["reference_versions"] = {name: version for name, version in versions if version is not None}


# What a transaction learnt of its rows, trusted until it ends (a rollback, of a savepoint too, may undo an insert):
_PERSON_IDS = "transaction_person_ids"  # personal code -> person id, as saved or read
_REGISTRATION_PERSONS = "transaction_registration_persons"  # registration id -> its person's code, as read


@event.listens_for(Session, "after_transaction_end")
def _forget_what_the_transaction_knew(session: Session, transaction: SessionTransaction) -> None:
    # The next transaction reads the reference versions afresh (an import may have committed meanwhile),
    # and no longer trusts the ids of persons saved in this one (a rollback, of a savepoint too, may have
    # undone them). A flush's subtransaction (neither the transaction nor a savepoint) ends nothing.
    if transaction.parent is not None and not transaction.nested:
        return
    prefixes = ("reference_", "transaction_") if transaction.parent is None else ("transaction_",)
    for key in [key for key in session.info if key.startswith(prefixes)]:
        del session.info[key]


def _set_reference_version(session: Session, name: str, version: str) -> None:
    assert name in _REFERENCE_SETS, f"{name}: a reference data set the login read does not bring"
    row = session.get(ReferenceDataVersionRow, name)
    if row is None:
        session.add(ReferenceDataVersionRow(name=name, version=version, loaded_at=_now()))
    else:
        row.version, row.loaded_at = version, _now()
    _reference_versions(session)[name] = version


class _ReferenceCache:
    """Institutions (ŠMIR) and programs (NŠPR/KTPRR) as this process last read them from one database.

    They change only by import, which stamps its set with a new random version in the same transaction
    (``_set_reference_version``); a unit of work that sees another stamp than the cached one starts the
    cache afresh. So every gateway process follows an import at its next call, without a second statement.
    A migration that changes these rows must stamp its set too. Until a set has been stamped once
    (a database older than the stamps), its rows are read every time.
    """

    _by_engine: weakref.WeakKeyDictionary[Engine, _ReferenceCache] = weakref.WeakKeyDictionary()

    def __init__(self) -> None:
        self.stamps: dict[str, str] = {}
        self.entries: dict[str, dict[str, Any]] = {INSTITUTION_SET: {}, PROGRAM_SET: {}}

    @classmethod
    def entries_for(cls, session: Session, name: str) -> dict[str, Any] | None:
        """The cached entries of the set (code -> domain object or None), or None where it may not be cached."""
        stamp = _reference_versions(session).get(name)
        if stamp is None or session.info.get(f"reference_changed:{name}"):
            return None  # never stamped, or changed in this very (uncommitted) transaction
        engine = session.get_bind().engine  # an Engine's is itself, a Connection's the one it came from
        cache = cls._by_engine.get(engine)
        if cache is None:
            cache = cls._by_engine[engine] = cls()
        if cache.stamps.get(name) != stamp:
            cache.stamps[name] = stamp
            cache.entries[name] = {}
        return cache.entries[name]


def _cached_entry(session: Session, name: str, code: str, read: Callable[[], T | None]) -> T | None:
    """One entry of a reference set: from this process's cache where it may be used, else read (and kept)."""
    cached = _ReferenceCache.entries_for(session, name)
    if cached is not None and code in cached:
        return cached[code]
    value = read()
    if cached is not None:
        cached[code] = value
    return value


def _stamp_changed(session: Session, name: str) -> None:
    """An import changed the set: a new stamp, which every process's next unit of work will see."""
    _set_reference_version(session, name, uuid.uuid4().hex)
    session.info[f"reference_changed:{name}"] = True


class SqlClassifierRepository:
    # Classifiers change only with a data release; one cached copy per version per process.
    _cache: dict[str, Classifiers] = {}

    def __init__(self, session: Session) -> None:
        self.session = session

    def version(self) -> str | None:
        return _reference_versions(self.session).get(CLASSIFIER_SET)

    def load(self) -> Classifiers:
        version = self.version() or "none"
        cached = self._cache.get(version)
        if cached is not None:
            return cached
        rows = self.session.scalars(select(ClassifierEntryRow)).all()
        entries = [
            ClassifierEntry(
                kind=r.kind,
                code=r.code,
                name=r.name,
                name_en=r.name_en or "",
                parent=r.parent,
                flags=frozenset(r.flags or []),
            )
            for r in rows
        ]
        classifiers = Classifiers(entries, version)
        if version != "none":
            self._cache[version] = classifiers
        return classifiers

    def replace_all(self, entries: Iterable[ClassifierEntry], version: str) -> int:
        self.session.execute(delete(ClassifierEntryRow))
        count = 0
        for e in entries:
            self.session.add(
                ClassifierEntryRow(
                    kind=e.kind, code=e.code, name=e.name, name_en=e.name_en, parent=e.parent, flags=sorted(e.flags)
                )
            )
            count += 1
        _set_reference_version(self.session, CLASSIFIER_SET, version)
        self._cache.pop(version, None)
        return count


class SqlInstitutionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, code: str) -> Institution | None:
        def read() -> Institution | None:
            row = self.session.get(InstitutionRow, code)
            return _institution(row) if row else None

        return _cached_entry(self.session, INSTITUTION_SET, code, read)

    def get_many(self, codes: Iterable[str]) -> dict[str, Institution]:
        wanted = set(codes)
        cached = _ReferenceCache.entries_for(self.session, INSTITUTION_SET)
        found = {code: cached[code] for code in wanted if code in cached} if cached is not None else {}
        missing = wanted - found.keys()
        if missing:
            rows = self.session.scalars(select(InstitutionRow).where(InstitutionRow.code.in_(missing)))
            read = {row.code: _institution(row) for row in rows}
            if cached is not None:
                cached.update((code, read.get(code)) for code in missing)
            found.update(read)
        return {code: institution for code, institution in found.items() if institution is not None}

    def codes_in_municipality(self, municipality_code: str) -> list[str]:
        return list(
            self.session.scalars(
                select(InstitutionRow.code).where(InstitutionRow.municipality_code == municipality_code)
            )
        )

    def names(self, codes: Iterable[str]) -> dict[str, str]:
        return {code: institution.name for code, institution in self.get_many(codes).items()}

    def upsert(self, institution: Institution) -> str:
        row = self.session.get(InstitutionRow, institution.code)
        values = dict(
            name=institution.name,
            municipality_code=institution.municipality_code,
            ownership_code=institution.ownership_code,
            group_code=institution.group_code,
            purpose_codes=list(institution.purpose_codes),
            deregistered_on=institution.deregistered_on,
        )
        return _upsert_reference(
            self.session,
            InstitutionRow,
            row,
            institution.code,
            values,
            unchanged=row is not None and _institution(row) == institution,
            stamp=INSTITUTION_SET,
        )


def _upsert_reference(session: Session, row_class, row, code: str, values: dict, *, unchanged: bool, stamp: str) -> str:
    """Store an imported ŠMIR/NŠPR record: 'created', 'updated' or 'unchanged' (for the import's summary)."""
    if unchanged:
        return "unchanged"
    if not session.info.get(f"reference_changed:{stamp}"):
        _stamp_changed(session, stamp)
    if row is None:
        session.add(row_class(code=code, updated_at=_now(), **values))
        return "created"
    for key, value in values.items():
        setattr(row, key, value)
    row.updated_at = _now()
    return "updated"


def _institution(row: InstitutionRow) -> Institution:
    return Institution(
        code=row.code,
        name=row.name,
        municipality_code=row.municipality_code,
        ownership_code=row.ownership_code,
        group_code=row.group_code,
        purpose_codes=tuple(row.purpose_codes or ()),
        deregistered_on=row.deregistered_on,
    )


class SqlProgramRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, code: str) -> Program | None:
        def read() -> Program | None:
            row = self.session.get(ProgramRow, code)
            return _program(row) if row else None

        return _cached_entry(self.session, PROGRAM_SET, code, read)

    def existing_providers(self, codes: Iterable[str]) -> set[str]:
        return set(self.session.scalars(select(InstitutionRow.code).where(InstitutionRow.code.in_(set(codes)))))

    def upsert(self, program: Program) -> str:
        row = self.session.get(ProgramRow, program.code)
        values = dict(
            name=program.name,
            provider_code=program.provider_code,
            purpose=program.purpose.value,
            direction_codes=list(program.direction_codes),
            registered_on=program.registered_on,
            accredited_on=program.accredited_on,
            deregistered_on=program.deregistered_on,
        )
        return _upsert_reference(
            self.session,
            ProgramRow,
            row,
            program.code,
            values,
            unchanged=row is not None and _program(row) == program,
            stamp=PROGRAM_SET,
        )


def _program(row: ProgramRow) -> Program:
    return Program(
        code=row.code,
        name=row.name,
        provider_code=row.provider_code,
        purpose=ProgramPurpose(row.purpose),
        direction_codes=tuple(row.direction_codes or ()),
        registered_on=row.registered_on,
        accredited_on=row.accredited_on,
        deregistered_on=row.deregistered_on,
    )


class SqlGroupRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, group_id: int) -> Group | None:
        if not 0 < group_id <= LARGEST_ID:
            return None
        row = self.session.get(GroupRow, group_id)
        return _group(row) if row else None

    def add(self, group: Group) -> Group:
        row = GroupRow(created_at=_now(), updated_at=_now())
        _fill_group(row, group)
        self.session.add(row)
        try:
            self.session.flush()
        except IntegrityError as exc:  # a concurrent request took the name first
            raise DuplicateGroupName(field="name") from exc
        return _group(row)

    def update(self, group: Group) -> None:
        row = self.session.get(GroupRow, group.id)
        assert row is not None
        _fill_group(row, group)
        row.updated_at = _now()
        try:
            self.session.flush()
        except IntegrityError as exc:  # a concurrent request renamed another group to this name first
            raise DuplicateGroupName(field="name") from exc

    def name_taken(
        self, provider_code: str, school_year: SchoolYear, name: str, *, except_id: int | None = None
    ) -> bool:
        """Whether another group of the provider and year has this name, as people read names (``name_key``)."""
        query = select(GroupRow.id).where(
            GroupRow.provider_code == provider_code,
            GroupRow.school_year == school_year.first_year,
            GroupRow.name_key == group_name_key(name),
        )
        if except_id is not None:
            query = query.where(GroupRow.id != except_id)
        return self.session.scalar(query.limit(1)) is not None

    def of_provider(self, provider_code: str, school_year: SchoolYear) -> list[Group]:
        rows = self.session.scalars(
            select(GroupRow)
            .where(GroupRow.provider_code == provider_code, GroupRow.school_year == school_year.first_year)
            .order_by(GroupRow.name, GroupRow.id)
        )
        return [_group(r) for r in rows]

    def active_learner_counts(self, group_ids: list[int]) -> dict[int, int]:
        if not group_ids:
            return {}
        rows = self.session.execute(
            select(RegistrationRow.group_id, func.count())
            .where(RegistrationRow.group_id.in_(group_ids), RegistrationRow.status == RegistrationStatus.ACTIVE.value)
            .group_by(RegistrationRow.group_id)
        )
        counts = {group_id: 0 for group_id in group_ids}
        counts.update({group_id: count for group_id, count in rows})
        return counts

    def registration_count(self, group_id: int) -> int:
        return (
            self.session.scalar(
                select(func.count()).select_from(RegistrationRow).where(RegistrationRow.group_id == group_id)
            )
            or 0
        )

    def last_departure(self, group_id: int) -> dt.date | None:
        return self.session.scalar(
            select(func.max(RegistrationRow.departure_date)).where(
                RegistrationRow.group_id == group_id, RegistrationRow.status != RegistrationStatus.CANCELLED.value
            )
        )

    def delete(self, group_id: int) -> None:
        self.session.execute(delete(GroupRow).where(GroupRow.id == group_id))
        self.session.flush()

    def lock(self, group_id: int, *, exclusive: bool) -> Group | None:
        """FOR UPDATE / FOR SHARE on PostgreSQL; on SQLite (BEGIN IMMEDIATE: one writer) a plain read.
        One statement: the locking read is the read, a Core statement built once (never an unlocked copy
        from the identity map; and the ORM's loading of the row cost more than the statement)."""
        if not 0 < group_id <= LARGEST_ID:
            return None
        if self.session.get_bind().dialect.name != "postgresql":
            return self.get(group_id)
        row = self.session.execute(_GROUP_FOR_UPDATE if exclusive else _GROUP_FOR_SHARE, {"id": group_id}).first()
        return _group(row) if row else None

    def lock_for_registrations(
        self, group_id: int, personal_codes: list[PersonalCode]
    ) -> tuple[Group, set[str]] | None:
        """PostgreSQL: one FOR SHARE read of the group with its active learners among these children (a
        subquery); SQLite: the group, then the children (one writer: nothing to lock)."""
        if not 0 < group_id <= LARGEST_ID:
            return None
        codes = sorted({c.value for c in personal_codes})
        if not _on_postgresql(self.session):
            group = self.get(group_id)
            if group is None:
                return None
            active = SqlRegistrationRepository(self.session).active_in_groups(personal_codes, [group_id])
            return group, {code for code, _ in active}
        row = self.session.execute(_GROUP_FOR_REGISTRATIONS, {"id": group_id, "codes": codes}).first()
        return (_group(row), set(row.active_learners or ())) if row else None

    def copy_of(self, origin_id: int) -> Group | None:
        row = self.session.scalar(select(GroupRow).where(GroupRow.rolled_over_from == origin_id))
        return _group(row) if row else None

    def providers_with_groups(self, school_year: SchoolYear) -> list[str]:
        return list(
            self.session.scalars(
                select(GroupRow.provider_code)
                .where(GroupRow.school_year == school_year.first_year)
                .distinct()
                .order_by(GroupRow.provider_code)
            )
        )


def group_name_key(name: str) -> str:
    """The indexed form of a group name: the SHA-256 of its comparison key (gateway.domain.text).

    A digest, not the key itself: NFKC may make a 200-character name many times longer,
    beyond what a PostgreSQL index entry holds (about 2,700 bytes)."""
    return hashlib.sha256(comparison_key(name).encode("utf-8")).hexdigest()


def _fill_group(row: GroupRow, group: Group) -> None:
    row.provider_code = group.provider_code
    row.school_year = group.school_year.first_year
    row.program_code = group.program_code
    row.purpose = group.purpose.value
    row.name = group.name
    row.name_key = group_name_key(group.name)
    row.sub_direction_codes = list(group.sub_direction_codes)
    row.leaders = [
        {
            "first_name": leader.first_name,
            "last_name": leader.last_name,
            "personal_code": leader.personal_code.value if leader.personal_code else None,
        }
        for leader in group.leaders
    ]
    row.closed_on = group.closed_on
    row.rolled_over_from = group.rolled_over_from


def _locking_group_read(*, exclusive: bool) -> Select[Any]:
    groups = table_of(GroupRow)
    return select(*groups.c).where(groups.c.id == bindparam("id")).with_for_update(read=not exclusive)


_GROUP_FOR_SHARE, _GROUP_FOR_UPDATE = _locking_group_read(exclusive=False), _locking_group_read(exclusive=True)


def _group_for_registrations() -> Select[Any]:
    """The group FOR SHARE, and ``active_learners``: which of the ``codes`` are active in it (an array)."""
    groups, registrations, persons = table_of(GroupRow), table_of(RegistrationRow), table_of(PersonRow)
    active = (
        select(func.array_agg(persons.c.personal_code))
        .select_from(registrations.join(persons, persons.c.id == registrations.c.person_id))
        .where(
            registrations.c.group_id == groups.c.id,
            registrations.c.status == RegistrationStatus.ACTIVE.value,
            persons.c.personal_code == any_(bindparam("codes", type_=postgresql.ARRAY(String))),
        )
        .scalar_subquery()
        .label("active_learners")
    )
    return select(*groups.c, active).where(groups.c.id == bindparam("id")).with_for_update(read=True, of=groups)


_GROUP_FOR_REGISTRATIONS = _group_for_registrations()


def _group(row: GroupRow | Row[Any]) -> Group:
    # A Row: a Core read of the table, or of the archive's copy (the same columns)
    return Group(
        id=row.id,
        provider_code=row.provider_code,
        school_year=SchoolYear(row.school_year),
        program_code=row.program_code,
        purpose=ProgramPurpose(row.purpose),
        name=row.name,
        sub_direction_codes=tuple(row.sub_direction_codes or ()),
        leaders=tuple(
            Leader(
                first_name=str(leader["first_name"]),
                last_name=str(leader["last_name"]),
                personal_code=PersonalCode(str(leader["personal_code"])) if leader.get("personal_code") else None,
            )
            for leader in row.leaders or ()
        ),
        closed_on=row.closed_on,
        rolled_over_from=row.rolled_over_from,
    )


class SqlPersonRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _row(self, personal_code: PersonalCode) -> PersonRow | None:
        return self.session.scalar(select(PersonRow).where(PersonRow.personal_code == personal_code.value))

    def get(self, personal_code: PersonalCode) -> PersonRecord | None:
        row = self._row(personal_code)
        if row is None:
            return None
        self.session.info.setdefault(_PERSON_IDS, {})[row.personal_code] = row.id  # a basket claim needs it
        return _person(row)

    def id_of(self, personal_code: PersonalCode) -> int | None:
        saved = self.session.info.get(_PERSON_IDS, {}).get(personal_code.value)
        if saved is not None:
            return saved
        return self.session.scalar(select(PersonRow.id).where(PersonRow.personal_code == personal_code.value))

    def save(self, person: PersonRecord, *, checked_at: dt.datetime) -> None:
        """Insert or update in one statement: two providers registering the same new child at
        the same moment must both store GR's data, not fail on the unique personal code."""
        values = _person_values(person, checked_at)
        statement = _insert(self.session, PersonRow).values(personal_code=person.personal_code.value, **values)
        person_id = self.session.scalar(
            statement.on_conflict_do_update(index_elements=[PersonRow.personal_code], set_=values).returning(
                PersonRow.id
            )
        )
        # The registration that follows needs the id: kept for this transaction (a rollback may undo the insert).
        self.session.info.setdefault(_PERSON_IDS, {})[person.personal_code.value] = person_id
        self.session.expire_all()  # rows loaded before see the new values

    def save_many(self, persons: list[PersonRecord], *, checked_at: dt.datetime) -> None:
        """``save`` for many, in one statement (a batch's)."""
        if not persons:
            return
        unique = list({p.personal_code.value: p for p in persons}.values())
        values = [{"personal_code": p.personal_code.value, **_person_values(p, checked_at)} for p in unique]
        if _as_arrays(self.session, values):
            statement, parameters = _person_upsert(insert_from_arrays(table_of(PersonRow), values)), None
        else:
            # Executemany of the one-row statement (SQLAlchemy's "insertmanyvalues" batches it into a few
            # round trips), built once per dialect: for one person, building it cost more than sending it.
            statement, parameters = _person_upsert_of(self.session.get_bind().dialect.name), values
        saved = self.session.connection().execute(statement, parameters)
        self.session.info.setdefault(_PERSON_IDS, {}).update({code: person_id for code, person_id in saved})
        self.session.expire_all()


def _person_upsert(statement: postgresql.Insert | sqlite.Insert) -> Any:
    """An INSERT of persons that updates those already stored (by personal code), returning their ids."""
    table = table_of(PersonRow)
    updated = {
        c.name: statement.excluded[c.name] for c in table.c if c.name not in ("id", "personal_code", "erased_on")
    }
    return statement.on_conflict_do_update(index_elements=[table.c.personal_code], set_=updated).returning(
        table.c.personal_code, table.c.id
    )


@cache
def _claim_months_of(dialect: str) -> Any:
    """Basket claims, skipping (child, month) already claimed, returning the months taken."""
    table = table_of(BasketClaimRow)
    statement = postgresql_insert(table) if dialect == "postgresql" else sqlite_insert(table)
    return statement.on_conflict_do_nothing(index_elements=[table.c.person_id, table.c.month]).returning(table.c.month)


@cache
def _person_upsert_of(dialect: str) -> Any:
    table = table_of(PersonRow)
    return _person_upsert(postgresql_insert(table) if dialect == "postgresql" else sqlite_insert(table))


def _registration_with_person() -> Any:
    """PostgreSQL: the person's upsert (as _person_upsert) as a CTE, and the registration inserted with the
    id it returns: one round trip. Parameters: the person's columns by name, the registration's prefixed
    ``registration_``; each typed (psycopg's dialect writes the type beside it: a parameter in a select
    list has no column to take it from)."""
    persons, registrations = table_of(PersonRow), table_of(RegistrationRow)
    person_columns = [c for c in persons.c if c.name not in ("id", "erased_on")]
    upsert = postgresql_insert(persons).values({c.name: bindparam(c.name, type_=c.type) for c in person_columns})
    saved = _person_upsert(upsert).cte("saved")
    columns = [c for c in registrations.c if c.name not in ("id", "person_id")]
    chosen = select(saved.c.id, *[bindparam(f"registration_{c.name}", type_=c.type) for c in columns]).select_from(
        saved
    )
    return (
        insert(registrations)
        .from_select(["person_id", *(c.name for c in columns)], chosen)
        .returning(registrations.c.id, registrations.c.person_id)
    )


_REGISTRATION_WITH_PERSON = _registration_with_person()


def _person_values(person: PersonRecord, checked_at: dt.datetime) -> dict[str, object]:
    residence = person.residence or DeclaredResidence(None, None, None)
    return dict(
        first_name=person.first_name,
        last_name=person.last_name,
        sex=person.sex,
        birth_date=person.birth_date,
        deceased_on=person.deceased_on,
        residence_municipality_code=residence.municipality_code,
        residence_municipality_name=residence.municipality_name,
        residence_address=residence.address,
        departed_abroad_on=person.departed_abroad_on,
        checked_in_population_register_at=checked_at,
    )


def _person(row: PersonRow) -> PersonRecord:
    residence = None
    if row.residence_municipality_code or row.residence_address:
        residence = DeclaredResidence(
            row.residence_municipality_code, row.residence_municipality_name, row.residence_address
        )
    return PersonRecord(
        personal_code=PersonalCode.stored(row.personal_code),
        first_name=row.first_name,
        last_name=row.last_name,
        sex=row.sex,
        birth_date=row.birth_date,
        deceased_on=row.deceased_on,
        residence=residence,
        departed_abroad_on=row.departed_abroad_on,
    )


class SqlRegistrationRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _select(self):
        return select(RegistrationRow, PersonRow.personal_code).join(
            PersonRow, PersonRow.id == RegistrationRow.person_id
        )

    def get(self, registration_id: int) -> Registration | None:
        if not 0 < registration_id <= LARGEST_ID:
            return None
        found = self.session.execute(self._select().where(RegistrationRow.id == registration_id)).first()
        if found is None:
            return None
        row, personal_code = found
        # The call's access-log record names this child (persons_concerned), a basket claim needs the id.
        self.session.info.setdefault(_PERSON_IDS, {})[personal_code] = row.person_id
        self.session.info.setdefault(_REGISTRATION_PERSONS, {})[row.id] = personal_code
        return _registration(row, personal_code)

    def add(self, registration: Registration) -> Registration:
        person_id = SqlPersonRepository(self.session).id_of(registration.personal_code)
        if person_id is None:
            raise LookupError("the person must be saved before their registration")
        row = RegistrationRow(person_id=person_id, created_at=_now(), updated_at=_now())
        _fill_registration(row, registration)
        self.session.add(row)
        try:
            self.session.flush()
        except IntegrityError as exc:  # a concurrent request registered the same child first
            raise AlreadyRegistered(field="personalCode") from exc
        return _registration(row, registration.personal_code.value)

    def add_many(self, registrations: list[Registration]) -> list[Registration]:
        """``add`` for many, in one statement (a batch's): their ids, in order. Raises AlreadyRegistered,
        naming none, when a concurrent request registered one of the children first."""
        if not registrations:
            return []
        persons = SqlPersonRepository(self.session)
        now = _now()
        rows = []
        for registration in registrations:
            person_id = persons.id_of(registration.personal_code)
            if person_id is None:
                raise LookupError("the person must be saved before their registration")
            rows.append(
                {"person_id": person_id, "created_at": now, "updated_at": now} | _registration_values(registration)
            )
        table = table_of(RegistrationRow)
        try:
            if _as_arrays(self.session, rows):  # a child is in a group once
                returned = self.session.execute(
                    insert_from_arrays(table, rows).returning(table.c.person_id, table.c.group_id, table.c.id)
                )
                id_of = {(person_id, group_id): i for person_id, group_id, i in returned}
                if len(id_of) != len(rows):  # the rules let a child into a group once a batch
                    raise AssertionError("a batch's registrations must each be a child in a group of its own")
                ids = [id_of[(row["person_id"], row["group_id"])] for row in rows]
            else:
                statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
                ids = list(self.session.execute(statement, rows).scalars().all())
        except IntegrityError as exc:
            raise AlreadyRegistered(field="personalCode") from exc
        return [replace(r, id=i) for r, i in zip(registrations, ids, strict=True)]

    def add_with_persons(
        self, registrations: list[tuple[Registration, PersonRecord]], *, checked_at: dt.datetime
    ) -> list[Registration]:
        """Each child's person saved (``SqlPersonRepository.save_many``), then the registrations added
        (``add_many``); one registration on PostgreSQL in one statement, the person's upsert a CTE of it."""
        if len(registrations) != 1 or not _on_postgresql(self.session):
            SqlPersonRepository(self.session).save_many([person for _, person in registrations], checked_at=checked_at)
            return self.add_many([registration for registration, _ in registrations])
        [(registration, person)] = registrations
        now = _now()
        values = {"personal_code": person.personal_code.value, **_person_values(person, checked_at)}
        row = {"created_at": now, "updated_at": now} | _registration_values(registration)
        values |= {f"registration_{name}": value for name, value in row.items()}
        try:
            registration_id, person_id = self.session.execute(_REGISTRATION_WITH_PERSON, values).one()
        except IntegrityError as exc:
            raise AlreadyRegistered(field="personalCode") from exc
        self.session.info.setdefault(_PERSON_IDS, {})[person.personal_code.value] = person_id
        self.session.expire_all()  # as save_many: a person loaded before is not the one now stored
        return [replace(registration, id=registration_id)]

    def active_in_groups(self, personal_codes: list[PersonalCode], group_ids: list[int]) -> set[tuple[str, int]]:
        """Which of these children have an active registration in which of these groups: (code, group id)."""
        if not personal_codes or not group_ids:
            return set()
        query = (
            select(PersonRow.personal_code, RegistrationRow.group_id)
            .join(PersonRow, PersonRow.id == RegistrationRow.person_id)
            .where(
                PersonRow.personal_code.in_(sorted({c.value for c in personal_codes})),
                RegistrationRow.group_id.in_(sorted(set(group_ids))),
                RegistrationRow.status == RegistrationStatus.ACTIVE.value,
            )
        )
        return {(code, group_id) for code, group_id in self.session.execute(query)}

    def update(self, registration: Registration) -> None:
        row = self.session.get(RegistrationRow, registration.id)
        assert row is not None
        _fill_registration(row, registration)
        row.updated_at = _now()
        self.session.flush()

    def has_active(self, personal_code: PersonalCode, group_id: int) -> bool:
        query = (
            select(RegistrationRow.id)
            .join(PersonRow, PersonRow.id == RegistrationRow.person_id)
            .where(
                PersonRow.personal_code == personal_code.value,
                RegistrationRow.group_id == group_id,
                RegistrationRow.status == RegistrationStatus.ACTIVE.value,
            )
        )
        return self.session.scalar(query.limit(1)) is not None

    def active_in_group(self, group_id: int) -> list[Registration]:
        rows = self.session.execute(
            self._select()
            .where(RegistrationRow.group_id == group_id, RegistrationRow.status == RegistrationStatus.ACTIVE.value)
            .order_by(RegistrationRow.id)
        )
        return [_registration(row, code) for row, code in rows]

    def latest_of_person(self, personal_code: PersonalCode) -> Registration | None:
        found = self.session.execute(
            self._select()
            .where(
                PersonRow.personal_code == personal_code.value,
                RegistrationRow.status != RegistrationStatus.CANCELLED.value,
            )
            .order_by(RegistrationRow.first_learning_date.desc(), RegistrationRow.id.desc())
            .limit(1)
        ).first()
        return _registration(*found) if found else None

    def of_person_at(self, personal_code: PersonalCode, provider_code: str) -> list[Registration]:
        rows = self.session.execute(
            self._select()
            .where(PersonRow.personal_code == personal_code.value, RegistrationRow.provider_code == provider_code)
            .order_by(RegistrationRow.first_learning_date.desc(), RegistrationRow.id.desc())
        )
        return [_registration(row, code) for row, code in rows]

    def of_person(self, personal_code: PersonalCode) -> list[Registration]:
        rows = self.session.execute(
            self._select()
            .where(PersonRow.personal_code == personal_code.value)
            .order_by(RegistrationRow.first_learning_date.desc(), RegistrationRow.id.desc())
        )
        return [_registration(row, code) for row, code in rows]


def _fill_registration(row: RegistrationRow, registration: Registration) -> None:
    for name, value in _registration_values(registration).items():
        setattr(row, name, value)


def _registration_values(registration: Registration) -> dict[str, object]:
    contract, departure = registration.contract, registration.departure
    return dict(
        group_id=registration.group_id,
        provider_code=registration.provider_code,
        first_learning_date=registration.first_learning_date,
        contract_type_code=contract.type_code if contract else None,
        contract_date=contract.signed_on if contract else None,
        contract_number=contract.number if contract else None,
        registered_on=registration.registered_on,
        status=registration.status.value,
        departure_date=departure.date if departure else None,
        departure_reason_code=departure.reason_code if departure else None,
        departure_order_number=departure.order_number if departure else None,
        cancelled_on=registration.cancelled_on,
        cancellation_reason=registration.cancellation_reason,
        deregistered_on=registration.deregistered_on,
        transferred_from_id=registration.transferred_from,
    )


def _registration(row: RegistrationRow | Row[Any], personal_code: str) -> Registration:
    contract = None
    if row.contract_type_code and row.contract_date and row.contract_number:
        contract = Contract(row.contract_type_code, row.contract_date, row.contract_number)
    departure = None
    if row.departure_date and row.departure_reason_code:
        departure = Departure(row.departure_date, row.departure_reason_code, row.departure_order_number)
    return Registration(
        id=row.id,
        personal_code=PersonalCode.stored(personal_code),
        group_id=row.group_id,
        provider_code=row.provider_code,
        first_learning_date=row.first_learning_date,
        contract=contract,
        registered_on=row.registered_on,
        status=RegistrationStatus(row.status),
        departure=departure,
        cancelled_on=row.cancelled_on,
        cancellation_reason=row.cancellation_reason,
        deregistered_on=row.deregistered_on,
        transferred_from=row.transferred_from_id,
    )


class SqlUserRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def by_username(self, username: str) -> UserAccount | None:
        row = self.session.scalar(select(UserRow).where(UserRow.username == username))
        return UserAccount(_user(row), row.password_hash, row.digest_secret) if row else None

    def for_login(self, username: str) -> tuple[UserAccount | None, tuple[int, dt.datetime | None] | None]:
        # One round trip for every call's authentication: the account and its failures on record, either of
        # which may be missing (failures are counted for user names that do not exist, too). A Core statement
        # built once: the ORM's two entities cost more than the rest of the authentication.
        # It is the first statement of every call, so it also brings the reference data's versions: the
        # in-process caches' check for an import, without a statement of its own.
        row = self.session.execute(_FOR_LOGIN, {"username": username}).one()
        _learn_reference_versions(self.session, row)
        account = UserAccount(_user(row), row.password_hash, row.digest_secret) if row.id is not None else None
        failures = (row.login_failures, _utc(row.login_locked_until)) if row.login_failures is not None else None
        return account, failures

    def add(
        self,
        user: User,
        password_hash: str,
        digest_secret: str | None,
        request: UserRequest | None = None,
        *,
        at: dt.datetime,
    ) -> User:
        scope = user.acts_for
        row = UserRow(
            username=user.username,
            password_hash=password_hash,
            digest_secret=digest_secret,
            scope_kind=scope.kind.value,
            institution_code=scope.code if scope.kind is ScopeKind.INSTITUTION else None,
            municipality_code=scope.code if scope.kind is ScopeKind.MUNICIPALITY else None,
            rights=_rights_out(user.rights),
            valid_from=user.valid_from,
            valid_until=user.valid_until,
            first_name=user.first_name or None,
            last_name=user.last_name or None,
            issued_by=user.issued_by or None,
            active=user.active,
            created_at=at,
            password_changed_at=at,
        )
        self.session.add(row)
        try:
            self.session.flush()
        except IntegrityError as exc:  # a concurrent request took the user name first
            raise DuplicateUser("This user name is taken.", field="username") from exc
        if request is not None:
            c = request.confirmations
            self.session.add(
                UserRegistrationRequestRow(
                    user_id=row.id,
                    personal_code=request.personal_code.value,
                    first_name=request.first_name,
                    last_name=request.last_name,
                    email=request.email,
                    phone=request.phone,
                    position=request.position,
                    employer_code=request.employer_code,
                    employer_name=request.employer_name,
                    workplace_address=request.workplace_address,
                    valid_from=request.valid_from,
                    valid_until=request.valid_until,
                    filled_on=request.filled_on,
                    law_read=c.law_read,
                    regulations_read=c.regulations_read,
                    manual_read=c.manual_read,
                    pledge_signed=c.pledge_signed,
                    scope_kind=request.acts_for.kind.value,
                    scope_code=request.acts_for.code,
                    rights=_rights_out(request.rights),
                    issued_by=user.issued_by,
                    received_at=at,
                )
            )
            self.session.flush()
        return _user(row)

    def set_password(
        self, user_id: int, password_hash: str, digest_secret: str | None, *, at: dt.datetime | None = None
    ) -> None:
        row = self.session.get(UserRow, user_id)
        assert row is not None
        row.password_hash = password_hash
        row.digest_secret = digest_secret
        row.password_changed_at = at or _now()

    def set_password_hash(self, user_id: int, password_hash: str) -> None:
        row = self.session.get(UserRow, user_id)
        assert row is not None
        row.password_hash = password_hash

    def set_active(self, username: str, active: bool) -> bool:
        row = self.session.scalar(select(UserRow).where(UserRow.username == username))
        if row is None:
            return False
        row.active = active
        return True

    def all(self) -> list[User]:
        return [_user(row) for row in self.session.scalars(select(UserRow).order_by(UserRow.username))]

    def page(
        self, *, municipal_of: str | None, institution_code: str | None, after: str | None, limit: int
    ) -> list[User]:
        query = select(UserRow).order_by(UserRow.username).limit(limit)
        if municipal_of is not None:
            query = query.join(InstitutionRow, InstitutionRow.code == UserRow.institution_code).where(
                UserRow.scope_kind == ScopeKind.INSTITUTION.value,
                InstitutionRow.ownership_code == MUNICIPAL_OWNERSHIP,
                InstitutionRow.municipality_code == municipal_of,
            )
        if institution_code is not None:
            query = query.where(UserRow.institution_code == institution_code)
        if after is not None:
            query = query.where(UserRow.username > after)
        return [_user(row) for row in self.session.scalars(query)]

    def set_rights(self, user_id: int, rights: frozenset[Right]) -> None:
        row = self.session.get(UserRow, user_id)
        assert row is not None
        row.rights = _rights_out(rights)

    def set_validity(self, user_id: int, valid_from: dt.date, valid_until: dt.date) -> None:
        row = self.session.get(UserRow, user_id)
        assert row is not None
        row.valid_from, row.valid_until = valid_from, valid_until

    def record_change(self, user_id: int, change: UserChange) -> None:
        self.session.add(
            UserChangeRow(
                at=change.at,
                user_id=user_id,
                operation=change.operation,
                detail=change.detail[:500],
                by_user_id=change.by_user_id,
                by_username=change.by_username[:100],
            )
        )

    def changes_of(self, user_id: int) -> list[UserChange]:
        query = (
            select(UserChangeRow, UserRow.username)
            .join(UserRow, UserRow.id == UserChangeRow.user_id)
            .where(UserChangeRow.user_id == user_id)
            .order_by(UserChangeRow.id)
        )
        return [
            UserChange(row.at, username, row.operation, row.detail, row.by_username, row.by_user_id)
            for row, username in self.session.execute(query)
        ]

    def holds_valid_user(self, personal_code: PersonalCode, scope: Scope, on: dt.date) -> bool:
        code_column = UserRow.institution_code if scope.kind is ScopeKind.INSTITUTION else UserRow.municipality_code
        query = (
            select(UserRow.id)
            .join(UserRegistrationRequestRow, UserRegistrationRequestRow.user_id == UserRow.id)
            .where(
                UserRegistrationRequestRow.personal_code == personal_code.value,
                UserRow.active.is_(True),
                UserRow.scope_kind == scope.kind.value,
                (UserRow.valid_until.is_(None)) | (UserRow.valid_until >= on),
            )
        )
        if scope.code is not None:
            query = query.where(code_column == scope.code)
        return self.session.scalar(query.limit(1)) is not None


def _rights_out(rights: Iterable[Right]) -> list[dict[str, str]]:
    return [
        {"area": r.area.value, "level": r.level.value} for r in sorted(rights, key=lambda r: list(Area).index(r.area))
    ]


def _access_record_statements() -> tuple[Any, Any]:
    """The access-log record's INSERT (RETURNING its id), and on PostgreSQL the same as a CTE with its
    persons selected from its id and the codes: one round trip. Built once, with parameters for the values
    (an INSERT built with them at each call spent more on building than on sending it)."""
    records = table_of(AccessLogRow)
    columns = [c.name for c in records.c if c.name != "id"]
    inserted = insert(records).values({name: bindparam(name) for name in columns}).returning(records.c.id)
    written = inserted.cte("written")
    people = (
        func.unnest(bindparam("codes", type_=postgresql.ARRAY(String)))
        .table_valued("code")
        .render_derived(name="people")
    )
    with_persons = insert(table_of(AccessLogPersonRow)).from_select(
        ["access_log_id", "personal_code"],
        select(written.c.id, people.c.code).select_from(written.join(people, true())),
    )
    return inserted, with_persons


_ACCESS_RECORD, _ACCESS_RECORD_WITH_PERSONS = _access_record_statements()
# The same as CTEs of a statement that writes something else (PendingAccessRecord.beside): the record, or the
# record and its persons (whose CTE selects from the record's).
_ACCESS_RECORD_CTES = (_ACCESS_RECORD.cte("access_written"),)
_ACCESS_RECORD_CTES_WITH_PERSONS = (_ACCESS_RECORD_WITH_PERSONS.cte("access_persons_written"),)


def _for_login() -> Select[Any]:
    users, failures = table_of(UserRow), table_of(LoginFailureRow)
    asked = select(bindparam("username", type_=users.c.username.type).label("username")).subquery("asked")
    return (
        select(
            *users.c,
            failures.c.failures.label("login_failures"),
            failures.c.locked_until.label("login_locked_until"),
            *_VERSION_COLUMNS,  # last: _learn_reference_versions reads them from the end
        )
        .select_from(asked)
        .outerjoin(users, users.c.username == asked.c.username)
        .outerjoin(failures, failures.c.username == asked.c.username)
    )


_FOR_LOGIN = _for_login()


def _user(row: UserRow | Row[Any]) -> User:
    kind = ScopeKind(row.scope_kind)
    code = {ScopeKind.INSTITUTION: row.institution_code, ScopeKind.MUNICIPALITY: row.municipality_code}.get(kind)
    return User(
        id=row.id,
        username=row.username,
        acts_for=Scope(kind, code),
        rights=frozenset(Right(Area(r["area"]), Level(r["level"])) for r in row.rights or ()),
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        active=row.active,
        first_name=row.first_name or "",
        last_name=row.last_name or "",
        issued_by=row.issued_by or "",
    )


@overload
def _utc(value: dt.datetime) -> dt.datetime: ...
@overload
def _utc(value: dt.datetime | None) -> dt.datetime | None: ...
def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; everything stored here is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _rowcount(result: Result[*tuple[Any, ...]]) -> int:
    """The rows a DELETE or UPDATE touched. ``Session.execute`` is typed to return a ``Result``; for
    those statements it is a ``CursorResult``, the one that carries ``rowcount``."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"a DML statement gave {type(result).__name__}, not a CursorResult")
    return result.rowcount


def _on_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _as_arrays(session: Session, rows: list[dict[str, Any]]) -> bool:
    """Many rows go as one array a column on PostgreSQL (storage.bulk); one row as the one-row VALUES,
    whose statement SQLAlchemy and psycopg keep cached (an array statement is built anew at each call)."""
    return len(rows) > 1 and _on_postgresql(session)


def _insert(session: Session, table: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """INSERT with ON CONFLICT, in the dialect of the session's database."""
    if _on_postgresql(session):
        return postgresql_insert(table)
    return sqlite_insert(table)


class SqlNonceRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def use(self, digest: str, expires_at: dt.datetime) -> bool:
        # The primary key decides, in the database, which of two racing requests was first.
        statement = (
            _insert(self.session, UsedNonceRow)
            .values(digest=digest, expires_at=expires_at)
            .on_conflict_do_nothing()
            .returning(UsedNonceRow.digest)
        )
        # RETURNING, not rowcount: psycopg reports no rowcount for INSERT ... ON CONFLICT through the ORM session.
        return self.session.execute(statement).first() is not None

    def forget_expired(self, now: dt.datetime) -> int:
        return _rowcount(self.session.execute(delete(UsedNonceRow).where(UsedNonceRow.expires_at < now)))


class SqlRequestOutcomeRepository:
    """Request ids and their answers. Two calls with one id, in two processes: on PostgreSQL the
    second's ``lock`` fails at once (a transaction-scoped advisory lock on the user and id, held by the
    first until it commits or rolls back); on SQLite writers are serialised (BEGIN IMMEDIATE), so the
    second starts once the first has committed, and finds its answer."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def lock(self, user_id: int, request_id: str) -> bool:
        if self.session.get_bind().dialect.name != "postgresql":
            return True
        digest = hashlib.sha256(f"nvs-request-id/{user_id}/{request_id}".encode()).digest()
        key = int.from_bytes(digest[:8], "big", signed=True)
        return bool(self.session.execute(text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": key}).scalar())

    def get(self, user_id: int, request_id: str) -> StoredOutcome | None:
        row = self.session.get(RequestOutcomeRow, (user_id, request_id))
        if row is None:
            return None
        return StoredOutcome(
            user_id=row.user_id,
            request_id=row.request_id,
            operation=row.operation,
            body_hash=row.body_hash,
            created_at=_utc(row.created_at),
            response=row.response,
            sealed_response=row.sealed_response,
        )

    def add(self, outcome: StoredOutcome) -> None:
        self.session.add(
            RequestOutcomeRow(
                user_id=outcome.user_id,
                request_id=outcome.request_id,
                operation=outcome.operation,
                body_hash=outcome.body_hash,
                created_at=outcome.created_at.astimezone(dt.UTC),
                response=outcome.response,
                sealed_response=outcome.sealed_response,
            )
        )
        self.session.flush()

    def forget(self, user_id: int, request_id: str) -> None:
        self.session.execute(
            delete(RequestOutcomeRow).where(
                RequestOutcomeRow.user_id == user_id, RequestOutcomeRow.request_id == request_id
            )
        )

    def purge(self, before: dt.datetime) -> int:
        cutoff = before.astimezone(dt.UTC)
        if self.session.get_bind().dialect.name != "postgresql":
            cutoff = cutoff.replace(tzinfo=None)
        return _rowcount(self.session.execute(delete(RequestOutcomeRow).where(RequestOutcomeRow.created_at < cutoff)))

    def forget_sealed(self, before: dt.datetime) -> int:
        cutoff = before.astimezone(dt.UTC)
        if self.session.get_bind().dialect.name != "postgresql":
            cutoff = cutoff.replace(tzinfo=None)
        return _rowcount(
            self.session.execute(
                update(RequestOutcomeRow)
                .where(RequestOutcomeRow.created_at < cutoff, RequestOutcomeRow.sealed_response.is_not(None))
                .values(sealed_response=None)
            )
        )


class SqlLoginFailureRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, username: str) -> tuple[int, dt.datetime | None] | None:
        row = self.session.get(LoginFailureRow, username)
        return (row.failures, _utc(row.locked_until)) if row else None

    def record_failure(
        self, username: str, *, now: dt.datetime, threshold: int, lock_for: dt.timedelta
    ) -> dt.datetime | None:
        # One statement counts the failure; failures older than a lock period start the count afresh.
        table = LoginFailureRow.__table__
        stale = table.c.last_failure_at < now - lock_for
        insert = _insert(self.session, LoginFailureRow).values(
            username=username, failures=1, last_failure_at=now, locked_until=None
        )
        self.session.execute(
            insert.on_conflict_do_update(
                index_elements=[table.c.username],
                set_={
                    "failures": case((stale, 1), else_=table.c.failures + 1),
                    "last_failure_at": now,
                },
            )
        )
        until = now + lock_for
        locked = self.session.execute(
            update(LoginFailureRow)
            .where(LoginFailureRow.username == username, LoginFailureRow.failures >= threshold)
            .values(failures=0, locked_until=until)
            .returning(LoginFailureRow.username)
        ).first()
        return until if locked else None

    def clear(self, username: str) -> None:
        self.session.execute(delete(LoginFailureRow).where(LoginFailureRow.username == username))

    def forget_stale(self, now: dt.datetime, older_than: dt.timedelta) -> int:
        cutoff = now - older_than
        return _rowcount(
            self.session.execute(
                delete(LoginFailureRow).where(
                    LoginFailureRow.last_failure_at < cutoff,
                    (LoginFailureRow.locked_until.is_(None)) | (LoginFailureRow.locked_until < now),
                )
            )
        )


@dataclass(frozen=True)
class PendingAccessRecord:
    """An access-log record to be written at the commit: its columns, and the personal codes it names."""

    values: dict[str, Any]
    codes: list[str]

    def write(self, session: Session) -> None:
        # Core inserts: one round trip for the record (RETURNING its id), one for all its persons
        # (a list page names 100), instead of an ORM object and a flush each.
        if self.codes and _on_postgresql(session):
            session.execute(_ACCESS_RECORD_WITH_PERSONS, self.values | {"codes": self.codes})
            return
        record_id = session.execute(_ACCESS_RECORD, self.values).scalar_one()
        persons = [{"access_log_id": record_id, "personal_code": code} for code in self.codes]
        if persons:
            session.execute(insert(AccessLogPersonRow), persons)

    def beside(self) -> tuple[Any, dict[str, Any]]:
        """PostgreSQL: the record as CTEs to add to another statement, and their parameters."""
        if self.codes:
            return _ACCESS_RECORD_CTES_WITH_PERSONS, self.values | {"codes": self.codes}
        return _ACCESS_RECORD_CTES, self.values


class SqlAccessLogRepository:
    """Appends and reads; the only deletion is ``purge`` (retention). There is no update."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._pending: list[PendingAccessRecord] = []

    def append(self, record: AccessRecord) -> None:
        """Queued, and written when the unit of work commits, with the transaction's change events
        (``SqlFeedRepository.publish_pending``): on PostgreSQL a call's record and its one event are one statement."""
        scope = record.scope
        values = dict(
            at=record.at.astimezone(dt.UTC),  # SQLite keeps no zone: instants are stored in UTC
            user_id=record.user_id,
            username=record.username,
            scope_kind=scope.kind.value if scope else None,
            scope_code=scope.code if scope else None,
            operation=record.operation,
            request_id=record.request_id,
            purpose=record.purpose,
            xroad_client=record.xroad_client,
            xroad_user_id=record.xroad_user_id,
            xroad_issue=record.xroad_issue,
            outcome=record.outcome,
        )
        self._pending.append(PendingAccessRecord(values, list(dict.fromkeys(record.personal_codes))))

    def take_pending(self) -> list[PendingAccessRecord]:
        pending, self._pending = self._pending, []
        return pending

    def queued(self) -> int:
        """How many records are queued (for a savepoint to come back to)."""
        return len(self._pending)

    def discard_queued_after(self, count: int) -> None:
        del self._pending[count:]

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
        matching = (
            select(AccessLogRow)
            .join(AccessLogPersonRow, AccessLogPersonRow.access_log_id == AccessLogRow.id)
            .where(
                AccessLogPersonRow.personal_code == personal_code, AccessLogRow.at >= since, AccessLogRow.at < before
            )
        )
        total = self.session.scalar(select(func.count()).select_from(matching.subquery())) or 0
        newer = 0
        page = matching.order_by(AccessLogRow.id.desc())
        if older_than is not None:
            newer = (
                self.session.scalar(
                    select(func.count()).select_from(matching.where(AccessLogRow.id >= older_than).subquery())
                )
                or 0
            )
            page = page.where(AccessLogRow.id < older_than)  # a keyset: records written meanwhile shift nothing
        else:
            page = page.offset(offset)
        rows = self.session.scalars(page.limit(limit))
        return total, newer, [_access_record(row) for row in rows]

    def purge(self, before: dt.datetime) -> tuple[int, int]:
        before = before.astimezone(dt.UTC)
        if _on_postgresql(self.session):
            # The append-only trigger lets this transaction, and only this one, delete.
            self.session.execute(text("SET LOCAL nvs.access_log_purge = 'on'"))
        old = select(AccessLogRow.id).where(AccessLogRow.at < before).scalar_subquery()
        persons = _rowcount(
            self.session.execute(delete(AccessLogPersonRow).where(AccessLogPersonRow.access_log_id.in_(old)))
        )
        records = _rowcount(self.session.execute(delete(AccessLogRow).where(AccessLogRow.at < before)))
        return records, persons

    def count(self) -> int:
        return self.session.scalar(select(func.count()).select_from(AccessLogRow)) or 0

    def persons_concerned(
        self,
        *,
        registration_ids: Iterable[int] = (),
        group_ids: Iterable[int] = (),
        attendance_ids: Iterable[int] = (),
        notice_ids: Iterable[int] = (),
    ) -> list[str]:
        """The personal codes of the persons the named records are about, whoever's records they are:
        a call refused for another institution's id leaves its trace in that person's log too.
        A group concerns its leaders."""

        def ids(values: Iterable[int]) -> list[int]:
            return sorted({v for v in values if 0 < v <= LARGEST_ID})

        queries: list[Select[str | None]] = []
        known = self.session.info.get(_REGISTRATION_PERSONS, {})  # the registrations this transaction read
        codes = [known[i] for i in ids(registration_ids) if i in known]
        if registrations := [i for i in ids(registration_ids) if i not in known]:
            queries.append(
                select(PersonRow.personal_code)
                .join(RegistrationRow, RegistrationRow.person_id == PersonRow.id)
                .where(RegistrationRow.id.in_(registrations))
            )
        if attendances := ids(attendance_ids):
            queries.append(
                select(PersonRow.personal_code)
                .join(ClubAttendanceRow, ClubAttendanceRow.person_id == PersonRow.id)
                .where(ClubAttendanceRow.id.in_(attendances))
            )
        if notices := ids(notice_ids):
            queries.append(
                select(NoticeRow.personal_code).where(NoticeRow.id.in_(notices), NoticeRow.personal_code.is_not(None))
            )
        codes += [code for query in queries for code in self.session.scalars(query) if code is not None]
        if groups := ids(group_ids):
            for leaders in self.session.scalars(select(GroupRow.leaders).where(GroupRow.id.in_(groups))):
                codes.extend(code for leader in leaders or () if (code := leader.get("personal_code")))
        return list(dict.fromkeys(codes))


def _access_record(row: AccessLogRow) -> AccessRecord:
    scope = Scope(ScopeKind(row.scope_kind), row.scope_code) if row.scope_kind else None
    return AccessRecord(
        at=_utc(row.at),
        operation=row.operation,
        request_id=row.request_id,
        outcome=row.outcome,
        user_id=row.user_id,
        username=row.username,
        scope=scope,
        purpose=row.purpose,
        xroad_client=row.xroad_client,
        xroad_user_id=row.xroad_user_id,
        xroad_issue=row.xroad_issue,
        id=row.id,
    )


def _month(day: dt.date) -> Month:
    return Month(day.year, day.month)


def _mark(row: FundingMarkRow) -> FundingMark:
    return FundingMark(
        id=row.id,
        registration_id=row.registration_id,
        funding_type=row.funding_type,
        from_month=_month(row.from_month),
        to_month=_month(row.to_month),
        special_needs=row.special_needs,
    )


class SqlFundingRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of_registration(self, registration_id: int) -> list[FundingMark]:
        rows = self.session.scalars(
            select(FundingMarkRow)
            .where(FundingMarkRow.registration_id == registration_id, FundingMarkRow.status == "active")
            .order_by(FundingMarkRow.from_month, FundingMarkRow.funding_type, FundingMarkRow.id)
        )
        return [_mark(r) for r in rows]

    def add(self, mark: FundingMark) -> FundingMark:
        row = FundingMarkRow(
            registration_id=mark.registration_id,
            funding_type=mark.funding_type,
            from_month=mark.from_month.first_day,
            to_month=mark.to_month.first_day,
            special_needs=mark.special_needs,
            status="active",
            created_at=_now(),
            updated_at=_now(),
        )
        self.session.add(row)
        self.session.flush()
        return _mark(row)

    def narrow(self, mark: FundingMark) -> None:
        """The mark now covers only ``from_month`` to ``to_month``; basket months outside are free again."""
        row = self.session.get(FundingMarkRow, mark.id)
        assert row is not None
        row.from_month, row.to_month, row.updated_at = mark.from_month.first_day, mark.to_month.first_day, _now()
        self.session.execute(
            delete(BasketClaimRow).where(
                BasketClaimRow.funding_mark_id == mark.id,
                (BasketClaimRow.month < mark.from_month.first_day) | (BasketClaimRow.month > mark.to_month.first_day),
            )
        )
        self.session.flush()

    def remove(self, mark: FundingMark) -> None:
        """Kept for the record, but no longer in force; its basket months are free again."""
        row = self.session.get(FundingMarkRow, mark.id)
        assert row is not None
        row.status, row.updated_at = "removed", _now()
        self.session.execute(delete(BasketClaimRow).where(BasketClaimRow.funding_mark_id == mark.id))
        self.session.flush()

    def move_basket_claims(self, from_mark_id: int, to_mark_id: int, months: list[Month]) -> None:
        """The claims (child, month) of ``from_mark_id`` in these months now name ``to_mark_id``.

        One UPDATE of the rows in place: the primary key (person, month) is never deleted, so a
        rival claim of the same month blocks on the updated row until this transaction ends and
        then fails on the key (PostgreSQL); on SQLite writers are serialised anyway."""
        if not months:
            return
        self.session.execute(
            update(BasketClaimRow)
            .where(
                BasketClaimRow.funding_mark_id == from_mark_id,
                BasketClaimRow.month.in_([m.first_day for m in months]),
            )
            .values(funding_mark_id=to_mark_id)
        )
        self.session.flush()

    def claimed_months(self, personal_code: PersonalCode, months: list[Month]) -> list[Month]:
        """Which of these months of the child already carry the basket (with any provider)."""
        if not months:
            return []
        rows = self.session.scalars(
            select(BasketClaimRow.month)
            .join(PersonRow, PersonRow.id == BasketClaimRow.person_id)
            .where(
                PersonRow.personal_code == personal_code.value, BasketClaimRow.month.in_([m.first_day for m in months])
            )
        )
        return sorted(_month(day) for day in rows)

    def basket_holders(self, personal_code: PersonalCode) -> list[tuple[Month, int]]:
        """The child's basket months, each with the registration whose funding mark holds it, by month."""
        rows = self.session.execute(
            select(BasketClaimRow.month, FundingMarkRow.registration_id)
            .join(PersonRow, PersonRow.id == BasketClaimRow.person_id)
            .join(FundingMarkRow, FundingMarkRow.id == BasketClaimRow.funding_mark_id)
            .where(PersonRow.personal_code == personal_code.value)
            .order_by(BasketClaimRow.month)
        )
        return [(_month(month), registration_id) for month, registration_id in rows]

    def claim_basket(self, personal_code: PersonalCode, mark: FundingMark) -> None:
        """Claim the mark's months for the child, or raise BasketAlreadyClaimed naming the months in conflict.

        The primary key (person, month) decides, inside this transaction: of two
        concurrent claims, the second waits for the first and then fails here.
        """
        person_id = SqlPersonRepository(self.session).id_of(personal_code)
        assert person_id is not None and mark.id is not None
        claims = [{"person_id": person_id, "month": m.first_day, "funding_mark_id": mark.id} for m in mark.months]
        # A month claimed already is skipped, not an error (no savepoint to come back from): the months not
        # returned are the conflict. The months that were claimed go with the refusal's rollback.
        claimed = set(self.session.execute(_claim_months_of(self.session.get_bind().dialect.name), claims).scalars())
        if len(claimed) < len(claims):
            conflict = [m for m in mark.months if m.first_day not in claimed]
            raise BasketAlreadyClaimed(
                f"The NVŠ basket of this child is already claimed for {describe_months(conflict)}.",
                field="fromMonth",
            )

    def funded_children(self, provider_codes: list[str] | None, months: list[Month]) -> list[FundedChildren]:
        """Children on the basket per provider, month, program and special-needs flag."""
        query = (
            select(
                RegistrationRow.provider_code,
                BasketClaimRow.month,
                GroupRow.program_code,
                FundingMarkRow.special_needs,
                func.count(),
            )
            .join(FundingMarkRow, FundingMarkRow.id == BasketClaimRow.funding_mark_id)
            .join(RegistrationRow, RegistrationRow.id == FundingMarkRow.registration_id)
            .join(GroupRow, GroupRow.id == RegistrationRow.group_id)
            .where(BasketClaimRow.month.in_([m.first_day for m in months]))
            .group_by(
                RegistrationRow.provider_code, BasketClaimRow.month, GroupRow.program_code, FundingMarkRow.special_needs
            )
        )
        if provider_codes is not None:
            query = query.where(RegistrationRow.provider_code.in_(provider_codes))
        return [
            FundedChildren(provider, _month(month), program, bool(special), count)
            for provider, month, program, special, count in self.session.execute(query)
        ]


class SqlRateRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def all(self) -> list[BasketRate]:
        return [
            BasketRate(
                municipality_code=r.municipality_code,
                effective_from=_month(r.effective_from),
                monthly_amount=Decimal(r.monthly_amount),
                priority_factor=Decimal(r.priority_factor),
                special_needs_factor=Decimal(r.special_needs_factor),
            )
            for r in self.session.scalars(select(BasketRateRow).order_by(BasketRateRow.effective_from))
        ]

    def replace_all(self, rates: list[BasketRate], version: str) -> None:
        self.session.execute(delete(BasketRateRow))
        self.session.add_all(
            BasketRateRow(
                municipality_code=r.municipality_code,
                effective_from=r.effective_from.first_day,
                monthly_amount=r.monthly_amount,
                priority_factor=r.priority_factor,
                special_needs_factor=r.special_needs_factor,
            )
            for r in rates
        )
        _set_reference_version(self.session, RATE_SET, version)
        self.session.flush()

    def version(self) -> str | None:
        return _reference_versions(self.session).get(RATE_SET)
