"""Many rows in one short INSERT on PostgreSQL: ``INSERT .. SELECT * FROM unnest(array, array, ..)``.

A batch's 500 registrations or persons sent as a 500-row VALUES list (SQLAlchemy's
"insertmanyvalues") make a statement of thousands of placeholders that psycopg converts to its
own in Python on every call, too long for its cache: a sixth of a RegisterStudents call went there
(bench/profile_request.py). One array per column keeps the statement small and the same at every
call, so both SQLAlchemy's and psycopg's caches hold it; the rows travel as the arrays' values.
SQLite has no arrays: its statements stay the multi-row VALUES, which cost little there."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, bindparam, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import insert as postgresql_insert


def insert_from_arrays(table: Table, rows: Sequence[dict[str, Any]]) -> postgresql.Insert:
    """An INSERT of ``rows`` (dicts with the same keys) as one array parameter per column. Add
    ``on_conflict_*`` and ``returning`` as to any INSERT; RETURNING carries no promise of order, so
    return a key with the id."""
    columns = list(rows[0])
    arrays = [
        bindparam(f"rows_{name}", [row[name] for row in rows], type_=postgresql.ARRAY(table.c[name].type))
        for name in columns
    ]
    source = func.unnest(*arrays).table_valued(*columns).render_derived(name="batch_rows")
    return postgresql_insert(table).from_select(columns, select(*(source.c[name] for name in columns)))
