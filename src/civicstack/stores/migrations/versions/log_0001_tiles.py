"""Merkle logs stored as C2SP tlog-tiles: logs, tiles, entry bundles, signed checkpoints.

Revision ID: log_0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "log_0001"
down_revision = None
branch_labels = ("log",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_logs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("origin", sa.String(256), nullable=False),
        sa.Column("verifier_key", sa.Text, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("checkpoint", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_log_logs"),
        sa.UniqueConstraint("name", name="uq_log_logs_name"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "log_tiles",
        sa.Column("log_id", sa.Integer, nullable=False),
        sa.Column("level", sa.SmallInteger, nullable=False),
        sa.Column("idx", sa.BigInteger, nullable=False),
        sa.Column("hashes", sa.LargeBinary, nullable=False),
        sa.Column("inner_hashes", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("log_id", "level", "idx", name="pk_log_tiles"),
        sa.ForeignKeyConstraint(["log_id"], ["log_logs.id"], name="fk_log_tiles_log_id_log_logs"),
    )
    op.create_table(
        "log_bundles",
        sa.Column("log_id", sa.Integer, nullable=False),
        sa.Column("idx", sa.BigInteger, nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("log_id", "idx", name="pk_log_bundles"),
        sa.ForeignKeyConstraint(["log_id"], ["log_logs.id"], name="fk_log_bundles_log_id_log_logs"),
    )
    op.create_table(
        "log_checkpoints",
        sa.Column("log_id", sa.Integer, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("root", sa.LargeBinary, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("log_id", "size", name="pk_log_checkpoints"),
        sa.ForeignKeyConstraint(
            ["log_id"], ["log_logs.id"], name="fk_log_checkpoints_log_id_log_logs"
        ),
    )
    if op.get_bind().dialect.name == "postgresql":
        # Hashes do not compress: store tiles and bundles out of line uncompressed, which also
        # lets PostgreSQL fetch a slice of a tile without reading all of it.
        for table, column in (
            ("log_tiles", "hashes"),
            ("log_tiles", "inner_hashes"),
            ("log_bundles", "data"),
        ):
            op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.drop_table("log_checkpoints")
    op.drop_table("log_bundles")
    op.drop_table("log_tiles")
    op.drop_table("log_logs")
