"""Witnesses' cosignatures of the logs' checkpoints (``log_cosignatures``; C2SP
tlog-cosignature, tlog-witness).

Revision ID: cosignatures_0001
Revises:
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "cosignatures_0001"
down_revision = None
branch_labels = ("cosignatures",)
depends_on = "log_0002"


def upgrade() -> None:
    op.create_table(
        "log_cosignatures",
        sa.Column("log_id", sa.Integer, nullable=False),
        sa.Column("witness", sa.String(300), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("timestamp", sa.BigInteger, nullable=False),
        sa.Column("line", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("log_id", "witness", "size", name="pk_log_cosignatures"),
        sa.ForeignKeyConstraint(
            ["log_id"], ["log_logs.id"], name="fk_log_cosignatures_log_id_log_logs"
        ),
    )
    # Serving a checkpoint reads the lines of one (log, size).
    op.create_index("ix_log_cosignatures_size", "log_cosignatures", ["log_id", "size"])


def downgrade() -> None:
    op.drop_index("ix_log_cosignatures_size", table_name="log_cosignatures")
    op.drop_table("log_cosignatures")
