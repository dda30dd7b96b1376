"""Clubs attended (būreliai) and formal enrolments: where a child does general education.

A general-education school (institution group flagged ``general-education``) marks,
for a pupil of its own and a school year, the NVŠ directions and sub-directions the
pupil attends. One mark per pupil, school and school year is in force at a time
(**decision**): marking again replaces its directions, as ticking boxes on the
pupil's card would; ending it records the end date. Ended marks are kept.

A club mark also establishes that the child attends that school for general
education in that school year (an :class:`Enrolment` from clubs). The other source
is the formal-enrolment import (``nvs-gateway import-enrolments``). The basket list
shows the municipality of that school; the municipality scope counts it
(``gateway.domain.lists``).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, replace

from gateway.domain import classifiers as cls
from gateway.domain.calendar import SchoolYear, end_of_month
from gateway.domain.classifiers import Classifiers
from gateway.domain.errors import (
    ClubAttendanceEnded,
    ClubDirectionRequired,
    InvalidClubPeriod,
    InvalidSubDirection,
    NotGeneralEducationSchool,
    PersonDeceased,
    UnknownClassifierCode,
)
from gateway.domain.model import Institution, PersonRecord, check_may_be_learner
from gateway.domain.personal_code import PersonalCode

MAX_DIRECTIONS = 20
MAX_SUB_DIRECTIONS = 40


class EnrolmentSource(enum.StrEnum):
    IMPORT = "import"  # the formal-enrolment file
    CLUBS = "clubs"  # a club mark of the school


@dataclass(frozen=True)
class Enrolment:
    """A child attends a general-education school in a school year (from a date, maybe to a date)."""

    personal_code: PersonalCode
    school_code: str
    school_year: SchoolYear
    from_date: dt.date
    to_date: dt.date | None = None
    source: EnrolmentSource = EnrolmentSource.IMPORT

    def covers(self, first: dt.date, last: dt.date) -> bool:
        """Whether the enrolment overlaps the days from ``first`` to ``last``."""
        return self.from_date <= last and (self.to_date is None or self.to_date >= first)


@dataclass(frozen=True)
class ClubAttendance:
    id: int | None
    personal_code: PersonalCode
    school_code: str
    school_year: SchoolYear
    direction_codes: tuple[str, ...]
    sub_direction_codes: tuple[str, ...]
    from_date: dt.date
    marked_on: dt.date
    end_date: dt.date | None = None

    @property
    def is_active(self) -> bool:
        return self.end_date is None

    def directions_attended(self, classifiers: Classifiers) -> set[str]:
        """The directions marked, and the directions of the sub-directions marked (for the direction filter)."""
        parents = {
            classifiers.require(cls.NVS_SUB_DIRECTION, code, field="subDirectionCode").parent
            for code in self.sub_direction_codes
        }
        return set(self.direction_codes) | {p for p in parents if p}


def check_general_education_school(school: Institution, classifiers: Classifiers, today: dt.date) -> None:
    if not school.is_general_education_school(classifiers):
        raise NotGeneralEducationSchool(
            "In ŠMIR your institution is not a general-education school: only such schools mark the clubs of their pupils."
        )
    if school.deregistered_on is not None and school.deregistered_on <= today:
        raise NotGeneralEducationSchool("Your institution is deregistered from ŠMIR.")


def check_club_request(
    school: Institution,
    direction_codes: tuple[str, ...],
    sub_direction_codes: tuple[str, ...],
    classifiers: Classifiers,
    today: dt.date,
) -> None:
    """What can be decided before the pupil is looked up in GR (so GR is not asked in vain)."""
    check_general_education_school(school, classifiers, today)
    _check_codes(direction_codes, sub_direction_codes, classifiers)


def _check_codes(
    direction_codes: tuple[str, ...], sub_direction_codes: tuple[str, ...], classifiers: Classifiers
) -> None:
    if not direction_codes and not sub_direction_codes:
        raise ClubDirectionRequired()
    for index, code in enumerate(direction_codes):
        if classifiers.get(cls.NVS_DIRECTION, code) is None:
            raise UnknownClassifierCode(
                f"'{code}' is not a known NVŠ direction code.", field=f"directionCode[{index + 1}]"
            )
    for index, code in enumerate(sub_direction_codes):
        if classifiers.get(cls.NVS_SUB_DIRECTION, code) is None:
            raise InvalidSubDirection(
                f"'{code}' is not a known NVŠ sub-direction code.", field=f"subDirectionCode[{index + 1}]"
            )


def _default_from_date(school_year: SchoolYear, today: dt.date) -> dt.date:
    """Today, or the school year's first or last day when today lies outside it."""
    return min(max(today, school_year.starts_on), school_year.ends_on)


def mark_club_attendance(
    *,
    school: Institution,
    person: PersonRecord,
    school_year: SchoolYear,
    direction_codes: tuple[str, ...],
    sub_direction_codes: tuple[str, ...],
    from_date: dt.date | None,
    active: ClubAttendance | None,
    classifiers: Classifiers,
    today: dt.date,
) -> ClubAttendance:
    """The pupil's clubs at the school for the school year: a new mark, or the one in force with its
    directions replaced (and its from date, when one is sent)."""
    check_club_request(school, direction_codes, sub_direction_codes, classifiers, today)
    check_may_be_learner(person.personal_code, person.birth_date)
    if person.deceased_on is not None:
        raise PersonDeceased()
    starts = from_date or (active.from_date if active is not None else _default_from_date(school_year, today))
    if not school_year.contains(starts):
        raise InvalidClubPeriod(
            f"The from date must lie inside school year {school_year} "
            f"({school_year.starts_on.isoformat()} to {school_year.ends_on.isoformat()}).",
            field="fromDate",
        )
    directions = tuple(dict.fromkeys(direction_codes))
    sub_directions = tuple(dict.fromkeys(sub_direction_codes))
    if active is not None:
        return replace(active, direction_codes=directions, sub_direction_codes=sub_directions, from_date=starts)
    return ClubAttendance(
        id=None,
        personal_code=person.personal_code,
        school_code=school.code,
        school_year=school_year,
        direction_codes=directions,
        sub_direction_codes=sub_directions,
        from_date=starts,
        marked_on=today,
    )


def end_club_attendance(attendance: ClubAttendance, *, end_date: dt.date, today: dt.date) -> ClubAttendance:
    if attendance.end_date is not None:  # not is_active
        raise ClubAttendanceEnded(f"The club attendance ended on {attendance.end_date.isoformat()}.")
    if end_date < attendance.from_date:
        raise InvalidClubPeriod(
            f"The end date is before the from date ({attendance.from_date.isoformat()}).", field="endDate"
        )
    if end_date > attendance.school_year.ends_on:
        raise InvalidClubPeriod(
            f"The end date is after school year {attendance.school_year} (it ends {attendance.school_year.ends_on.isoformat()}).",
            field="endDate",
        )
    if end_date > end_of_month(today):
        raise InvalidClubPeriod("The end date is later than the end of the current month.", field="endDate")
    return replace(attendance, end_date=end_date)


def enrolment_from_clubs(attendance: ClubAttendance) -> Enrolment:
    """Marking clubs says the child is a pupil of the school in that school year (**decision**: for the
    whole year, from its first day: the club's own from date says when the clubs began, not the
    schooling). A formal enrolment of the same school and year, if imported, stands instead."""
    return Enrolment(
        personal_code=attendance.personal_code,
        school_code=attendance.school_code,
        school_year=attendance.school_year,
        from_date=attendance.school_year.starts_on,
        source=EnrolmentSource.CLUBS,
    )


def enrolment_problem(enrolment: Enrolment, school: Institution | None, classifiers: Classifiers) -> str | None:
    """Why an imported enrolment cannot be stored, or None (messages never name the personal code)."""
    if school is None:
        return f"school {enrolment.school_code} is not a known institution (import it from ŠMIR first)"
    if not school.is_general_education_school(classifiers):
        return f"institution {school.code} is not a general-education school in ŠMIR"
    year = enrolment.school_year
    if not year.contains(enrolment.from_date):
        return f"fromDate {enrolment.from_date.isoformat()} is outside school year {year}"
    if enrolment.to_date is not None:
        if enrolment.to_date < enrolment.from_date:
            return f"toDate {enrolment.to_date.isoformat()} is before fromDate {enrolment.from_date.isoformat()}"
        if not year.contains(enrolment.to_date):
            return f"toDate {enrolment.to_date.isoformat()} is outside school year {year}"
    return None
