"""The access log of personal data: append a record for every call that reads or changes a
person's data (refused calls too), answer "who accessed this child's data, when and why",
and remove records past the retention period.

A record is written in a transaction of its own, so that it is kept when the request's
own transaction rolls back. There is no use case that changes or deletes a record, but
``purge`` (retention).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from gateway.clock import VILNIUS, Clock  # dates in a question are Lithuanian calendar days
from gateway.domain.access import Caller
from gateway.domain.errors import AccessDenied, InvalidCursor, InvalidPeriod
from gateway.domain.personal_code import PersonalCode
from gateway.ports import AccessRecord, UnitOfWork

MAX_PAGE_SIZE = 100


@dataclass(frozen=True)
class AccessLogPage:
    total: int
    page: int
    records: list[AccessRecord]
    next_cursor: str | None = None  # where the older records go on, when there are more


def _cursor(record_id: int) -> str:
    """A position in the log (the id of the last record returned): no personal data in it."""
    return f"before-{record_id}"


def _record_id(cursor: str) -> int:
    return record_id_of(cursor, "GetAccessLog")


def cursor_of(record_id: int) -> str:
    return _cursor(record_id)


def record_id_of(cursor: str, operation: str) -> int:
    """The record a cursor of ``operation`` points after (GetAccessLog's, GetDataAccessHistory's)."""
    prefix, _, number = cursor.partition("-")
    if prefix != "before" or not number.isdigit() or not 0 < int(number) <= 2**63 - 1:
        raise InvalidCursor(
            f"The cursor is not one {operation} returned: send its nextCursor unchanged, or none for the first page."
        )
    return int(number)


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
        self,
        caller: Caller,
        personal_code: str,
        date_from: dt.date,
        date_to: dt.date,
        page: int = 1,
        page_size: int = 50,
        cursor: str | None = None,
    ) -> AccessLogPage:
        """Who read or changed this person's data between two days (inclusive), newest first.

        Paged by a cursor (the records older than the last one returned), so that records written
        meanwhile, this very question among them, never shift a later page. ``page`` (by number,
        before contract 1.5) still works when no cursor is sent."""
        if not caller.central:
            raise AccessDenied("The access log is read by central administrators.")
        code = PersonalCode.parse(personal_code)
        if date_to < date_from:
            raise InvalidPeriod()
        # Lithuanian days, as instants in UTC: records are stored in UTC, and SQLite compares without a zone.
        since = dt.datetime.combine(date_from, dt.time(), VILNIUS).astimezone(dt.UTC)
        before = dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time(), VILNIUS).astimezone(dt.UTC)
        size = max(1, min(page_size, MAX_PAGE_SIZE))
        older_than = _record_id(cursor) if cursor is not None else None
        offset = 0 if older_than is not None else (page - 1) * size
        with self.uow_factory() as uow:
            total, newer, records = uow.access_log.of_person(
                code.value, since, before, offset=offset, limit=size + 1, older_than=older_than
            )
        more = len(records) > size
        records = records[:size]
        number = newer // size + 1 if older_than is not None else page
        return AccessLogPage(
            total=total,
            page=number,
            records=records,
            next_cursor=_cursor(records[-1].id) if more and records[-1].id else None,
        )

    def purge(self, retention_days: int) -> PurgeSummary:
        cutoff = self.clock.now() - dt.timedelta(days=retention_days)
        with self.uow_factory() as uow:
            records, persons = uow.access_log.purge(cutoff)
            remaining = uow.access_log.count()
            uow.commit()
        return PurgeSummary(cutoff=cutoff, records=records, persons=persons, remaining=remaining)
