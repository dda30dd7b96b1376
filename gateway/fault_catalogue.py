"""The fault catalogue (``gateway/faults.toml``): loaded for checks, rendered for the README."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

CATALOGUE_FILE = Path(__file__).with_name("faults.toml")


@dataclass(frozen=True)
class CatalogueEntry:
    code: str
    role: str  # "Client", "Server" or "Warning"
    meaning: str
    action: str


def load_catalogue(path: Path = CATALOGUE_FILE) -> list[CatalogueEntry]:
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    faults = [CatalogueEntry(f["code"], f["role"], f["meaning"], f["action"]) for f in data.get("fault", [])]
    warnings = [CatalogueEntry(w["code"], "Warning", w["meaning"], w["action"]) for w in data.get("warning", [])]
    return faults + warnings


def render_markdown(entries: list[CatalogueEntry]) -> str:
    lines = ["| code | faultcode | meaning | what the caller should do |", "|---|---|---|---|"]
    for e in entries:
        role = "(warning)" if e.role == "Warning" else e.role
        lines.append(f"| `{e.code}` | {role} | {e.meaning} | {e.action} |")
    return "\n".join(lines) + "\n"
