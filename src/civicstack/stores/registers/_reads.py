"""Reading registers: point reads on kept-open connections, downloads from one snapshot."""

from __future__ import annotations

from collections.abc import Iterator, Sequence, Set
from contextlib import ExitStack, contextmanager
from typing import Any

from sqlalchemy.engine import Engine

from civicstack._crypto import (
    MERKLE_EMPTY_ROOT,
)
from civicstack.errors import CivicError, InputError
from civicstack.registers import (
    DEFAULT_LIMITS,
    AssertRootHash,
    Field,
    Item,
    Schema,
    Scope,
)
from civicstack.registers.entries import Entry
from civicstack.registers.rsf import AddItem
from civicstack.registers.stored import (
    DanglingRecord,
    RecordRow,
    StoredHead,
    hash_text,
    stored_item,
)
from civicstack.stores.db import DirectReads, Fetch
from civicstack.stores.log import LogHead, LogStore
from civicstack.stores.registers._rows import (
    CHUNK,
    ENTRY_COLUMNS,
    HEAD_COLUMNS,
    RECORD_COLUMNS,
    SCOPES,
    SYSTEM,
    USER,
    check_register_name,
    digest,
    entry_of,
    head_of,
    is_key,
    record_row,
    value_key,
)


class RegisterReads:
    """The reads of :class:`~civicstack.stores.registers.RegisterStore`: records, entries,
    items, trails, search, and the streamed downloads."""

    engine: Engine
    logs: LogStore
    _reads: DirectReads

    # -- reads --------------------------------------------------------------------------------

    def _read(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        with self._reads.reading() as fetch:
            return fetch(sql, params)

    def heads(self) -> list[StoredHead]:
        """Every register's head, by name."""
        rows = self._read(f"SELECT {HEAD_COLUMNS} FROM reg_registers ORDER BY name", ())  # noqa: S608
        return [head_of(r) for r in rows]

    def head(self, name: str) -> StoredHead:
        """The register's head; raises ``not_found``."""
        rows = self._read(
            f"SELECT {HEAD_COLUMNS} FROM reg_registers WHERE name = ?",  # noqa: S608
            (check_register_name(name),),
        )
        if not rows:
            raise CivicError("not_found", f"no register {name!r}")
        return head_of(rows[0])

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
            f"SELECT key, {RECORD_COLUMNS} FROM reg_records"  # noqa: S608
            " WHERE register_id = ? AND scope = ? ORDER BY position",
            (head.id, SYSTEM),
        )
        return {str(r[0]): record_row(str(r[0]), SYSTEM, r[1:]).record().items for r in rows}

    def log_head(self, head: StoredHead) -> LogHead:
        """The register's log: origin, verifier key, size, root, latest signed checkpoint."""
        return self.logs.head(head.log_name)

    def all_metadata(self) -> dict[int, dict[str, tuple[Item, ...]]]:
        """Every register's system records, by register id (one query for a listing)."""
        rows = self._read(
            f"SELECT register_id, key, {RECORD_COLUMNS} FROM reg_records"  # noqa: S608
            " WHERE scope = ? ORDER BY register_id, position",
            (SYSTEM,),
        )
        out: dict[int, dict[str, tuple[Item, ...]]] = {}
        for r in rows:
            record = record_row(str(r[1]), SYSTEM, r[2:]).record()
            out.setdefault(int(r[0]), {})[str(r[1])] = record.items
        return out

    def record(self, name: str, key: str) -> tuple[StoredHead, RecordRow | None]:
        """The register's head and the record for ``key`` (``None`` when there is none), in one
        read."""
        if not is_key(key):
            return self.head(name), None
        rows = self._read(
            "SELECT g.id, g.name, g.log_name, g.user_count, g.system_count, g.size,"
            " g.record_count, g.root, g.log_root, r.position, r.number, r.timestamp,"
            " r.item_hashes, r.items FROM reg_registers g LEFT JOIN reg_records r"
            " ON r.register_id = g.id AND r.scope = ? AND r.key = ? WHERE g.name = ?",
            (USER, key, check_register_name(name)),
        )
        if not rows:
            raise CivicError("not_found", f"no register {name!r}")
        row = rows[0]
        head = head_of(row[:9])
        return head, None if row[9] is None else record_row(key, USER, row[9:])

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
        limit = max(1, min(limit, DEFAULT_LIMITS.max_page))
        if after is not None and not is_key(after):
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
        params += [head.id, USER]
        if after is not None:
            sql += " AND r.key > ?"
            params.append(after)
        sql += " ORDER BY r.key LIMIT ?"
        params.append(limit)
        rows = self._read(sql, tuple(params))
        out = [record_row(str(r[0]), USER, r[1:]) for r in rows]
        if where:
            # The index matches 128-bit value hashes; the values themselves are checked here.
            out = [r for r in out if _matches(r, where)]
        return out

    def trail(self, head: StoredHead, key: str, *, after: int = 0, limit: int = 100) -> list[Entry]:
        """The user entries for ``key``, oldest first, numbered above ``after``."""
        if not is_key(key):
            return []
        rows = self._read(
            f"SELECT {ENTRY_COLUMNS} FROM reg_entries WHERE register_id = ? AND scope = ?"  # noqa: S608
            " AND key = ? AND number > ? ORDER BY number LIMIT ?",
            (head.id, USER, key, after, max(1, min(limit, DEFAULT_LIMITS.max_page))),
        )
        return [entry_of(r) for r in rows]

    def entries(
        self, head: StoredHead, *, scope: Scope = Scope.USER, after: int = 0, limit: int = 100
    ) -> list[Entry]:
        """Entries of one scope numbered above ``after``, in order."""
        rows = self._read(
            f"SELECT {ENTRY_COLUMNS} FROM reg_entries WHERE register_id = ? AND scope = ?"  # noqa: S608
            " AND number > ? ORDER BY number LIMIT ?",
            (head.id, SCOPES[scope], after, max(1, min(limit, DEFAULT_LIMITS.max_page))),
        )
        return [entry_of(r) for r in rows]

    def entry(self, head: StoredHead, number: int, scope: Scope = Scope.USER) -> Entry:
        """Entry ``number`` of a scope; raises ``not_found``."""
        rows = self._read(
            f"SELECT {ENTRY_COLUMNS} FROM reg_entries WHERE register_id = ? AND scope = ?"  # noqa: S608
            " AND number = ?",
            (head.id, SCOPES[scope], number),
        )
        if not rows:
            raise CivicError("not_found", f"no {scope.value} entry {number}")
        return entry_of(rows[0])

    def entry_at(self, head: StoredHead, position: int) -> Entry:
        """The entry at a log position; raises ``not_found``."""
        rows = self._read(
            f"SELECT {ENTRY_COLUMNS} FROM reg_entries WHERE register_id = ? AND position = ?",  # noqa: S608
            (head.id, position),
        )
        if not rows:
            raise CivicError("not_found", f"no entry at log position {position}")
        return entry_of(rows[0])

    def item(self, head: StoredHead, item_hash: str) -> bytes:
        """The canonical bytes of an item; raises ``not_found``."""
        rows = self._read(
            "SELECT canonical FROM reg_items WHERE register_id = ? AND hash = ?",
            (head.id, digest(item_hash)),
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
        wanted = sorted(k for k in keys if is_key(k))
        for i in range(0, len(wanted), CHUNK):
            chunk = wanted[i : i + CHUNK]
            marks = ", ".join("?" * len(chunk))
            rows = self._read(
                "SELECT key FROM reg_records"  # noqa: S608 - placeholders only
                f" WHERE register_id = ? AND scope = ? AND key IN ({marks})",
                (head.id, USER, *chunk),
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
                    f"SELECT {ENTRY_COLUMNS} FROM reg_entries WHERE register_id = ?"  # noqa: S608
                    " AND position >= ? AND position < ? ORDER BY position",
                    (head.id, start, stop),
                )
                introduced = fetch(
                    "SELECT hash, canonical FROM reg_items WHERE register_id = ?"
                    " AND first_position >= ? AND first_position < ?",
                    (head.id, start, stop),
                )
            new = {hash_text(bytes(r[0])): bytes(r[1]) for r in introduced}
            out = []
            for row in rows:
                entry = entry_of(row)
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
                f"SELECT {HEAD_COLUMNS} FROM reg_registers WHERE name = ?",  # noqa: S608
                (check_register_name(name),),
            )
            if not rows:
                raise CivicError("not_found", f"no register {name!r}")
            head = head_of(rows[0])
            system = fetch(
                f"SELECT key, {RECORD_COLUMNS} FROM reg_records"  # noqa: S608
                " WHERE register_id = ? AND scope = ?",
                (head.id, SYSTEM),
            )
            meta = {str(r[0]): record_row(str(r[0]), SYSTEM, r[1:]).record().items for r in system}
            schema = Schema.from_metadata(head.name, meta)
        except BaseException:
            held.close()
            raise

        def stream() -> Iterator[RecordRow]:
            try:
                after: str | None = None
                while True:
                    sql = (
                        f"SELECT key, {RECORD_COLUMNS} FROM reg_records"  # noqa: S608
                        " WHERE register_id = ? AND scope = ?"
                    )
                    params: tuple[Any, ...] = (head.id, USER)
                    if after is not None:
                        sql += " AND key > ?"
                        params += (after,)
                    page = fetch(sql + " ORDER BY key LIMIT ?", (*params, chunk))
                    for r in page:
                        yield record_row(str(r[0]), USER, r[1:])
                    if len(page) < chunk:
                        return
                    after = str(page[-1][0])
            finally:
                held.close()

        return head, schema, stream()


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
