"""access control: users from registration requests, rights and scope, nonces, lockout, access log

Revision ID: 0100
Revises: 0002
Create Date: 2026-11-28

On PostgreSQL the access log is append-only: triggers refuse UPDATE always, and DELETE
or TRUNCATE unless the transaction set ``nvs.access_log_purge`` to ``on`` (only
``nvs-gateway access-log purge`` does). On SQLite (embedded, development) UPDATE is
refused; DELETE is not guarded (SQLite has no session settings a trigger could read).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0100"
down_revision = "0002"
branch_labels = None
depends_on = None

LOG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

PG_GUARD = """
CREATE FUNCTION nvs_access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(current_setting('nvs.access_log_purge', true), '') = 'on' THEN
    IF TG_OP = 'DELETE' THEN
      RETURN OLD;
    ELSIF TG_OP = 'TRUNCATE' THEN
      RETURN NULL;
    END IF;
  END IF;
  RAISE EXCEPTION 'the access log is append-only: % on % is refused', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'insufficient_privilege';
END;
$$
"""


def upgrade() -> None:
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("scope_kind", sa.String(length=20), server_default="institution", nullable=False))
        batch_op.alter_column("institution_code", existing_type=sa.String(length=9), nullable=True)
        batch_op.add_column(sa.Column("municipality_code", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("rights", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("valid_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("valid_until", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("first_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("last_name", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("issued_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("digest_secret", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("password_changed_at", sa.DateTime(timezone=True), nullable=True))
    # Users from before rights existed keep working as they did: managers of everything the gateway uses.
    op.execute(
        "UPDATE app_user SET rights = '["
        '{"area": "student-personal-data", "level": "manager"}, {"area": "student-learning-data", "level": "manager"}, '
        '{"area": "registration-correction", "level": "manager"}, {"area": "basket-calculation", "level": "manager"}, '
        '{"area": "list-forming", "level": "manager"}'
        "]'"
    )
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        batch_op.alter_column("rights", existing_type=sa.JSON(), nullable=False)

    op.create_table(
        "user_registration_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("personal_code", sa.String(length=11), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("phone", sa.String(length=30), nullable=False),
        sa.Column("position", sa.String(length=200), nullable=False),
        sa.Column("employer_code", sa.String(length=9), nullable=False),
        sa.Column("employer_name", sa.String(length=300), nullable=False),
        sa.Column("workplace_address", sa.String(length=300), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("filled_on", sa.Date(), nullable=False),
        sa.Column("law_read", sa.Boolean(), nullable=False),
        sa.Column("regulations_read", sa.Boolean(), nullable=False),
        sa.Column("manual_read", sa.Boolean(), nullable=False),
        sa.Column("pledge_signed", sa.Boolean(), nullable=False),
        sa.Column("scope_kind", sa.String(length=20), nullable=False),
        sa.Column("scope_code", sa.String(length=20), nullable=True),
        sa.Column("rights", sa.JSON(), nullable=False),
        sa.Column("issued_by", sa.String(length=100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_user_registration_request_user_id_app_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_registration_request")),
        sa.UniqueConstraint("user_id", name=op.f("uq_user_registration_request_user_id")),
    )
    with op.batch_alter_table("user_registration_request", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_registration_request_personal_code"), ["personal_code"], unique=False)

    op.create_table(
        "used_nonce",
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("digest", name=op.f("pk_used_nonce")),
    )
    with op.batch_alter_table("used_nonce", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_used_nonce_expires_at"), ["expires_at"], unique=False)

    op.create_table(
        "login_failure",
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_login_failure")),
    )
    with op.batch_alter_table("login_failure", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_login_failure_locked_until"), ["locked_until"], unique=False)

    op.create_table(
        "access_log",
        sa.Column("id", LOG_ID, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=100), nullable=True),
        sa.Column("scope_kind", sa.String(length=20), nullable=True),
        sa.Column("scope_code", sa.String(length=20), nullable=True),
        sa.Column("operation", sa.String(length=50), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=500), nullable=True),
        sa.Column("xroad_client", sa.String(length=300), nullable=True),
        sa.Column("xroad_user_id", sa.String(length=100), nullable=True),
        sa.Column("xroad_issue", sa.String(length=500), nullable=True),
        sa.Column("outcome", sa.String(length=50), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_log_request_id"), ["request_id"], unique=False)

    op.create_table(
        "access_log_person",
        sa.Column("id", LOG_ID, nullable=False),
        sa.Column("access_log_id", LOG_ID, nullable=False),
        sa.Column("personal_code", sa.String(length=11), nullable=False),
        sa.ForeignKeyConstraint(
            ["access_log_id"], ["access_log.id"], name=op.f("fk_access_log_person_access_log_id_access_log")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log_person")),
    )
    with op.batch_alter_table("access_log_person", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_log_person_access_log_id"), ["access_log_id"], unique=False)
        batch_op.create_index("ix_access_log_person_code", ["personal_code", "access_log_id"], unique=False)

    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(PG_GUARD)
        for table in ("access_log", "access_log_person"):
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION nvs_access_log_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION nvs_access_log_append_only()"
            )
    elif dialect == "sqlite":
        for table in ("access_log", "access_log_person"):
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'the access log is append-only: UPDATE on {table} is refused'); END"
            )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in ("access_log", "access_log_person"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION IF EXISTS nvs_access_log_append_only()")
    elif dialect == "sqlite":
        for table in ("access_log", "access_log_person"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only")
    op.drop_table("access_log_person")
    op.drop_table("access_log")
    op.drop_table("login_failure")
    op.drop_table("used_nonce")
    op.drop_table("user_registration_request")
    with op.batch_alter_table("app_user", schema=None) as batch_op:
        for column in (
            "password_changed_at",
            "digest_secret",
            "issued_by",
            "last_name",
            "first_name",
            "valid_until",
            "valid_from",
            "rights",
            "municipality_code",
            "scope_kind",
        ):
            batch_op.drop_column(column)
        batch_op.alter_column("institution_code", existing_type=sa.String(length=9), nullable=False)
