"""Use cases of the register: what a provider's information system can ask for.

Each use case is one transaction. Rules are decided by the domain
(``gateway.domain.model``); this layer loads what they need, calls them and stores
the outcome. Nothing here knows about SOAP, XML or SQL.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gateway import feed, notices
from gateway.batches import INDEPENDENT, BatchMode, BatchResult, Decided, run_batch, settle_batch
from gateway.calls import FamilyOf, PopulationRegisterNeeded
from gateway.clock import Clock
from gateway.domain import access, funding, model
from gateway.domain import classifiers as cls
from gateway.domain.access import Caller
from gateway.domain.calendar import Month, SchoolYear
from gateway.domain.errors import (
    AccessDenied,
    AlreadyRegistered,
    GatewayError,
    GroupNotFound,
    InstitutionCodeRequired,
    InvalidFundingPeriod,
    PersonNotFound,
    RegistrationNotFound,
    RequestRejected,
    StudentNotFound,
    UnknownInstitution,
    UnknownProgram,
)
from gateway.domain.feed import ChangeKind
from gateway.domain.model import Contract, Departure, Group, Leader, PersonRecord, ProgramPurpose, Registration, Warning
from gateway.domain.personal_code import PersonalCode
from gateway.ports import PopulationRegister, UnitOfWork, stored


class GroupLock(enum.Enum):
    SHARED = "shared"
    EXCLUSIVE = "exclusive"


# --- what callers send --------------------------------------------------------
@dataclass(frozen=True)
class LeaderInput:
    first_name: str
    last_name: str
    personal_code: str | None = None


@dataclass(frozen=True)
class GroupInput:
    name: str
    sub_direction_codes: tuple[str, ...]
    leaders: tuple[LeaderInput, ...] = ()


@dataclass(frozen=True)
class NewGroup(GroupInput):
    school_year: str = ""
    program_code: str = ""
    purpose: str | None = None


@dataclass(frozen=True)
class NewRegistration:
    personal_code: str
    group_id: int
    first_learning_date: dt.date
    contract: Contract | None = None


# --- what callers get back ----------------------------------------------------
@dataclass(frozen=True)
class GroupView:
    group: Group
    program_name: str
    active_learners: int


@dataclass(frozen=True)
class GroupSection:
    purpose: ProgramPurpose
    groups: list[GroupView]


@dataclass(frozen=True)
class RegistrationView:
    registration: Registration
    person: PersonRecord
    group: Group
    departure_reason_name: str | None = None


@dataclass(frozen=True)
class LastRegistration:
    institution_code: str
    institution_name: str
    first_learning_date: dt.date
    departure_date: dt.date | None
    departure_reason_code: str | None
    departure_reason_name: str | None


@dataclass(frozen=True)
class PersonLookup:
    person: PersonRecord
    last_registration: LastRegistration | None


@dataclass(frozen=True)
class StudentRecord:
    person: PersonRecord
    registrations: list[RegistrationView]


@dataclass(frozen=True)
class NewFunding:
    registration_id: int
    funding_types: tuple[str, ...]
    from_month: str
    to_month: str | None = None
    special_needs: bool = False


@dataclass(frozen=True)
class FundingView:
    registration_id: int
    marks: list[funding.FundingMark]


@dataclass(frozen=True)
class TransferView:
    """A transfer: the registration that ended the day before, the one that starts, and the warnings."""

    ended: RegistrationView
    started: RegistrationView
    warnings: list[Warning]


@dataclass(frozen=True)
class RolledOverGroup:
    """One group's rollover: its copy in the new year (``created``: by this run, not an earlier one),
    the learners carried (their new registrations) and the funding warnings of their transfers."""

    origin: Group
    copy: GroupView
    created: bool
    carried: list[RegistrationView]
    warnings: list[Warning]


@dataclass(frozen=True)
class RolloverRefusal:
    """The operator's rollover goes on past a refused group; this says which and why."""

    group: Group
    code: str
    message: str


@dataclass(frozen=True)
class Deregistration:
    """One record of DeregisterStudents."""

    registration_id: int
    departure: Departure


@dataclass(frozen=True)
class _RegistrationTarget:
    group: Group
    program: model.Program
    classifiers: cls.Classifiers
    provider: model.Institution
    # Which of the records' children are active in the group already (codes), read with its lock.
    active_learners: frozenset[str]


@dataclass(frozen=True)
class BasketReportLine:
    line: funding.BasketLine
    institution_name: str
    municipality_code: str


parse_personal_code = PersonalCode.parse


class Registry:
    """The NVŠ register's use cases, bound to storage, the population register and a clock."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        population_register: PopulationRegister,
        *,
        clock: Clock,
        basket_policy: funding.BasketPolicy = funding.BasketPolicy(),
    ) -> None:
        self.uow_factory = uow_factory
        self.population_register = population_register
        self.clock = clock
        self.basket_policy = basket_policy

    # --- persons ---------------------------------------------------------------
    def lookup_person(self, caller: Caller, personal_code: str) -> PersonLookup:
        """Step 1 of registration: GR's data and the person's last registration in this register.

        A coordinator looks up only children in its municipality's scope, and sees only the
        registrations there."""
        code = parse_personal_code(personal_code)
        with self.uow_factory() as uow:
            registrations, institutions = self._history(uow, code)
            if not access.child_in_scope(caller, registrations, institutions):
                raise AccessDenied(
                    "This person is not registered with a provider of your municipality.", field="personalCode"
                )
            # Read before GR is asked, once: what changes during GR's answer does not matter to a lookup.
            readable = access.readable_history(caller, registrations, institutions)
            latest = readable[0] if readable else None
            last = None
            if latest is not None:
                classifiers = uow.classifiers.load()
                institution = institutions.get(latest.provider_code)
                departure = latest.departure
                last = LastRegistration(
                    institution_code=latest.provider_code,
                    institution_name=institution.name if institution else latest.provider_code,
                    first_learning_date=latest.first_learning_date,
                    departure_date=departure.date if departure else None,
                    departure_reason_code=departure.reason_code if departure else None,
                    departure_reason_name=classifiers.name(cls.DEPARTURE_REASON, departure.reason_code)
                    if departure
                    else None,
                )
        # GR's current data, never a remembered answer (which it then primes for the registration that follows).
        person = self.population_register.find_persons([code]).get(code)
        if person is None:
            raise PersonNotFound()
        return PersonLookup(person=person, last_registration=last)

    def get_student(self, caller: Caller, personal_code: str, institution_code: str | None = None) -> StudentRecord:
        """A learner with the registrations the caller sees (not cancelled ones): a provider its
        own, a coordinator those with providers in its municipality, an administrator all;
        ``institution_code`` narrows to one institution."""
        code = parse_personal_code(personal_code)
        with self.uow_factory() as uow:
            looked_at = self._looked_at(uow, caller, institution_code) if institution_code else None
            registrations, institutions = self._history(uow, code)
            visible = [
                r
                for r in access.visible_registrations(caller, registrations, institutions)
                if looked_at is None or r.provider_code == looked_at
            ]
            archived = uow.archive.history_of(code)  # closed school years moved by `nvs-gateway archive`
            groups = {r.id: g for r, g in archived}
            institutions.update(uow.institutions.get_many({r.provider_code for r, _ in archived} - set(institutions)))
            old = [
                r
                for r in access.visible_registrations(caller, [r for r, _ in archived], institutions)
                if looked_at is None or r.provider_code == looked_at
            ]
            person = uow.persons.get(code)
            if not (visible or old) or person is None:
                raise StudentNotFound()
            classifiers = uow.classifiers.load()
            views = [self._view(uow, r, person) for r in visible] + [
                RegistrationView(
                    r,
                    person,
                    groups[r.id],
                    classifiers.name(cls.DEPARTURE_REASON, r.departure.reason_code if r.departure else None),
                )
                for r in old
            ]
            return StudentRecord(person=person, registrations=views)

    # --- groups ----------------------------------------------------------------
    def create_group(self, caller: Caller, new: NewGroup) -> GroupView:
        school_year = SchoolYear.parse(new.school_year)
        model.check_program_code(new.program_code)
        leaders = _leaders(new.leaders)
        with self.uow_factory() as uow:
            classifiers = uow.classifiers.load()
            provider = self._institution(uow, caller)
            program = uow.programs.get(new.program_code)
            if program is None:
                raise UnknownProgram(field="programCode")
            group = model.open_group(
                provider=provider,
                program=program,
                school_year=school_year,
                name=new.name,
                requested_purpose=ProgramPurpose(new.purpose) if new.purpose else None,
                sub_direction_codes=new.sub_direction_codes,
                leaders=leaders,
                name_taken=uow.groups.name_taken(provider.code, school_year, new.name),
                classifiers=classifiers,
                today=self.clock.today(),
            )
            group = uow.groups.add(group)
            uow.commit()
            return GroupView(group=group, program_name=program.name, active_learners=0)

    def update_group(self, caller: Caller, group_id: int, change: GroupInput) -> GroupView:
        leaders = _leaders(change.leaders)
        with self.uow_factory() as uow:
            group = self._group(uow, caller, group_id)
            program = uow.programs.get(group.program_code)
            assert program is not None  # a group's program cannot disappear (foreign key)
            changed = model.change_group(
                group,
                program=program,
                name=change.name,
                sub_direction_codes=change.sub_direction_codes,
                leaders=leaders,
                name_taken=uow.groups.name_taken(
                    group.provider_code, group.school_year, change.name, except_id=group.id
                ),
                classifiers=uow.classifiers.load(),
            )
            uow.groups.update(changed)
            uow.commit()
            count = uow.groups.active_learner_counts([group_id])[group_id]
            return GroupView(group=changed, program_name=program.name, active_learners=count)

    def list_groups(
        self,
        caller: Caller,
        school_year: str,
        purpose: str | None = None,
        institution_code: str | None = None,
        include_closed: bool = False,
    ) -> list[GroupSection]:
        """The seed's NVŠ group list of one institution (the caller's, or one it sees): split by
        purpose, each part with its groups (and so its count). Closed groups only when asked."""
        year = SchoolYear.parse(school_year)
        purposes = [ProgramPurpose(purpose)] if purpose else [ProgramPurpose.FSPU, ProgramPurpose.NVS]
        with self.uow_factory() as uow:
            looked_at = self._looked_at(uow, caller, institution_code)
            groups = [g for g in uow.groups.of_provider(looked_at, year) if include_closed or not g.is_closed]
            counts = uow.groups.active_learner_counts([g.id for g in groups if g.id is not None])
            program_names: dict[str, str] = {}
            for g in groups:
                if g.program_code not in program_names:
                    program = uow.programs.get(g.program_code)
                    program_names[g.program_code] = program.name if program else g.program_code
            return [
                GroupSection(
                    purpose=p,
                    groups=[
                        GroupView(
                            group=g,
                            program_name=program_names[g.program_code],
                            active_learners=counts.get(g.id or 0, 0),
                        )
                        for g in groups
                        if g.purpose is p
                    ],
                )
                for p in purposes
            ]

    # --- registrations ---------------------------------------------------------
    def register_student(self, caller: Caller, new: NewRegistration) -> tuple[RegistrationView, list[Warning]]:
        with self.uow_factory() as uow:
            registered = self._register(uow, caller, new)
            uow.commit()
            return registered

    def _register(
        self, uow: UnitOfWork, caller: Caller, new: NewRegistration
    ) -> tuple[RegistrationView, list[Warning]]:
        """One registration, decided and stored as a batch's records are: one place for the rule's
        inputs, one write path. GR is asked only once the group is known to be an open one of the caller's."""
        [decision] = self._decide_registrations(uow, [new], self._registration_targets(uow, caller, [new]))
        if not isinstance(decision, Decided):
            raise decision
        [view] = self._store_registrations(uow, [decision.value])
        return view, list(decision.warnings)

    def _registration_target(
        self, uow: UnitOfWork, caller: Caller, group_id: int, personal_codes: list[PersonalCode]
    ) -> _RegistrationTarget:
        """The open group of the caller's that a registration goes into, locked against its closing, with
        which of these children are active in it already."""
        institution = caller.acting_institution()
        found = uow.groups.lock_for_registrations(group_id, personal_codes)
        group, active = found if found is not None else (None, set())
        group = self._own_group(group, institution)
        program = uow.programs.get(group.program_code)
        assert program is not None
        classifiers = uow.classifiers.load()
        provider = self._institution(uow, caller)
        provider.check_may_provide_nvs(classifiers, self.clock.today())
        group.check_open()
        return _RegistrationTarget(group, program, classifiers, provider, frozenset(active))

    def correct_registration(
        self, caller: Caller, registration_id: int, first_learning_date: dt.date | None, contract: Contract | None
    ) -> tuple[RegistrationView, list[Warning]]:
        with self.uow_factory() as uow:
            registration = self._registration(uow, caller, registration_id)
            group = uow.groups.get(registration.group_id)
            assert group is not None
            corrected = registration.correct(
                first_learning_date=first_learning_date,
                contract=contract,
                school_year=group.school_year,
                classifiers=uow.classifiers.load(),
            )
            uow.registrations.update(corrected)
            feed.registration_changed(uow, ChangeKind.CORRECTED, corrected, at=self.clock.now())
            marks = uow.funding.of_registration(registration_id)
            self._apply(uow, corrected, funding.fit_to_first_learning_date(marks, corrected.first_learning_date))
            uow.commit()
            return self._view(uow, corrected), []

    def cancel_registration(self, caller: Caller, registration_id: int, reason: str) -> RegistrationView:
        with self.uow_factory() as uow:
            registration = self._registration(uow, caller, registration_id)
            cancelled = registration.cancel(reason=reason, today=self.clock.today())
            uow.registrations.update(cancelled)
            self._apply(uow, cancelled, funding.remove_all(uow.funding.of_registration(registration_id)))
            feed.registration_changed(uow, ChangeKind.CANCELLED, cancelled, at=self.clock.now())  # the tombstone, last
            uow.commit()
            return self._view(uow, cancelled)

    def deregister_student(
        self, caller: Caller, registration_id: int, departure: Departure
    ) -> tuple[RegistrationView, list[Warning]]:
        with self.uow_factory() as uow:
            deregistered = self._deregister(uow, caller, registration_id, departure)
            uow.commit()
            return deregistered

    def _deregister(
        self, uow: UnitOfWork, caller: Caller, registration_id: int, departure: Departure
    ) -> tuple[RegistrationView, list[Warning]]:
        registration = self._registration(uow, caller, registration_id)
        deregistered, warnings = registration.deregister(
            departure=departure, classifiers=uow.classifiers.load(), today=self.clock.today()
        )
        uow.registrations.update(deregistered)
        feed.registration_changed(uow, ChangeKind.DEREGISTERED, deregistered, at=self.clock.now())
        # The month of departure is the last funded month of every mark.
        marks = uow.funding.of_registration(registration_id)
        self._apply(uow, deregistered, funding.end_funding(marks, last_month=Month.of(departure.date)))
        return self._view(uow, deregistered), warnings

    # --- batches: many records in one transaction, each with its result (gateway.batches) ----
    def register_students(
        self, caller: Caller, records: Sequence[NewRegistration], mode: BatchMode = INDEPENDENT
    ) -> BatchResult[RegistrationView]:
        """RegisterStudents: each record as RegisterStudent does it, in order. The population register is
        asked once, for every person the batch needs, before any record runs. The rules judge every
        record from reads alone (the children registered in the batch's groups are read at once), and
        the accepted ones are written together; should a concurrent request register one of the
        children meanwhile, that is undone and the batch run record by record, which names it."""
        with self.uow_factory() as uow:
            targets = self._registration_targets(uow, caller, records)
            self._ask_population_register_once(records, targets)
            try:
                with uow.savepoint():
                    result = settle_batch(
                        self._decide_registrations(uow, records, targets),
                        lambda decided: self._store_registrations(uow, decided),
                        mode,
                    )
            except AlreadyRegistered:
                result = run_batch(uow, records, lambda new: self._register(uow, caller, new), mode)
            uow.commit()
            return result

    def deregister_students(
        self, caller: Caller, records: Sequence[Deregistration], mode: BatchMode = INDEPENDENT
    ) -> BatchResult[RegistrationView]:
        with self.uow_factory() as uow:
            result = run_batch(
                uow,
                records,
                lambda r: self._deregister(uow, caller, r.registration_id, r.departure),
                mode,
            )
            uow.commit()
            return result

    def mark_funding_batch(
        self, caller: Caller, records: Sequence[NewFunding], mode: BatchMode = INDEPENDENT
    ) -> BatchResult[FundingView]:
        """MarkFundingBatch: each record as MarkFunding does it; a basket month claimed by an earlier
        record of the batch is as taken as one claimed before."""
        with self.uow_factory() as uow:
            result = run_batch(uow, records, lambda new: (self._mark_funding(uow, caller, new), []), mode)
            uow.commit()
            return result

    def _registration_targets(
        self, uow: UnitOfWork, caller: Caller, records: Sequence[NewRegistration]
    ) -> dict[int, _RegistrationTarget | RequestRejected]:
        """Each group the batch names, checked (and locked against its closing) once: the target, or
        why no registration may go into it."""
        codes: dict[int, list[PersonalCode]] = {}
        for new in records:
            codes.setdefault(new.group_id, [])
            try:
                codes[new.group_id].append(parse_personal_code(new.personal_code))
            except RequestRejected:
                continue  # the record's own decision gives its refusal
        targets: dict[int, _RegistrationTarget | RequestRejected] = {}
        for group_id, children in codes.items():
            try:
                targets[group_id] = self._registration_target(uow, caller, group_id, children)
            except RequestRejected as refusal:
                targets[group_id] = refusal
        return targets

    def _ask_population_register_once(
        self, records: Sequence[NewRegistration], targets: dict[int, _RegistrationTarget | RequestRejected]
    ) -> None:
        """Inside a call, GR is never waited on in the transaction (gateway.calls): a person it has
        not answered for yet ends the run with ``PopulationRegisterNeeded``, and the call asks GR and
        runs again. For a batch, every such person is named in one go (one batch question to GR),
        not one rerun per child. Records that will be refused anyway (a bad code, a group not
        open or not the caller's) are not asked about, as for a single registration."""
        needed: set[PersonalCode | FamilyOf] = set()
        for new in records:
            if not isinstance(targets[new.group_id], _RegistrationTarget):
                continue
            try:
                code = parse_personal_code(new.personal_code)
                model.check_may_be_learner(code)
                self.population_register.find_person(code)
            except PopulationRegisterNeeded as asked:
                needed |= asked.personal_codes
            except RequestRejected:
                continue  # the record's own decision gives its refusal
        if needed:
            raise PopulationRegisterNeeded(needed)

    def _decide_registrations(
        self,
        uow: UnitOfWork,
        records: Sequence[NewRegistration],
        targets: dict[int, _RegistrationTarget | RequestRejected],
    ) -> list[Decided[tuple[Registration, PersonRecord, _RegistrationTarget]] | RequestRejected]:
        """What the rules decide for each record, before anything is written: a later record sees
        the children the earlier ones register, and every record those registered before (read with
        the group's lock)."""
        active = {
            (code, group_id)
            for group_id, target in targets.items()
            if isinstance(target, _RegistrationTarget)
            for code in target.active_learners
        }
        decisions: list[Decided[tuple[Registration, PersonRecord, _RegistrationTarget]] | RequestRejected] = []
        for new in records:
            try:
                code = parse_personal_code(new.personal_code)
                model.check_may_be_learner(code)
                target = targets[new.group_id]
                if not isinstance(target, _RegistrationTarget):
                    raise target
                person = self._from_population_register(code)
                group = target.group
                registration, warnings = model.register_student(
                    person=person,
                    group=group,
                    program=target.program,
                    first_learning_date=new.first_learning_date,
                    contract=new.contract,
                    already_active_in_group=(code.value, stored(group.id)) in active,
                    classifiers=target.classifiers,
                    today=self.clock.today(),
                )
            except RequestRejected as refusal:
                decisions.append(refusal)
                continue
            active.add((code.value, stored(group.id)))
            decisions.append(Decided((registration, person, target), tuple(warnings)))
        return decisions

    def _store_registrations(
        self, uow: UnitOfWork, decided: list[tuple[Registration, PersonRecord, _RegistrationTarget]]
    ) -> list[RegistrationView]:
        """The accepted registrations of a batch, their persons and their change events, written at once."""
        now = self.clock.now()
        added = uow.registrations.add_with_persons(
            [(registration, person) for registration, person, _ in decided], checked_at=now
        )
        views: list[RegistrationView] = []
        for registration, (_, person, target) in zip(added, decided, strict=True):
            feed.registration_changed(
                uow, ChangeKind.REGISTERED, registration, at=now, group=target.group, provider=target.provider
            )
            views.append(RegistrationView(registration=registration, person=person, group=target.group))
        return views

    # --- the life of a school year: transfers, closing, deleting, rollover -----------
    def transfer_student(self, caller: Caller, registration_id: int, group_id: int, from_date: dt.date) -> TransferView:
        """Move an active registration to another group of the caller's from ``from_date``
        (``model.transfer_student`` and ``funding.carry_funding`` decide), in one transaction."""
        with self.uow_factory() as uow:
            registration = self._registration(uow, caller, registration_id)
            to_group = self._group(uow, caller, group_id, lock=GroupLock.SHARED)
            provider = self._institution(uow, caller)
            ended, started, warnings = self._transfer(uow, registration, to_group, from_date, provider)
            uow.commit()
            return TransferView(self._view(uow, ended), self._view(uow, started), warnings)

    def close_group(self, caller: Caller, group_id: int, closing_date: dt.date) -> GroupView:
        with self.uow_factory() as uow:
            # Exclusive: a registration or transfer into the group waits, then finds it closed.
            group = self._group(uow, caller, group_id, lock=GroupLock.EXCLUSIVE)
            closed = model.close_group(
                group,
                closing_date=closing_date,
                active_learners=uow.groups.active_learner_counts([group_id])[group_id],
                last_departure=uow.groups.last_departure(group_id),
                today=self.clock.today(),
            )
            uow.groups.update(closed)
            uow.commit()
            return GroupView(group=closed, program_name=self._program_name(uow, closed), active_learners=0)

    def delete_group(self, caller: Caller, group_id: int) -> None:
        with self.uow_factory() as uow:
            group = self._group(uow, caller, group_id, lock=GroupLock.EXCLUSIVE)
            model.check_may_delete_group(group, registrations=uow.groups.registration_count(group_id))
            uow.groups.delete(group_id)
            uow.commit()

    def roll_over_groups(
        self,
        caller: Caller,
        from_year: str,
        to_year: str,
        group_ids: tuple[int, ...] = (),
        carry_learners: bool = False,
    ) -> list[RolledOverGroup]:
        """Copy the caller's groups of ``from_year`` (the named ones, or every open one) into
        ``to_year`` and, with ``carry_learners``, move their active learners into the copies
        from the new year's first day. One transaction: a refused group refuses the call,
        named in the fault; a second run finds the copies and copies nothing again."""
        first, second = SchoolYear.parse(from_year), SchoolYear.parse(to_year)
        model.check_next_school_year(first, second)
        with self.uow_factory() as uow:
            provider = self._institution(uow, caller)
            if group_ids:
                groups = []
                for index, group_id in enumerate(dict.fromkeys(group_ids)):
                    group = self._group(uow, caller, group_id)
                    if group.school_year != first:
                        raise GroupNotFound(
                            f"Group {group_id} is a group of {group.school_year}, not of {first}.",
                            field=f"groupId[{index + 1}]",
                        )
                    groups.append(group)
            else:
                groups = [g for g in uow.groups.of_provider(provider.code, first) if not g.is_closed]
            results = [self._roll_over(uow, provider, group, second, carry_learners) for group in groups]
            uow.commit()
            return results

    def roll_over_for_operator(
        self,
        from_year: str,
        to_year: str,
        *,
        institution_codes: tuple[str, ...] = (),
        group_ids: tuple[int, ...] = (),
        carry_learners: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> tuple[list[RolledOverGroup], list[RolloverRefusal]]:
        """``nvs-gateway roll-over``: every provider's groups (or those named), one transaction per
        group, so that a refused group (named in the summary) does not hold the others back.
        Interrupted, it is run again: the groups done are found, not copied again."""
        first, second = SchoolYear.parse(from_year), SchoolYear.parse(to_year)
        model.check_next_school_year(first, second)
        with self.uow_factory() as uow:
            if group_ids:
                found = [uow.groups.get(group_id) for group_id in group_ids]
                missing = [gid for gid, g in zip(group_ids, found, strict=True) if g is None or g.school_year != first]
                if missing:
                    raise GroupNotFound(f"No group of {first} has the id(s) {', '.join(map(str, missing))}.")
                groups = [g for g in found if g is not None]
            else:
                providers = institution_codes or tuple(uow.groups.providers_with_groups(first))
                groups = [g for code in providers for g in uow.groups.of_provider(code, first) if not g.is_closed]
        done: list[RolledOverGroup] = []
        refused: list[RolloverRefusal] = []
        for position, group in enumerate(groups, start=1):
            try:
                with self.uow_factory() as uow:
                    provider = uow.institutions.get(group.provider_code)
                    assert provider is not None
                    done.append(self._roll_over(uow, provider, group, second, carry_learners))
                    uow.commit()
            except GatewayError as error:
                refused.append(RolloverRefusal(group, error.code, error.message))
            if progress is not None:
                progress(position, len(groups))
        return done, refused

    def _roll_over(
        self, uow: UnitOfWork, provider: model.Institution, group: Group, to_year: SchoolYear, carry_learners: bool
    ) -> RolledOverGroup:
        copy = uow.groups.copy_of(stored(group.id))
        created = copy is None
        if copy is None:
            program = uow.programs.get(group.program_code)
            assert program is not None
            copy = uow.groups.add(
                model.roll_over_group(
                    group,
                    provider=provider,
                    program=program,
                    to_year=to_year,
                    name_taken=uow.groups.name_taken(provider.code, to_year, group.name),
                    classifiers=uow.classifiers.load(),
                    today=self.clock.today(),
                )
            )
        carried: list[RegistrationView] = []
        warnings: list[Warning] = []
        if carry_learners:
            for registration in uow.registrations.active_in_group(stored(group.id)):
                _, started, transfer_warnings = self._transfer(uow, registration, copy, to_year.starts_on, provider)
                carried.append(self._view(uow, started))
                warnings.extend(transfer_warnings)
        count = uow.groups.active_learner_counts([stored(copy.id)])[stored(copy.id)]
        view = GroupView(group=copy, program_name=self._program_name(uow, copy), active_learners=count)
        return RolledOverGroup(group, view, created, carried, warnings)

    def _transfer(
        self,
        uow: UnitOfWork,
        registration: Registration,
        to_group: Group,
        from_date: dt.date,
        provider: model.Institution,
    ) -> tuple[Registration, Registration, list[Warning]]:
        """One transfer inside the caller's transaction: registrations, funding, feed and notices.

        The basket claims of the carried months move from the old mark to its continuation in
        place (``FundingRepository.move_basket_claims``): the row (child, month) that makes the
        basket exclusive is never deleted, so a rival MarkFunding waits for this transaction and
        then still finds the month claimed."""
        program = uow.programs.get(to_group.program_code)
        person = uow.persons.get(registration.personal_code)
        assert program is not None and person is not None
        classifiers = uow.classifiers.load()
        at = self.clock.now()
        ended, started = model.transfer_student(
            registration=registration,
            to_group=to_group,
            to_program=program,
            from_date=from_date,
            already_active_in_group=uow.registrations.has_active(registration.personal_code, stored(to_group.id)),
            classifiers=classifiers,
            today=self.clock.today(),
        )
        uow.registrations.update(ended)
        started = uow.registrations.add(started)
        before = uow.funding.of_registration(stored(registration.id))
        outcome = funding.carry_funding(
            before,
            first_month=Month.of(from_date),
            new_registration=started,
            new_group=to_group,
            new_program=program,
            provider=provider,
            person=person,
            classifiers=classifiers,
            policy=self.basket_policy,
        )
        continuations = []
        for old, continuation in outcome.carried:
            added = uow.funding.add(continuation)
            if funding.is_basket(added.funding_type, classifiers):
                uow.funding.move_basket_claims(stored(old.id), stored(added.id), added.months)
            continuations.append(added)
        _apply(uow, outcome.change)  # the old marks end; the moved claims are the continuations' now
        feed.registration_changed(uow, ChangeKind.DEREGISTERED, ended, at=at)
        feed.funding_changed(uow, ChangeKind.FUNDING_ENDED, outcome.change.narrowed, ended, at=at)
        feed.funding_changed(uow, ChangeKind.FUNDING_REMOVED, outcome.change.removed, ended, at=at)
        feed.registration_changed(uow, ChangeKind.REGISTERED, started, at=at, group=to_group, provider=provider)
        feed.funding_changed(uow, ChangeKind.FUNDING_MARKED, continuations, started, at=at)
        released = notices.released_basket_months(before, outcome.not_carried, classifiers)
        notices.basket_months_released(uow, ended, released, policy=self.basket_policy, at=at)
        return ended, started, outcome.warnings

    @staticmethod
    def _program_name(uow: UnitOfWork, group: Group) -> str:
        program = uow.programs.get(group.program_code)
        return program.name if program else group.program_code

    # --- funding ---------------------------------------------------------------
    def mark_funding(self, caller: Caller, new: NewFunding) -> FundingView:
        with self.uow_factory() as uow:
            marked = self._mark_funding(uow, caller, new)
            uow.commit()
            return marked

    def _mark_funding(self, uow: UnitOfWork, caller: Caller, new: NewFunding) -> FundingView:
        from_month = Month.parse(new.from_month, field="fromMonth")
        to_month = Month.parse(new.to_month, field="toMonth") if new.to_month else None
        registration = self._registration(uow, caller, new.registration_id)
        group = uow.groups.get(registration.group_id)
        program = uow.programs.get(group.program_code) if group else None
        person = uow.persons.get(registration.personal_code)
        assert group is not None and program is not None and person is not None
        classifiers = uow.classifiers.load()
        marks = funding.mark_funding(
            registration=registration,
            group=group,
            program=program,
            provider=self._institution(uow, caller),
            person=person,
            funding_types=new.funding_types,
            from_month=from_month,
            to_month=to_month,
            special_needs=new.special_needs,
            existing=uow.funding.of_registration(new.registration_id),
            classifiers=classifiers,
            policy=self.basket_policy,
        )
        added_marks = []
        for mark in marks:
            added = uow.funding.add(mark)
            if funding.is_basket(mark.funding_type, classifiers):
                uow.funding.claim_basket(registration.personal_code, added)
            added_marks.append(added)
        feed.funding_changed(
            uow, ChangeKind.FUNDING_MARKED, added_marks, registration, at=self.clock.now(), group=group
        )
        return FundingView(new.registration_id, uow.funding.of_registration(new.registration_id))

    def end_funding(self, caller: Caller, registration_id: int, funding_type: str, last_month: str) -> FundingView:
        last = Month.parse(last_month, field="lastFundedMonth")
        with self.uow_factory() as uow:
            registration = self._registration(uow, caller, registration_id)
            uow.classifiers.load().require(cls.FUNDING_TYPE, funding_type, field="fundingTypeCode")
            change = funding.end_funding_of_type(
                uow.funding.of_registration(registration_id), funding_type=funding_type, last_month=last
            )
            self._apply(uow, registration, change)
            uow.commit()
            return FundingView(registration_id, uow.funding.of_registration(registration_id))

    def funding_type_names(self) -> dict[str, str]:
        with self.uow_factory() as uow:
            return {e.code: e.name for e in uow.classifiers.load().entries(cls.FUNDING_TYPE)}

    def get_funding(self, caller: Caller, registration_id: int) -> FundingView:
        """The marks of a registration the caller sees (coordinators and administrators read too)."""
        with self.uow_factory() as uow:
            registration = uow.registrations.get(registration_id)
            institution = uow.institutions.get(registration.provider_code) if registration else None
            if registration is None or institution is None or not caller.sees_institution(institution):
                raise RegistrationNotFound()
            return FundingView(registration_id, uow.funding.of_registration(registration_id))

    def check_basket_availability(
        self, caller: Caller, personal_code: str, from_month: str, to_month: str
    ) -> list[tuple[Month, bool]]:
        """Whether each month's basket is still free for the child: yes or no, nothing about who holds it."""
        code = parse_personal_code(personal_code)
        months = _month_range(from_month, to_month)
        with self.uow_factory() as uow:
            claimed = set(uow.funding.claimed_months(code, months))
        return [(month, month not in claimed) for month in months]

    def calculate_basket(self, caller: Caller, from_month: str, to_month: str) -> list[BasketReportLine]:
        """The basket of the caller's scope (its institution, its municipality's providers, or all):
        per provider and month, funded children times the municipality's rate."""
        months = _month_range(from_month, to_month)
        with self.uow_factory() as uow:
            if caller.institution_code is not None:
                providers_in_scope: list[str] | None = [caller.institution_code]
            elif caller.municipality_code is not None:
                providers_in_scope = uow.institutions.codes_in_municipality(caller.municipality_code)
            else:
                providers_in_scope = None  # central: every provider
            funded = uow.funding.funded_children(providers_in_scope, months)
            archived_through = uow.archive.archived_through()
            if archived_through is not None and months[0].first_day <= SchoolYear(archived_through).ends_on:
                # Months of archived school years: their claims stay, their marks are in the archive.
                funded += uow.archive.funded_children(
                    providers_in_scope, [m.first_day for m in months]
                )  # Funded rows name their provider and program by foreign key: both are stored.
            providers = {code: stored(uow.institutions.get(code)) for code in {f.provider_code for f in funded}}
            programs = {code: stored(uow.programs.get(code)) for code in {f.program_code for f in funded}}
            lines = funding.calculate_basket(
                funded,
                rates=uow.rates.all(),
                providers=providers,
                programs=programs,
                classifiers=uow.classifiers.load(),
            )
            return [
                BasketReportLine(
                    line, providers[line.provider_code].name, providers[line.provider_code].municipality_code
                )
                for line in lines
            ]

    # --- helpers ---------------------------------------------------------------
    def _apply(self, uow: UnitOfWork, registration: Registration, change: funding.FundingChange) -> None:
        """A funding change in the same transaction: marks narrowed or removed, their change events,
        and notices to the other providers who could claim the basket months it frees."""
        before = uow.funding.of_registration(stored(registration.id))
        _apply(uow, change)
        at = self.clock.now()
        feed.funding_changed(uow, ChangeKind.FUNDING_ENDED, change.narrowed, registration, at=at)
        feed.funding_changed(uow, ChangeKind.FUNDING_REMOVED, change.removed, registration, at=at)
        released = notices.released_basket_months(before, change, uow.classifiers.load())
        notices.basket_months_released(uow, registration, released, policy=self.basket_policy, at=at)

    def _from_population_register(self, code: PersonalCode) -> PersonRecord:
        person = self.population_register.find_person(code)
        if person is None:
            raise PersonNotFound()
        return person

    @staticmethod
    def _history(uow: UnitOfWork, code: PersonalCode) -> tuple[list[Registration], dict[str, model.Institution]]:
        """All the person's registrations, and their providers (for scope decisions)."""
        registrations = uow.registrations.of_person(code)
        return registrations, uow.institutions.get_many({r.provider_code for r in registrations})

    @staticmethod
    def _looked_at(uow: UnitOfWork, caller: Caller, institution_code: str | None) -> str:
        """The institution a read is about: the one named, if the caller sees it, else the caller's own."""
        if institution_code is None:
            if caller.institution_code is None:
                raise InstitutionCodeRequired()
            return caller.institution_code
        if caller.institution_code is not None and institution_code == caller.institution_code:
            return institution_code
        institution = uow.institutions.get(institution_code)
        if institution is None:
            raise UnknownInstitution()
        access.check_looks_at(caller, institution)
        return institution.code

    @staticmethod
    def _institution(uow: UnitOfWork, caller: Caller) -> model.Institution:
        institution = uow.institutions.get(caller.acting_institution())
        # Users are only created for imported institutions; a missing one is our fault, not the caller's.
        assert institution is not None, "user's institution is not in storage"
        return institution

    @staticmethod
    def _group(uow: UnitOfWork, caller: Caller, group_id: int, *, lock: GroupLock | None = None) -> Group:
        """The caller's group; ``lock``: held to the end of the transaction, taken by the read itself
        (SHARED by calls adding a registration to it, EXCLUSIVE by CloseGroup and DeleteGroup)."""
        institution = caller.acting_institution()  # coordinators and administrators change nothing
        if lock is not None:
            group = uow.groups.lock(group_id, exclusive=lock is GroupLock.EXCLUSIVE)
        else:
            group = uow.groups.get(group_id)
        return Registry._own_group(group, institution)

    @staticmethod
    def _own_group(group: Group | None, institution: str) -> Group:
        # Another institution's group is reported as missing: its existence is not the caller's business.
        if group is None or group.provider_code != institution:
            raise GroupNotFound()
        return group

    @staticmethod
    def _registration(uow: UnitOfWork, caller: Caller, registration_id: int) -> Registration:
        institution = caller.acting_institution()
        registration = uow.registrations.get(registration_id)
        if registration is None or registration.provider_code != institution:
            raise RegistrationNotFound()
        return registration

    @staticmethod
    def _view(uow: UnitOfWork, registration: Registration, person: PersonRecord | None = None) -> RegistrationView:
        group = uow.groups.get(registration.group_id)
        person = person or uow.persons.get(registration.personal_code)
        assert group is not None and person is not None
        reason = registration.departure.reason_code if registration.departure else None
        return RegistrationView(
            registration=registration,
            person=person,
            group=group,
            departure_reason_name=uow.classifiers.load().name(cls.DEPARTURE_REASON, reason),
        )


def _apply(uow: UnitOfWork, change: funding.FundingChange) -> None:
    for mark in change.narrowed:
        uow.funding.narrow(mark)
    for mark in change.removed:
        uow.funding.remove(mark)


def _month_range(from_month: str, to_month: str) -> list[Month]:
    first, last = Month.parse(from_month, field="fromMonth"), Month.parse(to_month, field="toMonth")
    months = first.through(last)
    if not months or len(months) > funding.MAX_MONTHS_ASKED:
        raise InvalidFundingPeriod(
            f"Ask for 1 to {funding.MAX_MONTHS_ASKED} months, the first not after the last.", field="toMonth"
        )
    return months


def _leaders(inputs: tuple[LeaderInput, ...]) -> tuple[Leader, ...]:
    return tuple(
        Leader(
            first_name=leader.first_name,
            last_name=leader.last_name,
            personal_code=parse_personal_code(leader.personal_code, field=f"leader[{index + 1}]/personalCode")
            if leader.personal_code
            else None,
        )
        for index, leader in enumerate(inputs)
    )
