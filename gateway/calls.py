"""One call, one transaction.

A SOAP call authenticates its caller, does its business, writes its access-log record and
its change events, and all of it commits together or not at all (``Transactions.call``):
after a crash there is no committed change without its access-log row and feed event.

The use cases keep their ``with self.uow_factory() as uow: ...; uow.commit()`` shape and
know nothing of this: the factory they are given (``Transactions``) hands out, while a call
is open in this thread or task, a view of the call's unit of work whose ``commit`` only
flushes; the call itself commits once, at its end. Outside a call (the command line,
imports, checks) each unit of work is its own transaction, as before.

Two things do not belong in a call's transaction:

* What must be kept when the call is refused: a failed login's count, a used nonce.
  ``keep_if_refused`` queues it; the caller of the call writes it, with the refusal's
  access-log record, in a short transaction of its own after the rollback.
* The population register, which may take seconds: no database transaction waits on it.
  A use case that needs a person GR has not answered for yet raises
  ``PopulationRegisterNeeded`` (``gateway.population_register_cache`` does, inside a call);
  the call is rolled back, GR asked outside any transaction, and the call run again with
  the answer at hand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from gateway.domain.personal_code import PersonalCode
from gateway.ports import UnitOfWork

_current: ContextVar[Call | None] = ContextVar("nvs_current_call", default=None)


@dataclass(frozen=True)
class FamilyOf:
    """What a call needs GR's family of a person for (GetFamily), beside the persons themselves."""

    personal_code: PersonalCode


class PopulationRegisterNeeded(Exception):
    """Not an error: the call must be run again once GR has answered for these persons (their data, or
    their family: ``FamilyOf``)."""

    def __init__(self, personal_codes: Iterable[PersonalCode | FamilyOf]) -> None:
        self.personal_codes = frozenset(personal_codes)
        super().__init__(f"{len(self.personal_codes)} person(s) to ask the population register for")


class Call:
    """The transaction of one call, open while the ``with`` block runs."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork], population_register_answers: dict[Any, Any]) -> None:
        self._uow_factory = uow_factory
        # What GR answered during this call (PersonRecord, or None: not found), before this run of it.
        self.population_register_answers = population_register_answers
        self.kept_if_refused: list[Callable[[UnitOfWork], None]] = []
        self.uow: Any = None
        self.committing = False  # from here on, a lost connection leaves the outcome in doubt
        self._token: Any = None

    def __enter__(self) -> Call:
        self.uow = self._uow_factory().__enter__()
        self._token = _current.set(self)
        return self

    def __exit__(self, *exc: object) -> None:
        _current.reset(self._token)
        self.uow.__exit__(*exc)  # rolls back what was not committed

    def commit(self) -> None:
        self.committing = True
        self.uow.commit()

    def keep_if_refused(self, action: Callable[[UnitOfWork], None]) -> None:
        self.kept_if_refused.append(action)


def current_call() -> Call | None:
    return _current.get()


def keep_if_refused(uow: UnitOfWork, action: Callable[[UnitOfWork], None]) -> None:
    """Write ``action`` although the use case is about to fail: inside a call, after the call's rollback;
    outside one, at once in ``uow``, committed."""
    call = _current.get()
    if call is not None:
        call.keep_if_refused(action)
        return
    action(uow)
    uow.commit()


class _Joined:
    """A use case's unit of work inside a call: the call's, whose commit is the call's to make."""

    def __init__(self, uow: Any) -> None:
        self._uow = uow

    def __enter__(self) -> _Joined:
        return self

    def __exit__(self, *exc: object) -> None:
        pass  # the call rolls back or commits the whole

    def __getattr__(self, name: str) -> Any:
        return getattr(self._uow, name)

    def commit(self) -> None:
        self._uow.session.flush()  # constraints are checked here, where the use case can name the conflict

    def rollback(self) -> None:
        raise RuntimeError("a use case inside a call does not roll back on its own: it raises, and the call rolls back")


class Transactions:
    """The units of work of the use cases: the current call's, or each its own outside a call."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        self._own = uow_factory

    def __call__(self) -> UnitOfWork:
        call = _current.get()
        return _Joined(call.uow) if call is not None else self._own()

    def own(self) -> UnitOfWork:
        """A transaction of its own, whether or not a call is open (for a refusal's record, after the rollback)."""
        return self._own()

    def call(self, population_register_answers: dict[Any, Any] | None = None) -> Call:
        return Call(self._own, population_register_answers or {})


def run_as_call(
    transactions: Transactions,
    fetch_persons: Callable[[frozenset[PersonalCode | FamilyOf]], dict[Any, Any]],
    work: Callable[[Call], Any],
) -> Any:
    """``work`` in one call's transaction, committed at its end, for a command that is not a SOAP call
    (``import-registrations``): as the SOAP calls, it is run again, after a rollback, once GR has
    answered (``fetch_persons``, outside any transaction) for the persons it needs."""
    answers: dict[Any, Any] = {}
    while True:
        try:
            with transactions.call(answers) as call:
                result = work(call)
                call.commit()
                return result
        except PopulationRegisterNeeded as needed:
            if needed.personal_codes <= answers.keys():
                raise RuntimeError("the work asked again for persons GR has answered for") from None
            answers = {**answers, **fetch_persons(needed.personal_codes)}
