"""Repositories of club marks, formal enrolments and the lists.

The lists are read with SQLAlchemy Core selects of plain columns, never ORM entities: a
batch of rows becomes domain rows and nothing of it stays in the session, so reading a
list batch after batch (an export of hundreds of thousands of rows) keeps memory flat.
Every list is keyset-paged over the keys of ``gateway.domain.lists.ORDERS``; the
indexes of revision 0200 serve those orders.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Row, Select, and_, delete, exists, false, func, literal, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import ColumnElement, UnaryExpression

from gateway.domain import classifiers as cls
from gateway.domain.calendar import SchoolYear
from gateway.domain.clubs import ClubAttendance, Enrolment, EnrolmentSource
from gateway.domain.lists import (
    ArrivalFilter,
    BasketFilter,
    BasketMonthsFilter,
    BasketRecipient,
    ClubFilter,
    DepartureFilter,
    LearnerFilter,
    LearningFilter,
    ListedClubAttendance,
    ListedPerson,
    ListedRegistration,
    ListName,
    ListQuery,
    Scope,
    ScopeKind,
)
from gateway.domain.model import ProgramPurpose, RegistrationStatus
from gateway.domain.personal_code import PersonalCode
from storage.models import (
    BasketClaimRow,
    ClubAttendanceRow,
    ClubDirectionRow,
    FundingMarkRow,
    GroupRow,
    InstitutionRow,
    PersonRow,
    ProgramRow,
    RegistrationRow,
    SchoolEnrolmentRow,
)
from storage.repositories import LARGEST_ID, SqlClassifierRepository, SqlPersonRepository

CANCELLED = RegistrationStatus.CANCELLED.value


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# --- club marks -------------------------------------------------------------------------
class SqlClubRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _select(self) -> Select[ClubAttendanceRow, str]:
        return select(ClubAttendanceRow, PersonRow.personal_code).join(
            PersonRow, PersonRow.id == ClubAttendanceRow.person_id
        )

    def get(self, attendance_id: int) -> ClubAttendance | None:
        if not 0 < attendance_id <= LARGEST_ID:  # the column is an int4: PostgreSQL would refuse the parameter
            return None
        found = self.session.execute(self._select().where(ClubAttendanceRow.id == attendance_id)).first()
        return self._attendance(*found) if found else None

    def active_of(
        self, personal_code: PersonalCode, school_code: str, school_year: SchoolYear
    ) -> ClubAttendance | None:
        found = self.session.execute(
            self._select().where(
                PersonRow.personal_code == personal_code.value,
                ClubAttendanceRow.school_code == school_code,
                ClubAttendanceRow.school_year == school_year.first_year,
                ClubAttendanceRow.end_date.is_(None),
            )
        ).first()
        return self._attendance(*found) if found else None

    def of_person(self, personal_code: PersonalCode) -> list[ClubAttendance]:
        """Every club mark of a pupil, newest school year first (the portal's child record)."""
        rows = self.session.execute(
            self._select()
            .where(PersonRow.personal_code == personal_code.value)
            .order_by(ClubAttendanceRow.school_year.desc(), ClubAttendanceRow.from_date.desc(), ClubAttendanceRow.id)
        )
        return [self._attendance(*row) for row in rows]

    def save(self, attendance: ClubAttendance) -> ClubAttendance:
        """Insert a new mark, or update one; a new mark racing another for the same pupil, school
        and year (the unique index on marks in force) becomes an update of the one that won."""
        if attendance.id is None:
            person_id = SqlPersonRepository(self.session).id_of(attendance.personal_code)
            if person_id is None:
                raise LookupError("the person must be saved before their club attendance")
            savepoint = self.session.begin_nested()
            try:
                row = ClubAttendanceRow(person_id=person_id, created_at=_now(), updated_at=_now())
                self._fill(row, attendance)
                self.session.add(row)
                self.session.flush()
            except IntegrityError:
                savepoint.rollback()
                winner = self.active_of(attendance.personal_code, attendance.school_code, attendance.school_year)
                assert winner is not None, "the unique index said a mark is in force"
                return self.save(replace(attendance, id=winner.id))
            savepoint.commit()
        else:
            existing = self.session.get(ClubAttendanceRow, attendance.id)
            assert existing is not None, "an attendance with an id was read from the store"
            row = existing
            self._fill(row, attendance)
            row.updated_at = _now()
        self._replace_directions(row.id, attendance)
        self.session.flush()
        stored = self.get(row.id)
        assert stored is not None
        return stored

    @staticmethod
    def _fill(row: ClubAttendanceRow, attendance: ClubAttendance) -> None:
        row.school_code = attendance.school_code
        row.school_year = attendance.school_year.first_year
        row.from_date = attendance.from_date
        row.end_date = attendance.end_date
        row.marked_on = attendance.marked_on

    def _replace_directions(self, attendance_id: int, attendance: ClubAttendance) -> None:
        classifiers = SqlClassifierRepository(self.session).load()
        self.session.execute(delete(ClubDirectionRow).where(ClubDirectionRow.attendance_id == attendance_id))
        rows = [
            ClubDirectionRow(attendance_id=attendance_id, direction_code=code, sub_direction_code=None, position=index)
            for index, code in enumerate(attendance.direction_codes)
        ]
        for index, code in enumerate(attendance.sub_direction_codes):
            entry = classifiers.get(cls.NVS_SUB_DIRECTION, code)
            assert entry is not None and entry.parent, "sub-directions are checked by the domain"
            rows.append(
                ClubDirectionRow(
                    attendance_id=attendance_id, direction_code=entry.parent, sub_direction_code=code, position=index
                )
            )
        self.session.add_all(rows)

    def _attendance(self, row: ClubAttendanceRow, personal_code: str) -> ClubAttendance:
        directions, sub_directions = directions_of(self.session, [row.id]).get(row.id, ((), ()))
        return ClubAttendance(
            id=row.id,
            personal_code=PersonalCode.stored(personal_code),
            school_code=row.school_code,
            school_year=SchoolYear(row.school_year),
            direction_codes=directions,
            sub_direction_codes=sub_directions,
            from_date=row.from_date,
            marked_on=row.marked_on,
            end_date=row.end_date,
        )


def directions_of(session: Session, attendance_ids: list[int]) -> dict[int, tuple[tuple[str, ...], tuple[str, ...]]]:
    """The directions and sub-directions of each mark, in the order the school sent them."""
    found: dict[int, tuple[list[str], list[str]]] = {i: ([], []) for i in attendance_ids}
    if not attendance_ids:
        return {}
    rows = session.execute(
        select(ClubDirectionRow.attendance_id, ClubDirectionRow.direction_code, ClubDirectionRow.sub_direction_code)
        .where(ClubDirectionRow.attendance_id.in_(attendance_ids))
        .order_by(ClubDirectionRow.attendance_id, ClubDirectionRow.position, ClubDirectionRow.id)
    )
    for attendance_id, direction, sub_direction in rows:
        directions, sub_directions = found[attendance_id]
        if sub_direction is None:
            directions.append(direction)
        else:
            sub_directions.append(sub_direction)
    return {i: (tuple(d), tuple(s)) for i, (d, s) in found.items()}


# --- formal enrolments --------------------------------------------------------------------
class SqlEnrolmentRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def of_person(self, personal_code: PersonalCode) -> list[Enrolment]:
        rows = self.session.scalars(
            select(SchoolEnrolmentRow)
            .where(SchoolEnrolmentRow.personal_code == personal_code.value)
            .order_by(SchoolEnrolmentRow.school_year, SchoolEnrolmentRow.from_date, SchoolEnrolmentRow.id)
        )
        return [_enrolment(r) for r in rows]

    def ensure(self, enrolment: Enrolment) -> bool:
        """Record the enrolment unless the child already has one at that school that year; True when added.

        A club mark never overrides what the formal-enrolment import says."""
        query = select(SchoolEnrolmentRow.id).where(*_same_enrolment(enrolment))
        if self.session.scalar(query) is not None:
            return False
        savepoint = self.session.begin_nested()
        try:
            self.session.add(_row(enrolment))
            self.session.flush()
        except IntegrityError:  # a concurrent request recorded it first: that one stands
            savepoint.rollback()
            return False
        savepoint.commit()
        return True

    def upsert_many(self, enrolments: Iterable[Enrolment]) -> dict[str, int]:
        """Store imported enrolments: 'created', 'updated' or 'unchanged' counts. An imported
        enrolment replaces one the clubs recorded (it becomes source 'import')."""
        outcomes = {"created": 0, "updated": 0, "unchanged": 0}
        batch: list[Enrolment] = []
        for enrolment in enrolments:
            batch.append(enrolment)
            if len(batch) == 1000:
                self._upsert_batch(batch, outcomes)
                batch = []
        if batch:
            self._upsert_batch(batch, outcomes)
        self.session.flush()
        return outcomes

    def _upsert_batch(self, batch: list[Enrolment], outcomes: dict[str, int]) -> None:
        codes = {e.personal_code.value for e in batch}
        existing = {
            (r.personal_code, r.school_year, r.school_code): r
            for r in self.session.scalars(select(SchoolEnrolmentRow).where(SchoolEnrolmentRow.personal_code.in_(codes)))
        }
        for enrolment in batch:
            key = (enrolment.personal_code.value, enrolment.school_year.first_year, enrolment.school_code)
            row = existing.get(key)
            if row is None:
                row = _row(enrolment)
                self.session.add(row)
                existing[key] = row
                outcomes["created"] += 1
            elif _enrolment(row) == enrolment:
                outcomes["unchanged"] += 1
            else:
                row.from_date, row.to_date, row.source, row.updated_at = (
                    enrolment.from_date,
                    enrolment.to_date,
                    enrolment.source.value,
                    _now(),
                )
                outcomes["updated"] += 1
        self.session.flush()
        for row in existing.values():
            self.session.expunge(row)


def _same_enrolment(enrolment: Enrolment) -> list[ColumnElement[bool]]:
    return [
        SchoolEnrolmentRow.personal_code == enrolment.personal_code.value,
        SchoolEnrolmentRow.school_year == enrolment.school_year.first_year,
        SchoolEnrolmentRow.school_code == enrolment.school_code,
    ]


def _row(enrolment: Enrolment) -> SchoolEnrolmentRow:
    return SchoolEnrolmentRow(
        personal_code=enrolment.personal_code.value,
        school_code=enrolment.school_code,
        school_year=enrolment.school_year.first_year,
        from_date=enrolment.from_date,
        to_date=enrolment.to_date,
        source=enrolment.source.value,
        updated_at=_now(),
    )


def _enrolment(row: SchoolEnrolmentRow) -> Enrolment:
    return Enrolment(
        personal_code=PersonalCode.stored(row.personal_code),
        school_code=row.school_code,
        school_year=SchoolYear(row.school_year),
        from_date=row.from_date,
        to_date=row.to_date,
        source=EnrolmentSource(row.source),
    )


# --- the lists --------------------------------------------------------------------------------
def _stored_code(value: str) -> PersonalCode:
    """A personal code read back from storage: validated when it was stored, so not again here
    (python-stdnum's check is half the cost of exporting a row)."""
    code = object.__new__(PersonalCode)
    object.__setattr__(code, "value", value)
    return code


def _person(code: str, first_name: str, last_name: str, birth_date: dt.date | None) -> ListedPerson:
    return ListedPerson(_stored_code(code), first_name, last_name, birth_date)


def _in_municipality(
    municipality: str, person_id: Any, personal_code: Any, school_year: Any, own_institution: Any
) -> ColumnElement[bool]:
    """The municipality scope of gateway.domain.lists: in the row's school year, the child has a
    registration (not cancelled) with a provider located in the municipality, or attends a
    general-education school located in it. The row's own institution is tried first (cheap).

    The two per-child tests are scalar subqueries with LIMIT 1, not EXISTS: PostgreSQL turns an
    EXISTS under OR into a hashed subplan over every registration of the municipality, rebuilt
    for every batch; a scalar subquery is an index probe per row."""
    own = InstitutionRow.__table__.alias("own_institution")
    r2, g2, i2 = aliased(RegistrationRow), aliased(GroupRow), aliased(InstitutionRow)
    e, i3 = aliased(SchoolEnrolmentRow), aliased(InstitutionRow)
    registered_there = (
        select(literal(1))
        .select_from(r2)
        .join(g2, g2.id == r2.group_id)
        .join(i2, i2.code == r2.provider_code)
        .where(
            r2.person_id == person_id,
            r2.status != CANCELLED,
            g2.school_year == school_year,
            i2.municipality_code == municipality,
        )
        .limit(1)
        .scalar_subquery()
    )
    at_school_there = (
        select(literal(1))
        .select_from(e)
        .join(i3, i3.code == e.school_code)
        .where(e.personal_code == personal_code, e.school_year == school_year, i3.municipality_code == municipality)
        .limit(1)
        .scalar_subquery()
    )
    return or_(
        exists(
            select(literal(1))
            .select_from(own)
            .where(own.c.code == own_institution, own.c.municipality_code == municipality)
        ),
        registered_there.is_not(None),
        at_school_there.is_not(None),
    )


def _scoped(
    scope: Scope, *, person_id: Any, personal_code: Any, school_year: Any, own_institution: Any
) -> ColumnElement[bool]:
    if scope.kind is ScopeKind.EVERYTHING:
        return true()
    if scope.kind is ScopeKind.INSTITUTION:
        return own_institution == scope.code
    if scope.kind is ScopeKind.MUNICIPALITY:
        assert scope.code is not None
        return _in_municipality(scope.code, person_id, personal_code, school_year, own_institution)
    return false()  # pragma: no cover - every kind is handled above


def _after(keys: tuple[Any, ...] | None, columns: tuple[Any, ...]) -> ColumnElement[bool]:
    """Rows strictly after the cursor's keys in the order of ``columns`` (keyset paging)."""
    if keys is None:
        return true()
    if len(columns) == 1:
        return columns[0] > keys[0]
    first, rest = columns[0], columns[1:]
    # The leading >= lets an index on the columns bound the scan; the OR does the rest.
    return and_(first >= keys[0], or_(first > keys[0], _after(keys[1:], rest)))


def _until(keys: tuple[Any, ...], columns: tuple[Any, ...]) -> ColumnElement[bool]:
    """Rows up to and including ``keys`` in the order of ``columns`` (the end of a window)."""
    if len(columns) == 1:
        return columns[0] <= keys[0]
    first, rest = columns[0], columns[1:]
    return and_(first <= keys[0], or_(first < keys[0], _until(keys[1:], rest)))


AnySelect = Select[*tuple[Any, ...]]  # a select of columns the type checker need not count
Rows = Sequence[Row[*tuple[Any, ...]]]


@dataclass(frozen=True)
class _Plan:
    """A list's query without its keyset, how to build rows, its order, and (for windows) the
    order's keys read from the driving table alone."""

    statement: AnySelect
    build: Callable[[Rows], list[Any]]
    order: tuple[Any, ...]
    window: AnySelect


WINDOW = 4000  # rows of the driving table a municipality-scoped query looks at, at most


class SqlListRepository:
    """One batch of a list at a time: ``rows(query, limit)``; ``count(query)`` for progress bars.

    A batch must cost the same wherever it starts, or a whole export costs the square of its
    length: the plan has to walk the index of the list's order from the cursor and stop after
    ``limit`` rows, not gather every remaining row and sort them. PostgreSQL finds that plan from
    its statistics. SQLite's planner prefers an index on a filter (the group, the first learning
    date) and then sorts; there, a unary ``+`` (SQLite's documented way to keep a term off an
    index) leaves it the order's index.
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        bind = session.get_bind()
        self._sqlite = bind.dialect.name == "sqlite"

    def _not_an_entry(self, column: Any) -> Any:
        """``column`` as a term no index is entered by, on SQLite (elsewhere: itself)."""
        if not self._sqlite:
            return column
        return UnaryExpression(column, operator=operators.custom_op("+"), type_=column.type)

    def rows(self, query: ListQuery, limit: int) -> list[Any]:
        plan = self._statement(query)
        after = query.request.after
        if query.scope.kind is not ScopeKind.MUNICIPALITY:
            statement = plan.statement.where(_after(after, plan.order)).order_by(*plan.order).limit(limit)
            return plan.build(self.session.execute(statement).all())
        # A municipality's rows may be few and far between in the order, and no planner can know
        # how few: each query is bounded to the next WINDOW rows of the driving table, window after
        # window, until the batch is full. A batch then costs the same wherever it starts.
        found: list[Row[*tuple[Any, ...]]] = []
        while len(found) < limit:
            end = self.session.execute(
                plan.window.where(_after(after, plan.order)).order_by(*plan.order).offset(WINDOW - 1).limit(1)
            ).first()
            statement = plan.statement.where(_after(after, plan.order))
            if end is not None:
                statement = statement.where(_until(tuple(end), plan.order))
            found.extend(self.session.execute(statement.order_by(*plan.order).limit(limit - len(found))).all())
            if end is None:
                break
            after = tuple(end)
        return plan.build(found)

    def count(self, query: ListQuery) -> int:
        inner = self._statement(query).statement.subquery()
        return self.session.scalar(select(func.count()).select_from(inner)) or 0

    def plan(self, query: ListQuery) -> _Plan:
        """The list's query without keyset or order: the statistics count its rows, grouped."""
        return self._statement(query)

    def _statement(self, query: ListQuery) -> _Plan:
        if query.name in (ListName.LEARNERS, ListName.ARRIVALS, ListName.DEPARTURES):
            return self._registrations(query)
        if query.name is ListName.BASKET_RECIPIENTS:
            return self._basket(query)
        return self._clubs(query)

    # --- learners, arrivals, departures ---------------------------------------------------
    def _registrations(self, query: ListQuery) -> _Plan:
        r, p, g, pr = RegistrationRow, PersonRow, GroupRow, ProgramRow
        statement = (
            select(
                r.id,
                r.status,
                r.provider_code,
                r.group_id,
                g.name,
                g.school_year,
                g.program_code,
                pr.name,
                p.personal_code,
                p.first_name,
                p.last_name,
                p.birth_date,
                r.first_learning_date,
                r.departure_date,
                r.departure_reason_code,
            )
            .select_from(r)
            .join(p, p.id == r.person_id)
            .join(g, g.id == self._not_an_entry(r.group_id))
            .join(pr, pr.code == g.program_code)
            .where(r.status != CANCELLED)
        )
        f = query.list_filter
        order: tuple[Any, ...] = (r.id,)
        if isinstance(f, LearnerFilter):
            statement = statement.where(
                r.status == RegistrationStatus.ACTIVE.value, g.school_year == f.school_year.first_year
            )
            if f.group_id is not None:
                statement = statement.where(r.group_id == f.group_id)
            if f.program_code is not None:
                statement = statement.where(g.program_code == f.program_code)
        elif isinstance(f, LearningFilter):
            statement = statement.where(
                g.school_year == f.school_year.first_year,
                r.first_learning_date <= f.learning.last,
                or_(r.departure_date.is_(None), r.departure_date >= f.learning.first),
            )
        elif isinstance(f, ArrivalFilter):
            statement = statement.where(
                self._not_an_entry(r.first_learning_date).between(f.first_learning.first, f.first_learning.last)
            )
        elif isinstance(f, DepartureFilter):
            statement = statement.where(
                r.status == RegistrationStatus.DEREGISTERED.value,
                r.departure_date.between(f.departure.first, f.departure.last),
            )
            order = (r.departure_date, r.id)
        else:  # pragma: no cover
            raise TypeError(f"not a registration list filter: {f!r}")
        statement = statement.where(
            _scoped(
                query.scope,
                person_id=p.id,
                personal_code=p.personal_code,
                school_year=g.school_year,
                own_institution=r.provider_code,
            ),
        )
        window = select(*order).where(r.status != CANCELLED)
        if isinstance(f, DepartureFilter):
            window = window.where(
                r.status == RegistrationStatus.DEREGISTERED.value,
                r.departure_date.between(f.departure.first, f.departure.last),
            )

        def build(found: Rows) -> list[ListedRegistration]:
            return [
                ListedRegistration(
                    registration_id=rid,
                    status=status,
                    institution_code=provider,
                    group_id=group_id,
                    group_name=group_name,
                    school_year=SchoolYear(year),
                    program_code=program_code,
                    program_name=program_name,
                    person=_person(code, first, last, born),
                    first_learning_date=first_day,
                    departure_date=departed,
                    departure_reason_code=reason,
                )
                for (
                    rid,
                    status,
                    provider,
                    group_id,
                    group_name,
                    year,
                    program_code,
                    program_name,
                    code,
                    first,
                    last,
                    born,
                    first_day,
                    departed,
                    reason,
                ) in found
            ]

        return _Plan(statement, build, order, window)

    # --- the basket ----------------------------------------------------------------------
    def _basket(self, query: ListQuery) -> _Plan:
        f = query.list_filter
        assert isinstance(f, BasketFilter | BasketMonthsFilter)
        r, p, g, pr, bc, fm = RegistrationRow, PersonRow, GroupRow, ProgramRow, BasketClaimRow, FundingMarkRow
        if isinstance(f, BasketMonthsFilter):
            # Several months at once (the statistics of a school year): the month is the claim's, and
            # so is the day the program must be accredited on. The school column is left to the rows
            # of one month: these rows are counted, never built.
            in_months: list[ColumnElement[bool]] = [bc.month.between(f.first.first_day, f.last.first_day)]
            on_day: Any = bc.month
            first_day, last_day = f.first.first_day, f.last.last_day
        else:
            in_months, on_day = [bc.month == f.month.first_day], f.month.first_day
            first_day, last_day = f.month.first_day, f.month.last_day
        e = aliased(SchoolEnrolmentRow)
        # The child's general-education school that month: the enrolment (or club mark) of the
        # month's school year covering some of the month; of several, the latest to start.
        school = (
            select(e.school_code)
            .where(
                e.personal_code == p.personal_code,
                e.school_year == SchoolYear.containing(first_day).first_year,
                e.from_date <= last_day,
                or_(e.to_date.is_(None), e.to_date >= first_day),
            )
            .order_by(e.from_date.desc(), e.id.desc())
            .limit(1)
            .correlate(p)
            .scalar_subquery()
        )
        statement = (
            select(
                r.id,
                r.provider_code,
                p.personal_code,
                p.first_name,
                p.last_name,
                p.birth_date,
                r.first_learning_date,
                g.program_code,
                pr.name,
                school,
            )
            .select_from(bc)
            .join(fm, fm.id == bc.funding_mark_id)
            .join(r, r.id == fm.registration_id)
            .join(p, p.id == r.person_id)
            .join(g, g.id == r.group_id)
            .join(pr, pr.code == g.program_code)
            .where(
                *in_months,
                fm.status == "active",
                r.status != CANCELLED,
                # An accredited NVŠ program that month, as gateway.domain.funding.check_basket_eligibility
                # requires (Program.is_accredited, Program.is_deregistered on the month's first day).
                pr.purpose == ProgramPurpose.NVS.value,
                pr.accredited_on <= on_day,
                or_(pr.deregistered_on.is_(None), pr.deregistered_on > on_day),
                _scoped(
                    query.scope,
                    person_id=p.id,
                    personal_code=p.personal_code,
                    school_year=g.school_year,
                    own_institution=r.provider_code,
                ),
            )
        )
        # Keyset and order on the mark's side of the join (equal to the registration id): the
        # planners walk the marks' registration index and need no sort.
        order = (fm.registration_id,)
        window = select(fm.registration_id).where(fm.status == "active")
        if isinstance(f, BasketFilter) and f.institution_code is not None:
            statement = statement.where(r.provider_code == f.institution_code)
        session = self.session

        def build(found: Rows) -> list[BasketRecipient]:
            if not isinstance(f, BasketFilter):
                raise TypeError("basket months are counted, not listed")
            schools = {row[-1] for row in found if row[-1] is not None}
            municipalities: dict[str, str] = {}
            if schools:
                rows = session.execute(
                    select(InstitutionRow.code, InstitutionRow.municipality_code).where(
                        InstitutionRow.code.in_(schools)
                    )
                )
                municipalities = {code: municipality for code, municipality in rows}
            return [
                BasketRecipient(
                    registration_id=rid,
                    institution_code=provider,
                    month=f.month,
                    person=_person(code, first, last, born),
                    first_learning_date=first_learning,
                    program_code=program_code,
                    program_name=program_name,
                    school_code=school_code,
                    school_municipality_code=municipalities.get(school_code),
                )
                for (
                    rid,
                    provider,
                    code,
                    first,
                    last,
                    born,
                    first_learning,
                    program_code,
                    program_name,
                    school_code,
                ) in found
            ]

        return _Plan(statement, build, order, window)

    # --- clubs -------------------------------------------------------------------------
    def _clubs(self, query: ListQuery) -> _Plan:
        f = query.list_filter
        assert isinstance(f, ClubFilter)
        a, p = ClubAttendanceRow, PersonRow
        statement = (
            select(
                a.id,
                a.school_code,
                a.school_year,
                p.personal_code,
                p.first_name,
                p.last_name,
                p.birth_date,
                a.from_date,
                a.end_date,
            )
            .select_from(a)
            .join(p, p.id == a.person_id)
            .where(
                a.school_year == f.school_year.first_year,
                _scoped(
                    query.scope,
                    person_id=p.id,
                    personal_code=p.personal_code,
                    school_year=a.school_year,
                    own_institution=a.school_code,
                ),
            )
        )
        window = select(a.id).where(a.school_year == f.school_year.first_year)
        if f.direction_code is not None:
            d = aliased(ClubDirectionRow)
            statement = statement.where(
                exists(
                    select(literal(1))
                    .select_from(d)
                    .where(d.attendance_id == a.id, d.direction_code == f.direction_code)
                )
            )
        if f.active_on is not None:
            statement = statement.where(
                a.from_date <= f.active_on, or_(a.end_date.is_(None), a.end_date >= f.active_on)
            )
        session = self.session

        def build(found: Rows) -> list[ListedClubAttendance]:
            directions = directions_of(session, [row[0] for row in found])
            return [
                ListedClubAttendance(
                    attendance_id=aid,
                    school_code=school,
                    school_year=SchoolYear(year),
                    person=_person(code, first, last, born),
                    direction_codes=directions.get(aid, ((), ()))[0],
                    sub_direction_codes=directions.get(aid, ((), ()))[1],
                    from_date=from_date,
                    end_date=end_date,
                )
                for (aid, school, year, code, first, last, born, from_date, end_date) in found
            ]

        return _Plan(statement, build, (a.id,), window)
