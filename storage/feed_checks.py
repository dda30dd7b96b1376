"""Repositories of the change feed, the data checks and the notices (revision 0300)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import cache
from typing import Any, overload

from sqlalchemy import (
    BigInteger,
    Integer,
    Text,
    and_,
    bindparam,
    cast,
    delete,
    exists,
    func,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from gateway.domain.calendar import Month
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
from gateway.domain.feed import (
    ChangeEvent,
    ChangeKind,
    ClubAttendanceState,
    ErasureState,
    FundingState,
    RegistrationState,
)
from gateway.domain.model import Contract, Departure, PersonRecord, Registration, RegistrationStatus
from gateway.domain.notices import Notice, NoticeKind, NoticeState
from gateway.domain.personal_code import PersonalCode
from gateway.domain.scope import ReadScope
from storage.models import (
    Base,
    ChangeEventRow,
    CheckRunRow,
    DataIssueRow,
    EventData,
    InstitutionCheckRow,
    InstitutionRow,
    NoticeRow,
    PersonCheckRow,
    PersonRow,
    RegistrationRow,
    table_of,
)
from storage.repositories import LARGEST_ID, PendingAccessRecord, _person, _registration

FIXABLE = (PERSONAL_DATA_MISMATCH, RESIDENCE_MISMATCH)


@overload
def _utc(value: dt.datetime) -> dt.datetime: ...
@overload
def _utc(value: dt.datetime | None) -> dt.datetime | None: ...
def _utc(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands timestamps back without their zone; they were written in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _months(values: list[str] | None) -> tuple[Month, ...]:
    return tuple(Month.parse(v) for v in values or ())


# --- the change feed -----------------------------------------------------------------
class SqlFeedRepository:
    """The change feed, and why a follower of its cursor never skips or repeats an event.

    Numbers are taken when the unit of work commits (``publish_pending``), in the same
    transaction as the change. A follower reads "the events after my cursor" and moves its
    cursor to the last one it got, so a reader must never be given number N while a lower
    number can still become visible: had it been, a transaction that took 10 and commits
    after the one that took 11 would be skipped for good.

    SQLite serialises writers (BEGIN IMMEDIATE, storage.db): the highest stored number + 1
    is taken inside the write lock, and whatever a reader sees is a gapless prefix.

    PostgreSQL: numbers come from the sequence ``change_event_sequence_seq``, so writers do
    not wait for one another. Readers see only numbers up to a *watermark*, the highest
    number whose event is *settled*. Each event records ``xid_horizon``, a transaction id
    assigned after its number was taken; a reader's snapshot has ``xmin``, below which every
    transaction has ended (``pg_snapshot_xmin(pg_current_snapshot())``). An event is settled
    when ``xid_horizon < xmin``. Why that is enough, for an event numbered N by transaction T:

    1. every writer has its transaction id *before* it takes a number (``pg_current_xact_id()``
       comes first), and ids are handed out in increasing order;
    2. a transaction U that took M < N took it before T took N (the sequence has CACHE 1), so
       U's id was assigned before T's horizon was: id(U) < xid_horizon(T) < xmin;
    3. below xmin every transaction has ended, so U has committed (and the reader's
       snapshot shows M) or rolled back (M never appears). The same holds for T itself.

    So every event at or below the watermark that will ever exist is visible now, and a
    single SELECT of "after the cursor, up to the watermark" is a gapless prefix of what
    will ever be there (minus the numbers of rolled-back transactions: gaps, never skips).

    The horizon must be assigned *after* the numbers: T's own id will not do, since T
    usually got it with its first write, long before, and a U with a higher id may hold a
    lower number (filtering on the writer's id below xmin would let a reader skip it). A
    fresh id comes from a subtransaction's first write: the database function
    ``change_event_numbers`` (revision 0500) takes the writer's id, the numbers, then writes
    a row to the empty ``change_event_horizon`` in a subtransaction that it rolls back,
    keeping that row's ``xmin`` as the horizon. One round trip, and one plain INSERT after.
    ``pg_snapshot_xmax`` would not do either: it is one past the highest *completed* id, and
    a running transaction can have a higher one.

    The price: a reader sees an event only once every transaction that was writing when
    the event's numbers were taken has ended, a little after the commit (a long writing
    transaction anywhere holds the feed back for as long as it runs). Never out of order,
    never skipped. Readers stay cheap: the primary key on ``sequence`` serves both the
    watermark (a backward scan that stops at the first settled event, near the top) and
    ``sequence > after ORDER BY sequence LIMIT n``.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self._pending: list[ChangeEvent] = []

    def append(self, event: ChangeEvent) -> None:
        self._pending.append(event)

    def discard_pending(self) -> None:
        self._pending.clear()

    def queued(self) -> int:
        """How many events are queued (for a savepoint to come back to)."""
        return len(self._pending)

    def discard_queued_after(self, count: int) -> None:
        del self._pending[count:]

    def publish_pending(self, access_records: Sequence[PendingAccessRecord] = ()) -> list[int]:
        """Number the queued events and insert them, and write the transaction's access-log records
        (``SqlAccessLogRepository.append``); the caller commits right after."""
        if self._postgresql and len(self._pending) == 1 and len(access_records) == 1:
            # A call's one change and its one record: one statement.
            ctes, parameters = access_records[0].beside()
            return [self._publish_one(ctes, parameters)]
        for record in access_records:
            record.write(self.session)
        if not self._pending:
            return []
        if self._postgresql:
            numbers = self._publish_with_horizon()
        else:
            first = (self.session.scalar(select(func.max(ChangeEventRow.sequence))) or 0) + 1
            numbers = list(range(first, first + len(self._pending)))
            self.session.execute(
                insert(table_of(ChangeEventRow)),
                [_event_values(e, n) for e, n in zip(self._pending, numbers, strict=False)],
            )
        self._pending.clear()
        return numbers

    def _publish_with_horizon(self) -> list[int]:
        # change_event_numbers (revision 0500): this transaction's id, then the numbers, then a
        # fresh id for the horizon, from a subtransaction that writes and rolls back.
        if len(self._pending) == 1:  # a single call's one event: the numbers and the row in one statement
            return [self._publish_one()]
        taken = self.session.execute(_TAKE_NUMBERS, {"count": len(self._pending)}).all()
        numbers = sorted(number for number, _ in taken)
        horizon = taken[0][1]
        self.session.execute(
            insert(table_of(ChangeEventRow)),
            [_event_values(e, n) | {"xid_horizon": horizon} for e, n in zip(self._pending, numbers, strict=False)],
        )
        return numbers

    def _publish_one(self, ctes: tuple[Any, ...] = (), beside: dict[str, Any] | None = None) -> int:
        values = _event_values(self._pending[0], 0)
        del values["sequence"]
        number = self.session.execute(_one_event_statement(ctes), values | (beside or {})).scalar_one()
        self._pending.clear()
        return number

    @property
    def _postgresql(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    def last_sequence(self) -> int:
        """The watermark: the highest number a reader may be given now (0: none yet)."""
        if self._postgresql:
            return self.session.scalar(select(func.coalesce(_watermark(), 0))) or 0
        return self.session.scalar(select(func.max(ChangeEventRow.sequence))) or 0

    def read(self, scope: ReadScope, after: int, limit: int) -> list[ChangeEvent]:
        if scope.is_empty:
            return []
        query = select(ChangeEventRow).where(ChangeEventRow.sequence > after)
        if self._postgresql:  # one statement, so one snapshot for the watermark and the events
            query = query.where(ChangeEventRow.sequence <= _watermark())
        if not scope.everything:
            conditions = []
            if scope.institution_codes:
                conditions.append(ChangeEventRow.institution_code.in_(sorted(scope.institution_codes)))
            if scope.municipality_codes:
                conditions.append(ChangeEventRow.municipality_code.in_(sorted(scope.municipality_codes)))
            query = query.where(or_(*conditions))
        rows = self.session.scalars(query.order_by(ChangeEventRow.sequence).limit(limit))
        return [_event(row) for row in rows]


# Built once (a write's every call takes numbers): the numbers and the horizon, change_event_numbers(count).
_TAKE_NUMBERS = select(literal_column("number", BigInteger), literal_column("horizon", BigInteger)).select_from(
    func.change_event_numbers(bindparam("count", type_=Integer))
)


@cache
def _one_event_statement(ctes: tuple[Any, ...]) -> Any:
    """One event numbered and written, INSERT .. SELECT FROM change_event_numbers(1); with ``ctes``, the
    writes of those CTEs in the same statement. Built once for each (a handful: PendingAccessRecord.beside)."""
    events = table_of(ChangeEventRow)
    columns = [c for c in events.c if c.name not in ("sequence", "xid_horizon")]
    taken = select(
        literal_column("number", BigInteger),
        literal_column("horizon", BigInteger),
        # Typed (psycopg's dialect writes the type beside it): a parameter in a select list has no column to take it from.
        *[bindparam(c.name, type_=c.type) for c in columns],
    ).select_from(func.change_event_numbers(1))
    statement = (
        insert(events)
        .from_select(["sequence", "xid_horizon", *(c.name for c in columns)], taken)
        .returning(events.c.sequence)
    )
    return statement.add_cte(*ctes) if ctes else statement


def _watermark() -> Any:
    """The highest settled number in the statement's snapshot (NULL: none yet)."""
    settled = ChangeEventRow.__table__.alias("settled")
    xmin = cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)
    return (
        select(settled.c.sequence)
        .where(settled.c.xid_horizon < xmin)
        .order_by(settled.c.sequence.desc())
        .limit(1)
        .scalar_subquery()
    )


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def _day(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def _event_values(event: ChangeEvent, sequence: int) -> dict[str, Any]:
    data: EventData = {}
    r = event.registration
    if r is not None:
        data["registration"] = {
            "registrationId": r.registration_id,
            "status": r.status,
            "groupId": r.group_id,
            "groupName": r.group_name,
            "schoolYear": r.school_year,
            "programCode": r.program_code,
            "firstLearningDate": r.first_learning_date.isoformat(),
            "registeredOn": r.registered_on.isoformat(),
            "contract": {
                "typeCode": r.contract.type_code,
                "date": r.contract.signed_on.isoformat(),
                "number": r.contract.number,
            }
            if r.contract
            else None,
            "departure": {
                "date": r.departure.date.isoformat(),
                "reasonCode": r.departure.reason_code,
                "orderNumber": r.departure.order_number,
            }
            if r.departure
            else None,
            "cancelledOn": _date(r.cancelled_on),
        }
    f = event.funding
    if f is not None:
        data["funding"] = {
            "markId": f.mark_id,
            "registrationId": f.registration_id,
            "fundingTypeCode": f.funding_type,
            "fromMonth": str(f.from_month),
            "toMonth": str(f.to_month),
            "specialNeeds": f.special_needs,
        }
    c = event.club_attendance
    if c is not None:
        data["clubAttendance"] = {
            "attendanceId": c.attendance_id,
            "schoolYear": c.school_year,
            "directionCodes": list(c.direction_codes),
            "subDirectionCodes": list(c.sub_direction_codes),
            "endedOn": _date(c.ended_on),
        }
    e = event.erasure
    if e is not None:
        data["erasure"] = {
            "registrationIds": list(e.registration_ids),
            "clubAttendanceIds": list(e.club_attendance_ids),
        }
    return dict(
        sequence=sequence,
        kind=event.kind.value,
        occurred_at=event.occurred_at,
        institution_code=event.institution_code,
        municipality_code=event.municipality_code,
        personal_code=event.personal_code.value,
        registration_id=r.registration_id if r else (f.registration_id if f else None),
        data=data,
    )


def _event(row: ChangeEventRow) -> ChangeEvent:
    data = row.data or {}
    registration = funding = club = None
    if "registration" in data:
        r = data["registration"]
        contract = r.get("contract")
        departure = r.get("departure")
        registration = RegistrationState(
            registration_id=r["registrationId"],
            status=r["status"],
            group_id=r["groupId"],
            group_name=r["groupName"],
            school_year=r["schoolYear"],
            program_code=r["programCode"],
            first_learning_date=dt.date.fromisoformat(r["firstLearningDate"]),
            registered_on=dt.date.fromisoformat(r["registeredOn"]),
            contract=Contract(contract["typeCode"], dt.date.fromisoformat(contract["date"]), contract["number"])
            if contract
            else None,
            departure=Departure(
                dt.date.fromisoformat(departure["date"]), departure["reasonCode"], departure.get("orderNumber")
            )
            if departure
            else None,
            cancelled_on=_day(r.get("cancelledOn")),
        )
    if "funding" in data:
        f = data["funding"]
        funding = FundingState(
            mark_id=f["markId"],
            registration_id=f["registrationId"],
            funding_type=f["fundingTypeCode"],
            from_month=Month.parse(f["fromMonth"]),
            to_month=Month.parse(f["toMonth"]),
            special_needs=bool(f.get("specialNeeds")),
        )
    if "clubAttendance" in data:
        c = data["clubAttendance"]
        club = ClubAttendanceState(
            attendance_id=c["attendanceId"],
            school_year=c["schoolYear"],
            direction_codes=tuple(c.get("directionCodes") or ()),
            sub_direction_codes=tuple(c.get("subDirectionCodes") or ()),
            ended_on=_day(c.get("endedOn")),
        )
    erasure = None
    if "erasure" in data:
        e = data["erasure"]
        erasure = ErasureState(tuple(e["registrationIds"]), tuple(e["clubAttendanceIds"]))
    return ChangeEvent(
        kind=ChangeKind(row.kind),
        institution_code=row.institution_code,
        personal_code=PersonalCode.stored(row.personal_code),
        occurred_at=_utc(row.occurred_at),
        registration=registration,
        funding=funding,
        club_attendance=club,
        erasure=erasure,
        municipality_code=row.municipality_code,
        sequence=row.sequence,
    )


# --- notices ---------------------------------------------------------------------------
class SqlNoticeRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def add(self, notice: Notice) -> bool:
        values = dict(
            institution_code=notice.institution_code,
            kind=notice.kind.value,
            created_at=notice.created_at,
            message=notice.message,
            personal_code=notice.personal_code.value if notice.personal_code else None,
            registration_id=notice.registration_id,
            months=[str(m) for m in notice.months],
            issue_code=notice.issue_code,
            dedup_key=notice.dedup_key,
            acknowledged=False,
        )
        # One statement: the unique (institution, dedup key) decides, also against a concurrent
        # transaction raising the same notice; a NULL key never conflicts.
        statement = _insert_or_ignore(self.session, NoticeRow).values(**values).returning(NoticeRow.id)
        return self.session.execute(statement).scalar_one_or_none() is not None

    def get(self, notice_id: int) -> Notice | None:
        if not 0 < notice_id <= LARGEST_ID:  # the column is an int4: PostgreSQL would refuse the parameter
            return None
        row = self.session.get(NoticeRow, notice_id)
        return _notice(row) if row else None

    def acknowledge(self, notice_id: int, *, at: dt.datetime, by: str) -> Notice:
        row = self.session.get(NoticeRow, notice_id)
        assert row is not None
        if not row.acknowledged:
            row.acknowledged, row.acknowledged_at, row.acknowledged_by = True, at, by
            self.session.flush()
        return _notice(row)

    def page(
        self,
        institution_code: str,
        state: NoticeState,
        kind: NoticeKind | None,
        after: tuple[bool, int] | None,
        limit: int,
    ) -> list[Notice]:
        query = select(NoticeRow).where(NoticeRow.institution_code == institution_code)
        if state is NoticeState.UNACKNOWLEDGED:
            query = query.where(NoticeRow.acknowledged.is_(False))
        elif state is NoticeState.ACKNOWLEDGED:
            query = query.where(NoticeRow.acknowledged.is_(True))
        if kind is not None:
            query = query.where(NoticeRow.kind == kind.value)
        if after is not None:
            acknowledged, last_id = after
            if acknowledged:
                query = query.where(NoticeRow.acknowledged.is_(True), NoticeRow.id < last_id)
            else:
                query = query.where(
                    or_(
                        NoticeRow.acknowledged.is_(True),
                        and_(NoticeRow.acknowledged.is_(False), NoticeRow.id < last_id),
                    )
                )
        rows = self.session.scalars(query.order_by(NoticeRow.acknowledged, NoticeRow.id.desc()).limit(limit))
        return [_notice(r) for r in rows]

    def count_unacknowledged(self, institution_code: str) -> int:
        return (
            self.session.scalar(
                select(func.count()).where(
                    NoticeRow.institution_code == institution_code, NoticeRow.acknowledged.is_(False)
                )
            )
            or 0
        )


def _insert_or_ignore(session: Session, table: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """INSERT ... ON CONFLICT DO NOTHING, in the dialect of the session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table_of(table)).on_conflict_do_nothing()
    return sqlite.insert(table_of(table)).on_conflict_do_nothing()


def _notice(row: NoticeRow) -> Notice:
    return Notice(
        id=row.id,
        institution_code=row.institution_code,
        kind=NoticeKind(row.kind),
        created_at=_utc(row.created_at),
        message=row.message,
        personal_code=PersonalCode.stored(row.personal_code) if row.personal_code else None,
        registration_id=row.registration_id,
        months=_months(row.months),
        issue_code=row.issue_code,
        dedup_key=row.dedup_key,
        acknowledged_at=_utc(row.acknowledged_at),
        acknowledged_by=row.acknowledged_by,
    )


# --- data checks -------------------------------------------------------------------------
class SqlCheckRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # runs
    def running_run(self, kind: CheckKind) -> CheckRun | None:
        row = self.session.scalar(
            select(CheckRunRow)
            .where(CheckRunRow.kind == kind.value, CheckRunRow.status == RunStatus.RUNNING.value)
            .order_by(CheckRunRow.id.desc())
            .limit(1)
        )
        return _run(row) if row else None

    def start_run(self, kind: CheckKind, *, at: dt.datetime, total: int) -> CheckRun:
        row = CheckRunRow(kind=kind.value, status=RunStatus.RUNNING.value, started_at=at, total=total, done=0)
        self.session.add(row)
        self.session.flush()
        return _run(row)

    def set_progress(self, run_id: int, *, done: int, total: int) -> None:
        self.session.execute(
            update(CheckRunRow).where(CheckRunRow.id == run_id).values(done=done, total=total),
            execution_options={"synchronize_session": False},
        )

    def finish_run(self, run_id: int, status: RunStatus, *, at: dt.datetime) -> None:
        self.session.execute(
            update(CheckRunRow).where(CheckRunRow.id == run_id).values(status=status.value, finished_at=at),
            execution_options={"synchronize_session": False},
        )

    def complete_run(self, run: CheckRun, *, at: dt.datetime, institution_codes: list[str] | None) -> None:
        self.finish_run(run.id, RunStatus.COMPLETED, at=at)
        codes = (
            institution_codes
            if institution_codes is not None
            else list(self.session.scalars(select(InstitutionRow.code)))
        )
        existing = {
            row.institution_code: row
            for row in self.session.scalars(
                select(InstitutionCheckRow).where(InstitutionCheckRow.check_kind == run.kind.value)
            )
        }
        for code in codes:
            row = existing.get(code)
            if row is None:
                self.session.add(
                    InstitutionCheckRow(institution_code=code, check_kind=run.kind.value, run_id=run.id, checked_at=at)
                )
            else:
                row.run_id, row.checked_at = run.id, at
        self.session.flush()
        # Findings of earlier runs that no institution's status shows any more.
        shown = select(InstitutionCheckRow.run_id).where(
            InstitutionCheckRow.institution_code == DataIssueRow.institution_code,
            InstitutionCheckRow.check_kind == DataIssueRow.check_kind,
        )
        self.session.execute(
            delete(DataIssueRow).where(
                DataIssueRow.check_kind == run.kind.value,
                DataIssueRow.run_id != run.id,
                ~DataIssueRow.run_id.in_(shown.scalar_subquery()),
            ),
            execution_options={"synchronize_session": False},
        )
        # The per-person results serve to resume a run. This run's stay until the next one completes:
        # a second process still finishing this run must find them (or it would store findings twice).
        finished = select(CheckRunRow.id).where(
            CheckRunRow.kind == run.kind.value, CheckRunRow.status != RunStatus.RUNNING.value, CheckRunRow.id != run.id
        )
        self.session.execute(
            delete(PersonCheckRow).where(PersonCheckRow.run_id.in_(finished)),
            execution_options={"synchronize_session": False},
        )

    # the population-register check
    # Erased persons (past their retention) are no longer compared: nothing of them is left to compare.
    def count_persons(self) -> int:
        return self.session.scalar(select(func.count()).where(PersonRow.erased_on.is_(None))) or 0

    def count_checked(self, run_id: int) -> int:
        return self.session.scalar(select(func.count()).where(PersonCheckRow.run_id == run_id)) or 0

    def unchecked_persons(self, run_id: int, *, after: int, limit: int) -> list[tuple[int, PersonRecord]]:
        checked = exists().where(PersonCheckRow.run_id == run_id, PersonCheckRow.person_id == PersonRow.id)
        rows = self.session.scalars(
            select(PersonRow)
            .where(PersonRow.id > after, PersonRow.erased_on.is_(None), ~checked)
            .order_by(PersonRow.id)
            .limit(limit)
        )
        return [(row.id, _person(row)) for row in rows]

    def save_comparison(self, run_id: int, position: int, comparison: PersonComparison) -> bool:
        statement = (
            _insert_or_ignore(self.session, PersonCheckRow)
            .values(
                run_id=run_id,
                person_id=position,
                known_to_register=comparison.known_to_register,
                personal_data_fields=[f.value for f in comparison.personal_data],
                residence_fields=[f.value for f in comparison.residence],
            )
            .returning(PersonCheckRow.person_id)
        )
        return self.session.execute(statement).scalar_one_or_none() is not None

    def registrations_of(self, personal_codes: list[PersonalCode]) -> list[Registration]:
        if not personal_codes:
            return []
        rows = self.session.execute(
            select(RegistrationRow, PersonRow.personal_code)
            .join(PersonRow, PersonRow.id == RegistrationRow.person_id)
            .where(
                PersonRow.personal_code.in_([c.value for c in personal_codes]),
                RegistrationRow.status != RegistrationStatus.CANCELLED.value,
            )
            .order_by(RegistrationRow.id)
        )
        return [_registration(row, code) for row, code in rows]

    # the student data check
    def count_registrations(self, provider_code: str | None) -> int:
        query = select(func.count()).where(RegistrationRow.status != RegistrationStatus.CANCELLED.value)
        if provider_code is not None:
            query = query.where(RegistrationRow.provider_code == provider_code)
        return self.session.scalar(query) or 0

    def registrations_page(self, *, after: int, limit: int, provider_code: str | None) -> list[Registration]:
        query = (
            select(RegistrationRow, PersonRow.personal_code)
            .join(PersonRow, PersonRow.id == RegistrationRow.person_id)
            .where(RegistrationRow.id > after, RegistrationRow.status != RegistrationStatus.CANCELLED.value)
        )
        if provider_code is not None:
            query = query.where(RegistrationRow.provider_code == provider_code)
        rows = self.session.execute(query.order_by(RegistrationRow.id).limit(limit))
        return [_registration(row, code) for row, code in rows]

    # findings
    def add_issue(self, issue: DataIssue) -> None:
        # A plain INSERT, not an ORM object: the check reads between adds, and pending
        # objects would be flushed before every one of those reads.
        self.session.execute(
            insert(DataIssueRow).values(
                run_id=issue.run_id,
                check_kind=issue.check.value,
                code=issue.code,
                institution_code=issue.institution_code,
                personal_code=issue.personal_code.value if issue.personal_code else None,
                registration_id=issue.registration_id,
                months=[str(m) for m in issue.months],
                message=issue.message,
                detected_at=issue.detected_at,
            )
        )

    def status(self, institution_code: str, kind: CheckKind) -> CheckStatus | None:
        row = self.session.get(InstitutionCheckRow, (institution_code, kind.value))
        if row is None:
            return None
        counts = self.session.execute(
            select(DataIssueRow.code, func.count())
            .where(
                DataIssueRow.institution_code == institution_code,
                DataIssueRow.check_kind == kind.value,
                DataIssueRow.run_id == row.run_id,
                DataIssueRow.resolved_at.is_(None),
            )
            .group_by(DataIssueRow.code)
        )
        by_category: dict[Category, int] = {}
        for code, count in counts:
            category = ISSUE_TYPES[code].category
            by_category[category] = by_category.get(category, 0) + count
        return CheckStatus(kind, _utc(row.checked_at), by_category)

    def _open_issues(self, institution_code: str):
        return (
            select(DataIssueRow)
            .join(
                InstitutionCheckRow,
                and_(
                    InstitutionCheckRow.institution_code == DataIssueRow.institution_code,
                    InstitutionCheckRow.check_kind == DataIssueRow.check_kind,
                    InstitutionCheckRow.run_id == DataIssueRow.run_id,
                ),
            )
            .where(DataIssueRow.institution_code == institution_code, DataIssueRow.resolved_at.is_(None))
        )

    def issues_page(
        self, institution_code: str, *, check: CheckKind | None, code: str | None, after: int, limit: int
    ) -> list[DataIssue]:
        query = self._open_issues(institution_code).where(DataIssueRow.id > after)
        if check is not None:
            query = query.where(DataIssueRow.check_kind == check.value)
        if code is not None:
            query = query.where(DataIssueRow.code == code)
        rows = self.session.scalars(query.order_by(DataIssueRow.id).limit(limit))
        return [_issue(r) for r in rows]

    def persons_to_fix(
        self, institution_code: str, personal_code: PersonalCode | None, limit: int
    ) -> list[PersonalCode]:
        query = self._open_issues(institution_code).where(
            DataIssueRow.check_kind == CheckKind.POPULATION_REGISTER.value, DataIssueRow.code.in_(FIXABLE)
        )
        if personal_code is not None:
            query = query.where(DataIssueRow.personal_code == personal_code.value)
        codes = self.session.scalars(
            select(query.subquery().c.personal_code).distinct().order_by("personal_code").limit(limit)
        )
        return [PersonalCode.stored(c) for c in codes if c]

    def resolve_population_register_issues(self, personal_code: PersonalCode, *, at: dt.datetime) -> None:
        self.session.execute(
            update(DataIssueRow)
            .where(
                DataIssueRow.personal_code == personal_code.value,
                DataIssueRow.check_kind == CheckKind.POPULATION_REGISTER.value,
                DataIssueRow.code.in_(FIXABLE),
                DataIssueRow.resolved_at.is_(None),
            )
            .values(resolved_at=at),
            execution_options={"synchronize_session": False},
        )


def _run(row: CheckRunRow) -> CheckRun:
    return CheckRun(
        id=row.id,
        kind=CheckKind(row.kind),
        status=RunStatus(row.status),
        started_at=_utc(row.started_at),
        finished_at=_utc(row.finished_at),
        total=row.total,
        done=row.done,
    )


def _issue(row: DataIssueRow) -> DataIssue:
    return DataIssue(
        id=row.id,
        run_id=row.run_id,
        check=CheckKind(row.check_kind),
        code=row.code,
        institution_code=row.institution_code,
        message=row.message,
        detected_at=_utc(row.detected_at),
        personal_code=PersonalCode.stored(row.personal_code) if row.personal_code else None,
        registration_id=row.registration_id,
        months=_months(row.months),
        resolved_at=_utc(row.resolved_at),
    )
