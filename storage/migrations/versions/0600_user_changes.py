"""the administration's record of changes to users (contract 1.8)

Revision ID: 0600
Revises: 0520
Create Date: 2026-12-02

``user_change``: one row per change an administrator or coordinator made to a user through
ChangeUserRights, SetUserValidity, DisableUser, EnableUser or ResetPassword (or the console's
``users disable/enable``): when, to which user, what (never a password), and by whom. Rows are
only added. The registration itself stays recorded in ``user_registration_request``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0600"
down_revision = "0520"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_change",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), sa.ForeignKey("app_user.id"), nullable=False, index=True),
        sa.Column("operation", sa.String(50), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=True),
        sa.Column("by_username", sa.String(100), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("user_change")
