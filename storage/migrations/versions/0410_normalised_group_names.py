"""group names normalised (NFC, trimmed, white space collapsed) and unique as people read them

Revision ID: 0410
Revises: 0200
Create Date: 2026-12-03

Every stored name is rewritten as the gateway now stores names (``gateway.domain.text.normalise``)
and gets its ``name_key`` (``storage.repositories.group_name_key``), with a unique index on
(provider, school year, name_key).

Existing rows that collide (``main`` and ``main ``, ``Šokis`` in NFC and in NFD) are kept, never
merged or deleted: registrations point at both. The oldest group (lowest id) keeps the name; each
later one gets `` (2)``, `` (3)``... appended, the first such suffix that is free, and the migration
prints the ids it renamed (names are not personal data). A name with nothing visible left (a group
called U+200B) becomes ``Grupė <id>``. The provider renames them with UpdateGroup if it wants.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0410"
down_revision = "0400"
branch_labels = None
depends_on = None

MAX_NAME = 200


def upgrade() -> None:
    from gateway.domain.errors import RequestRejected
    from gateway.domain.text import normalise
    from storage.repositories import group_name_key

    with op.batch_alter_table("nvs_group", schema=None) as batch_op:
        # NOT NULL needs a default for the rows already there (SQLite adds the column in place).
        batch_op.add_column(sa.Column("name_key", sa.String(length=64), nullable=False, server_default=""))

    connection = op.get_bind()
    groups = sa.table(
        "nvs_group",
        sa.column("id"),
        sa.column("provider_code"),
        sa.column("school_year"),
        sa.column("name"),
        sa.column("name_key"),
    )
    rows = connection.execute(
        sa.select(groups.c.id, groups.c.provider_code, groups.c.school_year, groups.c.name).order_by(groups.c.id)
    ).all()
    taken: set[tuple[str, int, str]] = set()
    final: dict[int, str] = {}
    for row in rows:
        try:
            name = normalise(row.name, field="name")
        except RequestRejected:
            name = f"Grupė {row.id}"
        candidate, suffix = name, 1
        while (row.provider_code, row.school_year, group_name_key(candidate)) in taken:
            suffix += 1
            ending = f" ({suffix})"
            candidate = name[: MAX_NAME - len(ending)] + ending
        taken.add((row.provider_code, row.school_year, group_name_key(candidate)))
        final[row.id] = candidate
    renamed = [row.id for row in rows if final[row.id] != row.name]
    # The old unique (provider, year, name) holds during the update: the names that change first
    # step aside to a placeholder no request can have held (U+FFFE is not allowed in XML).
    for group_id in renamed:
        connection.execute(sa.update(groups).where(groups.c.id == group_id).values(name=f"\ufffe{group_id}"))
    for row in rows:
        connection.execute(
            sa.update(groups)
            .where(groups.c.id == row.id)
            .values(name=final[row.id], name_key=group_name_key(final[row.id]))
        )
    if renamed:
        print(
            f"0410: {len(renamed)} group name(s) normalised or suffixed (colliding with an older group's): ids {renamed}"
        )

    with op.batch_alter_table("nvs_group", schema=None) as batch_op:
        batch_op.create_index("uq_nvs_group_name_key", ["provider_code", "school_year", "name_key"], unique=True)
    if connection.dialect.name == "postgresql":
        op.alter_column("nvs_group", "name_key", server_default=None)


def downgrade() -> None:
    # Not in batch mode: recreating nvs_group on SQLite would trip the registrations' foreign keys
    # (SQLite 3.35+ drops a column in place). The normalised names stay as they are.
    op.drop_index("uq_nvs_group_name_key", table_name="nvs_group")
    op.drop_column("nvs_group", "name_key")
