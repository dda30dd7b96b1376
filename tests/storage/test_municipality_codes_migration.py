"""Revision 0400 replaces the provisional municipality codes (01-60, alphabetical) with the address
register's in every table that holds one, and back on downgrade. A database at revision 0200 is
filled with rows in the old codes, then upgraded, on SQLite and PostgreSQL (a scratch schema)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text

from gateway.config import REPOSITORY_ROOT
from gateway.reference_data import load_classifiers
from storage import models
from storage.db import make_engine
from tests.e2e.helpers import child_code

MIGRATIONS = REPOSITORY_ROOT / "storage" / "migrations"
AT = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
VILNIUS_PERSON, KAUNAS_PERSON, OFFICIAL_PERSON, ABROAD_PERSON = (
    child_code(dt.date(2015, 3, 1 + n), 700 + n) for n in range(4)
)


def the_migration():
    spec = importlib.util.spec_from_file_location(
        "m0400", MIGRATIONS / "versions" / "0400_official_municipality_codes.py"
    )
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    admin = schema = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'scratch.db'}"
    else:
        base = os.environ.get("NVS_TEST_DATABASE_URL", "")
        if not base:
            pytest.skip("NVS_TEST_DATABASE_URL is not set: PostgreSQL runs are skipped")
        schema = f"nvs_scratch_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        admin = make_engine(base)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    scratch = make_engine(url)
    yield scratch
    scratch.dispose()
    if admin is not None:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def migrate(engine: Engine, revision: str, *, down: bool = False) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)


def fill_with_provisional_codes(engine: Engine) -> None:
    """What a 2026.1 register holds: every table with a municipality code, in the old codes."""
    old_municipalities = the_migration().PROVISIONAL
    with engine.begin() as c:
        c.execute(
            sa.insert(models.ClassifierEntryRow.__table__),
            [
                *({"kind": "municipality", "code": old, "name": name} for old, (_, name) in old_municipalities.items()),
                {"kind": "ownership-type", "code": "20", "name": "Savivaldybės"},  # not a municipality: stays
            ],
        )
        c.execute(
            sa.insert(models.InstitutionRow.__table__),
            [
                {
                    "code": "300000012",
                    "name": "Vilniaus Pušyno muzikos mokykla",
                    "municipality_code": "57",
                    "ownership_code": "20",
                    "group_code": "NVS_SCHOOL",
                    "purpose_codes": ["MUSIC_SCHOOL"],
                },
                {
                    "code": "300000099",
                    "name": "Kaišiadorių meno mokykla",
                    "municipality_code": "13",
                    "ownership_code": "20",
                    "group_code": "NVS_SCHOOL",
                    "purpose_codes": ["ART_SCHOOL"],
                },
            ],
        )
        c.execute(
            sa.insert(models.UserRow.__table__),
            [
                {
                    "id": 1,
                    "username": "vilniaus.koordinatorius",
                    "password_hash": "x",
                    "scope_kind": "municipality",
                    "institution_code": None,
                    "municipality_code": "57",
                },
                {
                    "id": 2,
                    "username": "muzikos.mokykla",
                    "password_hash": "x",
                    "scope_kind": "institution",
                    "institution_code": "300000012",
                    "municipality_code": None,
                },
            ],
        )
        request = {
            "personal_code": child_code(dt.date(1980, 1, 1), 1),
            "first_name": "Ona",
            "last_name": "Kairienė",
            "email": "ona@example.lt",
            "phone": "+37060000000",
            "position": "specialistė",
            "employer_code": "188710061",
            "employer_name": "Savivaldybė",
            "workplace_address": "Vilnius",
            "valid_from": dt.date(2026, 9, 1),
            "valid_until": dt.date(2027, 8, 31),
            "filled_on": dt.date(2026, 8, 20),
            "law_read": True,
            "regulations_read": True,
            "manual_read": True,
            "pledge_signed": True,
            "rights": [],
            "issued_by": "console",
            "received_at": AT,
        }
        c.execute(
            sa.insert(models.UserRegistrationRequestRow.__table__),
            [
                {**request, "user_id": 1, "scope_kind": "municipality", "scope_code": "04"},
                {**request, "user_id": 2, "scope_kind": "institution", "scope_code": "300000012"},
            ],
        )
        rate = {"priority_factor": Decimal("1"), "special_needs_factor": Decimal("2")}
        c.execute(
            sa.insert(models.BasketRateRow.__table__),
            [
                {
                    **rate,
                    "municipality_code": None,
                    "effective_from": dt.date(2022, 3, 1),
                    "monthly_amount": Decimal("20.00"),
                },
                # Vilnius (57) and Kaišiadorys (13) from the same month: 57 becomes 13 while 13 becomes 49.
                {
                    **rate,
                    "municipality_code": "57",
                    "effective_from": dt.date(2024, 4, 1),
                    "monthly_amount": Decimal("25.00"),
                },
                {
                    **rate,
                    "municipality_code": "13",
                    "effective_from": dt.date(2024, 4, 1),
                    "monthly_amount": Decimal("21.00"),
                },
            ],
        )
        event = {
            "kind": "REGISTERED",
            "occurred_at": AT,
            "personal_code": VILNIUS_PERSON,
            "registration_id": 1,
            "data": {},
        }
        c.execute(
            sa.insert(models.ChangeEventRow.__table__),
            [
                {**event, "sequence": 1, "institution_code": "300000012", "municipality_code": "57"},
                {**event, "sequence": 2, "institution_code": "300000099", "municipality_code": "13"},
            ],
        )
        entry = {"at": AT, "operation": "GetStudent", "request_id": "r", "outcome": "ok"}
        c.execute(
            sa.insert(models.AccessLogRow.__table__),
            [
                {
                    **entry,
                    "id": 1,
                    "user_id": 1,
                    "username": "vilniaus.koordinatorius",
                    "scope_kind": "municipality",
                    "scope_code": "57",
                },
                {
                    **entry,
                    "id": 2,
                    "user_id": 2,
                    "username": "muzikos.mokykla",
                    "scope_kind": "institution",
                    "scope_code": "300000012",
                },
            ],
        )
        person = {"first_name": "Vaikas", "last_name": "Vaikaitis", "checked_in_population_register_at": AT}
        c.execute(
            sa.insert(models.PersonRow.__table__),
            [
                {
                    **person,
                    "personal_code": VILNIUS_PERSON,
                    "residence_municipality_code": "57",
                    "residence_municipality_name": "Vilniaus miesto savivaldybė",
                },
                {
                    **person,
                    "personal_code": KAUNAS_PERSON,
                    "residence_municipality_code": "15",
                    "residence_municipality_name": "Kauno miesto savivaldybė",
                },
                # GR's own code and name for Vilnius city: not a provisional pair, so it is left as GR gave it.
                {
                    **person,
                    "personal_code": OFFICIAL_PERSON,
                    "residence_municipality_code": "13",
                    "residence_municipality_name": "Vilniaus m. sav.",
                },
                {
                    **person,
                    "personal_code": ABROAD_PERSON,
                    "residence_municipality_code": None,
                    "residence_municipality_name": None,
                },
            ],
        )


def stored(engine: Engine) -> dict[str, object]:
    def rows(query: str) -> list[tuple]:
        with engine.connect() as c:
            return [tuple(r) for r in c.execute(text(query))]

    return {
        "institutions": rows("SELECT code, municipality_code FROM institution ORDER BY code"),
        "users": rows("SELECT username, municipality_code FROM app_user ORDER BY id"),
        "requests": rows("SELECT scope_kind, scope_code FROM user_registration_request ORDER BY id"),
        "rates": rows("SELECT municipality_code, monthly_amount FROM basket_rate ORDER BY monthly_amount"),
        "events": rows("SELECT sequence, municipality_code FROM change_event ORDER BY sequence"),
        "access_log": rows("SELECT id, scope_code FROM access_log ORDER BY id"),
        "residences": rows("SELECT personal_code, residence_municipality_code FROM person ORDER BY id"),
        "ownership": rows("SELECT code FROM classifier_entry WHERE kind = 'ownership-type'"),
        "municipalities": sorted(rows("SELECT code, name FROM classifier_entry WHERE kind = 'municipality'")),
    }


OLD = {
    "institutions": [("300000012", "57"), ("300000099", "13")],
    "users": [("vilniaus.koordinatorius", "57"), ("muzikos.mokykla", None)],
    "requests": [("municipality", "04"), ("institution", "300000012")],
    "rates": [(None, Decimal("20.00")), ("13", Decimal("21.00")), ("57", Decimal("25.00"))],
    "events": [(1, "57"), (2, "13")],
    "access_log": [(1, "57"), (2, "300000012")],
    "residences": [(VILNIUS_PERSON, "57"), (KAUNAS_PERSON, "15"), (OFFICIAL_PERSON, "13"), (ABROAD_PERSON, None)],
    "ownership": [("20",)],
}
NEW = {
    "institutions": [("300000012", "13"), ("300000099", "49")],
    "users": [("vilniaus.koordinatorius", "13"), ("muzikos.mokykla", None)],
    "requests": [("municipality", "34"), ("institution", "300000012")],
    "rates": [(None, Decimal("20.00")), ("49", Decimal("21.00")), ("13", Decimal("25.00"))],
    "events": [(1, "13"), (2, "49")],
    "access_log": [(1, "13"), (2, "300000012")],
    "residences": [(VILNIUS_PERSON, "13"), (KAUNAS_PERSON, "19"), (OFFICIAL_PERSON, "13"), (ABROAD_PERSON, None)],
    "ownership": [("20",)],
}


def without_classifier(state: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in state.items() if k != "municipalities"}


def assert_access_log_is_still_append_only(engine: Engine) -> None:
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with engine.begin() as c:
            c.execute(text("UPDATE access_log SET outcome = 'changed' WHERE id = 1"))


def test_the_provisional_municipality_codes_become_the_address_registers_everywhere_and_back(engine: Engine) -> None:
    migrate(engine, "0200")
    fill_with_provisional_codes(engine)
    before = stored(engine)
    assert without_classifier(before) == OLD

    migrate(engine, "0400")
    after = stored(engine)
    assert without_classifier(after) == NEW
    # The stored classifier is the 2026.2 file's: the same 60 names, each under its official code.
    official = {(m.code, m.name) for m in load_classifiers().entries("municipality")}
    assert set(after["municipalities"]) == official and len(official) == 60
    assert_access_log_is_still_append_only(engine)

    migrate(engine, "0200", down=True)
    assert stored(engine) == before
    assert_access_log_is_still_append_only(engine)

    migrate(engine, "head")
    assert without_classifier(stored(engine)) == NEW


def test_the_mapping_keeps_every_municipality_and_matches_the_classifier_file() -> None:
    migration = the_migration()
    official = {m.name: m.code for m in load_classifiers().entries("municipality")}
    assert {name: new for new, name in migration.PROVISIONAL.values()} == official
    assert sorted(migration.PROVISIONAL) == [f"{n:02d}" for n in range(1, 61)]
    # a few, as the address register has them
    for old, new in {
        "57": "13",
        "58": "41",
        "15": "19",
        "20": "21",
        "44": "29",
        "32": "27",
        "02": "11",
        "12": "94",
    }.items():
        assert migration.UPGRADE[old] == new


def test_an_upgraded_sandbox_disables_the_coordinators_named_by_a_provisional_code(database) -> None:
    from gateway.accounts import Accounts
    from gateway.auth import DigestSecrets
    from gateway.domain.access import Scope
    from gateway.sandbox import READER_RIGHTS, install_sandbox
    from tests.clock import e2e_clock

    accounts = Accounts(database.uow_factory, DigestSecrets(None), clock=e2e_clock())
    # What revision 0400 leaves of a 2026.1 sandbox: the Vilnius coordinator, recoded, under its old name.
    accounts.ensure_user("sandbox-municipality-57", "Sandbox-municipality-57!", Scope.municipality("13"), READER_RIGHTS)
    with database.uow_factory() as uow:
        classifiers = uow.classifiers.load()
    install_sandbox(database.uow_factory, classifiers, clock=e2e_clock())
    users = {u.username: u for u in accounts.list_users()}
    assert not users["sandbox-municipality-57"].active  # 57 is Kupiškio rajono now
    assert users["sandbox-municipality-13"].active and users["sandbox-municipality-13"].acts_for == Scope.municipality(
        "13"
    )
    assert all(u.active for name, u in users.items() if name != "sandbox-municipality-57")
