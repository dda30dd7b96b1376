"""``nvs-gateway import-registrations FILE`` as an operator runs it, on SQLite and PostgreSQL: the file
checked against its schema first (a mistake anywhere loads nothing), then loaded in batches of 500 with
a result line per record numbered as in the file, ``--validate-only`` writing nothing, and each batch
in the access log. The population register is the sandbox's, over HTTP, as a deployment's would be."""

from __future__ import annotations

import csv
import datetime as dt

import pytest

from gateway.cli import main
from gateway.domain.calendar import SchoolYear
from gateway.domain.model import Group, ProgramPurpose
from tests.conftest import launch_gateway
from tests.e2e.helpers import child_code

SCHOOL, PROGRAM = "300000011", "100000112"
UNKNOWN_TO_GR = "51203159990"  # the sandbox population register answers NOT_FOUND


@pytest.fixture
def operator(database, monkeypatch):
    """The gateway's settings as the operator's shell has them, a group of the school, and the sandbox GR."""
    gateway, stop = launch_gateway(database)
    monkeypatch.setenv("NVS_DATABASE_URL", database.url)
    monkeypatch.setenv("NVS_POPULATION_REGISTER_URL", f"{gateway.base_url}/population-register")
    monkeypatch.setenv("NVS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("NVS_CLOCK_START", "2026-11-16T10:00:00+02:00")
    with database.uow_factory() as uow:
        group = uow.groups.add(
            Group(None, SCHOOL, SchoolYear(2026), PROGRAM, ProgramPurpose.NVS, "Iš failo", ("MUSIC.PIANO",))
        )
        uow.commit()
    yield database, group.id
    stop()


def write_file(path, group_id: int, count: int, bad: dict[int, str]) -> None:
    """``count`` records of new children into the group; ``bad``: record number -> what is wrong with it."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<imp:registrations xmlns:imp="urn:lt:mokiniu-registras:nvs-registrations-import:v1" '
        f'xmlns:nvs="urn:lt:mokiniu-registras:nvs-gateway:v1" institutionCode="{SCHOOL}">',
    ]
    for number in range(1, count + 1):
        code = child_code(dt.date(2013 + number % 5, 1 + number % 12, 1 + number % 28), number % 990)
        group = group_id
        if bad.get(number) == "unknown":
            code = UNKNOWN_TO_GR
        elif bad.get(number) == "group":
            group = 999_999
        lines.append(
            f"<imp:record><nvs:personalCode>{code}</nvs:personalCode><nvs:groupId>{group}</nvs:groupId>"
            "<nvs:firstLearningDate>2026-09-01</nvs:firstLearningDate><nvs:contract><nvs:typeCode>BILATERAL"
            f"</nvs:typeCode><nvs:date>2026-08-28</nvs:date><nvs:number>F-{number}</nvs:number></nvs:contract>"
            "</imp:record>"
        )
    lines.append("</imp:registrations>")
    path.write_text("\n".join(lines), encoding="utf-8")


def results_of(path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as file:
        return list(csv.DictReader(file))


def test_a_file_of_three_batches_is_checked_then_loaded_with_a_result_per_record(operator, tmp_path, capsys) -> None:
    database, group_id = operator
    bad = {7: "unknown", 750: "group", 1203: "unknown"}
    source, results = tmp_path / "metai.xml", tmp_path / "metai.results.csv"
    write_file(source, group_id, 1203, bad)
    before = database.count("registration")

    assert main(["import-registrations", str(source), "--validate-only"]) == 1  # refusals: exit 1
    assert database.count("registration") == before  # validate-only writes nothing
    checked = results_of(results)
    assert [row["outcome"] for row in checked].count("valid") == 1200
    assert "1200 would be stored (validate only, nothing written), 3 refused" in capsys.readouterr().out

    assert main(["import-registrations", str(source)]) == 1
    rows = results_of(results)
    assert [int(row["record"]) for row in rows] == list(range(1, 1204))  # numbered as in the file
    refused = {int(row["record"]): (row["code"], row["field"]) for row in rows if row["outcome"] == "refused"}
    assert refused == {
        7: ("PersonNotFound", "record[7]/personalCode"),
        750: ("GroupNotFound", "record[750]/groupId"),  # in the second batch: the file's number, not the batch's
        1203: ("PersonNotFound", "record[1203]/personalCode"),
    }
    assert all(row["registrationId"] for row in rows if row["outcome"] == "stored")
    assert database.count("registration") == before + 1200
    summary = capsys.readouterr().out
    assert "1203 record(s) in 3 batch(es); 1200 stored, 3 refused" in summary
    imports = database.rows(
        "SELECT outcome, username, scope_code FROM access_log WHERE operation = 'ImportRegistrations'"
    )
    assert len(imports) == 6  # each batch, both runs, by the operator for the school
    assert {(row.outcome, row.scope_code) for row in imports} == {("ok", SCHOOL)}
    assert all(row.username.startswith("console:") for row in imports)

    # Run again: every record is refused (already registered), nothing is added.
    assert main(["import-registrations", str(source)]) == 1
    assert database.count("registration") == before + 1200


def test_a_file_the_schema_refuses_loads_nothing(operator, tmp_path, capsys) -> None:
    database, group_id = operator
    source = tmp_path / "klaida.xml"
    write_file(source, group_id, 600, {})
    text = source.read_text(encoding="utf-8")
    source.write_text(text.replace("<nvs:groupId>", "<nvs:groupid>", 1).replace("</nvs:groupId>", "</nvs:groupid>", 1))
    before = database.count("registration")

    assert main(["import-registrations", str(source)]) == 2

    assert database.count("registration") == before
    assert "refused, nothing imported" in capsys.readouterr().err
