"""The tables of the log store (Alembic branch ``log``): logs, tiles, bundles, checkpoints, and
the leaves of each log's partial entry bundle (one row per slot of the bundle)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
)

from civicstack.stores.db import metadata

__all__ = ["bundles_table", "checkpoints_table", "leaves_table", "logs_table", "tiles_table"]

logs_table = Table(
    "log_logs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("origin", String(256), nullable=False),
    Column("verifier_key", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary, nullable=False),
    Column("checkpoint", Text, nullable=False),
    sqlite_autoincrement=True,
)
tiles_table = Table(
    "log_tiles",
    metadata,
    Column("log_id", Integer, ForeignKey("log_logs.id"), primary_key=True),
    Column("level", SmallInteger, primary_key=True),
    Column("idx", BigInteger, primary_key=True),
    Column("hashes", LargeBinary, nullable=False),
    Column("inner_hashes", LargeBinary, nullable=False),
)
bundles_table = Table(
    "log_bundles",
    metadata,
    Column("log_id", Integer, ForeignKey("log_logs.id"), primary_key=True),
    Column("idx", BigInteger, primary_key=True),
    Column("data", LargeBinary, nullable=False),
)
checkpoints_table = Table(
    "log_checkpoints",
    metadata,
    Column("log_id", Integer, ForeignKey("log_logs.id"), primary_key=True),
    Column("size", BigInteger, primary_key=True),
    Column("root", LargeBinary, nullable=False),
    Column("note", Text, nullable=False),
)
leaves_table = Table(
    "log_leaves",
    metadata,
    Column("log_id", Integer, ForeignKey("log_logs.id"), primary_key=True),
    # idx % 256: a bundle's leaves are written over the previous bundle's (see log_0003).
    Column("slot", SmallInteger, primary_key=True),
    Column("idx", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    Column("entry", LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)
