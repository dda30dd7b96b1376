"""Batches: many records in one call, each answered on its own (RegisterStudents,
DeregisterStudents, MarkFundingBatch, and the operator's ``import-registrations``).

Each record runs in a savepoint of the call's one transaction: a record the rules refuse is
undone alone and answered with its fault (the field path names its index), and the others go
on, in the order sent: a later record sees what an earlier one wrote (the same child twice in a
group is refused the second time). Two modes change what is kept:

* ``atomic``: a refused record undoes the whole batch. Every record is still checked, so the
  answer names every refusal at once, not only the first.
* ``validate_only``: every check runs (the rules, the population register, the basket against
  what is stored) and nothing is kept.

In both cases the records that passed are answered ``valid``, not ``stored``. A server-side
failure (the population register or the database unavailable) is not a record's refusal: it
fails the whole call, which the caller retries (with the same request id).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from gateway.domain.errors import RequestRejected
from gateway.domain.model import Warning
from gateway.ports import UnitOfWork

MAX_RECORDS = 500  # per message: the contract's maxOccurs, and the import's transaction size

R = TypeVar("R")
T = TypeVar("T")


class RecordOutcome(enum.Enum):
    STORED = "stored"  # written; committed with the call
    VALID = "valid"  # passed every check, not written (validate-only, or an atomic batch with a refusal)
    REFUSED = "refused"  # refused by a rule: ``refusal`` says why


@dataclass(frozen=True)
class BatchMode:
    atomic: bool = False
    validate_only: bool = False


INDEPENDENT = BatchMode()  # the default: each record stands on its own, the good ones are stored


@dataclass(frozen=True)
class RecordResult(Generic[T]):
    index: int  # 1-based, the record's position in the message
    outcome: RecordOutcome
    value: T | None = None  # what was stored, for a stored record
    warnings: tuple[Warning, ...] = ()
    refusal: RequestRejected | None = None

    @property
    def field(self) -> str:
        """Where the refusal points: ``record[3]/personalCode``, or the record itself."""
        own = self.refusal.field if self.refusal is not None else None
        return f"record[{self.index}]" + (f"/{own}" if own else "")


@dataclass(frozen=True)
class BatchResult(Generic[T]):
    written: bool  # the stored records are in the register (False: nothing of the batch was kept)
    results: list[RecordResult[T]]

    @property
    def accepted(self) -> int:
        return sum(r.outcome is not RecordOutcome.REFUSED for r in self.results)

    @property
    def refused(self) -> int:
        return sum(r.outcome is RecordOutcome.REFUSED for r in self.results)


def run_batch(
    uow: UnitOfWork,
    records: Sequence[R],
    work: Callable[[R], tuple[T, Sequence[Warning]]],
    mode: BatchMode = INDEPENDENT,
) -> BatchResult[T]:
    """``work`` each record in its own savepoint of ``uow``, in order; see the module's docstring."""
    assert len(records) <= MAX_RECORDS, "the contract and the import keep batches within MAX_RECORDS"
    results: list[RecordResult[T]] = []
    with uow.savepoint() as whole:
        for index, record in enumerate(records, start=1):
            try:
                with uow.savepoint():
                    value, warnings = work(record)
            except RequestRejected as refusal:
                results.append(RecordResult(index, RecordOutcome.REFUSED, refusal=refusal))
            else:
                results.append(RecordResult(index, RecordOutcome.STORED, value, tuple(warnings)))
        any_refused = any(r.outcome is RecordOutcome.REFUSED for r in results)
        kept = not mode.validate_only and not (mode.atomic and any_refused)
        if not kept:
            whole.discard()
            results = [
                r if r.outcome is RecordOutcome.REFUSED else replace(r, outcome=RecordOutcome.VALID, value=None)
                for r in results
            ]
    return BatchResult(written=kept and any(r.outcome is RecordOutcome.STORED for r in results), results=results)


@dataclass(frozen=True)
class Decided(Generic[R]):
    """A record the rules accepted before anything was written: what to store, and its warnings."""

    value: R
    warnings: tuple[Warning, ...] = ()


def settle_batch(
    decisions: Sequence[Decided[R] | RequestRejected],
    store: Callable[[list[R]], list[T]],
    mode: BatchMode = INDEPENDENT,
) -> BatchResult[T]:
    """A batch whose records were all decided by reads alone (RegisterStudents: the rules need no write
    to judge the next record), its accepted records then written by one ``store`` call, in order.
    The same answer as ``run_batch`` gives, in a few statements instead of several per record. If
    ``store`` raises (a concurrent request took what a record wanted), the caller undoes it and runs
    the batch record by record, which names the record."""
    any_refused = any(isinstance(d, RequestRejected) for d in decisions)
    kept = not mode.validate_only and not (mode.atomic and any_refused)
    accepted = [d for d in decisions if isinstance(d, Decided)]
    stored = iter(store([d.value for d in accepted]) if kept and accepted else [])
    results: list[RecordResult[T]] = []
    for index, decision in enumerate(decisions, start=1):
        if isinstance(decision, RequestRejected):
            results.append(RecordResult(index, RecordOutcome.REFUSED, refusal=decision))
        elif kept:
            results.append(RecordResult(index, RecordOutcome.STORED, next(stored), decision.warnings))
        else:
            results.append(RecordResult(index, RecordOutcome.VALID, warnings=decision.warnings))
    return BatchResult(written=kept and bool(accepted), results=results)
