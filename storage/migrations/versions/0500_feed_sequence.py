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
The events already stored get horizon 0: their transactions ended long ago.

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
        op.execute(f"CREATE SEQUENCE {SEQUENCE} AS bigint START WITH {given + 1} CACHE 1 OWNED BY change_event.sequence")
        op.execute(f"ALTER TABLE change_event ALTER COLUMN sequence SET DEFAULT nextval('{SEQUENCE}')")
    op.drop_table("feed_counter")


def downgrade() -> None:
    connection = op.get_bind()
    given = connection.execute(sa.select(sa.func.max(_event.c.sequence))).scalar() or 0
    if connection.dialect.name == "postgresql":
        last, called = connection.execute(sa.text(f"SELECT last_value, is_called FROM {SEQUENCE}")).one()
        given = max(given, last if called else last - 1)
        op.execute("ALTER TABLE change_event ALTER COLUMN sequence DROP DEFAULT")
        op.execute(f"DROP SEQUENCE {SEQUENCE}")
    op.create_table("feed_counter",
    sa.Column("name", sa.String(length=40), nullable=False),
    sa.Column("value", sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint("name", name=op.f("pk_feed_counter"))
    )
    op.execute(_counter.insert().values(name="changes", value=given))
    # Not in batch mode (SQLite 3.35+ drops a column in place).
    op.drop_column("change_event", "xid_horizon")
