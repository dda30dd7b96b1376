"""What a caller may read.

A ``ReadScope`` is a set of institutions, a set of municipalities, or everything. Reads
that carry other institutions' data (the change feed, the GR check's findings) filter by
it; ``gateway.scope.scope_of`` gives each caller its own: an institution's user its
institution's data (``ReadScope.of_institution``), a municipality coordinator that of the
providers and general-education schools located in the municipality
(``ReadScope.of_municipality``, rules.md "Municipality scope"), a central administrator
everything (``ReadScope.all()``). The lists have a scope of their own (gateway/domain/lists.py).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ReadScope:
    institution_codes: frozenset[str] = frozenset()
    municipality_codes: frozenset[str] = frozenset()
    everything: bool = False

    @classmethod
    def of_institution(cls, *codes: str) -> ReadScope:
        return cls(institution_codes=frozenset(codes))

    @classmethod
    def of_municipality(cls, *codes: str) -> ReadScope:
        return cls(municipality_codes=frozenset(codes))

    @classmethod
    def all(cls) -> ReadScope:
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
