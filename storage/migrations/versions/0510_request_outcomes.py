"""the answers given to requests sent with a request id, replayed to retries (issue 10, point 1)

Revision ID: 0510
Revises: 0500
Create Date: 2026-12-02

``request_outcome`` holds, per user and request id (``nvs:requestId`` or the X-Road ``id``), a keyed
digest of the request's SOAP Body and the response element the call answered with, written in the
call's own transaction. A retry of the same request gets the same answer and nothing is written
twice. The same table on SQLite and PostgreSQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0510"
down_revision = "0500"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_outcome",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("operation", sa.String(length=50), nullable=False),
        sa.Column("body_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=True),
        sa.Column("sealed_response", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "request_id", name=op.f("pk_request_outcome")),
    )
    op.create_index(op.f("ix_request_outcome_created_at"), "request_outcome", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_request_outcome_created_at"), table_name="request_outcome")
    op.drop_table("request_outcome")
