"""The SQL of retention: finding learners whose personal data is past its retention, pseudonymising
them a batch at a time, and dropping what other kinds' periods let go (gateway/retention.py).

A batch runs in the caller's transaction, so a learner is erased whole or not at all: the person
record, the personal code in the change feed, the notices and the data issues, and the tombstones
the caller queues, commit together. Erased persons carry ``erased_on``, so a rerun skips them."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, delete, exists, func, or_, select, update
from sqlalchemy.orm import Session

from gateway.domain.personal_code import Pseudonym
from gateway.domain.retention import ErasedLearner
from storage.models import (
    ChangeEventRow,
    ClubAttendanceRow,
    DataIssueRow,
    NoticeRow,
    PersonRow,
    RegistrationRow,
    SchoolEnrolmentRow,
    archive_club_attendance,
    archive_group,
    archive_registration,
    archive_state,
)
from storage.repositories import _rowcount

LEADERS_ERASED_THROUGH = "leaders_erased_through"
_TABLES_NAMING_LEARNERS = (ChangeEventRow, NoticeRow, DataIssueRow)


class SqlRetentionRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def _past_retention(self, through_year: int):
        """Persons with nothing left in the active tables and whose archived years all end by ``through_year``."""
        r, c = archive_registration, archive_club_attendance
        archived = or_(exists().where(r.c.person_id == PersonRow.id), exists().where(c.c.person_id == PersonRow.id))
        later = or_(
            exists().where(r.c.person_id == PersonRow.id, r.c.school_year > through_year),
            exists().where(c.c.person_id == PersonRow.id, c.c.school_year > through_year),
        )
        active = or_(
            exists().where(RegistrationRow.person_id == PersonRow.id),
            exists().where(ClubAttendanceRow.person_id == PersonRow.id),
        )
        return select(PersonRow.id, PersonRow.personal_code).where(
            PersonRow.erased_on.is_(None), archived, ~later, ~active
        )

    def count_learners_past_retention(self, through_year: int) -> int:
        return self.session.scalar(select(func.count()).select_from(self._past_retention(through_year).subquery())) or 0

    def erase_learners(
        self, through_year: int, limit: int, today: dt.date, after_person: int = 0
    ) -> list[ErasedLearner]:
        """Pseudonymise the next ``limit`` learners past retention, by id after ``after_person`` (a run walks
        the persons once, not from the first at every batch): their codes become pseudonyms wherever the
        register names them, their other personal data is emptied."""
        candidates = self._past_retention(through_year).where(PersonRow.id > after_person)
        rows = self.session.execute(candidates.order_by(PersonRow.id).limit(limit)).all()
        if not rows:
            return []
        pseudonyms = {code: Pseudonym.of_person(person_id) for person_id, code in rows}
        learners = {person_id: ErasedLearner(person_id, pseudonyms[code]) for person_id, code in rows}
        ids = list(learners)
        r, c = archive_registration, archive_club_attendance
        for person_id, provider, registration_id in self.session.execute(
            select(r.c.person_id, r.c.provider_code, r.c.id).where(r.c.person_id.in_(ids)).order_by(r.c.id)
        ):
            learners[person_id].registrations[provider].append(registration_id)
        for person_id, school, attendance_id in self.session.execute(
            select(c.c.person_id, c.c.school_code, c.c.id).where(c.c.person_id.in_(ids)).order_by(c.c.id)
        ):
            learners[person_id].club_marks[school].append(attendance_id)

        # The code, wherever it names the learner: one statement a table, the codes mapped by a CASE.
        for model in _TABLES_NAMING_LEARNERS:
            column = model.personal_code
            self.session.execute(
                update(model)
                .where(column.in_(list(pseudonyms)))
                .values(personal_code=case({code: p.value for code, p in pseudonyms.items()}, value=column)),
                execution_options={"synchronize_session": False},
            )
        self.session.execute(
            update(PersonRow)
            .where(PersonRow.id.in_(ids))
            .values(
                personal_code=case({i: learner.pseudonym.value for i, learner in learners.items()}, value=PersonRow.id),
                first_name="",
                last_name="",
                sex=None,
                birth_date=None,
                deceased_on=None,
                residence_municipality_code=None,
                residence_municipality_name=None,
                residence_address=None,
                departed_abroad_on=None,
                erased_on=today,
            ),
            execution_options={"synchronize_session": False},
        )
        return list(learners.values())

    def erase_group_leaders(self, through_year: int) -> int:
        """Archived groups of years up to ``through_year`` name no leaders any more; the groups erased."""
        done = self.session.scalar(select(archive_state.c.value).where(archive_state.c.name == LEADERS_ERASED_THROUGH))
        if done is not None and done >= through_year:
            return 0
        g = archive_group
        erased = _rowcount(
            self.session.execute(
                update(g)
                .where(g.c.school_year <= through_year, g.c.school_year > (done if done is not None else -1))
                .values(leaders=[])
            )
        )
        if done is None:
            self.session.execute(archive_state.insert().values(name=LEADERS_ERASED_THROUGH, value=through_year))
        else:
            self.session.execute(
                archive_state.update().where(archive_state.c.name == LEADERS_ERASED_THROUGH).values(value=through_year)
            )
        return erased

    def count_enrolments_past_retention(self, through_year: int) -> int:
        return self.session.scalar(select(func.count()).where(SchoolEnrolmentRow.school_year <= through_year)) or 0

    def delete_enrolments(self, through_year: int, limit: int) -> int:
        """The next ``limit`` formal-education enrolments of years up to ``through_year`` deleted."""
        ids = select(SchoolEnrolmentRow.id).where(SchoolEnrolmentRow.school_year <= through_year).limit(limit)
        return _rowcount(
            self.session.execute(
                delete(SchoolEnrolmentRow).where(SchoolEnrolmentRow.id.in_(ids)),
                execution_options={"synchronize_session": False},
            )
        )
