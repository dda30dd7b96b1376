"""Notices (pranešimai): raising them inside other use cases' transactions, listing and acknowledging.

Who is told what is decided in ``gateway.domain.notices``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from gateway.clock import Clock
from gateway.domain import classifiers as cls
from gateway.domain import notices as rules
from gateway.domain.calendar import Month
from gateway.domain.errors import NoticeNotFound
from gateway.domain.funding import BasketPolicy, FundingChange, FundingMark, is_basket
from gateway.domain.model import Registration
from gateway.domain.notices import Notice, NoticeKind, NoticePage, NoticeState
from gateway.ports import UnitOfWork

if TYPE_CHECKING:
    from gateway.domain.access import Caller

_PAGE_TOKEN = re.compile(r"([01])\.([0-9]{1,18})")


def raise_notice(uow: UnitOfWork, notice: Notice) -> bool:
    """Store the notice in the unit of work; False when its dedup key was already raised."""
    return uow.notices.add(notice)


def released_basket_months(
    before: list[FundingMark], change: FundingChange, classifiers: cls.Classifiers
) -> list[Month]:
    """The basket months a funding change frees: months of basket marks that are gone or no longer covered."""
    old = {m.id: m for m in before}
    released: set[Month] = set()
    for mark in change.removed:
        if is_basket(mark.funding_type, classifiers):
            released.update(old.get(mark.id, mark).months)
    for mark in change.narrowed:
        if is_basket(mark.funding_type, classifiers) and mark.id in old:
            released.update(set(old[mark.id].months) - set(mark.months))
    return sorted(released)


def basket_months_released(
    uow: UnitOfWork, registration: Registration, released: list[Month], *, policy: BasketPolicy, at: dt.datetime
) -> int:
    """Tell the other providers whose registration of the child could claim the released months. Returns how many were told."""
    if not released:
        return 0
    person = uow.persons.get(registration.personal_code)
    if person is None:
        return 0
    candidates = []
    for other in uow.checks.registrations_of([registration.personal_code]):
        if other.id == registration.id or not other.is_active:
            continue
        group = uow.groups.get(other.group_id)
        program = uow.programs.get(group.program_code) if group else None
        provider = uow.institutions.get(other.provider_code)
        if group is not None and program is not None and provider is not None:
            candidates.append(rules.BasketCandidate(other, group, program, provider))
    notices = rules.basket_release_notices(
        released, registration, candidates, person, uow.classifiers.load(), policy, at
    )
    return sum(raise_notice(uow, notice) for notice in notices)


def _parse_token(token: str | None) -> tuple[bool, int] | None:
    if not token:
        return None
    match = _PAGE_TOKEN.fullmatch(token)
    if match is None:  # the schema lets only this shape through
        return None
    return match[1] == "1", int(match[2])


class Notices:
    """ListNotices and AcknowledgeNotice for the caller's institution."""

    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        *,
        clock: Clock,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock = clock

    def list_notices(
        self,
        caller: Caller,
        *,
        state: str | None = None,
        kind: str | None = None,
        page_token: str | None = None,
        limit: int | None = None,
    ) -> NoticePage:
        """Unacknowledged first, newest first within each; ``next_page_token`` continues after the last one."""
        limit = rules.check_limit(limit)
        with self.uow_factory() as uow:
            institution = caller.acting_institution()  # ListNotices is an institution's own work list
            notices = uow.notices.page(
                institution,
                NoticeState(state) if state else NoticeState.ALL,
                NoticeKind(kind) if kind else None,
                _parse_token(page_token),
                limit + 1,
            )
            unacknowledged = uow.notices.count_unacknowledged(institution)
        more = len(notices) > limit
        notices = notices[:limit]
        token = None
        if more:
            last = notices[-1]
            token = f"{int(last.acknowledged)}.{last.id}"
        return NoticePage(notices=notices, unacknowledged=unacknowledged, next_page_token=token)

    def acknowledge(self, caller: Caller, notice_ids: list[int]) -> list[Notice]:
        """Mark the caller's notices as seen (again: no change). Another institution's notice is not found."""
        with self.uow_factory() as uow:
            for index, notice_id in enumerate(notice_ids):
                notice = uow.notices.get(notice_id)
                if notice is None or notice.institution_code != caller.institution_code:
                    raise NoticeNotFound(field=f"noticeId[{index + 1}]" if len(notice_ids) > 1 else "noticeId")
            acknowledged = [
                uow.notices.acknowledge(i, at=self.clock.now(), by=caller.username) for i in dict.fromkeys(notice_ids)
            ]
            uow.commit()
            return acknowledged
