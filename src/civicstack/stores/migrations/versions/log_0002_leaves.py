"""The entries of each log's partial entry bundle as one row each (``log_leaves``).

A one-entry append used to rewrite the partial level-0 tile and entry bundle (up to 11 KB and
its overflow pages) in every commit; now it inserts one row, and the tile and bundle are written
once, when they fill. Existing partial level-0 tiles and bundles move into the new table.

Revision ID: log_0002
Revises: log_0001
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from civicstack.log import leaf_hash
from civicstack.log.tiles import TILE_WIDTH, decode_bundle

revision = "log_0002"
down_revision = "log_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "log_leaves",
        sa.Column("log_id", sa.Integer, nullable=False),
        sa.Column("idx", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.LargeBinary, nullable=False),
        sa.Column("entry", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("log_id", "idx", name="pk_log_leaves"),
        sa.ForeignKeyConstraint(["log_id"], ["log_logs.id"], name="fk_log_leaves_log_id_log_logs"),
        # One b-tree keyed by (log_id, idx), not a rowid table plus its primary-key index: an
        # append then writes one page of this table, not two.
        sqlite_with_rowid=False,
    )
    conn = op.get_bind()
    logs = conn.execute(sa.text("SELECT id, size FROM log_logs")).all()
    for log_id, size in logs:
        if not size % TILE_WIDTH:
            continue
        bundle = size // TILE_WIDTH
        data = conn.execute(
            sa.text("SELECT data FROM log_bundles WHERE log_id = :l AND idx = :i"),
            {"l": log_id, "i": bundle},
        ).scalar_one()
        entries = decode_bundle(bytes(data))[: size % TILE_WIDTH]
        rows = [
            {"l": log_id, "i": bundle * TILE_WIDTH + k, "h": leaf_hash(e), "e": e}
            for k, e in enumerate(entries)
        ]
        conn.execute(
            sa.text("INSERT INTO log_leaves (log_id, idx, hash, entry) VALUES (:l, :i, :h, :e)"),
            rows,
        )
        params = {"l": log_id, "i": bundle}
        conn.execute(sa.text("DELETE FROM log_bundles WHERE log_id = :l AND idx = :i"), params)
        conn.execute(
            sa.text("DELETE FROM log_tiles WHERE log_id = :l AND level = 0 AND idx = :i"), params
        )


def downgrade() -> None:
    conn = op.get_bind()
    from civicstack.log.tiles import Tile, encode_bundle

    logs = conn.execute(sa.text("SELECT id, size FROM log_logs")).all()
    for log_id, size in logs:
        if not size % TILE_WIDTH:
            continue
        rows = conn.execute(
            sa.text("SELECT hash, entry FROM log_leaves WHERE log_id = :l ORDER BY idx"),
            {"l": log_id},
        ).all()
        bundle = size // TILE_WIDTH
        tile = Tile.build(0, bundle, b"".join(bytes(r[0]) for r in rows))
        conn.execute(
            sa.text("INSERT INTO log_bundles (log_id, idx, data) VALUES (:l, :i, :d)"),
            {"l": log_id, "i": bundle, "d": encode_bundle([bytes(r[1]) for r in rows])},
        )
        conn.execute(
            sa.text(
                "INSERT INTO log_tiles (log_id, level, idx, hashes, inner_hashes)"
                " VALUES (:l, 0, :i, :h, :n)"
            ),
            {"l": log_id, "i": bundle, "h": tile.hashes, "n": tile.inner},
        )
    op.drop_table("log_leaves")
