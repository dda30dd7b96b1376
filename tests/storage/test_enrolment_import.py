"""`nvs-gateway import-enrolments` on SQLite and PostgreSQL: all or nothing, progress, summary, re-import."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gateway.cli import main
from gateway.domain.personal_code import PersonalCode
from tests.e2e.helpers import child_code

NS = "urn:lt:mokiniu-registras:formal-enrolments:v1"
VILNIUS_SCHOOL, KAUNAS_SCHOOL = "300000041", "300000042"


@pytest.fixture
def cli_database(database, monkeypatch):
    monkeypatch.setenv("NVS_DATABASE_URL", database.url)
    monkeypatch.setenv("NVS_LOG_LEVEL", "WARNING")
    return database


def enrolments_file(tmp_path: Path, records: list[tuple[str, str, str, str | None]]) -> Path:
    lines = [
        f"  <enrolment><schoolCode>{school}</schoolCode><personalCode>{code}</personalCode><schoolYear>2026-2027</schoolYear>"
        f"<fromDate>{from_date}</fromDate>{f'<toDate>{to_date}</toDate>' if to_date else ''}</enrolment>"
        for school, code, from_date, to_date in records
    ]
    path = tmp_path / "enrolments.xml"
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<enrolments xmlns="{NS}">\n' + "\n".join(lines) + "\n</enrolments>\n",
        encoding="utf-8",
    )
    return path


def test_import_creates_then_updates_and_reports_the_summary(cli_database, tmp_path, capsys) -> None:
    pupils = [child_code(dt.date(2014, 1, 1 + n), 600 + n) for n in range(3)]
    before = cli_database.count("school_enrolment")
    records: list[tuple[str, str, str, str | None]] = [(VILNIUS_SCHOOL, code, "2026-09-01", None) for code in pupils]
    assert main(["import-enrolments", str(enrolments_file(tmp_path, records))]) == 0
    captured = capsys.readouterr()
    assert "3 record(s): 3 created, 0 updated, 0 unchanged" in captured.out
    assert "checking enrolments.xml" in captured.err and "storing" in captured.err  # the progress bars
    assert cli_database.count("school_enrolment") == before + 3

    records[2] = (VILNIUS_SCHOOL, pupils[2], "2026-09-01", "2027-01-15")  # left in January
    records.append((KAUNAS_SCHOOL, pupils[2], "2027-01-18", None))  # for a Kaunas school
    assert main(["import-enrolments", str(enrolments_file(tmp_path, records))]) == 0
    assert "4 record(s): 1 created, 1 updated, 2 unchanged" in capsys.readouterr().out
    with cli_database.uow_factory() as uow:
        found = [(e.school_code, e.to_date) for e in uow.enrolments.of_person(PersonalCode(pupils[2]))]
    assert found == [(VILNIUS_SCHOOL, dt.date(2027, 1, 15)), (KAUNAS_SCHOOL, None)]


def test_a_bad_file_is_refused_whole_and_no_person_is_created(cli_database, tmp_path, capsys) -> None:
    good, bad = child_code(dt.date(2014, 2, 2), 701), child_code(dt.date(2014, 2, 3), 702)
    before = cli_database.snapshot()
    path = enrolments_file(
        tmp_path, [(VILNIUS_SCHOOL, good, "2026-09-01", None), (VILNIUS_SCHOOL, bad, "2027-09-01", None)]
    )
    assert main(["import-enrolments", str(path)]) == 1
    err = capsys.readouterr().err
    assert (
        "refused, nothing imported (1 problem(s))" in err
        and "line 4: fromDate 2027-09-01 is outside school year 2026-2027" in err
    )
    assert good not in err and bad not in err
    assert cli_database.snapshot() == before


def test_imported_children_are_not_looked_up_nor_stored_as_persons(cli_database, tmp_path, capsys) -> None:
    before = cli_database.count("person")
    path = enrolments_file(tmp_path, [(VILNIUS_SCHOOL, child_code(dt.date(2014, 3, 3), 703), "2026-09-01", None)])
    assert main(["import-enrolments", str(path)]) == 0
    assert cli_database.count("person") == before
