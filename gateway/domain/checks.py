"""Data checks (seed: "My school"): the population-register check and the student data check.

Every rule of rules.md "Data checks" is decided here, in plain Python:

* ``compare_with_population_register``: what differs between a stored person and
  what GR answers now: personal data (name, sex, birth date, death; unknown to GR)
  and declared residence (municipality; departure abroad);
* ``student_data_issues``: the inconsistencies of one registration (late
  registration or deregistration, missing contract, basket on an unaccredited or
  deregistered program, basket beyond the age window, registration in a deregistered
  program, ...).

Each finding has a stable code from ``ISSUE_CATALOGUE`` (public: add codes, never
rename them; the README's table is rendered from it).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from gateway.domain.calendar import Month, describe_months, working_days_between
from gateway.domain.classifiers import Classifiers
from gateway.domain.funding import BasketPolicy, FundingMark, age_on, is_basket
from gateway.domain.model import (
    CONTRACTS_REQUIRED_FROM,
    DEREGISTRATION_DEADLINE_WORKING_DAYS,
    LATE_DEREGISTRATION,
    LATE_REGISTRATION,
    REGISTRATION_DEADLINE_WORKING_DAYS,
    Institution,
    PersonRecord,
    Program,
    ProgramPurpose,
    Registration,
    RegistrationStatus,
)
from gateway.domain.personal_code import PersonalCode

# GR's GetPersons takes at most 100 codes per call.
POPULATION_REGISTER_BATCH = 100


class CheckKind(enum.StrEnum):
    POPULATION_REGISTER = "POPULATION_REGISTER"
    STUDENT_DATA = "STUDENT_DATA"


# --- the issue catalogue --------------------------------------------------------
PERSONAL_DATA_MISMATCH = "PersonalDataMismatch"
PERSON_UNKNOWN_TO_POPULATION_REGISTER = "PersonUnknownToPopulationRegister"
RESIDENCE_MISMATCH = "ResidenceMismatch"
MISSING_CONTRACT = "MissingContract"
BASKET_PROGRAM_NOT_ACCREDITED = "BasketProgramNotAccredited"
BASKET_OUTSIDE_AGE_WINDOW = "BasketOutsideAgeWindow"
BASKET_AT_GENERAL_EDUCATION_SCHOOL = "BasketAtGeneralEducationSchool"
REGISTRATION_IN_DEREGISTERED_PROGRAM = "RegistrationInDeregisteredProgram"
REGISTRATION_AT_DEREGISTERED_PROVIDER = "RegistrationAtDeregisteredProvider"
ACTIVE_REGISTRATION_OF_DECEASED_PERSON = "ActiveRegistrationOfDeceasedPerson"


class Category(enum.StrEnum):
    PERSONAL_DATA = "personal data"  # counted as "personal data mismatches"
    RESIDENCE = "declared residence"  # counted as "declared residence mismatches"
    STUDENT_DATA = "student data"  # counted as "data inconsistencies"


@dataclass(frozen=True)
class IssueType:
    code: str
    check: CheckKind
    category: Category
    meaning: str
    action: str
    deadline: bool = False  # a deadline passed: raises a DEADLINE_PASSED notice


ISSUE_CATALOGUE: tuple[IssueType, ...] = (
    IssueType(
        PERSONAL_DATA_MISMATCH,
        CheckKind.POPULATION_REGISTER,
        Category.PERSONAL_DATA,
        "The stored name, sex, birth date or death differs from the population register's; the message names the fields.",
        "FixPersonData applies GR's data.",
    ),
    IssueType(
        PERSON_UNKNOWN_TO_POPULATION_REGISTER,
        CheckKind.POPULATION_REGISTER,
        Category.PERSONAL_DATA,
        "The population register no longer knows the stored personal code (GR status N).",
        "Check the code against the person's documents; cancel a registration entered with a wrong code.",
    ),
    IssueType(
        RESIDENCE_MISMATCH,
        CheckKind.POPULATION_REGISTER,
        Category.RESIDENCE,
        "The stored declared residence (municipality) differs from the population register's, or GR records a departure abroad.",
        "FixPersonData applies GR's data.",
    ),
    IssueType(
        LATE_REGISTRATION,
        CheckKind.STUDENT_DATA,
        Category.STUDENT_DATA,
        f"Registered more than {REGISTRATION_DEADLINE_WORKING_DAYS} working days after the contract date.",
        "None required; register on time in future.",
        deadline=True,
    ),
    IssueType(
        LATE_DEREGISTRATION,
        CheckKind.STUDENT_DATA,
        Category.STUDENT_DATA,
        f"Deregistered more than {DEREGISTRATION_DEADLINE_WORKING_DAYS} working days after the departure date.",
        "None required; deregister on time in future.",
        deadline=True,
    ),
    IssueType(
        MISSING_CONTRACT,
        CheckKind.STUDENT_DATA,
        Category.STUDENT_DATA,
        "A learner who arrived on or after 2012-09-01 has no contract (type, date, number).",
        "CorrectRegistration with the contract.",
    ),
    IssueType(
        BASKET_PROGRAM_NOT_ACCREDITED,
        CheckKind.STUDENT_DATA,
        Category.STUDENT_DATA,
        "The NVŠ basket is marked for months in which the program is not an accredited, registered NVŠ program (or is FŠPU).",
        "EndFunding for those months, or have the program accredited in NŠPR.",
    ),
    IssueType(
        BASKET_OUTSIDE_AGE_WINDOW,
        CheckKind.STUDENT_DATA,
        Category.STUDENT_DATA,
        "The NVŠ basket is marked for months in which the child is outside the basket's age window.",
        "EndFunding for those months.",
    ),
    IssueType(
        BASKET_AT_GENERAL_EDUCATION_SCHOOL,
        CheckKind.STUDENT_DATA,
        Category.STUDENT_DATA,
        "A general-education school carries the NVŠ basket, which it may not receive.",
        "EndFunding; mark another funding type.",
    ),
    IssueType(
        REGISTRATION_IN_DEREGISTERED_PROGRAM,
        CheckKind.STUDENT_DATA,
        Category.STUDENT_DATA,
        "An active registration is in a group whose program is deregistered in NŠPR.",
        "Deregister the learners or move them to a group of a registered program.",
    ),
    IssueType(
        REGISTRATION_AT_DEREGISTERED_PROVIDER,
        CheckKind.STUDENT_DATA,
        Category.STUDENT_DATA,
        "An active registration is with a provider that is deregistered from ŠMIR.",
        "Deregister the learners.",
    ),
    IssueType(
        ACTIVE_REGISTRATION_OF_DECEASED_PERSON,
        CheckKind.STUDENT_DATA,
        Category.STUDENT_DATA,
        "The stored person data records a death, but the registration is still active.",
        "Deregister the learner.",
    ),
)
ISSUE_TYPES = {t.code: t for t in ISSUE_CATALOGUE}


@dataclass(frozen=True)
class Finding:
    """One issue found for one registration or person (before it is stored for its institutions)."""

    code: str
    message: str
    months: tuple[Month, ...] = ()

    @property
    def type(self) -> IssueType:
        return ISSUE_TYPES[self.code]


# --- runs and stored issues --------------------------------------------------------
class RunStatus(enum.StrEnum):
    RUNNING = "running"  # started, or interrupted: the next run of the kind continues it
    COMPLETED = "completed"
    ABANDONED = "abandoned"  # replaced by a fresh run (--restart)


@dataclass(frozen=True)
class CheckRun:
    id: int
    kind: CheckKind
    status: RunStatus
    started_at: dt.datetime
    finished_at: dt.datetime | None = None
    total: int = 0  # persons (GR check) or registrations (data check) to look at
    done: int = 0


@dataclass(frozen=True)
class DataIssue:
    """A finding stored for one institution (a person's GR mismatch counts for each institution holding them)."""

    run_id: int
    check: CheckKind
    code: str
    institution_code: str
    message: str
    detected_at: dt.datetime
    personal_code: PersonalCode | None = None
    registration_id: int | None = None
    months: tuple[Month, ...] = ()
    id: int | None = None
    resolved_at: dt.datetime | None = None

    @property
    def category(self) -> Category:
        return ISSUE_TYPES[self.code].category


@dataclass(frozen=True)
class CheckStatus:
    """The "My school" line of one check for one institution: when it last ran, what is still open."""

    check: CheckKind
    checked_at: dt.datetime
    open_issues: dict[Category, int]

    def count(self, category: Category) -> int:
        return self.open_issues.get(category, 0)


# --- the population-register check ---------------------------------------------
class Field(enum.StrEnum):
    """What can differ from GR; the wire names of ``FixPersonData`` and the issue messages."""

    FIRST_NAME = "firstName"
    LAST_NAME = "lastName"
    SEX = "sex"
    BIRTH_DATE = "birthDate"
    DECEASED_DATE = "deceasedDate"
    MUNICIPALITY = "municipality"
    DEPARTED_ABROAD_DATE = "departedAbroadDate"


PERSONAL_DATA_FIELDS = (Field.FIRST_NAME, Field.LAST_NAME, Field.SEX, Field.BIRTH_DATE, Field.DECEASED_DATE)
RESIDENCE_FIELDS = (Field.MUNICIPALITY, Field.DEPARTED_ABROAD_DATE)


@dataclass(frozen=True)
class PersonComparison:
    """What the GR check found for one stored person."""

    personal_code: PersonalCode
    known_to_register: bool
    personal_data: tuple[Field, ...] = ()
    residence: tuple[Field, ...] = ()
    deceased_on: dt.date | None = None  # GR records a death
    departed_abroad_on: dt.date | None = None  # GR records a departure abroad

    @property
    def personal_data_mismatch(self) -> bool:
        return not self.known_to_register or bool(self.personal_data)

    @property
    def residence_mismatch(self) -> bool:
        return bool(self.residence)

    def findings(self) -> list[Finding]:
        found = []
        if not self.known_to_register:
            found.append(
                Finding(
                    PERSON_UNKNOWN_TO_POPULATION_REGISTER, "The population register does not know this personal code."
                )
            )
        elif self.personal_data:
            found.append(
                Finding(
                    PERSONAL_DATA_MISMATCH,
                    "Differs from the population register: " + ", ".join(self.personal_data) + ".",
                )
            )
        if self.residence:
            what = (
                "departure abroad declared"
                if Field.DEPARTED_ABROAD_DATE in self.residence
                else "declared residence differs"
            )
            found.append(
                Finding(RESIDENCE_MISMATCH, f"Population register: {what} (" + ", ".join(self.residence) + ").")
            )
        return found


def _municipality(person: PersonRecord) -> str | None:
    return person.residence.municipality_code if person.residence else None


def compare_with_population_register(stored: PersonRecord, current: PersonRecord | None) -> PersonComparison:
    """What the register holds that GR no longer says (``current`` None: GR does not know the code)."""
    if current is None:
        return PersonComparison(stored.personal_code, known_to_register=False)
    personal = tuple(
        f
        for f, ours, theirs in (
            (Field.FIRST_NAME, stored.first_name, current.first_name),
            (Field.LAST_NAME, stored.last_name, current.last_name),
            (Field.SEX, stored.sex, current.sex),
            (Field.BIRTH_DATE, stored.birth_date, current.birth_date),
            (Field.DECEASED_DATE, stored.deceased_on, current.deceased_on),
        )
        if ours != theirs
    )
    residence = tuple(
        f
        for f, ours, theirs in (
            (Field.MUNICIPALITY, _municipality(stored), _municipality(current)),
            (Field.DEPARTED_ABROAD_DATE, stored.departed_abroad_on, current.departed_abroad_on),
        )
        if ours != theirs
    )
    return PersonComparison(
        stored.personal_code,
        known_to_register=True,
        personal_data=personal,
        residence=residence,
        deceased_on=current.deceased_on,
        departed_abroad_on=current.departed_abroad_on,
    )


# --- the student data check ---------------------------------------------------
def student_data_issues(
    *,
    registration: Registration,
    program: Program,
    provider: Institution,
    person: PersonRecord | None,
    marks: list[FundingMark],
    classifiers: Classifiers,
    policy: BasketPolicy,
    today: dt.date,
) -> list[Finding]:
    """The inconsistencies of one registration that is not cancelled (rules.md, "Data checks")."""
    if registration.status is RegistrationStatus.CANCELLED:
        return []
    found: list[Finding] = []
    contract = registration.contract
    if contract is not None:
        late_by = working_days_between(contract.signed_on, registration.registered_on)
        if late_by > REGISTRATION_DEADLINE_WORKING_DAYS:
            found.append(
                Finding(
                    LATE_REGISTRATION,
                    f"Registered on {registration.registered_on.isoformat()}, {late_by} working days after the contract "
                    f"date {contract.signed_on.isoformat()} (the deadline is {REGISTRATION_DEADLINE_WORKING_DAYS}).",
                )
            )
    elif registration.first_learning_date >= CONTRACTS_REQUIRED_FROM:
        found.append(
            Finding(
                MISSING_CONTRACT,
                f"First learning date {registration.first_learning_date.isoformat()} needs a contract.",
            )
        )
    departure = registration.departure
    if departure is not None and registration.deregistered_on is not None:
        late_by = working_days_between(departure.date, registration.deregistered_on)
        if late_by > DEREGISTRATION_DEADLINE_WORKING_DAYS:
            found.append(
                Finding(
                    LATE_DEREGISTRATION,
                    f"Deregistered on {registration.deregistered_on.isoformat()}, {late_by} working days after the "
                    f"departure date {departure.date.isoformat()} (the deadline is {DEREGISTRATION_DEADLINE_WORKING_DAYS}).",
                )
            )
    if registration.is_active:
        if program.is_deregistered(today) and program.deregistered_on is not None:  # the one implies the other
            found.append(
                Finding(
                    REGISTRATION_IN_DEREGISTERED_PROGRAM,
                    f"Program {program.code} was deregistered in NŠPR on {program.deregistered_on.isoformat()}.",
                )
            )
        if provider.deregistered_on is not None and provider.deregistered_on <= today:
            found.append(
                Finding(
                    REGISTRATION_AT_DEREGISTERED_PROVIDER,
                    f"The provider was deregistered from ŠMIR on {provider.deregistered_on.isoformat()}.",
                )
            )
        if person is not None and person.deceased_on is not None:
            found.append(
                Finding(
                    ACTIVE_REGISTRATION_OF_DECEASED_PERSON,
                    f"The person data records a death on {person.deceased_on.isoformat()}.",
                )
            )
    basket_months = sorted({m for mark in marks if is_basket(mark.funding_type, classifiers) for m in mark.months})
    if basket_months:
        found.extend(_basket_issues(basket_months, program, provider, person, classifiers, policy))
    return found


def _basket_issues(
    months: list[Month],
    program: Program,
    provider: Institution,
    person: PersonRecord | None,
    classifiers: Classifiers,
    policy: BasketPolicy,
) -> list[Finding]:
    found = []
    if provider.is_general_education_school(classifiers):
        found.append(
            Finding(
                BASKET_AT_GENERAL_EDUCATION_SCHOOL,
                f"The basket is marked for {describe_months(months)}.",
                tuple(months),
            )
        )
    not_eligible = [
        m
        for m in months
        if program.purpose is not ProgramPurpose.NVS
        or not program.is_accredited(m.first_day)
        or program.is_deregistered(m.first_day)
    ]
    if not_eligible:
        why = (
            "supplements formal education (FŠPU)"
            if program.purpose is not ProgramPurpose.NVS
            else "is not accredited or is deregistered"
        )
        found.append(
            Finding(
                BASKET_PROGRAM_NOT_ACCREDITED,
                f"Program {program.code} {why} in {describe_months(not_eligible)}.",
                tuple(not_eligible),
            )
        )
    birth_date = person.birth_date if person is not None else None
    outside = [
        m
        for m in months
        if birth_date is None or not policy.minimum_age <= age_on(birth_date, m.first_day) <= policy.maximum_age
    ]
    if outside:
        found.append(
            Finding(
                BASKET_OUTSIDE_AGE_WINDOW,
                f"The child is not aged {policy.minimum_age} to {policy.maximum_age} on the first day of "
                f"{describe_months(outside)}.",
                tuple(outside),
            )
        )
    return found


def is_known_issue_code(code: str) -> bool:
    return code in ISSUE_TYPES


__all__ = [
    "CheckKind",
    "Category",
    "Field",
    "Finding",
    "ISSUE_CATALOGUE",
    "ISSUE_TYPES",
    "PersonComparison",
    "compare_with_population_register",
    "student_data_issues",
]
