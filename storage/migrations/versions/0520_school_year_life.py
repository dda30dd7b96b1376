"""the life of a school year: closed groups, rollover copies, transferred registrations

Revision ID: 0520
Revises: 0510
Create Date: 2026-12-02

* ``nvs_group.closed_on``: CloseGroup's date (a closed group accepts no registrations);
* ``nvs_group.rolled_over_from``: the group of the previous school year a group was copied from
  by RollOverGroups, unique (one copy per group: a second rollover finds it instead of copying);
  set to NULL when the origin is deleted (DeleteGroup deletes only groups never registered in);
* ``registration.transferred_from_id``: the registration a registration continues after
  TransferStudent or a rollover with learners (indexed: a learner's history is followed both ways).

All three columns are empty for existing rows; downgrade drops them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0520"
down_revision = "0510"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("nvs_group", schema=None) as batch_op:
        batch_op.add_column(sa.Column("closed_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("rolled_over_from", sa.Integer(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_nvs_group_rolled_over_from"), ["rolled_over_from"])
        batch_op.create_foreign_key(
            batch_op.f("fk_nvs_group_rolled_over_from_nvs_group"),
            "nvs_group",
            ["rolled_over_from"],
            ["id"],
            ondelete="SET NULL",
        )
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("transferred_from_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_registration_transferred_from_id"), ["transferred_from_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_registration_transferred_from_id_registration"),
            "registration",
            ["transferred_from_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_registration_transferred_from_id_registration"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_registration_transferred_from_id"))
        batch_op.drop_column("transferred_from_id")
    with op.batch_alter_table("nvs_group", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_nvs_group_rolled_over_from_nvs_group"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_nvs_group_rolled_over_from"), type_="unique")
        batch_op.drop_column("rolled_over_from")
        batch_op.drop_column("closed_on")
