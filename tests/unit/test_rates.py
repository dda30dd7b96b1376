"""The NVŠ basket rates file (gateway.rates, data/rates/basket-rates.xml, xsd/basket-rates-v1.xsd)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from gateway.domain.calendar import Month
from gateway.domain.classifiers import Classifiers
from gateway.domain.errors import BasketRateMissing
from gateway.domain.funding import BasketRate, rate_in_force
from gateway.imports import ImportFileInvalid, ImportProblem
from gateway.rates import RATES_FILE, parse_rates
from gateway.reference_data import load_classifiers

REPO = Path(__file__).resolve().parents[2]
VILNIUS = "13"  # Vilniaus miesto savivaldybė
KAUNAS = "19"  # Kauno miesto savivaldybė


@pytest.fixture(scope="module")
def classifiers() -> Classifiers:
    return load_classifiers()


@pytest.fixture(scope="module")
def shipped(classifiers) -> tuple[str, list[BasketRate]]:
    return parse_rates(RATES_FILE, classifiers)


# --- helpers: one element per line, so line numbers are easy to find -------------------------
HEADER = '<?xml version="1.0" encoding="UTF-8"?>\n'


def rate(
    month: str = "2015-10",
    amount: str = "15.00",
    *,
    municipality: str | None = None,
    priority: str | None = None,
    special_needs: str | None = None,
) -> str:
    lines = [
        "  <rate>",
        *([f"    <municipalityCode>{municipality}</municipalityCode>"] if municipality is not None else []),
        f"    <effectiveFrom>{month}</effectiveFrom>",
        f"    <monthlyAmount>{amount}</monthlyAmount>",
        *([f"    <priorityFactor>{priority}</priorityFactor>"] if priority is not None else []),
        *([f"    <specialNeedsFactor>{special_needs}</specialNeedsFactor>"] if special_needs is not None else []),
        "  </rate>",
    ]
    return "\n".join(lines) + "\n"


def rates_file(tmp_path: Path, *records: str, prolog: str = "", version: str = "test.1") -> tuple[Path, str]:
    text = (
        HEADER
        + prolog
        + '<basketRates xmlns="urn:lt:mokiniu-registras:basket-rates:v1">\n'
        + f"  <version>{version}</version>\n"
        + "".join(records)
        + "</basketRates>\n"
    )
    path = tmp_path / "basket-rates.xml"
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


# --- the shipped file ---------------------------------------------------------------
def test_the_classifier_codes_used_here_are_the_right_municipalities(classifiers) -> None:
    assert classifiers.name("municipality", VILNIUS) == "Vilniaus miesto savivaldybė"
    assert classifiers.name("municipality", KAUNAS) == "Kauno miesto savivaldybė"


def test_shipped_file_parses_to_the_known_rates(shipped) -> None:
    version, rates = shipped
    assert version == "2026.2"
    assert rates == [
        BasketRate(None, Month(2015, 10), Decimal("15.00")),
        BasketRate(None, Month(2022, 3), Decimal("20.00"), special_needs_factor=Decimal("2")),
        BasketRate(VILNIUS, Month(2024, 4), Decimal("25.00"), special_needs_factor=Decimal("2")),
    ]
    for r in rates:
        assert type(r.monthly_amount) is Decimal and str(r.monthly_amount).endswith(".00")
        assert type(r.priority_factor) is Decimal and r.priority_factor == Decimal("1")
        assert type(r.special_needs_factor) is Decimal


def test_shipped_file_is_valid_against_its_schema() -> None:
    from lxml import etree

    schema = etree.XMLSchema(etree.parse(str(REPO / "xsd" / "basket-rates-v1.xsd")))
    assert schema.validate(etree.parse(str(RATES_FILE))), schema.error_log


@pytest.mark.parametrize(
    ("municipality", "month", "amount", "special_needs"),
    [
        (KAUNAS, "2015-10", "15", "1"),
        (KAUNAS, "2020-01", "15", "1"),
        (KAUNAS, "2022-02", "15", "1"),
        (KAUNAS, "2022-03", "20", "2"),
        (KAUNAS, "2024-05", "20", "2"),
        (VILNIUS, "2020-01", "15", "1"),
        (VILNIUS, "2024-03", "20", "2"),
        (VILNIUS, "2024-04", "25", "2"),
        (VILNIUS, "2026-09", "25", "2"),
    ],
)
def test_rate_in_force_on_the_shipped_rates(shipped, municipality, month, amount, special_needs) -> None:
    found = rate_in_force(shipped[1], municipality, Month.parse(month))
    assert found.monthly_amount == Decimal(amount)
    assert found.special_needs_factor == Decimal(special_needs)
    assert found.priority_factor == Decimal("1")


@pytest.mark.parametrize("municipality", [KAUNAS, VILNIUS])
def test_no_rate_before_the_basket_started(shipped, municipality) -> None:
    with pytest.raises(BasketRateMissing):
        rate_in_force(shipped[1], municipality, Month(2015, 9))


# --- a clean file of one's own ----------------------------------------------------------
def test_factors_default_to_one_and_are_read_as_decimals(tmp_path, classifiers) -> None:
    path, _ = rates_file(
        tmp_path,
        rate(),
        rate("2023-01", "15", municipality="63", priority="1.333", special_needs="2"),
        version="  2027.2 ",
    )
    version, rates = parse_rates(path, classifiers)
    assert version == "2027.2"
    assert rates == [
        BasketRate(None, Month(2015, 10), Decimal("15.00"), Decimal("1"), Decimal("1")),
        BasketRate("63", Month(2023, 1), Decimal("15.00"), Decimal("1.333"), Decimal("2")),
    ]
    assert str(rates[1].monthly_amount) == "15.00"


def test_same_month_for_a_municipality_and_in_general_is_fine(tmp_path, classifiers) -> None:
    path, _ = rates_file(tmp_path, rate(), rate(municipality=VILNIUS, amount="20.00"), rate(municipality=KAUNAS))
    assert len(parse_rates(path, classifiers)[1]) == 3


def test_source_is_optional_and_allowed(tmp_path, classifiers) -> None:
    path, text = rates_file(tmp_path, rate())
    path.write_text(text.replace("</version>\n", "</version>\n  <source>Savivaldybės tarybos sprendimas</source>\n"))
    assert parse_rates(path, classifiers)[0] == "test.1"


def test_progress_is_reported(tmp_path, classifiers) -> None:
    path, _ = rates_file(tmp_path, rate(), rate("2016-01"), rate("2017-01"))
    calls: list[int] = []
    parse_rates(path, classifiers, calls.append)
    assert calls == [3]


# --- rejections -------------------------------------------------------------------
def test_unknown_municipality_is_rejected_with_its_line(tmp_path, classifiers) -> None:
    path, text = rates_file(tmp_path, rate(), rate("2024-01", municipality="99"))
    errors = rejected(lambda: parse_rates(path, classifiers))
    assert [e.line for e in errors] == [line_of(text, "<municipalityCode>99")]
    assert "not a known municipality code" in errors[0].message and "2026.3" in errors[0].message


def test_duplicate_month_for_a_municipality_is_rejected_with_its_line(tmp_path, classifiers) -> None:
    path, text = rates_file(
        tmp_path, rate(), rate("2024-04", "25.00", municipality=VILNIUS), rate("2024-04", "26.00", municipality=VILNIUS)
    )
    errors = rejected(lambda: parse_rates(path, classifiers))
    assert [e.line for e in errors] == [line_of(text, "<effectiveFrom>2024-04", occurrence=2)]
    assert "municipality 13 from 2024-04" in errors[0].message
    assert f"first at line {line_of(text, '<effectiveFrom>2024-04')}" in errors[0].message


def test_duplicate_month_of_general_rates_is_rejected(tmp_path, classifiers) -> None:
    path, text = rates_file(tmp_path, rate(), rate("2022-03", "20.00"), rate("2015-10", "16.00"))
    errors = rejected(lambda: parse_rates(path, classifiers))
    assert [e.line for e in errors] == [line_of(text, "<effectiveFrom>2015-10", occurrence=2)]
    assert "every municipality" in errors[0].message


@pytest.mark.parametrize(
    ("record", "fragment", "facet"),
    [
        (rate("2024-01", "-5.00"), "<monthlyAmount>-5.00", "minExclusive"),
        (rate("2024-01", "0"), "<monthlyAmount>0<", "minExclusive"),
        (rate("2024-01", "1000.01"), "<monthlyAmount>1000.01", "maxInclusive"),
        (rate("2024-01", "15.005"), "<monthlyAmount>15.005", "fractionDigits"),
        (rate("2024-01", "fifteen"), "<monthlyAmount>fifteen", "atomic type 'Amount'"),
        (rate("2024-01", priority="0.999"), "<priorityFactor>0.999", "minInclusive"),
        (rate("2024-01", special_needs="0.5"), "<specialNeedsFactor>0.5", "minInclusive"),
        (rate("2024-01", special_needs="10.5"), "<specialNeedsFactor>10.5", "maxInclusive"),
        (rate("2024-01", priority="1.3333"), "<priorityFactor>1.3333", "fractionDigits"),
        (rate("2026-13"), "<effectiveFrom>2026-13", "pattern"),
        (rate("2026-1"), "<effectiveFrom>2026-1<", "pattern"),
        (rate("2024-01", municipality="Vilnius miestas"), "<municipalityCode>Vilnius", "pattern"),
    ],
)
def test_schema_invalid_values_are_rejected_with_their_line(tmp_path, classifiers, record, fragment, facet) -> None:
    path, text = rates_file(tmp_path, rate(), record)
    errors = rejected(lambda: parse_rates(path, classifiers))
    assert [e.line for e in errors] == [line_of(text, fragment)], errors
    assert "not valid against basket-rates-v1.xsd" in errors[0].message
    assert facet in errors[0].message
    assert "urn:lt" not in errors[0].message  # namespace noise is cleaned away


def test_missing_version_is_rejected(tmp_path, classifiers) -> None:
    path, text = rates_file(tmp_path, rate())
    path.write_text(text.replace("  <version>test.1</version>\n", ""))
    errors = rejected(lambda: parse_rates(path, classifiers))
    assert len(errors) == 1 and "version" in errors[0].message


def test_doctype_is_refused(tmp_path, classifiers) -> None:
    prolog = '<!DOCTYPE basketRates [\n  <!ENTITY big "15.00">\n]>\n'
    path, text = rates_file(tmp_path, rate(amount="&big;"), prolog=prolog)
    errors = rejected(lambda: parse_rates(path, classifiers))
    assert [(e.line, "DOCTYPE" in e.message) for e in errors] == [(line_of(text, "<!DOCTYPE"), True)]


def test_malformed_xml_is_rejected_with_its_line(tmp_path, classifiers) -> None:
    path, text = rates_file(tmp_path, rate(), rate("2022-03", "20.00").replace("</monthlyAmount>", "</monthlyAmnt>"))
    errors = rejected(lambda: parse_rates(path, classifiers))
    assert errors[0].line == line_of(text, "</monthlyAmnt>")
    assert "not well-formed" in errors[0].message


def test_a_file_without_a_general_rate_is_rejected(tmp_path, classifiers) -> None:
    path, text = rates_file(tmp_path, rate(municipality=VILNIUS), rate("2024-04", municipality=KAUNAS))
    errors = rejected(lambda: parse_rates(path, classifiers))
    assert [e.line for e in errors] == [line_of(text, "<basketRates")]
    assert "no general rate" in errors[0].message


def test_a_file_without_any_rate_is_schema_invalid_only(tmp_path, classifiers) -> None:
    path, text = rates_file(tmp_path)
    errors = rejected(lambda: parse_rates(path, classifiers))
    assert [e.line for e in errors] == [line_of(text, "<basketRates")]  # no "no general rate" on top
    assert "Missing child element" in errors[0].message and "rate" in errors[0].message


def test_wrong_root_element_is_schema_invalid(tmp_path, classifiers) -> None:
    path, text = rates_file(tmp_path, rate())
    path.write_text(text.replace("urn:lt:mokiniu-registras:basket-rates:v1", "urn:lt:smir:institutions:v1"))
    errors = rejected(lambda: parse_rates(path, classifiers))
    assert [e.line for e in errors] == [line_of(text, "<basketRates")]


def test_missing_file_is_an_import_problem(tmp_path, classifiers) -> None:
    errors = rejected(lambda: parse_rates(tmp_path / "none.xml", classifiers))
    assert errors[0].line is None and "cannot read" in errors[0].message


def test_several_problems_are_all_reported_in_line_order(tmp_path, classifiers) -> None:
    path, text = rates_file(
        tmp_path,
        rate(municipality=VILNIUS),
        rate("2024-01", municipality="99"),  # unknown municipality
        rate("2024-02", "-1.00", municipality=KAUNAS),  # negative amount
        rate("2026-13", municipality=KAUNAS),  # bad month
        rate("2015-10", "16.00", municipality=VILNIUS),  # duplicate month
        rate("2024-03", municipality=KAUNAS, special_needs="0.9"),  # factor below 1
    )  # and no general rate
    errors = rejected(lambda: parse_rates(path, classifiers))
    assert [e.line for e in errors] == [
        line_of(text, "<basketRates"),
        line_of(text, "<municipalityCode>99"),
        line_of(text, "<monthlyAmount>-1.00"),
        line_of(text, "<effectiveFrom>2026-13"),
        line_of(text, "<effectiveFrom>2015-10", occurrence=2),
        line_of(text, "<specialNeedsFactor>0.9"),
    ]
    with pytest.raises(ImportFileInvalid) as caught:
        parse_rates(path, classifiers)
    assert str(caught.value).splitlines() == [f"line {e.line}: {e.message}" for e in errors]


def test_a_schema_invalid_municipality_code_does_not_count_as_a_general_rate(tmp_path, classifiers) -> None:
    path, text = rates_file(tmp_path, rate(municipality="Vilnius miestas"))
    errors = rejected(lambda: parse_rates(path, classifiers))
    assert [e.line for e in errors] == [line_of(text, "<basketRates"), line_of(text, "<municipalityCode>")]
    assert "no general rate" in errors[0].message and "pattern" in errors[1].message


# --- the rule documented in data/rates/README.md ---------------------------------------------
def test_a_later_general_rate_supersedes_an_earlier_municipal_one(tmp_path, classifiers) -> None:
    """A municipality keeping its own rate must restate it when a new general rate comes in."""
    path, _ = rates_file(tmp_path, rate(), rate("2024-04", "25.00", municipality=VILNIUS), rate("2027-01", "22.00"))
    _, rates = parse_rates(path, classifiers)
    assert rate_in_force(rates, VILNIUS, Month(2026, 12)).monthly_amount == Decimal("25")
    assert rate_in_force(rates, VILNIUS, Month(2027, 1)).monthly_amount == Decimal("22")
    path, _ = rates_file(
        tmp_path,
        rate(),
        rate("2024-04", "25.00", municipality=VILNIUS),
        rate("2027-01", "22.00"),
        rate("2027-01", "25.00", municipality=VILNIUS),  # restated: on the same month its own rate wins
    )
    _, rates = parse_rates(path, classifiers)
    assert rate_in_force(rates, VILNIUS, Month(2027, 1)).monthly_amount == Decimal("25")
    assert rate_in_force(rates, KAUNAS, Month(2027, 1)).monthly_amount == Decimal("22")
