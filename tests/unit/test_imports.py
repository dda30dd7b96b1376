"""ŠMIR institutions and NŠPR programs import files (gateway.imports)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gateway.domain.classifiers import Classifiers
from gateway.domain.model import Institution, Program, ProgramPurpose
from gateway.imports import (
    ImportFileInvalid,
    ImportProblem,
    ImportSummary,
    parse_institutions,
    parse_programs,
)
from gateway.reference_data import load_classifiers

REPO = Path(__file__).resolve().parents[2]
SANDBOX = REPO / "data" / "sandbox"


@pytest.fixture(scope="module")
def classifiers() -> Classifiers:
    return load_classifiers()


# --- helpers: files with one element per line, so line numbers are easy to find --------------
HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'


def institution(
    code: str = "300000001",
    *,
    name: str = "Bandomoji muzikos mokykla",
    municipality: str = "13",
    ownership: str = "20",
    group: str = "NVS_SCHOOL",
    purposes: tuple[str, ...] = (),
    deregistered: str | None = None,
) -> str:
    lines = [
        "  <institution>",
        f"    <code>{code}</code>",
        f"    <name>{name}</name>",
        f"    <municipalityCode>{municipality}</municipalityCode>",
        f"    <ownershipCode>{ownership}</ownershipCode>",
        f"    <groupCode>{group}</groupCode>",
        *(f"    <purposeCode>{p}</purposeCode>" for p in purposes),
        *([f"    <deregisteredOn>{deregistered}</deregisteredOn>"] if deregistered else []),
        "  </institution>",
    ]
    return "\n".join(lines) + "\n"


def program(
    code: str = "100000001",
    *,
    name: str = "Bandomoji programa",
    provider: str = "300000001",
    purpose: str = "NVS",
    directions: tuple[str, ...] = ("MUSIC",),
    registered: str | None = "2022-01-10",
    accredited: str | None = None,
    deregistered: str | None = None,
) -> str:
    lines = [
        "  <program>",
        f"    <code>{code}</code>",
        f"    <name>{name}</name>",
        f"    <providerCode>{provider}</providerCode>",
        f"    <purpose>{purpose}</purpose>",
        *(f"    <directionCode>{d}</directionCode>" for d in directions),
        *([f"    <registeredOn>{registered}</registeredOn>"] if registered else []),
        *([f"    <accreditedOn>{accredited}</accreditedOn>"] if accredited else []),
        *([f"    <deregisteredOn>{deregistered}</deregisteredOn>"] if deregistered else []),
        "  </program>",
    ]
    return "\n".join(lines) + "\n"


def institutions_file(tmp_path: Path, *records: str, prolog: str = "") -> tuple[Path, str]:
    text = (
        HEADER
        + prolog
        + '<institutions xmlns="urn:lt:smir:institutions:v1">\n'
        + "".join(records)
        + "</institutions>\n"
    )
    path = tmp_path / "institutions.xml"
    path.write_text(text, encoding="utf-8")
    return path, text


def programs_file(tmp_path: Path, *records: str) -> tuple[Path, str]:
    text = HEADER + '<programs xmlns="urn:lt:nspr:programs:v1">\n' + "".join(records) + "</programs>\n"
    path = tmp_path / "programs.xml"
    path.write_text(text, encoding="utf-8")
    return path, text


def line_of(text: str, fragment: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing ``fragment``."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if fragment in line]
    return hits[occurrence - 1]


def rejected(call) -> list[ImportProblem]:
    with pytest.raises(ImportFileInvalid) as caught:
        call()
    return caught.value.errors


# --- the sandbox files -----------------------------------------------------------
@pytest.fixture(scope="module")
def sandbox_institutions(classifiers) -> dict[str, Institution]:
    return {i.code: i for i in parse_institutions(SANDBOX / "institutions.xml", classifiers)}


@pytest.fixture(scope="module")
def sandbox_programs(classifiers, sandbox_institutions) -> dict[str, Program]:
    parsed = parse_programs(SANDBOX / "programs.xml", classifiers, provider_codes=set(sandbox_institutions))
    return {p.code: p for p in parsed}


def test_sandbox_institutions_parse(sandbox_institutions) -> None:
    assert len(sandbox_institutions) == 20
    assert sandbox_institutions["300000011"] == Institution(
        code="300000011",
        name="Anykščių muzikos mokykla",
        municipality_code="34",
        ownership_code="20",
        group_code="NVS_SCHOOL",
        purpose_codes=("MUSIC_SCHOOL",),
        deregistered_on=None,
    )
    assert sandbox_institutions["300000022"] == Institution(
        code="300000022",
        name="UAB „Sūkurio šokių studija“",
        municipality_code="19",
        ownership_code="30",
        group_code="OTHER_PROVIDER",
        purpose_codes=("31714101", "31714102"),
    )
    assert sandbox_institutions["300000051"].deregistered_on == dt.date(2024, 8, 31)
    assert sandbox_institutions["300000044"].ownership_code == "10"
    municipalities = {i.municipality_code for i in sandbox_institutions.values()}
    assert {"13", "19", "34"} <= municipalities and len(municipalities) >= 5


def test_sandbox_institution_kinds(sandbox_institutions, classifiers) -> None:
    eligible = {c for c, i in sandbox_institutions.items() if i.may_provide_nvs(classifiers)}
    assert eligible == {
        "300000011",
        "300000012",
        "300000013",
        "300000014",
        "300000015",  # NVŠ schools
        "300000021",
        "300000022",
        "300000023",
        "300000024",  # other providers, 31714102
        "300000031",
        "300000032",  # free-lance teachers, 31914102
    }
    general = {c for c, i in sandbox_institutions.items() if i.is_general_education_school(classifiers)}
    assert general == {"300000041", "300000042", "300000043", "300000044", "300000045"}
    assert not sandbox_institutions["300000025"].may_provide_nvs(classifiers)  # 31714101 only
    assert not sandbox_institutions["300000033"].may_provide_nvs(classifiers)  # 31914101 only
    assert not sandbox_institutions["300000051"].may_provide_nvs(classifiers)  # deregistered


def test_sandbox_programs_parse(sandbox_programs, sandbox_institutions, classifiers) -> None:
    assert len(sandbox_programs) == 23
    assert sandbox_programs["100000211"] == Program(
        code="100000211",
        name="Robotika ir programavimas",
        provider_code="300000021",
        purpose=ProgramPurpose.NVS,
        direction_codes=("TECHCREAT", "IT"),
        registered_on=dt.date(2022, 3, 15),
        accredited_on=dt.date(2022, 6, 20),
        deregistered_on=None,
    )
    assert sandbox_programs["100000213"].deregistered_on == dt.date(2025, 6, 30)
    assert sandbox_programs["100000111"].purpose is ProgramPurpose.FSPU
    assert not sandbox_programs["100000123"].is_accredited(dt.date(2025, 10, 1))
    # FŠPU programs belong to NVŠ schools only
    for p in sandbox_programs.values():
        if p.purpose is ProgramPurpose.FSPU:
            assert sandbox_institutions[p.provider_code].group_code == "NVS_SCHOOL"
            assert p.accredited_on is None
    # every eligible provider has 1-3 programs
    for code, inst in sandbox_institutions.items():
        if inst.may_provide_nvs(classifiers):
            assert 1 <= sum(p.provider_code == code for p in sandbox_programs.values()) <= 3
    assert sum(p.deregistered_on is not None for p in sandbox_programs.values()) == 1


# --- rejections -------------------------------------------------------------------
def test_malformed_xml_is_rejected_with_its_line(tmp_path, classifiers) -> None:
    path, text = institutions_file(tmp_path, institution().replace("</name>", "</nam>"))
    errors = rejected(lambda: parse_institutions(path, classifiers))
    assert errors[0].line == line_of(text, "</nam>")
    assert "not well-formed" in errors[0].message


def test_doctype_is_refused(tmp_path, classifiers) -> None:
    prolog = '<!DOCTYPE institutions [\n  <!ENTITY big "aaaaaaaaaa">\n]>\n'
    path, text = institutions_file(tmp_path, institution(name="&big;"), prolog=prolog)
    errors = rejected(lambda: parse_institutions(path, classifiers))
    assert [(e.line, "DOCTYPE" in e.message) for e in errors] == [(line_of(text, "<!DOCTYPE"), True)]


def test_external_doctype_is_refused_without_fetching(tmp_path, classifiers) -> None:
    prolog = '<!DOCTYPE institutions SYSTEM "http://127.0.0.1:9/evil.dtd">\n'
    path, text = institutions_file(tmp_path, institution(), prolog=prolog)
    errors = rejected(lambda: parse_institutions(path, classifiers))
    assert errors == [ImportProblem(2, errors[0].message)]
    assert "DOCTYPE" in errors[0].message


def test_doctype_in_a_malformed_file_is_reported_too(tmp_path, classifiers) -> None:
    prolog = "<!DOCTYPE institutions>\n"
    path, text = institutions_file(tmp_path, institution().replace("</code>", ""), prolog=prolog)
    errors = rejected(lambda: parse_institutions(path, classifiers))
    assert errors[0].line == 2 and "DOCTYPE" in errors[0].message
    assert any("not well-formed" in e.message for e in errors[1:])


def test_schema_invalid_record_is_rejected_with_its_line(tmp_path, classifiers) -> None:
    path, text = programs_file(tmp_path, program(), program("100000002", purpose="NVSX"))
    errors = rejected(lambda: parse_programs(path, classifiers))
    assert [e.line for e in errors] == [line_of(text, "<purpose>NVSX")]
    assert "not valid against nspr-programs-v1.xsd" in errors[0].message
    assert "purpose" in errors[0].message


def test_wrong_root_element_is_schema_invalid(tmp_path, classifiers) -> None:
    path, _ = programs_file(tmp_path, program())
    errors = rejected(lambda: parse_institutions(path, classifiers))
    assert len(errors) == 1 and errors[0].line == 2


@pytest.mark.parametrize(
    ("field", "kwargs", "fragment"),
    [
        ("municipality", {"municipality": "99"}, "<municipalityCode>99"),
        ("ownership type", {"ownership": "40"}, "<ownershipCode>40"),
        ("institution group", {"group": "UNIVERSITY"}, "<groupCode>UNIVERSITY"),
        (
            "institution purpose",
            {"group": "OTHER_PROVIDER", "purposes": ("31714102", "31799999")},
            "<purposeCode>31799999",
        ),
    ],
)
def test_unknown_classifier_code_is_rejected_with_its_line(tmp_path, classifiers, field, kwargs, fragment) -> None:
    path, text = institutions_file(tmp_path, institution(), institution("300000002", **kwargs))
    errors = rejected(lambda: parse_institutions(path, classifiers))
    assert [e.line for e in errors] == [line_of(text, fragment)]
    assert f"not a known {field} code" in errors[0].message
    assert "2026.2" in errors[0].message


def test_unknown_direction_is_rejected(tmp_path, classifiers) -> None:
    path, text = programs_file(tmp_path, program(directions=("MUSIC", "ASTROLOGY")))
    errors = rejected(lambda: parse_programs(path, classifiers))
    assert [e.line for e in errors] == [line_of(text, "ASTROLOGY")]
    assert "not a known NVŠ direction code" in errors[0].message


def test_duplicate_code_is_rejected_with_its_line(tmp_path, classifiers) -> None:
    path, text = institutions_file(tmp_path, institution(), institution("300000002"), institution())
    errors = rejected(lambda: parse_institutions(path, classifiers))
    assert [e.line for e in errors] == [line_of(text, "<code>300000001", occurrence=2)]
    assert "duplicate institution code 300000001" in errors[0].message
    assert f"first at line {line_of(text, '<code>300000001')}" in errors[0].message


def test_duplicate_program_code_is_rejected(tmp_path, classifiers) -> None:
    path, text = programs_file(tmp_path, program(), program())
    errors = rejected(lambda: parse_programs(path, classifiers))
    assert [e.line for e in errors] == [line_of(text, "<code>100000001", occurrence=2)]


def test_temporary_program_code_is_rejected_with_the_reason(tmp_path, classifiers) -> None:
    path, text = programs_file(tmp_path, program(), program("999999999"))
    errors = rejected(lambda: parse_programs(path, classifiers))
    assert [e.line for e in errors] == [line_of(text, "<code>999999999")]
    assert "temporary code" in errors[0].message and "not yet registered" in errors[0].message


def test_dates_out_of_order_are_rejected(tmp_path, classifiers) -> None:
    path, text = programs_file(tmp_path, program(registered="2022-05-01", deregistered="2022-04-30"))
    errors = rejected(lambda: parse_programs(path, classifiers))
    assert [e.line for e in errors] == [line_of(text, "<deregisteredOn>")]


def test_unknown_provider_is_rejected_when_providers_are_given(tmp_path, classifiers) -> None:
    path, text = programs_file(tmp_path, program(), program("100000002", provider="300000999"))
    assert len(parse_programs(path, classifiers)) == 2
    errors = rejected(lambda: parse_programs(path, classifiers, provider_codes={"300000001"}))
    assert [e.line for e in errors] == [line_of(text, "<providerCode>300000999")]


def test_several_problems_are_all_reported_in_line_order(tmp_path, classifiers) -> None:
    path, text = institutions_file(
        tmp_path,
        institution(),
        institution("300000002", municipality="99"),  # unknown municipality
        institution("30000000X"),  # schema: code pattern
        institution(),  # duplicate
        institution("300000003", deregistered="2024-02-30"),  # schema: not a date
        institution("300000004", group="UNIVERSITY", ownership="38001010000"),  # two unknown codes
    )
    errors = rejected(lambda: parse_institutions(path, classifiers))
    assert [e.line for e in errors] == [
        line_of(text, "<municipalityCode>99"),
        line_of(text, "<code>30000000X"),
        line_of(text, "<code>300000001", occurrence=2),
        line_of(text, "2024-02-30"),
        line_of(text, "<ownershipCode>38001010000"),
        line_of(text, "<groupCode>UNIVERSITY"),
    ]
    with pytest.raises(ImportFileInvalid) as caught:
        parse_institutions(path, classifiers)
    rendered = str(caught.value).splitlines()
    assert rendered == [f"line {e.line}: {e.message}" for e in errors]


def test_eleven_digit_numbers_never_appear_in_messages(tmp_path, classifiers) -> None:
    path, _ = institutions_file(tmp_path, institution(ownership="38001010000"), institution("38001010000"))
    with pytest.raises(ImportFileInvalid) as caught:
        parse_institutions(path, classifiers)
    assert "38001010000" not in str(caught.value)
    assert len(caught.value.errors) == 3  # unknown ownership; code too long and not matching the pattern


def test_missing_file_is_an_import_problem(tmp_path, classifiers) -> None:
    errors = rejected(lambda: parse_institutions(tmp_path / "none.xml", classifiers))
    assert errors[0].line is None and "cannot read" in errors[0].message
    assert str(errors[0]) == errors[0].message


# --- progress and size -----------------------------------------------------------
@pytest.mark.parametrize(("count", "expected"), [(1, [1]), (1000, [500, 1000]), (1234, [500, 1000, 1234])])
def test_progress_is_reported_every_500_records_and_at_the_end(tmp_path, classifiers, count, expected) -> None:
    path, _ = programs_file(tmp_path, *(program(str(100000001 + i)) for i in range(count)))
    calls: list[int] = []
    assert len(parse_programs(path, classifiers, calls.append)) == count
    assert calls == expected


def test_tens_of_thousands_of_records_with_large_line_numbers(tmp_path, classifiers) -> None:
    count = 20_000
    records = [institution(str(300100000 + i)) for i in range(count)]
    records.append(institution("300100000"))  # duplicate of the first, near line 160000
    path, text = institutions_file(tmp_path, *records)
    calls: list[int] = []
    with pytest.raises(ImportFileInvalid) as caught:
        parse_institutions(path, classifiers, calls.append)
    assert [e.line for e in caught.value.errors] == [line_of(text, "<code>300100000", occurrence=2)]
    line = caught.value.errors[0].line
    assert line is not None and line > 65535
    assert calls[-1] == count + 1 and len(calls) == count // 500 + 1


def test_import_summary() -> None:
    summary = ImportSummary(created=2, updated=1)
    summary.unchanged += 4
    assert summary.total == 7
    assert str(summary) == "7 record(s): 2 created, 1 updated, 4 unchanged"
