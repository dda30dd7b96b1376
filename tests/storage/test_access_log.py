"""GetAccessLog's question on SQLite and PostgreSQL: Lithuanian days, newest first, a keyset cursor
that records written between page reads never shift."""

from __future__ import annotations

import datetime as dt
import itertools

from gateway.access_log import AccessLog
from gateway.clock import FixedClock
from gateway.domain.access import Caller, Scope
from gateway.ports import AccessRecord
from tests.e2e.helpers import child_code

NOW = dt.datetime(2026, 9, 20, 12, 0, tzinfo=dt.UTC)
ADMIN = Caller(user_id=1, username="admin", central=True)
CHILD = child_code(dt.date(2016, 6, 6), 61)
OTHER_CHILD = child_code(dt.date(2016, 6, 6), 62)
SEPTEMBER = (dt.date(2026, 9, 1), dt.date(2026, 9, 30))
requests = itertools.count(1)


def logged(log: AccessLog, at: dt.datetime, *codes: str) -> str:
    request_id = f"request-{next(requests)}"
    log.record(
        AccessRecord(
            at=at,
            operation="GetStudent",
            request_id=request_id,
            outcome="ok",
            username="school",
            scope=Scope.institution("300000011"),
            personal_codes=codes or (CHILD,),
        )
    )
    return request_id


def test_the_days_are_lithuanian_days(database) -> None:
    # SQLite keeps no time zone: the bounds must be compared in UTC, as the records are stored.
    log = AccessLog(database.uow_factory, clock=FixedClock(NOW))
    logged(log, dt.datetime(2026, 8, 31, 20, 30, tzinfo=dt.UTC))  # 23:30 on 31 August in Vilnius
    first = logged(log, dt.datetime(2026, 8, 31, 21, 30, tzinfo=dt.UTC))  # 00:30 on 1 September
    last = logged(log, dt.datetime(2026, 9, 30, 20, 30, tzinfo=dt.UTC))  # 23:30 on 30 September
    logged(log, dt.datetime(2026, 9, 30, 21, 30, tzinfo=dt.UTC))  # 00:30 on 1 October
    assert [r.request_id for r in log.who_accessed(ADMIN, CHILD, *SEPTEMBER).records] == [last, first]


def test_every_record_comes_once_while_newer_ones_are_written_between_pages(database) -> None:
    log = AccessLog(database.uow_factory, clock=FixedClock(NOW))
    there = [logged(log, NOW - dt.timedelta(hours=13 - h)) for h in range(13)]
    logged(log, NOW, OTHER_CHILD)
    later = itertools.count(1)
    seen, cursor, pages = [], None, []
    while True:
        page = log.who_accessed(ADMIN, CHILD, *SEPTEMBER, page_size=5, cursor=cursor)
        pages.append(page.page)
        seen += [r.request_id for r in page.records]
        logged(log, NOW + dt.timedelta(seconds=next(later)))  # someone reads the child meanwhile
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == list(reversed(there))
    assert pages == [1, 2, 3]


def test_the_last_page_has_no_cursor_and_an_empty_log_one_empty_page(database) -> None:
    log = AccessLog(database.uow_factory, clock=FixedClock(NOW))
    empty = log.who_accessed(ADMIN, CHILD, *SEPTEMBER)
    assert (empty.total, empty.page, empty.records, empty.next_cursor) == (0, 1, [], None)
    for hours in (4, 3, 2, 1):
        logged(log, NOW - dt.timedelta(hours=hours))
    exactly = log.who_accessed(ADMIN, CHILD, *SEPTEMBER, page_size=4)
    assert len(exactly.records) == 4 and exactly.next_cursor is None
    first = log.who_accessed(ADMIN, CHILD, *SEPTEMBER, page_size=2)
    last = log.who_accessed(ADMIN, CHILD, *SEPTEMBER, page_size=2, cursor=first.next_cursor)
    assert (last.page, len(last.records), last.next_cursor) == (2, 2, None)


def test_records_are_written_at_the_commit_and_a_savepoint_undone_takes_its_own_back(database) -> None:
    """Access-log records are queued and written with the transaction's change events at its commit; as
    the events, those queued in a savepoint that is undone go with it, and a rollback takes them all."""

    def record(request_id: str) -> AccessRecord:
        return AccessRecord(
            at=NOW,
            operation="GetStudent",
            request_id=request_id,
            outcome="ok",
            username="school",
            scope=Scope.institution("300000011"),
            personal_codes=(CHILD,),
        )

    with database.uow_factory() as uow:
        uow.access_log.append(record("kept"))
        with uow.savepoint() as undone:
            uow.access_log.append(record("undone"))
            undone.discard()
        try:
            with uow.savepoint():
                uow.access_log.append(record("failed"))
                raise LookupError("the savepoint's work fails")
        except LookupError:
            pass
        with uow.savepoint():
            uow.access_log.append(record("kept too"))
        uow.commit()
    with database.uow_factory() as uow:
        uow.access_log.append(record("rolled back"))
        uow.rollback()
    written = AccessLog(database.uow_factory, clock=FixedClock(NOW)).who_accessed(ADMIN, CHILD, *SEPTEMBER).records
    assert sorted(r.request_id for r in written) == ["kept", "kept too"]
