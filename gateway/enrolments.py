"""The formal-enrolments import (``nvs-gateway import-enrolments FILE``): which general-education
school each child attends in a school year.

Format: ``xsd/formal-enrolments-v1.xsd``. Like the ŠMIR and NŠPR imports (``gateway.imports``,
whose reading helpers this reuses) a file is accepted whole or refused whole, every problem
with its line number, and messages never show a personal code.

Persons (**decision**): the children are *not* looked up in the population register at import
(a municipality's file holds tens of thousands of pupils; asking GR for each would make the
import as slow and as fragile as GR). The personal code is validated with python-stdnum and
stored with the enrolment, not as a person: no name is stored for a child the register knows
only from this file. Such a child appears in no list by enrolment alone (lists show
registrations and club marks, whose persons GR gave), and when the child is registered or
marked, GR's data is stored then; the GR data check refreshes it later.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gateway.domain.calendar import SchoolYear
from gateway.domain.classifiers import Classifiers
from gateway.domain.clubs import Enrolment, EnrolmentSource, enrolment_problem
from gateway.domain.errors import InvalidSchoolYear, PersonNotALearner
from gateway.domain.model import Institution, check_may_be_learner
from gateway.domain.personal_code import PersonalCode, is_valid_personal_code
from gateway.imports import XSD_DIR, ImportSummary, Problems, RecordFields, iter_records, load_validated
from gateway.ports import UnitOfWork

ENROLMENTS_XSD = XSD_DIR / "formal-enrolments-v1.xsd"
ENROLMENTS_NS = "urn:lt:mokiniu-registras:formal-enrolments:v1"


def parse_enrolments(
    path: Path | str,
    classifiers: Classifiers,
    school_of: Callable[[str], Institution | None],
    progress: Callable[[int], None] | None = None,
) -> list[Enrolment]:
    """Parse a formal-enrolments file; raise :class:`~gateway.imports.ImportFileInvalid` listing every problem.

    ``school_of`` finds a known institution by code (only general-education schools are accepted),
    e.g. ``institution_lookup(uow_factory)`` or a dict's ``get``.
    """
    problems = Problems()
    root, invalid = load_validated(Path(path), ENROLMENTS_XSD, problems)
    seen: dict[tuple[str, str, int], int] = {}
    result: list[Enrolment] = []
    for record in iter_records(root, ENROLMENTS_NS, "enrolment", progress):
        fields = RecordFields(record, ENROLMENTS_NS, invalid)
        line = record.sourceline
        code, school_code, year_text = fields.text("personalCode"), fields.text("schoolCode"), fields.text("schoolYear")
        if code is not None and not is_valid_personal_code(code):
            problems.add(
                fields.line("personalCode"),
                "personalCode is not a valid Lithuanian personal code (birth date or check digit)",
            )
            code = None
        elif code is not None and not _may_be_learner(code):
            problems.add(fields.line("personalCode"), "personalCode gives a birth date before 1900: not a learner")
            code = None
        school_year = None
        if year_text is not None:
            try:
                school_year = SchoolYear.parse(year_text)
            except InvalidSchoolYear:
                problems.add(
                    fields.line("schoolYear"), f"schoolYear '{year_text}' is not two consecutive years, as 2026-2027"
                )
        from_date, to_date = fields.date("fromDate", problems), fields.date("toDate", problems)
        if code is None or school_code is None or school_year is None or from_date is None:
            continue  # its problem is reported already (schema or above)
        enrolment = Enrolment(PersonalCode(code), school_code, school_year, from_date, to_date, EnrolmentSource.IMPORT)
        problem = enrolment_problem(enrolment, school_of(school_code), classifiers)
        if problem is not None:
            problems.add(line, problem)
            continue
        key = (code, school_code, school_year.first_year)
        if key in seen:
            problems.add(line, f"the same child, school and school year as the record at line {seen[key]}")
            continue
        seen[key] = line or 0
        if not problems:
            result.append(enrolment)
    problems.raise_if_any()
    return result


def import_enrolments(
    uow_factory: Callable[[], UnitOfWork], enrolments: list[Enrolment], progress: Callable[[int], None] | None = None
) -> ImportSummary:
    """Store a parsed file in one transaction: all of it or (on any error) nothing."""
    outcomes = {"created": 0, "updated": 0, "unchanged": 0}
    chunk = 5000
    with uow_factory() as uow:
        for start in range(0, len(enrolments), chunk):
            for key, count in uow.enrolments.upsert_many(enrolments[start : start + chunk]).items():
                outcomes[key] += count
            if progress:
                progress(min(start + chunk, len(enrolments)))
        uow.commit()
    if progress and not enrolments:
        progress(0)
    return ImportSummary(outcomes["created"], outcomes["updated"], outcomes["unchanged"])


def institution_lookup(uow_factory: Callable[[], UnitOfWork]) -> Callable[[str], Institution | None]:
    """Institutions by code from storage, each read once (a file names a few schools many times)."""
    cache: dict[str, Institution | None] = {}

    def school_of(code: str) -> Institution | None:
        if code not in cache:
            with uow_factory() as uow:
                cache[code] = uow.institutions.get(code)
        return cache[code]

    return school_of


def _may_be_learner(code: str) -> bool:
    try:
        check_may_be_learner(PersonalCode(code))
    except PersonNotALearner:
        return False
    return True
