"""The change feed (pakeitimų srautas): every change of the register as an event.

Each event carries the state AFTER the change with its natural keys (institution,
personal code, group id and name, program, school year, dates, funding type and
months), so that a follower can keep a copy by applying events in sequence order:

* a registration event (REGISTERED, CORRECTED, DEREGISTERED) replaces the copy's
  registration with ``registration``; CANCELLED is its tombstone: the registration
  was entered by mistake and leaves the copy (its record stays in the register,
  invalidated, as rules.md says);
* a funding event (FUNDING_MARKED, FUNDING_ENDED) replaces the copy's funding mark
  with ``funding`` (ENDED: the mark now covers fewer months); FUNDING_REMOVED is the
  mark's tombstone. Funding events also carry the registration's state;
* club attendance (CLUB_ATTENDANCE_MARKED, CLUB_ATTENDANCE_ENDED) is recorded by a
  general-education school for its pupil;
* PERSON_ERASED is the tombstone of a learner's personal data past its retention
  (gateway/domain/retention.py): its ``personal_code`` is the pseudonym that replaced the code,
  in the earlier events too, and ``erasure`` names the institution's registrations and club
  marks of the learner, for a follower to erase the personal data it copied with them.

Sequence numbers are assigned when the change commits (``storage`` explains how they
stay gapless and in commit order); the domain only says what an event holds.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from gateway.domain.calendar import Month
from gateway.domain.funding import FundingMark
from gateway.domain.model import Contract, Departure, Group, Registration
from gateway.domain.personal_code import PersonalCode

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


class ChangeKind(enum.StrEnum):
    REGISTERED = "REGISTERED"
    CORRECTED = "CORRECTED"
    CANCELLED = "CANCELLED"  # tombstone of a registration
    DEREGISTERED = "DEREGISTERED"
    FUNDING_MARKED = "FUNDING_MARKED"
    FUNDING_ENDED = "FUNDING_ENDED"  # the mark now covers fewer months
    FUNDING_REMOVED = "FUNDING_REMOVED"  # tombstone of a funding mark
    CLUB_ATTENDANCE_MARKED = "CLUB_ATTENDANCE_MARKED"
    CLUB_ATTENDANCE_ENDED = "CLUB_ATTENDANCE_ENDED"
    PERSON_ERASED = "PERSON_ERASED"  # tombstone of a learner's personal data (retention)


REGISTRATION_KINDS = frozenset(
    {ChangeKind.REGISTERED, ChangeKind.CORRECTED, ChangeKind.CANCELLED, ChangeKind.DEREGISTERED}
)
FUNDING_KINDS = frozenset({ChangeKind.FUNDING_MARKED, ChangeKind.FUNDING_ENDED, ChangeKind.FUNDING_REMOVED})
CLUB_KINDS = frozenset({ChangeKind.CLUB_ATTENDANCE_MARKED, ChangeKind.CLUB_ATTENDANCE_ENDED})


@dataclass(frozen=True)
class RegistrationState:
    """A registration as it is after the change, with its group's natural keys."""

    registration_id: int
    status: str
    group_id: int
    group_name: str
    school_year: str
    program_code: str
    first_learning_date: dt.date
    registered_on: dt.date
    contract: Contract | None = None
    departure: Departure | None = None
    cancelled_on: dt.date | None = None

    @classmethod
    def of(cls, registration: Registration, group: Group) -> RegistrationState:
        assert registration.id is not None and group.id is not None
        return cls(
            registration_id=registration.id,
            status=registration.status.value,
            group_id=group.id,
            group_name=group.name,
            school_year=str(group.school_year),
            program_code=group.program_code,
            first_learning_date=registration.first_learning_date,
            registered_on=registration.registered_on,
            contract=registration.contract,
            departure=registration.departure,
            cancelled_on=registration.cancelled_on,
        )


@dataclass(frozen=True)
class FundingState:
    """A funding mark as it is after the change (for FUNDING_REMOVED: as it was)."""

    mark_id: int
    registration_id: int
    funding_type: str
    from_month: Month
    to_month: Month
    special_needs: bool = False

    @classmethod
    def of(cls, mark: FundingMark) -> FundingState:
        assert mark.id is not None
        return cls(mark.id, mark.registration_id, mark.funding_type, mark.from_month, mark.to_month, mark.special_needs)


@dataclass(frozen=True)
class ClubAttendanceState:
    """A general-education school's mark that its pupil attends NVŠ lessons (clubs)."""

    attendance_id: int
    school_year: str
    direction_codes: tuple[str, ...] = ()
    sub_direction_codes: tuple[str, ...] = ()
    ended_on: dt.date | None = None


@dataclass(frozen=True)
class ErasureState:
    """Whose personal data a PERSON_ERASED event erased: the learner's records at the event's institution."""

    registration_ids: tuple[int, ...] = ()
    club_attendance_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ChangeEvent:
    kind: ChangeKind
    institution_code: str
    personal_code: PersonalCode
    occurred_at: dt.datetime
    registration: RegistrationState | None = None
    funding: FundingState | None = None
    club_attendance: ClubAttendanceState | None = None
    erasure: ErasureState | None = None
    # The institution's municipality when the change happened: municipality scopes read by it.
    municipality_code: str | None = None
    # Assigned when the change commits; None before.
    sequence: int | None = None

    def __post_init__(self) -> None:
        if self.kind in REGISTRATION_KINDS and self.registration is None:
            raise ValueError(f"{self.kind} needs the registration's state")
        if self.kind in FUNDING_KINDS and self.funding is None:
            raise ValueError(f"{self.kind} needs the funding mark's state")
        if self.kind in CLUB_KINDS and self.club_attendance is None:
            raise ValueError(f"{self.kind} needs the club attendance's state")
        if self.kind is ChangeKind.PERSON_ERASED and (self.erasure is None or not self.personal_code.is_pseudonym):
            raise ValueError("PERSON_ERASED needs what was erased, under the learner's pseudonym")


@dataclass(frozen=True)
class ChangesPage:
    """Events after a cursor. ``last_sequence`` is the cursor for the next call: the last
    event's sequence, or the cursor sent when there was nothing new."""

    events: list[ChangeEvent]
    last_sequence: int
    more: bool


def check_limit(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_LIMIT
    return max(1, min(limit, MAX_LIMIT))
