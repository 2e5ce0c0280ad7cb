"""Tell us once: change reports, the electoral roll, opt-outs and registered births.

Revision ID: changes_0001
Revises:
Create Date: 2026-02-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "changes_0001"
down_revision = None
branch_labels = ("changes",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "change_reports",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("signer", sa.String(200), nullable=False),
        sa.Column("jti", sa.String(64), nullable=True),
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("event_type", sa.String(128), nullable=False),
        sa.Column("signed", sa.Text, nullable=False),
        sa.Column("presentation", sa.Text, nullable=True),
        sa.Column("created_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_change_reports"),
        sa.UniqueConstraint("signer", "jti", name="uq_change_reports_signer_jti"),
    )
    op.create_index("ix_change_reports_event_id", "change_reports", ["event_id"])
    op.create_table(
        "electoral_roll",
        sa.Column("seq", sa.Integer, autoincrement=True, nullable=False),
        sa.Column("elector", sa.String(43), nullable=False),
        sa.Column("authority", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(43), nullable=False),
        sa.Column("uprn", sa.String(12), nullable=False),
        sa.Column("registered_at", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("removed_at", sa.BigInteger, nullable=True),
        sa.Column("removed_reason", sa.String(16), nullable=True),
        sa.PrimaryKeyConstraint("seq", name="pk_electoral_roll"),
    )
    op.create_index("ix_electoral_roll_elector", "electoral_roll", ["elector", "removed_at"])
    op.create_index(
        "ix_electoral_roll_authority", "electoral_roll", ["authority", "removed_at", "seq"]
    )
    op.create_table(
        "electoral_opt_outs",
        sa.Column("elector", sa.String(43), nullable=False),
        sa.Column("opted_out_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("elector", name="pk_electoral_opt_outs"),
    )
    op.create_table(
        "electoral_births",
        sa.Column("elector", sa.String(43), nullable=False),
        sa.Column("country", sa.String(8), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("birthdate", sa.String(10), nullable=False),
        sa.Column("adult_at", sa.BigInteger, nullable=False),
        sa.Column("uprn", sa.String(12), nullable=True),
        sa.Column("placed_at", sa.BigInteger, nullable=True),
        sa.Column("died_at", sa.BigInteger, nullable=True),
        sa.PrimaryKeyConstraint("elector", name="pk_electoral_births"),
    )
    op.create_index("ix_electoral_births_adult_at", "electoral_births", ["adult_at"])


def downgrade() -> None:
    op.drop_table("electoral_births")
    op.drop_table("electoral_opt_outs")
    op.drop_table("electoral_roll")
    op.drop_table("change_reports")
