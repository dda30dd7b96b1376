"""The formal-enrolments import file (gateway.enrolments): all or nothing, every problem with its line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gateway.domain.calendar import SchoolYear
from gateway.domain.clubs import Enrolment, EnrolmentSource
from gateway.domain.personal_code import PersonalCode
from gateway.enrolments import parse_enrolments
from gateway.imports import ImportFileInvalid
from gateway.sandbox import ENROLMENTS_FILE
from tests.fakes import CLASSIFIERS, an_institution, valid_code

NS = "urn:lt:mokiniu-registras:formal-enrolments:v1"
SCHOOL = an_institution(
    code="300100041", name="Bandomoji gimnazija", group_code="GENERAL_EDU", purpose_codes=("GYMNASIUM",)
)
MUSIC_SCHOOL = an_institution(code="300100011")
SCHOOLS = {s.code: s for s in (SCHOOL, MUSIC_SCHOOL)}
PUPIL = valid_code("5150915000")
OTHER_PUPIL = valid_code("6160315123")
WRONG_CHECK_DIGIT = PUPIL[:10] + str((int(PUPIL[10]) + 1) % 10)


def enrolment(
    code: str = PUPIL,
    school: str = SCHOOL.code,
    year: str = "2026-2027",
    from_date: str = "2026-09-01",
    to_date: str | None = None,
) -> str:
    """One record on one line, so that a record's line number is its position + 2."""
    to = f"<toDate>{to_date}</toDate>" if to_date else ""
    return (
        f"  <enrolment><schoolCode>{school}</schoolCode><personalCode>{code}</personalCode>"
        f"<schoolYear>{year}</schoolYear><fromDate>{from_date}</fromDate>{to}</enrolment>"
    )


def file_of(tmp_path: Path, *records: str, head: str = "") -> Path:
    path = tmp_path / "enrolments.xml"
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n{head}<enrolments xmlns="{NS}">\n'
        + "\n".join(records)
        + "\n</enrolments>\n",
        encoding="utf-8",
    )
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ImportFileInvalid) as refused:
        parse_enrolments(path, CLASSIFIERS, SCHOOLS.get)
    return [str(p) for p in refused.value.errors]


def test_a_good_file_gives_its_enrolments_in_file_order(tmp_path: Path) -> None:
    path = file_of(
        tmp_path,
        enrolment(),
        enrolment(OTHER_PUPIL, to_date="2027-01-15"),
        enrolment(year="2025-2026", from_date="2025-09-01"),
    )
    counted: list[int] = []
    parsed = parse_enrolments(path, CLASSIFIERS, SCHOOLS.get, progress=counted.append)
    assert parsed == [
        Enrolment(
            PersonalCode(PUPIL), SCHOOL.code, SchoolYear(2026), dt.date(2026, 9, 1), None, EnrolmentSource.IMPORT
        ),
        Enrolment(PersonalCode(OTHER_PUPIL), SCHOOL.code, SchoolYear(2026), dt.date(2026, 9, 1), dt.date(2027, 1, 15)),
        Enrolment(PersonalCode(PUPIL), SCHOOL.code, SchoolYear(2025), dt.date(2025, 9, 1)),
    ]
    assert counted[-1] == 3


def test_the_sandbox_file_is_good() -> None:
    from gateway.sandbox import sandbox_data

    institutions, _ = sandbox_data(CLASSIFIERS)
    parsed = parse_enrolments(ENROLMENTS_FILE, CLASSIFIERS, {i.code: i for i in institutions}.get)
    assert len(parsed) == 5


def test_a_bad_file_is_refused_whole_with_every_problem_and_its_line(tmp_path: Path) -> None:
    path = file_of(
        tmp_path,
        enrolment(),  # line 3: good
        enrolment(WRONG_CHECK_DIGIT),  # 4: check digit
        enrolment(school="300199999"),  # 5: unknown school
        enrolment(school=MUSIC_SCHOOL.code),  # 6: not a general-education school
        enrolment(year="2026-2028"),  # 7: not consecutive
        enrolment(from_date="2026-08-31"),  # 8: outside the year
        enrolment(OTHER_PUPIL, from_date="2026-10-01", to_date="2026-09-30"),  # 9: ends before it starts
        enrolment(),  # 10: repeats line 3
        enrolment(from_date="2026-02-30"),  # 11: not a date (schema)
    )
    found = problems_of(path)
    lines = [int(p.split(":")[0].removeprefix("line ")) for p in found]
    assert lines == sorted(lines) and set(lines) == {4, 5, 6, 7, 8, 9, 10, 11}
    text = "\n".join(found)
    for expected in (
        "line 4: personalCode is not a valid Lithuanian personal code",
        "line 5: school 300199999 is not a known institution",
        "line 6: institution 300100011 is not a general-education school",
        "line 7: schoolYear '2026-2028' is not two consecutive years",
        "line 8: fromDate 2026-08-31 is outside school year 2026-2027",
        "line 9: toDate 2026-09-30 is before fromDate 2026-10-01",
        "line 10: the same child, school and school year as the record at line 3",
    ):
        assert expected in text, expected
    assert PUPIL not in text and OTHER_PUPIL not in text


def test_schema_problems_never_show_a_personal_code_even_mistyped(tmp_path: Path) -> None:
    found = problems_of(file_of(tmp_path, enrolment(PUPIL + "7"), enrolment(PUPIL[:10])))
    text = "\n".join(found)
    assert "line 3" in text and "line 4" in text
    assert PUPIL[:10] not in text


def test_a_doctype_is_refused(tmp_path: Path) -> None:
    found = problems_of(file_of(tmp_path, enrolment(), head='<!DOCTYPE enrolments [<!ENTITY x "y">]>\n'))
    assert any("DOCTYPE" in p for p in found)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    assert problems_of(file_of(tmp_path))


def test_the_sandbox_json_lists_the_sandbox_enrolments(capsys) -> None:
    import json

    from gateway.cli import main

    assert main(["sandbox", "--json"]) == 0
    enrolments = json.loads(capsys.readouterr().out)["enrolments"]
    assert {
        "schoolCode": "300000041",
        "personalCode": "51509150009",
        "schoolYear": "2026-2027",
        "fromDate": "2026-09-01",
        "toDate": None,
    } in enrolments
    assert len(enrolments) == 5
