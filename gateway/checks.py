"""The data checks ("My school"): running them, their status, their findings, and the fix.

* ``PopulationRegisterCheck`` (``nvs-gateway check population-register``) compares every
  stored person with GR: batches of 100 codes (GetPersons), ``concurrency`` batches in
  flight, each batch's results stored in a transaction of their own. The run is kept in
  storage (``check_run``) with a result per person checked, so an interrupted run
  (Ctrl+C, GR unavailable, a crash) is continued by the next one: only persons without
  a result are asked again. When every person is checked, the run's findings become
  each institution's status and replace the previous run's.
* ``StudentDataCheck`` (``nvs-gateway check data``) applies the student-data rules of
  ``gateway.domain.checks`` to every registration that is not cancelled.
* ``DataChecks`` serves GetDataCheckStatus, ListDataIssues and FixPersonData.

Findings are stored per institution: a person's GR mismatch counts for every institution
holding a registration of theirs that is not cancelled. Notices are raised as findings
are stored (``gateway.domain.notices`` says to whom).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from gateway.clock import Clock
from gateway.domain import checks as rules
from gateway.domain.checks import CheckKind, CheckRun, CheckStatus, DataIssue, RunStatus
from gateway.domain.errors import AccessDenied, InstitutionCodeRequired, PopulationRegisterUnavailable, StudentNotFound
from gateway.domain.funding import BasketPolicy
from gateway.domain.model import Group, Institution, PersonRecord, Program, RegistrationStatus
from gateway.domain.notices import data_issue_notice, population_register_notices
from gateway.domain.personal_code import PersonalCode
from gateway.ports import PopulationRegister, UnitOfWork
from gateway.scope import scope_of

if TYPE_CHECKING:
    from gateway.domain.access import Caller

parse_personal_code = PersonalCode.parse

Progress = Callable[[int, int], None]  # (done, total)
GR_UNAVAILABLE = "the population register is unavailable"  # CheckSummary.stopped_by when GR did not answer
MAX_PERSONS_FIXED = 1000  # per FixPersonData call; the response says whether more remain
ISSUES_DEFAULT_LIMIT, ISSUES_MAX_LIMIT = 100, 500
STUDENT_DATA_PAGE = 500


@dataclass
class CheckSummary:
    """What a run of a check did, for the command's closing lines."""

    kind: CheckKind
    run_id: int
    completed: bool
    resumed: bool = False
    total: int = 0  # persons or registrations in the run
    done_before: int = 0  # already checked by an interrupted run this one continued
    done_now: int = 0
    findings: dict[str, int] = field(default_factory=dict)  # code -> persons or registrations (this invocation)
    notices: int = 0
    seconds: float = 0.0
    stopped_by: str | None = None  # why an incomplete run stopped

    @property
    def per_second(self) -> float:
        return self.done_now / self.seconds if self.seconds > 0 else 0.0


class PopulationRegisterCheck:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        population_register: PopulationRegister,
        *,
        concurrency: int = 4,
        batch_size: int = rules.POPULATION_REGISTER_BATCH,
        clock: Clock,
    ) -> None:
        if not 1 <= batch_size <= rules.POPULATION_REGISTER_BATCH:
            raise ValueError(f"batch_size must be 1 to {rules.POPULATION_REGISTER_BATCH} (GetPersons' limit)")
        self.uow_factory = uow_factory
        self.population_register = population_register
        self.concurrency = max(1, concurrency)
        self.batch_size = batch_size
        self.clock = clock

    def run(self, *, restart: bool = False, progress: Progress | None = None) -> CheckSummary:
        started = time.perf_counter()
        with self.uow_factory() as uow:
            run = uow.checks.running_run(CheckKind.POPULATION_REGISTER)
            if run is not None and restart:
                uow.checks.finish_run(run.id, RunStatus.ABANDONED, at=self.clock.now())
                run = None
            resumed = run is not None
            total = uow.checks.count_persons()
            if run is None:
                run = uow.checks.start_run(CheckKind.POPULATION_REGISTER, at=self.clock.now(), total=total)
            done_before = uow.checks.count_checked(run.id)
            uow.checks.set_progress(run.id, done=done_before, total=total)
            uow.commit()
        summary = CheckSummary(
            CheckKind.POPULATION_REGISTER,
            run.id,
            completed=False,
            resumed=resumed,
            total=total,
            done_before=done_before,
        )
        if progress:
            progress(done_before, total)

        position = 0
        exhausted = False
        in_flight: dict[Future, list[tuple[int, PersonRecord]]] = {}
        executor = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="gr-check")
        try:
            while True:
                while not exhausted and summary.stopped_by is None and len(in_flight) < self.concurrency:
                    with self.uow_factory() as uow:
                        batch = uow.checks.unchecked_persons(run.id, after=position, limit=self.batch_size)
                    if not batch:
                        exhausted = True
                        break
                    position = batch[-1][0]
                    codes = [person.personal_code for _, person in batch]
                    in_flight[executor.submit(self.population_register.find_persons, codes)] = batch
                if not in_flight:
                    break
                finished, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
                for future in finished:
                    batch = in_flight.pop(future)
                    try:
                        answers = future.result()
                    except PopulationRegisterUnavailable:
                        summary.stopped_by = GR_UNAVAILABLE
                        continue
                    self._store(run, batch, answers, summary)
                    if progress:
                        progress(
                            summary.done_before + summary.done_now,
                            max(summary.total, summary.done_before + summary.done_now),
                        )
        except KeyboardInterrupt:
            summary.stopped_by = "interrupted"
            for future in in_flight:
                future.cancel()
        finally:
            executor.shutdown(wait=True, cancel_futures=True)
        if summary.stopped_by is None:
            with self.uow_factory() as uow:
                uow.checks.complete_run(run, at=self.clock.now(), institution_codes=None)
                uow.commit()
            summary.completed = True
        summary.seconds = time.perf_counter() - started
        return summary

    def _store(
        self,
        run: CheckRun,
        batch: list[tuple[int, PersonRecord]],
        answers: dict[PersonalCode, PersonRecord | None],
        summary: CheckSummary,
    ) -> None:
        at = self.clock.now()
        with self.uow_factory() as uow:
            held_by: dict[PersonalCode, list] = defaultdict(list)
            for registration in uow.checks.registrations_of([person.personal_code for _, person in batch]):
                held_by[registration.personal_code].append(registration)
            for position, stored in batch:
                comparison = rules.compare_with_population_register(stored, answers.get(stored.personal_code))
                if not uow.checks.save_comparison(run.id, position, comparison):
                    continue  # a second process continuing the same run stored this person first
                registrations = held_by.get(stored.personal_code, [])
                institutions = sorted({r.provider_code for r in registrations})
                for finding in comparison.findings():
                    summary.findings[finding.code] = summary.findings.get(finding.code, 0) + 1
                    for institution in institutions:
                        uow.checks.add_issue(
                            DataIssue(
                                run_id=run.id,
                                check=CheckKind.POPULATION_REGISTER,
                                code=finding.code,
                                institution_code=institution,
                                message=finding.message,
                                detected_at=at,
                                personal_code=stored.personal_code,
                            )
                        )
                active = [r for r in registrations if r.status is RegistrationStatus.ACTIVE]
                for notice in population_register_notices(comparison, active, at):
                    summary.notices += uow.notices.add(notice)
            summary.done_now += len(batch)
            done = uow.checks.count_checked(run.id)
            uow.checks.set_progress(run.id, done=done, total=max(summary.total, done))
            uow.commit()


class StudentDataCheck:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        *,
        policy: BasketPolicy = BasketPolicy(),
        clock: Clock,
    ) -> None:
        self.uow_factory = uow_factory
        self.policy = policy
        self.clock = clock

    def run(self, *, institution_code: str | None = None, progress: Progress | None = None) -> CheckSummary:
        """Every registration that is not cancelled (of one institution, or of all); a fresh run each time."""
        started = time.perf_counter()
        with self.uow_factory() as uow:
            previous = uow.checks.running_run(CheckKind.STUDENT_DATA)
            if previous is not None:  # interrupted: this one starts over (it reads only the database)
                uow.checks.finish_run(previous.id, RunStatus.ABANDONED, at=self.clock.now())
            total = uow.checks.count_registrations(institution_code)
            run = uow.checks.start_run(CheckKind.STUDENT_DATA, at=self.clock.now(), total=total)
            uow.commit()
        summary = CheckSummary(CheckKind.STUDENT_DATA, run.id, completed=False, total=total)
        if progress:
            progress(0, total)
        after = 0
        groups: dict[int, Group] = {}
        programs: dict[str, Program] = {}
        providers: dict[str, Institution] = {}
        while True:
            with self.uow_factory() as uow:
                page = uow.checks.registrations_page(
                    after=after, limit=STUDENT_DATA_PAGE, provider_code=institution_code
                )
                if not page:
                    break
                classifiers = uow.classifiers.load()
                today, at = self.clock.today(), self.clock.now()
                for registration in page:
                    assert registration.id is not None, "read from the store"
                    if registration.group_id not in groups:
                        groups[registration.group_id] = _stored(uow.groups.get(registration.group_id))
                    group = groups[registration.group_id]
                    if group.program_code not in programs:
                        programs[group.program_code] = _stored(uow.programs.get(group.program_code))
                    if registration.provider_code not in providers:
                        providers[registration.provider_code] = _stored(
                            uow.institutions.get(registration.provider_code)
                        )
                    findings = rules.student_data_issues(
                        registration=registration,
                        program=programs[group.program_code],
                        provider=providers[registration.provider_code],
                        person=uow.persons.get(registration.personal_code),
                        marks=uow.funding.of_registration(registration.id),
                        classifiers=classifiers,
                        policy=self.policy,
                        today=today,
                    )
                    for finding in findings:
                        summary.findings[finding.code] = summary.findings.get(finding.code, 0) + 1
                        uow.checks.add_issue(
                            DataIssue(
                                run_id=run.id,
                                check=CheckKind.STUDENT_DATA,
                                code=finding.code,
                                institution_code=registration.provider_code,
                                message=finding.message,
                                detected_at=at,
                                personal_code=registration.personal_code,
                                registration_id=registration.id,
                                months=finding.months,
                            )
                        )
                        summary.notices += uow.notices.add(data_issue_notice(finding, registration, at))
                summary.done_now += len(page)
                uow.checks.set_progress(run.id, done=summary.done_now, total=max(total, summary.done_now))
                uow.commit()
            after = _stored(page[-1].id)
            if progress:
                progress(summary.done_now, max(total, summary.done_now))
        with self.uow_factory() as uow:
            uow.checks.complete_run(
                run, at=self.clock.now(), institution_codes=[institution_code] if institution_code else None
            )
            uow.commit()
        summary.completed = True
        summary.seconds = time.perf_counter() - started
        return summary


@dataclass(frozen=True)
class DataCheckStatus:
    population_register: CheckStatus | None
    student_data: CheckStatus | None


@dataclass(frozen=True)
class IssuePage:
    issues: list[DataIssue]
    next_page_token: str | None


@dataclass(frozen=True)
class FixResult:
    fixed: list[PersonRecord]
    not_fixed: int  # GR did not know the code any more: nothing to apply
    more: bool  # more persons of the institution are still to fix (call again)


class DataChecks:
    """The "My school" screen over SOAP: GetDataCheckStatus, ListDataIssues, FixPersonData."""

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

    def status(self, caller: Caller, institution_code: str | None = None) -> DataCheckStatus:
        """The "My school" lines of an institution in the caller's scope (by default the caller's own)."""
        code = institution_code or caller.institution_code
        if code is None:
            raise InstitutionCodeRequired()
        with self.uow_factory() as uow:
            institution = uow.institutions.get(code)
            if institution is None or not scope_of(caller).covers(code, institution.municipality_code):
                raise AccessDenied("The institution is not in your scope.", field="institutionCode")
            return DataCheckStatus(
                population_register=uow.checks.status(code, CheckKind.POPULATION_REGISTER),
                student_data=uow.checks.status(code, CheckKind.STUDENT_DATA),
            )

    def list_issues(
        self,
        caller: Caller,
        *,
        check: str | None = None,
        code: str | None = None,
        page_token: str | None = None,
        limit: int | None = None,
    ) -> IssuePage:
        """Open findings of the institution's last completed runs, in a stable order (by id)."""
        limit = ISSUES_DEFAULT_LIMIT if limit is None else max(1, min(limit, ISSUES_MAX_LIMIT))
        after = int(page_token) if page_token and page_token.isdigit() else 0
        with self.uow_factory() as uow:
            issues = uow.checks.issues_page(
                caller.acting_institution(),  # ListDataIssues: an institution's own work list
                check=CheckKind(check) if check else None,
                code=code,
                after=after,
                limit=limit + 1,
            )
        more = len(issues) > limit
        issues = issues[:limit]
        return IssuePage(issues, str(issues[-1].id) if more else None)

    def fix_person_data(self, caller: Caller, personal_code: str | None = None) -> FixResult:
        """Apply GR's current data to one person of the caller's institution, or to every one with an open GR mismatch."""
        code = parse_personal_code(personal_code) if personal_code else None
        institution = caller.acting_institution()
        with self.uow_factory() as uow:
            if code is not None:
                held = [
                    r
                    for r in uow.registrations.of_person_at(code, institution)
                    if r.status is not RegistrationStatus.CANCELLED
                ]
                if not held:
                    raise StudentNotFound()
                codes = [code]  # asked for by name: GR's data is applied whether or not the check found a mismatch
                more = False
            else:
                codes = uow.checks.persons_to_fix(institution, None, MAX_PERSONS_FIXED + 1)
                more = len(codes) > MAX_PERSONS_FIXED
                codes = codes[:MAX_PERSONS_FIXED]
        if not codes:
            return FixResult([], 0, False)
        answers = self.population_register.find_persons(codes)  # outside any transaction: GR may be slow
        fixed, not_fixed = [], 0
        with self.uow_factory() as uow:
            at = self.clock.now()
            for person_code in codes:
                current = answers.get(person_code)
                if current is None:
                    not_fixed += 1
                    continue
                uow.persons.save(current, checked_at=at)
                uow.checks.resolve_population_register_issues(person_code, at=at)
                fixed.append(current)
            uow.commit()
        return FixResult(fixed, not_fixed, more)


_T = TypeVar("_T")


def _stored(value: _T | None) -> _T:
    """What the store holds by construction: the row a foreign key names, the id of a row read from it."""
    assert value is not None, "the store holds it (a foreign key, or the id of a stored row)"
    return value


def issue_catalogue_markdown() -> str:
    """The data-issue codes as the README's table (a test keeps the two in step)."""
    lines = ["| code | check | counted as | meaning | what to do |", "|---|---|---|---|---|"]
    for t in rules.ISSUE_CATALOGUE:
        lines.append(f"| `{t.code}` | {t.check.value} | {t.category.value} | {t.meaning} | {t.action} |")
    return "\n".join(lines) + "\n"
