"""``nvs-gateway report`` as a municipality's coordinator's operator runs it, on SQLite and PostgreSQL:
the CSV and the XLSX hold GetStatistics' numbers for the same scope, and the chart is a picture of
learners by direction and municipality with its names written on it."""

from __future__ import annotations

import csv
from decimal import Decimal, InvalidOperation

from lxml import etree
from openpyxl import load_workbook

from gateway.cli import main
from tests.conftest import launch_gateway
from tests.e2e.helpers import registry_client
from tests.e2e.test_list_scopes import VILNIUS_COORDINATOR
from tests.e2e.test_lists import YEAR
from tests.e2e.test_statistics import arrange

SVG = "http://www.w3.org/2000/svg"


def plain(value: object) -> object:
    """A cell as a comparable value: numbers as Decimals (a spreadsheet keeps 40.00 as the number 40)."""
    if value is None or value == "":
        return ""
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return str(value)


def test_a_municipalitys_report_and_chart_hold_what_its_coordinator_is_told(
    database, tmp_path, monkeypatch, capsys
) -> None:
    gateway, stop = launch_gateway(database)
    try:
        arrange(gateway)
        coordinator = registry_client(gateway.wsdl_url, *VILNIUS_COORDINATOR).service
        told = coordinator.GetStatistics(schoolYear=YEAR, groupBy=["provider"])
    finally:
        stop()
    monkeypatch.setenv("NVS_DATABASE_URL", database.url)
    monkeypatch.setenv("NVS_LOG_LEVEL", "WARNING")
    monkeypatch.setenv("NVS_CLOCK_START", "2026-11-16T10:00:00+02:00")
    paths = {kind: tmp_path / f"vilnius.{kind}" for kind in ("csv", "xlsx", "svg")}

    assert (
        main(
            [
                "report",
                "--school-year",
                YEAR,
                "--municipality",
                "13",
                "--group-by",
                "provider",
                "--csv",
                str(paths["csv"]),
                "--xlsx",
                str(paths["xlsx"]),
                "--chart",
                str(paths["svg"]),
            ]
        )
        == 0
    )
    summary = capsys.readouterr().out
    assert (
        f"report {YEAR} of Vilniaus miesto savivaldybė: {len(told.line)} lines, {told.total.learners} learners"
        in summary
    )

    with paths["csv"].open(encoding="utf-8", newline="") as file:
        rows = list(csv.DictReader(file))
    by_provider = {row["provider"]: row for row in rows}
    for line in told.line:
        row = by_provider[line.group[0].code]
        assert row["provider name"] == line.group[0].name
        assert (int(row["learners"]), int(row["basket recipients (child-months)"])) == (
            line.counts.learners,
            line.counts.basketRecipients,
        )
    total = by_provider["total"]
    assert (int(total["learners"]), int(total["club attendance"]), total["basket amount (EUR)"]) == (
        told.total.learners,
        told.total.clubAttendance,
        str(told.total.basketAmount),
    )
    assert not list(tmp_path.glob("*.partial"))

    sheet = load_workbook(paths["xlsx"])["Statistics"]
    cells = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert [str(v) for v in cells[0]] == list(rows[0])  # the same columns
    assert [[plain(v) for v in row] for row in cells[1:]] == [[plain(v) for v in r.values()] for r in rows]

    picture = etree.parse(str(paths["svg"]))
    assert picture.getroot().tag == f"{{{SVG}}}svg"
    words = " ".join(t.strip() for t in picture.getroot().itertext())
    # Its title, the directions on the axis, the providers' municipalities in the legend.
    assert "NVŠ learners by direction and municipality, 2026-2027" in words
    assert "Muzika" in words and "Vilniaus miesto savivaldybė" in words and "Anykščių rajono savivaldybė" in words


def test_a_report_needs_a_file_to_write(database, monkeypatch, capsys) -> None:
    monkeypatch.setenv("NVS_DATABASE_URL", database.url)
    assert main(["report", "--school-year", YEAR]) == 2
    assert "at least one of --csv, --xlsx and --chart" in capsys.readouterr().err
