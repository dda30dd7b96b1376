"""Use cases of the lists: a page for a SOAP caller, or every row batch after batch for an export.

What each list holds, the scopes and the paging are ``gateway.domain.lists``'; storage reads
batches (``ListRepository``). A page is one short read transaction; so is every batch of an
export, which therefore never holds a lock for long (on SQLite a transaction holds the
write lock) and never holds more than one batch in memory.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from gateway.domain import classifiers as cls
from gateway.domain.calendar import Month, SchoolYear, check_plausible
from gateway.domain.lists import (
    ArrivalFilter,
    BasketFilter,
    ClubFilter,
    DateRange,
    DepartureFilter,
    LearnerFilter,
    ListFilter,
    ListName,
    ListQuery,
    Page,
    PageRequest,
    Scope,
    decode_cursor,
    page_of,
    page_size,
)
from gateway.ports import UnitOfWork

EXPORT_BATCH = 1000


@dataclass(frozen=True)
class Names:
    departure_reasons: dict[str, str]
    municipalities: dict[str, str]


# --- filters from what callers send ---------------------------------------------------
def learner_filter(school_year: str, group_id: int | None = None, program_code: str | None = None) -> LearnerFilter:
    return LearnerFilter(SchoolYear.parse(school_year), group_id, program_code)


def arrival_filter(from_date: dt.date, to_date: dt.date) -> ArrivalFilter:
    return ArrivalFilter(DateRange.of(from_date, to_date))


def departure_filter(from_date: dt.date, to_date: dt.date) -> DepartureFilter:
    return DepartureFilter(DateRange.of(from_date, to_date))


def basket_filter(month: str, institution_code: str | None = None) -> BasketFilter:
    return BasketFilter(Month.parse(month, field="month"), institution_code)


def club_filter(school_year: str, direction_code: str | None = None, active_on: dt.date | None = None) -> ClubFilter:
    return ClubFilter(
        SchoolYear.parse(school_year), direction_code, active_on and check_plausible(active_on, field="activeOn")
    )


class Lists:
    def __init__(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        self.uow_factory = uow_factory

    def page(
        self, scope: Scope, name: ListName, list_filter: ListFilter, size: int | None = None, cursor: str | None = None
    ) -> Page[Any]:
        """One page of a list, in its stable order, after the cursor's row."""
        size = page_size(size)
        after = decode_cursor(cursor, name, list_filter, scope)
        with self.uow_factory() as uow:
            self._check(uow, list_filter)
            rows = uow.lists.rows(ListQuery(name, list_filter, scope, PageRequest(size, after)), limit=size + 1)
        return page_of(rows, size, name, list_filter, scope)

    def count(self, scope: Scope, name: ListName, list_filter: ListFilter) -> int:
        with self.uow_factory() as uow:
            self._check(uow, list_filter)
            return uow.lists.count(ListQuery(name, list_filter, scope))

    def batches(
        self, scope: Scope, name: ListName, list_filter: ListFilter, batch_size: int = EXPORT_BATCH
    ) -> Iterator[list[Any]]:
        """Every row of the list, ``batch_size`` at a time, each batch read in a transaction of its own
        and continuing after the last row of the one before (the keyset of the SOAP pages)."""
        with self.uow_factory() as uow:
            self._check(uow, list_filter)
        after: tuple[Any, ...] | None = None
        while True:
            with self.uow_factory() as uow:
                rows = uow.lists.rows(
                    ListQuery(name, list_filter, scope, PageRequest(batch_size, after)), limit=batch_size
                )
            if rows:
                yield rows
            if len(rows) < batch_size:
                return
            after = rows[-1].keys(name)

    def names(self) -> Names:
        """The classifier names rows show beside their codes."""
        with self.uow_factory() as uow:
            classifiers = uow.classifiers.load()
        return Names(
            departure_reasons={e.code: e.name for e in classifiers.entries(cls.DEPARTURE_REASON)},
            municipalities={e.code: e.name for e in classifiers.entries(cls.MUNICIPALITY)},
        )

    @staticmethod
    def _check(uow: UnitOfWork, list_filter: ListFilter) -> None:
        if isinstance(list_filter, ClubFilter):
            list_filter.check(uow.classifiers.load())
