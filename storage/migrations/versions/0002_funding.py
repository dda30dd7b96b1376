"""funding marks, basket claims and basket rates

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "basket_rate",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("municipality_code", sa.String(length=20), nullable=True),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("monthly_amount", sa.Numeric(precision=10, scale=2), nullable=False),
        sa.Column("priority_factor", sa.Numeric(precision=6, scale=3), nullable=False),
        sa.Column("special_needs_factor", sa.Numeric(precision=6, scale=3), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_basket_rate")),
        sa.UniqueConstraint("municipality_code", "effective_from", name=op.f("uq_basket_rate_municipality_code")),
    )
    op.create_table(
        "funding_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("funding_type", sa.String(length=20), nullable=False),
        sa.Column("from_month", sa.Date(), nullable=False),
        sa.Column("to_month", sa.Date(), nullable=False),
        sa.Column("special_needs", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"], ["registration.id"], name=op.f("fk_funding_mark_registration_id_registration")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funding_mark")),
    )
    with op.batch_alter_table("funding_mark", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_funding_mark_registration_id"), ["registration_id"], unique=False)

    op.create_table(
        "basket_claim",
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("funding_mark_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["funding_mark_id"], ["funding_mark.id"], name=op.f("fk_basket_claim_funding_mark_id_funding_mark")
        ),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_basket_claim_person_id_person")),
        sa.PrimaryKeyConstraint("person_id", "month", name=op.f("pk_basket_claim")),
    )
    with op.batch_alter_table("basket_claim", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_basket_claim_funding_mark_id"), ["funding_mark_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("basket_claim", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_basket_claim_funding_mark_id"))

    op.drop_table("basket_claim")
    with op.batch_alter_table("funding_mark", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_funding_mark_registration_id"))

    op.drop_table("funding_mark")
    op.drop_table("basket_rate")
