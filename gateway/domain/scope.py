"""What a caller may read (the seam the access-control work extends).

A ``ReadScope`` is a set of institutions, a set of municipalities, or everything. Reads
that carry other institutions' data (the change feed today; lists later) filter by
it. Today every caller is an institution's user and reads its own institution's
data (``ReadScope.of_institution``); municipality coordinators (``ReadScope.of_municipality``:
providers and general-education schools located in the municipality, rules.md
"Municipality scope") and central administrators and registry systems
(``ReadScope.everything()``) come with access control, which only has to return another
``ReadScope`` from ``gateway.scope.scope_of``.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadScope:
    institution_codes: frozenset[str] = frozenset()
    municipality_codes: frozenset[str] = frozenset()
    everything: bool = False

    @classmethod
    def of_institution(cls, *codes: str) -> "ReadScope":
        return cls(institution_codes=frozenset(codes))

    @classmethod
    def of_municipality(cls, *codes: str) -> "ReadScope":
        return cls(municipality_codes=frozenset(codes))

    @classmethod
    def all(cls) -> "ReadScope":
        return cls(everything=True)

    @property
    def is_empty(self) -> bool:
        return not (self.everything or self.institution_codes or self.municipality_codes)

    def covers(self, institution_code: str, municipality_code: str | None) -> bool:
        """Whether data of this institution (located in this municipality) is in scope."""
        return (
            self.everything
            or institution_code in self.institution_codes
            or (municipality_code is not None and municipality_code in self.municipality_codes)
        )
