"""GP registration: practice organisations tied to the gp-practice register, registrations, and
the consent requests sent to named relatives.

Revision ID: gp_registration_0001
Revises:
Create Date: 2027-01-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "gp_registration_0001"
down_revision = None
branch_labels = ("gp_registration",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gp_practices",
        sa.Column("organisation", sa.String(64), nullable=False),
        sa.Column("ods_code", sa.String(16), nullable=False),
        sa.Column("linked_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("organisation", name="pk_gp_practices"),
        sa.UniqueConstraint("ods_code", name="uq_gp_practices_ods_code"),
    )
    op.create_table(
        "gp_registrations",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("practice", sa.String(64), nullable=False),
        sa.Column("ods_code", sa.String(16), nullable=False),
        sa.Column("previous", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(43), nullable=False),
        sa.Column("consent", sa.String(64), nullable=False),
        sa.Column("log_index", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gp_registrations"),
    )
    op.create_table(
        "gp_relatives",
        sa.Column("registration", sa.String(32), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("relationship", sa.String(32), nullable=False),
        sa.Column("practice", sa.String(64), nullable=False),
        sa.Column("request", sa.String(32), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration"], ["gp_registrations.id"], name="fk_gp_relatives_registration"
        ),
        sa.PrimaryKeyConstraint("registration", "position", name="pk_gp_relatives"),
    )


def downgrade() -> None:
    op.drop_table("gp_relatives")
    op.drop_table("gp_registrations")
    op.drop_table("gp_practices")
