"""Notices (pranešimai): what the register tells an institution needs its attention.

Who is told what (the rules; ``gateway.notices`` stores and lists them):

* PERSON_DECEASED / PERSON_DEPARTED_ABROAD: the GR check found that GR records a
  death or a declared departure abroad of a person; every institution with an
  ACTIVE registration of the person is told, once per person and date (the action
  is to deregister the child; a deregistered or cancelled registration needs none);
* DEADLINE_PASSED: the student data check found a late registration or
  deregistration; DATA_ISSUE: it found another inconsistency. Once per issue
  (registration, code and months): a rerun of the check does not repeat it;
* BASKET_MONTHS_RELEASED: a provider's deregistration, EndFunding, cancellation or
  correction freed basket months of a child; every OTHER provider whose active
  registration of the same child could now claim some of those months (it covers
  them, and the program, provider and child's age allow the basket) is told which
  months, and never who released them.

Messages never contain a personal code: the notice carries it in its own element.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from gateway.domain.calendar import Month, describe_months
from gateway.domain.checks import ISSUE_TYPES, Finding, PersonComparison
from gateway.domain.classifiers import Classifiers
from gateway.domain.funding import BasketPolicy, age_on
from gateway.domain.model import Group, Institution, PersonRecord, Program, ProgramPurpose, Registration
from gateway.domain.personal_code import PersonalCode

DEFAULT_LIMIT = 100
MAX_LIMIT = 500


class NoticeKind(enum.StrEnum):
    PERSON_DECEASED = "PERSON_DECEASED"
    PERSON_DEPARTED_ABROAD = "PERSON_DEPARTED_ABROAD"
    DEADLINE_PASSED = "DEADLINE_PASSED"
    DATA_ISSUE = "DATA_ISSUE"
    BASKET_MONTHS_RELEASED = "BASKET_MONTHS_RELEASED"


class NoticeState(enum.StrEnum):
    UNACKNOWLEDGED = "UNACKNOWLEDGED"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    ALL = "ALL"


@dataclass(frozen=True)
class Notice:
    institution_code: str
    kind: NoticeKind
    created_at: dt.datetime
    message: str
    personal_code: PersonalCode | None = None
    registration_id: int | None = None
    months: tuple[Month, ...] = ()
    issue_code: str | None = None
    # The same notice is raised once per institution and key (None: every time).
    dedup_key: str | None = None
    id: int | None = None
    acknowledged_at: dt.datetime | None = None
    acknowledged_by: str | None = None

    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_at is not None


@dataclass(frozen=True)
class NoticePage:
    notices: list[Notice]
    unacknowledged: int
    next_page_token: str | None


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    return max(1, min(limit, MAX_LIMIT))


# --- from the population-register check ------------------------------------------
def population_register_notices(
    comparison: PersonComparison, active_registrations: list[Registration], at: dt.datetime
) -> list[Notice]:
    """A death or a departure abroad GR records, for each institution still holding the child as active."""
    notices = []
    for registration in active_registrations:
        if comparison.deceased_on is not None:
            notices.append(
                Notice(
                    institution_code=registration.provider_code,
                    kind=NoticeKind.PERSON_DECEASED,
                    created_at=at,
                    message=f"The population register records that your learner (registration {registration.id}) died on "
                    f"{comparison.deceased_on.isoformat()}. Deregister the registration.",
                    personal_code=comparison.personal_code,
                    registration_id=registration.id,
                    dedup_key=f"{NoticeKind.PERSON_DECEASED}:{registration.id}:{comparison.deceased_on.isoformat()}",
                )
            )
        if comparison.departed_abroad_on is not None:
            notices.append(
                Notice(
                    institution_code=registration.provider_code,
                    kind=NoticeKind.PERSON_DEPARTED_ABROAD,
                    created_at=at,
                    message=f"The population register records that your learner (registration {registration.id}) declared "
                    f"a departure abroad on {comparison.departed_abroad_on.isoformat()}. Check whether the child still attends.",
                    personal_code=comparison.personal_code,
                    registration_id=registration.id,
                    dedup_key=f"{NoticeKind.PERSON_DEPARTED_ABROAD}:{registration.id}:{comparison.departed_abroad_on.isoformat()}",
                )
            )
    return notices


# --- from the student data check ---------------------------------------------------
def data_issue_notice(finding: Finding, registration: Registration, at: dt.datetime) -> Notice:
    kind = NoticeKind.DEADLINE_PASSED if ISSUE_TYPES[finding.code].deadline else NoticeKind.DATA_ISSUE
    months = ",".join(str(m) for m in finding.months)
    return Notice(
        institution_code=registration.provider_code,
        kind=kind,
        created_at=at,
        message=f"Registration {registration.id}: {finding.message}"[:1000],
        personal_code=registration.personal_code,
        registration_id=registration.id,
        months=finding.months,
        issue_code=finding.code,
        dedup_key=f"{finding.code}:{registration.id}:{months}",
    )


# --- basket months released ---------------------------------------------------------
@dataclass(frozen=True)
class BasketCandidate:
    """Another registration of the child, with what decides whether it could carry the basket."""

    registration: Registration
    group: Group
    program: Program
    provider: Institution


def months_it_could_claim(
    candidate: BasketCandidate,
    released: list[Month],
    person: PersonRecord,
    classifiers: Classifiers,
    policy: BasketPolicy,
) -> list[Month]:
    """The released months this registration covers and may carry the basket in (funding rules)."""
    registration, program = candidate.registration, candidate.program
    if not registration.is_active or candidate.provider.is_general_education_school(classifiers):
        return []
    if program.purpose is not ProgramPurpose.NVS or person.birth_date is None:
        return []
    covered_from, covered_to = Month.of(registration.first_learning_date), Month.of(candidate.group.school_year.ends_on)
    return [
        m
        for m in sorted(set(released))
        if covered_from <= m <= covered_to
        and program.is_accredited(m.first_day)
        and not program.is_deregistered(m.first_day)
        and policy.minimum_age <= age_on(person.birth_date, m.first_day) <= policy.maximum_age
    ]


def basket_release_notices(
    released: list[Month],
    released_by: Registration,
    candidates: list[BasketCandidate],
    person: PersonRecord,
    classifiers: Classifiers,
    policy: BasketPolicy,
    at: dt.datetime,
) -> list[Notice]:
    """Tell the OTHER providers whose registration of the child could now claim released months; never who released them."""
    if not released:
        return []
    notices = []
    for candidate in candidates:
        registration = candidate.registration
        if registration.id == released_by.id or registration.provider_code == released_by.provider_code:
            continue
        months = months_it_could_claim(candidate, released, person, classifiers, policy)
        if not months:
            continue
        notices.append(
            Notice(
                institution_code=registration.provider_code,
                kind=NoticeKind.BASKET_MONTHS_RELEASED,
                created_at=at,
                message=f"The NVŠ basket of your learner (registration {registration.id}) is free again for "
                f"{describe_months(months)}; you may mark it (MarkFunding) if the child's funding moves to you.",
                personal_code=registration.personal_code,
                registration_id=registration.id,
                months=tuple(months),
            )
        )
    return notices
