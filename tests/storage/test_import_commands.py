"""`nvs-gateway import-institutions` and `import-programs`: all or nothing, re-import updates."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.cli import main
from gateway.sandbox import INSTITUTIONS_FILE, PROGRAMS_FILE

NS_INSTITUTIONS = "urn:lt:smir:institutions:v1"


@pytest.fixture
def cli_database(database, monkeypatch):
    monkeypatch.setenv("NVS_DATABASE_URL", database.url)
    monkeypatch.setenv("NVS_LOG_LEVEL", "WARNING")
    return database


def institutions_file(tmp_path: Path, *records: str) -> Path:
    path = tmp_path / "institutions.xml"
    path.write_text(
        f'<?xml version="1.0" encoding="UTF-8"?>\n<institutions xmlns="{NS_INSTITUTIONS}">\n'
        + "\n".join(records)
        + "\n</institutions>\n",
        encoding="utf-8",
    )
    return path


def record(code: str, name: str, municipality: str = "11") -> str:
    return (
        f"  <institution><code>{code}</code><name>{name}</name><municipalityCode>{municipality}</municipalityCode>"
        "<ownershipCode>20</ownershipCode><groupCode>NVS_SCHOOL</groupCode><purposeCode>MUSIC_SCHOOL</purposeCode></institution>"
    )


def test_reimporting_the_sandbox_files_changes_nothing(cli_database, capsys) -> None:
    before = cli_database.snapshot()
    assert main(["import-institutions", str(INSTITUTIONS_FILE)]) == 0
    assert main(["import-programs", str(PROGRAMS_FILE)]) == 0
    out = capsys.readouterr().out
    assert "0 created, 0 updated" in out
    assert cli_database.snapshot() == before


def test_import_creates_then_updates(cli_database, tmp_path, capsys) -> None:
    assert (
        main(
            [
                "import-institutions",
                str(institutions_file(tmp_path, record("300000901", "Pirmoji"), record("300000902", "Antroji"))),
            ]
        )
        == 0
    )
    assert "2 created, 0 updated, 0 unchanged" in capsys.readouterr().out
    assert (
        main(
            [
                "import-institutions",
                str(institutions_file(tmp_path, record("300000901", "Pirmoji"), record("300000902", "Antroji nauja"))),
            ]
        )
        == 0
    )
    assert "0 created, 1 updated, 1 unchanged" in capsys.readouterr().out
    with cli_database.uow_factory() as uow:
        assert uow.institutions.get("300000902").name == "Antroji nauja"


def test_a_bad_file_is_refused_whole_with_line_numbers(cli_database, tmp_path, capsys) -> None:
    before = cli_database.snapshot()
    path = institutions_file(
        tmp_path,
        record("300000903", "Gera"),
        record("300000904", "Bloga", municipality="99"),
        record("300000905", "Gera"),
    )
    assert main(["import-institutions", str(path)]) == 1
    err = capsys.readouterr().err
    assert "nothing imported" in err and "line 4" in err
    assert cli_database.snapshot() == before


def test_programs_of_providers_unknown_to_smir_are_refused_whole(cli_database, tmp_path, capsys) -> None:
    text = PROGRAMS_FILE.read_text(encoding="utf-8").replace(
        "<providerCode>300000011</providerCode>", "<providerCode>399999999</providerCode>", 1
    )
    path = tmp_path / "programs.xml"
    path.write_text(text, encoding="utf-8")
    before = cli_database.snapshot()
    assert main(["import-programs", str(path)]) == 1
    assert "nothing imported" in capsys.readouterr().err
    assert cli_database.snapshot() == before
