"""Leaf rows keyed by their slot in the entry bundle (``log_leaves.slot``), overwritten in place.

``log_leaves`` was keyed by ``(log_id, idx)``, and a filled bundle's leaves were deleted: each
bundle's 255 rows grew the b-tree from empty again, splitting a leaf page every ~60 rows, and
SQLite's cheap append-at-the-end split applies only to rowid tables, so a split rewrote the
page, its new sibling, the parent and the freelist (1.2 WAL frames per one-entry commit against
1.01 for a bare one-row commit). Keyed by ``(log_id, idx % 256)`` the rows are written over
bundle after bundle: after a log's first bundle its pages neither split nor move, and a
one-entry commit writes one page. A row whose ``idx`` is below the partial bundle is stale (its
bundle is stored whole) and waits to be overwritten.

Revision ID: log_0003
Revises: log_0002
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from civicstack.log.tiles import TILE_WIDTH

revision = "log_0003"
down_revision = "log_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    # Only the partial bundles' leaves are stored (log_0002 deletes a bundle's leaves when it
    # fills): at most 255 rows a log, and their slots are distinct.
    rows = conn.execute(sa.text("SELECT log_id, idx, hash, entry FROM log_leaves")).all()
    op.drop_table("log_leaves")
    op.create_table(
        "log_leaves",
        sa.Column("log_id", sa.Integer, nullable=False),
        sa.Column("slot", sa.SmallInteger, nullable=False),
        sa.Column("idx", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
        sa.Column("entry", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("log_id", "slot", name="pk_log_leaves"),
        sa.ForeignKeyConstraint(["log_id"], ["log_logs.id"], name="fk_log_leaves_log_id_log_logs"),
        # One b-tree keyed by (log_id, slot), not a rowid table plus its primary-key index.
        sqlite_with_rowid=False,
    )
    if rows:
        conn.execute(
            sa.text(
                "INSERT INTO log_leaves (log_id, slot, idx, hash, entry)"
                " VALUES (:l, :s, :i, :h, :e)"
            ),
            [
                {"l": r[0], "s": int(r[1]) % TILE_WIDTH, "i": r[1], "h": r[2], "e": r[3]}
                for r in rows
            ],
        )


def downgrade() -> None:
    conn = op.get_bind()
    # Keep the leaves of each log's partial bundle: a log's size is the larger of its row's
    # and one past its last leaf; rows below the partial bundle are stale (stored in bundles).
    rows = conn.execute(sa.text("SELECT log_id, idx, hash, entry FROM log_leaves")).all()
    sizes = {int(r[0]): int(r[1]) for r in conn.execute(sa.text("SELECT id, size FROM log_logs"))}
    for r in rows:
        sizes[int(r[0])] = max(sizes[int(r[0])], int(r[1]) + 1)
    rows = [r for r in rows if int(r[1]) >= sizes[int(r[0])] // TILE_WIDTH * TILE_WIDTH]
    op.drop_table("log_leaves")
    op.create_table(
        "log_leaves",
        sa.Column("log_id", sa.Integer, nullable=False),
        sa.Column("idx", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
        sa.Column("entry", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("log_id", "idx", name="pk_log_leaves"),
        sa.ForeignKeyConstraint(["log_id"], ["log_logs.id"], name="fk_log_leaves_log_id_log_logs"),
        sqlite_with_rowid=False,
    )
    if rows:
        conn.execute(
            sa.text("INSERT INTO log_leaves (log_id, idx, hash, entry) VALUES (:l, :i, :h, :e)"),
            [{"l": r[0], "i": r[1], "h": r[2], "e": r[3]} for r in rows],
        )
