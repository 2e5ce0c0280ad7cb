"""The registers' tables, and the rows read back from them (see the package docstring)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import orjson
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
from civicstack.registers import (
    Item,
    Record,
    Scope,
    TreeHead,
)
from civicstack.registers.canonical import HASH_PREFIX
from civicstack.registers.datatypes import NAME_RE
from civicstack.registers.entries import Entry
from civicstack.registers.schema import KEY_RE, MAX_KEY_LENGTH
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
    Column("token_hash", LargeBinary, primary_key=True),
    Column("register_id", Integer, ForeignKey("reg_registers.id"), nullable=False),
    Column("label", String(128), nullable=False),
    Column("created_at", BigInteger, nullable=False),
)

#: Records or entries one page may hold.
MAX_PAGE = 1000
#: Register names are log-name segments (C2SP origins stay short).
MAX_NAME = 64
USER, SYSTEM = 0, 1
SCOPES = {Scope.USER: USER, Scope.SYSTEM: SYSTEM}
_HASH_BYTES = 32
CHUNK = 500
KEY_AAD = b"civicstack/register-log-key/v1\x00"
TOKEN_PREFIX = "civic_reg_"  # noqa: S105 - a prefix, not a secret


def check_register_name(name: str) -> str:
    """Return ``name`` if it can name a register here, else raise ``not_found``."""
    if not isinstance(name, str) or len(name) > MAX_NAME or NAME_RE.fullmatch(name) is None:
        raise CivicError("not_found", f"no register {name[:80]!r}")
    return name


def is_key(key: str) -> bool:
    """Whether ``key`` could name a record (what is not a key is in no table, and is never sent
    to the database: PostgreSQL refuses strings holding NUL, for one)."""
    return len(key) <= MAX_KEY_LENGTH and KEY_RE.fullmatch(key) is not None


def digest(item_hash: str) -> bytes:
    """The 32 bytes of a ``sha-256:<hex>`` item hash."""
    return bytes.fromhex(item_hash[len(HASH_PREFIX) :])


def hash_text(digest: bytes) -> str:
    """The ``sha-256:<hex>`` form of 32 hash bytes."""
    return HASH_PREFIX + digest.hex()


def _split_hashes(blob: bytes) -> tuple[str, ...]:
    return tuple(hash_text(blob[i : i + _HASH_BYTES]) for i in range(0, len(blob), _HASH_BYTES))


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


def stored_item(item_hash: str, canonical: bytes) -> Item:
    """An item read back from the database (written canonical and hashed: not re-checked)."""
    parsed: dict[str, Any] = orjson.loads(canonical)
    fields = {k: v if isinstance(v, str) else tuple(v) for k, v in parsed.items()}
    return Item(item_hash, canonical, MappingProxyType(fields))


def _stored_items(hashes: Sequence[str], blob: bytes) -> tuple[Item, ...]:
    # Canonical JSON escapes every newline, so a newline separates the items of a record.
    return tuple(stored_item(h, c) for h, c in zip(hashes, blob.split(b"\n"), strict=True))


@dataclass(frozen=True)
class StoredHead:
    """A register's row: identity, sizes, roots, and the name of its log."""

    id: int
    name: str
    log_name: str
    user_count: int
    system_count: int
    size: int
    record_count: int
    root: bytes
    log_root: bytes

    @property
    def etag(self) -> str:
        """A strong ETag for every representation of the register at this state.

        An append-only register changes exactly when its log grows, so the log size and root
        identify its state (RFC 9110 §8.8.3: a validator per state, not per byte).
        """
        return f'"{self.size}-{self.log_root.hex()[:16]}"'


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


@dataclass(frozen=True)
class RecordRow:
    """A record as stored: its entry and the canonical bytes of its items (newline-joined)."""

    entry: Entry
    items: bytes

    def record(self) -> Record:
        """The domain record (items parsed)."""
        return Record(self.entry, _stored_items(self.entry.item_hashes, self.items))

    def items_json(self) -> bytes:
        """The items as a JSON array, spliced from their canonical bytes (no parse)."""
        return b"[" + self.items.replace(b"\n", b",") + b"]"


@dataclass(frozen=True)
class DanglingRecord:
    """A link accepted at import although it named nothing (GOV.UK history)."""

    entry_number: int
    field: str
    target: str
    line: int | None


def record_row(key: str, scope: int, row: Sequence[Any]) -> RecordRow:
    # row: position, number, timestamp, item_hashes, items
    """A :class:`RecordRow` from a row of :data:`RECORD_COLUMNS`."""
    entry = Entry(
        Scope.USER if scope == USER else Scope.SYSTEM,
        int(row[1]),
        key,
        str(row[2]),
        _split_hashes(bytes(row[3])),
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
        _split_hashes(bytes(row[5])),
        int(row[0]),
    )


ENTRY_COLUMNS = "position, scope, number, key, timestamp, item_hashes"
RECORD_COLUMNS = "position, number, timestamp, item_hashes, items"
