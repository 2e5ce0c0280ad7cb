"""Issuance: documents expired under the retention schedule; submission rate buckets.

Revision ID: issuance_0002
Revises: issuance_0001
Create Date: 2026-01-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "issuance_0002"
down_revision = "issuance_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("issuance_applications") as batch:
        batch.add_column(sa.Column("documents_expired_at", sa.BigInteger, nullable=True))
    op.create_table(
        "issuance_submission_buckets",
        sa.Column("client", sa.String(64), nullable=False),
        sa.Column("arrival", sa.Float, nullable=False),
        sa.PrimaryKeyConstraint("client", name="pk_issuance_submission_buckets"),
    )


def downgrade() -> None:
    op.drop_table("issuance_submission_buckets")
    with op.batch_alter_table("issuance_applications") as batch:
        batch.drop_column("documents_expired_at")
