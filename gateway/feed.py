"""The change feed: recording changes inside the Registry's transactions, and GetChanges.

Recording is one call from inside a use case's unit of work, before its commit:

    feed.record_change(uow, ChangeEvent(...))             # any event
    feed.registration_changed(uow, ChangeKind.REGISTERED, registration, at=now)
    feed.funding_changed(uow, ChangeKind.FUNDING_MARKED, marks, registration, at=now)
    feed.club_attendance_changed(uow, ChangeKind.CLUB_ATTENDANCE_MARKED, ..., at=now)

The event is written, and numbered, when that unit of work commits: with the change or
not at all (storage.feed_checks.SqlFeedRepository explains the numbering).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import TYPE_CHECKING

from gateway.domain.errors import ChangeSequenceAhead
from gateway.domain.feed import (
    ChangeEvent,
    ChangeKind,
    ChangesPage,
    ClubAttendanceState,
    FundingState,
    RegistrationState,
    check_limit,
)
from gateway.domain.funding import FundingMark
from gateway.domain.model import Group, Institution, Registration
from gateway.domain.personal_code import PersonalCode
from gateway.domain.scope import ReadScope
from gateway.ports import UnitOfWork
from gateway.scope import scope_of

if TYPE_CHECKING:
    from gateway.domain.access import Caller


def record_change(uow: UnitOfWork, event: ChangeEvent) -> None:
    """Queue the event in the unit of work (with its institution's municipality, for municipality scopes)."""
    if event.municipality_code is None:
        institution = uow.institutions.get(event.institution_code)
        if institution is not None:
            event = replace(event, municipality_code=institution.municipality_code)
    uow.feed.append(event)


def _registration_state(uow: UnitOfWork, registration: Registration, group: Group | None = None) -> RegistrationState:
    group = group or uow.groups.get(registration.group_id)
    assert group is not None  # a registration's group cannot disappear (foreign key)
    return RegistrationState.of(registration, group)


def registration_changed(
    uow: UnitOfWork,
    kind: ChangeKind,
    registration: Registration,
    *,
    at: dt.datetime,
    group: Group | None = None,
    provider: Institution | None = None,
) -> None:
    """``group`` and ``provider``, when the use case has them at hand, spare reading them again."""
    record_change(
        uow,
        ChangeEvent(
            kind=kind,
            institution_code=registration.provider_code,
            personal_code=registration.personal_code,
            occurred_at=at,
            registration=_registration_state(uow, registration, group),
            municipality_code=provider.municipality_code if provider is not None else None,
        ),
    )


def funding_changed(
    uow: UnitOfWork,
    kind: ChangeKind,
    marks: Iterable[FundingMark],
    registration: Registration,
    *,
    at: dt.datetime,
    group: Group | None = None,
) -> None:
    """``group``, the registration's, when the use case has it at hand, spares reading it again."""
    marks = list(marks)
    if not marks:
        return
    state = _registration_state(uow, registration, group)
    for mark in marks:
        record_change(
            uow,
            ChangeEvent(
                kind=kind,
                institution_code=registration.provider_code,
                personal_code=registration.personal_code,
                occurred_at=at,
                registration=state,
                funding=FundingState.of(mark),
            ),
        )


def club_attendance_changed(
    uow: UnitOfWork,
    kind: ChangeKind,
    *,
    institution_code: str,
    personal_code: PersonalCode,
    attendance_id: int,
    school_year: str,
    direction_codes: Iterable[str] = (),
    sub_direction_codes: Iterable[str] = (),
    ended_on: dt.date | None = None,
    at: dt.datetime,
) -> None:
    """A general-education school marked (or ended) its pupil's attendance of NVŠ clubs."""
    record_change(
        uow,
        ChangeEvent(
            kind=kind,
            institution_code=institution_code,
            personal_code=personal_code,
            occurred_at=at,
            club_attendance=ClubAttendanceState(
                attendance_id=attendance_id,
                school_year=school_year,
                direction_codes=tuple(direction_codes),
                sub_direction_codes=tuple(sub_direction_codes),
                ended_on=ended_on,
            ),
        ),
    )


class Feed:
    """GetChanges: the events after a cursor that the caller's scope covers."""

    def __init__(self, uow_factory: Callable[[], UnitOfWork]) -> None:
        self.uow_factory = uow_factory

    def get_changes(self, caller: Caller, after: int, limit: int | None = None) -> ChangesPage:
        return self.read(scope_of(caller), after, limit)

    def read(self, scope: ReadScope, after: int, limit: int | None = None) -> ChangesPage:
        limit = check_limit(limit)
        with self.uow_factory() as uow:
            # One statement: a prefix of the sequence, up to its watermark (see SqlFeedRepository).
            events = uow.feed.read(scope, max(after, 0), limit + 1)
            if not events and after > uow.feed.last_sequence():
                # Numbers only grow, so no follower can hold this cursor from us, unless the
                # register was restored from a backup: its next changes would reuse numbers the
                # follower believes it has seen. Say so instead of answering "nothing new".
                raise ChangeSequenceAhead(
                    f"The cursor {after} is beyond the last change of the register ({uow.feed.last_sequence()}): "
                    "it belongs to another register, or this one was restored from a backup. Resynchronise from 0."
                )
        more = len(events) > limit
        events = events[:limit]
        last_sequence = events[-1].sequence if events else after
        assert last_sequence is not None, "events read from the feed are numbered"
        return ChangesPage(events=events, last_sequence=last_sequence, more=more)
