"""The archive's SQL: moving a closed school year's rows out of the active tables, a batch at a time,
and reading them back for a learner's history and the basket of archived months.

A batch is INSERT .. SELECT into the archive table and DELETE from the active one, in the caller's
transaction: committed, it is done; interrupted, nothing of it happened. The next batch is whatever is
left, so a rerun continues where an interrupted run stopped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, delete, exists, func, insert, literal, select, text, union
from sqlalchemy.orm import Session

from gateway.domain.funding import FundedChildren
from gateway.domain.model import Group, Registration
from gateway.domain.personal_code import PersonalCode
from storage.models import (
    BasketClaimRow,
    ClubAttendanceRow,
    ClubDirectionRow,
    FundingMarkRow,
    GroupRow,
    PersonRow,
    RegistrationRow,
    archive_club_attendance,
    archive_club_direction,
    archive_funding_mark,
    archive_group,
    archive_registration,
    archive_state,
    table_of,
)
from storage.repositories import _group, _month, _registration, _rowcount

ARCHIVED_THROUGH = "archived_through"
_GROUP, _REGISTRATION, _MARK = table_of(GroupRow), table_of(RegistrationRow), table_of(FundingMarkRow)
_CLUB, _DIRECTION = table_of(ClubAttendanceRow), table_of(ClubDirectionRow)


def _move(session: Session, active: Table, archive: Table, where, school_year: int | None = None) -> int:
    """Copy the active rows matching ``where`` into the archive table (with the school year when the
    archive table adds one), then delete them; the number moved."""
    columns = [c.name for c in active.columns]
    selected: list[Any] = [active.c[name] for name in columns]
    if school_year is not None:
        columns.append("school_year")
        selected.append(literal(school_year).label("school_year"))
    session.execute(insert(archive).from_select(columns, select(*selected).where(where)))
    return _rowcount(session.execute(delete(active).where(where)))


class SqlArchiveRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # --- moving ----------------------------------------------------------------
    def school_years(self) -> list[int]:
        """The school years the active tables hold groups or club marks of."""
        query = union(select(GroupRow.school_year).distinct(), select(ClubAttendanceRow.school_year).distinct())
        return sorted(self.session.scalars(select(query.subquery().c[0])).all())

    def _ended_registrations(self, school_year: int):
        return (
            select(RegistrationRow.id)
            .join(GroupRow, GroupRow.id == RegistrationRow.group_id)
            .where(GroupRow.school_year == school_year, RegistrationRow.status != "active")
        )

    def _empty_groups(self, school_year: int):
        return select(GroupRow.id).where(
            GroupRow.school_year == school_year, ~exists().where(RegistrationRow.group_id == GroupRow.id)
        )

    def left_to_move(self, school_year: int) -> dict[str, int]:
        """What the year still has in the active tables: ended registrations, groups (those with a learner
        still active stay), club marks; and registrations still active (they stay with their group)."""

        def count(query) -> int:
            return self.session.scalar(select(func.count()).select_from(query.subquery())) or 0

        still_active = (
            select(RegistrationRow.id)
            .join(GroupRow, GroupRow.id == RegistrationRow.group_id)
            .where(GroupRow.school_year == school_year, RegistrationRow.status == "active")
        )
        return {
            "registrations": count(self._ended_registrations(school_year)),
            "groups": self.session.scalar(select(func.count()).where(GroupRow.school_year == school_year)) or 0,
            "club_marks": self.session.scalar(select(func.count()).where(ClubAttendanceRow.school_year == school_year))
            or 0,
            "still_active": count(still_active),
        }

    def note_archived(self, school_year: int) -> None:
        current = self.session.scalar(select(archive_state.c.value).where(archive_state.c.name == ARCHIVED_THROUGH))
        if current is None:
            self.session.execute(insert(archive_state).values(name=ARCHIVED_THROUGH, value=school_year))
        elif current < school_year:
            self.session.execute(
                archive_state.update().where(archive_state.c.name == ARCHIVED_THROUGH).values(value=school_year)
            )

    def archived_through(self) -> int | None:
        return self.session.scalar(select(archive_state.c.value).where(archive_state.c.name == ARCHIVED_THROUGH))

    def move_registrations(self, school_year: int, limit: int) -> int:
        """The next ``limit`` ended registrations of the year (by id) and their funding marks."""
        ids = list(
            self.session.scalars(self._ended_registrations(school_year).order_by(RegistrationRow.id).limit(limit))
        )
        if not ids:
            return 0
        _move(self.session, _MARK, archive_funding_mark, _MARK.c.registration_id.in_(ids), school_year)
        return _move(self.session, _REGISTRATION, archive_registration, _REGISTRATION.c.id.in_(ids), school_year)

    def move_groups(self, school_year: int, limit: int) -> int:
        """The next ``limit`` groups of the year that no registration is left in."""
        ids = list(self.session.scalars(self._empty_groups(school_year).order_by(GroupRow.id).limit(limit)))
        if not ids:
            return 0
        return _move(self.session, _GROUP, archive_group, _GROUP.c.id.in_(ids))

    def move_club_marks(self, school_year: int, limit: int) -> int:
        ids = list(
            self.session.scalars(
                select(ClubAttendanceRow.id)
                .where(ClubAttendanceRow.school_year == school_year)
                .order_by(ClubAttendanceRow.id)
                .limit(limit)
            )
        )
        if not ids:
            return 0
        _move(self.session, _DIRECTION, archive_club_direction, _DIRECTION.c.attendance_id.in_(ids), school_year)
        return _move(self.session, _CLUB, archive_club_attendance, _CLUB.c.id.in_(ids))

    def refresh_statistics(self) -> None:
        """ANALYZE the tables rows left: the planners' row counts are otherwise those before the archive
        (until autovacuum on PostgreSQL; until a maintenance ANALYZE on SQLite)."""
        for table in (_GROUP, _REGISTRATION, _MARK, _CLUB, _DIRECTION):
            self.session.execute(text(f'ANALYZE "{table.name}"'))

    # --- reading ---------------------------------------------------------------
    def history_of(self, personal_code: PersonalCode) -> list[tuple[Registration, Group]]:
        """The learner's archived registrations with their groups, newest first."""
        r, g = archive_registration, archive_group
        rows = self.session.execute(
            select(r, PersonRow.personal_code)
            .join(PersonRow, PersonRow.id == r.c.person_id)
            .where(PersonRow.personal_code == personal_code.value)
            .order_by(r.c.first_learning_date.desc(), r.c.id.desc())
        ).all()
        if not rows:
            return []
        group_ids = {row.group_id for row in rows}
        groups = {row.id: _group(row) for row in self.session.execute(select(g).where(g.c.id.in_(group_ids)))}
        active = self.session.scalars(select(GroupRow).where(GroupRow.id.in_(group_ids - set(groups))))
        groups.update({row.id: _group(row) for row in active})
        return [(_registration(row, row.personal_code), groups[row.group_id]) for row in rows]

    def funded_children(self, provider_codes: list[str] | None, months: Sequence[dt.date]) -> list[FundedChildren]:
        """Children on the basket in archived months: the claims stay in basket_claim, their marks,
        registrations and groups are read from the archive (the counts CalculateBasket gave before)."""
        m, r, g = archive_funding_mark, archive_registration, archive_group
        # An archived registration's group may still be active: kept while another of its learners is.
        program = func.coalesce(g.c.program_code, GroupRow.program_code)
        query = (
            select(r.c.provider_code, BasketClaimRow.month, program, m.c.special_needs, func.count())
            .join(m, m.c.id == BasketClaimRow.funding_mark_id)
            .join(r, r.c.id == m.c.registration_id)
            .outerjoin(g, g.c.id == r.c.group_id)
            .outerjoin(GroupRow, GroupRow.id == r.c.group_id)
            .where(BasketClaimRow.month.in_(list(months)))
            .group_by(r.c.provider_code, BasketClaimRow.month, program, m.c.special_needs)
        )
        if provider_codes is not None:
            query = query.where(r.c.provider_code.in_(provider_codes))
        return [
            FundedChildren(provider, _month(month), program, bool(special), count)
            for provider, month, program, special, count in self.session.execute(query)
        ]
