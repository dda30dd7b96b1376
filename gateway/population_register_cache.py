"""The population register's answers, remembered per personal code for a bounded time.

A registration is usually preceded by a ``LookupPerson`` of the same child: the lookup's
answer serves the registration that follows, so GR is asked once. Answers are kept for
``ttl_seconds`` (``NVS_GR_CACHE_SECONDS``), in this process only: a worker that has not seen
the person asks GR itself, which costs time, never correctness. "Not found" is remembered
too, for the same time.

Inside a call's transaction GR is never asked (``gateway.calls``): a person not remembered
raises ``PopulationRegisterNeeded``, and the call asks ``fetch`` after its rollback.

``find_persons`` (the population-register check, ``FixPersonData``) always wants GR's
current data: outside a call it asks GR and remembers the answers; inside one it is served
only what this call has fetched.

``find_family`` (GR's GetFamily, for the state e-services portal: who may see whose data) is never
remembered: a guardianship GR ends is in force at once. Inside a call it raises
``PopulationRegisterNeeded`` with ``FamilyOf`` the person, as persons are.
"""

from __future__ import annotations

import enum
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any, Literal

from gateway import metrics
from gateway.calls import FamilyOf, PopulationRegisterNeeded, current_call
from gateway.domain.errors import GatewayError
from gateway.domain.model import PersonRecord
from gateway.domain.personal_code import PersonalCode
from gateway.domain.portal import Family
from gateway.ports import FamilyRegister, PopulationRegister


class _Missing(enum.Enum):
    """Nothing remembered (None is a remembered answer: GR does not know the code)."""

    MISSING = enum.auto()


_MISSING = _Missing.MISSING


class CachedPopulationRegister:
    def __init__(
        self,
        upstream: PopulationRegister,
        *,
        ttl_seconds: float = 300.0,
        max_entries: int = 50_000,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.upstream = upstream
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._monotonic = monotonic
        self._answers: OrderedDict[PersonalCode, tuple[float, PersonRecord | None]] = OrderedDict()
        self._lock = threading.Lock()

    # --- PopulationRegister ------------------------------------------------------
    def find_person(self, personal_code: PersonalCode) -> PersonRecord | None:
        call = current_call()
        if call is not None and personal_code in call.population_register_answers:
            return call.population_register_answers[personal_code]
        remembered = self._remembered(personal_code)
        if remembered is not _MISSING:
            return remembered
        if call is not None:
            raise PopulationRegisterNeeded([personal_code])
        return self.fetch([personal_code])[personal_code]

    def find_persons(self, personal_codes: list[PersonalCode]) -> dict[PersonalCode, PersonRecord | None]:
        call = current_call()
        if call is None:
            return self.fetch(personal_codes)
        unasked = [c for c in personal_codes if c not in call.population_register_answers]
        if unasked:
            raise PopulationRegisterNeeded(unasked)
        return {c: call.population_register_answers[c] for c in personal_codes}

    def find_family(self, personal_code: PersonalCode) -> Family | None:
        call = current_call()
        if call is None:
            return self._family(personal_code)
        key = FamilyOf(personal_code)
        if key not in call.population_register_answers:
            raise PopulationRegisterNeeded([key])
        answer: Family | None = call.population_register_answers[key]
        return answer

    # --- outside transactions ---------------------------------------------------
    def fetch(self, personal_codes: Iterable[PersonalCode | FamilyOf]) -> dict[Any, Any]:
        """Ask GR now and remember its answers about persons (raises ``PopulationRegisterUnavailable``);
        families are asked for, never remembered."""
        wanted = list(dict.fromkeys(personal_codes))
        families: dict[Any, Any] = {key: self._family(key.personal_code) for key in wanted if isinstance(key, FamilyOf)}
        codes = [code for code in wanted if isinstance(code, PersonalCode)]
        if not codes:
            return families
        return {**families, **self._fetch_persons(codes)}

    def _family(self, personal_code: PersonalCode) -> Family | None:
        upstream = self.upstream
        if not isinstance(upstream, FamilyRegister):
            raise TypeError(f"{type(upstream).__name__} does not answer GetFamily")
        started = time.perf_counter()
        try:
            family = upstream.find_family(personal_code)
        except GatewayError as error:
            metrics.count_population_register_call("GetFamily", error.code, time.perf_counter() - started)
            raise
        metrics.count_population_register_call("GetFamily", "ok", time.perf_counter() - started)
        return family

    def _fetch_persons(self, codes: list[PersonalCode]) -> dict[PersonalCode, PersonRecord | None]:
        operation = "GetPerson" if len(codes) == 1 else "GetPersons"
        started = time.perf_counter()
        try:
            if len(codes) == 1:
                answers = {codes[0]: self.upstream.find_person(codes[0])}
            else:
                answers = self.upstream.find_persons(codes)
        except GatewayError as error:
            metrics.count_population_register_call(operation, error.code, time.perf_counter() - started)
            raise
        except Exception:
            metrics.count_population_register_call(operation, "InternalError", time.perf_counter() - started)
            raise
        metrics.count_population_register_call(operation, "ok", time.perf_counter() - started)
        expires = self._monotonic() + self.ttl
        with self._lock:
            for code in codes:
                self._answers[code] = (expires, answers.get(code))
                self._answers.move_to_end(code)
            while len(self._answers) > self.max_entries:
                self._answers.popitem(last=False)
        return {code: answers.get(code) for code in codes}

    def _remembered(self, personal_code: PersonalCode) -> PersonRecord | None | Literal[_Missing.MISSING]:
        with self._lock:
            entry = self._answers.get(personal_code)
            if entry is None:
                return _MISSING
            if entry[0] <= self._monotonic():
                del self._answers[personal_code]
                return _MISSING
            return entry[1]
