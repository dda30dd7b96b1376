"""Retention, run by ``nvs-gateway archive`` after the move: personal data past its period goes
(gateway/domain/retention.py says what and why).

Learners are pseudonymised ``batch_size`` at a time, one transaction a batch, each batch with its
PERSON_ERASED events (one per learner and institution that knew the learner), so the feed never tells
of an erasure that did not happen nor misses one that did. Then the leaders of archived groups past
the period, then the imported formal-education enrolments past theirs. An interrupted run has lost at
most its batch under way; a rerun continues with what is left."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from gateway.clock import Clock
from gateway.domain.retention import ErasedLearner, RetentionPeriods
from gateway.feed import record_change
from gateway.ports import UnitOfWork

BATCH_SIZE = 1000


@dataclass
class RetentionSummary:
    learners_through: int  # the last school year whose learners are past retention
    enrolments_through: int
    learners: int = 0
    tombstones: int = 0
    group_leaders: int = 0  # archived groups whose leaders were erased
    enrolments: int = 0
    batches: int = 0


def apply_retention(
    uow_factory: Callable[[], UnitOfWork],
    clock: Clock,
    periods: RetentionPeriods,
    *,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
    max_batches: int | None = None,
) -> RetentionSummary:
    """Erase what is past its period; ``progress(done, total)`` after each batch (learners and enrolments)."""
    today: dt.date = clock.today()
    summary = RetentionSummary(
        learners_through=periods.learners_past_retention_through(today),
        enrolments_through=periods.enrolments_past_retention_through(today),
    )
    with uow_factory() as uow:
        total = uow.retention.count_learners_past_retention(summary.learners_through)
        total += uow.retention.count_enrolments_past_retention(summary.enrolments_through)
    done = 0
    if progress:
        progress(0, total)

    def batches_left() -> bool:
        return max_batches is None or summary.batches < max_batches

    after_person = 0  # learners are taken in the order of their number: each batch goes on from the last
    while batches_left():
        with uow_factory() as uow:
            erased = uow.retention.erase_learners(summary.learners_through, batch_size, today, after_person)
            for learner in erased:
                summary.tombstones += _record_tombstones(uow, learner, clock.now())
            uow.commit()
        if not erased:
            break
        after_person = max(learner.person_id for learner in erased)
        summary.batches += 1
        summary.learners += len(erased)
        done += len(erased)
        if progress:
            progress(done, total)

    if not batches_left():
        return summary
    with uow_factory() as uow:
        summary.group_leaders = uow.retention.erase_group_leaders(summary.learners_through)
        uow.commit()

    while batches_left():
        with uow_factory() as uow:
            deleted = uow.retention.delete_enrolments(summary.enrolments_through, batch_size)
            uow.commit()
        if not deleted:
            break
        summary.batches += 1
        summary.enrolments += deleted
        done += deleted
        if progress:
            progress(done, total)
    return summary


def _record_tombstones(uow: UnitOfWork, learner: ErasedLearner, now: dt.datetime) -> int:
    events = learner.tombstones(now)
    for event in events:
        record_change(uow, event)
    return len(events)
