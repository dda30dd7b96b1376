"""Retention's rules (gateway.domain.retention, gateway.domain.personal_code.Pseudonym): which school
years are past their period on a given day, what stands for an erased learner, and what a
PERSON_ERASED event must carry. Every code here is synthetic."""

from __future__ import annotations

import datetime as dt

import pytest

from gateway.domain.errors import InvalidPersonalCode
from gateway.domain.feed import ChangeEvent, ChangeKind, ErasureState
from gateway.domain.personal_code import PersonalCode, Pseudonym
from gateway.domain.retention import IDS_PER_TOMBSTONE, ErasedLearner, RetentionPeriods
from tests.fakes import valid_code
from tests.present import present


@pytest.mark.parametrize(
    ("today", "learners_through", "enrolments_through"),
    [
        # 2025-2026 closed on 31 August 2026: learners of 2015-2016 and earlier are past 10 years.
        (dt.date(2026, 12, 2), 2015, 2023),
        (dt.date(2026, 9, 1), 2015, 2023),
        # On 31 August 2026 the year 2025-2026 is not closed yet.
        (dt.date(2026, 8, 31), 2014, 2022),
        (dt.date(2027, 1, 15), 2015, 2023),
    ],
)
def test_the_periods_count_closed_school_years(today, learners_through, enrolments_through):
    periods = RetentionPeriods()
    assert periods.learners_past_retention_through(today) == learners_through
    assert periods.enrolments_past_retention_through(today) == enrolments_through


def test_shorter_periods_reach_later_years():
    periods = RetentionPeriods(learner_years=5, enrolment_years=1)
    assert periods.learners_past_retention_through(dt.date(2026, 12, 2)) == 2020
    assert periods.enrolments_past_retention_through(dt.date(2026, 12, 2)) == 2024


@pytest.mark.parametrize(("learner_years", "enrolment_years"), [(0, 2), (10, 0), (-1, 2)])
def test_a_period_is_at_least_one_closed_year(learner_years, enrolment_years):
    with pytest.raises(ValueError):
        RetentionPeriods(learner_years, enrolment_years)


def test_a_pseudonym_is_zero_and_the_persons_number():
    pseudonym = Pseudonym.of_person(12345)
    assert pseudonym.value == "00000012345"
    assert pseudonym.is_pseudonym
    assert pseudonym.sex is None and pseudonym.birth_date is None


def test_a_stored_pseudonym_reads_back_as_one_and_a_code_as_a_code():
    assert PersonalCode.stored("00000012345") == Pseudonym.of_person(12345)
    assert PersonalCode.stored("00000012345").is_pseudonym
    code = valid_code("5160229789")
    assert not PersonalCode.stored(code).is_pseudonym
    assert PersonalCode.stored(code).birth_date == dt.date(2016, 2, 29)


def test_a_pseudonym_is_never_a_personal_code():
    # A request's personal code starting with 0 is refused as a wrong code, never matched to an erased learner.
    with pytest.raises(InvalidPersonalCode):
        PersonalCode("00000012345")


@pytest.mark.parametrize("person_id", [0, -3, 10**10])
def test_a_pseudonym_needs_a_persons_number_of_one_to_ten_digits(person_id):
    with pytest.raises(ValueError):
        Pseudonym.of_person(person_id)


def test_a_person_erased_event_carries_what_was_erased_under_the_pseudonym():
    now = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)
    event = ChangeEvent(
        kind=ChangeKind.PERSON_ERASED,
        institution_code="300000011",
        personal_code=Pseudonym.of_person(7),
        occurred_at=now,
        erasure=ErasureState((1, 2), ()),
    )
    assert event.erasure == ErasureState((1, 2), ())
    with pytest.raises(ValueError):
        ChangeEvent(
            kind=ChangeKind.PERSON_ERASED,
            institution_code="300000011",
            personal_code=Pseudonym.of_person(7),
            occurred_at=now,
        )
    with pytest.raises(ValueError):
        ChangeEvent(
            kind=ChangeKind.PERSON_ERASED,
            institution_code="300000011",
            personal_code=PersonalCode(valid_code("5160229789")),
            occurred_at=now,
            erasure=ErasureState((1,), ()),
        )


def test_each_institution_is_told_of_its_own_records_within_the_contracts_bound():
    learner = ErasedLearner(7, Pseudonym.of_person(7))
    learner.registrations["300000011"].extend(range(1, 1002))  # more than one event may name
    learner.club_marks["300000011"].extend([5, 6, 7])
    learner.club_marks["190000011"].append(9)
    at = dt.datetime(2026, 12, 2, 3, 0, tzinfo=dt.UTC)

    events = learner.tombstones(at)
    erased = [present(e.erasure) for e in events]

    assert [
        (e.institution_code, len(x.registration_ids), x.club_attendance_ids)
        for e, x in zip(events, erased, strict=True)
    ] == [
        ("190000011", 0, (9,)),
        ("300000011", IDS_PER_TOMBSTONE, (5, 6, 7)),
        ("300000011", 1, ()),
    ]
    assert erased[2].registration_ids == (1001,)
    assert all(e.kind is ChangeKind.PERSON_ERASED and e.personal_code == learner.pseudonym for e in events)
    assert all(e.occurred_at == at for e in events)
