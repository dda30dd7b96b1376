"""One live gateway per module and database for the hostile-input suite.

The requests of a module do not change data (that is the point), so they share a gateway: the
suite sends hundreds of requests in seconds instead of starting a server per table. Snapshots
compare every row of the tables a request could touch, not only their counts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from tests.conftest import MUTABLE_TABLES, Database, LiveGateway, launch_gateway, open_database

# Besides the tables tests may write: what a refused request must not touch either.
WATCHED_TABLES = MUTABLE_TABLES + (
    "funding_mark",
    "basket_claim",
    "club_direction",
    "app_user",
    "user_registration_request",
    "institution",
    "program",
    "basket_rate",
)


class ContentSnapshots(Database):
    """A Database whose snapshot is a digest of every row, per table (a refused UPDATE shows too)."""

    def snapshot(self) -> dict[str, str]:
        digests = {}
        with self.engine.connect() as connection:
            for table in WATCHED_TABLES:
                rows = connection.execute(text(f"SELECT * FROM {table}")).all()  # noqa: S608 - fixed names
                digests[table] = (
                    f"{len(rows)} rows " + hashlib.sha256(repr(sorted(map(repr, rows))).encode()).hexdigest()[:12]
                )
        return digests


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared_gateway(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveGateway]:
    opened = open_database(request, request.param, tmp_path_factory.mktemp("hostile"))
    database = ContentSnapshots(opened.kind, opened.url, opened.engine, opened.uow_factory, opened.users)
    live, stop = launch_gateway(database)
    yield live
    stop()
    database.engine.dispose()


from tests.e2e.test_bad_input import logs  # noqa: E402,F401 - the same log capture as the bad-input tables
