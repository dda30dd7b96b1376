"""the archive of closed school years

Revision ID: 0620
Revises: 0600
Create Date: 2026-12-03

* ``archive_nvs_group``, ``archive_registration``, ``archive_funding_mark``, ``archive_club_attendance``,
  ``archive_club_direction``: the active tables' columns (rows keep their ids), keyed by school year,
  without foreign keys; ``nvs-gateway archive`` moves closed school years older than
  NVS_ARCHIVE_KEEP_YEARS here (gateway/archive.py; the README's "Archive and retention" explains why
  plain tables and not PostgreSQL partitions);
* ``archive_state``: ``archived_through``, the newest school year archived (in part or whole);
* the foreign keys ``basket_claim.funding_mark_id`` and ``registration.transferred_from_id`` are
  dropped (their indexes stay): a basket claim stays when its mark is archived (the claim is the
  basket's exclusivity), and a registration may continue one that was archived.

Downgrade drops the archive tables (archived rows are lost: run it only on an empty archive) and
restores the foreign keys (which fails while a claim's mark or a continued registration is archived).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0620"
down_revision = "0600"
branch_labels = None
depends_on = None

INDEXES = (
    ("ix_archive_nvs_group_school_year", "archive_nvs_group", ["school_year", "id"]),
    ("ix_archive_registration_person_id", "archive_registration", ["person_id"]),
    ("ix_archive_registration_school_year", "archive_registration", ["school_year", "id"]),
    ("ix_archive_funding_mark_registration_id", "archive_funding_mark", ["registration_id"]),
    ("ix_archive_club_attendance_person_id", "archive_club_attendance", ["person_id"]),
    ("ix_archive_club_direction_attendance_id", "archive_club_direction", ["attendance_id"]),
)


def upgrade() -> None:
    op.create_table(
        "archive_nvs_group",
        sa.Column("id", sa.Integer(), autoincrement=False),
        sa.Column("provider_code", sa.String(9), nullable=False),
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.Column("program_code", sa.String(9), nullable=False),
        sa.Column("purpose", sa.String(10), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("name_key", sa.String(64), nullable=False),
        sa.Column("sub_direction_codes", sa.JSON(), nullable=False),
        sa.Column("leaders", sa.JSON(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("rolled_over_from", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_nvs_group")),
    )
    op.create_table(
        "archive_registration",
        sa.Column("id", sa.Integer(), autoincrement=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("provider_code", sa.String(9), nullable=False),
        sa.Column("first_learning_date", sa.Date(), nullable=False),
        sa.Column("contract_type_code", sa.String(20), nullable=True),
        sa.Column("contract_date", sa.Date(), nullable=True),
        sa.Column("contract_number", sa.String(50), nullable=True),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("departure_date", sa.Date(), nullable=True),
        sa.Column("departure_reason_code", sa.String(20), nullable=True),
        sa.Column("departure_order_number", sa.String(50), nullable=True),
        sa.Column("cancelled_on", sa.Date(), nullable=True),
        sa.Column("cancellation_reason", sa.Text(), nullable=True),
        sa.Column("deregistered_on", sa.Date(), nullable=True),
        sa.Column("transferred_from_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_registration")),
    )
    op.create_table(
        "archive_funding_mark",
        sa.Column("id", sa.Integer(), autoincrement=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("funding_type", sa.String(20), nullable=False),
        sa.Column("from_month", sa.Date(), nullable=False),
        sa.Column("to_month", sa.Date(), nullable=False),
        sa.Column("special_needs", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_funding_mark")),
    )
    op.create_table(
        "archive_club_attendance",
        sa.Column("id", sa.Integer(), autoincrement=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("school_code", sa.String(9), nullable=False),
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("marked_on", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_club_attendance")),
    )
    op.create_table(
        "archive_club_direction",
        sa.Column("id", sa.Integer(), autoincrement=False),
        sa.Column("attendance_id", sa.Integer(), nullable=False),
        sa.Column("direction_code", sa.String(20), nullable=False),
        sa.Column("sub_direction_code", sa.String(20), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_archive_club_direction")),
    )
    op.create_table(
        "archive_state",
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_archive_state")),
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    with op.batch_alter_table("basket_claim", schema=None) as batch_op:
        batch_op.drop_constraint("fk_basket_claim_funding_mark_id_funding_mark", type_="foreignkey")
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_constraint("fk_registration_transferred_from_id_registration", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_registration_transferred_from_id_registration", "registration", ["transferred_from_id"], ["id"]
        )
    with op.batch_alter_table("basket_claim", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_basket_claim_funding_mark_id_funding_mark", "funding_mark", ["funding_mark_id"], ["id"]
        )
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
    for table in (
        "archive_state",
        "archive_club_direction",
        "archive_club_attendance",
        "archive_funding_mark",
        "archive_registration",
        "archive_nvs_group",
    ):
        op.drop_table(table)
