"""``nvs-gateway import-registrations FILE``: an operator loads a provider's registrations on its behalf.

The file (``xsd/nvs-registrations-import-v1.xsd``) names the provider and holds the same records as
RegisterStudents. It is checked against its schema first, as a whole (a file with a mistake loads
nothing), reading it as a stream; then its records go through ``Registry.register_students`` in
batches of 500, each batch one transaction, as a RegisterStudents call would (the population register
asked once per batch, outside the transaction). Each batch is written to the access log as an
``ImportRegistrations`` by the operator, acting for the provider. Every record gets a line in the
result file (CSV: spreadsheets open it): its number in the file, its outcome, the registration id or
the fault. ``validate_only`` runs every check and writes nothing (but the access log).
"""

from __future__ import annotations

import csv
import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lxml import etree

from gateway.batches import MAX_RECORDS, BatchMode, BatchResult, RecordOutcome
from gateway.calls import Call, Transactions, run_as_call
from gateway.clock import Clock
from gateway.config import REPOSITORY_ROOT
from gateway.domain.access import Caller, Scope
from gateway.domain.model import Contract
from gateway.ports import AccessRecord
from gateway.services import NewRegistration, RegistrationView, Registry

SCHEMA_FILE = REPOSITORY_ROOT / "xsd" / "nvs-registrations-import-v1.xsd"
IMPORT_NS = "urn:lt:mokiniu-registras:nvs-registrations-import:v1"
NVS = "urn:lt:mokiniu-registras:nvs-gateway:v1"
OPERATION = "ImportRegistrations"
RESULT_COLUMNS = ("record", "personalCode", "outcome", "registrationId", "code", "field", "message", "warnings")


class ImportFileInvalid(Exception):
    """The file is not valid against its schema: nothing was imported."""


@dataclass(frozen=True)
class ImportSummary:
    institution_code: str
    records: int
    stored: int
    valid: int
    refused: int
    batches: int

    @property
    def accepted(self) -> int:
        return self.stored + self.valid


@cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_FILE)))


def _parser_options() -> dict:
    # As for SOAP messages: no DTD, no entities, nothing fetched from the network.
    return dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)


def check_file(path: Path, progress: Callable[[int], None] = lambda done: None) -> tuple[str, int]:
    """The file's provider and number of records, read as a stream and validated against the schema."""
    institution, count = "", 0
    try:
        for event, element in etree.iterparse(
            str(path), events=("start", "end"), schema=_schema(), **_parser_options()
        ):
            if event == "start" and element.tag == f"{{{IMPORT_NS}}}registrations":
                institution = element.get("institutionCode", "")
            elif event == "end" and element.tag == f"{{{IMPORT_NS}}}record":
                count += 1
                if count % 1000 == 0:
                    progress(count)
                _release(element)
    except etree.XMLSyntaxError as error:  # schema errors too: lxml raises them while parsing
        raise ImportFileInvalid(f"{path.name}, line {error.lineno}: {error.msg}") from None
    progress(count)
    return institution, count


def records_of(path: Path) -> Iterator[NewRegistration]:
    """The file's records, in order, read as a stream (the file was checked first)."""
    for _, element in etree.iterparse(str(path), events=("end",), tag=f"{{{IMPORT_NS}}}record", **_parser_options()):
        contract = element.find(f"{{{NVS}}}contract")
        yield NewRegistration(
            personal_code=_text(element, "personalCode"),
            group_id=int(_text(element, "groupId")),
            first_learning_date=_date(_text(element, "firstLearningDate")),
            contract=None
            if contract is None
            else Contract(_text(contract, "typeCode"), _date(_text(contract, "date")), _text(contract, "number")),
        )
        _release(element)


def import_registrations(
    path: Path,
    *,
    registry: Registry,
    transactions: Transactions,
    fetch_persons: Callable,
    clock: Clock,
    operator: str,
    results: Path,
    validate_only: bool = False,
    progress: Callable[[int], None] = lambda done: None,
) -> ImportSummary:
    """Import the (checked) file in batches; write every record's result to ``results``."""
    institution, _ = check_file(path)
    caller = Caller(user_id=0, username=operator, institution_code=institution)
    mode = BatchMode(validate_only=validate_only)
    stored = valid = refused = batches = done = 0
    with results.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(RESULT_COLUMNS)
        for batch in _chunks(records_of(path), MAX_RECORDS):

            def work(call: Call, batch: list[NewRegistration] = batch) -> BatchResult[RegistrationView]:
                result = registry.register_students(caller, batch, mode)
                call.uow.access_log.append(
                    AccessRecord(
                        at=clock.now(),
                        operation=OPERATION,
                        request_id=uuid.uuid4().hex,
                        outcome="ok",
                        username=operator,
                        scope=Scope.institution(institution),
                        personal_codes=tuple(dict.fromkeys(r.personal_code for r in batch)),
                        purpose="Operator import of the provider's registrations",
                    )
                )
                return result

            result: BatchResult[RegistrationView] = run_as_call(transactions, fetch_persons, work)
            for record, outcome in zip(batch, result.results, strict=True):
                number = done + outcome.index
                refusal = outcome.refusal
                writer.writerow(
                    (
                        number,
                        record.personal_code,
                        outcome.outcome.value,
                        outcome.value.registration.id if outcome.value is not None else "",
                        refusal.code if refusal else "",
                        outcome.field.replace(f"record[{outcome.index}]", f"record[{number}]") if refusal else "",
                        refusal.message if refusal else "",
                        " ".join(w.code for w in outcome.warnings),
                    )
                )
                stored += outcome.outcome is RecordOutcome.STORED
                valid += outcome.outcome is RecordOutcome.VALID
                refused += outcome.outcome is RecordOutcome.REFUSED
            batches += 1
            done += len(batch)
            progress(done)
    return ImportSummary(institution, done, stored, valid, refused, batches)


def _chunks(records: Iterator[NewRegistration], size: int) -> Iterator[list[NewRegistration]]:
    chunk: list[NewRegistration] = []
    for record in records:
        chunk.append(record)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _text(element: etree._Element, name: str) -> str:
    return (element.findtext(f"{{{NVS}}}{name}") or "").strip()


def _date(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


def _release(element: etree._Element) -> None:
    """Memory stays flat: a record read is dropped, with the siblings before it."""
    element.clear()
    parent = element.getparent()
    if parent is not None:
        while element.getprevious() is not None:
            del parent[0]
