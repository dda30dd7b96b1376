"""An in-memory population register for unit tests (a stateful fake, not a mock)."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.domain.errors import PopulationRegisterUnavailable
from gateway.domain.model import PersonRecord
from gateway.domain.personal_code import PersonalCode
from gateway.domain.portal import Family


class InMemoryPopulationRegister:
    """``PopulationRegister`` over a dict of records.

    Unknown codes are not found (None). ``make_unavailable(True)`` makes every call raise
    ``PopulationRegisterUnavailable``. ``calls`` counts calls of either method (failed
    ones included), so a test can assert that the register was not asked.
    """

    def __init__(self, records: Mapping[PersonalCode, PersonRecord] | None = None) -> None:
        self._records: dict[PersonalCode, PersonRecord] = {}
        self._families: dict[PersonalCode, Family] = {}
        self._unavailable = False
        self.calls = 0
        for record in (records or {}).values():
            self.add(record)

    def add(self, record: PersonRecord) -> None:
        """Add or replace the person with ``record.personal_code``."""
        self._records[record.personal_code] = record

    def add_family(self, family: Family) -> None:
        """GetFamily's answer for ``family.personal_code`` (a known person without one has no relatives)."""
        self._families[family.personal_code] = family

    def make_unavailable(self, unavailable: bool = True) -> None:
        self._unavailable = unavailable

    def find_person(self, personal_code: PersonalCode) -> PersonRecord | None:
        self._answer()
        return self._records.get(personal_code)

    def find_persons(self, personal_codes: list[PersonalCode]) -> dict[PersonalCode, PersonRecord | None]:
        self._answer()
        return {code: self._records.get(code) for code in personal_codes}

    def find_family(self, personal_code: PersonalCode) -> Family | None:
        self._answer()
        if personal_code not in self._records:
            return None
        return self._families.get(personal_code, Family(personal_code))

    def _answer(self) -> None:
        self.calls += 1
        if self._unavailable:
            raise PopulationRegisterUnavailable()
