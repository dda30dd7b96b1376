"""change events numbered by a sequence and read below a commit watermark, not by one counter row

Revision ID: 0500
Revises: 0410
Create Date: 2026-12-05

The ``feed_counter`` row serialised every transaction that recorded a change (each held its
lock until commit). On PostgreSQL numbers now come from the sequence
``change_event_sequence_seq`` (owned by ``change_event.sequence``), which starts after the
highest number given so far (the counter's value, or the highest stored number if that is
higher), and each event gets ``xid_horizon``: readers hand out a number only once every
transaction that could still commit a lower one has ended (storage.feed_checks.SqlFeedRepository).
The events already stored get horizon 0: their transactions ended long ago. The function
``change_event_numbers`` takes the numbers and the horizon (with the always empty, unlogged
``change_event_horizon``, whose rolled-back writes give it fresh transaction ids).

On SQLite writers are serialised (BEGIN IMMEDIATE): numbers are the highest stored + 1 and the
column stays empty. ``feed_counter`` is dropped on both.

Downgrade recreates the counter at the highest number given (PostgreSQL: the sequence's last
value, so that numbers taken by rolled-back transactions are not given again) and drops the
sequence and the column.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0500"
down_revision = "0410"
branch_labels = None
depends_on = None

SEQUENCE = "change_event_sequence_seq"

_counter = sa.table("feed_counter", sa.column("name", sa.String), sa.column("value", sa.BigInteger))
_event = sa.table("change_event", sa.column("sequence", sa.BigInteger), sa.column("xid_horizon", sa.BigInteger))


def upgrade() -> None:
    connection = op.get_bind()
    given = max(
        connection.execute(sa.select(sa.func.max(_counter.c.value))).scalar() or 0,
        connection.execute(sa.select(sa.func.max(_event.c.sequence))).scalar() or 0,
    )
    # Not in batch mode: a nullable column is added in place on SQLite too.
    op.add_column("change_event", sa.Column("xid_horizon", sa.BigInteger(), nullable=True))
    if connection.dialect.name == "postgresql":
        op.execute(_event.update().values(xid_horizon=0))
        # CACHE 1 (the default) matters: a session's cached numbers would be taken long before
        # they are used, and the horizon argument needs numbers taken at the moment they are used.
        op.execute(
            f"CREATE SEQUENCE {SEQUENCE} AS bigint START WITH {given + 1} CACHE 1 OWNED BY change_event.sequence"
        )
        op.execute(f"ALTER TABLE change_event ALTER COLUMN sequence SET DEFAULT nextval('{SEQUENCE}')")
    # Never holds a row: a write to it, rolled back at once, gives a subtransaction its id.
    unlogged = ["UNLOGGED"] if connection.dialect.name == "postgresql" else []
    op.create_table("change_event_horizon", sa.Column("written", sa.Boolean(), nullable=True), prefixes=unlogged)
    if connection.dialect.name == "postgresql":
        op.execute(NUMBERS_FUNCTION)
    op.drop_table("feed_counter")


# The numbers and their horizon in one round trip, in the order the argument needs (a function:
# within one SQL statement PostgreSQL promises no order of evaluation).
NUMBERS_FUNCTION = f"""
CREATE FUNCTION change_event_numbers(how_many integer, OUT number bigint, OUT horizon bigint)
RETURNS SETOF record LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    top bigint := pg_current_xact_id()::text::bigint;  -- 1. this transaction's id, before any number
    numbers bigint[];
    sub bigint;
BEGIN
    SELECT array_agg(nextval('{SEQUENCE}')) INTO numbers FROM generate_series(1, how_many);  -- 2. the numbers
    BEGIN  -- 3. a subtransaction, whose id is assigned at its first write: after the numbers
        INSERT INTO change_event_horizon DEFAULT VALUES RETURNING xmin::text::bigint INTO sub;
        RAISE SQLSTATE 'NVS01';
    EXCEPTION WHEN SQLSTATE 'NVS01' THEN
        NULL;  -- rolled back, its id taken
    END;
    -- xmin is 32 bits; a child's id is above its parent's.
    horizon := top - top % 4294967296 + sub;
    IF horizon < top THEN
        horizon := horizon + 4294967296;
    END IF;
    RETURN QUERY SELECT unnest(numbers), horizon;
END
$$
"""


def downgrade() -> None:
    connection = op.get_bind()
    given = connection.execute(sa.select(sa.func.max(_event.c.sequence))).scalar() or 0
    if connection.dialect.name == "postgresql":
        last, called = connection.execute(sa.text(f"SELECT last_value, is_called FROM {SEQUENCE}")).one()
        given = max(given, last if called else last - 1)
        op.execute("ALTER TABLE change_event ALTER COLUMN sequence DROP DEFAULT")
        op.execute(f"DROP SEQUENCE {SEQUENCE}")
        op.execute("DROP FUNCTION change_event_numbers(integer)")
    op.drop_table("change_event_horizon")
    op.create_table(
        "feed_counter",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_feed_counter")),
    )
    op.execute(_counter.insert().values(name="changes", value=given))
    # Not in batch mode (SQLite 3.35+ drops a column in place).
    op.drop_column("change_event", "xid_horizon")
