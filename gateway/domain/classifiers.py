"""Reference data (klasifikatoriai): codes with names, loaded from versioned data files.

Rules look codes up here instead of in Python enums, so that a new departure
reason or sub-direction is a data change, not a release.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.domain.errors import UnknownClassifierCode

PROGRAM_PURPOSE = "program-purpose"
NVS_DIRECTION = "nvs-direction"
NVS_SUB_DIRECTION = "nvs-sub-direction"  # parent: its direction
DEPARTURE_REASON = "departure-reason"
CONTRACT_TYPE = "contract-type"
FUNDING_TYPE = "funding-type"
INSTITUTION_GROUP = "institution-group"  # flags: nvs-school, nvs-by-purpose, general-education
INSTITUTION_PURPOSE = "institution-purpose"  # flags: nvs
OWNERSHIP_TYPE = "ownership-type"
MUNICIPALITY = "municipality"

KIND_LABELS = {
    PROGRAM_PURPOSE: "program purpose",
    NVS_DIRECTION: "NVŠ direction",
    NVS_SUB_DIRECTION: "NVŠ sub-direction",
    DEPARTURE_REASON: "departure reason",
    CONTRACT_TYPE: "contract type",
    FUNDING_TYPE: "funding type",
    INSTITUTION_GROUP: "institution group",
    INSTITUTION_PURPOSE: "institution purpose",
    OWNERSHIP_TYPE: "ownership type",
    MUNICIPALITY: "municipality",
}


@dataclass(frozen=True)
class ClassifierEntry:
    kind: str
    code: str
    name: str
    name_en: str = ""
    parent: str | None = None
    flags: frozenset[str] = field(default_factory=frozenset)


class Classifiers:
    """All classifiers of one data version."""

    def __init__(self, entries: list[ClassifierEntry], version: str) -> None:
        self.version = version
        self._by_kind: dict[str, dict[str, ClassifierEntry]] = {}
        for entry in entries:
            self._by_kind.setdefault(entry.kind, {})[entry.code] = entry

    def get(self, kind: str, code: str | None) -> ClassifierEntry | None:
        if code is None:
            return None
        return self._by_kind.get(kind, {}).get(code)

    def require(self, kind: str, code: str, *, field: str) -> ClassifierEntry:
        entry = self.get(kind, code)
        if entry is None:
            raise UnknownClassifierCode(f"'{code}' is not a known {KIND_LABELS.get(kind, kind)} code.", field=field)
        return entry

    def name(self, kind: str, code: str | None) -> str | None:
        entry = self.get(kind, code)
        return entry.name if entry else None

    def has_flag(self, kind: str, code: str | None, flag: str) -> bool:
        entry = self.get(kind, code)
        return entry is not None and flag in entry.flags

    def entries(self, kind: str) -> list[ClassifierEntry]:
        return list(self._by_kind.get(kind, {}).values())

    def kinds(self) -> list[str]:
        return sorted(self._by_kind)
