"""`nvs-gateway export` on SQLite and PostgreSQL: XML valid against xsd/nvs-export-v1.xsd, the CSV's
shape, the scope options, and constant memory (asserted by what is read and held, never by time).
The data comes from bench/datasets.py (bulk inserts, like the benchmark's)."""

from __future__ import annotations

import csv
import datetime as dt
import tracemalloc
from pathlib import Path

import pytest
from lxml import etree

from bench.datasets import generate
from gateway.cli import main
from gateway.config import REPOSITORY_ROOT
from gateway.domain.lists import ListName, Scope
from gateway.exports import COLUMNS, EXPORT_NS, export_list
from gateway.lists import Lists, arrival_filter, basket_filter, club_filter, departure_filter, learner_filter
from storage.lists import SqlListRepository
from tests.clock import e2e_clock

CLOCK = e2e_clock()
EXPORT_XSD = REPOSITORY_ROOT / "xsd" / "nvs-export-v1.xsd"
NS = {"x": EXPORT_NS}
LISTS = {
    ListName.LEARNERS: (learner_filter("2026-2027"), ["--school-year", "2026-2027"]),
    ListName.ARRIVALS: (
        arrival_filter(dt.date(2026, 9, 1), dt.date(2026, 10, 31)),
        ["--from-date", "2026-09-01", "--to-date", "2026-10-31"],
    ),
    ListName.DEPARTURES: (
        departure_filter(dt.date(2026, 9, 1), dt.date(2027, 8, 31)),
        ["--from-date", "2026-09-01", "--to-date", "2027-08-31"],
    ),
    ListName.BASKET_RECIPIENTS: (basket_filter("2026-10"), ["--month", "2026-10"]),
    ListName.CLUB_ATTENDANCE: (club_filter("2026-2027"), ["--school-year", "2026-2027"]),
}


@pytest.fixture
def generated(database):
    generate(database.engine, 600)
    return database


@pytest.fixture
def cli_database(generated, monkeypatch):
    monkeypatch.setenv("NVS_DATABASE_URL", generated.url)
    monkeypatch.setenv("NVS_LOG_LEVEL", "WARNING")
    return generated


def every_id(lists: Lists, scope: Scope, name: ListName, list_filter) -> list[int]:
    return [
        getattr(r, "registration_id", None) or r.attendance_id
        for batch in lists.batches(scope, name, list_filter)
        for r in batch
    ]


@pytest.mark.parametrize("name", list(LISTS), ids=lambda n: n.value)
def test_the_xml_export_is_valid_and_holds_the_whole_list_in_its_order(cli_database, tmp_path, capsys, name) -> None:
    list_filter, options = LISTS[name]
    output = tmp_path / f"{name.value}.xml"
    assert main(["export", name.value, *options, "--format", "xml", "--output", str(output)]) == 0
    captured = capsys.readouterr()
    assert (
        f"{name.value}: " in captured.out
        and "row(s) written to" in captured.out
        and "scope: everything" in captured.out
    )
    assert "exporting" in captured.err  # the progress bar

    document = etree.parse(str(output))
    schema = etree.XMLSchema(etree.parse(str(EXPORT_XSD)))
    assert schema.validate(document), schema.error_log.last_error
    expected = every_id(Lists(cli_database.uow_factory), Scope.everything(), name, list_filter)
    assert expected, "the generated data set has rows for every list"
    id_element = "attendanceId" if name is ListName.CLUB_ATTENDANCE else "registrationId"
    assert [int(v) for v in document.xpath(f"/x:nvsExport/*/x:{id_element}/text()", namespaces=NS)] == expected
    assert int(document.findtext("x:rowCount", namespaces=NS)) == len(expected)
    assert document.findtext("x:list", namespaces=NS) == name.value
    assert document.findtext("x:scope/x:kind", namespaces=NS) == "everything"
    filters = {
        f.findtext("x:name", namespaces=NS): f.findtext("x:value", namespaces=NS)
        for f in document.findall("x:filter", namespaces=NS)
    }
    assert set(filters.values()) >= {v for v in options if not v.startswith("--")}


@pytest.mark.parametrize("name", list(LISTS), ids=lambda n: n.value)
def test_the_csv_export_has_a_header_and_a_line_per_row(cli_database, tmp_path, name) -> None:
    list_filter, options = LISTS[name]
    output = tmp_path / f"{name.value}.csv"
    assert (
        main(["export", name.value, *options, "--format", "csv", "--output", str(output), "--municipality", "13"]) == 0
    )
    with output.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], rows[1:]
    assert header == [column for column, _ in COLUMNS[name]]
    assert all(len(row) == len(header) for row in body)
    expected = every_id(Lists(cli_database.uow_factory), Scope.of_municipality("13"), name, list_filter)
    assert [int(row[0]) for row in body] == expected and expected
    personal_codes = [row[header.index("personalCode")] for row in body]
    assert all(len(code) == 11 and code.isdigit() for code in personal_codes)
    if name is ListName.BASKET_RECIPIENTS:
        assert {row[header.index("schoolMunicipalityName")] for row in body} - {""}
    if name is ListName.CLUB_ATTENDANCE:
        assert {row[header.index("directionCode")] for row in body} <= {"SPORT", "MUSIC", "ART"}


def test_the_scope_options_export_what_that_institution_or_municipality_sees(cli_database, tmp_path) -> None:
    lists = Lists(cli_database.uow_factory)
    learners = learner_filter("2026-2027")
    for option, scope in (
        ("--institution", Scope.of_institution("300000011")),
        ("--municipality", Scope.of_municipality("19")),
    ):
        output = tmp_path / "scoped.csv"
        assert (
            main(
                [
                    "export",
                    "learners",
                    "--school-year",
                    "2026-2027",
                    "--format",
                    "csv",
                    "--output",
                    str(output),
                    option,
                    scope.code,
                ]
            )
            == 0
        )
        with output.open(encoding="utf-8", newline="") as handle:
            exported = [int(row[0]) for row in list(csv.reader(handle))[1:]]
        everything = every_id(lists, Scope.everything(), ListName.LEARNERS, learners)
        assert exported == every_id(lists, scope, ListName.LEARNERS, learners)
        assert 0 < len(exported) < len(everything)


@pytest.mark.parametrize(
    "arguments, code, message",
    [
        (["learners"], 2, "needs --school-year"),
        (["arrivals", "--from-date", "2026-09-01"], 2, "needs --to-date"),
        (["learners", "--school-year", "2026-2027", "--institution", "399999999"], 2, "no such institution"),
        (["learners", "--school-year", "2026-2027", "--municipality", "99"], 2, "not a municipality code"),
        (["learners", "--school-year", "2026-2028"], 1, "consecutive"),
        (["departures", "--from-date", "2026-10-02", "--to-date", "2026-10-01"], 1, "after its end"),
        (["club-attendance", "--school-year", "2026-2027", "--direction", "CHESS"], 1, "not a known NVŠ direction"),
    ],
)
def test_bad_export_requests_are_refused_and_write_nothing(
    cli_database, tmp_path, capsys, arguments, code, message
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert main(["export", *arguments, "--format", "xml", "--output", str(out / "list.xml")]) == code
    assert message in capsys.readouterr().err
    assert list(out.iterdir()) == []


def test_a_failed_export_leaves_no_file_behind(generated, tmp_path, monkeypatch) -> None:
    lists = Lists(generated.uow_factory)
    original = Lists.batches

    def failing(self, *args, **kwargs):
        for number, batch in enumerate(original(self, *args, **kwargs)):
            if number == 1:
                raise RuntimeError("the database went away")
            yield batch

    monkeypatch.setattr(Lists, "batches", failing)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(RuntimeError):
        export_list(
            lists,
            Scope.everything(),
            ListName.LEARNERS,
            learner_filter("2026-2027"),
            "xml",
            out / "l.xml",
            batch_size=100,
            clock=CLOCK,
        )
    assert list(out.iterdir()) == []


# --- constant memory ----------------------------------------------------------------------------
def test_an_export_reads_the_list_in_batches_of_a_bounded_size(generated, tmp_path, monkeypatch) -> None:
    """However long the list, storage is only ever asked for one batch at a time."""
    asked: list[tuple[int, int]] = []
    original = SqlListRepository.rows

    def counting(self, query, limit):
        rows = original(self, query, limit)
        asked.append((limit, len(rows)))
        return rows

    monkeypatch.setattr(SqlListRepository, "rows", counting)
    lists = Lists(generated.uow_factory)
    summary = export_list(
        lists,
        Scope.everything(),
        ListName.ARRIVALS,
        LISTS[ListName.ARRIVALS][0],
        "csv",
        tmp_path / "a.csv",
        batch_size=50,
        clock=CLOCK,
    )
    assert summary.rows > 200
    assert {limit for limit, _ in asked} == {50}
    assert max(found for _, found in asked) <= 50
    assert len(asked) == summary.rows // 50 + 1  # full batches, then the short (or empty) last one


def _peak_bytes(lists: Lists, list_filter, fmt: str, output: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        summary = export_list(lists, Scope.everything(), ListName.ARRIVALS, list_filter, fmt, output, clock=CLOCK)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return summary.rows, peak


@pytest.mark.parametrize("fmt", ["xml", "csv"])
def test_export_memory_does_not_grow_with_the_length_of_the_list(database, tmp_path, fmt) -> None:
    """The peak of Python allocations while exporting ~1,900 arrivals (nine days) and ~19,000
    (three months) is about the same: the rows of one batch of 1,000, not of the list."""
    generate(database.engine, 20_000)
    lists = Lists(database.uow_factory)
    short = arrival_filter(dt.date(2026, 9, 1), dt.date(2026, 9, 9))
    whole = arrival_filter(dt.date(2026, 9, 1), dt.date(2026, 11, 30))
    _peak_bytes(lists, whole, fmt, tmp_path / "warm-up")  # compiled statements, caches: not the rows
    short_rows, short_peak = _peak_bytes(lists, short, fmt, tmp_path / "short")
    whole_rows, whole_peak = _peak_bytes(lists, whole, fmt, tmp_path / "whole")
    assert short_rows > 1000 and whole_rows >= 8 * short_rows  # a full batch in both
    assert whole_peak < short_peak * 1.5 + 1_000_000, (short_rows, short_peak, whole_rows, whole_peak)
    assert whole_peak < 30_000_000  # generous: a batch of 1,000 rows is a few MB at most
