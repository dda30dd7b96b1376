"""Use case of the REPORTS menu's statistics (GetStatistics, ``nvs-gateway report``).

What is counted and how is ``gateway.domain.statistics``'; storage counts in the database
(``StatisticsRepository``). One short read transaction per report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gateway.domain import classifiers as cls
from gateway.domain.lists import ActsFor, Scope, scope_of
from gateway.domain.model import ProgramPurpose
from gateway.domain.statistics import (
    UNKNOWN,
    Dimension,
    Period,
    Statistics,
    assemble,
    collapsed,
    dimensions_of,
    single_valued,
    spread_directions,
)
from gateway.ports import UnitOfWork

PURPOSE_NAMES = {ProgramPurpose.NVS.value: "NVŠ program", ProgramPurpose.FSPU.value: "FŠPU program"}


@dataclass(frozen=True)
class Report:
    statistics: Statistics
    names: dict[Dimension, dict[str, str]]  # the name of each code a line shows, per dimension

    def name_of(self, dimension: Dimension, code: str) -> str | None:
        return self.names.get(dimension, {}).get(code)


class StatisticsReport:
    def __init__(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        self.uow_factory = uow_factory

    def for_caller(
        self, caller: ActsFor, *, school_year: str | None, month: str | None, group_by: Iterable[str]
    ) -> Report:
        return self.of_scope(scope_of(caller), school_year=school_year, month=month, group_by=group_by)

    def of_scope(self, scope: Scope, *, school_year: str | None, month: str | None, group_by: Iterable[str]) -> Report:
        period = Period.of(school_year, month)
        dimensions = dimensions_of(group_by)
        with self.uow_factory() as uow:
            grouped = uow.statistics.measure(scope, period, dimensions)
            # Counted once more without grouping only where a row may have several keys (directions).
            single = single_valued(dimensions)
            totals = collapsed(grouped) if single else uow.statistics.measure(scope, period, ())
            program_codes = {b.program_code for b in grouped.basket} | {b.program_code for b in totals.basket}
            positions = tuple(i for i, d in enumerate(dimensions) if d is Dimension.DIRECTION)
            for position in positions:
                program_codes |= {key[position] for key in (*grouped.learners, *grouped.arrivals)}
                program_codes |= {key[position] for key, _ in grouped.departures}
                program_codes |= {b.key[position] for b in grouped.basket}
            programs = {code: p for code in program_codes - {UNKNOWN} if (p := uow.programs.get(code))}
            classifiers = uow.classifiers.load()
            statistics = assemble(
                period,
                dimensions,
                spread_directions(grouped, positions, programs),
                totals,
                rates=uow.rates.all(),
                programs=programs,
                classifiers=classifiers,
            )
            providers = {
                code
                for key, _ in statistics.lines
                for d, code in zip(dimensions, key, strict=False)
                if d is Dimension.PROVIDER
            }
            institutions = uow.institutions.get_many(providers)
        names: dict[Dimension, dict[str, str]] = {
            Dimension.MUNICIPALITY: {e.code: e.name for e in classifiers.entries(cls.MUNICIPALITY)},
            Dimension.DIRECTION: {e.code: e.name for e in classifiers.entries(cls.NVS_DIRECTION)},
            Dimension.PURPOSE: PURPOSE_NAMES,
            Dimension.PROVIDER: {code: institution.name for code, institution in institutions.items()},
        }
        return Report(statistics, {d: names[d] for d in dimensions if d in names})

    def departure_reasons(self) -> dict[str, str]:
        with self.uow_factory() as uow:
            return {e.code: e.name for e in uow.classifiers.load().entries(cls.DEPARTURE_REASON)}
