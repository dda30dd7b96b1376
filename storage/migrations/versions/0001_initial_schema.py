"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "classifier_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("name_en", sa.String(length=300), nullable=False),
        sa.Column("parent", sa.String(length=20), nullable=True),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_classifier_entry")),
        sa.UniqueConstraint("kind", "code", name=op.f("uq_classifier_entry_kind")),
    )
    op.create_table(
        "institution",
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("municipality_code", sa.String(length=20), nullable=False),
        sa.Column("ownership_code", sa.String(length=20), nullable=False),
        sa.Column("group_code", sa.String(length=20), nullable=False),
        sa.Column("purpose_codes", sa.JSON(), nullable=False),
        sa.Column("deregistered_on", sa.Date(), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_institution")),
    )
    op.create_table(
        "person",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("personal_code", sa.String(length=11), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("sex", sa.String(length=1), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("deceased_on", sa.Date(), nullable=True),
        sa.Column("residence_municipality_code", sa.String(length=20), nullable=True),
        sa.Column("residence_municipality_name", sa.String(length=300), nullable=True),
        sa.Column("residence_address", sa.String(length=300), nullable=True),
        sa.Column("departed_abroad_on", sa.Date(), nullable=True),
        sa.Column("checked_in_population_register_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
        sa.UniqueConstraint("personal_code", name=op.f("uq_person_personal_code")),
    )
    op.create_table(
        "reference_data_version",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("version", sa.String(length=40), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_reference_data_version")),
    )
    op.create_table(
        "app_user",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("institution_code", sa.String(length=9), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["institution_code"], ["institution.code"], name=op.f("fk_app_user_institution_code_institution")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_user")),
        sa.UniqueConstraint("username", name=op.f("uq_app_user_username")),
    )
    op.create_table(
        "program",
        sa.Column("code", sa.String(length=9), nullable=False),
        sa.Column("name", sa.String(length=500), nullable=False),
        sa.Column("provider_code", sa.String(length=9), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("direction_codes", sa.JSON(), nullable=False),
        sa.Column("registered_on", sa.Date(), nullable=True),
        sa.Column("accredited_on", sa.Date(), nullable=True),
        sa.Column("deregistered_on", sa.Date(), nullable=True),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["provider_code"], ["institution.code"], name=op.f("fk_program_provider_code_institution")
        ),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_program")),
    )
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_program_provider_code"), ["provider_code"], unique=False)

    op.create_table(
        "nvs_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider_code", sa.String(length=9), nullable=False),
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.Column("program_code", sa.String(length=9), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sub_direction_codes", sa.JSON(), nullable=False),
        sa.Column("leaders", sa.JSON(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.ForeignKeyConstraint(["program_code"], ["program.code"], name=op.f("fk_nvs_group_program_code_program")),
        sa.ForeignKeyConstraint(
            ["provider_code"], ["institution.code"], name=op.f("fk_nvs_group_provider_code_institution")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nvs_group")),
        sa.UniqueConstraint("provider_code", "school_year", "name", name=op.f("uq_nvs_group_provider_code")),
    )
    op.create_table(
        "registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("provider_code", sa.String(length=9), nullable=False),
        sa.Column("first_learning_date", sa.Date(), nullable=False),
        sa.Column("contract_type_code", sa.String(length=20), nullable=True),
        sa.Column("contract_date", sa.Date(), nullable=True),
        sa.Column("contract_number", sa.String(length=50), nullable=True),
        sa.Column("registered_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("departure_date", sa.Date(), nullable=True),
        sa.Column("departure_reason_code", sa.String(length=20), nullable=True),
        sa.Column("departure_order_number", sa.String(length=50), nullable=True),
        sa.Column("cancelled_on", sa.Date(), nullable=True),
        sa.Column("cancellation_reason", sa.Text(), nullable=True),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.ForeignKeyConstraint(["group_id"], ["nvs_group.id"], name=op.f("fk_registration_group_id_nvs_group")),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_registration_person_id_person")),
        sa.ForeignKeyConstraint(
            ["provider_code"], ["institution.code"], name=op.f("fk_registration_provider_code_institution")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registration")),
    )
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_registration_group_id"), ["group_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_registration_person_id"), ["person_id"], unique=False)
        batch_op.create_index("ix_registration_provider_status", ["provider_code", "status"], unique=False)
        batch_op.create_index(
            "uq_registration_active_person_group",
            ["person_id", "group_id"],
            unique=True,
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_registration_active_person_group",
            sqlite_where=sa.text("status = 'active'"),
            postgresql_where=sa.text("status = 'active'"),
        )
        batch_op.drop_index("ix_registration_provider_status")
        batch_op.drop_index(batch_op.f("ix_registration_person_id"))
        batch_op.drop_index(batch_op.f("ix_registration_group_id"))

    op.drop_table("registration")
    op.drop_table("nvs_group")
    with op.batch_alter_table("program", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_program_provider_code"))

    op.drop_table("program")
    op.drop_table("app_user")
    op.drop_table("reference_data_version")
    op.drop_table("person")
    op.drop_table("institution")
    op.drop_table("classifier_entry")
