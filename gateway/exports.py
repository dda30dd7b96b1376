"""Exports of the lists to XML (``xsd/nvs-export-v1.xsd``) or CSV, streamed with constant memory.

The rows come from ``Lists.batches``: keyset batches of ``EXPORT_BATCH`` rows, each read in a
short transaction of its own and dropped once written. The XML is written with
``lxml.etree.xmlfile`` one row element at a time; the CSV with the ``csv`` module. Memory
therefore depends on the batch size, not on the length of the list (``bench/export_lists.py``
measures it; ``tests/storage/test_exports.py`` holds it).

The file appears only when complete: rows go to ``<output>.partial``, renamed at the end; a
failed export leaves no half-written file behind.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lxml import etree

from gateway.clock import Clock
from gateway.domain.lists import (
    BasketRecipient,
    ListedClubAttendance,
    ListedRegistration,
    ListFilter,
    ListName,
    Scope,
)
from gateway.lists import EXPORT_BATCH, Lists, Names

EXPORT_NS = "urn:lt:mokiniu-registras:nvs-export:v1"
FORMATS = ("xml", "csv")
ROW_ELEMENT = {
    ListName.LEARNERS: "registration",
    ListName.ARRIVALS: "registration",
    ListName.DEPARTURES: "registration",
    ListName.BASKET_RECIPIENTS: "basketRecipient",
    ListName.CLUB_ATTENDANCE: "clubAttendance",
}

Value = str | list[str] | None
Column = tuple[str, Callable[[Any, "Names"], Value]]


def _date(value: dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


_PERSON: list[Column] = [
    ("personalCode", lambda r, n: r.person.personal_code.value),
    ("firstName", lambda r, n: r.person.first_name),
    ("lastName", lambda r, n: r.person.last_name),
    ("birthDate", lambda r, n: _date(r.person.birth_date)),
]
REGISTRATION_COLUMNS: list[Column] = [
    ("registrationId", lambda r, n: str(r.registration_id)),
    ("status", lambda r, n: r.status),
    ("institutionCode", lambda r, n: r.institution_code),
    ("groupId", lambda r, n: str(r.group_id)),
    ("groupName", lambda r, n: r.group_name),
    ("schoolYear", lambda r, n: str(r.school_year)),
    ("programCode", lambda r, n: r.program_code),
    ("programName", lambda r, n: r.program_name),
    *_PERSON,
    ("firstLearningDate", lambda r, n: _date(r.first_learning_date)),
    ("departureDate", lambda r, n: _date(r.departure_date)),
    ("departureReasonCode", lambda r, n: r.departure_reason_code),
    ("departureReasonName", lambda r, n: n.departure_reasons.get(r.departure_reason_code or "")),
]
BASKET_COLUMNS: list[Column] = [
    ("registrationId", lambda r, n: str(r.registration_id)),
    ("institutionCode", lambda r, n: r.institution_code),
    ("month", lambda r, n: str(r.month)),
    *_PERSON,
    ("firstLearningDate", lambda r, n: _date(r.first_learning_date)),
    ("programCode", lambda r, n: r.program_code),
    ("programName", lambda r, n: r.program_name),
    ("schoolCode", lambda r, n: r.school_code),
    ("schoolMunicipalityCode", lambda r, n: r.school_municipality_code),
    ("schoolMunicipalityName", lambda r, n: n.municipalities.get(r.school_municipality_code or "")),
]
CLUB_COLUMNS: list[Column] = [
    ("attendanceId", lambda r, n: str(r.attendance_id)),
    ("institutionCode", lambda r, n: r.school_code),
    ("schoolYear", lambda r, n: str(r.school_year)),
    *_PERSON,
    ("directionCode", lambda r, n: list(r.direction_codes)),
    ("subDirectionCode", lambda r, n: list(r.sub_direction_codes)),
    ("fromDate", lambda r, n: _date(r.from_date)),
    ("endDate", lambda r, n: _date(r.end_date)),
]
COLUMNS = {
    ListName.LEARNERS: REGISTRATION_COLUMNS,
    ListName.ARRIVALS: REGISTRATION_COLUMNS,
    ListName.DEPARTURES: REGISTRATION_COLUMNS,
    ListName.BASKET_RECIPIENTS: BASKET_COLUMNS,
    ListName.CLUB_ATTENDANCE: CLUB_COLUMNS,
}
ROW_TYPES = {
    ListName.LEARNERS: ListedRegistration,
    ListName.ARRIVALS: ListedRegistration,
    ListName.DEPARTURES: ListedRegistration,
    ListName.BASKET_RECIPIENTS: BasketRecipient,
    ListName.CLUB_ATTENDANCE: ListedClubAttendance,
}


@dataclass(frozen=True)
class ExportSummary:
    name: ListName
    rows: int
    path: Path
    format: str
    seconds: float

    def __str__(self) -> str:
        rate = self.rows / self.seconds if self.seconds > 0 else 0.0
        return f"{self.name.value}: {self.rows} row(s) written to {self.path} ({self.format}) in {self.seconds:.1f} s ({rate:,.0f} rows/s)"


def filter_fields(list_filter: ListFilter) -> list[tuple[str, str]]:
    """The filters as (name, value) pairs for the export's header, in camelCase as on the wire."""
    fields: list[tuple[str, str]] = []
    for name, value in vars(list_filter).items():
        if value is None:
            continue
        if hasattr(value, "first") and hasattr(value, "last"):  # a DateRange
            fields += [("fromDate", value.first.isoformat()), ("toDate", value.last.isoformat())]
            continue
        camel = name.split("_")[0] + "".join(part.title() for part in name.split("_")[1:])
        fields.append((camel, value.isoformat() if isinstance(value, dt.date) else str(value)))
    return fields


def export_list(
    lists: Lists,
    scope: Scope,
    name: ListName,
    list_filter: ListFilter,
    fmt: str,
    output: Path,
    *,
    progress: Callable[[int], None] | None = None,
    batch_size: int = EXPORT_BATCH,
    clock: Clock,
) -> ExportSummary:
    """Write the whole list to ``output``; ``progress(n)`` is told the rows written so far after each batch."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}")
    names = lists.names()
    started, timer = clock.now(), time.perf_counter()
    partial = output.with_name(output.name + ".partial")
    batches = lists.batches(scope, name, list_filter, batch_size)
    try:
        if fmt == "xml":
            rows = _write_xml(partial, name, scope, list_filter, batches, names, started, progress)
        else:
            rows = _write_csv(partial, name, batches, names, progress)
        os.replace(partial, output)
    finally:
        partial.unlink(missing_ok=True)
    return ExportSummary(name, rows, output, fmt, time.perf_counter() - timer)


def _write_xml(
    path: Path,
    name: ListName,
    scope: Scope,
    list_filter: ListFilter,
    batches: Iterable[list[Any]],
    names: Names,
    generated_at: dt.datetime,
    progress: Callable[[int], None] | None,
) -> int:
    columns, row_tag = COLUMNS[name], _tag(ROW_ELEMENT[name])
    count = 0
    with etree.xmlfile(str(path), encoding="utf-8") as xf:
        xf.write_declaration()
        # Every element is opened with xf.element (not built and written whole): nested, they
        # inherit the default namespace instead of declaring it again on each row.
        with xf.element(_tag("nvsExport"), nsmap={None: EXPORT_NS}):
            _leaf(xf, "list", name.value)
            with xf.element(_tag("scope")):
                _leaf(xf, "kind", scope.kind.value)
                if scope.code is not None:
                    _leaf(xf, "code", scope.code)
            for filter_name, value in filter_fields(list_filter):
                with xf.element(_tag("filter")):
                    _leaf(xf, "name", filter_name)
                    _leaf(xf, "value", value)
            _leaf(xf, "generatedAt", generated_at.isoformat(timespec="seconds"))
            xf.write("\n")
            for batch in batches:
                for row in batch:
                    with xf.element(row_tag):
                        for column, value_of in columns:
                            cell = value_of(row, names)
                            for item in cell if isinstance(cell, list) else ([] if cell is None else [cell]):
                                _leaf(xf, column, item)
                    xf.write("\n")  # one row per line: readable, greppable; whitespace the schema ignores
                count += len(batch)
                xf.flush()
                if progress is not None:
                    progress(count)
            _leaf(xf, "rowCount", str(count))
    return count


_TAGS: dict[str, str] = {}


def _tag(local: str) -> str:
    tag = _TAGS.get(local)
    if tag is None:
        tag = _TAGS[local] = f"{{{EXPORT_NS}}}{local}"
    return tag


def _leaf(xf: Any, local: str, text: str) -> None:
    with xf.element(_tag(local)):
        xf.write(text)


def _write_csv(
    path: Path, name: ListName, batches: Iterable[list[Any]], names: Names, progress: Callable[[int], None] | None
) -> int:
    """One header line, then a line per row; several codes in one cell are separated by spaces."""
    columns = COLUMNS[name]
    count = 0
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow([column for column, _ in columns])
        for batch in batches:
            for row in batch:
                cells = []
                for _, value_of in columns:
                    value = value_of(row, names)
                    cells.append(" ".join(value) if isinstance(value, list) else (value or ""))
                writer.writerow(cells)
            count += len(batch)
            if progress is not None:
                progress(count)
    return count
