"""clubs attended, formal enrolments, and indexes for the lists' stable orders

Revision ID: 0200
Revises: 0300
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0200"
down_revision = "0300"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "club_attendance",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("school_code", sa.String(length=9), nullable=False),
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("marked_on", sa.Date(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.ForeignKeyConstraint(["person_id"], ["person.id"], name=op.f("fk_club_attendance_person_id_person")),
        sa.ForeignKeyConstraint(
            ["school_code"], ["institution.code"], name=op.f("fk_club_attendance_school_code_institution")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_club_attendance")),
    )
    with op.batch_alter_table("club_attendance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_club_attendance_person_id"), ["person_id"], unique=False)
        batch_op.create_index("ix_club_attendance_school_year_id", ["school_code", "school_year", "id"], unique=False)
        batch_op.create_index(
            "uq_club_attendance_active_person_school_year",
            ["person_id", "school_code", "school_year"],
            unique=True,
            sqlite_where=sa.text("end_date IS NULL"),
            postgresql_where=sa.text("end_date IS NULL"),
        )

    op.create_table(
        "club_direction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("attendance_id", sa.Integer(), nullable=False),
        sa.Column("direction_code", sa.String(length=20), nullable=False),
        sa.Column("sub_direction_code", sa.String(length=20), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["attendance_id"],
            ["club_attendance.id"],
            name=op.f("fk_club_direction_attendance_id_club_attendance"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_club_direction")),
    )
    with op.batch_alter_table("club_direction", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_club_direction_attendance_id"), ["attendance_id"], unique=False)
        batch_op.create_index("ix_club_direction_direction_code", ["direction_code", "attendance_id"], unique=False)

    op.create_table(
        "school_enrolment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("personal_code", sa.String(length=11), nullable=False),
        sa.Column("school_code", sa.String(length=9), nullable=False),
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("to_date", sa.Date(), nullable=True),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.text("(CURRENT_TIMESTAMP)"), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["school_code"], ["institution.code"], name=op.f("fk_school_enrolment_school_code_institution")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_school_enrolment")),
        sa.UniqueConstraint(
            "personal_code", "school_year", "school_code", name=op.f("uq_school_enrolment_personal_code")
        ),
    )
    with op.batch_alter_table("school_enrolment", schema=None) as batch_op:
        batch_op.create_index("ix_school_enrolment_school_year", ["school_code", "school_year"], unique=False)

    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.create_index("ix_registration_provider_id", ["provider_code", "id"], unique=False)
        batch_op.create_index(
            "ix_registration_provider_departure", ["provider_code", "departure_date", "id"], unique=False
        )
        batch_op.create_index("ix_registration_departure_id", ["departure_date", "id"], unique=False)
        batch_op.create_index("ix_registration_first_learning", ["first_learning_date"], unique=False)

    with op.batch_alter_table("basket_claim", schema=None) as batch_op:
        batch_op.create_index("ix_basket_claim_month", ["month", "funding_mark_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("basket_claim", schema=None) as batch_op:
        batch_op.drop_index("ix_basket_claim_month")

    with op.batch_alter_table("registration", schema=None) as batch_op:
        batch_op.drop_index("ix_registration_first_learning")
        batch_op.drop_index("ix_registration_departure_id")
        batch_op.drop_index("ix_registration_provider_departure")
        batch_op.drop_index("ix_registration_provider_id")

    with op.batch_alter_table("school_enrolment", schema=None) as batch_op:
        batch_op.drop_index("ix_school_enrolment_school_year")
    op.drop_table("school_enrolment")

    with op.batch_alter_table("club_direction", schema=None) as batch_op:
        batch_op.drop_index("ix_club_direction_direction_code")
        batch_op.drop_index(batch_op.f("ix_club_direction_attendance_id"))
    op.drop_table("club_direction")

    with op.batch_alter_table("club_attendance", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_club_attendance_active_person_school_year",
            sqlite_where=sa.text("end_date IS NULL"),
            postgresql_where=sa.text("end_date IS NULL"),
        )
        batch_op.drop_index("ix_club_attendance_school_year_id")
        batch_op.drop_index(batch_op.f("ix_club_attendance_person_id"))
    op.drop_table("club_attendance")
