"""Registers in SQLite and PostgreSQL, each with its verified log in :mod:`civicstack.stores.log`.

The domain's seams over SQL: :class:`StoredRegister` is a :class:`~civicstack.registers.batch.
RegisterBase` (and :class:`~civicstack.registers.catalogue.CatalogueRegister`) read through a
write transaction, and the store's catalogue runs :class:`~civicstack.registers.catalogue.
LinkedRegisters`' rules (imports of linked registers, definitions described in the ``register``,
``field`` and ``datatype`` registers) over them, answering link checks
(:class:`~civicstack.types.RegisterLinks`) from the database.

Tables (Alembic branch ``registers``):

- ``reg_registers``: name, head (counts, both trees' compact ranges and roots), the name of the
  register's log and its Ed25519 log key sealed under the platform's master key (AES-256-GCM);
- ``reg_items``: items by SHA-256, with the log position of the first entry naming each (so an
  RSF export streams in order without remembering what it wrote);
- ``reg_entries``: every entry of both scopes by log position, numbered per scope;
- ``reg_records``: the latest entry per key and scope, its items copied alongside (a record is
  one indexed row), and ``reg_values``: a search index of record values by field (values are
  indexed by their SHA-256 prefix, so a long text indexes as cheaply as a code);
- ``reg_dangling_links``: the historical dangling links an import was told to accept;
- ``reg_custodian_tokens``: SHA-256 of per-register custodian bearer tokens.

Writes. Every write batch (a custodian's records, an RSF import, a new register or field) runs
in ONE transaction from :meth:`LogStore.transaction`: the register rows are locked (``FOR
UPDATE`` on PostgreSQL, in name order; SQLite's ``BEGIN IMMEDIATE`` serialises all writers), the
batch is staged and validated against the locked state, its rows are written, the head is moved
only if it is still the one the batch was built on, and the changeset's
:meth:`~civicstack.registers.Changeset.log_leaves` are appended to the register's log with a new
signed checkpoint (:meth:`LogStore.append_in`). The tables and the log therefore commit or roll
back together and can never disagree; a failed import leaves nothing behind.

Reads go through kept-open autocommit connections (:class:`~civicstack.stores.db.DirectReads`);
bulk exports read from one snapshot (a repeatable-read transaction).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from contextlib import ExitStack, contextmanager
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
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from civicstack._crypto import (
    MERKLE_EMPTY_ROOT,
    PrivateKey,
    aead_decrypt,
    aead_encrypt,
    b64url_decode,
    b64url_encode,
    generate_private_jwk,
    json_dumps,
    json_object_strict,
    sha256_digest,
)
from civicstack.errors import CivicError, InputError
from civicstack.log import NoteSigner
from civicstack.log.note import b64std_encode
from civicstack.registers import (
    AssertRootHash,
    Changeset,
    Field,
    Item,
    LinkedRegisters,
    Record,
    RegisterBatch,
    RegisterDefinition,
    RegisterHead,
    RSFLimits,
    Schema,
    Scope,
    TreeHead,
)
from civicstack.registers.canonical import HASH_PREFIX
from civicstack.registers.catalogue import RSFSource
from civicstack.registers.datatypes import NAME_RE
from civicstack.registers.define import METADATA_REGISTERS
from civicstack.registers.entries import Entry
from civicstack.registers.rsf import AddItem
from civicstack.registers.schema import KEY_RE, MAX_KEY_LENGTH
from civicstack.registers.synthetic import SYNTHETIC_KEY
from civicstack.stores.db import DirectReads, Fetch, metadata
from civicstack.stores.log import LogStore

__all__ = [
    "MAX_PAGE",
    "DanglingRecord",
    "RecordRow",
    "RegisterStore",
    "StoredHead",
    "StoredRegister",
]

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
_USER, _SYSTEM = 0, 1
_SCOPES = {Scope.USER: _USER, Scope.SYSTEM: _SYSTEM}
_HASH_BYTES = 32
_CHUNK = 500
_KEY_AAD = b"civicstack/register-log-key/v1\x00"
_TOKEN_PREFIX = "civic_reg_"  # noqa: S105 - a prefix, not a secret


def check_register_name(name: str) -> str:
    """Return ``name`` if it can name a register here, else raise ``not_found``."""
    if not isinstance(name, str) or len(name) > MAX_NAME or NAME_RE.fullmatch(name) is None:
        raise CivicError("not_found", f"no register {name[:80]!r}")
    return name


def _is_key(key: str) -> bool:
    """Whether ``key`` could name a record (what is not a key is in no table, and is never sent
    to the database: PostgreSQL refuses strings holding NUL, for one)."""
    return len(key) <= MAX_KEY_LENGTH and KEY_RE.fullmatch(key) is not None


def _digest(item_hash: str) -> bytes:
    return bytes.fromhex(item_hash[len(HASH_PREFIX) :])


def _hash_text(digest: bytes) -> str:
    return HASH_PREFIX + digest.hex()


def _split_hashes(blob: bytes) -> tuple[str, ...]:
    return tuple(_hash_text(blob[i : i + _HASH_BYTES]) for i in range(0, len(blob), _HASH_BYTES))


def _range_bytes(head: TreeHead) -> bytes:
    return b"".join(head.range)


def _tree_head(size: int, blob: bytes) -> TreeHead:
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


_HEAD_COLUMNS = "id, name, log_name, user_count, system_count, size, record_count, root, log_root"


def _head(row: Sequence[Any]) -> StoredHead:
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


def _record_row(key: str, scope: int, row: Sequence[Any]) -> RecordRow:
    # row: position, number, timestamp, item_hashes, items
    entry = Entry(
        Scope.USER if scope == _USER else Scope.SYSTEM,
        int(row[1]),
        key,
        str(row[2]),
        _split_hashes(bytes(row[3])),
        int(row[0]),
    )
    return RecordRow(entry, bytes(row[4]))


def _entry(row: Sequence[Any]) -> Entry:
    # row: position, scope, number, key, timestamp, item_hashes
    return Entry(
        Scope.USER if int(row[1]) == _USER else Scope.SYSTEM,
        int(row[2]),
        str(row[3]),
        str(row[4]),
        _split_hashes(bytes(row[5])),
        int(row[0]),
    )


_ENTRY_COLUMNS = "position, scope, number, key, timestamp, item_hashes"
_RECORD_COLUMNS = "position, number, timestamp, item_hashes, items"


class StoredRegister:
    """One register as seen inside a write transaction: the domain's reads, and apply."""

    def __init__(
        self,
        catalogue: _StoreCatalogue,
        head: StoredHead | None,
        name: str,
        ranges: tuple[bytes, bytes] = (b"", b""),
    ) -> None:
        self._catalogue = catalogue
        self._fetch = catalogue.fetch
        self.name = name
        self.row = head
        self._head = (
            RegisterHead()
            if head is None
            else RegisterHead(
                head.name,
                head.user_count,
                head.system_count,
                _tree_head(head.user_count, ranges[0]),
                _tree_head(head.size, ranges[1]),
            )
        )
        self._items: dict[str, Item | None] = {}
        self._system: dict[str, tuple[Item, ...]] | None = None
        self._schema: Schema | None = None

    # -- RegisterBase ---------------------------------------------------------------------

    def head(self) -> RegisterHead:
        """The head this transaction sees."""
        return self._head

    def system_records(self) -> Mapping[str, tuple[Item, ...]]:
        """The latest items of every system key."""
        if self._system is None:
            self._system = {}
            if self.row is not None:
                rows = self._fetch(
                    f"SELECT key, {_RECORD_COLUMNS} FROM reg_records"  # noqa: S608
                    " WHERE register_id = ? AND scope = ?",
                    (self.row.id, _SYSTEM),
                )
                for row in rows:
                    record = _record_row(str(row[0]), _SYSTEM, row[1:]).record()
                    self._system[record.key] = record.items
        return MappingProxyType(self._system)

    def item(self, item_hash: str) -> Item | None:
        """The item with this hash, if the register has it."""
        if self.row is None:
            return None
        if item_hash not in self._items:
            rows = self._fetch(
                "SELECT canonical FROM reg_items WHERE register_id = ? AND hash = ?",
                (self.row.id, _digest(item_hash)),
            )
            self._items[item_hash] = stored_item(item_hash, bytes(rows[0][0])) if rows else None
        return self._items[item_hash]

    def missing_keys(self, keys: Set[str]) -> Set[str]:
        """Those of ``keys`` with no user record."""
        if self.row is None or not keys:
            return set(keys)
        found: set[str] = set()
        wanted = sorted(k for k in keys if _is_key(k))
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = self._fetch(
                "SELECT key FROM reg_records"  # noqa: S608 - placeholders only
                f" WHERE register_id = ? AND scope = ? AND key IN ({marks})",
                (self.row.id, _USER, *chunk),
            )
            found.update(str(r[0]) for r in rows)
        return set(keys) - found

    # -- CatalogueRegister ----------------------------------------------------------------

    def record(self, key: str) -> Record | None:
        """The user record for ``key``."""
        if self.row is None or not _is_key(key):
            return None
        rows = self._fetch(
            f"SELECT {_RECORD_COLUMNS} FROM reg_records"  # noqa: S608
            " WHERE register_id = ? AND scope = ? AND key = ?",
            (self.row.id, _USER, key),
        )
        return _record_row(key, _USER, rows[0]).record() if rows else None

    @property
    def schema(self) -> Schema:
        """The schema in force."""
        if self._schema is None:
            self._schema = Schema.from_metadata(self.name, self.system_records())
        return self._schema

    def batch(self, *, name: str | None = None) -> RegisterBatch:
        """A batch staged on this register's locked state."""
        return RegisterBatch(self, expected_name=name)

    def apply(self, changes: Changeset) -> None:
        """Write ``changes`` and append their leaves to the register's log (same transaction).

        Raises ``conflict`` when the register moved since the batch was staged.
        """
        if changes.base != self._head:
            raise CivicError("conflict", "the register changed since this batch was staged")
        if not changes.entries:
            return
        store = self._catalogue.store
        if self.row is None:
            self.row = store._create_row(self._catalogue.conn, self.name)
        row = self.row
        self._write_items_and_entries(row.id, changes)
        new_keys = self._write_records(row.id, changes)
        if changes.dangling_links:
            self._write_dangling_links(row.id, changes)
        # The head moves only from the state this batch was staged on.
        head = changes.head
        moved = self._execute(
            "UPDATE reg_registers SET user_count = ?, system_count = ?, size = ?,"
            " record_count = record_count + ?, govuk_range = ?, log_range = ?, root = ?,"
            " log_root = ? WHERE id = ? AND size = ?",
            (
                head.user_count,
                head.system_count,
                head.size,
                new_keys,
                _range_bytes(head.govuk),
                _range_bytes(head.log),
                head.root_hash(),
                head.log_root(),
                row.id,
                changes.base.size,
            ),
        )
        if moved.rowcount != 1:
            raise CivicError("conflict", f"register {self.name!r} changed during the write")
        # The same leaves in the register's log, with a new signed checkpoint.
        appended = store.logs.append_in(
            self._catalogue.conn, row.log_name, changes.log_leaves(), store._signer(row)
        )
        if appended.start != changes.base.size:
            raise CivicError(
                "internal_error", f"register {self.name!r} and its log disagree on their size"
            )
        self._head = head
        self._system = None
        self._schema = None

    def _execute(self, sql: str, params: Any) -> Any:
        conn = self._catalogue.conn
        return conn.exec_driver_sql(self._catalogue.store._reads.sql(sql), params)

    def _write_items_and_entries(self, rid: int, changes: Changeset) -> None:
        # Each item with the position of the first entry naming it (RSF exports stream by it).
        first: dict[str, int] = {}
        for entry in changes.entries:
            for h in entry.item_hashes:
                first.setdefault(h, entry.position)
        if changes.items:
            self._execute(
                "INSERT INTO reg_items (register_id, hash, first_position, canonical)"
                " VALUES (?, ?, ?, ?)",
                [(rid, _digest(i.hash), first[i.hash], i.canonical) for i in changes.items],
            )
        self._execute(
            "INSERT INTO reg_entries"
            " (register_id, position, scope, number, key, timestamp, item_hashes)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    rid,
                    e.position,
                    _SCOPES[e.scope],
                    e.number,
                    e.key,
                    e.timestamp,
                    b"".join(_digest(h) for h in e.item_hashes),
                )
                for e in changes.entries
            ],
        )

    def _write_records(self, rid: int, changes: Changeset) -> int:
        """Upsert the latest entry per key and re-index its values; return the new keys."""
        known = {i.hash: i for i in changes.items}
        latest: dict[tuple[Scope, str], Entry] = {}
        for entry in changes.entries:
            latest[(entry.scope, entry.key)] = entry
        user_keys = {key for scope, key in latest if scope is Scope.USER}
        new_keys = self.missing_keys(user_keys)

        def item_of(item_hash: str) -> Item:
            found = known.get(item_hash) or self.item(item_hash)
            if found is None:
                raise CivicError("internal_error", f"item {item_hash} is missing")
            return found

        rows = []
        values: list[tuple[int, str, bytes, str]] = []
        for (scope, key), entry in latest.items():
            items = [item_of(h) for h in entry.item_hashes]
            rows.append(
                (
                    rid,
                    _SCOPES[scope],
                    key,
                    entry.position,
                    entry.number,
                    entry.timestamp,
                    b"".join(_digest(h) for h in entry.item_hashes),
                    b"\n".join(i.canonical for i in items),
                )
            )
            if scope is Scope.USER:
                values += [(rid, f, v, key) for f, v in sorted(_index_values(items))]
        self._execute(
            "INSERT INTO reg_records (register_id, scope, key, position, number, timestamp,"
            " item_hashes, items) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (register_id, scope, key) DO UPDATE SET"
            " position = excluded.position, number = excluded.number,"
            " timestamp = excluded.timestamp, item_hashes = excluded.item_hashes,"
            " items = excluded.items",
            rows,
        )
        # A superseded record's values leave the search index; the new ones come in.
        stale = sorted(user_keys - set(new_keys))
        for i in range(0, len(stale), _CHUNK):
            chunk = stale[i : i + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            self._execute(
                f"DELETE FROM reg_values WHERE register_id = ? AND key IN ({marks})",  # noqa: S608
                (rid, *chunk),
            )
        if values:
            self._execute(
                "INSERT INTO reg_values (register_id, field, value_hash, key) VALUES (?, ?, ?, ?)",
                values,
            )
        return len(new_keys)

    def _write_dangling_links(self, rid: int, changes: Changeset) -> None:
        seq = self._fetch(
            "SELECT COALESCE(MAX(seq), 0) FROM reg_dangling_links WHERE register_id = ?",
            (rid,),
        )[0][0]
        self._execute(
            "INSERT INTO reg_dangling_links (register_id, seq, entry_number, field, target, line)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [
                (
                    rid,
                    int(seq) + n,
                    d.entry_number,
                    d.field,
                    # Text columns refuse NUL on PostgreSQL: keep the target, visibly escaped.
                    (d.target.register + (f":{d.target.key}" if d.target.key else "")).replace(
                        "\x00", "\\u0000"
                    ),
                    d.line,
                )
                for n, d in enumerate(changes.dangling_links, start=1)
            ],
        )


def _index_values(items: Iterable[Item]) -> set[tuple[str, bytes]]:
    """The ``(field, value key)`` pairs a record is found by (every value of a list field)."""
    out: set[tuple[str, bytes]] = set()
    for item in items:
        for field_name, value in item.fields.items():
            for one in (value,) if isinstance(value, str) else value:
                out.add((field_name, value_key(one)))
    return out


class _StoreCatalogue(LinkedRegisters[StoredRegister]):
    """The catalogue rules over the registers of one write transaction."""

    def __init__(self, store: RegisterStore, conn: Connection) -> None:
        super().__init__()
        self.store = store
        self.conn = conn
        self.fetch: Fetch = store._reads.fetcher(conn)
        self._held: dict[str, StoredRegister | None] = {}

    def lock(self, names: Iterable[str]) -> None:
        """Lock the rows of the registers this transaction writes, in name order."""
        wanted = sorted(set(names))
        if not wanted or self.store._reads.sqlite:
            return  # SQLite's BEGIN IMMEDIATE holds the only write lock already
        marks = ", ".join("?" * len(wanted))
        self.fetch(
            f"SELECT id FROM reg_registers WHERE name IN ({marks}) ORDER BY name FOR UPDATE",  # noqa: S608
            tuple(wanted),
        )

    def lookup(self, name: str) -> StoredRegister | None:
        """The register called ``name`` as this transaction sees it."""
        if len(name) > MAX_NAME or NAME_RE.fullmatch(name) is None:
            return None  # a link's prefix may be anything; no register has such a name
        if name not in self._held:
            rows = self.fetch(
                f"SELECT {_HEAD_COLUMNS}, govuk_range, log_range FROM reg_registers"  # noqa: S608
                " WHERE name = ?",
                (name,),
            )
            self._held[name] = (
                StoredRegister(self, _head(rows[0]), name, (bytes(rows[0][9]), bytes(rows[0][10])))
                if rows
                else None
            )
        return self._held[name]

    def new_register(self, name: str) -> StoredRegister:
        """A register to be created by this transaction."""
        if len(name) > MAX_NAME:
            raise InputError("invalid_schema", f"register names are at most {MAX_NAME} characters")
        return StoredRegister(self, None, name)

    def applied(self, name: str, register: StoredRegister) -> None:
        """Hold the register (created or changed) for the rest of the transaction."""
        self._held[name] = register


class RegisterStore:
    """Every register of the platform, in its database (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        logs: LogStore,
        master_key: Callable[[], bytes],
        *,
        origin_prefix: str = "civicstack.localhost",
        idle_readers: int = 4,
    ) -> None:
        """``origin_prefix`` starts each new register's log origin (``<prefix>/registers/<name>``,
        C2SP tlog-checkpoint: a schema-less URL); ``master_key`` seals the log keys."""
        self.engine = engine
        self.logs = logs
        self._master_key = master_key
        self.origin_prefix = origin_prefix.rstrip("/")
        self._reads = DirectReads(engine, idle_readers)
        self._signers: dict[str, NoteSigner] = {}

    def close(self) -> None:
        """Close the connections kept open for reads."""
        self._reads.close()

    # -- keys ---------------------------------------------------------------------------------

    def _create_row(self, conn: Connection, name: str) -> StoredHead:
        """Insert a new register's row and create its log with a fresh sealed key."""
        log_name = f"registers/{name}"
        jwk = generate_private_jwk("EdDSA")
        signer = NoteSigner(f"{self.origin_prefix}/registers/{name}", PrivateKey.from_jwk(jwk))
        sealed = b64url_encode(
            aead_encrypt(self._master_key(), json_dumps(jwk), _KEY_AAD + log_name.encode())
        )
        try:
            self.logs.create_log(log_name, signer, conn=conn)
        except CivicError as exc:
            if exc.code == "log_exists":
                raise CivicError("conflict", f"register {name!r} exists") from exc
            raise
        row = conn.exec_driver_sql(
            self._reads.sql(
                "INSERT INTO reg_registers (name, log_name, sealed_key, user_count, system_count,"
                " size, record_count, govuk_range, log_range, root, log_root)"
                " VALUES (?, ?, ?, 0, 0, 0, 0, ?, ?, ?, ?) RETURNING id"
            ),
            (name, log_name, sealed, b"", b"", MERKLE_EMPTY_ROOT, MERKLE_EMPTY_ROOT),
        ).scalar_one()
        self._signers[log_name] = signer
        return StoredHead(
            int(row), name, log_name, 0, 0, 0, 0, MERKLE_EMPTY_ROOT, MERKLE_EMPTY_ROOT
        )

    def _signer(self, head: StoredHead) -> NoteSigner:
        signer = self._signers.get(head.log_name)
        if signer is None:
            rows = self._read("SELECT sealed_key FROM reg_registers WHERE id = ?", (head.id,))
            blob = b64url_decode(str(rows[0][0]))
            plain = aead_decrypt(self._master_key(), blob, _KEY_AAD + head.log_name.encode())
            key = PrivateKey.from_jwk(json_object_strict(plain))
            origin = self.logs.head(head.log_name).origin
            signer = self._signers[head.log_name] = NoteSigner(origin, key)
        return signer

    # -- writes -------------------------------------------------------------------------------

    @contextmanager
    def _writing(self) -> Iterator[_StoreCatalogue]:
        """One write transaction; a lost race is ``conflict``, never a database error."""
        try:
            with self.logs.transaction() as conn:
                yield _StoreCatalogue(self, conn)
        except IntegrityError as exc:
            raise CivicError("conflict", "a concurrent write got there first") from exc
        except OperationalError as exc:
            state = getattr(exc.orig, "sqlstate", None)
            if state in ("40001", "40P01") or "locked" in str(exc.orig):
                raise CivicError("conflict", "a concurrent write got in the way; retry") from exc
            raise

    def import_rsf(
        self,
        sources: Mapping[str, RSFSource],
        *,
        unsafe_allow_dangling_links: Set[str] | bool = False,
        limits: RSFLimits | None = None,
    ) -> dict[str, Changeset]:
        """Import RSF files (by register name) in one transaction; see ``Catalogue.import_rsf``.

        A name already held gets its file appended as a patch. Nothing is written unless every
        file is valid, every ``assert-root-hash`` holds and every link resolves.
        """
        for name in sources:
            if len(name) > MAX_NAME or NAME_RE.fullmatch(name) is None:
                raise InputError("invalid_schema", f"{name[:80]!r} is not a register name")
        with self._writing() as catalogue:
            catalogue.lock(sources)
            return catalogue.import_rsf(
                {name: sources[name] for name in sorted(sources)},
                unsafe_allow_dangling_links=unsafe_allow_dangling_links,
                limits=limits,
            )

    def create_register(
        self,
        name: str,
        fields: Sequence[Field],
        *,
        now: int,
        custodian: str | None = None,
        title: str | None = None,
        text: str | None = None,
        registry: str | None = None,
        phase: str | None = None,
        metadata: Mapping[str, Item] | None = None,
        records: Sequence[tuple[str, Sequence[Item]]] = (),
    ) -> dict[str, Changeset]:
        """Create a register, describe it in the metadata registers and append its first
        ``records``, all in one transaction (so a register never exists half-seeded)."""
        with self._writing() as catalogue:
            catalogue.lock([name, *METADATA_REGISTERS])
            changes: dict[str, Changeset] = catalogue.create_register(
                name,
                fields,
                now=now,
                custodian=custodian,
                title=title,
                text=text,
                registry=registry,
                phase=phase,
                metadata=metadata,
                records=records,
            )
            return changes

    def add_field(self, register: str, field: Field, *, now: int) -> dict[str, Changeset]:
        """Add a field to a register (RFC 0001) and describe it, in one transaction."""
        with self._writing() as catalogue:
            catalogue.lock([register, *METADATA_REGISTERS])
            return catalogue.add_field(register, field, now=now)

    def create_metadata_registers(self, *, now: int) -> dict[str, Changeset]:
        """The self-describing ``datatype``, ``field`` and ``register`` registers."""
        with self._writing() as catalogue:
            catalogue.lock(METADATA_REGISTERS)
            return catalogue.create_metadata_registers(now=now)

    def append(
        self, name: str, records: Sequence[tuple[str, Sequence[Item]]], *, now: int
    ) -> Changeset:
        """A custodian's batch: one user entry per ``(key, items)``, validated (schema, links),
        written and signed into a new checkpoint together. Raises the domain's codes."""
        with self._writing() as catalogue:
            catalogue.lock([name])
            register = catalogue.lookup(name)
            if register is None:
                raise CivicError("not_found", f"no register {name!r}")
            batch = register.batch(name=name)
            for key, items in records:
                batch.append_items(Scope.USER, key, items, now=now)
            changes = batch.close(catalogue)
            register.apply(changes)
            return changes

    # -- reads --------------------------------------------------------------------------------

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        with self._reads.reading() as fetch:
            return fetch(sql, params)

    def heads(self) -> list[StoredHead]:
        """Every register's head, by name."""
        rows = self._read(f"SELECT {_HEAD_COLUMNS} FROM reg_registers ORDER BY name", ())  # noqa: S608
        return [_head(r) for r in rows]

    def head(self, name: str) -> StoredHead:
        """The register's head; raises ``not_found``."""
        rows = self._read(
            f"SELECT {_HEAD_COLUMNS} FROM reg_registers WHERE name = ?",  # noqa: S608
            (check_register_name(name),),
        )
        if not rows:
            raise CivicError("not_found", f"no register {name!r}")
        return _head(rows[0])

    def has_register(self, name: str) -> bool:
        """Whether a register called ``name`` exists (:class:`~civicstack.types.RegisterLinks`)."""
        try:
            self.head(name)
        except CivicError:
            return False
        return True

    def field(self, name: str) -> Field | None:
        """The definition of field ``name`` in the ``field`` register, if there is one."""
        try:
            _, row = self.record("field", name)
        except CivicError:
            return None
        return Field.from_item(row.record().item) if row is not None else None

    def metadata(self, head: StoredHead) -> dict[str, tuple[Item, ...]]:
        """The register's system records (name, custodian, fields, definition...)."""
        rows = self._read(
            f"SELECT key, {_RECORD_COLUMNS} FROM reg_records"  # noqa: S608
            " WHERE register_id = ? AND scope = ? ORDER BY position",
            (head.id, _SYSTEM),
        )
        return {str(r[0]): _record_row(str(r[0]), _SYSTEM, r[1:]).record().items for r in rows}

    def describe(
        self, head: StoredHead, meta: Mapping[str, tuple[Item, ...]], *, full: bool
    ) -> dict[str, Any]:
        """The register as JSON: definition, sizes, roots (``full``: fields, log, dangling
        links). ``meta`` is :meth:`metadata` (read once for a listing)."""
        definition_items = meta.get(f"register:{head.name}")
        definition = RegisterDefinition.from_item(definition_items[0]) if definition_items else None
        out: dict[str, Any] = {
            "name": head.name,
            "title": _first(meta.get("register-name"), "register-name"),
            "text": definition.text if definition else None,
            "registry": definition.registry if definition else None,
            "phase": definition.phase if definition else None,
            "custodian": _first(meta.get("custodian"), "custodian"),
            "copyright": definition.copyright if definition else None,
            "synthetic": SYNTHETIC_KEY in meta,
            "records": head.record_count,
            "entries": {"user": head.user_count, "system": head.system_count},
            "root-hash": "sha-256:" + head.root.hex(),
        }
        if not full:
            return out
        fields = []
        for name in definition.fields if definition else ():
            field_items = meta.get(f"field:{name}")
            if field_items:
                f = Field.from_item(field_items[0])
                fields.append(
                    {
                        "field": f.name,
                        "datatype": f.datatype.value,
                        "cardinality": f.cardinality.value,
                        "register": f.register,
                        "text": f.text,
                    }
                )
        log = self.logs.head(head.log_name)
        out["fields"] = fields
        out["log"] = {
            "origin": log.origin,
            "size": log.size,
            "root": b64std_encode(log.root),
            "verifier-key": log.verifier_key,
        }
        out["dangling-links"] = [
            {"entry-number": d.entry_number, "field": d.field, "target": d.target, "line": d.line}
            for d in self.dangling_links(head)
        ]
        return out

    def all_metadata(self) -> dict[int, dict[str, tuple[Item, ...]]]:
        """Every register's system records, by register id (one query for a listing)."""
        rows = self._read(
            f"SELECT register_id, key, {_RECORD_COLUMNS} FROM reg_records"  # noqa: S608
            " WHERE scope = ? ORDER BY register_id, position",
            (_SYSTEM,),
        )
        out: dict[int, dict[str, tuple[Item, ...]]] = {}
        for r in rows:
            record = _record_row(str(r[1]), _SYSTEM, r[2:]).record()
            out.setdefault(int(r[0]), {})[str(r[1])] = record.items
        return out

    def record(self, name: str, key: str) -> tuple[StoredHead, RecordRow | None]:
        """The register's head and the record for ``key`` (``None`` when there is none), in one
        read."""
        if not _is_key(key):
            return self.head(name), None
        rows = self._read(
            "SELECT g.id, g.name, g.log_name, g.user_count, g.system_count, g.size,"
            " g.record_count, g.root, g.log_root, r.position, r.number, r.timestamp,"
            " r.item_hashes, r.items FROM reg_registers g LEFT JOIN reg_records r"
            " ON r.register_id = g.id AND r.scope = ? AND r.key = ? WHERE g.name = ?",
            (_USER, key, check_register_name(name)),
        )
        if not rows:
            raise CivicError("not_found", f"no register {name!r}")
        row = rows[0]
        head = _head(row[:9])
        return head, None if row[9] is None else _record_row(key, _USER, row[9:])

    def records(
        self,
        head: StoredHead,
        *,
        after: str | None = None,
        limit: int = 100,
        where: Sequence[tuple[str, str]] = (),
    ) -> list[RecordRow]:
        """Records in key order after ``after`` (keyset pagination), each of whose ``where``
        fields holds the value (any value of a list field)."""
        limit = max(1, min(limit, MAX_PAGE))
        if after is not None and not _is_key(after):
            raise InputError("invalid_request", "the cursor is not a record key")
        joins = ""
        params: list[Any] = []
        for n, (field_name, value) in enumerate(where):
            joins += (
                f" JOIN reg_values v{n} ON v{n}.register_id = r.register_id AND v{n}.key = r.key"
                f" AND v{n}.field = ? AND v{n}.value_hash = ?"
            )
            params += [field_name, value_key(value)]
        sql = (
            f"SELECT r.key, r.position, r.number, r.timestamp, r.item_hashes, r.items"  # noqa: S608
            f" FROM reg_records r{joins} WHERE r.register_id = ? AND r.scope = ?"
        )
        params += [head.id, _USER]
        if after is not None:
            sql += " AND r.key > ?"
            params.append(after)
        sql += " ORDER BY r.key LIMIT ?"
        params.append(limit)
        rows = self._read(sql, tuple(params))
        out = [_record_row(str(r[0]), _USER, r[1:]) for r in rows]
        if where:
            # The index matches 128-bit value hashes; the values themselves are checked here.
            out = [r for r in out if _matches(r, where)]
        return out

    def trail(self, head: StoredHead, key: str, *, after: int = 0, limit: int = 100) -> list[Entry]:
        """The user entries for ``key``, oldest first, numbered above ``after``."""
        if not _is_key(key):
            return []
        rows = self._read(
            f"SELECT {_ENTRY_COLUMNS} FROM reg_entries WHERE register_id = ? AND scope = ?"  # noqa: S608
            " AND key = ? AND number > ? ORDER BY number LIMIT ?",
            (head.id, _USER, key, after, max(1, min(limit, MAX_PAGE))),
        )
        return [_entry(r) for r in rows]

    def entries(
        self, head: StoredHead, *, scope: Scope = Scope.USER, after: int = 0, limit: int = 100
    ) -> list[Entry]:
        """Entries of one scope numbered above ``after``, in order."""
        rows = self._read(
            f"SELECT {_ENTRY_COLUMNS} FROM reg_entries WHERE register_id = ? AND scope = ?"  # noqa: S608
            " AND number > ? ORDER BY number LIMIT ?",
            (head.id, _SCOPES[scope], after, max(1, min(limit, MAX_PAGE))),
        )
        return [_entry(r) for r in rows]

    def entry(self, head: StoredHead, number: int, scope: Scope = Scope.USER) -> Entry:
        """Entry ``number`` of a scope; raises ``not_found``."""
        rows = self._read(
            f"SELECT {_ENTRY_COLUMNS} FROM reg_entries WHERE register_id = ? AND scope = ?"  # noqa: S608
            " AND number = ?",
            (head.id, _SCOPES[scope], number),
        )
        if not rows:
            raise CivicError("not_found", f"no {scope.value} entry {number}")
        return _entry(rows[0])

    def entry_at(self, head: StoredHead, position: int) -> Entry:
        """The entry at a log position; raises ``not_found``."""
        rows = self._read(
            f"SELECT {_ENTRY_COLUMNS} FROM reg_entries WHERE register_id = ? AND position = ?",  # noqa: S608
            (head.id, position),
        )
        if not rows:
            raise CivicError("not_found", f"no entry at log position {position}")
        return _entry(rows[0])

    def item(self, head: StoredHead, item_hash: str) -> bytes:
        """The canonical bytes of an item; raises ``not_found``."""
        rows = self._read(
            "SELECT canonical FROM reg_items WHERE register_id = ? AND hash = ?",
            (head.id, _digest(item_hash)),
        )
        if not rows:
            raise CivicError("not_found", f"no item {item_hash}")
        return bytes(rows[0][0])

    def dangling_links(self, head: StoredHead) -> list[DanglingRecord]:
        """The dangling links accepted when history was imported."""
        rows = self._read(
            "SELECT entry_number, field, target, line FROM reg_dangling_links"
            " WHERE register_id = ? ORDER BY seq",
            (head.id,),
        )
        return [
            DanglingRecord(int(r[0]), str(r[1]), str(r[2]), None if r[3] is None else int(r[3]))
            for r in rows
        ]

    def missing_keys(self, register: str, keys: Set[str]) -> Set[str]:
        """The keys with no record in ``register`` (:class:`~civicstack.types.RegisterLinks`)."""
        try:
            head = self.head(register)
        except CivicError:
            return set(keys)
        found: set[str] = set()
        wanted = sorted(k for k in keys if _is_key(k))
        for i in range(0, len(wanted), _CHUNK):
            chunk = wanted[i : i + _CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = self._read(
                "SELECT key FROM reg_records"  # noqa: S608 - placeholders only
                f" WHERE register_id = ? AND scope = ? AND key IN ({marks})",
                (head.id, _USER, *chunk),
            )
            found.update(str(r[0]) for r in rows)
        return set(keys) - found

    # -- snapshots for bulk downloads ---------------------------------------------------------

    @contextmanager
    def snapshot(self) -> Iterator[Fetch]:
        """Reads that all see one committed state, for as long as a download streams."""
        with self.engine.connect() as conn:
            if self._reads.sqlite:
                # pysqlite begins no transaction for SELECTs: open one, so WAL pins a snapshot.
                conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql("BEGIN")
                try:
                    yield self._reads.fetcher(conn)
                finally:
                    conn.exec_driver_sql("ROLLBACK")
            else:
                conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():  # read-only: committing or rolling back is the same
                    yield self._reads.fetcher(conn)

    def export_rsf(self, name: str, *, chunk: int = 1000) -> Iterator[str]:
        """The whole register as RSF lines: the empty root asserted first, the current one last.

        Entries are immutable below the size read at the start, so the stream needs no
        transaction; each item is written just before the first entry naming it.
        """
        head = self.head(name)
        yield AssertRootHash(MERKLE_EMPTY_ROOT).rsf() + "\n"
        for start in range(0, head.size, chunk):
            stop = min(start + chunk, head.size)
            with self._reads.reading() as fetch:
                rows = fetch(
                    f"SELECT {_ENTRY_COLUMNS} FROM reg_entries WHERE register_id = ?"  # noqa: S608
                    " AND position >= ? AND position < ? ORDER BY position",
                    (head.id, start, stop),
                )
                introduced = fetch(
                    "SELECT hash, canonical FROM reg_items WHERE register_id = ?"
                    " AND first_position >= ? AND first_position < ?",
                    (head.id, start, stop),
                )
            new = {_hash_text(bytes(r[0])): bytes(r[1]) for r in introduced}
            out = []
            for row in rows:
                entry = _entry(row)
                for h in entry.item_hashes:
                    canonical = new.pop(h, None)
                    if canonical is not None:
                        out.append(AddItem(stored_item(h, canonical)).rsf() + "\n")
                out.append(entry.rsf() + "\n")
            if len(rows) != stop - start:
                raise CivicError("internal_error", f"register {name!r} is missing entries")
            yield "".join(out)
        yield AssertRootHash(head.root).rsf() + "\n"

    def snapshot_records(
        self, name: str, *, chunk: int = 1000
    ) -> tuple[StoredHead, Schema, Iterator[RecordRow]]:
        """The head, schema and every record of one snapshot (for CSV and JSON downloads).

        The iterator holds the snapshot open until it is exhausted or closed.
        """
        held = ExitStack()
        fetch = held.enter_context(self.snapshot())
        try:
            rows = fetch(
                f"SELECT {_HEAD_COLUMNS} FROM reg_registers WHERE name = ?",  # noqa: S608
                (check_register_name(name),),
            )
            if not rows:
                raise CivicError("not_found", f"no register {name!r}")
            head = _head(rows[0])
            system = fetch(
                f"SELECT key, {_RECORD_COLUMNS} FROM reg_records"  # noqa: S608
                " WHERE register_id = ? AND scope = ?",
                (head.id, _SYSTEM),
            )
            meta = {
                str(r[0]): _record_row(str(r[0]), _SYSTEM, r[1:]).record().items for r in system
            }
            schema = Schema.from_metadata(head.name, meta)
        except BaseException:
            held.close()
            raise

        def stream() -> Iterator[RecordRow]:
            try:
                after: str | None = None
                while True:
                    sql = (
                        f"SELECT key, {_RECORD_COLUMNS} FROM reg_records"  # noqa: S608
                        " WHERE register_id = ? AND scope = ?"
                    )
                    params: tuple[Any, ...] = (head.id, _USER)
                    if after is not None:
                        sql += " AND key > ?"
                        params += (after,)
                    page = fetch(sql + " ORDER BY key LIMIT ?", (*params, chunk))
                    for r in page:
                        yield _record_row(str(r[0]), _USER, r[1:])
                    if len(page) < chunk:
                        return
                    after = str(page[-1][0])
            finally:
                held.close()

        return head, schema, stream()

    # -- custodian tokens ---------------------------------------------------------------------

    def issue_custodian_token(self, name: str, *, label: str, now: int) -> str:
        """A new bearer token for writing to register ``name`` (only its hash is kept)."""
        head = self.head(name)
        token = _TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.exec_driver_sql(
                self._reads.sql(
                    "INSERT INTO reg_custodian_tokens (token_hash, register_id, label, created_at)"
                    " VALUES (?, ?, ?, ?)"
                ),
                (sha256_digest(token.encode()), head.id, label[:128], now),
            )
        return token

    def is_custodian(self, head: StoredHead, token: str) -> bool:
        """Whether ``token`` is a custodian token of this register."""
        if not token.startswith(_TOKEN_PREFIX) or len(token) > 128:
            return False
        rows = self._read(
            "SELECT register_id FROM reg_custodian_tokens WHERE token_hash = ?",
            (sha256_digest(token.encode()),),
        )
        return bool(rows) and int(rows[0][0]) == head.id


def _first(items: tuple[Item, ...] | None, name: str) -> str | None:
    if not items:
        return None
    value = items[0].get(name)
    return value if isinstance(value, str) else None


def _matches(row: RecordRow, where: Sequence[tuple[str, str]]) -> bool:
    items = row.record().items
    for field_name, value in where:
        if not any(
            (v == value if isinstance(v, str) else value in v)
            for v in (item.get(field_name) for item in items)
            if v is not None
        ):
            return False
    return True
