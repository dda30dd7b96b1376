"""Tables. Rows are not domain objects: repositories translate (see repositories.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import NotRequired, TypedDict

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    pass


Base.metadata.naming_convention = NAMING_CONVENTION


class ClassifierEntryRow(Base):
    __tablename__ = "classifier_entry"
    __table_args__ = (UniqueConstraint("kind", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(300))
    name_en: Mapped[str] = mapped_column(String(300), default="")
    parent: Mapped[str | None] = mapped_column(String(20))
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)


class ReferenceDataVersionRow(Base):
    """Which version of a reference data set is loaded (one row per set)."""

    __tablename__ = "reference_data_version"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    version: Mapped[str] = mapped_column(String(40))
    loaded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class InstitutionRow(Base):
    __tablename__ = "institution"

    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    municipality_code: Mapped[str] = mapped_column(String(20))
    ownership_code: Mapped[str] = mapped_column(String(20))
    group_code: Mapped[str] = mapped_column(String(20))
    purpose_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    deregistered_on: Mapped[dt.date | None] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ProgramRow(Base):
    __tablename__ = "program"

    code: Mapped[str] = mapped_column(String(9), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    provider_code: Mapped[str] = mapped_column(ForeignKey("institution.code"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))
    direction_codes: Mapped[list[str]] = mapped_column(JSON, default=list)
    registered_on: Mapped[dt.date | None] = mapped_column(Date)
    accredited_on: Mapped[dt.date | None] = mapped_column(Date)
    deregistered_on: Mapped[dt.date | None] = mapped_column(Date)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class GroupRow(Base):
    __tablename__ = "nvs_group"
    __table_args__ = (
        UniqueConstraint("provider_code", "school_year", "name"),
        # One name per provider and year as people read names (revision 0410): see repositories.group_name_key.
        Index("uq_nvs_group_name_key", "provider_code", "school_year", "name_key", unique=True),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_code: Mapped[str] = mapped_column(ForeignKey("institution.code"))
    school_year: Mapped[int] = mapped_column(Integer)  # the first calendar year: 2025 for 2025-2026
    program_code: Mapped[str] = mapped_column(ForeignKey("program.code"))
    purpose: Mapped[str] = mapped_column(String(10))
    name: Mapped[str] = mapped_column(String(200))
    name_key: Mapped[str] = mapped_column(String(64))
    sub_direction_codes: Mapped[list[str]] = mapped_column(JSON)
    # [{"first_name", "last_name", "personal_code"}]; leaders' codes are personal data like learners'.
    leaders: Mapped[list[dict[str, str | None]]] = mapped_column(JSON, default=list)
    # Revision 0520: CloseGroup's date, and the group of the previous year this one was rolled over from
    # (unique: one copy per group, which is what makes RollOverGroups idempotent).
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    rolled_over_from: Mapped[int | None] = mapped_column(ForeignKey("nvs_group.id", ondelete="SET NULL"), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PersonRow(Base):
    """A person as the population register last described them."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(primary_key=True)
    personal_code: Mapped[str] = mapped_column(String(11), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    sex: Mapped[str | None] = mapped_column(String(1))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    deceased_on: Mapped[dt.date | None] = mapped_column(Date)
    residence_municipality_code: Mapped[str | None] = mapped_column(String(20))
    residence_municipality_name: Mapped[str | None] = mapped_column(String(300))
    residence_address: Mapped[str | None] = mapped_column(String(300))
    departed_abroad_on: Mapped[dt.date | None] = mapped_column(Date)
    checked_in_population_register_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    # When the learner's personal data, past its retention, was replaced by a pseudonym (revision 0700).
    erased_on: Mapped[dt.date | None] = mapped_column(Date)


class RegistrationRow(Base):
    __tablename__ = "registration"
    __table_args__ = (
        # A child cannot hold two active registrations in the same group; the index
        # also holds when two requests race.
        Index(
            "uq_registration_active_person_group",
            "person_id",
            "group_id",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        Index("ix_registration_provider_status", "provider_code", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("nvs_group.id"), index=True)
    provider_code: Mapped[str] = mapped_column(ForeignKey("institution.code"))
    first_learning_date: Mapped[dt.date] = mapped_column(Date)
    contract_type_code: Mapped[str | None] = mapped_column(String(20))
    contract_date: Mapped[dt.date | None] = mapped_column(Date)
    contract_number: Mapped[str | None] = mapped_column(String(50))
    registered_on: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(20))
    departure_date: Mapped[dt.date | None] = mapped_column(Date)
    departure_reason_code: Mapped[str | None] = mapped_column(String(20))
    departure_order_number: Mapped[str | None] = mapped_column(String(50))
    cancelled_on: Mapped[dt.date | None] = mapped_column(Date)
    cancellation_reason: Mapped[str | None] = mapped_column(Text)
    deregistered_on: Mapped[dt.date | None] = mapped_column(Date)
    # Revision 0520: the registration this one continues after TransferStudent or RollOverGroups.
    # No foreign key since revision 0620: the registration continued may have moved to archive_registration.
    transferred_from_id: Mapped[int | None] = mapped_column(Integer, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class UserRow(Base):
    """A register user: what it acts for (exactly one of an institution, a municipality or
    centrally), its rights, its validity dates and its secrets."""

    __tablename__ = "app_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    # 'institution', 'municipality' or 'central'; institution_code / municipality_code as the kind says.
    scope_kind: Mapped[str] = mapped_column(String(20), server_default="institution")
    institution_code: Mapped[str | None] = mapped_column(ForeignKey("institution.code"))
    municipality_code: Mapped[str | None] = mapped_column(String(20))
    # [{"area": ..., "level": "viewer" | "manager"}]
    rights: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    valid_from: Mapped[dt.date | None] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    issued_by: Mapped[str | None] = mapped_column(String(100))
    # The password encrypted with NVS_DIGEST_SECRET_KEY, for PasswordDigest tokens (None: digest not possible).
    digest_secret: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class UserRegistrationRequestRow(Base):
    """The registration request a user was created from, as received (the seed's form)."""

    __tablename__ = "user_registration_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), unique=True)
    personal_code: Mapped[str] = mapped_column(String(11), index=True)  # personal data: never logged
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(30))
    position: Mapped[str] = mapped_column(String(200))
    employer_code: Mapped[str] = mapped_column(String(9))
    employer_name: Mapped[str] = mapped_column(String(300))
    workplace_address: Mapped[str] = mapped_column(String(300))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    filled_on: Mapped[dt.date] = mapped_column(Date)
    law_read: Mapped[bool]
    regulations_read: Mapped[bool]
    manual_read: Mapped[bool]
    pledge_signed: Mapped[bool]
    scope_kind: Mapped[str] = mapped_column(String(20))
    scope_code: Mapped[str | None] = mapped_column(String(20))
    rights: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    issued_by: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class UserChangeRow(Base):
    """A change an administrator made to a user (ADMINISTRATION, contract 1.8): only ever added."""

    __tablename__ = "user_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    operation: Mapped[str] = mapped_column(String(50))  # ChangeUserRights, SetUserValidity, DisableUser, ...
    detail: Mapped[str] = mapped_column(String(500))  # what it became; never a password
    by_user_id: Mapped[int | None] = mapped_column(Integer)  # None: the console
    by_username: Mapped[str] = mapped_column(String(100))


class UsedNonceRow(Base):
    """PasswordDigest nonces already accepted, until their token could no longer be fresh."""

    __tablename__ = "used_nonce"

    # sha256 of user name and nonce: a fixed length whatever the client sends.
    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)


class RequestOutcomeRow(Base):
    """The answer given to a request sent with a request id (``nvs:requestId`` or the X-Road ``id``),
    written in the call's own transaction: a retry of the same request by the same user gets it again.

    ``body_hash`` is a keyed digest (HMAC-SHA256) of the canonical SOAP Body: the same id with another
    body is refused. ``response`` is the response element as sent (UTF-8 XML); a ``RegisterUser`` answer
    carries the initial password and is kept only in ``sealed_response`` (Fernet, NVS_DIGEST_SECRET_KEY),
    emptied once the replay window has passed. Rows are purged after NVS_REQUEST_ID_DAYS."""

    __tablename__ = "request_outcome"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    operation: Mapped[str] = mapped_column(String(50))
    body_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    response: Mapped[bytes | None] = mapped_column(LargeBinary)
    sealed_response: Mapped[str | None] = mapped_column(Text)


class LoginFailureRow(Base):
    """Failed log-ins per user name (existing or not, so that a lock says nothing about existence)."""

    __tablename__ = "login_failure"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), index=True)


LogId = BigInteger().with_variant(Integer(), "sqlite")


class AccessLogRow(Base):
    """Append-only: who read or changed which persons' data, when, why, and what came of it.

    The application never updates or deletes a row except ``access-log purge`` (retention);
    on PostgreSQL a trigger refuses anything else (migration 0100)."""

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(LogId, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(100))  # as claimed when authentication failed
    scope_kind: Mapped[str | None] = mapped_column(String(20))
    scope_code: Mapped[str | None] = mapped_column(String(20))
    operation: Mapped[str] = mapped_column(String(50))
    request_id: Mapped[str] = mapped_column(String(64), index=True)
    purpose: Mapped[str | None] = mapped_column(String(500))
    xroad_client: Mapped[str | None] = mapped_column(String(300))
    xroad_user_id: Mapped[str | None] = mapped_column(String(100))
    xroad_issue: Mapped[str | None] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(50))


class AccessLogPersonRow(Base):
    __tablename__ = "access_log_person"
    __table_args__ = (Index("ix_access_log_person_code", "personal_code", "access_log_id"),)

    id: Mapped[int] = mapped_column(LogId, primary_key=True)
    access_log_id: Mapped[int] = mapped_column(LogId, ForeignKey("access_log.id"), index=True)
    personal_code: Mapped[str] = mapped_column(String(11))


class FundingMarkRow(Base):
    """A funding type marked on a registration for whole months (months stored as their first day)."""

    __tablename__ = "funding_mark"

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registration.id"), index=True)
    funding_type: Mapped[str] = mapped_column(String(20))
    from_month: Mapped[dt.date] = mapped_column(Date)
    to_month: Mapped[dt.date] = mapped_column(Date)
    special_needs: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default="active")  # active | removed
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BasketClaimRow(Base):
    """One child, one month, one basket: the primary key is the exclusivity rule, held by the
    database itself so that two providers' concurrent claims cannot both succeed."""

    __tablename__ = "basket_claim"

    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    # No foreign key since revision 0620: claims stay here when their mark moves to archive_funding_mark
    # (the mark keeps its id there), so that an archived month still holds the child's basket.
    funding_mark_id: Mapped[int] = mapped_column(Integer, index=True)


class BasketRateRow(Base):
    __tablename__ = "basket_rate"
    __table_args__ = (UniqueConstraint("municipality_code", "effective_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_code: Mapped[str | None] = mapped_column(String(20))  # None: every municipality
    effective_from: Mapped[dt.date] = mapped_column(Date)
    monthly_amount: Mapped[Decimal] = mapped_column(Numeric(10, 2))
    priority_factor: Mapped[Decimal] = mapped_column(Numeric(6, 3))
    special_needs_factor: Mapped[Decimal] = mapped_column(Numeric(6, 3))


def table_of(mapped: type[Base]) -> Table:
    """The Table of a mapped class. Declarative types ``__table__`` as any FromClause; a class
    mapped with ``__tablename__`` (all of these) has a Table there."""
    table = mapped.__table__
    if not isinstance(table, Table):
        raise TypeError(f"{mapped.__name__} is not mapped to a table")
    return table


# --- the change feed, data checks and notices (revision 0300) ---------------------------
# The JSON of ``change_event.data``: the state after the change, dates as ISO text. Keys read
# with ``.get`` are absent from events written before they were added (revision 0300's backfill).
class StoredContract(TypedDict):
    typeCode: str
    date: str
    number: str


class StoredDeparture(TypedDict):
    date: str
    reasonCode: str
    orderNumber: NotRequired[str | None]


class StoredRegistration(TypedDict):
    registrationId: int
    status: str
    groupId: int
    groupName: str
    schoolYear: str
    programCode: str
    firstLearningDate: str
    registeredOn: str
    contract: NotRequired[StoredContract | None]
    departure: NotRequired[StoredDeparture | None]
    cancelledOn: NotRequired[str | None]


class StoredFunding(TypedDict):
    markId: int
    registrationId: int
    fundingTypeCode: str
    fromMonth: str
    toMonth: str
    specialNeeds: NotRequired[bool]


class StoredClubAttendance(TypedDict):
    attendanceId: int
    schoolYear: str
    directionCodes: NotRequired[list[str]]
    subDirectionCodes: NotRequired[list[str]]
    endedOn: NotRequired[str | None]


class StoredErasure(TypedDict):
    registrationIds: list[int]
    clubAttendanceIds: list[int]


class EventData(TypedDict, total=False):
    registration: StoredRegistration
    funding: StoredFunding
    clubAttendance: StoredClubAttendance
    erasure: StoredErasure


class ChangeEventRow(Base):
    """One change of the register, as the feed gives it: keys in columns, the state after the change in ``data``.

    On PostgreSQL ``sequence`` comes from the sequence ``change_event_sequence_seq`` and
    ``xid_horizon`` tells readers when the number is safe to hand out; on SQLite numbers are
    max + 1 and ``xid_horizon`` stays empty (storage.feed_checks.SqlFeedRepository)."""

    __tablename__ = "change_event"
    __table_args__ = (
        Index("ix_change_event_institution_sequence", "institution_code", "sequence"),
        Index("ix_change_event_municipality_sequence", "municipality_code", "sequence"),
        Index("ix_change_event_personal_code", "personal_code"),  # retention replaces a learner's code
    )

    sequence: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    institution_code: Mapped[str] = mapped_column(String(9))
    municipality_code: Mapped[str | None] = mapped_column(String(20))
    personal_code: Mapped[str] = mapped_column(String(11))
    registration_id: Mapped[int | None] = mapped_column(Integer)
    data: Mapped[EventData] = mapped_column(JSON)
    xid_horizon: Mapped[int | None] = mapped_column(BigInteger)


# Never holds a row: PostgreSQL's change_event_numbers (revision 0500) writes to it and rolls
# back, to give a subtransaction its id (storage.feed_checks.SqlFeedRepository).
change_event_horizon = Table("change_event_horizon", Base.metadata, Column("written", Boolean))


class CheckRunRow(Base):
    """A run of a data check; a RUNNING one was interrupted (or is under way) and is continued by the next run."""

    __tablename__ = "check_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(20))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)


class PersonCheckRow(Base):
    """A person compared with GR in a run: the resume position of the population-register check."""

    __tablename__ = "person_check"

    run_id: Mapped[int] = mapped_column(ForeignKey("check_run.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), primary_key=True)
    known_to_register: Mapped[bool] = mapped_column(default=True)
    personal_data_fields: Mapped[list[str]] = mapped_column(JSON, default=list)
    residence_fields: Mapped[list[str]] = mapped_column(JSON, default=list)


class DataIssueRow(Base):
    """A finding of a check for one institution; open until resolved (FixPersonData) or replaced by a later run."""

    __tablename__ = "data_issue"
    __table_args__ = (Index("ix_data_issue_institution_check_run", "institution_code", "check_kind", "run_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("check_run.id", ondelete="CASCADE"))
    check_kind: Mapped[str] = mapped_column(String(30))
    code: Mapped[str] = mapped_column(String(50))
    institution_code: Mapped[str] = mapped_column(String(9))
    personal_code: Mapped[str | None] = mapped_column(String(11), index=True)
    registration_id: Mapped[int | None] = mapped_column(Integer)
    months: Mapped[list[str]] = mapped_column(JSON, default=list)
    message: Mapped[str] = mapped_column(Text)
    detected_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class InstitutionCheckRow(Base):
    """Per institution and check: the run its status shows, and when that run completed."""

    __tablename__ = "institution_check"

    institution_code: Mapped[str] = mapped_column(String(9), primary_key=True)
    check_kind: Mapped[str] = mapped_column(String(30), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("check_run.id", ondelete="CASCADE"), index=True)
    checked_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class NoticeRow(Base):
    """A notice to an institution (pranešimas). ``dedup_key``: raised once per institution and key."""

    __tablename__ = "notice"
    __table_args__ = (
        UniqueConstraint("institution_code", "dedup_key"),
        Index("ix_notice_institution_acknowledged_id", "institution_code", "acknowledged", "id"),
        Index("ix_notice_personal_code", "personal_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    institution_code: Mapped[str] = mapped_column(String(9))
    kind: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    message: Mapped[str] = mapped_column(Text)
    personal_code: Mapped[str | None] = mapped_column(String(11))
    registration_id: Mapped[int | None] = mapped_column(Integer)
    months: Mapped[list[str]] = mapped_column(JSON, default=list)
    issue_code: Mapped[str | None] = mapped_column(String(50))
    dedup_key: Mapped[str | None] = mapped_column(String(200))
    acknowledged: Mapped[bool] = mapped_column(default=False)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    acknowledged_by: Mapped[str | None] = mapped_column(String(100))


# --- clubs, formal enrolments and the lists' orders (revision 0200) ------------------
class ClubAttendanceRow(Base):
    """A general-education school's mark of the NVŠ directions a pupil attends in a school year."""

    __tablename__ = "club_attendance"
    __table_args__ = (
        # One mark in force per pupil, school and school year; it holds when two requests race too.
        Index(
            "uq_club_attendance_active_person_school_year",
            "person_id",
            "school_code",
            "school_year",
            unique=True,
            sqlite_where=text("end_date IS NULL"),
            postgresql_where=text("end_date IS NULL"),
        ),
        # ListClubAttendance's order within a school's year.
        Index("ix_club_attendance_school_year_id", "school_code", "school_year", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id"), index=True)
    school_code: Mapped[str] = mapped_column(ForeignKey("institution.code"))
    school_year: Mapped[int] = mapped_column(Integer)  # the first calendar year: 2025 for 2025-2026
    from_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    marked_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ClubDirectionRow(Base):
    """One direction of a club mark: a direction marked (sub-direction empty), or a sub-direction
    marked with its direction, so that the direction filter is one indexed lookup."""

    __tablename__ = "club_direction"
    __table_args__ = (Index("ix_club_direction_direction_code", "direction_code", "attendance_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attendance_id: Mapped[int] = mapped_column(ForeignKey("club_attendance.id", ondelete="CASCADE"), index=True)
    direction_code: Mapped[str] = mapped_column(String(20))
    sub_direction_code: Mapped[str | None] = mapped_column(String(20))
    position: Mapped[int] = mapped_column(Integer)  # the order the school sent them in


class SchoolEnrolmentRow(Base):
    """A child attends a general-education school in a school year (formal enrolment, or a club mark).

    Keyed by the personal code, not a person row: imported enrolments are not looked up in GR
    (see gateway/enrolments.py); the code is validated before it is stored."""

    __tablename__ = "school_enrolment"
    __table_args__ = (
        UniqueConstraint("personal_code", "school_year", "school_code"),
        Index("ix_school_enrolment_school_year", "school_code", "school_year"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    personal_code: Mapped[str] = mapped_column(String(11))
    school_code: Mapped[str] = mapped_column(ForeignKey("institution.code"))
    school_year: Mapped[int] = mapped_column(Integer)
    from_date: Mapped[dt.date] = mapped_column(Date)
    to_date: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(10))  # import | clubs
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# The lists' stable orders (gateway/domain/lists.py, ORDERS): a provider's registrations by id and
# by departure; everyone's by departure (by id: the primary key); arrivals in a short date range.
Index("ix_registration_provider_id", RegistrationRow.provider_code, RegistrationRow.id)
Index(
    "ix_registration_provider_departure",
    RegistrationRow.provider_code,
    RegistrationRow.departure_date,
    RegistrationRow.id,
)
Index("ix_registration_departure_id", RegistrationRow.departure_date, RegistrationRow.id)
Index("ix_registration_first_learning", RegistrationRow.first_learning_date)
# The basket list reads one month's claims.
Index("ix_basket_claim_month", BasketClaimRow.month, BasketClaimRow.funding_mark_id)


# --- the archive (revision 0620) ---------------------------------------------------
# Closed school years older than NVS_ARCHIVE_KEEP_YEARS, moved out of the active tables by
# ``nvs-gateway archive`` (gateway/archive.py). Each archive table has its active table's columns
# (rows keep their ids) without foreign keys or the active tables' list indexes, plus ``school_year``
# where the active table has none: rows are keyed by school year. Only the lookups that read the
# archive are indexed: a learner's history (person_id) and the basket of archived months (by id).
def _archive_of(active: Table, name: str, *, school_year: bool) -> Table:
    columns = [
        Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable, autoincrement=False)
        for c in active.columns
    ]
    if school_year:
        columns.append(Column("school_year", Integer, nullable=False))
    return Table(name, Base.metadata, *columns)


archive_group = _archive_of(table_of(GroupRow), "archive_nvs_group", school_year=False)
archive_registration = _archive_of(table_of(RegistrationRow), "archive_registration", school_year=True)
archive_funding_mark = _archive_of(table_of(FundingMarkRow), "archive_funding_mark", school_year=True)
archive_club_attendance = _archive_of(table_of(ClubAttendanceRow), "archive_club_attendance", school_year=False)
archive_club_direction = _archive_of(table_of(ClubDirectionRow), "archive_club_direction", school_year=True)
Index("ix_archive_nvs_group_school_year", archive_group.c.school_year, archive_group.c.id)
Index("ix_archive_registration_person_id", archive_registration.c.person_id)
Index("ix_archive_registration_school_year", archive_registration.c.school_year, archive_registration.c.id)
Index("ix_archive_funding_mark_registration_id", archive_funding_mark.c.registration_id)
Index("ix_archive_club_attendance_person_id", archive_club_attendance.c.person_id)
Index("ix_archive_club_direction_attendance_id", archive_club_direction.c.attendance_id)

# What the archive has done: ``archived_through``, the newest school year any of whose rows were moved
# (CalculateBasket reads the archive only for months up to that year's end).
archive_state = Table(
    "archive_state",
    Base.metadata,
    Column("name", String(40), primary_key=True),
    Column("value", Integer, nullable=False),
)
