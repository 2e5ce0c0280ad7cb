"""Registers as storage hands them back: heads, records in canonical bytes, accepted dangling links.

A store keeps what :mod:`civicstack.registers` computes (items written canonical and hashed,
entries, both trees' heads); these are the values it returns, shared by the services and the
adapters. Nothing here is re-checked on the way back: it was checked on the way in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import orjson

from civicstack.registers.canonical import HASH_PREFIX, Item
from civicstack.registers.entries import Entry, Record

_HASH_BYTES = 32


def hash_text(digest: bytes) -> str:
    """The ``sha-256:<hex>`` form of 32 hash bytes."""
    return HASH_PREFIX + digest.hex()


def split_hashes(blob: bytes) -> tuple[str, ...]:
    """The ``sha-256:<hex>`` hashes of a column holding them as 32-byte digests end to end."""
    return tuple(hash_text(blob[i : i + _HASH_BYTES]) for i in range(0, len(blob), _HASH_BYTES))


def stored_item(item_hash: str, canonical: bytes) -> Item:
    """An item read back from storage (written canonical and hashed: not re-checked)."""
    parsed: dict[str, Any] = orjson.loads(canonical)
    fields = {k: v if isinstance(v, str) else tuple(v) for k, v in parsed.items()}
    return Item(item_hash, canonical, MappingProxyType(fields))


@dataclass(frozen=True)
class StoredHead:
    """A register as stored: identity, sizes, roots, and the name of its log."""

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


@dataclass(frozen=True)
class RecordRow:
    """A record as stored: its entry and the canonical bytes of its items (newline-joined)."""

    entry: Entry
    items: bytes

    def record(self) -> Record:
        """The domain record (items parsed)."""
        # Canonical JSON escapes every newline, so a newline separates the items of a record.
        pieces = self.items.split(b"\n")
        return Record(
            self.entry,
            tuple(stored_item(h, c) for h, c in zip(self.entry.item_hashes, pieces, strict=True)),
        )

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


def first_value(items: Sequence[Item] | None, name: str) -> str | None:
    """The single value of field ``name`` in the first of ``items`` (a system record's)."""
    if not items:
        return None
    value = items[0].get(name)
    return value if isinstance(value, str) else None
