"""Parser of the NVŠ basket rates file (``data/rates/basket-rates.xml``).

Format: ``xsd/basket-rates-v1.xsd``; the rule for which rate is in force is
``gateway.domain.funding.rate_in_force`` (see ``data/rates/README.md``). Like the
ŠMIR and NŠPR imports (``gateway.imports``, whose reading helpers this reuses), a
file is accepted whole or rejected whole: every problem (not well-formed, a
DOCTYPE, schema errors, unknown municipality codes, two rates for the same
municipality and month, no general rate) is collected with its line number and
raised together as :class:`~gateway.imports.ImportFileInvalid`.

Storing the result (replacing every stored rate) is the caller's job.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from gateway.config import FILES_ROOT
from gateway.domain import classifiers as cls
from gateway.domain.calendar import Month
from gateway.domain.classifiers import Classifiers
from gateway.domain.errors import InvalidMonth
from gateway.domain.funding import BasketRate
from gateway.imports import XSD_DIR, Problems, RecordFields, check_code, iter_records, load_validated

RATES_FILE = FILES_ROOT / "data" / "rates" / "basket-rates.xml"
RATES_XSD = XSD_DIR / "basket-rates-v1.xsd"
RATES_NS = "urn:lt:mokiniu-registras:basket-rates:v1"

_CENT = Decimal("0.01")
_ONE = Decimal("1")


def parse_rates(
    path: Path | str,
    classifiers: Classifiers,
    progress: Callable[[int], None] | None = None,
) -> tuple[str, list[BasketRate]]:
    """Parse a basket rates file into (version, rates in file order).

    Raises :class:`~gateway.imports.ImportFileInvalid` listing every problem.
    """
    problems = Problems()
    root, invalid = load_validated(Path(path), RATES_XSD, problems)
    header = RecordFields(root, RATES_NS, invalid)
    version = header.text("version")
    seen: dict[tuple[str | None, Month], int] = {}
    general = False
    result: list[BasketRate] = []
    any_rate = False
    for record in iter_records(root, RATES_NS, "rate", progress, container="basketRates"):
        any_rate = True
        fields = RecordFields(record, RATES_NS, invalid)
        # fields leaves out schema-invalid elements: a general rate is one really without the element
        has_municipality = record.find(f"{{{RATES_NS}}}municipalityCode") is not None
        municipality = fields.text("municipalityCode")
        general = general or not has_municipality
        check_code(fields, "municipalityCode", cls.MUNICIPALITY, classifiers, classifiers.version, problems)
        effective_from = _month(fields, problems)
        if effective_from is not None and (municipality is not None or not has_municipality):
            key = (municipality, effective_from)
            line = fields.line("effectiveFrom") or record.sourceline
            if key in seen:
                whose = f"municipality {municipality}" if municipality is not None else "every municipality (general)"
                problems.add(
                    line,
                    f"a second rate for {whose} from {effective_from} (first at line {seen[key]}); "
                    "a municipality and month may have one rate only",
                )
            else:
                seen[key] = line or 0
        amount = _decimal(fields, "monthlyAmount")
        if problems or amount is None or effective_from is None:
            continue  # the file is rejected anyway: keep looking for problems, build nothing
        result.append(
            BasketRate(
                municipality_code=municipality,
                effective_from=effective_from,
                monthly_amount=amount.quantize(_CENT),
                priority_factor=_factor(fields, "priorityFactor"),
                special_needs_factor=_factor(fields, "specialNeedsFactor"),
            )
        )
    if any_rate and not general:  # (no rate at all, or a wrong root, is a schema error already)
        problems.add(
            root.sourceline,
            "no general rate (a rate without municipalityCode): every municipality needs a rate from some month; "
            "add one for all municipalities",
        )
    problems.raise_if_any()
    assert version is not None  # required by the schema, which passed
    return version, result


def _month(fields: RecordFields, problems: Problems) -> Month | None:
    value = fields.text("effectiveFrom")
    if value is None:
        return None  # missing or schema-invalid: already reported
    try:
        return Month.parse(value)
    except InvalidMonth:  # the schema's pattern makes this unreachable in practice
        problems.add(fields.line("effectiveFrom"), f"effectiveFrom '{value}' is not a month written YYYY-MM")
        return None


def _decimal(fields: RecordFields, name: str) -> Decimal | None:
    value = fields.text(name)
    return None if value is None else Decimal(value)  # xs:decimal, checked by the schema


def _factor(fields: RecordFields, name: str) -> Decimal:
    value = _decimal(fields, name)
    return _ONE if value is None else value  # absent: no multiplier
