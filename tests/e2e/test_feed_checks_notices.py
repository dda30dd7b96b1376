"""The change feed, the data checks and the notices as a provider and an operator meet them:
real HTTP, zeep clients, the sandbox population register and its special persons, the CLI."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import replace

import pytest
from zeep.exceptions import Fault

from clients.population_register.sandbox import SPECIAL_PERSONS
from gateway.cli import main
from gateway.domain.model import Contract, DeclaredResidence, Registration
from gateway.domain.personal_code import PersonalCode
from tests.clock import E2E_TODAY
from tests.e2e.helpers import child_code, fault_detail, registry_client
from tests.present import present

YEAR, FIRST_DAY = "2026-2027", dt.date(2026, 9, 1)
SCHOOL, SCHOOL_PROGRAM = "300000011", "100000112"  # Anykščių muzikos mokykla
ENGINEERS, ENGINEERS_PROGRAM = "300000021", "100000211"  # VšĮ „Jaunųjų inžinierių dirbtuvės“
SPECIAL = {p.kind + ("-first" if p.previous_first_name else ""): p for p in SPECIAL_PERSONS if p.kind != "not-found"}
# Signed today, so that no registration is late (the student data check would list it).
CONTRACT = {"typeCode": "BILATERAL", "date": E2E_TODAY, "number": "S-1"}


def service_of(gateway, institution_code: str):
    user = gateway.database.user(institution_code)
    return registry_client(gateway.wsdl_url, user.username, user.password).service


def engineers_sub_direction() -> str:
    from gateway.reference_data import load_classifiers

    return next(e.code for e in load_classifiers().entries("nvs-sub-direction") if e.parent in ("TECHCREAT", "IT"))


def held_earlier(database, code: str) -> None:
    """Overwrite the stored person with what the register held before GR changed (the fixture's previous values)."""
    special = next(p for p in SPECIAL_PERSONS if p.personal_code == code)
    with database.uow_factory() as uow:
        person = present(uow.persons.get(PersonalCode(code)) or special.record())
        residence = person.residence
        if special.previous_municipality_code is not None:
            residence = DeclaredResidence(special.previous_municipality_code, None, "Senas adresas 1")
        uow.persons.save(
            replace(
                person,
                first_name=special.previous_first_name or person.first_name,
                last_name=special.previous_last_name or person.last_name,
                deceased_on=None,
                departed_abroad_on=None,
                residence=residence,
            ),
            checked_at=dt.datetime(2023, 1, 1, tzinfo=dt.UTC),
        )
        uow.commit()


@pytest.fixture
def special_learners(live_gateway):
    """The music school holds all five special persons GR knows, the engineers the girl who moved;
    the register still has the data GR had before (time has passed)."""
    school, engineers = service_of(live_gateway, SCHOOL), service_of(live_gateway, ENGINEERS)
    group = school.CreateGroup(
        schoolYear=YEAR, programCode=SCHOOL_PROGRAM, name="Fortepijonas", subDirectionCode=["MUSIC.PIANO"]
    ).groupId
    registrations = {}
    for kind in ("changed-name", "changed-name-first", "changed-residence", "departed-abroad"):
        registered = school.RegisterStudent(
            personalCode=SPECIAL[kind].personal_code, groupId=group, firstLearningDate=FIRST_DAY, contract=CONTRACT
        )
        registrations[kind] = registered.registration.registrationId
    # The girl who died in 2024 was registered while GR still had her alive: stored directly.
    deceased = SPECIAL["deceased"]
    database = live_gateway.database
    with database.uow_factory() as uow:
        uow.persons.save(deceased.record(), checked_at=dt.datetime(2023, 1, 1, tzinfo=dt.UTC))
        stored = uow.registrations.add(
            Registration(
                None,
                PersonalCode(deceased.personal_code),
                group,
                SCHOOL,
                FIRST_DAY,
                Contract("BILATERAL", FIRST_DAY, "S-1"),
                FIRST_DAY,
            )
        )
        uow.commit()
    registrations["deceased"] = stored.id
    engineers_group = engineers.CreateGroup(
        schoolYear=YEAR, programCode=ENGINEERS_PROGRAM, name="Robotika", subDirectionCode=[engineers_sub_direction()]
    ).groupId
    engineers.RegisterStudent(
        personalCode=SPECIAL["changed-residence"].personal_code,
        groupId=engineers_group,
        firstLearningDate=FIRST_DAY,
        contract=CONTRACT,
    )
    for special in SPECIAL.values():
        held_earlier(database, special.personal_code)
    return registrations


def run_cli(live_gateway, monkeypatch, capsys, *args: str) -> tuple[int, str]:
    monkeypatch.setenv("NVS_DATABASE_URL", live_gateway.database.url)
    monkeypatch.setenv("NVS_POPULATION_REGISTER_URL", f"{live_gateway.base_url}/population-register")
    monkeypatch.setenv("NVS_LOG_LEVEL", "WARNING")
    capsys.readouterr()
    code = main(list(args))
    return code, capsys.readouterr().out


def test_the_gr_check_finds_the_special_persons_counts_them_raises_notices_and_the_fix_applies_grs_data(
    live_gateway, special_learners, monkeypatch, capsys
) -> None:
    school, engineers = service_of(live_gateway, SCHOOL), service_of(live_gateway, ENGINEERS)
    assert school.GetDataCheckStatus().populationRegisterCheck is None  # never ran

    code, out = run_cli(live_gateway, monkeypatch, capsys, "check", "population-register", "--concurrency", "2")
    assert code == 0, out
    assert "completed, 5 persons checked" in out and "PersonalDataMismatch: 3" in out and "ResidenceMismatch: 2" in out
    for special in SPECIAL.values():
        assert special.personal_code not in out  # personal codes never printed

    status = school.GetDataCheckStatus().populationRegisterCheck
    assert (status.personalDataMismatches, status.residenceMismatches) == (3, 2)
    assert engineers.GetDataCheckStatus(institutionCode=ENGINEERS).populationRegisterCheck.residenceMismatches == 1
    with pytest.raises(Fault) as refused:
        engineers.GetDataCheckStatus(institutionCode=SCHOOL)
    assert fault_detail(refused.value)["code"] == "AccessDenied"

    issues = school.ListDataIssues(check="POPULATION_REGISTER").issue
    assert sorted((i.code, i.personalCode) for i in issues) == sorted(
        [
            ("PersonalDataMismatch", SPECIAL["changed-name"].personal_code),
            ("PersonalDataMismatch", SPECIAL["changed-name-first"].personal_code),
            ("PersonalDataMismatch", SPECIAL["deceased"].personal_code),
            ("ResidenceMismatch", SPECIAL["changed-residence"].personal_code),
            ("ResidenceMismatch", SPECIAL["departed-abroad"].personal_code),
        ]
    )

    notices = school.ListNotices(state="UNACKNOWLEDGED")
    assert notices.unacknowledged == 2
    assert sorted((n.kind, n.personalCode, n.registrationId) for n in notices.notice) == sorted(
        [
            ("PERSON_DECEASED", SPECIAL["deceased"].personal_code, special_learners["deceased"]),
            ("PERSON_DEPARTED_ABROAD", SPECIAL["departed-abroad"].personal_code, special_learners["departed-abroad"]),
        ]
    )
    assert engineers.ListNotices().notice == []  # the engineers hold no one who died or left

    renamed = SPECIAL["changed-name"].personal_code
    fixed = school.FixPersonData(personalCode=renamed)
    assert (fixed.fixed, fixed.notFixed, fixed.more) == (1, 0, False)
    assert fixed.person[0].lastName == "Grigonytė"
    assert school.GetStudent(personalCode=renamed).person.lastName == "Grigonytė"
    assert school.GetDataCheckStatus().populationRegisterCheck.personalDataMismatches == 2

    everyone = school.FixPersonData()
    assert (everyone.fixed, everyone.notFixed) == (4, 0)
    status = school.GetDataCheckStatus().populationRegisterCheck
    assert (status.personalDataMismatches, status.residenceMismatches) == (0, 0)
    assert engineers.GetDataCheckStatus().populationRegisterCheck.residenceMismatches == 0  # the same girl, fixed
    assert school.GetStudent(personalCode=SPECIAL["changed-name-first"].personal_code).person.firstName == "Joris"
    assert school.GetStudent(personalCode=SPECIAL["deceased"].personal_code).person.deceasedDate == dt.date(2024, 2, 11)

    acknowledged = school.AcknowledgeNotice(noticeId=[n.noticeId for n in notices.notice])
    assert all(n.acknowledgedAt is not None for n in acknowledged)
    assert school.ListNotices(state="UNACKNOWLEDGED").unacknowledged == 0
    with pytest.raises(Fault) as refused:
        engineers.AcknowledgeNotice(noticeId=[notices.notice[0].noticeId])
    assert fault_detail(refused.value)["code"] == "NoticeNotFound"

    # Now that the register knows of the death, the student data check flags the active registration.
    code, out = run_cli(live_gateway, monkeypatch, capsys, "check", "data")
    assert code == 0 and "ActiveRegistrationOfDeceasedPerson: 1" in out
    assert school.GetDataCheckStatus().studentDataCheck.issues == 1
    [issue] = school.ListDataIssues(check="STUDENT_DATA").issue
    assert (issue.code, issue.registrationId) == ("ActiveRegistrationOfDeceasedPerson", special_learners["deceased"])
    assert [n.kind for n in school.ListNotices(state="UNACKNOWLEDGED").notice] == ["DATA_ISSUE"]


def test_a_gr_check_interrupted_by_gr_continues_on_the_next_run(
    live_gateway, special_learners, monkeypatch, capsys
) -> None:
    from clients.population_register.client import ZeepPopulationRegister
    from gateway.checks import PopulationRegisterCheck

    class FailsOnSecondBatch(ZeepPopulationRegister):
        calls = 0

        def find_persons(self, codes):
            FailsOnSecondBatch.calls += 1
            if FailsOnSecondBatch.calls == 2:
                from gateway.domain.errors import PopulationRegisterUnavailable

                raise PopulationRegisterUnavailable()
            return super().find_persons(codes)

    database = live_gateway.database
    gr_url = f"{live_gateway.base_url}/population-register"
    with FailsOnSecondBatch(gr_url) as gr:
        first = PopulationRegisterCheck(
            database.uow_factory, gr, batch_size=2, concurrency=1, clock=live_gateway.clock
        ).run()
    assert not first.completed and first.done_now == 2
    assert service_of(live_gateway, SCHOOL).GetDataCheckStatus().populationRegisterCheck is None

    code, out = run_cli(live_gateway, monkeypatch, capsys, "check", "population-register")
    assert code == 0 and "continued an interrupted run: 2 persons had been checked before" in out
    assert "checked now: 3 persons" in out
    status = service_of(live_gateway, SCHOOL).GetDataCheckStatus().populationRegisterCheck
    assert (status.personalDataMismatches, status.residenceMismatches) == (3, 2)


def test_a_gr_check_that_cannot_reach_gr_stops_resumably_with_a_message(
    live_gateway, special_learners, monkeypatch, capsys
) -> None:
    monkeypatch.setenv("NVS_GR_RETRIES", "0")
    monkeypatch.setenv("NVS_DATABASE_URL", live_gateway.database.url)
    monkeypatch.setenv("NVS_POPULATION_REGISTER_URL", "http://127.0.0.1:9/population-register")  # nothing listens
    capsys.readouterr()
    assert main(["check", "population-register"]) == 1
    out = capsys.readouterr().out
    assert "stopped (the population register is unavailable) after 0 of 5 persons" in out
    assert "run the command again" in out


def test_a_provider_follows_its_changes_over_http(live_gateway) -> None:
    school, engineers = service_of(live_gateway, SCHOOL), service_of(live_gateway, ENGINEERS)
    group = school.CreateGroup(
        schoolYear=YEAR, programCode=SCHOOL_PROGRAM, name="Smuikas", subDirectionCode=["MUSIC.VIOLIN"]
    ).groupId
    other = engineers.CreateGroup(
        schoolYear=YEAR, programCode=ENGINEERS_PROGRAM, name="Robotika", subDirectionCode=[engineers_sub_direction()]
    ).groupId
    first, second = child_code(dt.date(2015, 2, 3), 41), child_code(dt.date(2016, 4, 5), 42)
    kept = school.RegisterStudent(
        personalCode=first, groupId=group, firstLearningDate=FIRST_DAY, contract=CONTRACT
    ).registration.registrationId
    mistake = school.RegisterStudent(
        personalCode=second, groupId=group, firstLearningDate=FIRST_DAY, contract=CONTRACT
    ).registration.registrationId
    engineers.RegisterStudent(personalCode=first, groupId=other, firstLearningDate=FIRST_DAY, contract=CONTRACT)
    school.MarkFunding(registrationId=kept, fundingTypeCode=["MUNICIPAL"], fromMonth="2026-09")
    school.CorrectRegistration(registrationId=kept, firstLearningDate=dt.date(2026, 10, 1))
    school.CancelRegistration(registrationId=mistake, reason="Ne ta grupė")

    deadline = time.monotonic() + 60  # PostgreSQL shows an event a little after its commit (SqlFeedRepository)
    while len(school.GetChanges(after=0, limit=100).event) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    page = school.GetChanges(after=0, limit=3)
    assert [e.kind for e in page.event] == ["REGISTERED", "REGISTERED", "FUNDING_MARKED"] and page.more
    rest = school.GetChanges(after=page.lastSequence)
    assert [e.kind for e in rest.event] == ["CORRECTED", "FUNDING_ENDED", "CANCELLED"] and not rest.more
    assert {e.institutionCode for e in page.event + rest.event} == {SCHOOL}  # the engineers' change is not the school's
    tombstone = rest.event[-1]
    assert (tombstone.personalCode, tombstone.registration.registrationId, tombstone.registration.status) == (
        second,
        mistake,
        "cancelled",
    )
    ended = rest.event[1]
    assert (ended.funding.fundingTypeCode, ended.funding.fromMonth, ended.funding.toMonth) == (
        "MUNICIPAL",
        "2026-10",
        "2027-08",
    )
    assert (
        rest.event[0].registration.groupName == "Smuikas" and rest.event[0].registration.programCode == SCHOOL_PROGRAM
    )
    idle = school.GetChanges(after=rest.lastSequence)
    assert idle.event == [] and idle.lastSequence == rest.lastSequence and idle.more is False
    assert [e.kind for e in engineers.GetChanges(after=0).event] == ["REGISTERED"]
    with pytest.raises(Fault) as refused:
        school.GetChanges(after=rest.lastSequence + 1000)
    assert (
        fault_detail(refused.value)["code"] == "ChangeSequenceAhead" and fault_detail(refused.value)["field"] == "after"
    )


def test_the_other_provider_is_told_when_the_basket_is_released_without_learning_by_whom(live_gateway) -> None:
    school, engineers = service_of(live_gateway, SCHOOL), service_of(live_gateway, ENGINEERS)
    group = school.CreateGroup(
        schoolYear=YEAR, programCode=SCHOOL_PROGRAM, name="Gitara", subDirectionCode=["MUSIC.GUITAR"]
    ).groupId
    other = engineers.CreateGroup(
        schoolYear=YEAR, programCode=ENGINEERS_PROGRAM, name="Robotika", subDirectionCode=[engineers_sub_direction()]
    ).groupId
    child = child_code(dt.date(2015, 6, 7), 43)
    at_school = school.RegisterStudent(
        personalCode=child, groupId=group, firstLearningDate=FIRST_DAY, contract=CONTRACT
    ).registration.registrationId
    at_engineers = engineers.RegisterStudent(
        personalCode=child, groupId=other, firstLearningDate=FIRST_DAY, contract=CONTRACT
    ).registration.registrationId
    school.MarkFunding(registrationId=at_school, fundingTypeCode=["NVS_BASKET"], fromMonth="2026-09", toMonth="2027-02")
    school.EndFunding(registrationId=at_school, fundingTypeCode="NVS_BASKET", lastFundedMonth="2026-12")

    [notice] = engineers.ListNotices(kind="BASKET_MONTHS_RELEASED").notice
    assert (notice.registrationId, notice.personalCode, notice.month) == (at_engineers, child, ["2027-01", "2027-02"])
    assert SCHOOL not in notice.message and "Anykšči" not in notice.message
    assert school.ListNotices().notice == []
    engineers.MarkFunding(
        registrationId=at_engineers, fundingTypeCode=["NVS_BASKET"], fromMonth="2027-01", toMonth="2027-02"
    )
