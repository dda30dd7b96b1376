"""Notices in SQLite and PostgreSQL: raised once per dedup key (one statement decides), listed
unacknowledged first and newest first a page at a time, acknowledged."""

from __future__ import annotations

import datetime as dt

from gateway.clock import FixedClock
from gateway.domain.calendar import Month
from gateway.domain.notices import Notice, NoticeKind
from gateway.domain.personal_code import PersonalCode
from gateway.notices import Notices
from gateway.services import Caller
from tests.e2e.helpers import child_code

NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
SCHOOL = Caller(user_id=0, username="school", institution_code="300000011")


def test_a_notice_with_a_dedup_key_is_stored_once_per_institution(database) -> None:
    notice = Notice(
        "300000011",
        NoticeKind.PERSON_DECEASED,
        NOW,
        "x",
        PersonalCode(child_code(dt.date(2015, 1, 2), 5)),
        registration_id=7,
        months=(Month(2026, 11),),
        dedup_key="PERSON_DECEASED:7:2024-02-11",
    )
    with database.uow_factory() as uow:
        assert uow.notices.add(notice) is True
        assert uow.notices.add(notice) is False
        assert (
            uow.notices.add(Notice("300000012", NoticeKind.PERSON_DECEASED, NOW, "x", dedup_key=notice.dedup_key))
            is True
        )
        assert uow.notices.add(Notice("300000011", NoticeKind.BASKET_MONTHS_RELEASED, NOW, "y")) is True
        assert (
            uow.notices.add(Notice("300000011", NoticeKind.BASKET_MONTHS_RELEASED, NOW, "y")) is True
        )  # no key: every time
        uow.commit()
    assert database.count("notice") == 4
    [stored] = Notices(database.uow_factory, clock=FixedClock(NOW)).list_notices(SCHOOL, kind="PERSON_DECEASED").notices
    assert (stored.personal_code, stored.registration_id, stored.months) == (
        notice.personal_code,
        7,
        (Month(2026, 11),),
    )
    assert stored.created_at == NOW


def test_notices_are_paged_unacknowledged_first_then_newest_first(database) -> None:
    with database.uow_factory() as uow:
        for n in range(7):
            uow.notices.add(Notice("300000011", NoticeKind.DATA_ISSUE, NOW, f"Nr. {n}", dedup_key=f"k{n}"))
        uow.commit()
    service = Notices(database.uow_factory, clock=FixedClock(NOW))
    ids = [n.id for n in service.list_notices(SCHOOL, limit=500).notices]
    assert ids == sorted(ids, reverse=True)
    service.acknowledge(SCHOOL, [ids[0], ids[3]])
    seen, token = [], None
    while True:
        page = service.list_notices(SCHOOL, page_token=token, limit=3)
        assert page.unacknowledged == 5
        seen += [n.id for n in page.notices]
        token = page.next_page_token
        if token is None:
            break
    assert seen == [i for i in ids if i not in (ids[0], ids[3])] + [ids[0], ids[3]]
    assert [n.id for n in service.list_notices(SCHOOL, state="ACKNOWLEDGED").notices] == [ids[0], ids[3]]
    assert all(n.acknowledged_by == "school" for n in service.list_notices(SCHOOL, state="ACKNOWLEDGED").notices)
