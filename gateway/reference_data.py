"""Reference data (klasifikatoriai) from the versioned data file ``data/classifiers/classifiers.toml``.

The file has a top-level ``version`` (and free-form scalar keys such as ``source``
and ``notes``), then one array of tables per classifier kind, named exactly by the
kind strings of :mod:`gateway.domain.classifiers`::

    version = "2026.1"

    [[nvs-direction]]
    code = "MUSIC"
    name = "Muzika"
    name_en = "Music"

    [[nvs-sub-direction]]
    code = "MUSIC.PIANO"
    name = "Fortepijonas"
    name_en = "Piano"
    parent = "MUSIC"
    flags = []

:func:`load_classifier_file` checks the whole file and reports every problem at
once; a file with any problem is not loaded at all.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from gateway.config import FILES_ROOT
from gateway.domain import classifiers as cls
from gateway.domain.classifiers import ClassifierEntry, Classifiers
from gateway.domain.model import ProgramPurpose

CLASSIFIER_FILE = FILES_ROOT / "data" / "classifiers" / "classifiers.toml"

CODE_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,20}")
NAME_MAX_LENGTH = 300
ENTRY_KEYS = frozenset({"code", "name", "name_en", "parent", "flags"})

# Codes the Python code relies on by value; the file must keep them.
REQUIRED_CODES: dict[str, frozenset[str]] = {
    cls.PROGRAM_PURPOSE: frozenset(p.value for p in ProgramPurpose),
    cls.FUNDING_TYPE: frozenset({"NVS_BASKET"}),
}
# Kinds whose entries name a parent entry: kind -> kind of the parent.
PARENT_KINDS: dict[str, str] = {cls.NVS_SUB_DIRECTION: cls.NVS_DIRECTION}


class ReferenceDataError(Exception):
    """The classifier file cannot be used; ``problems`` lists every reason, one sentence each."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"Classifier file {path} is invalid ({len(self.problems)} problem(s)):\n{lines}")


def load_classifier_file(path: Path) -> tuple[str, list[ClassifierEntry]]:
    """Parse and check a classifier file; return its version and all its entries, in file order."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        raise ReferenceDataError(path, [f"cannot read the file: {exc.strerror or exc}"]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ReferenceDataError(path, [f"not valid TOML: {exc}"]) from exc
    except UnicodeDecodeError as exc:
        raise ReferenceDataError(path, [f"not UTF-8: {exc}"]) from exc

    problems: list[str] = []
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        problems.append("top-level 'version' is missing or not a non-empty string")
        version = ""

    for key, value in data.items():
        if key in cls.KIND_LABELS:
            continue
        if _is_table_array(value) or isinstance(value, dict):
            problems.append(f"[[{key}]]: unknown classifier kind (known kinds: {', '.join(sorted(cls.KIND_LABELS))})")

    entries: list[ClassifierEntry] = []
    codes_by_kind: dict[str, set[str]] = {}
    for kind in cls.KIND_LABELS:
        raw = data.get(kind)
        if raw is None:
            problems.append(f"[[{kind}]]: the kind is missing; every kind must have at least one entry")
            continue
        if not _is_table_array(raw) or not raw:
            problems.append(f"[[{kind}]]: must be a non-empty array of tables ([[{kind}]] entries)")
            continue
        seen: dict[str, int] = {}
        for index, item in enumerate(raw, start=1):
            entry = _check_entry(kind, index, item, problems)
            if entry is None:
                continue
            if entry.code in seen:
                problems.append(
                    f"[[{kind}]] code '{entry.code}': duplicate code (entries #{seen[entry.code]} and #{index})"
                )
                continue
            seen[entry.code] = index
            entries.append(entry)
        codes_by_kind[kind] = set(seen)

    for entry in entries:
        parent_kind = PARENT_KINDS.get(entry.kind)
        if parent_kind is None or entry.parent is None:
            continue
        if parent_kind in codes_by_kind and entry.parent not in codes_by_kind[parent_kind]:
            problems.append(
                f"[[{entry.kind}]] code '{entry.code}': parent '{entry.parent}' is not a code of [[{parent_kind}]]"
            )

    for kind, required in REQUIRED_CODES.items():
        if kind not in codes_by_kind:
            continue
        for code in sorted(required - codes_by_kind[kind]):
            problems.append(f"[[{kind}]] code '{code}': required code is missing (the gateway's code relies on it)")

    if problems:
        raise ReferenceDataError(path, problems)
    return version, entries


def load_classifiers(path: Path = CLASSIFIER_FILE) -> Classifiers:
    """Convenience: load and check a classifier file into a :class:`Classifiers`."""
    version, entries = load_classifier_file(path)
    return Classifiers(entries, version)


def _is_table_array(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


def _check_entry(kind: str, index: int, item: dict[str, Any], problems: list[str]) -> ClassifierEntry | None:
    code = item.get("code")
    where = f"[[{kind}]] code '{code}'" if isinstance(code, str) else f"[[{kind}]] entry #{index}"
    ok = True

    unknown = sorted(set(item) - ENTRY_KEYS)
    if unknown:
        problems.append(f"{where}: unknown key(s) {', '.join(unknown)} (allowed: {', '.join(sorted(ENTRY_KEYS))})")
        ok = False

    if not isinstance(code, str):
        problems.append(f"{where}: 'code' is missing or not a string")
        ok = False
    elif not CODE_PATTERN.fullmatch(code):
        problems.append(f"{where}: code does not match [A-Za-z0-9._-]{{1,20}}")
        ok = False

    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where}: 'name' is missing or empty")
        ok = False
    elif len(name) > NAME_MAX_LENGTH:
        problems.append(f"{where}: 'name' is longer than {NAME_MAX_LENGTH} characters")
        ok = False

    name_en = item.get("name_en", "")
    if not isinstance(name_en, str):
        problems.append(f"{where}: 'name_en' must be a string")
        ok = False
    elif len(name_en) > NAME_MAX_LENGTH:
        problems.append(f"{where}: 'name_en' is longer than {NAME_MAX_LENGTH} characters")
        ok = False

    parent = item.get("parent")
    if kind in PARENT_KINDS:
        if not isinstance(parent, str) or not parent:
            problems.append(f"{where}: 'parent' (a code of [[{PARENT_KINDS[kind]}]]) is missing or not a string")
            ok = False
    elif parent is not None:
        problems.append(f"{where}: 'parent' is not allowed for this kind")
        ok = False

    flags = item.get("flags", [])
    if not isinstance(flags, list) or not all(isinstance(flag, str) and flag for flag in flags):
        problems.append(f"{where}: 'flags' must be a list of non-empty strings")
        ok = False

    if not ok:
        return None
    assert isinstance(code, str) and isinstance(name, str), "checked above (ok would be False)"
    return ClassifierEntry(
        kind=kind,
        code=code,
        name=name.strip(),
        name_en=name_en.strip(),
        parent=parent,
        flags=frozenset(flags),
    )
