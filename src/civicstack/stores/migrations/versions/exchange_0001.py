"""The data exchange: published data services, hosted records, access-log subjects' chains.

Revision ID: exchange_0001
Revises:
Create Date: 2027-01-10
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "exchange_0001"
down_revision = None
branch_labels = ("exchange",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exchange_services",
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("categories", sa.Text, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.Text, nullable=True),
        sa.Column("published_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("provider", "name", name="pk_exchange_services"),
        sa.CheckConstraint("kind IN ('hosted', 'remote')", name="ck_exchange_services_kind"),
    )
    op.create_table(
        "exchange_records",
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("record", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("provider", "service", "subject", name="pk_exchange_records"),
    )
    op.create_table(
        "access_subjects",
        sa.Column("log_subject", sa.String(128), nullable=False),
        sa.Column("count", sa.BigInteger, nullable=False),
        sa.Column("last", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("log_subject", name="pk_access_subjects"),
    )


def downgrade() -> None:
    op.drop_table("access_subjects")
    op.drop_table("exchange_records")
    op.drop_table("exchange_services")
