"""The access log of personal data: append a record for every call that reads or changes a
person's data (refused calls too), answer "who accessed this child's data, when and why",
and remove records past the retention period.

A record is written in a transaction of its own, so that it is kept when the request's
own transaction rolls back. There is no use case that changes or deletes a record, but
``purge`` (retention).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from gateway.clock import VILNIUS, Clock  # dates in a question are Lithuanian calendar days
from gateway.domain.access import Caller
from gateway.domain.errors import AccessDenied, InvalidPeriod
from gateway.ports import AccessRecord, UnitOfWork
from gateway.domain.personal_code import PersonalCode

MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class AccessLogPage:
    total: int
    page: int
    records: list[AccessRecord]


@dataclass(frozen=True)
class PurgeSummary:
    cutoff: dt.datetime
    records: int
    persons: int
    remaining: int

    def __str__(self) -> str:
        return (
            f"removed {self.records} access log record(s) ({self.persons} person entries) older than "
            f"{self.cutoff:%Y-%m-%d %H:%M} UTC; {self.remaining} record(s) remain"
        )


class AccessLog:
    def __init__(self, uow_factory: Callable[[], UnitOfWork], *, clock: Clock) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    def record(self, record: AccessRecord) -> None:
        with self.uow_factory() as uow:
            uow.access_log.append(record)
            uow.commit()

    def who_accessed(
        self, caller: Caller, personal_code: str, date_from: dt.date, date_to: dt.date, page: int = 1, page_size: int = 50
    ) -> AccessLogPage:
        """Who read or changed this person's data between two days (inclusive), newest first."""
        if not caller.central:
            raise AccessDenied("The access log is read by central administrators.")
        code = PersonalCode.parse(personal_code)
        if date_to < date_from:
            raise InvalidPeriod()
        since = dt.datetime.combine(date_from, dt.time(), VILNIUS)
        before = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), VILNIUS)
        size = max(1, min(page_size, MAX_PAGE_SIZE))
        with self.uow_factory() as uow:
            total, records = uow.access_log.of_person(code.value, since, before, offset=(page - 1) * size, limit=size)
        return AccessLogPage(total=total, page=page, records=records)

    def purge(self, retention_days: int) -> PurgeSummary:
        cutoff = self.clock.now() - dt.timedelta(days=retention_days)
        with self.uow_factory() as uow:
            records, persons = uow.access_log.purge(cutoff)
            remaining = uow.access_log.count()
            uow.commit()
        return PurgeSummary(cutoff=cutoff, records=records, persons=persons, remaining=remaining)
