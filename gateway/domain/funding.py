"""Funding marks and the NVŠ basket (NVŠ krepšelis, tikslinis finansavimas).

Funding is marked per registration for whole calendar months. The basket is
exclusive: for any month at most one registration of a child, across all
providers, carries it. This module decides every rule about marks; storage
enforces the exclusivity once more with a unique key, because two providers'
requests may race (see ``storage.repositories.SqlFundingRepository.claim_basket``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal

from gateway.domain import classifiers as cls
from gateway.domain.calendar import Month, describe_months
from gateway.domain.classifiers import Classifiers
from gateway.domain.errors import (
    BasketAgeOutOfRange,
    BasketProgramNotEligible,
    BasketProviderNotEligible,
    BasketRateMissing,
    FundingAlreadyMarked,
    FundingNotMarked,
    FundingOutsideRegistration,
    InvalidFundingPeriod,
    RegistrationNotActive,
)
from gateway.domain.model import Group, Institution, PersonRecord, Program, ProgramPurpose, Registration

BASKET_FLAG = "basket"  # the funding-type classifier flag of NVŠ targeted funding
PRIORITY_FLAG = "steam"  # the NVŠ-direction classifier flag of priority (STEAM) directions
MAX_MONTHS_ASKED = 24


@dataclass(frozen=True)
class BasketPolicy:
    """Who the basket is for (decision: ages 6 to 19 on the first day of each month; settings)."""

    minimum_age: int = 6
    maximum_age: int = 19


@dataclass(frozen=True)
class FundingMark:
    id: int | None
    registration_id: int
    funding_type: str
    from_month: Month
    to_month: Month  # inclusive
    special_needs: bool = False

    @property
    def months(self) -> list[Month]:
        return self.from_month.through(self.to_month)


def is_basket(funding_type: str, classifiers: Classifiers) -> bool:
    return classifiers.has_flag(cls.FUNDING_TYPE, funding_type, BASKET_FLAG)


def age_on(birth_date: dt.date, day: dt.date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def mark_funding(
    *,
    registration: Registration,
    group: Group,
    program: Program,
    provider: Institution,
    person: PersonRecord,
    funding_types: tuple[str, ...],
    from_month: Month,
    to_month: Month | None,
    special_needs: bool,
    existing: list[FundingMark],
    classifiers: Classifiers,
    policy: BasketPolicy,
) -> list[FundingMark]:
    """New marks, one per funding type, for the months asked (by default to the end of the school year).

    The caller must still claim the basket months in storage, where the exclusivity
    across providers is enforced.
    """
    if not registration.is_active:
        raise RegistrationNotActive()
    for index, code in enumerate(funding_types):  # positions as sent, before repeats are collapsed
        classifiers.require(cls.FUNDING_TYPE, code, field=f"fundingTypeCode[{index + 1}]")
    types = tuple(dict.fromkeys(funding_types))
    covered_from, covered_to = Month.of(registration.first_learning_date), Month.of(group.school_year.ends_on)
    last = to_month or covered_to
    if from_month > last:
        raise InvalidFundingPeriod("The first funded month is after the last one.", field="toMonth")
    if from_month < covered_from or last > covered_to:
        raise FundingOutsideRegistration(
            f"The registration covers {covered_from} to {covered_to} (from its first learning date to the end of "
            f"school year {group.school_year}); funding asked for {from_month} to {last}.",
            field="fromMonth" if from_month < covered_from else "toMonth",
        )
    asked = set(from_month.through(last))
    for code in types:
        overlap = [m for mark in existing if mark.funding_type == code for m in mark.months if m in asked]
        if overlap:
            raise FundingAlreadyMarked(
                f"The registration already has funding type {code} for {describe_months(overlap)}.", field="fromMonth"
            )
    if any(is_basket(code, classifiers) for code in types):
        check_basket_eligibility(
            program=program,
            provider=provider,
            person=person,
            months=sorted(asked),
            classifiers=classifiers,
            policy=policy,
        )
    assert registration.id is not None, "funding is marked on a stored registration"
    return [FundingMark(None, registration.id, code, from_month, last, special_needs) for code in types]


def check_basket_eligibility(
    *,
    program: Program,
    provider: Institution,
    person: PersonRecord,
    months: list[Month],
    classifiers: Classifiers,
    policy: BasketPolicy,
) -> None:
    if provider.is_general_education_school(classifiers):
        raise BasketProviderNotEligible(field="fundingTypeCode")
    if program.purpose is not ProgramPurpose.NVS:
        raise BasketProgramNotEligible(
            f"Program {program.code} supplements formal education (FŠPU): it is paid from teaching funds, not the NVŠ basket.",
            field="fundingTypeCode",
        )
    unaccredited = [m for m in months if not program.is_accredited(m.first_day) or program.is_deregistered(m.first_day)]
    if unaccredited:
        raise BasketProgramNotEligible(
            f"Program {program.code} is not an accredited, registered NVŠ program in {describe_months(unaccredited)}.",
            field="fundingTypeCode",
        )
    if person.birth_date is None:
        raise BasketAgeOutOfRange(
            "The population register gives no full birth date, so the basket's age window cannot be checked."
        )
    outside = [
        m for m in months if not policy.minimum_age <= age_on(person.birth_date, m.first_day) <= policy.maximum_age
    ]
    if outside:
        raise BasketAgeOutOfRange(
            f"The basket is for children aged {policy.minimum_age} to {policy.maximum_age} on the first day of the month; "
            f"not so in {describe_months(outside)}.",
            field="fromMonth",
        )


@dataclass(frozen=True)
class FundingChange:
    """What ending funding does to a registration's marks: some cover fewer months, some go."""

    narrowed: list[FundingMark]
    removed: list[FundingMark]

    def __bool__(self) -> bool:
        return bool(self.narrowed or self.removed)


def end_funding(marks: list[FundingMark], *, last_month: Month, funding_type: str | None = None) -> FundingChange:
    """Funding of a type (or of every type) stops after ``last_month``: later marks go, longer ones end there."""
    narrowed, removed = [], []
    for mark in marks:
        if funding_type is not None and mark.funding_type != funding_type:
            continue
        if mark.from_month > last_month:
            removed.append(mark)
        elif mark.to_month > last_month:
            narrowed.append(replace(mark, to_month=last_month))
    return FundingChange(narrowed, removed)


def end_funding_of_type(marks: list[FundingMark], *, funding_type: str, last_month: Month) -> FundingChange:
    """The provider's EndFunding: something must actually end."""
    change = end_funding(marks, last_month=last_month, funding_type=funding_type)
    if not change:
        raise FundingNotMarked(
            f"The registration has no mark of funding type {funding_type} after {last_month}.", field="lastFundedMonth"
        )
    return change


def remove_all(marks: list[FundingMark]) -> FundingChange:
    """A cancelled registration never existed: its marks go and its basket months are free again."""
    return FundingChange(narrowed=[], removed=list(marks))


def fit_to_first_learning_date(marks: list[FundingMark], first_learning_date: dt.date) -> FundingChange:
    """After a correction moves the first learning date later, months before it cannot stay funded."""
    first = Month.of(first_learning_date)
    narrowed, removed = [], []
    for mark in marks:
        if mark.to_month < first:
            removed.append(mark)
        elif mark.from_month < first:
            narrowed.append(replace(mark, from_month=first))
    return FundingChange(narrowed, removed)


# --- the basket calculation ----------------------------------------------------
@dataclass(frozen=True)
class BasketRate:
    """A monthly rate in force from a month, for one municipality or (None) for all."""

    municipality_code: str | None
    effective_from: Month
    monthly_amount: Decimal
    priority_factor: Decimal = Decimal("1")
    special_needs_factor: Decimal = Decimal("1")


def rate_in_force(rates: list[BasketRate], municipality_code: str, month: Month) -> BasketRate:
    """The newest rate in force that month; on the same date a municipality's own rate beats the general one."""
    candidates = [r for r in rates if r.effective_from <= month and r.municipality_code in (None, municipality_code)]
    if not candidates:
        raise BasketRateMissing(f"No basket rate is in force in municipality {municipality_code} in {month}.")
    return max(candidates, key=lambda r: (r.effective_from, r.municipality_code is not None))


@dataclass(frozen=True)
class FundedChildren:
    """How many children a provider's program had on the basket in a month (from storage)."""

    provider_code: str
    month: Month
    program_code: str
    special_needs: bool
    children: int


@dataclass(frozen=True)
class BasketLine:
    provider_code: str
    month: Month
    funded_children: int
    rate: Decimal
    amount: Decimal


def is_priority_program(program: Program, classifiers: Classifiers) -> bool:
    return any(classifiers.has_flag(cls.NVS_DIRECTION, d, PRIORITY_FLAG) for d in program.direction_codes)


def calculate_basket(
    funded: list[FundedChildren],
    *,
    rates: list[BasketRate],
    providers: dict[str, Institution],
    programs: dict[str, Program],
    classifiers: Classifiers,
) -> list[BasketLine]:
    """Per provider and month: funded children times the municipality's rate (with its multipliers)."""
    lines: dict[tuple[str, Month], tuple[int, Decimal, Decimal]] = {}
    for row in funded:
        rate = rate_in_force(rates, providers[row.provider_code].municipality_code, row.month)
        factor = Decimal("1")
        if is_priority_program(programs[row.program_code], classifiers):
            factor *= rate.priority_factor
        if row.special_needs:
            factor *= rate.special_needs_factor
        children, _, amount = lines.get((row.provider_code, row.month), (0, rate.monthly_amount, Decimal("0")))
        lines[(row.provider_code, row.month)] = (
            children + row.children,
            rate.monthly_amount,
            amount + rate.monthly_amount * factor * row.children,
        )
    return [
        BasketLine(provider, month, children, rate, amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))
        for (provider, month), (children, rate, amount) in sorted(lines.items(), key=lambda kv: (kv[0][0], kv[0][1]))
    ]
