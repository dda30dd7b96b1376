"""retention: erased learners

Revision ID: 0700
Revises: 0620
Create Date: 2026-12-03

* ``person.erased_on``: the day a learner's personal data, past its retention, was replaced by a
  pseudonym (gateway/retention.py); such persons are not compared with GR again.
* indexes on the personal code of ``change_event`` and ``notice``: erasing a batch of learners replaces
  their codes there, which without them is a scan of the whole feed per batch.

Downgrade drops the column: erased persons stay pseudonymised (nothing can bring their data back), and
a later upgrade finds them again by their pseudonyms.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0700"
down_revision = "0620"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("person", sa.Column("erased_on", sa.Date(), nullable=True))
    # Persons pseudonymised before a downgrade and upgrade: their codes start with 0, no real code does.
    op.execute("UPDATE person SET erased_on = CURRENT_DATE WHERE personal_code LIKE '0%'")
    op.create_index("ix_change_event_personal_code", "change_event", ["personal_code"])
    op.create_index("ix_notice_personal_code", "notice", ["personal_code"])


def downgrade() -> None:
    op.drop_index("ix_notice_personal_code", table_name="notice")
    op.drop_index("ix_change_event_personal_code", table_name="change_event")
    with op.batch_alter_table("person") as batch:
        batch.drop_column("erased_on")
