"""The access log's subject map (issue 12): its nodes, and where each subject's entries are.

``access_map_nodes`` holds the sparse Merkle tree of :mod:`civicstack.access.subject_map`, one
row per stored node (id = depth and key prefix; a leaf's key and value, or a branch's hash);
``access_tags`` maps each entry's subject tag to its index in the log, so a citizen's history
is read by the tags their key computes.

Revision ID: exchange_0002
Revises: exchange_0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "exchange_0002"
down_revision = "exchange_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_map_nodes",
        sa.Column("id", sa.LargeBinary, nullable=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
        sa.Column("leaf_key", sa.LargeBinary, nullable=True),
        sa.Column("leaf_value", sa.LargeBinary, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_access_map_nodes"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "access_tags",
        sa.Column("tag", sa.LargeBinary, nullable=False),
        sa.Column("idx", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("tag", name="pk_access_tags"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("access_tags")
    op.drop_table("access_map_nodes")
