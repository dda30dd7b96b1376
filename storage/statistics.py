"""The statistics' counts, computed by the database over the lists' own queries.

Each measure takes the query of its list (``SqlListRepository.plan``: the same joins, filters and
scope), replaces its columns with the dimensions' keys and counts the rows per key. So a
statistic is its list counted, by construction. No row reaches Python; only one row per key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, case, func, literal, or_, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import SQLColumnExpression

from gateway.domain.calendar import Month
from gateway.domain.lists import (
    ArrivalFilter,
    BasketFilter,
    BasketMonthsFilter,
    ClubFilter,
    DateRange,
    DepartureFilter,
    LearnerFilter,
    LearningFilter,
    ListName,
    ListQuery,
    Scope,
)
from gateway.domain.statistics import UNKNOWN, BasketCount, Dimension, Key, Measured, Period, age_band_births
from storage.lists import SqlListRepository
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
)

AnySelect = Select[*tuple[Any, ...]]


def _municipality_of(institution_code: Any) -> SQLColumnExpression[Any]:
    institution = aliased(InstitutionRow)
    return func.coalesce(
        select(institution.municipality_code).where(institution.code == institution_code).scalar_subquery(),
        UNKNOWN,
    )


def _age_band(reference: dt.date) -> SQLColumnExpression[Any]:
    births = age_band_births(reference)
    *younger, (oldest, _) = births
    return case(
        (PersonRow.birth_date.is_(None), UNKNOWN),
        *((PersonRow.birth_date >= earliest, code) for code, earliest in younger),
        else_=oldest,
    )


class SqlStatisticsRepository:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.lists = SqlListRepository(session)

    def measure(self, scope: Scope, period: Period, dimensions: Sequence[Dimension]) -> Measured:
        """Every measure of the period, per key of ``dimensions`` (none: one total under the key ())."""
        year, days = period.school_year, DateRange(period.first_day, period.last_day)
        learners_filter = LearnerFilter(year) if period.month is None else LearningFilter(year, days)
        reference = period.first_day

        def registrations(name: ListName, list_filter: Any, *extra: SQLColumnExpression[Any]) -> list[tuple[Any, ...]]:
            statement = self.lists.plan(ListQuery(name, list_filter, scope)).statement
            return self._count(statement, [*self._registration_keys(dimensions, reference), *extra])

        learners = _by_key(registrations(ListName.LEARNERS, learners_filter))
        arrivals = _by_key(registrations(ListName.ARRIVALS, ArrivalFilter(days)))
        departures = {
            (tuple(row[:-2]), row[-2] or UNKNOWN): row[-1]
            for row in registrations(ListName.DEPARTURES, DepartureFilter(days), RegistrationRow.departure_reason_code)
        }
        basket = self._basket(scope, period, dimensions, reference)
        return Measured(learners, arrivals, departures, basket, self._clubs(scope, period, dimensions, reference))

    def _basket(
        self, scope: Scope, period: Period, dimensions: Sequence[Dimension], reference: dt.date
    ) -> list[BasketCount]:
        """The basket months of the period, in one query for all its months."""
        first, last = period.months[0], period.months[-1]
        query = ListQuery(ListName.BASKET_RECIPIENTS, BasketMonthsFilter(first, last), scope)
        if first == last:  # one month: exactly the list's own query
            query = ListQuery(ListName.BASKET_RECIPIENTS, BasketFilter(first), scope)
        statement = self.lists.plan(query).statement
        extra = [
            BasketClaimRow.month,
            _municipality_of(RegistrationRow.provider_code),
            GroupRow.program_code,
            FundingMarkRow.special_needs,
        ]
        rows = self._count(statement, [*self._registration_keys(dimensions, reference), *extra])
        return [
            BasketCount(tuple(row[:-5]), Month.of(_as_date(row[-5])), row[-4], row[-3], bool(row[-2]), row[-1])
            for row in rows
            if row[-1]
        ]

    def _clubs(
        self, scope: Scope, period: Period, dimensions: Sequence[Dimension], reference: dt.date
    ) -> dict[Key, int]:
        a = ClubAttendanceRow
        statement = self.lists.plan(
            ListQuery(ListName.CLUB_ATTENDANCE, ClubFilter(period.school_year), scope)
        ).statement
        if period.month is not None:
            statement = statement.where(
                a.from_date <= period.last_day, or_(a.end_date.is_(None), a.end_date >= period.first_day)
            )
        keys: list[SQLColumnExpression[Any]] = []
        for dimension in dimensions:
            if dimension is Dimension.DIRECTION:
                # A mark's directions, each once (a sub-direction names its direction too).
                directions = (
                    select(ClubDirectionRow.attendance_id, ClubDirectionRow.direction_code).distinct().subquery()
                )
                statement = statement.join(directions, directions.c.attendance_id == a.id)
                keys.append(directions.c.direction_code)
            elif dimension is Dimension.MUNICIPALITY:
                keys.append(_municipality_of(a.school_code))
            elif dimension is Dimension.PROVIDER:
                keys.append(a.school_code)
            elif dimension is Dimension.PURPOSE:
                keys.append(literal(UNKNOWN))  # a club is no program: it has no purpose
            else:
                keys.append(self._person_key(dimension, reference))
        return _by_key(self._count(statement, keys))

    def _registration_keys(self, dimensions: Sequence[Dimension], reference: dt.date) -> list[SQLColumnExpression[Any]]:
        keys: list[SQLColumnExpression[Any]] = []
        for dimension in dimensions:
            if dimension is Dimension.MUNICIPALITY:
                keys.append(_municipality_of(RegistrationRow.provider_code))
            elif dimension is Dimension.PROVIDER:
                keys.append(RegistrationRow.provider_code)
            elif dimension is Dimension.DIRECTION:
                keys.append(GroupRow.program_code)  # spread to the program's directions by the domain
            elif dimension is Dimension.PURPOSE:
                keys.append(ProgramRow.purpose)
            else:
                keys.append(self._person_key(dimension, reference))
        return keys

    @staticmethod
    def _person_key(dimension: Dimension, reference: dt.date) -> SQLColumnExpression[Any]:
        if dimension is Dimension.AGE_BAND:
            return _age_band(reference)
        assert dimension is Dimension.SEX
        return func.coalesce(PersonRow.sex, UNKNOWN)

    def _count(self, statement: AnySelect, columns: list[SQLColumnExpression[Any]]) -> list[tuple[Any, ...]]:
        """Rows of (the columns' values..., how many list rows have them)."""
        if not columns:
            return [(self.session.scalar(select(func.count()).select_from(statement.subquery())) or 0,)]
        keyed = statement.with_only_columns(
            *(c.label(f"k{i}") for i, c in enumerate(columns)), maintain_column_froms=True
        ).subquery()
        grouped = select(*keyed.c, func.count()).group_by(*keyed.c)
        return [tuple(row) for row in self.session.execute(grouped)]


def _as_date(value: Any) -> dt.date:
    """A month column as the driver returns it (SQLite's may be text once it is grouped)."""
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _by_key(rows: list[tuple[Any, ...]]) -> dict[Key, int]:
    return {tuple(row[:-1]): row[-1] for row in rows if row[-1]}
