"""The registers' tables, and their rows turned into :mod:`civicstack.registers.stored` values."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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

from civicstack._crypto import (
    sha256_digest,
)
from civicstack.errors import CivicError
from civicstack.registers import DEFAULT_LIMITS, Entry, Scope, TreeHead
from civicstack.registers.canonical import HASH_PREFIX
from civicstack.registers.datatypes import NAME_RE
from civicstack.registers.schema import KEY_RE
from civicstack.registers.stored import RecordRow, StoredHead, split_hashes
from civicstack.stores.db import metadata

registers_table = Table(
    "reg_registers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("log_name", String(128), nullable=False),
    Column("sealed_key", Text, nullable=False),
    Column("user_count", BigInteger, nullable=False),
    Column("system_count", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("record_count", BigInteger, nullable=False),
    Column("govuk_range", LargeBinary, nullable=False),
    Column("log_range", LargeBinary, nullable=False),
    Column("root", LargeBinary, nullable=False),
    Column("log_root", LargeBinary, nullable=False),
    sqlite_autoincrement=True,
)
items_table = Table(
    "reg_items",
    metadata,
    Column("register_id", Integer, ForeignKey("reg_registers.id"), primary_key=True),
    Column("hash", LargeBinary, primary_key=True),
    Column("first_position", BigInteger, nullable=False),
    Column("canonical", LargeBinary, nullable=False),
)
entries_table = Table(
    "reg_entries",
    metadata,
    Column("register_id", Integer, ForeignKey("reg_registers.id"), primary_key=True),
    Column("position", BigInteger, primary_key=True),
    Column("scope", SmallInteger, nullable=False),
    Column("number", BigInteger, nullable=False),
    Column("key", String(256), nullable=False),
    Column("timestamp", String(20), nullable=False),
    Column("item_hashes", LargeBinary, nullable=False),
)
records_table = Table(
    "reg_records",
    metadata,
    Column("register_id", Integer, ForeignKey("reg_registers.id"), primary_key=True),
    Column("scope", SmallInteger, primary_key=True),
    Column("key", String(256), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("number", BigInteger, nullable=False),
    Column("timestamp", String(20), nullable=False),
    Column("item_hashes", LargeBinary, nullable=False),
    Column("items", LargeBinary, nullable=False),
)
values_table = Table(
    "reg_values",
    metadata,
    Column("register_id", Integer, ForeignKey("reg_registers.id"), primary_key=True),
    Column("field", String(128), primary_key=True),
    Column("value_hash", LargeBinary, primary_key=True),
    Column("key", String(256), primary_key=True),
)
dangling_table = Table(
    "reg_dangling_links",
    metadata,
    Column("register_id", Integer, ForeignKey("reg_registers.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("entry_number", BigInteger, nullable=False),
    Column("field", String(128), nullable=False),
    Column("target", Text, nullable=False),
    Column("line", BigInteger, nullable=True),
)
tokens_table = Table(
    "reg_custodian_tokens",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("token_hash", LargeBinary, nullable=False, unique=True),
    Column("register_id", Integer, ForeignKey("reg_registers.id"), nullable=False, index=True),
    Column("label", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
    Column("expires_at", BigInteger, nullable=True),
    Column("revoked_at", BigInteger, nullable=True),
    Column("revoked_by", String(128), nullable=True),
)
custodian_events_table = Table(
    "reg_custodian_events",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("at", BigInteger, nullable=False),
    Column("event", String(32), nullable=False),
    Column("token_id", String(32), nullable=False, index=True),
    Column("register_id", Integer, ForeignKey("reg_registers.id"), nullable=False, index=True),
    Column("actor", String(128), nullable=False),
    sqlite_autoincrement=True,
)

USER, SYSTEM = 0, 1
SCOPES = {Scope.USER: USER, Scope.SYSTEM: SYSTEM}
_HASH_BYTES = 32
CHUNK = 500
KEY_AAD = b"civicstack/register-log-key/v1\x00"


def check_register_name(name: str) -> str:
    """Return ``name`` if it can name a register here, else raise ``not_found``."""
    if (
        not isinstance(name, str)
        or len(name) > DEFAULT_LIMITS.max_name_length
        or NAME_RE.fullmatch(name) is None
    ):
        raise CivicError("not_found", f"no register {name[:80]!r}")
    return name


def is_key(key: str) -> bool:
    """Whether ``key`` could name a record (what is not a key is in no table, and is never sent
    to the database: PostgreSQL refuses strings holding NUL, for one)."""
    return len(key) <= DEFAULT_LIMITS.max_key_length and KEY_RE.fullmatch(key) is not None


def digest(item_hash: str) -> bytes:
    """The 32 bytes of a ``sha-256:<hex>`` item hash."""
    return bytes.fromhex(item_hash[len(HASH_PREFIX) :])


def range_bytes(head: TreeHead) -> bytes:
    """A compact range as one column value."""
    return b"".join(head.range)


def tree_head(size: int, blob: bytes) -> TreeHead:
    """A compact range read back from its column."""
    return TreeHead(
        size, tuple(blob[i : i + _HASH_BYTES] for i in range(0, len(blob), _HASH_BYTES))
    )


def value_key(value: str) -> bytes:
    """The search index's key for a field value: a 128-bit SHA-256 prefix."""
    return sha256_digest(value.encode("utf-8"))[:16]


HEAD_COLUMNS = "id, name, log_name, user_count, system_count, size, record_count, root, log_root"


def head_of(row: Sequence[Any]) -> StoredHead:
    """A :class:`StoredHead` from a row of :data:`HEAD_COLUMNS`."""
    return StoredHead(
        int(row[0]),
        str(row[1]),
        str(row[2]),
        int(row[3]),
        int(row[4]),
        int(row[5]),
        int(row[6]),
        bytes(row[7]),
        bytes(row[8]),
    )


def record_row(key: str, scope: int, row: Sequence[Any]) -> RecordRow:
    # row: position, number, timestamp, item_hashes, items
    """A :class:`RecordRow` from a row of :data:`RECORD_COLUMNS`."""
    entry = Entry(
        Scope.USER if scope == USER else Scope.SYSTEM,
        int(row[1]),
        key,
        str(row[2]),
        split_hashes(bytes(row[3])),
        int(row[0]),
    )
    return RecordRow(entry, bytes(row[4]))


def entry_of(row: Sequence[Any]) -> Entry:
    # row: position, scope, number, key, timestamp, item_hashes
    """An :class:`~civicstack.registers.Entry` from a row of :data:`ENTRY_COLUMNS`."""
    return Entry(
        Scope.USER if int(row[1]) == USER else Scope.SYSTEM,
        int(row[2]),
        str(row[3]),
        str(row[4]),
        split_hashes(bytes(row[5])),
        int(row[0]),
    )


ENTRY_COLUMNS = "position, scope, number, key, timestamp, item_hashes"
RECORD_COLUMNS = "position, number, timestamp, item_hashes, items"
