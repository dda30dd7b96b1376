"""The lists' scope, filters and cursors (gateway.domain.lists), without storage."""

from __future__ import annotations

import base64
import datetime as dt
import json

import pytest

from gateway.domain.calendar import Month, SchoolYear
from gateway.domain.errors import InvalidCursor, InvalidDateRange, UnknownClassifierCode
from gateway.domain.lists import (
    DEFAULT_PAGE_SIZE,
    ORDERS,
    ArrivalFilter,
    BasketFilter,
    ClubFilter,
    DateRange,
    DepartureFilter,
    LearnerFilter,
    ListedPerson,
    ListedRegistration,
    ListFilter,
    ListName,
    Scope,
    ScopeKind,
    decode_cursor,
    encode_cursor,
    page_of,
    page_size,
    scope_of,
)
from gateway.domain.personal_code import PersonalCode
from gateway.services import Caller
from tests.fakes import CLASSIFIERS, GIRL_CODE

LEARNERS = LearnerFilter(SchoolYear(2026))
MINE = Scope.of_institution("300000011")


def row(registration_id: int, departure: dt.date | None = None) -> ListedRegistration:
    return ListedRegistration(
        registration_id=registration_id,
        status="deregistered" if departure else "active",
        institution_code="300000011",
        group_id=1,
        group_name="G",
        school_year=SchoolYear(2026),
        program_code="100000112",
        program_name="P",
        person=ListedPerson(PersonalCode(GIRL_CODE), "Austėja", "Bandomaitė", dt.date(2016, 3, 15)),
        first_learning_date=dt.date(2026, 9, 1),
        departure_date=departure,
    )


# --- scope -----------------------------------------------------------------------------
def test_a_user_of_an_institution_sees_the_institution() -> None:
    assert scope_of(Caller(user_id=1, username="u", institution_code="300000011")) == MINE


def test_the_three_kinds_of_scope() -> None:
    assert (MINE.kind, MINE.code) == (ScopeKind.INSTITUTION, "300000011")
    assert (Scope.of_municipality("13").kind, Scope.of_municipality("13").code) == (ScopeKind.MUNICIPALITY, "13")
    assert (Scope.everything().kind, Scope.everything().code) == (ScopeKind.EVERYTHING, None)
    assert [str(s) for s in (MINE, Scope.of_municipality("13"), Scope.everything())] == [
        "institution 300000011",
        "municipality 13",
        "everything",
    ]


# --- filters -----------------------------------------------------------------------------
def test_a_date_range_may_be_one_day_but_not_backwards() -> None:
    assert DateRange.of(dt.date(2026, 9, 1), dt.date(2026, 9, 1)).first == dt.date(2026, 9, 1)
    with pytest.raises(InvalidDateRange) as refused:
        DateRange.of(dt.date(2026, 9, 2), dt.date(2026, 9, 1))
    assert refused.value.field == "toDate"


def test_the_club_list_filters_by_a_known_direction_only() -> None:
    ClubFilter(SchoolYear(2026), "MUSIC").check(CLASSIFIERS)
    ClubFilter(SchoolYear(2026)).check(CLASSIFIERS)
    with pytest.raises(UnknownClassifierCode) as refused:
        ClubFilter(SchoolYear(2026), "MUSIC.PIANO").check(CLASSIFIERS)
    assert refused.value.field == "directionCode"


def test_page_sizes() -> None:
    assert page_size(None) == DEFAULT_PAGE_SIZE == 100
    assert [page_size(n) for n in (1, 500, 0, 501)] == [1, 500, 1, 500]


def test_every_list_has_an_order_of_keys_that_never_change() -> None:
    assert set(ORDERS) == set(ListName)
    assert all(keys[-1].endswith("id") for keys in ORDERS.values())  # the last key is unique


# --- pages and cursors ----------------------------------------------------------------------
def test_a_short_page_has_no_cursor_and_a_full_one_points_after_its_last_row() -> None:
    assert page_of([row(1), row(2)], 2, ListName.LEARNERS, LEARNERS, MINE).next_cursor is None
    page = page_of([row(1), row(2), row(3)], 2, ListName.LEARNERS, LEARNERS, MINE)
    assert [r.registration_id for r in page.rows] == [1, 2]
    assert decode_cursor(page.next_cursor, ListName.LEARNERS, LEARNERS, MINE) == (2,)


def test_a_departures_cursor_holds_the_departure_date_and_the_id() -> None:
    departures = DepartureFilter(DateRange.of(dt.date(2026, 9, 1), dt.date(2026, 12, 31)))
    page = page_of(
        [row(5, dt.date(2026, 10, 1)), row(3, dt.date(2026, 10, 2))], 1, ListName.DEPARTURES, departures, MINE
    )
    assert decode_cursor(page.next_cursor, ListName.DEPARTURES, departures, MINE) == (dt.date(2026, 10, 1), 5)


def test_a_cursor_is_url_safe_and_carries_no_personal_data() -> None:
    cursor = encode_cursor(ListName.LEARNERS, LEARNERS, MINE, (123,))
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert len(cursor) <= 200
    assert GIRL_CODE not in base64.urlsafe_b64decode(cursor + "==").decode()


def test_no_cursor_is_the_first_page() -> None:
    assert decode_cursor(None, ListName.LEARNERS, LEARNERS, MINE) is None


@pytest.mark.parametrize(
    "name, list_filter, scope",
    [
        (ListName.LEARNERS, LearnerFilter(SchoolYear(2025)), MINE),  # other filters
        (ListName.LEARNERS, LearnerFilter(SchoolYear(2026), group_id=4), MINE),
        (ListName.LEARNERS, LEARNERS, Scope.of_institution("300000012")),  # another caller's scope
        (ListName.LEARNERS, LEARNERS, Scope.everything()),
        (
            ListName.ARRIVALS,
            ArrivalFilter(DateRange.of(dt.date(2026, 9, 1), dt.date(2026, 9, 30))),
            MINE,
        ),  # another list
    ],
)
def test_a_cursor_is_refused_with_other_filters_another_scope_or_another_list(name, list_filter, scope) -> None:
    cursor = encode_cursor(ListName.LEARNERS, LEARNERS, MINE, (5,))
    with pytest.raises(InvalidCursor) as refused:
        decode_cursor(cursor, name, list_filter, scope)
    assert refused.value.field == "cursor"


def _forged(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "A",
        _forged([1, 2]),
        _forged({"v": 2, "k": [1]}),
        _forged({"v": 1, "k": [1]}),  # no fingerprint
    ],
)
def test_garbage_is_an_invalid_cursor(cursor) -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(cursor, ListName.LEARNERS, LEARNERS, MINE)


@pytest.mark.parametrize("keys", [["x"], [-1], [True], [1, 2], []])
def test_keys_of_the_wrong_kind_are_an_invalid_cursor(keys) -> None:
    good = json.loads(base64.urlsafe_b64decode(encode_cursor(ListName.LEARNERS, LEARNERS, MINE, (1,)) + "=="))
    with pytest.raises(InvalidCursor):
        decode_cursor(_forged({**good, "k": keys}), ListName.LEARNERS, LEARNERS, MINE)


def test_filters_of_every_list_give_distinct_cursors() -> None:
    filters: list[tuple[ListName, ListFilter]] = [
        (ListName.LEARNERS, LEARNERS),
        (ListName.ARRIVALS, ArrivalFilter(DateRange.of(dt.date(2026, 9, 1), dt.date(2026, 9, 30)))),
        (ListName.DEPARTURES, DepartureFilter(DateRange.of(dt.date(2026, 9, 1), dt.date(2026, 9, 30)))),
        (ListName.BASKET_RECIPIENTS, BasketFilter(Month(2026, 10))),
        (ListName.BASKET_RECIPIENTS, BasketFilter(Month(2026, 10), "300000011")),
        (ListName.CLUB_ATTENDANCE, ClubFilter(SchoolYear(2026), "MUSIC")),
        (ListName.CLUB_ATTENDANCE, ClubFilter(SchoolYear(2026), "MUSIC", dt.date(2026, 10, 1))),
    ]
    keys = {name: (dt.date(2026, 9, 1), 1) if name is ListName.DEPARTURES else (1,) for name, _ in filters}
    cursors = {encode_cursor(name, f, MINE, keys[name]) for name, f in filters}
    assert len(cursors) == len(filters)
