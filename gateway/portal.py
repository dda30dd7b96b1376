"""Citizens through the state e-services portal (contract 1.11): GetMyChildren, GetChildRecord and
GetDataAccessHistory, for the citizen the portal names in the X-Road userId header.

Whom the citizen sees is decided by ``gateway.domain.portal.represented`` from the population
register's families (GetFamily: the citizen's children, and each child's legal guardians, asked
for at every call and never remembered, so that an ended guardianship is in force at once). GR is
never asked inside the call's transaction: the cache raises ``PopulationRegisterNeeded`` and the
call is run again with the answers (``gateway.calls``).

The access history shows which institution or registry read or changed the child's data, never a
user name: the institution answers for its staff.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from gateway import access_log as access_log_module
from gateway.calls import PopulationRegisterNeeded
from gateway.clock import VILNIUS, Clock
from gateway.domain import classifiers as cls
from gateway.domain import portal
from gateway.domain.access import ScopeKind
from gateway.domain.calendar import Month
from gateway.domain.clubs import ClubAttendance
from gateway.domain.errors import ChildNotFound, InvalidPeriod, InvalidPersonalCode
from gateway.domain.funding import FundingMark
from gateway.domain.model import PersonRecord, RegistrationStatus
from gateway.domain.personal_code import PersonalCode
from gateway.domain.portal import Family, Relation, Represented
from gateway.ports import UnitOfWork
from gateway.services import RegistrationView

HISTORY_PAGE_SIZE = 50
MAX_HISTORY_PAGE_SIZE = 100
CENTRAL_NAME = "Mokinių registras (central administration)"
PORTAL_NAME = "Elektroninių valdžios vartų portalas (state e-services portal)"


class PortalRegister(Protocol):
    def find_persons(self, personal_codes: list[PersonalCode]) -> dict[PersonalCode, PersonRecord | None]: ...
    def find_family(self, personal_code: PersonalCode) -> Family | None: ...


@dataclass(frozen=True)
class ChildSummary:
    person: PersonRecord
    relation: Relation
    registrations: list[RegistrationView]  # the active ones


@dataclass(frozen=True)
class RecordRegistration:
    view: RegistrationView
    provider_name: str
    program_name: str
    marks: list[FundingMark]


@dataclass(frozen=True)
class BasketMonth:
    month: Month
    institution_code: str
    institution_name: str


@dataclass(frozen=True)
class Club:
    attendance: ClubAttendance
    school_name: str


@dataclass(frozen=True)
class ChildRecord:
    person: PersonRecord
    relation: Relation
    registrations: list[RecordRegistration]
    basket_months: list[BasketMonth]
    clubs: list[Club]


@dataclass(frozen=True)
class HistoryEntry:
    at: dt.datetime
    actor_kind: str  # institution | municipality | central | portal | unknown
    actor_code: str | None
    actor_name: str
    operation: str
    purpose: str | None
    outcome: str


@dataclass(frozen=True)
class HistoryPage:
    entries: list[HistoryEntry]
    next_cursor: str | None


def _gather(asks: list[Callable[[], Any]]) -> list[Any]:
    """Every ask answered, or one ``PopulationRegisterNeeded`` naming all that GR must be asked for."""
    needed: set[Any] = set()
    answers = []
    for ask in asks:
        try:
            answers.append(ask())
        except PopulationRegisterNeeded as need:
            needed |= need.personal_codes
    if needed:
        raise PopulationRegisterNeeded(needed)
    return answers


class Portal:
    def __init__(self, uow_factory: Callable[[], UnitOfWork], register: PortalRegister, *, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.register = register
        self.clock = clock

    # --- whom the citizen sees --------------------------------------------------------------
    def represented(self, citizen: PersonalCode) -> list[Represented]:
        family: Family | None = self.register.find_family(citizen)
        children = list(family.children) if family else []
        asks: list[Callable[[], Any]] = [partial(self.register.find_family, c) for c in children]
        families = [f for f in _gather(asks) if f]
        return portal.represented(citizen, family, families, {c: c.birth_date for c in children}, self.clock.today())

    def _persons(self, codes: list[PersonalCode]) -> dict[PersonalCode, PersonRecord | None]:
        return self.register.find_persons(codes) if codes else {}

    # --- GetMyChildren -------------------------------------------------------------------
    def my_children(self, citizen: PersonalCode) -> list[ChildSummary]:
        """The children the citizen represents, and the citizen themself when the register holds a
        registration of theirs (an adult learner, a pupil), each with their active registrations."""
        seen, persons = self._seen_with_persons(citizen)
        found = []
        with self.uow_factory() as uow:
            for person in seen:
                registrations = uow.registrations.of_person(person.personal_code)
                if person.relation is Relation.SELF and not any(
                    r.status is not RegistrationStatus.CANCELLED for r in registrations
                ):
                    continue
                record = persons.get(person.personal_code) or uow.persons.get(person.personal_code)
                if record is None:
                    continue
                active = [_view(uow, r, record) for r in registrations if r.is_active]
                found.append(ChildSummary(record, person.relation, active))
        return found

    def _seen_with_persons(
        self, citizen: PersonalCode
    ) -> tuple[list[Represented], dict[PersonalCode, PersonRecord | None]]:
        seen = self.represented(citizen)
        return seen, self._persons([s.personal_code for s in seen])

    def _check(self, citizen: PersonalCode, personal_code: str) -> tuple[Represented, PersonRecord | None]:
        try:
            code = PersonalCode(personal_code)
        except InvalidPersonalCode:  # a code with a wrong check digit is one nobody knows: the same answer
            raise ChildNotFound() from None
        person = portal.check_represents(self.represented(citizen), code)
        return person, self._persons([code]).get(code)

    # --- GetChildRecord ------------------------------------------------------------------
    def child_record(self, citizen: PersonalCode, personal_code: str) -> ChildRecord:
        represented, gr_record = self._check(citizen, personal_code)
        code = represented.personal_code
        with self.uow_factory() as uow:
            record = gr_record or uow.persons.get(code)
            if record is None:
                raise ChildNotFound()
            registrations = [
                r for r in uow.registrations.of_person(code) if r.status is not RegistrationStatus.CANCELLED
            ]
            clubs = uow.clubs.of_person(code)
            holders = uow.funding.basket_holders(code)
            by_id = {r.id: r for r in registrations}
            institutions = uow.institutions.get_many(
                {r.provider_code for r in registrations} | {c.school_code for c in clubs}
            )
            # A month may be held by a registration of this child that was cancelled since: found by id.
            for _, registration_id in holders:
                if registration_id not in by_id:
                    held = uow.registrations.get(registration_id)
                    if held is not None:
                        by_id[registration_id] = held
            institutions.update(
                uow.institutions.get_many({r.provider_code for r in by_id.values()} - institutions.keys())
            )

            def name(institution_code: str) -> str:
                institution = institutions.get(institution_code)
                return institution.name if institution else institution_code

            rows = []
            for registration in registrations:
                view = _view(uow, registration, record)
                program = uow.programs.get(view.group.program_code)
                rows.append(
                    RecordRegistration(
                        view=view,
                        provider_name=name(registration.provider_code),
                        program_name=program.name if program else view.group.program_code,
                        marks=uow.funding.of_registration(registration.id or 0),
                    )
                )
            months = [
                BasketMonth(month, by_id[rid].provider_code, name(by_id[rid].provider_code))
                for month, rid in holders
                if rid in by_id
            ]
            return ChildRecord(
                person=record,
                relation=represented.relation,
                registrations=rows,
                basket_months=months,
                clubs=[Club(c, name(c.school_code)) for c in clubs],
            )

    # --- GetDataAccessHistory ------------------------------------------------------------
    def access_history(
        self,
        citizen: PersonalCode,
        personal_code: str,
        date_from: dt.date,
        date_to: dt.date,
        *,
        cursor: str | None = None,
        page_size: int = HISTORY_PAGE_SIZE,
    ) -> HistoryPage:
        """Who read or changed the child's data between two days (inclusive, Lithuanian time), newest first,
        a page at a time (keyset: the records older than the last one returned)."""
        represented, _ = self._check(citizen, personal_code)
        if date_to < date_from:
            raise InvalidPeriod()
        since = dt.datetime.combine(date_from, dt.time(), VILNIUS).astimezone(dt.UTC)
        before = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), VILNIUS).astimezone(dt.UTC)
        size = max(1, min(page_size, MAX_HISTORY_PAGE_SIZE))
        older_than = access_log_module.record_id_of(cursor, "GetDataAccessHistory") if cursor is not None else None
        with self.uow_factory() as uow:
            _, _, records = uow.access_log.of_person(
                represented.personal_code.value, since, before, offset=0, limit=size + 1, older_than=older_than
            )
            records, more = records[:size], len(records) > size
            institutions = uow.institutions.get_many(
                {r.scope.code for r in records if r.scope and r.scope.kind is ScopeKind.INSTITUTION and r.scope.code}
            )
            classifiers = uow.classifiers.load()
        entries = []
        for r in records:
            kind, code, name = "unknown", None, "an unauthenticated caller"
            if r.scope is not None:
                kind, code = r.scope.kind.value, r.scope.code
                if r.scope.kind is ScopeKind.INSTITUTION:
                    institution = institutions.get(code or "")
                    name = institution.name if institution else (code or "")
                elif r.scope.kind is ScopeKind.MUNICIPALITY:
                    name = classifiers.name(cls.MUNICIPALITY, code or "") or (code or "")
                elif r.scope.kind is ScopeKind.CENTRAL:
                    name = CENTRAL_NAME
                else:
                    name = PORTAL_NAME
            entries.append(HistoryEntry(r.at, kind, code, name, r.operation, r.purpose, r.outcome))
        last_id = records[-1].id if records else None
        return HistoryPage(entries, access_log_module.cursor_of(last_id) if more and last_id else None)


def _view(uow: UnitOfWork, registration, person: PersonRecord) -> RegistrationView:
    group = uow.groups.get(registration.group_id)
    assert group is not None
    reason = registration.departure.reason_code if registration.departure else None
    return RegistrationView(
        registration=registration,
        person=person,
        group=group,
        departure_reason_name=uow.classifiers.load().name(cls.DEPARTURE_REASON, reason),
    )
