"""A large synthetic register, written fast with SQLAlchemy Core bulk inserts (not through SOAP).

    from bench.datasets import generate
    counts = generate(engine, registrations=200_000)

Needs a migrated database with the sandbox institutions and programs (``prepare_database`` and
``install_sandbox``). Adds, for school year 2026-2027: groups of the sandbox's accredited NVŠ
programs; one child per registration; registrations spread over September to November (85 %
active, 10 % deregistered in October or November, 5 % cancelled); the NVŠ basket for September
to December on 40 % of the active ones (funding marks and basket claims); formal enrolments of
60 % of the children at the sandbox's general-education schools; club marks of 10 % of them.
Deterministic: the same arguments give the same data. Used by ``bench/export_lists.py`` and by
the export tests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Table, func, insert, select, text
from stdnum.ee.ik import calc_check_digit

from gateway.domain import classifiers as cls
from gateway.reference_data import load_classifiers
from storage.models import (
    BasketClaimRow,
    ClubAttendanceRow,
    ClubDirectionRow,
    FundingMarkRow,
    GroupRow,
    InstitutionRow,
    PersonRow,
    ProgramRow,
    RegistrationRow,
    SchoolEnrolmentRow,
    table_of,
)
from storage.repositories import group_name_key

SCHOOL_YEAR = 2026
SCHOOLS = ("300000041", "300000042", "300000043", "300000044", "300000045")
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
CHUNK = 10_000
FIRST_NAMES = ("Adomas", "Austėja", "Matas", "Emilija", "Jokūbas", "Gabija", "Lukas", "Kamilė", "Nojus", "Urtė")
LAST_NAMES = ("Kazlauskas", "Petrauskaitė", "Jankauskas", "Stankevičiūtė", "Vasiliauskas", "Žukauskaitė")


@dataclass(frozen=True)
class Generated:
    registrations: int
    active: int
    deregistered: int
    cancelled: int
    basket_children: int
    enrolments: int
    club_marks: int


def personal_code(index: int) -> str:
    """A checksum-valid code of a child born 2008-2020, unique for index < 4,700,000."""
    born = dt.date(2008, 1, 1) + dt.timedelta(days=index % 4700)
    serial = (index // 4700) % 1000
    first10 = f"{5 + (index // 4_700_000) % 2}{born:%y%m%d}{serial:03d}"
    return first10 + calc_check_digit(first10 + "0")


def _next_id(connection: Any, table: Table) -> int:
    return (connection.execute(select(func.max(table.c.id))).scalar() or 0) + 1


def _bulk(connection: Any, table: Table, rows: Iterator[dict[str, Any]]) -> int:
    count, chunk = 0, []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            connection.execute(insert(table), chunk)
            count += len(chunk)
            chunk = []
    if chunk:
        connection.execute(insert(table), chunk)
        count += len(chunk)
    return count


def _reset_sequence(connection: Any, table: Table) -> None:
    """Explicit ids leave PostgreSQL's sequence behind; the next ORM insert would collide."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM {table.name}))")
        )


def generate(engine: Engine, registrations: int, *, groups_per_program: int | None = None) -> Generated:
    """Add ``registrations`` registrations (and what goes with them) in one transaction."""
    classifiers = load_classifiers()
    person_t, group_t, reg_t = table_of(PersonRow), table_of(GroupRow), table_of(RegistrationRow)
    mark_t, claim_t, enrol_t = table_of(FundingMarkRow), table_of(BasketClaimRow), table_of(SchoolEnrolmentRow)
    club_t, direction_t = table_of(ClubAttendanceRow), table_of(ClubDirectionRow)
    sub_directions = classifiers.entries(cls.NVS_SUB_DIRECTION)
    with engine.begin() as connection:
        programs = connection.execute(
            select(ProgramRow.code, ProgramRow.provider_code, ProgramRow.direction_codes)
            .join(InstitutionRow, InstitutionRow.code == ProgramRow.provider_code)
            .where(
                ProgramRow.purpose == "NVS",
                ProgramRow.accredited_on.is_not(None),
                ProgramRow.deregistered_on.is_(None),
                InstitutionRow.deregistered_on.is_(None),
                InstitutionRow.group_code != "GENERAL_EDU",
            )
            .order_by(ProgramRow.code)
        ).all()
        programs = [p for p in programs if p.provider_code not in ("300000025", "300000033")]
        assert programs, "install the sandbox first"
        per_program = groups_per_program or max(1, registrations // (len(programs) * 150))
        first_group = _next_id(connection, group_t)
        groups: list[dict[str, Any]] = []
        for program_code, provider, directions in programs:
            sub = next(e.code for e in sub_directions if e.parent in directions)
            for g in range(per_program):
                name = f"Bench {program_code}-{g + 1}"
                groups.append(
                    dict(
                        id=first_group + len(groups),
                        provider_code=provider,
                        school_year=SCHOOL_YEAR,
                        program_code=program_code,
                        purpose="NVS",
                        name=name,
                        name_key=group_name_key(name),
                        sub_direction_codes=[sub],
                        leaders=[],
                        created_at=NOW,
                        updated_at=NOW,
                    )
                )
        _bulk(connection, group_t, iter(groups))

        first_person = _next_id(connection, person_t)
        offset = first_person  # distinct codes even when generating twice into one database

        def persons() -> Iterator[dict[str, Any]]:
            for i in range(registrations):
                code = personal_code(offset + i)
                born = dt.date(2000 + int(code[1:3]), int(code[3:5]), int(code[5:7]))
                yield dict(
                    id=first_person + i,
                    personal_code=code,
                    first_name=FIRST_NAMES[i % len(FIRST_NAMES)],
                    last_name=LAST_NAMES[i % len(LAST_NAMES)],
                    sex="M" if code[0] == "5" else "F",
                    birth_date=born,
                    checked_in_population_register_at=NOW,
                )

        _bulk(connection, person_t, persons())

        first_registration = _next_id(connection, reg_t)
        september = dt.date(2026, 9, 1)

        def status_of(i: int) -> str:
            return "cancelled" if i % 20 == 19 else "deregistered" if i % 10 == 3 else "active"

        def registrations_rows() -> Iterator[dict[str, Any]]:
            for i in range(registrations):
                group = groups[i % len(groups)]
                arrived = september + dt.timedelta(days=(i * 7) % 90)
                status = status_of(i)
                departed = arrived + dt.timedelta(days=20 + i % 30) if status == "deregistered" else None
                yield dict(
                    id=first_registration + i,
                    person_id=first_person + i,
                    group_id=group["id"],
                    provider_code=group["provider_code"],
                    first_learning_date=arrived,
                    contract_type_code="BILATERAL",
                    contract_date=arrived,
                    contract_number=f"B-{i}",
                    registered_on=arrived,
                    status=status,
                    departure_date=departed,
                    departure_reason_code="PARENTS_REQUEST" if departed else None,
                    departure_order_number=None,
                    cancelled_on=dt.date(2026, 11, 1) if status == "cancelled" else None,
                    cancellation_reason="Entered by mistake" if status == "cancelled" else None,
                    created_at=NOW,
                    updated_at=NOW,
                )

        _bulk(connection, reg_t, registrations_rows())

        basket = [i for i in range(registrations) if status_of(i) == "active" and i % 5 < 2]
        first_mark = _next_id(connection, mark_t)
        _bulk(
            connection,
            mark_t,
            (
                dict(
                    id=first_mark + n,
                    registration_id=first_registration + i,
                    funding_type="NVS_BASKET",
                    from_month=dt.date(2026, 9, 1),
                    to_month=dt.date(2026, 12, 1),
                    special_needs=False,
                    status="active",
                    created_at=NOW,
                    updated_at=NOW,
                )
                for n, i in enumerate(basket)
            ),
        )
        months = [dt.date(2026, m, 1) for m in (9, 10, 11, 12)]
        _bulk(
            connection,
            claim_t,
            (
                dict(person_id=first_person + i, month=month, funding_mark_id=first_mark + n)
                for n, i in enumerate(basket)
                for month in months
            ),
        )

        enrolled = [i for i in range(registrations) if i % 5 != 4 and i % 5 != 2]
        _bulk(
            connection,
            enrol_t,
            (
                dict(
                    personal_code=personal_code(offset + i),
                    school_code=SCHOOLS[i % len(SCHOOLS)],
                    school_year=SCHOOL_YEAR,
                    from_date=september,
                    to_date=None,
                    source="import",
                    updated_at=NOW,
                )
                for i in enrolled
            ),
        )

        clubbed = [i for i in enrolled if i % 10 == 0]
        first_club = _next_id(connection, club_t)
        _bulk(
            connection,
            club_t,
            (
                dict(
                    id=first_club + n,
                    person_id=first_person + i,
                    school_code=SCHOOLS[i % len(SCHOOLS)],
                    school_year=SCHOOL_YEAR,
                    from_date=dt.date(2026, 9, 15),
                    end_date=None,
                    marked_on=dt.date(2026, 9, 15),
                    created_at=NOW,
                    updated_at=NOW,
                )
                for n, i in enumerate(clubbed)
            ),
        )
        _bulk(
            connection,
            direction_t,
            (
                dict(
                    attendance_id=first_club + n,
                    direction_code=("SPORT", "MUSIC", "ART")[n % 3],
                    sub_direction_code=None,
                    position=0,
                )
                for n in range(len(clubbed))
            ),
        )
        for table in (group_t, person_t, reg_t, mark_t, club_t):
            _reset_sequence(connection, table)
    # Fresh statistics, as autovacuum (PostgreSQL) or a maintenance ANALYZE (SQLite) gives a live
    # database: without them the planners guess one row per table after a bulk load and join the
    # whole list for every batch instead of walking the order's index.
    # Only the tables loaded: a database-wide ANALYZE also takes locks on other schemas' tables, and
    # deadlocks with whatever is dropping one of them at the time (a parallel test's scratch schema).
    # Every table it loaded, and the sandbox's reference tables the lists join.
    loaded = (group_t, person_t, reg_t, mark_t, claim_t, enrol_t, club_t, direction_t)
    with engine.connect() as connection:
        for table in (*loaded, table_of(InstitutionRow), table_of(ProgramRow)):
            connection.execute(text(f'ANALYZE "{table.name}"'))
        connection.commit()
    statuses = [status_of(i) for i in range(registrations)]
    return Generated(
        registrations=registrations,
        active=statuses.count("active"),
        deregistered=statuses.count("deregistered"),
        cancelled=statuses.count("cancelled"),
        basket_children=len(basket),
        enrolments=len(enrolled),
        club_marks=len(clubbed),
    )
