"""An in-memory population register for unit tests (a stateful fake, not a mock)."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.domain.errors import PopulationRegisterUnavailable
from gateway.domain.model import PersonRecord
from gateway.domain.personal_code import PersonalCode


class InMemoryPopulationRegister:
    """``PopulationRegister`` over a dict of records.

    Unknown codes are not found (None). ``make_unavailable(True)`` makes every call raise
    ``PopulationRegisterUnavailable``. ``calls`` counts calls of either method (failed
    ones included), so a test can assert that the register was not asked.
    """

    def __init__(self, records: Mapping[PersonalCode, PersonRecord] | None = None) -> None:
        self._records: dict[PersonalCode, PersonRecord] = {}
        self._unavailable = False
        self.calls = 0
        for record in (records or {}).values():
            self.add(record)

    def add(self, record: PersonRecord) -> None:
        """Add or replace the person with ``record.personal_code``."""
        self._records[record.personal_code] = record

    def make_unavailable(self, unavailable: bool = True) -> None:
        self._unavailable = unavailable

    def find_person(self, personal_code: PersonalCode) -> PersonRecord | None:
        self._answer()
        return self._records.get(personal_code)

    def find_persons(self, personal_codes: list[PersonalCode]) -> dict[PersonalCode, PersonRecord | None]:
        self._answer()
        return {code: self._records.get(code) for code in personal_codes}

    def _answer(self) -> None:
        self.calls += 1
        if self._unavailable:
            raise PopulationRegisterUnavailable()
