"""Clubs attended and formal enrolments (gateway.domain.clubs): every rule, without storage."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

import pytest

from gateway.domain import clubs
from gateway.domain.calendar import SchoolYear
from gateway.domain.clubs import ClubAttendance, Enrolment, EnrolmentSource
from gateway.domain.errors import (
    ClubAttendanceEnded,
    ClubDirectionRequired,
    InvalidClubPeriod,
    InvalidSubDirection,
    NotGeneralEducationSchool,
    PersonDeceased,
    UnknownClassifierCode,
)
from gateway.domain.personal_code import PersonalCode
from tests.fakes import CLASSIFIERS, GIRL_CODE, a_person, an_institution

YEAR = SchoolYear(2026)
TODAY = dt.date(2026, 11, 28)
SCHOOL = an_institution(
    code="300100041", name="Vilniaus Bandomoji gimnazija", group_code="GENERAL_EDU", purpose_codes=("GYMNASIUM",)
)


def mark(**overrides: Any) -> ClubAttendance:
    values: dict[str, Any] = dict(
        school=SCHOOL,
        person=a_person(),
        school_year=YEAR,
        direction_codes=("SPORT",),
        sub_direction_codes=("MUSIC.PIANO",),
        from_date=None,
        active=None,
        classifiers=CLASSIFIERS,
        today=TODAY,
    )
    values.update(overrides)
    return clubs.mark_club_attendance(**values)


def test_a_general_education_school_marks_directions_and_sub_directions_of_a_pupil() -> None:
    attendance = mark()
    assert attendance.id is None
    assert (attendance.school_code, attendance.school_year) == (SCHOOL.code, YEAR)
    assert attendance.personal_code == PersonalCode(GIRL_CODE)
    assert (attendance.direction_codes, attendance.sub_direction_codes) == (("SPORT",), ("MUSIC.PIANO",))
    assert attendance.is_active and attendance.marked_on == TODAY


def test_directions_alone_or_sub_directions_alone_are_enough_and_repeats_are_dropped() -> None:
    assert mark(sub_direction_codes=()).direction_codes == ("SPORT",)
    assert mark(direction_codes=()).sub_direction_codes == ("MUSIC.PIANO",)
    repeated = mark(direction_codes=("SPORT", "ART", "SPORT"), sub_direction_codes=("MUSIC.PIANO", "MUSIC.PIANO"))
    assert (repeated.direction_codes, repeated.sub_direction_codes) == (("SPORT", "ART"), ("MUSIC.PIANO",))


@pytest.mark.parametrize(
    "school",
    [
        an_institution(),  # an NVŠ music school
        an_institution(group_code="OTHER_PROVIDER", purpose_codes=("31714102",)),
        an_institution(group_code="PRESCHOOL", purpose_codes=()),
        replace(SCHOOL, deregistered_on=dt.date(2026, 8, 31)),
    ],
    ids=["nvs-school", "other-provider", "pre-school", "deregistered-school"],
)
def test_only_a_registered_general_education_school_marks_clubs(school) -> None:
    with pytest.raises(NotGeneralEducationSchool):
        mark(school=school)


def test_a_school_deregistered_later_may_still_mark_clubs_today() -> None:
    assert mark(school=replace(SCHOOL, deregistered_on=dt.date(2027, 6, 30))).is_active


def test_a_deceased_pupil_cannot_be_marked() -> None:
    with pytest.raises(PersonDeceased):
        mark(person=a_person(deceased_on=dt.date(2026, 1, 1)))


def test_at_least_one_direction_or_sub_direction_is_required() -> None:
    with pytest.raises(ClubDirectionRequired) as refused:
        mark(direction_codes=(), sub_direction_codes=())
    assert refused.value.field == "directionCode"


def test_an_unknown_direction_is_named_by_its_position() -> None:
    with pytest.raises(UnknownClassifierCode) as refused:
        mark(direction_codes=("SPORT", "CHESS"))
    assert refused.value.field == "directionCode[2]"


def test_an_unknown_sub_direction_is_named_by_its_position() -> None:
    with pytest.raises(InvalidSubDirection) as refused:
        mark(sub_direction_codes=("MUSIC.KAZOO",))
    assert refused.value.field == "subDirectionCode[1]"


def test_a_direction_code_sent_as_a_sub_direction_is_refused() -> None:
    with pytest.raises(InvalidSubDirection):
        mark(sub_direction_codes=("MUSIC",))


@pytest.mark.parametrize(
    "today, expected",
    [
        (dt.date(2026, 11, 28), dt.date(2026, 11, 28)),  # inside the year: today
        (dt.date(2026, 6, 15), dt.date(2026, 9, 1)),  # marking next year's clubs in June: its first day
        (dt.date(2027, 10, 1), dt.date(2027, 8, 31)),  # marking last year's late: its last day
    ],
)
def test_without_a_from_date_the_mark_starts_today_inside_the_school_year(today, expected) -> None:
    assert mark(today=today).from_date == expected


@pytest.mark.parametrize("from_date", [dt.date(2026, 8, 31), dt.date(2027, 9, 1)])
def test_a_from_date_outside_the_school_year_is_refused(from_date) -> None:
    with pytest.raises(InvalidClubPeriod) as refused:
        mark(from_date=from_date)
    assert refused.value.field == "fromDate"


def test_marking_again_replaces_the_directions_of_the_mark_in_force_and_keeps_its_id_and_start() -> None:
    active = replace(mark(from_date=dt.date(2026, 9, 15)), id=7)
    again = mark(active=active, direction_codes=("ART",), sub_direction_codes=())
    assert (again.id, again.from_date) == (7, dt.date(2026, 9, 15))
    assert (again.direction_codes, again.sub_direction_codes) == (("ART",), ())
    moved = mark(active=active, from_date=dt.date(2026, 10, 1))
    assert (moved.id, moved.from_date) == (7, dt.date(2026, 10, 1))


def test_the_directions_attended_include_those_of_the_sub_directions() -> None:
    attendance = mark(direction_codes=("SPORT",), sub_direction_codes=("MUSIC.PIANO", "MUSIC.CHOIR"))
    assert attendance.directions_attended(CLASSIFIERS) == {"SPORT", "MUSIC"}


# --- ending --------------------------------------------------------------------------
def test_ending_records_the_end_date() -> None:
    ended = clubs.end_club_attendance(mark(from_date=dt.date(2026, 9, 15)), end_date=dt.date(2026, 11, 30), today=TODAY)
    assert ended.end_date == dt.date(2026, 11, 30) and not ended.is_active


def test_a_mark_may_end_on_its_first_day() -> None:
    attendance = mark(from_date=dt.date(2026, 9, 15))
    assert clubs.end_club_attendance(attendance, end_date=dt.date(2026, 9, 15), today=TODAY).end_date == dt.date(
        2026, 9, 15
    )


@pytest.mark.parametrize(
    "end_date, today",
    [
        (dt.date(2026, 9, 14), TODAY),  # before the from date
        (dt.date(2026, 12, 1), TODAY),  # after the current month
        (dt.date(2027, 9, 1), dt.date(2027, 9, 10)),  # after the school year
    ],
    ids=["before-start", "after-this-month", "after-the-school-year"],
)
def test_an_end_date_outside_the_mark_is_refused(end_date, today) -> None:
    with pytest.raises(InvalidClubPeriod) as refused:
        clubs.end_club_attendance(mark(from_date=dt.date(2026, 9, 15)), end_date=end_date, today=today)
    assert refused.value.field == "endDate"


def test_an_ended_mark_cannot_end_again() -> None:
    ended = clubs.end_club_attendance(mark(from_date=dt.date(2026, 9, 15)), end_date=dt.date(2026, 10, 1), today=TODAY)
    with pytest.raises(ClubAttendanceEnded):
        clubs.end_club_attendance(ended, end_date=dt.date(2026, 11, 1), today=TODAY)


# --- where the child does general education -----------------------------------------------
def test_a_club_mark_makes_the_child_a_pupil_of_the_school_for_the_whole_school_year() -> None:
    enrolment = clubs.enrolment_from_clubs(mark(from_date=dt.date(2026, 11, 2)))
    assert enrolment == Enrolment(
        PersonalCode(GIRL_CODE), SCHOOL.code, YEAR, dt.date(2026, 9, 1), None, EnrolmentSource.CLUBS
    )


def test_an_enrolment_covers_the_days_it_overlaps() -> None:
    enrolment = Enrolment(PersonalCode(GIRL_CODE), SCHOOL.code, YEAR, dt.date(2026, 9, 1), dt.date(2026, 12, 31))
    assert enrolment.covers(dt.date(2026, 12, 1), dt.date(2026, 12, 31))
    assert not enrolment.covers(dt.date(2027, 1, 1), dt.date(2027, 1, 31))
    assert replace(enrolment, to_date=None).covers(dt.date(2027, 6, 1), dt.date(2027, 6, 30))


@pytest.mark.parametrize(
    "school, changes, problem",
    [
        (None, {}, "not a known institution"),
        (an_institution(), {}, "not a general-education school"),
        (SCHOOL, {"from_date": dt.date(2026, 8, 31)}, "fromDate 2026-08-31 is outside school year 2026-2027"),
        (
            SCHOOL,
            {"to_date": dt.date(2026, 9, 30), "from_date": dt.date(2026, 10, 1)},
            "toDate 2026-09-30 is before fromDate",
        ),
        (SCHOOL, {"to_date": dt.date(2027, 9, 1)}, "toDate 2027-09-01 is outside school year"),
    ],
)
def test_an_imported_enrolment_needs_a_known_general_education_school_and_dates_inside_its_year(
    school, changes, problem
) -> None:
    enrolment = replace(Enrolment(PersonalCode(GIRL_CODE), SCHOOL.code, YEAR, dt.date(2026, 9, 1)), **changes)
    found = clubs.enrolment_problem(enrolment, school, CLASSIFIERS)
    assert found is not None and problem in found
    assert GIRL_CODE not in found


def test_a_good_enrolment_has_no_problem() -> None:
    enrolment = Enrolment(PersonalCode(GIRL_CODE), SCHOOL.code, YEAR, dt.date(2026, 9, 1), dt.date(2027, 6, 30))
    assert clubs.enrolment_problem(enrolment, SCHOOL, CLASSIFIERS) is None
