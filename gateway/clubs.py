"""Use cases of general-education schools: the clubs (NVŠ directions) their pupils attend.

One transaction each; the rules are ``gateway.domain.clubs``'.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from gateway import feed
from gateway.clock import Clock
from gateway.domain import clubs
from gateway.domain.access import Caller
from gateway.domain.calendar import SchoolYear
from gateway.domain.clubs import ClubAttendance
from gateway.domain.errors import ClubAttendanceNotFound, PersonNotFound
from gateway.domain.feed import ChangeKind
from gateway.domain.lists import ListedClubAttendance, ListedPerson
from gateway.domain.model import Institution, PersonRecord, check_may_be_learner
from gateway.domain.personal_code import PersonalCode
from gateway.ports import PopulationRegister, UnitOfWork

parse_personal_code = PersonalCode.parse


@dataclass(frozen=True)
class NewClubAttendance:
    personal_code: str
    school_year: str
    direction_codes: tuple[str, ...] = ()
    sub_direction_codes: tuple[str, ...] = ()
    from_date: dt.date | None = None


class Clubs:
    """Club marks, bound to storage, the population register and a clock."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        population_register: PopulationRegister,
        *,
        clock: Clock,
    ) -> None:
        self.uow_factory = uow_factory
        self.population_register = population_register
        self.clock = clock

    def mark(self, caller: Caller, new: NewClubAttendance) -> ListedClubAttendance:
        """The pupil attends these directions and sub-directions at the caller's school this school year.

        The pupil is looked up in GR (and stored) as for a registration; the mark also records that
        the pupil attends the school for general education that year."""
        code = parse_personal_code(new.personal_code)
        check_may_be_learner(code)
        school_year = SchoolYear.parse(new.school_year)
        with self.uow_factory() as uow:
            classifiers = uow.classifiers.load()
            school = self._school(uow, caller)
            clubs.check_club_request(
                school, new.direction_codes, new.sub_direction_codes, classifiers, self.clock.today()
            )
            person = self.population_register.find_person(code)
            if person is None:
                raise PersonNotFound()
            attendance = clubs.mark_club_attendance(
                school=school,
                person=person,
                school_year=school_year,
                direction_codes=new.direction_codes,
                sub_direction_codes=new.sub_direction_codes,
                from_date=new.from_date,
                active=uow.clubs.active_of(code, school.code, school_year),
                classifiers=classifiers,
                today=self.clock.today(),
            )
            uow.persons.save(person, checked_at=self.clock.now())
            saved = uow.clubs.save(attendance)
            uow.enrolments.ensure(clubs.enrolment_from_clubs(saved))
            _changed(uow, ChangeKind.CLUB_ATTENDANCE_MARKED, saved, self.clock.now())
            uow.commit()
            return listed(saved, person)

    def end(self, caller: Caller, attendance_id: int, end_date: dt.date) -> ListedClubAttendance:
        with self.uow_factory() as uow:
            attendance = uow.clubs.get(attendance_id)
            # Another school's mark is reported as missing: its existence is not the caller's business.
            if attendance is None or attendance.school_code != caller.institution_code:
                raise ClubAttendanceNotFound()
            ended = clubs.end_club_attendance(attendance, end_date=end_date, today=self.clock.today())
            saved = uow.clubs.save(ended)
            person = uow.persons.get(saved.personal_code)
            assert person is not None  # stored when the mark was made
            _changed(uow, ChangeKind.CLUB_ATTENDANCE_ENDED, saved, self.clock.now())
            uow.commit()
            return listed(saved, person)

    @staticmethod
    def _school(uow: UnitOfWork, caller: Caller) -> Institution:
        school = uow.institutions.get(caller.institution_code)
        assert school is not None, "user's institution is not in storage"
        return school


def listed(attendance: ClubAttendance, person: PersonRecord) -> ListedClubAttendance:
    assert attendance.id is not None
    return ListedClubAttendance(
        attendance_id=attendance.id,
        school_code=attendance.school_code,
        school_year=attendance.school_year,
        person=ListedPerson(person.personal_code, person.first_name, person.last_name, person.birth_date),
        direction_codes=attendance.direction_codes,
        sub_direction_codes=attendance.sub_direction_codes,
        from_date=attendance.from_date,
        end_date=attendance.end_date,
    )


def _changed(uow: UnitOfWork, kind: ChangeKind, attendance: ClubAttendance, at: dt.datetime) -> None:
    """Club attendance is a change of the register: the feed carries it like registrations."""
    feed.club_attendance_changed(
        uow,
        kind,
        institution_code=attendance.school_code,
        personal_code=attendance.personal_code,
        attendance_id=attendance.id,  # type: ignore[arg-type]
        school_year=str(attendance.school_year),
        direction_codes=attendance.direction_codes,
        sub_direction_codes=attendance.sub_direction_codes,
        ended_on=attendance.end_date,
        at=at,
    )
