"""The data checks: the rules (gateway.domain.checks) and the runs (gateway.checks) on
in-memory fakes: the GR check's findings per institution, its notices, its resumption after
an interruption and its bounded concurrency; the student data check; the fix."""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import replace
from datetime import date

import pytest

from clients.population_register.fake import InMemoryPopulationRegister
from clients.population_register.sandbox import SPECIAL_PERSONS, generated_person
from gateway.checks import DataChecks, PopulationRegisterCheck, StudentDataCheck
from gateway.clock import FixedClock
from gateway.domain import checks as rules
from gateway.domain.calendar import Month
from gateway.domain.checks import Category, CheckKind, Field, RunStatus
from gateway.domain.errors import AccessDenied, PopulationRegisterUnavailable, StudentNotFound
from gateway.domain.funding import BasketPolicy, FundingMark
from gateway.domain.model import (
    Contract,
    DeclaredResidence,
    Departure,
    PersonRecord,
    ProgramPurpose,
    RegistrationStatus,
)
from gateway.domain.notices import NoticeKind
from gateway.domain.personal_code import PersonalCode
from gateway.services import Caller
from tests.fakes import (
    CLASSIFIERS,
    GIRL_CODE,
    OTHER_PROVIDER_CODE,
    PROVIDER_CODE,
    FakeUnitOfWork,
    a_group,
    a_person,
    a_program,
    a_registration,
    an_institution,
    valid_code,
)

TODAY = date(2026, 10, 5)
NOW = dt.datetime(2026, 10, 5, 23, 15, tzinfo=dt.UTC)
A = Caller(user_id=1, username="a", institution_code=PROVIDER_CODE)
B = Caller(user_id=2, username="b", institution_code=OTHER_PROVIDER_CODE)
POLICY = BasketPolicy()
# The five persons GR knows, by kind (the two renamed ones: "changed-name" the surname, "changed-name-first" the first name).
SPECIAL = {p.kind + ("-first" if p.previous_first_name else ""): p for p in SPECIAL_PERSONS if p.kind != "not-found"}


def previous(kind: str) -> PersonRecord:
    """What a register of ours may still hold for a sandbox special person (the fixture's previous values)."""
    special = SPECIAL[kind]
    current = special.record()
    assert current is not None
    residence = current.residence
    if special.previous_municipality_code is not None:
        residence = DeclaredResidence(special.previous_municipality_code, None, "Senas adresas 1")
    return replace(
        current,
        first_name=special.previous_first_name or current.first_name,
        last_name=special.previous_last_name or current.last_name,
        deceased_on=None,
        departed_abroad_on=None,
        residence=residence,
    )


# --- the GR comparison ----------------------------------------------------------------
@pytest.mark.parametrize(
    "kind,personal,residence",
    [
        ("deceased", (Field.DECEASED_DATE,), ()),
        ("departed-abroad", (), (Field.MUNICIPALITY, Field.DEPARTED_ABROAD_DATE)),
        ("changed-residence", (), (Field.MUNICIPALITY,)),
        ("changed-name", (Field.LAST_NAME,), ()),
        ("changed-name-first", (Field.FIRST_NAME,), ()),
    ],
)
def test_each_sandbox_special_person_differs_from_what_we_held_exactly_where_the_fixture_says(
    kind, personal, residence
) -> None:
    comparison = rules.compare_with_population_register(previous(kind), SPECIAL[kind].record())
    assert comparison.known_to_register
    assert (comparison.personal_data, comparison.residence) == (personal, residence)
    assert comparison.personal_data_mismatch == bool(personal)
    assert comparison.residence_mismatch == bool(residence)


def test_a_death_and_a_departure_abroad_are_reported_with_their_dates() -> None:
    deceased = rules.compare_with_population_register(previous("deceased"), SPECIAL["deceased"].record())
    departed = rules.compare_with_population_register(previous("departed-abroad"), SPECIAL["departed-abroad"].record())
    assert deceased.deceased_on == date(2024, 2, 11) and deceased.departed_abroad_on is None
    assert departed.departed_abroad_on == date(2023, 8, 20) and departed.deceased_on is None
    assert [f.code for f in deceased.findings()] == [rules.PERSONAL_DATA_MISMATCH]
    assert [f.code for f in departed.findings()] == [rules.RESIDENCE_MISMATCH]
    assert "departure abroad" in departed.findings()[0].message


def test_a_person_gr_no_longer_knows_is_a_personal_data_mismatch_and_an_unchanged_one_nothing() -> None:
    unknown = rules.compare_with_population_register(a_person(), None)
    assert unknown.personal_data_mismatch and [f.code for f in unknown.findings()] == [
        rules.PERSON_UNKNOWN_TO_POPULATION_REGISTER
    ]
    same = generated_person(GIRL_CODE)
    assert rules.compare_with_population_register(same, same).findings() == []  # type: ignore[arg-type]


# --- the student data rules ----------------------------------------------------------
def issues(registration=None, *, program=None, provider=None, person=None, marks=(), today=TODAY):
    return [
        (f.code, tuple(str(m) for m in f.months))
        for f in rules.student_data_issues(
            registration=registration or a_registration(registered_on=date(2026, 9, 1)),
            program=program or a_program(),
            provider=provider or an_institution(),
            person=person or a_person(),
            marks=list(marks),
            classifiers=CLASSIFIERS,
            policy=POLICY,
            today=today,
        )
    ]


def basket(*months: str) -> FundingMark:
    first, last = Month.parse(months[0]), Month.parse(months[-1])
    return FundingMark(1, 1, "NVS_BASKET", first, last)


def test_a_registration_within_every_rule_has_no_issue() -> None:
    assert (
        issues(marks=[basket("2026-09", "2027-08"), FundingMark(2, 1, "MUNICIPAL", Month(2026, 9), Month(2027, 8))])
        == []
    )


def test_late_registration_counts_working_days_after_the_contract_date() -> None:
    # Contract 2026-08-28 (Friday): 5 working days later is 2026-09-04; 2026-09-07 is the 6th.
    assert issues(a_registration(registered_on=date(2026, 9, 4))) == []
    assert issues(a_registration(registered_on=date(2026, 9, 7))) == [(rules.LATE_REGISTRATION, ())]


def test_late_deregistration_counts_working_days_after_the_departure_date() -> None:
    departed = a_registration(
        status=RegistrationStatus.DEREGISTERED,
        departure=Departure(date(2026, 10, 1), "PARENTS_REQUEST"),
        registered_on=date(2026, 9, 1),
    )
    assert issues(replace(departed, deregistered_on=date(2026, 10, 6))) == []
    assert issues(replace(departed, deregistered_on=date(2026, 10, 7))) == [(rules.LATE_DEREGISTRATION, ())]


def test_a_missing_contract_is_an_issue_only_for_arrivals_from_2012_09_01() -> None:
    assert issues(a_registration(contract=None)) == [(rules.MISSING_CONTRACT, ())]
    assert issues(a_registration(contract=None, first_learning_date=date(2012, 8, 31))) == []


def test_the_basket_on_months_the_program_is_not_accredited_or_is_fspu() -> None:
    accredited_late = a_program(accredited_on=date(2026, 11, 15))
    assert issues(program=accredited_late, marks=[basket("2026-09", "2026-12")]) == [
        (rules.BASKET_PROGRAM_NOT_ACCREDITED, ("2026-09", "2026-10", "2026-11"))
    ]
    deregistered = a_program(deregistered_on=date(2026, 12, 1))
    found = issues(program=deregistered, marks=[basket("2026-11", "2027-01")], today=date(2026, 11, 5))
    assert found == [(rules.BASKET_PROGRAM_NOT_ACCREDITED, ("2026-12", "2027-01"))]
    fspu = a_program(purpose=ProgramPurpose.FSPU)
    assert issues(program=fspu, marks=[basket("2026-09", "2026-09")]) == [
        (rules.BASKET_PROGRAM_NOT_ACCREDITED, ("2026-09",))
    ]


def test_the_basket_beyond_the_age_window_and_at_a_general_education_school() -> None:
    young = a_person(personal_code=valid_code("6201101123"))  # born 2020-11-01: 6 on 2026-11-01
    assert issues(person=young, marks=[basket("2026-09", "2026-12")]) == [
        (rules.BASKET_OUTSIDE_AGE_WINDOW, ("2026-09", "2026-10"))
    ]
    school = an_institution(group_code="GENERAL_EDU", purpose_codes=())
    assert (rules.BASKET_AT_GENERAL_EDUCATION_SCHOOL, ("2026-09",)) in issues(
        provider=school, marks=[basket("2026-09", "2026-09")]
    )


def test_active_registrations_in_a_deregistered_program_at_a_deregistered_provider_or_of_a_deceased_child() -> None:
    found = issues(
        program=a_program(deregistered_on=date(2026, 10, 1)),
        provider=an_institution(deregistered_on=date(2026, 9, 30)),
        person=a_person(deceased_on=date(2026, 9, 20)),
    )
    assert [code for code, _ in found] == [
        rules.REGISTRATION_IN_DEREGISTERED_PROGRAM,
        rules.REGISTRATION_AT_DEREGISTERED_PROVIDER,
        rules.ACTIVE_REGISTRATION_OF_DECEASED_PERSON,
    ]
    deregistered = a_registration(
        status=RegistrationStatus.DEREGISTERED,
        departure=Departure(date(2026, 9, 20), "DECEASED"),
        registered_on=date(2026, 9, 1),
        deregistered_on=date(2026, 9, 21),
    )
    assert (
        issues(
            deregistered,
            program=a_program(deregistered_on=date(2026, 10, 1)),
            person=a_person(deceased_on=date(2026, 9, 20)),
        )
        == []
    )


def test_a_cancelled_registration_has_no_issues() -> None:
    assert issues(a_registration(contract=None).cancel(reason="Klaida", today=TODAY)) == []


def test_every_code_the_rules_give_is_in_the_catalogue() -> None:
    codes = {t.code for t in rules.ISSUE_CATALOGUE}
    assert len(codes) == len(rules.ISSUE_CATALOGUE)
    assert {t.code for t in rules.ISSUE_CATALOGUE if t.check is CheckKind.POPULATION_REGISTER} == {
        rules.PERSONAL_DATA_MISMATCH,
        rules.PERSON_UNKNOWN_TO_POPULATION_REGISTER,
        rules.RESIDENCE_MISMATCH,
    }


# --- the GR check as a run ---------------------------------------------------------------
class RecordingRegister:
    """A population register that remembers which codes it was asked, and can fail on a given call."""

    def __init__(self, inner, *, fail_on_call: int | None = None, failure: BaseException | None = None) -> None:
        self.inner = inner
        self.fail_on_call = fail_on_call
        self.failure = failure or PopulationRegisterUnavailable()
        self.calls: list[list[PersonalCode]] = []
        self.lock = threading.Lock()

    def find_person(self, code: PersonalCode):
        return self.inner.find_person(code)

    def find_persons(self, codes: list[PersonalCode]):
        with self.lock:
            self.calls.append(list(codes))
            call = len(self.calls)
        if call == self.fail_on_call:
            raise self.failure
        return self.inner.find_persons(codes)

    @property
    def asked(self) -> list[PersonalCode]:
        return [code for call in self.calls for code in call]


def sandbox_gr() -> InMemoryPopulationRegister:
    records = [p.record() for p in SPECIAL_PERSONS if p.record() is not None]
    return InMemoryPopulationRegister({r.personal_code: r for r in records})  # type: ignore[union-attr]


@pytest.fixture
def uow() -> FakeUnitOfWork:
    """Provider A holds all five special persons; provider B holds the girl who moved, deregistered."""
    uow = FakeUnitOfWork()
    uow.seed(
        an_institution(),
        an_institution(
            code=OTHER_PROVIDER_CODE,
            name="Sporto klubas",
            municipality_code="19",
            group_code="OTHER_PROVIDER",
            purpose_codes=("31714102",),
        ),
        a_program(),
        a_program(code="120000002", provider_code=OTHER_PROVIDER_CODE, direction_codes=("SPORT",)),
        a_group(id=1),
        a_group(
            id=2,
            provider_code=OTHER_PROVIDER_CODE,
            program_code="120000002",
            name="Krepšinis",
            sub_direction_codes=("SPORT.BASKETBALL",),
        ),
    )
    for index, kind in enumerate(SPECIAL, 1):
        person = previous(kind)
        uow.seed(person, a_registration(id=index, personal_code=person.personal_code))
    moved = SPECIAL["changed-residence"].personal_code
    uow.seed(
        a_registration(
            id=10,
            personal_code=moved,
            group_id=2,
            provider_code=OTHER_PROVIDER_CODE,
            status=RegistrationStatus.DEREGISTERED,
            departure=Departure(date(2026, 9, 30), "PARENTS_REQUEST"),
            deregistered_on=date(2026, 10, 1),
        )
    )
    return uow


def gr_check(uow: FakeUnitOfWork, gr, **kw) -> PopulationRegisterCheck:
    return PopulationRegisterCheck(lambda: uow, gr, clock=FixedClock(NOW), **kw)


def status(uow: FakeUnitOfWork, caller: Caller = A):
    return DataChecks(lambda: uow, sandbox_gr(), clock=FixedClock(NOW)).status(caller)


def test_the_gr_check_finds_the_special_persons_and_counts_them_per_institution(uow) -> None:
    summary = gr_check(uow, sandbox_gr()).run()
    assert summary.completed and summary.done_now == 5 and summary.total == 5
    assert summary.findings == {rules.PERSONAL_DATA_MISMATCH: 3, rules.RESIDENCE_MISMATCH: 2}
    a = status(uow).population_register
    assert (a.checked_at, a.count(Category.PERSONAL_DATA), a.count(Category.RESIDENCE)) == (NOW, 3, 2)
    b = status(uow, B).population_register
    assert (b.count(Category.PERSONAL_DATA), b.count(Category.RESIDENCE)) == (0, 1)  # the moved girl, held deregistered
    assert status(uow).student_data is None  # that check has not run


def test_the_gr_check_tells_only_institutions_with_an_active_registration_about_a_death_or_a_departure(uow) -> None:
    summary = gr_check(uow, sandbox_gr()).run()
    notices = sorted((n.institution_code, n.kind, n.personal_code.value) for n in uow.stored.notices.values())
    assert notices == [
        (PROVIDER_CODE, NoticeKind.PERSON_DECEASED, SPECIAL["deceased"].personal_code),
        (PROVIDER_CODE, NoticeKind.PERSON_DEPARTED_ABROAD, SPECIAL["departed-abroad"].personal_code),
    ]
    assert summary.notices == 2
    gr_check(uow, sandbox_gr()).run()  # found again: not told again
    assert len(uow.stored.notices) == 2


def test_an_interrupted_gr_check_continues_where_it_stopped_without_asking_again(uow) -> None:
    failing = RecordingRegister(sandbox_gr(), fail_on_call=2)
    first = gr_check(uow, failing, batch_size=2, concurrency=1).run()
    assert not first.completed and first.stopped_by == "the population register is unavailable"
    assert first.done_now == 2 and len(failing.calls) == 2
    assert status(uow).population_register is None  # nothing shown until a run completes
    [run] = uow.stored.check_runs.values()
    assert (run.status, run.done) == (RunStatus.RUNNING, 2)

    counting = RecordingRegister(sandbox_gr())
    second = gr_check(uow, counting, batch_size=2, concurrency=1).run()
    assert second.completed and second.resumed and (second.done_before, second.done_now) == (2, 3)
    assert set(counting.asked).isdisjoint(failing.calls[0])  # the first batch is not asked again
    assert sorted(c.value for c in failing.calls[0] + counting.asked) == sorted(
        SPECIAL[k].personal_code for k in SPECIAL
    )
    a = status(uow).population_register
    assert (a.count(Category.PERSONAL_DATA), a.count(Category.RESIDENCE)) == (3, 2)
    assert [r.status for r in uow.stored.check_runs.values()] == [RunStatus.COMPLETED]


def test_ctrl_c_stops_the_gr_check_resumably(uow) -> None:
    interrupted = gr_check(
        uow, RecordingRegister(sandbox_gr(), fail_on_call=3, failure=KeyboardInterrupt()), batch_size=1, concurrency=1
    ).run()
    assert not interrupted.completed and interrupted.stopped_by == "interrupted" and interrupted.done_now == 2
    assert gr_check(uow, sandbox_gr(), batch_size=1).run().done_before == 2


def test_restart_abandons_an_interrupted_run(uow) -> None:
    gr_check(uow, RecordingRegister(sandbox_gr(), fail_on_call=2), batch_size=2, concurrency=1).run()
    counting = RecordingRegister(sandbox_gr())
    fresh = gr_check(uow, counting, batch_size=2).run(restart=True)
    assert fresh.completed and not fresh.resumed and len(counting.asked) == 5
    assert sorted(r.status for r in uow.stored.check_runs.values()) == [RunStatus.ABANDONED, RunStatus.COMPLETED]


def test_the_gr_check_keeps_at_most_concurrency_batches_in_flight(uow) -> None:
    for n in range(40):  # 45 persons: 9 batches of 5
        code = PersonalCode(valid_code(f"5150101{n:03d}"))
        uow.seed(generated_person(code.value))
    in_flight, most, started = 0, 0, 0
    lock = threading.Lock()
    all_three = threading.Barrier(3, timeout=30)  # the first three batches must be in flight together

    class Slow(RecordingRegister):
        def find_persons(self, codes):
            nonlocal in_flight, most, started
            with lock:
                in_flight += 1
                most = max(most, in_flight)
                started += 1
                call = started
            if call <= 3:
                all_three.wait()
            try:
                return super().find_persons(codes)
            finally:
                with lock:
                    in_flight -= 1

    gr = Slow(InMemoryPopulationRegister({p.personal_code: p for p in uow.stored.persons.values()}))
    summary = gr_check(uow, gr, batch_size=5, concurrency=3).run()
    assert summary.completed and summary.done_now == 45 and len(gr.calls) == 9
    assert most == 3


def test_a_later_completed_run_replaces_the_findings_of_the_earlier_one(uow) -> None:
    gr_check(uow, sandbox_gr()).run()
    with uow:  # the register catches up with GR for the girl who moved
        uow.persons.save(SPECIAL["changed-residence"].record(), checked_at=NOW)
        uow.commit()
    gr_check(uow, sandbox_gr()).run()
    assert status(uow).population_register.count(Category.RESIDENCE) == 1
    assert status(uow, B).population_register.count(Category.RESIDENCE) == 0
    assert {i.run_id for i in uow.stored.data_issues.values()} == {2}


# --- FixPersonData -----------------------------------------------------------------------
def test_fixing_one_person_applies_grs_data_and_closes_their_findings_everywhere(uow) -> None:
    gr_check(uow, sandbox_gr()).run()
    checks = DataChecks(lambda: uow, sandbox_gr(), clock=FixedClock(NOW))
    moved = SPECIAL["changed-residence"].personal_code
    result = checks.fix_person_data(A, moved)
    assert [p.residence.municipality_code for p in result.fixed] == ["13"] and (result.not_fixed, result.more) == (
        0,
        False,
    )
    assert uow.stored.persons[PersonalCode(moved)].residence.municipality_code == "13"
    assert status(uow).population_register.count(Category.RESIDENCE) == 1
    assert status(uow, B).population_register.count(Category.RESIDENCE) == 0


def test_fixing_all_applies_grs_data_to_every_mismatch_of_the_institution(uow) -> None:
    gr_check(uow, sandbox_gr()).run()
    result = DataChecks(lambda: uow, sandbox_gr(), clock=FixedClock(NOW)).fix_person_data(A)
    assert len(result.fixed) == 5
    stored = uow.stored.persons
    assert stored[PersonalCode(SPECIAL["changed-name"].personal_code)].last_name == "Grigonytė"
    assert stored[PersonalCode(SPECIAL["changed-name-first"].personal_code)].first_name == "Joris"
    assert stored[PersonalCode(SPECIAL["deceased"].personal_code)].deceased_on == date(2024, 2, 11)
    assert stored[PersonalCode(SPECIAL["departed-abroad"].personal_code)].departed_abroad_on == date(2023, 8, 20)
    a = status(uow).population_register
    assert (a.count(Category.PERSONAL_DATA), a.count(Category.RESIDENCE)) == (0, 0)
    assert DataChecks(lambda: uow, sandbox_gr(), clock=FixedClock(NOW)).fix_person_data(A).fixed == []  # nothing left


def test_fixing_a_person_not_held_by_the_institution_is_refused_and_gr_not_knowing_them_is_counted(uow) -> None:
    checks = DataChecks(lambda: uow, sandbox_gr(), clock=FixedClock(NOW))
    with pytest.raises(StudentNotFound):
        checks.fix_person_data(B, SPECIAL["deceased"].personal_code)
    unknown = a_person(personal_code=valid_code("5150101999"))
    uow.seed(
        unknown,
        a_registration(id=20, personal_code=unknown.personal_code, group_id=2, provider_code=OTHER_PROVIDER_CODE),
    )
    result = checks.fix_person_data(B, unknown.personal_code.value)
    assert (result.fixed, result.not_fixed) == ([], 1)


def test_the_status_of_another_institution_is_outside_the_callers_scope(uow) -> None:
    with pytest.raises(AccessDenied):
        DataChecks(lambda: uow, sandbox_gr(), clock=FixedClock(NOW)).status(A, OTHER_PROVIDER_CODE)
    with pytest.raises(AccessDenied):
        DataChecks(lambda: uow, sandbox_gr(), clock=FixedClock(NOW)).status(A, "999999999")


# --- the student data check as a run --------------------------------------------------------
def test_the_student_data_check_stores_issues_per_institution_and_tells_each_once(uow) -> None:
    with uow:  # a late registration at A, a late deregistration at B
        late = uow.registrations.get(1)
        uow.registrations.update(
            replace(late, registered_on=date(2026, 9, 30), contract=Contract("BILATERAL", date(2026, 9, 1), "S-1"))
        )
        uow.commit()
    check = StudentDataCheck(lambda: uow, clock=FixedClock(NOW))
    summary = check.run()
    assert summary.completed and summary.done_now == 6
    assert summary.findings == {rules.LATE_REGISTRATION: 1}
    a, b = status(uow).student_data, status(uow, B).student_data
    assert a.count(Category.STUDENT_DATA) == 1 and b.count(Category.STUDENT_DATA) == 0
    listed = DataChecks(lambda: uow, sandbox_gr(), clock=FixedClock(NOW)).list_issues(A, check="STUDENT_DATA")
    assert [(i.code, i.registration_id) for i in listed.issues] == [(rules.LATE_REGISTRATION, 1)]
    [notice] = uow.stored.notices.values()
    assert (notice.kind, notice.issue_code, notice.registration_id) == (
        NoticeKind.DEADLINE_PASSED,
        rules.LATE_REGISTRATION,
        1,
    )
    check.run()
    assert len(uow.stored.notices) == 1  # found again, not told again
    assert status(uow).student_data.count(Category.STUDENT_DATA) == 1


def test_the_student_data_check_of_one_institution_leaves_the_others_status_alone(uow) -> None:
    StudentDataCheck(lambda: uow, clock=FixedClock(NOW)).run()
    later = NOW + dt.timedelta(days=1)
    StudentDataCheck(lambda: uow, clock=FixedClock(later)).run(institution_code=OTHER_PROVIDER_CODE)
    assert status(uow).student_data.checked_at == NOW
    assert status(uow, B).student_data.checked_at == later


def test_data_issues_are_listed_a_page_at_a_time_in_a_stable_order(uow) -> None:
    gr_check(uow, sandbox_gr()).run()
    checks = DataChecks(lambda: uow, sandbox_gr(), clock=FixedClock(NOW))
    seen, token = [], None
    while True:
        page = checks.list_issues(A, page_token=token, limit=2)
        seen += [i.id for i in page.issues]
        token = page.next_page_token
        if token is None:
            break
    assert len(seen) == 5 and seen == sorted(seen)
    assert {i.code for i in checks.list_issues(A, code=rules.RESIDENCE_MISMATCH).issues} == {rules.RESIDENCE_MISMATCH}
    assert checks.list_issues(A, check="STUDENT_DATA").issues == []
