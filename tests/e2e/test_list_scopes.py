"""A municipality coordinator's lists show exactly its municipality; an administrator's, everything
(rules.md, Municipality scope), over real HTTP."""

from __future__ import annotations

import datetime as dt

from tests.clock import E2E_TODAY
from tests.e2e.helpers import changes_when_visible, child_code, registry_client
from tests.e2e.test_lists import (
    FIRST_DAY,
    MUSIC_PROGRAM,
    MUSIC_SCHOOL,
    VILNIUS_MUSIC,
    YEAR,
    all_pages,
    contract,
    service_of,
)

VILNIUS_PROGRAM = "100000122"
ANYKSCIAI_COORDINATOR = ("sandbox-municipality-34", "Sandbox-municipality-34!")
VILNIUS_COORDINATOR = ("sandbox-municipality-13", "Sandbox-municipality-13!")


def register(service, program: str, child: str) -> None:
    group = service.CreateGroup(schoolYear=YEAR, programCode=program, name="Apimtis", subDirectionCode=["MUSIC.PIANO"])
    service.RegisterStudent(
        personalCode=child, groupId=group.groupId, firstLearningDate=FIRST_DAY, contract=contract(FIRST_DAY)
    )


def learners_seen_by(gateway, username: str, password: str) -> set[tuple[str, str]]:
    service = registry_client(gateway.wsdl_url, username, password).service
    return {
        (r.institutionCode, r.person.personalCode) for r in all_pages(service.ListLearners, "learner", schoolYear=YEAR)
    }


def test_a_coordinator_lists_exactly_its_municipality_and_an_administrator_everything(live_gateway) -> None:
    in_anyksciai = child_code(dt.date(2015, 2, 3), 701)
    in_vilnius = child_code(dt.date(2014, 5, 6), 702)
    register(service_of(live_gateway, MUSIC_SCHOOL), MUSIC_PROGRAM, in_anyksciai)
    register(service_of(live_gateway, VILNIUS_MUSIC), VILNIUS_PROGRAM, in_vilnius)

    assert learners_seen_by(live_gateway, *ANYKSCIAI_COORDINATOR) == {(MUSIC_SCHOOL, in_anyksciai)}
    assert learners_seen_by(live_gateway, *VILNIUS_COORDINATOR) == {(VILNIUS_MUSIC, in_vilnius)}
    admin = live_gateway.database.user_named("sandbox-admin")
    assert learners_seen_by(live_gateway, admin.username, admin.password) == {
        (MUSIC_SCHOOL, in_anyksciai),
        (VILNIUS_MUSIC, in_vilnius),
    }


def test_club_attendance_marked_and_ended_reaches_the_change_feed(live_gateway) -> None:
    school = service_of(live_gateway, "300000041")  # a general-education school in Vilnius city
    pupil = child_code(dt.date(2014, 9, 9), 703)
    marked = school.MarkClubAttendance(personalCode=pupil, schoolYear=YEAR, directionCode=["MUSIC"])
    school.EndClubAttendance(attendanceId=marked.attendanceId, endDate=E2E_TODAY)
    events = changes_when_visible(school, 2)
    kinds = [(e.kind, e.personalCode) for e in events]
    assert kinds == [("CLUB_ATTENDANCE_MARKED", pupil), ("CLUB_ATTENDANCE_ENDED", pupil)]
