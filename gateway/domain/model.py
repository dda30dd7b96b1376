"""Institutions, programs, groups, persons and registrations, with their rules.

Every rule of ``rules.md`` about groups and registrations is decided here, in
plain Python; the SOAP service and the storage only carry data to and from it.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass, replace

from gateway.domain import classifiers as cls
from gateway.domain.calendar import SchoolYear, check_plausible, end_of_month, working_days_between
from gateway.domain.classifiers import Classifiers
from gateway.domain.errors import (
    AlreadyRegistered,
    ContractRequired,
    DuplicateGroupName,
    FirstLearningDateOutsideSchoolYear,
    GroupClosed,
    GroupHasLearners,
    GroupHasRegistrations,
    InvalidClosingDate,
    InvalidDepartureDate,
    InvalidGroupName,
    InvalidSchoolYear,
    InvalidSubDirection,
    InvalidTransferDate,
    PersonDeceased,
    PersonNotALearner,
    ProgramDeregistered,
    ProgramNotRegistered,
    ProviderNotEligible,
    PurposeMismatch,
    RegistrationNotActive,
    SameGroup,
    UnknownProgram,
)
from gateway.domain.personal_code import PersonalCode
from gateway.domain.text import normalise, normalise_optional

# Contracts are recorded only for learners who arrived on or after this date (seed, step 2).
CONTRACTS_REQUIRED_FROM = dt.date(2012, 9, 1)
# NŠPR's placeholder for a program that is not yet registered.
TEMPORARY_PROGRAM_CODE = "999999999"
# Nobody born before 1900 learns here (decision): a personal code of the 19th century (century
# digit 1 or 2), or such a birth date from GR, is a mistaken code, not a learner.
EARLIEST_LEARNER_BIRTH_DATE = dt.date(1900, 1, 1)
REGISTRATION_DEADLINE_WORKING_DAYS = 5
DEREGISTRATION_DEADLINE_WORKING_DAYS = 3


class ProgramPurpose(enum.StrEnum):
    NVS = "NVS"  # NVŠ programa
    FSPU = "FSPU"  # NVŠ programa, papildanti formalųjį švietimą


class RegistrationStatus(enum.StrEnum):
    ACTIVE = "active"
    DEREGISTERED = "deregistered"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Warning:
    """Accepted, but worth the provider's attention (returned with the response)."""

    code: str
    message: str


LATE_REGISTRATION = "LateRegistration"
LATE_DEREGISTRATION = "LateDeregistration"
# TransferStudent / RollOverGroups: a funding mark could not follow the learner into the new group.
FUNDING_NOT_CARRIED = "FundingNotCarried"


# --- institutions and programs (imported from ŠMIR and NŠPR) -------------------
@dataclass(frozen=True)
class Institution:
    code: str
    name: str
    municipality_code: str
    ownership_code: str
    group_code: str
    purpose_codes: tuple[str, ...] = ()
    deregistered_on: dt.date | None = None

    def is_general_education_school(self, classifiers: Classifiers) -> bool:
        return classifiers.has_flag(cls.INSTITUTION_GROUP, self.group_code, "general-education")

    def may_provide_nvs(self, classifiers: Classifiers, on: dt.date | None = None) -> bool:
        """An NVŠ school, or an other provider / free-lance teacher with an NVŠ purpose code,
        not deregistered from ŠMIR on the given day (by default: at all)."""
        if self.deregistered_on is not None and (on is None or self.deregistered_on <= on):
            return False
        if classifiers.has_flag(cls.INSTITUTION_GROUP, self.group_code, "nvs-school"):
            return True
        if classifiers.has_flag(cls.INSTITUTION_GROUP, self.group_code, "nvs-by-purpose"):
            return any(classifiers.has_flag(cls.INSTITUTION_PURPOSE, p, "nvs") for p in self.purpose_codes)
        return False

    def check_may_provide_nvs(self, classifiers: Classifiers, on: dt.date | None = None) -> None:
        if not self.may_provide_nvs(classifiers, on):
            raise ProviderNotEligible()


@dataclass(frozen=True)
class Program:
    code: str
    name: str
    provider_code: str
    purpose: ProgramPurpose
    direction_codes: tuple[str, ...]
    registered_on: dt.date | None
    accredited_on: dt.date | None = None
    deregistered_on: dt.date | None = None

    def is_deregistered(self, on: dt.date) -> bool:
        return self.deregistered_on is not None and self.deregistered_on <= on

    def is_accredited(self, on: dt.date) -> bool:
        return self.accredited_on is not None and self.accredited_on <= on

    def check_usable_by(self, provider_code: str, on: dt.date, *, field: str = "programCode") -> None:
        """A group may only use a registered, not deregistered program of its own provider."""
        if self.provider_code != provider_code:
            raise UnknownProgram(field=field)
        if self.code == TEMPORARY_PROGRAM_CODE or self.registered_on is None or self.registered_on > on:
            raise ProgramNotRegistered(field=field)
        if self.is_deregistered(on):
            raise ProgramDeregistered(field=field)


def check_program_code(code: str) -> None:
    if code == TEMPORARY_PROGRAM_CODE:
        raise ProgramNotRegistered(field="programCode")


# --- groups -------------------------------------------------------------------
@dataclass(frozen=True)
class Leader:
    first_name: str
    last_name: str
    personal_code: PersonalCode | None = None


@dataclass(frozen=True)
class Group:
    id: int | None
    provider_code: str
    school_year: SchoolYear
    program_code: str
    purpose: ProgramPurpose
    name: str
    sub_direction_codes: tuple[str, ...]
    leaders: tuple[Leader, ...] = ()
    # CloseGroup's date: a closed group accepts no registrations and leaves ListGroups by default.
    closed_on: dt.date | None = None
    # RollOverGroups: the group of the previous school year this one is the copy of (one copy per group).
    rolled_over_from: int | None = None

    @property
    def is_closed(self) -> bool:
        return self.closed_on is not None

    def check_open(self, *, field: str = "groupId") -> None:
        if self.closed_on is not None:
            raise GroupClosed(
                f"Group {self.id} ('{self.name}') was closed on {self.closed_on.isoformat()}: it accepts no registrations.",
                field=field,
            )


def group_name(name: str) -> str:
    """A group's name as stored and compared (``gateway.domain.text``); blank: InvalidGroupName."""
    return normalise(name, field="name", blank=InvalidGroupName)


def _leaders(leaders: tuple[Leader, ...]) -> tuple[Leader, ...]:
    return tuple(
        replace(
            leader,
            first_name=normalise(leader.first_name, field=f"leader[{index + 1}]/firstName"),
            last_name=normalise(leader.last_name, field=f"leader[{index + 1}]/lastName"),
        )
        for index, leader in enumerate(leaders)
    )


def _check_sub_directions(codes: tuple[str, ...], program: Program, classifiers: Classifiers) -> None:
    if not codes:
        raise InvalidSubDirection("A group needs at least one NVŠ sub-direction.", field="subDirectionCode")
    for index, code in enumerate(codes):
        where = f"subDirectionCode[{index + 1}]"
        entry = classifiers.get(cls.NVS_SUB_DIRECTION, code)
        if entry is None:
            raise InvalidSubDirection(f"'{code}' is not a known NVŠ sub-direction code.", field=where)
        if entry.parent not in program.direction_codes:
            raise InvalidSubDirection(
                f"Sub-direction '{code}' does not belong to the directions of program {program.code}.", field=where
            )


def open_group(
    *,
    provider: Institution,
    program: Program,
    school_year: SchoolYear,
    name: str,
    requested_purpose: ProgramPurpose | None,
    sub_direction_codes: tuple[str, ...],
    leaders: tuple[Leader, ...],
    name_taken: bool,
    classifiers: Classifiers,
    today: dt.date,
) -> Group:
    provider.check_may_provide_nvs(classifiers, today)
    program.check_usable_by(provider.code, today)
    if requested_purpose is not None and requested_purpose != program.purpose:
        raise PurposeMismatch(
            f"Program {program.code} has purpose {program.purpose.value}; the group cannot be {requested_purpose.value}.",
            field="purpose",
        )
    name = group_name(name)
    leaders = _leaders(leaders)
    _check_sub_directions(sub_direction_codes, program, classifiers)
    if name_taken:
        raise DuplicateGroupName(field="name")
    return Group(
        id=None,
        provider_code=provider.code,
        school_year=school_year,
        program_code=program.code,
        purpose=program.purpose,
        name=name,
        sub_direction_codes=tuple(dict.fromkeys(sub_direction_codes)),
        leaders=leaders,
    )


def change_group(
    group: Group,
    *,
    program: Program,
    name: str,
    sub_direction_codes: tuple[str, ...],
    leaders: tuple[Leader, ...],
    name_taken: bool,
    classifiers: Classifiers,
) -> Group:
    """Rename a group, change its sub-directions or leaders; its program and year stay."""
    name = group_name(name)
    leaders = _leaders(leaders)
    _check_sub_directions(sub_direction_codes, program, classifiers)
    if name_taken:
        raise DuplicateGroupName(field="name")
    return replace(group, name=name, sub_direction_codes=tuple(dict.fromkeys(sub_direction_codes)), leaders=leaders)


# --- persons (as the population register knows them) -------------------------
@dataclass(frozen=True)
class DeclaredResidence:
    municipality_code: str | None
    municipality_name: str | None
    address: str | None = None


@dataclass(frozen=True)
class PersonRecord:
    personal_code: PersonalCode
    first_name: str
    last_name: str
    sex: str | None  # "M" or "F"
    birth_date: dt.date | None
    deceased_on: dt.date | None = None
    residence: DeclaredResidence | None = None
    departed_abroad_on: dt.date | None = None


# --- registrations ------------------------------------------------------------
@dataclass(frozen=True)
class Contract:
    type_code: str
    signed_on: dt.date
    number: str


@dataclass(frozen=True)
class Departure:
    date: dt.date
    reason_code: str
    order_number: str | None = None


@dataclass(frozen=True)
class Registration:
    id: int | None
    personal_code: PersonalCode
    group_id: int
    provider_code: str
    first_learning_date: dt.date
    contract: Contract | None
    registered_on: dt.date
    status: RegistrationStatus = RegistrationStatus.ACTIVE
    departure: Departure | None = None
    cancelled_on: dt.date | None = None
    cancellation_reason: str | None = None
    # When the deregistration was recorded (the data check compares it with the departure date).
    deregistered_on: dt.date | None = None
    # TransferStudent / RollOverGroups: the registration (same provider, another group) this one continues.
    transferred_from: int | None = None

    @property
    def is_active(self) -> bool:
        return self.status is RegistrationStatus.ACTIVE

    def correct(
        self,
        *,
        first_learning_date: dt.date | None,
        contract: Contract | None,
        school_year: SchoolYear,
        classifiers: Classifiers,
    ) -> Registration:
        """Correct the first learning date and/or the contract of a registration that is not cancelled."""
        if self.status is RegistrationStatus.CANCELLED:
            raise RegistrationNotActive("A cancelled registration cannot be corrected.")
        new_date = first_learning_date or self.first_learning_date
        new_contract = _check_arrival(new_date, contract or self.contract, school_year, classifiers)
        if self.departure is not None and self.departure.date < new_date:
            raise FirstLearningDateOutsideSchoolYear(
                "The first learning date cannot be after the departure date.", field="firstLearningDate"
            )
        return replace(self, first_learning_date=new_date, contract=new_contract)

    def cancel(self, *, reason: str, today: dt.date) -> Registration:
        """Invalidate a registration entered by mistake; it is kept, never deleted."""
        if self.status is RegistrationStatus.CANCELLED:
            raise RegistrationNotActive("The registration is already cancelled.")
        reason = normalise(reason, field="reason")
        return replace(self, status=RegistrationStatus.CANCELLED, cancelled_on=today, cancellation_reason=reason)

    def deregister(
        self, *, departure: Departure, classifiers: Classifiers, today: dt.date
    ) -> tuple[Registration, list[Warning]]:
        if not self.is_active:
            raise RegistrationNotActive()
        classifiers.require(cls.DEPARTURE_REASON, departure.reason_code, field="departureReasonCode")
        departure = replace(departure, order_number=normalise_optional(departure.order_number, field="orderNumber"))
        if departure.date < self.first_learning_date:
            raise InvalidDepartureDate("The departure date is before the first learning date.")
        if departure.date > end_of_month(today):
            raise InvalidDepartureDate("The departure date is later than the end of the current month.")
        warnings = []
        late_by = working_days_between(departure.date, today)
        if late_by > DEREGISTRATION_DEADLINE_WORKING_DAYS:
            warnings.append(
                Warning(
                    LATE_DEREGISTRATION,
                    f"Deregistered {late_by} working days after the departure date "
                    f"(the deadline is {DEREGISTRATION_DEADLINE_WORKING_DAYS}).",
                )
            )
        return replace(
            self, status=RegistrationStatus.DEREGISTERED, departure=departure, deregistered_on=today
        ), warnings


def _check_arrival(
    first_learning_date: dt.date, contract: Contract | None, school_year: SchoolYear, classifiers: Classifiers
) -> Contract | None:
    """The contract as stored (its number normalised), once the arrival is known to be right."""
    if not school_year.contains(first_learning_date):
        raise FirstLearningDateOutsideSchoolYear(
            f"The first learning date must lie inside school year {school_year} "
            f"({school_year.starts_on.isoformat()} to {school_year.ends_on.isoformat()})."
        )
    if first_learning_date >= CONTRACTS_REQUIRED_FROM:
        if contract is None:
            raise ContractRequired()
        classifiers.require(cls.CONTRACT_TYPE, contract.type_code, field="contract/typeCode")
    if contract is None:
        return None
    check_plausible(contract.signed_on, field="contract/date")
    return replace(contract, number=normalise(contract.number, field="contract/number"))


def check_may_be_learner(code: PersonalCode, birth_date: dt.date | None = None) -> None:
    """A learner was born in 1900 or later: by the personal code's century digit, and by GR's birth date."""
    if code.value[0] in "12" or (birth_date is not None and birth_date < EARLIEST_LEARNER_BIRTH_DATE):
        raise PersonNotALearner()


def register_student(
    *,
    person: PersonRecord,
    group: Group,
    program: Program,
    first_learning_date: dt.date,
    contract: Contract | None,
    already_active_in_group: bool,
    classifiers: Classifiers,
    today: dt.date,
) -> tuple[Registration, list[Warning]]:
    """Step 2 of the seed's registration: the person came from GR in step 1."""
    group.check_open()
    check_may_be_learner(person.personal_code, person.birth_date)
    if person.deceased_on is not None:
        raise PersonDeceased()
    if program.is_deregistered(today):
        raise ProgramDeregistered(
            "The group's program is deregistered in NŠPR; no new learners can join.", field="groupId"
        )
    contract = _check_arrival(first_learning_date, contract, group.school_year, classifiers)
    if already_active_in_group:
        raise AlreadyRegistered(field="personalCode")
    warnings = []
    if contract is not None:
        late_by = working_days_between(contract.signed_on, today)
        if late_by > REGISTRATION_DEADLINE_WORKING_DAYS:
            warnings.append(
                Warning(
                    LATE_REGISTRATION,
                    f"Registered {late_by} working days after the contract date "
                    f"(the deadline is {REGISTRATION_DEADLINE_WORKING_DAYS}).",
                )
            )
    assert group.id is not None, "a registration is made in a stored group"
    registration = Registration(
        id=None,
        personal_code=person.personal_code,
        group_id=group.id,
        provider_code=group.provider_code,
        first_learning_date=first_learning_date,
        contract=contract,
        registered_on=today,
    )
    return registration, warnings


# --- the life of a school year: transfers, closing, deleting, rollover ------------
# Departure reason of a registration that ends because its learner moved to another group of
# the same provider (TransferStudent, RollOverGroups); data/classifiers/classifiers.toml.
TRANSFER_REASON = "TRANSFERRED"


def transfer_student(
    *,
    registration: Registration,
    to_group: Group,
    to_program: Program,
    from_date: dt.date,
    already_active_in_group: bool,
    classifiers: Classifiers,
    today: dt.date,
) -> tuple[Registration, Registration]:
    """Move an active registration to another group of the same provider from ``from_date``.

    Decisions (README, "The life of a school year"):

    * the old registration is not changed in place: it ends the day before ``from_date``
      (status deregistered, departure reason ``TRANSFERRED``), and a new registration starts
      on ``from_date`` in the new group, linked to the old one (``transferred_from``); the
      learner's history shows both periods, one after the other, with no gap and no overlap;
    * the new registration keeps the contract: the learner stays with the same provider;
      no deadline warning is given (the provider did not register anybody late);
    * ``from_date`` lies inside the new group's school year, after the old registration's
      first learning date (the old period has at least one day), and, as a departure date,
      no later than the first day of next month (the old period ends in the current month at the latest);
    * the new group must be open and its program not deregistered in NŠPR, as for a registration.

    Returns (the old registration as it ends, the new one without an id).
    """
    if not registration.is_active:
        raise RegistrationNotActive("Only an active registration can be transferred.")
    if to_group.id == registration.group_id:
        raise SameGroup()
    assert to_group.provider_code == registration.provider_code  # the use case finds only the caller's groups
    to_group.check_open()
    if to_program.is_deregistered(max(today, from_date)):
        raise ProgramDeregistered(
            f"The program {to_program.code} of group {to_group.id} is deregistered in NŠPR; no learners can join.",
            field="groupId",
        )
    if not to_group.school_year.contains(from_date):
        raise InvalidTransferDate(
            f"The transfer date must lie inside the new group's school year {to_group.school_year} "
            f"({to_group.school_year.starts_on.isoformat()} to {to_group.school_year.ends_on.isoformat()})."
        )
    if from_date <= registration.first_learning_date:
        raise InvalidTransferDate(
            f"The transfer date must be after the first learning date ({registration.first_learning_date.isoformat()})."
        )
    last_day = from_date - dt.timedelta(days=1)
    if last_day > end_of_month(today):
        raise InvalidTransferDate(
            "The transfer date can be the first day of next month at the latest (the old group's period "
            "ends in the current month at the latest)."
        )
    if already_active_in_group:
        raise AlreadyRegistered("The learner already has an active registration in the new group.", field="groupId")
    classifiers.require(cls.DEPARTURE_REASON, TRANSFER_REASON, field="groupId")
    ended = replace(
        registration,
        status=RegistrationStatus.DEREGISTERED,
        departure=Departure(last_day, TRANSFER_REASON),
        deregistered_on=today,
    )
    assert to_group.id is not None, "a learner is transferred to a stored group"
    started = Registration(
        id=None,
        personal_code=registration.personal_code,
        group_id=to_group.id,
        provider_code=to_group.provider_code,
        first_learning_date=from_date,
        contract=registration.contract,
        registered_on=today,
        transferred_from=registration.id,
    )
    return ended, started


def close_group(
    group: Group, *, closing_date: dt.date, active_learners: int, last_departure: dt.date | None, today: dt.date
) -> Group:
    """A group ends on ``closing_date``: only once no learner is active in it.

    Decisions: the closing date lies inside the group's school year, not before the last
    departure of its learners, and not later than the end of the current month (as a
    departure date); a closed group stays in the history (its registrations point to it),
    accepts no registrations or transfers, and ListGroups shows it only when asked
    (``includeClosed``). Closing twice is refused (GroupClosed): the first date stands.
    """
    if group.closed_on is not None:
        raise GroupClosed(f"Group {group.id} ('{group.name}') is already closed, on {group.closed_on.isoformat()}.")
    if active_learners:
        raise GroupHasLearners(
            f"Group {group.id} ('{group.name}') still has {active_learners} active learner(s): "
            "deregister them or move them to another group (TransferStudent) first."
        )
    year = group.school_year
    if not year.contains(closing_date):
        raise InvalidClosingDate(
            f"The closing date must lie inside the group's school year {year} "
            f"({year.starts_on.isoformat()} to {year.ends_on.isoformat()})."
        )
    if last_departure is not None and closing_date < last_departure:
        raise InvalidClosingDate(
            f"The closing date is before the group's last departure ({last_departure.isoformat()})."
        )
    if closing_date > end_of_month(today):
        raise InvalidClosingDate("The closing date is later than the end of the current month.")
    return replace(group, closed_on=closing_date)


def check_may_delete_group(group: Group, *, registrations: int) -> None:
    """Only a group that never had a registration can be deleted (a mistake, or a plan that did not happen).

    Decision: a cancelled registration counts too: it is kept, invalidated, as the record of
    the mistake, and so its group stays. Such a group is closed instead (CloseGroup)."""
    if registrations:
        raise GroupHasRegistrations(
            f"Group {group.id} ('{group.name}') has had {registrations} registration(s): close it (CloseGroup) instead."
        )


def check_next_school_year(from_year: SchoolYear, to_year: SchoolYear) -> None:
    if to_year.first_year != from_year.first_year + 1:
        raise InvalidSchoolYear(
            f"Groups roll over into the next school year only: from {from_year}, that is {SchoolYear(from_year.first_year + 1)}.",
            field="toYear",
        )


def roll_over_group(
    group: Group,
    *,
    provider: Institution,
    program: Program,
    to_year: SchoolYear,
    name_taken: bool,
    classifiers: Classifiers,
    today: dt.date,
) -> Group:
    """The copy of ``group`` in the next school year: same program, sub-directions, leaders and name.

    Refused (the group named in the fault) when the program cannot run groups in the new
    year: deregistered in NŠPR on or before its first day (or today), not registered, or no
    longer the provider's; and when the provider already has another group of that name in
    the new year (it renames one of them first). The copy records its origin
    (``rolled_over_from``): that is what makes a second rollover find it instead of copying again.
    """
    where = f"group {group.id} ('{group.name}')"
    try:
        provider.check_may_provide_nvs(classifiers, today)
        program.check_usable_by(provider.code, today, field="groupId")
        program.check_usable_by(provider.code, to_year.starts_on, field="groupId")
    except (ProgramDeregistered, ProgramNotRegistered, UnknownProgram) as error:
        raise type(error)(
            f"{where} cannot roll over into {to_year}: its program {program.code} is not usable then ({error.message})",
            field="groupId",
        ) from None
    if name_taken:
        raise DuplicateGroupName(
            f"{where}: the provider already has another group of this name in {to_year}; rename one first.",
            field="groupId",
        )
    return Group(
        id=None,
        provider_code=group.provider_code,
        school_year=to_year,
        program_code=group.program_code,
        purpose=program.purpose,
        name=group.name,
        sub_direction_codes=group.sub_direction_codes,
        leaders=group.leaders,
        rolled_over_from=group.id,
    )
