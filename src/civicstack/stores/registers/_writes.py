"""Registers as the domain sees them inside one write transaction: staged, checked, applied.

:class:`RegisterLogs` opens each register's log (with its sealed key) and appends to it;
:class:`StoreCatalogue` is the catalogue rules' storage for one transaction, and
:class:`StoredRegister` one register in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from types import MappingProxyType
from typing import Any

from sqlalchemy.engine import Connection

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
)
from civicstack.errors import CivicError, InputError
from civicstack.log import NoteSigner
from civicstack.registers import (
    DEFAULT_LIMITS,
    Changeset,
    Item,
    LinkedRegisters,
    Record,
    RegisterBatch,
    RegisterHead,
    Schema,
    Scope,
)
from civicstack.registers.datatypes import NAME_RE
from civicstack.registers.entries import Entry
from civicstack.registers.stored import StoredHead, stored_item
from civicstack.stores.db import DirectReads, Fetch
from civicstack.stores.log import LogStore
from civicstack.stores.registers._rows import (
    CHUNK,
    HEAD_COLUMNS,
    KEY_AAD,
    RECORD_COLUMNS,
    SCOPES,
    SYSTEM,
    USER,
    digest,
    head_of,
    is_key,
    range_bytes,
    record_row,
    tree_head,
    value_key,
)


class RegisterLogs:
    """Each register's row and log: created with a fresh Ed25519 key sealed under the platform's
    master key (AES-256-GCM), and appended to with that key unsealed once per process."""

    def __init__(
        self,
        logs: LogStore,
        reads: DirectReads,
        master_key: Callable[[], bytes],
        origin_prefix: str,
    ) -> None:
        self.logs = logs
        self.reads = reads
        self._master_key = master_key
        self.origin_prefix = origin_prefix
        self._signers: dict[str, NoteSigner] = {}

    def create(self, conn: Connection, name: str) -> StoredHead:
        """Insert a new register's row and create its log with a fresh sealed key."""
        log_name = f"registers/{name}"
        jwk = generate_private_jwk("EdDSA")
        signer = NoteSigner(f"{self.origin_prefix}/registers/{name}", PrivateKey.from_jwk(jwk))
        sealed = b64url_encode(
            aead_encrypt(self._master_key(), json_dumps(jwk), KEY_AAD + log_name.encode())
        )
        try:
            self.logs.create_log(log_name, signer, conn=conn)
        except CivicError as exc:
            if exc.code == "log_exists":
                raise CivicError("conflict", f"register {name!r} exists") from exc
            raise
        row = conn.exec_driver_sql(
            self.reads.sql(
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

    def append(self, conn: Connection, head: StoredHead, leaves: Sequence[bytes]) -> range:
        """Append ``leaves`` to the register's log with a new signed checkpoint (in ``conn``)."""
        return self.logs.append_in(conn, head.log_name, leaves, self._signer(conn, head))

    def _signer(self, conn: Connection, head: StoredHead) -> NoteSigner:
        signer = self._signers.get(head.log_name)
        if signer is None:
            rows = self.reads.fetcher(conn)(
                "SELECT sealed_key FROM reg_registers WHERE id = ?", (head.id,)
            )
            blob = b64url_decode(str(rows[0][0]))
            plain = aead_decrypt(self._master_key(), blob, KEY_AAD + head.log_name.encode())
            key = PrivateKey.from_jwk(json_object_strict(plain))
            origin = self.logs.head(head.log_name).origin
            signer = self._signers[head.log_name] = NoteSigner(origin, key)
        return signer


class StoredRegister:
    """One register as seen inside a write transaction: the domain's reads, and apply."""

    def __init__(
        self,
        catalogue: StoreCatalogue,
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
                tree_head(head.user_count, ranges[0]),
                tree_head(head.size, ranges[1]),
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
                    f"SELECT key, {RECORD_COLUMNS} FROM reg_records"  # noqa: S608
                    " WHERE register_id = ? AND scope = ?",
                    (self.row.id, SYSTEM),
                )
                for row in rows:
                    record = record_row(str(row[0]), SYSTEM, row[1:]).record()
                    self._system[record.key] = record.items
        return MappingProxyType(self._system)

    def item(self, item_hash: str) -> Item | None:
        """The item with this hash, if the register has it."""
        if self.row is None:
            return None
        if item_hash not in self._items:
            rows = self._fetch(
                "SELECT canonical FROM reg_items WHERE register_id = ? AND hash = ?",
                (self.row.id, digest(item_hash)),
            )
            self._items[item_hash] = stored_item(item_hash, bytes(rows[0][0])) if rows else None
        return self._items[item_hash]

    def missing_keys(self, keys: Set[str]) -> Set[str]:
        """Those of ``keys`` with no user record."""
        if self.row is None or not keys:
            return set(keys)
        found: set[str] = set()
        wanted = sorted(k for k in keys if is_key(k))
        for i in range(0, len(wanted), CHUNK):
            chunk = wanted[i : i + CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = self._fetch(
                "SELECT key FROM reg_records"  # noqa: S608 - placeholders only
                f" WHERE register_id = ? AND scope = ? AND key IN ({marks})",
                (self.row.id, USER, *chunk),
            )
            found.update(str(r[0]) for r in rows)
        return set(keys) - found

    # -- CatalogueRegister ----------------------------------------------------------------

    def record(self, key: str) -> Record | None:
        """The user record for ``key``."""
        if self.row is None or not is_key(key):
            return None
        rows = self._fetch(
            f"SELECT {RECORD_COLUMNS} FROM reg_records"  # noqa: S608
            " WHERE register_id = ? AND scope = ? AND key = ?",
            (self.row.id, USER, key),
        )
        return record_row(key, USER, rows[0]).record() if rows else None

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
        logs = self._catalogue.logs
        if self.row is None:
            self.row = logs.create(self._catalogue.conn, self.name)
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
                range_bytes(head.govuk),
                range_bytes(head.log),
                head.root_hash(),
                head.log_root(),
                row.id,
                changes.base.size,
            ),
        )
        if moved.rowcount != 1:
            raise CivicError("conflict", f"register {self.name!r} changed during the write")
        # The same leaves in the register's log, with a new signed checkpoint.
        appended = logs.append(self._catalogue.conn, row, changes.log_leaves())
        if appended.start != changes.base.size:
            raise CivicError(
                "internal_error", f"register {self.name!r} and its log disagree on their size"
            )
        self._head = head
        self._system = None
        self._schema = None

    def _execute(self, sql: str, params: Any) -> Any:
        return self._catalogue.execute(sql, params)

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
                [(rid, digest(i.hash), first[i.hash], i.canonical) for i in changes.items],
            )
        self._execute(
            "INSERT INTO reg_entries"
            " (register_id, position, scope, number, key, timestamp, item_hashes)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    rid,
                    e.position,
                    SCOPES[e.scope],
                    e.number,
                    e.key,
                    e.timestamp,
                    b"".join(digest(h) for h in e.item_hashes),
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
                    SCOPES[scope],
                    key,
                    entry.position,
                    entry.number,
                    entry.timestamp,
                    b"".join(digest(h) for h in entry.item_hashes),
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
        for i in range(0, len(stale), CHUNK):
            chunk = stale[i : i + CHUNK]
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


class StoreCatalogue(LinkedRegisters[StoredRegister]):
    """The catalogue rules over the registers of one write transaction."""

    def __init__(self, logs: RegisterLogs, conn: Connection) -> None:
        super().__init__()
        self.logs = logs
        self.conn = conn
        self._reads = logs.reads
        self.fetch: Fetch = logs.reads.fetcher(conn)
        self._held: dict[str, StoredRegister | None] = {}

    def execute(self, sql: str, params: Any) -> Any:
        """Run one write statement (``?`` placeholders) in this transaction."""
        return self.conn.exec_driver_sql(self._reads.sql(sql), params)

    def lock(self, names: Iterable[str]) -> None:
        """Lock the rows of the registers this transaction writes, in name order."""
        wanted = sorted(set(names))
        if not wanted or self._reads.sqlite:
            return  # SQLite's BEGIN IMMEDIATE holds the only write lock already
        marks = ", ".join("?" * len(wanted))
        self.fetch(
            f"SELECT id FROM reg_registers WHERE name IN ({marks}) ORDER BY name FOR UPDATE",  # noqa: S608
            tuple(wanted),
        )

    def lookup(self, name: str) -> StoredRegister | None:
        """The register called ``name`` as this transaction sees it."""
        if len(name) > DEFAULT_LIMITS.max_name_length or NAME_RE.fullmatch(name) is None:
            return None  # a link's prefix may be anything; no register has such a name
        if name not in self._held:
            rows = self.fetch(
                f"SELECT {HEAD_COLUMNS}, govuk_range, log_range FROM reg_registers"  # noqa: S608
                " WHERE name = ?",
                (name,),
            )
            self._held[name] = (
                StoredRegister(
                    self, head_of(rows[0]), name, (bytes(rows[0][9]), bytes(rows[0][10]))
                )
                if rows
                else None
            )
        return self._held[name]

    def new_register(self, name: str) -> StoredRegister:
        """A register to be created by this transaction."""
        longest = DEFAULT_LIMITS.max_name_length
        if len(name) > longest:
            raise InputError("invalid_schema", f"register names are at most {longest} characters")
        return StoredRegister(self, None, name)

    def applied(self, name: str, register: StoredRegister) -> None:
        """Hold the register (created or changed) for the rest of the transaction."""
        self._held[name] = register
