"""The register's lists (the seed's LISTS menu): what each shows, who may see which rows, and paging.

Scope
    Every list is cut to a :class:`Scope` derived from the caller by :func:`scope_of`, the one
    place that decides it. Three kinds (rules.md, Parties and Municipality scope):

    * an institution sees its own rows: the registrations with it as provider, the club marks
      it made as a school;
    * a municipality sees a child, in a school year, when that school year the child has a
      registration (not cancelled) with a provider located in the municipality, or attends a
      general-education school located in it (a formal enrolment or a club mark of the school).
      Never by declared residence alone. Limiting it to the row's school year is a
      **decision**: a coordinator sees the children of its territory now, not every record of
      a child that once attended a school there;
    * everything (the central administrator, and operators' exports without a scope option).

Paging
    Lists are read a page at a time in a stable order over keys that never change once a row
    exists (the registration id, or the departure date and id; see :data:`ORDERS`): keyset
    paging, no OFFSET. A page ends with an opaque cursor holding the last row's keys and a
    fingerprint of the list, filters and scope; the next page starts after those keys. So a
    row that exists from the first page to the last is returned exactly once, rows written
    meanwhile never shift others, and a cursor is refused with other filters or scope
    (``InvalidCursor``). Cursors carry dates and ids only: no personal data.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

from gateway.domain import classifiers as cls
from gateway.domain.calendar import Month, SchoolYear, check_plausible
from gateway.domain.classifiers import Classifiers
from gateway.domain.errors import InvalidCursor, InvalidDateRange
from gateway.domain.personal_code import PersonalCode

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500


# --- who may see what -----------------------------------------------------------
class ScopeKind(enum.StrEnum):
    INSTITUTION = "institution"
    MUNICIPALITY = "municipality"
    EVERYTHING = "everything"


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind
    code: str | None = None  # the institution's or the municipality's code

    @classmethod
    def of_institution(cls, institution_code: str) -> Scope:
        return cls(ScopeKind.INSTITUTION, institution_code)

    @classmethod
    def of_municipality(cls, municipality_code: str) -> Scope:
        return cls(ScopeKind.MUNICIPALITY, municipality_code)

    @classmethod
    def everything(cls) -> Scope:
        return cls(ScopeKind.EVERYTHING)

    def __str__(self) -> str:
        return self.kind.value if self.code is None else f"{self.kind.value} {self.code}"


class ActsFor(Protocol):
    """Whom a caller acts for; read-only, so a frozen ``Caller`` is one."""

    @property
    def institution_code(self) -> str | None: ...
    @property
    def municipality_code(self) -> str | None: ...


def scope_of(caller: ActsFor) -> Scope:
    """What a caller's lists show: an institution's user its institution; a municipality
    coordinator its municipality; a central administrator everything."""
    if caller.institution_code is not None:
        return Scope.of_institution(caller.institution_code)
    if caller.municipality_code is not None:
        return Scope.of_municipality(caller.municipality_code)
    return Scope.everything()


# --- what is listed -----------------------------------------------------------------
class ListName(enum.StrEnum):
    LEARNERS = "learners"
    ARRIVALS = "arrivals"
    DEPARTURES = "departures"
    BASKET_RECIPIENTS = "basket-recipients"
    CLUB_ATTENDANCE = "club-attendance"


# The stable order of each list (the keys of its cursor). A registration's first learning date can
# be corrected, so it is no paging key; a departure date is never changed once recorded.
ORDERS: dict[ListName, tuple[str, ...]] = {
    ListName.LEARNERS: ("registration id",),
    ListName.ARRIVALS: ("registration id",),
    ListName.DEPARTURES: ("departure date", "registration id"),
    ListName.BASKET_RECIPIENTS: ("registration id",),
    ListName.CLUB_ATTENDANCE: ("attendance id",),
}


@dataclass(frozen=True)
class DateRange:
    first: dt.date
    last: dt.date

    @classmethod
    def of(cls, first: dt.date, last: dt.date) -> DateRange:
        check_plausible(first, field="fromDate")
        check_plausible(last, field="toDate")
        if first > last:
            raise InvalidDateRange(f"The range starts {first.isoformat()}, after its end {last.isoformat()}.")
        return cls(first, last)


@dataclass(frozen=True)
class LearnerFilter:
    """Active learners of a school year, optionally of one group or one program."""

    school_year: SchoolYear
    group_id: int | None = None
    program_code: str | None = None


@dataclass(frozen=True)
class LearningFilter:
    """Registrations (not cancelled) of a school year's groups learning on some day of the range.
    No list of its own: the statistics of a month count learners by it (``gateway.domain.statistics``)."""

    school_year: SchoolYear
    learning: DateRange


@dataclass(frozen=True)
class ArrivalFilter:
    """Registrations (not cancelled) whose first learning date lies in the range."""

    first_learning: DateRange


@dataclass(frozen=True)
class DepartureFilter:
    """Deregistrations whose departure date lies in the range."""

    departure: DateRange


@dataclass(frozen=True)
class BasketFilter:
    """Children whose NVŠ basket in the month is with an accredited program; optionally of one provider."""

    month: Month
    institution_code: str | None = None


@dataclass(frozen=True)
class ClubFilter:
    """Club marks of a school year; optionally only those attending an NVŠ direction (itself or a sub-direction of it)."""

    school_year: SchoolYear
    direction_code: str | None = None
    active_on: dt.date | None = None

    def check(self, classifiers: Classifiers) -> None:
        if self.direction_code is not None:
            classifiers.require(cls.NVS_DIRECTION, self.direction_code, field="directionCode")


@dataclass(frozen=True)
class BasketMonthsFilter:
    """The basket recipients of each month from ``first`` to ``last``, a row per child and month. No list
    of its own: the statistics of a school year count its basket months by it, in one query."""

    first: Month
    last: Month


ListFilter = (
    LearnerFilter | LearningFilter | ArrivalFilter | DepartureFilter | BasketFilter | BasketMonthsFilter | ClubFilter
)

FILTERS: dict[ListName, type] = {
    ListName.LEARNERS: LearnerFilter,
    ListName.ARRIVALS: ArrivalFilter,
    ListName.DEPARTURES: DepartureFilter,
    ListName.BASKET_RECIPIENTS: BasketFilter,
    ListName.CLUB_ATTENDANCE: ClubFilter,
}


# --- the rows -----------------------------------------------------------------------
@dataclass(frozen=True)
class ListedPerson:
    personal_code: PersonalCode
    first_name: str
    last_name: str
    birth_date: dt.date | None


@dataclass(frozen=True)
class ListedRegistration:
    """A row of the learners, arrivals and departures lists."""

    registration_id: int
    status: str
    institution_code: str
    group_id: int
    group_name: str
    school_year: SchoolYear
    program_code: str
    program_name: str
    person: ListedPerson
    first_learning_date: dt.date
    departure_date: dt.date | None = None
    departure_reason_code: str | None = None

    def keys(self, name: ListName) -> tuple[Any, ...]:
        if name is ListName.DEPARTURES:
            return (self.departure_date, self.registration_id)
        return (self.registration_id,)


@dataclass(frozen=True)
class BasketRecipient:
    """A child with the basket in a month: the seed's list, with the municipality of the child's
    general-education school (none when no enrolment or club mark says where the child studies)."""

    registration_id: int
    institution_code: str
    month: Month
    person: ListedPerson
    first_learning_date: dt.date
    program_code: str
    program_name: str
    school_code: str | None = None
    school_municipality_code: str | None = None

    def keys(self, name: ListName) -> tuple[Any, ...]:
        return (self.registration_id,)


@dataclass(frozen=True)
class ListedClubAttendance:
    attendance_id: int
    school_code: str
    school_year: SchoolYear
    person: ListedPerson
    direction_codes: tuple[str, ...]
    sub_direction_codes: tuple[str, ...]
    from_date: dt.date
    end_date: dt.date | None = None

    def keys(self, name: ListName) -> tuple[Any, ...]:
        return (self.attendance_id,)


Row = TypeVar("Row", ListedRegistration, BasketRecipient, ListedClubAttendance)


@dataclass(frozen=True)
class Page(Generic[Row]):
    rows: list[Row]
    next_cursor: str | None = None


# --- paging -------------------------------------------------------------------------
@dataclass(frozen=True)
class PageRequest:
    """Where a page starts (after ``after``: the previous page's last keys) and how many rows it holds."""

    size: int = DEFAULT_PAGE_SIZE
    after: tuple[Any, ...] | None = None


def page_size(requested: int | None) -> int:
    """The schema holds pageSize to 1..500; a missing one is the default."""
    if requested is None:
        return DEFAULT_PAGE_SIZE
    return max(1, min(MAX_PAGE_SIZE, requested))


def _fingerprint(name: ListName, list_filter: ListFilter, scope: Scope) -> str:
    described = json.dumps([name.value, _plain(list_filter), str(scope)], sort_keys=True, default=str)
    return hashlib.sha256(described.encode()).hexdigest()[:16]


def _plain(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(getattr(value, k)) for k in value.__dataclass_fields__}
    return str(value) if value is not None else None


def _encode_key(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def encode_cursor(name: ListName, list_filter: ListFilter, scope: Scope, keys: tuple[Any, ...]) -> str:
    payload = {"v": 1, "f": _fingerprint(name, list_filter, scope), "k": [_encode_key(k) for k in keys]}
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None, name: ListName, list_filter: ListFilter, scope: Scope) -> tuple[Any, ...] | None:
    """The keys to continue after, or None for the first page; ``InvalidCursor`` for anything else."""
    if cursor is None:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(payload, dict) or payload.get("v") != 1:
            raise ValueError("unknown cursor version")
        if payload.get("f") != _fingerprint(name, list_filter, scope):
            raise InvalidCursor(
                "The cursor belongs to another list or other filters: repeat the request with the filters of the first page."
            )
        keys = payload["k"]
        expected = ORDERS[name]
        if not isinstance(keys, list) or len(keys) != len(expected):
            raise ValueError("wrong number of keys")
        return tuple(_decode_key(kind, value) for kind, value in zip(expected, keys, strict=False))
    except InvalidCursor:
        raise
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError):
        raise InvalidCursor() from None


def _decode_key(kind: str, value: Any) -> Any:
    if kind.endswith("date"):
        return dt.date.fromisoformat(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("an id is a non-negative integer")
    return value


def page_of(rows: list[Row], size: int, name: ListName, list_filter: ListFilter, scope: Scope) -> Page[Row]:
    """Storage is asked for ``size + 1`` rows: the extra one only says that there is a next page."""
    if len(rows) <= size:
        return Page(rows)
    shown = rows[:size]
    return Page(shown, encode_cursor(name, list_filter, scope, shown[-1].keys(name)))


@dataclass(frozen=True)
class ListQuery:
    """Everything storage needs to read one batch of a list."""

    name: ListName
    list_filter: ListFilter
    scope: Scope
    request: PageRequest = field(default_factory=PageRequest)
