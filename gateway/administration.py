"""Operator use cases: reference data, ŠMIR/NŠPR imports, users. Each is one transaction.

Parsing and checking the files is ``gateway.imports``; this stores what passed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable

from gateway.domain.classifiers import ClassifierEntry
from gateway.domain.funding import BasketRate
from gateway.domain.model import Institution, Program
from gateway.imports import ImportSummary
from gateway.ports import UnitOfWork
from gateway.rates import parse_rates


class UnknownProviders(Exception):
    """Programs whose provider is not in ŠMIR (not imported): the file is refused whole."""

    def __init__(self, program_codes: list[str]) -> None:
        self.program_codes = program_codes
        super().__init__(
            f"{len(program_codes)} program(s) name a provider that is not imported from ŠMIR: "
            + ", ".join(program_codes[:20])
            + (" ..." if len(program_codes) > 20 else "")
        )


def load_reference_data(uow_factory: Callable[[], UnitOfWork], version: str, entries: list[ClassifierEntry]) -> bool:
    """Replace the classifiers when the data file's version differs from the stored one."""
    with uow_factory() as uow:
        if uow.classifiers.version() == version:
            return False
        uow.classifiers.replace_all(entries, version)
        uow.commit()
        return True


def import_institutions(
    uow_factory: Callable[[], UnitOfWork],
    institutions: Iterable[Institution],
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    outcomes: Counter[str] = Counter()
    with uow_factory() as uow:
        for index, institution in enumerate(institutions, 1):
            outcomes[uow.institutions.upsert(institution)] += 1
            if progress and index % 500 == 0:
                progress(index)
        uow.commit()
    if progress:
        progress(sum(outcomes.values()))
    return ImportSummary(outcomes["created"], outcomes["updated"], outcomes["unchanged"])


def import_programs(
    uow_factory: Callable[[], UnitOfWork], programs: list[Program], progress: Callable[[int], None] | None = None
) -> ImportSummary:
    outcomes: Counter[str] = Counter()
    with uow_factory() as uow:
        known = uow.programs.existing_providers(p.provider_code for p in programs)
        orphans = [p.code for p in programs if p.provider_code not in known]
        if orphans:
            raise UnknownProviders(orphans)
        for index, program in enumerate(programs, 1):
            outcomes[uow.programs.upsert(program)] += 1
            if progress and index % 500 == 0:
                progress(index)
        uow.commit()
    if progress:
        progress(sum(outcomes.values()))
    return ImportSummary(outcomes["created"], outcomes["updated"], outcomes["unchanged"])


def load_shipped_rates(uow_factory: Callable[[], UnitOfWork]) -> bool:
    """On a first install, the rates shipped in data/rates; later, rates change only by ``rates import``."""
    from gateway.rates import RATES_FILE

    with uow_factory() as uow:
        if uow.rates.version() is not None:
            return False
        version, rates = parse_rates(RATES_FILE, uow.classifiers.load())
        uow.rates.replace_all(rates, version)
        uow.commit()
        return True


def import_rates(uow_factory: Callable[[], UnitOfWork], version: str, rates: list[BasketRate]) -> int:
    """Replace every basket rate with the file's (a rates file is always complete)."""
    with uow_factory() as uow:
        uow.rates.replace_all(rates, version)
        uow.commit()
    return len(rates)
