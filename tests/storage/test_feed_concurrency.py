"""The change feed under concurrent writers, on SQLite and PostgreSQL.

Writers do real registrations, corrections, cancellations, deregistrations and funding
changes through the Registry, in threads, while followers poll the feed from their
cursors. At the end each follower's replayed copy equals the register exactly, and no
sequence number was seen twice or missed. On PostgreSQL, two transactions held open show
that a number committed before a lower one stays unseen until the lower one commits.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from sqlalchemy import text

from gateway import feed
from gateway.clock import FixedClock
from gateway.domain.errors import GatewayError
from gateway.domain.feed import ChangeEvent, ChangeKind, FundingState, RegistrationState
from gateway.domain.model import Contract, Departure, PersonRecord, RegistrationStatus
from gateway.domain.personal_code import PersonalCode
from gateway.domain.scope import ReadScope
from gateway.reference_data import load_classifiers
from gateway.services import Caller, NewFunding, NewGroup, NewRegistration, Registry
from tests.e2e.helpers import child_code
from tests.present import present

TODAY = dt.date(2026, 11, 2)
NOW = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
# Four sandbox providers with an accredited NVŠ program each.
PROVIDERS = {"300000011": "100000112", "300000012": "100000122", "300000013": "100000132", "300000014": "100000142"}


class SandboxPeople:
    """The sandbox population register's people, in process (no HTTP: the feed is under test here)."""

    def find_person(self, personal_code: PersonalCode) -> PersonRecord | None:
        from clients.population_register.sandbox import generated_person

        return generated_person(personal_code.value)

    def find_persons(self, personal_codes: list[PersonalCode]) -> dict[PersonalCode, PersonRecord | None]:
        return {code: self.find_person(code) for code in personal_codes}


def caller_of(code: str) -> Caller:
    return Caller(user_id=0, username=f"test-{code}", institution_code=code)


def sub_direction_of(program_code: str, database) -> str:
    with database.uow_factory() as uow:
        program = uow.programs.get(program_code)
    return next(e.code for e in load_classifiers().entries("nvs-sub-direction") if e.parent in program.direction_codes)


@pytest.fixture
def registry(database) -> Registry:
    return Registry(database.uow_factory, SandboxPeople(), clock=FixedClock(NOW))


@pytest.fixture
def groups(database, registry: Registry) -> dict[str, int]:
    created = {}
    for provider, program in PROVIDERS.items():
        view = registry.create_group(
            caller_of(provider),
            NewGroup(
                name="Srautas",
                sub_direction_codes=(sub_direction_of(program, database),),
                school_year="2026-2027",
                program_code=program,
            ),
        )
        created[provider] = present(view.group.id)
    return created


@dataclass
class Follower:
    """Keeps a copy of the register from the feed: registrations and funding marks, by id."""

    feed: feed.Feed
    scope: ReadScope
    page_size: int
    cursor: int = 0
    sequences: list[int] = field(default_factory=list)
    registrations: dict[int, RegistrationState] = field(default_factory=dict)
    marks: dict[int, FundingState] = field(default_factory=dict)
    polls: int = 0

    def apply(self, event: ChangeEvent) -> None:
        self.sequences.append(present(event.sequence))
        if event.kind is ChangeKind.CANCELLED:
            self.registrations.pop(present(event.registration).registration_id, None)
        elif event.registration is not None:
            self.registrations[event.registration.registration_id] = event.registration
        if event.kind is ChangeKind.FUNDING_REMOVED:
            self.marks.pop(present(event.funding).mark_id, None)
        elif event.funding is not None:
            self.marks[event.funding.mark_id] = event.funding

    def poll(self) -> bool:
        """One page; True when the page was full (more may be waiting)."""
        page = self.feed.read(self.scope, self.cursor, self.page_size)
        self.polls += 1
        for event in page.events:
            self.apply(event)
        self.cursor = page.last_sequence
        return page.more

    def follow(
        self, writers_done: threading.Event, errors: list[BaseException], *, last: Callable[[], int] = lambda: 0
    ) -> None:
        """Poll until the writers are done and every number up to ``last()`` was seen. On PostgreSQL an event
        shows once every transaction writing when it was numbered has ended, anywhere on the server (a
        parallel test's too): a little after its commit, so the follower waits for it, within a bound."""
        deadline = None
        try:
            while True:
                finished = writers_done.is_set()  # read BEFORE polling: a poll after it sees every commit
                more = self.poll()
                if finished and not more:
                    if (self.sequences[-1] if self.sequences else 0) >= last():
                        return
                    deadline = deadline or time.monotonic() + 60
                    if time.monotonic() > deadline:
                        return  # the test's assertions say what is missing
                if not more:
                    time.sleep(0.002)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)


def registrations_in_database(database, provider: str | None = None) -> dict[int, tuple]:
    query = (
        "SELECT r.id, r.status, r.group_id, r.first_learning_date, r.contract_type_code, r.contract_date, "
        "r.contract_number, r.departure_date, r.departure_reason_code, r.departure_order_number, r.provider_code "
        "FROM registration r WHERE r.status <> 'cancelled'"
    )
    with database.engine.connect() as connection:
        rows = connection.execute(text(query)).all()
    return {
        row[0]: (row[1], row[2], _day(row[3]), row[4], _day(row[5]), row[6], _day(row[7]), row[8], row[9])
        for row in rows
        if provider is None or row[10] == provider
    }


def registrations_in_copy(follower: Follower) -> dict[int, tuple]:
    copy = {}
    for r in follower.registrations.values():
        contract, departure = r.contract, r.departure
        copy[r.registration_id] = (
            r.status,
            r.group_id,
            r.first_learning_date,
            contract.type_code if contract else None,
            contract.signed_on if contract else None,
            contract.number if contract else None,
            departure.date if departure else None,
            departure.reason_code if departure else None,
            departure.order_number if departure else None,
        )
    return copy


def marks_in_database(database, provider: str | None = None) -> dict[int, tuple]:
    query = (
        "SELECT m.id, m.registration_id, m.funding_type, m.from_month, m.to_month, r.provider_code "
        "FROM funding_mark m JOIN registration r ON r.id = m.registration_id WHERE m.status = 'active'"
    )
    with database.engine.connect() as connection:
        rows = connection.execute(text(query)).all()
    return {
        row[0]: (row[1], row[2], _day(row[3]).strftime("%Y-%m"), _day(row[4]).strftime("%Y-%m"))
        for row in rows
        if provider is None or row[5] == provider
    }


def marks_in_copy(follower: Follower) -> dict[int, tuple]:
    return {
        m.mark_id: (m.registration_id, m.funding_type, str(m.from_month), str(m.to_month))
        for m in follower.marks.values()
    }


def _day(value):
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    return value


def run_writers(
    registry: Registry, groups: dict[str, int], *, writers: int, steps: int, children: list[str]
) -> Counter:
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    start = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(index: int) -> None:
        rng = random.Random(index)
        provider = list(groups)[index % len(groups)]
        caller = caller_of(provider)
        mine: list[int] = []
        start.wait()
        for step in range(steps):
            action = (
                "register"
                if len(mine) < 2
                else rng.choice(["register", "correct", "mark", "mark", "end", "deregister", "cancel", "mark-basket"])
            )
            try:
                if action == "register":
                    first = dt.date(2026, 9, 1) + dt.timedelta(days=rng.randrange(0, 40))
                    view, _ = registry.register_student(
                        caller,
                        NewRegistration(
                            rng.choice(children),
                            groups[provider],
                            first,
                            Contract("BILATERAL", first, f"S-{index}-{step}"),
                        ),
                    )
                    mine.append(present(view.registration.id))
                else:
                    registration_id = rng.choice(mine)
                    if action == "correct":
                        first = dt.date(2026, 9, 1) + dt.timedelta(days=rng.randrange(0, 40))
                        registry.correct_registration(
                            caller, registration_id, first, Contract("BILATERAL", first, f"C-{index}-{step}")
                        )
                    elif action == "mark":
                        registry.mark_funding(
                            caller,
                            NewFunding(registration_id, (rng.choice(["MUNICIPAL", "STATE", "OTHER"]),), "2026-10"),
                        )
                    elif action == "mark-basket":
                        month = rng.choice(["2026-10", "2026-11", "2026-12"])
                        registry.mark_funding(caller, NewFunding(registration_id, ("NVS_BASKET",), month, "2027-02"))
                    elif action == "end":
                        registry.end_funding(
                            caller, registration_id, rng.choice(["MUNICIPAL", "NVS_BASKET", "STATE"]), "2026-12"
                        )
                    elif action == "deregister":
                        registry.deregister_student(
                            caller, registration_id, Departure(dt.date(2026, 11, 1), "PARENTS_REQUEST", f"V-{step}")
                        )
                    elif action == "cancel":
                        registry.cancel_registration(caller, registration_id, "Įvesta per klaidą")
                        mine.remove(registration_id)
                outcome = action
            except GatewayError as refused:  # a rule said no: nothing may have been recorded
                outcome = f"{action}: {refused.code}"
            except BaseException as error:  # noqa: BLE001
                errors.append(error)
                return
            with lock:
                outcomes[outcome] += 1

    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return outcomes


def prepare_persons(database, children: list[str]) -> None:
    # Persons first: two first registrations of the same new child at the same moment are another
    # test's subject (the person row is shared); here every registration finds its person stored.
    with database.uow_factory() as uow:
        for code in children:
            uow.persons.save(SandboxPeople().find_person(PersonalCode(code)), checked_at=NOW)
        uow.commit()


@pytest.mark.parametrize("writers,steps", [(8, 40)], ids=["8-writers"])
def test_followers_reproduce_the_register_exactly_after_a_burst_of_concurrent_changes(
    database, registry: Registry, groups: dict[str, int], writers: int, steps: int
) -> None:
    if database.kind == "sqlite":  # the simpler version: SQLite serialises writers anyway
        writers, steps = 4, 15
    children = [child_code(dt.date(2014 + i % 4, 1 + i % 12, 1 + i % 27), 300 + i) for i in range(12)]
    prepare_persons(database, children)
    feed_reader = feed.Feed(database.uow_factory)
    followers = [Follower(feed_reader, ReadScope.all(), page_size=7)] + [
        Follower(feed_reader, ReadScope.of_institution(code), page_size=5) for code in groups
    ]
    writers_done = threading.Event()
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=f.follow, args=(writers_done, errors), kwargs={"last": last_stored(database, code)})
        for f, code in zip(followers, [None, *groups], strict=True)
    ]
    for thread in threads:
        thread.start()
    try:
        outcomes = run_writers(registry, groups, writers=writers, steps=steps, children=children)
    finally:
        writers_done.set()
        for thread in threads:
            thread.join()
    assert not errors, errors

    everyone = followers[0]
    with database.engine.connect() as connection:
        stored = [row[0] for row in connection.execute(text("SELECT sequence FROM change_event ORDER BY sequence"))]
    assert everyone.sequences == stored  # none missing, none repeated, in order
    assert stored == list(range(stored[0], stored[0] + len(stored)))  # and gapless
    assert registrations_in_copy(everyone) == registrations_in_database(database)
    assert marks_in_copy(everyone) == marks_in_database(database)

    for follower, provider in zip(followers[1:], groups, strict=False):
        assert len(set(follower.sequences)) == len(follower.sequences)
        assert follower.sequences == sorted(follower.sequences)
        assert registrations_in_copy(follower) == registrations_in_database(database, provider)
        assert marks_in_copy(follower) == marks_in_database(database, provider)

    kinds = Counter(e for e in _kinds(database))
    for kind in (
        ChangeKind.REGISTERED,
        ChangeKind.CORRECTED,
        ChangeKind.CANCELLED,
        ChangeKind.DEREGISTERED,
        ChangeKind.FUNDING_MARKED,
        ChangeKind.FUNDING_ENDED,
        ChangeKind.FUNDING_REMOVED,
    ):
        assert kinds[kind.value] > 0, (kind, kinds, outcomes)
    assert everyone.polls > 1


def last_stored(database, institution_code: str | None) -> Callable[[], int]:
    """The highest number stored (for one institution's events, or all): what a follower waits to reach."""
    query = "SELECT max(sequence) FROM change_event" + (" WHERE institution_code = :code" if institution_code else "")

    def last() -> int:
        with database.engine.connect() as connection:
            return connection.execute(text(query), {"code": institution_code}).scalar() or 0

    return last


def read_when_visible(reader: feed.Feed, after: int, expected: int) -> list[int]:
    """The numbers after ``after``, read again (within a bound) until ``expected`` of them show: on
    PostgreSQL they show once every transaction writing when they were numbered has ended, a
    parallel test's too."""
    deadline = time.monotonic() + 60
    while True:
        numbers = [present(e.sequence) for e in reader.read(ReadScope.all(), after, 10).events]
        if len(numbers) >= expected or time.monotonic() > deadline:
            return numbers
        time.sleep(0.01)


def _kinds(database) -> list[str]:
    with database.engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT kind FROM change_event"))]


def mark_club(uow, attendance_id: int) -> None:
    feed.club_attendance_changed(
        uow,
        ChangeKind.CLUB_ATTENDANCE_MARKED,
        institution_code="300000043",
        personal_code=PersonalCode(child_code(dt.date(2015, 5, 5), 700 + attendance_id % 100)),
        attendance_id=attendance_id,
        school_year="2026-2027",
        direction_codes=("MUSIC",),
        at=NOW,
    )


@pytest.mark.parametrize(
    "higher_began_first", [True, False], ids=["higher-number-older-transaction", "higher-number-newer-transaction"]
)
def test_a_higher_number_committed_first_stays_unseen_until_the_lower_one_commits(
    database, higher_began_first: bool
) -> None:
    """Two real transactions: one takes N and stays open, the other takes N+1 and commits. A
    reader polling in between sees neither; after the first commits it sees both, in order.
    With ``higher_began_first`` the writer of N+1 got its transaction id first (an earlier
    write), the case where "the writer's id is below the snapshot's xmin" would hand out N+1."""
    if database.kind != "postgresql":
        pytest.skip("SQLite serialises whole write transactions (BEGIN IMMEDIATE): there is no window to observe")
    reader = feed.Feed(database.uow_factory)
    before = last_number_given(database)
    low, high = database.uow_factory(), database.uow_factory()
    low.__enter__()
    high.__enter__()
    try:
        ids = {}
        for uow in (high, low) if higher_began_first else (low, high):
            ids[uow] = int(uow.session.execute(text("SELECT pg_current_xact_id()::text")).scalar_one())
        assert (ids[high] < ids[low]) == higher_began_first
        mark_club(low, 1)
        [lower] = low.feed.publish_pending()  # numbered and inserted, not committed
        mark_club(high, 2)
        [higher] = high.feed.publish_pending()
        assert (lower, higher) == (before + 1, before + 2)
        high.commit()

        committed = [row[0] for row in database.rows("SELECT sequence FROM change_event WHERE sequence > :n", n=before)]
        assert committed == [higher]  # the window: N+1 is committed and visible, N is not
        assert reader.read(ReadScope.all(), before, 10).events == []
        with database.uow_factory() as uow:
            assert uow.feed.last_sequence() == before  # the watermark waits for N

        low.commit()
    finally:
        high.__exit__(None, None, None)
        low.__exit__(None, None, None)
    assert read_when_visible(reader, before, 2) == [lower, higher]
    with database.uow_factory() as uow:
        assert uow.feed.last_sequence() == higher


def test_writers_in_threads_get_distinct_numbers_and_a_follower_sees_every_one_in_order(database) -> None:
    """N threads, one event per transaction, while a follower polls: no number twice, none
    skipped, and (nothing rolls back) no gap."""
    writers, transactions = (8, 60) if database.kind == "postgresql" else (3, 15)
    follower = Follower(feed.Feed(database.uow_factory), ReadScope.all(), page_size=13)
    start = threading.Barrier(writers)
    errors: list[BaseException] = []
    given: list[int] = []
    lock = threading.Lock()

    def write(index: int) -> None:
        try:
            start.wait()
            for n in range(transactions):
                with database.uow_factory() as uow:
                    mark_club(uow, index * 1000 + n)
                    numbers = uow.feed.publish_pending()
                    uow.commit()
                with lock:
                    given.extend(numbers)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    writers_done = threading.Event()
    reading = threading.Thread(
        target=follower.follow, args=(writers_done, errors), kwargs={"last": lambda: max(given, default=0)}
    )
    reading.start()
    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writers_done.set()
    reading.join()
    assert not errors, errors

    assert len(given) == len(set(given)) == writers * transactions
    assert sorted(given) == list(range(min(given), min(given) + len(given)))
    assert follower.sequences == sorted(given)
    assert follower.polls > 1


def last_number_given(database) -> int:
    """The last number taken, committed or not (the sequence is reset when a test empties the event table)."""
    if database.kind == "postgresql":
        last, called = database.rows("SELECT last_value, is_called FROM change_event_sequence_seq")[0]
        return last if called else last - 1
    return database.rows("SELECT coalesce(max(sequence), 0) FROM change_event")[0][0]


def test_a_rolled_back_change_leaves_no_event_and_its_number_is_not_seen(database, registry, groups) -> None:
    """On PostgreSQL the sequence does not give the number back (a gap, which a follower does not
    notice); on SQLite nothing was stored, so the next change takes the same number."""
    reader = feed.Feed(database.uow_factory)
    before = last_number_given(database)
    with database.uow_factory() as uow:
        mark_club(uow, 3)
        uow.feed.publish_pending()
        uow.rollback()
    child = child_code(dt.date(2015, 5, 6), 779)
    registry.register_student(
        caller_of("300000011"),
        NewRegistration(
            child, groups["300000011"], dt.date(2026, 9, 1), Contract("BILATERAL", dt.date(2026, 9, 1), "S-2")
        ),
    )
    deadline = time.monotonic() + 60  # shown a little after the commit on PostgreSQL (see Follower.follow)
    while not (events := reader.read(ReadScope.all(), before, 10).events) and time.monotonic() < deadline:
        time.sleep(0.05)
    expected = before + (2 if database.kind == "postgresql" else 1)
    assert [(e.sequence, e.kind) for e in events] == [(expected, ChangeKind.REGISTERED)]
    assert present(events[0].registration).status == RegistrationStatus.ACTIVE.value
