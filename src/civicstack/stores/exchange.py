"""The exchange's storage: data services, hosted records, and the access log's subjects.

Tables (Alembic branch ``exchange``):

``exchange_services``  each published data service: provider, name, title, categories (JSON),
                       ``hosted`` or ``remote`` (with its URL), when it was published.
``exchange_records``   hosted records, keyed by (provider, service, the provider's pairwise id
                       of the citizen): the record's JSON, when it was written.
``access_subjects``    each citizen's chain on the access log (:mod:`civicstack.access.subject`):
                       their access-log handle, how many entries are about them and the leaf
                       hash of the last one. Moved in the transaction that appends their
                       entries, so a chain never has a gap or a fork.
``access_map_nodes``   the subject map (:mod:`civicstack.access.subject_map`): a sparse Merkle
                       tree of each subject's blinded map key -> blinded chain head, one row per
                       stored node (id = depth || key prefix); updated once per batch.
``access_tags``        each entry's subject tag -> its index in the log, so that a citizen's
                       entries are found by the tags their key computes.

The access log itself is the log ``access`` of the :class:`~civicstack.stores.log.LogStore`
(tlog-tiles in ``log_*``), appended with :meth:`LogStore.append_built` inside one transaction
per batch (the log store's group-commit writer: its kept-open connection and remembered right
edge) together with the chain heads, the tags and the subject map, signing one checkpoint per
batch; the receipts' inclusion proofs come from the writer's memory. Each batch's last leaf is
the subject map's root (:class:`SubjectMapRoot`), so every checkpoint of the access log ends
with the map root covering every entry before it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import orjson
from sqlalchemy import BigInteger, Column, LargeBinary, String, Table, Text
from sqlalchemy.engine import Connection, Engine

from civicstack.access import (
    AccessEntry,
    AppendedAccesses,
    ChainHead,
    DataService,
    SubjectMapRoot,
    chained,
    head_value,
    map_key,
    parse_leaf,
    subject_key,
    subject_tag,
)
from civicstack.access.history import MAX_HISTORY_ENTRIES, ProvenLeaf, SubjectHistory
from civicstack.access.subject_map import (
    MAP_EMPTY,
    MapBranch,
    MapLeaf,
    MapNode,
    MapProof,
    node_id,
    prove_map,
    update_map,
)
from civicstack.errors import CivicError, InputError
from civicstack.log import NoteSigner
from civicstack.log.tiles import TILE_WIDTH
from civicstack.stores.db import (
    DirectReads,
    Fetch,
    RowsStatement,
    any_of,
    metadata,
    write_transaction,
)
from civicstack.stores.log import LogStore, LogWrites

log = logging.getLogger("civicstack.exchange")

__all__ = ["ACCESS_LOG", "AccessLogStore", "DataServiceStore"]

#: The access log's name in the log store.
ACCESS_LOG = "access"

exchange_services_table = Table(
    "exchange_services",
    metadata,
    Column("provider", String(64), primary_key=True),
    Column("name", String(64), primary_key=True),
    Column("title", String(200), nullable=False),
    Column("categories", Text, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("url", Text, nullable=True),
    Column("published_at", BigInteger, nullable=False),
)
exchange_records_table = Table(
    "exchange_records",
    metadata,
    Column("provider", String(64), primary_key=True),
    Column("service", String(64), primary_key=True),
    Column("subject", String(64), primary_key=True),
    Column("record", LargeBinary, nullable=False),
    Column("updated_at", BigInteger, nullable=False),
)
access_subjects_table = Table(
    "access_subjects",
    metadata,
    Column("log_subject", String(128), primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("last", LargeBinary, nullable=False),
)
access_map_nodes_table = Table(
    "access_map_nodes",
    metadata,
    Column("id", LargeBinary, primary_key=True),
    Column("hash", LargeBinary, nullable=False),
    Column("leaf_key", LargeBinary, nullable=True),
    Column("leaf_value", LargeBinary, nullable=True),
    sqlite_with_rowid=False,
)
access_tags_table = Table(
    "access_tags",
    metadata,
    Column("tag", LargeBinary, primary_key=True),
    Column("idx", BigInteger, nullable=False),
    sqlite_with_rowid=False,
)
#: A new subject's chain head's ``last`` (no entry yet).
_EMPTY_LAST = ChainHead().last
#: Ids per ``IN (...)`` read of map nodes or tags (under both drivers' parameter limits).
_CHUNK = 2000

# The access writer's statements over a batch's rows (see RowsStatement: once per batch on
# PostgreSQL). New subjects' heads, before every head is locked in one order:
_NEW_SUBJECTS = RowsStatement(
    sqlite="INSERT INTO access_subjects (log_subject, count, last) VALUES (?, 0, ?)"
    " ON CONFLICT (log_subject) DO NOTHING",
    postgres="INSERT INTO access_subjects (log_subject, count, last)"
    " SELECT s, 0, l FROM unnest(?::text[], ?::bytea[]) AS n(s, l)"
    " ORDER BY s ON CONFLICT (log_subject) DO NOTHING",
)
_TAGS = RowsStatement(
    sqlite="INSERT INTO access_tags (tag, idx) VALUES (?, ?)",
    postgres="INSERT INTO access_tags (tag, idx) SELECT * FROM unnest(?::bytea[], ?::bigint[])",
)
_MAP_NODES = RowsStatement(
    sqlite="INSERT INTO access_map_nodes (id, hash, leaf_key, leaf_value) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (id) DO UPDATE SET hash = excluded.hash,"
    " leaf_key = excluded.leaf_key, leaf_value = excluded.leaf_value",
    postgres="INSERT INTO access_map_nodes (id, hash, leaf_key, leaf_value)"
    " SELECT * FROM unnest(?::bytea[], ?::bytea[], ?::bytea[], ?::bytea[])"
    " ON CONFLICT (id) DO UPDATE SET hash = excluded.hash,"
    " leaf_key = excluded.leaf_key, leaf_value = excluded.leaf_value",
)
_HEADS = RowsStatement(
    sqlite="UPDATE access_subjects SET count = ?, last = ? WHERE log_subject = ?",
    postgres="UPDATE access_subjects SET count = h.c, last = h.l"
    " FROM unnest(?::bigint[], ?::bytea[], ?::text[]) AS h(c, l, s)"
    " WHERE access_subjects.log_subject = h.s",
)


class _ConnectionWrites:
    """:class:`~civicstack.stores.log.LogWrites` on a SQLAlchemy connection."""

    def __init__(self, conn: Connection, sql: Callable[[str], str]) -> None:
        self._conn, self._sql = conn, sql

    def run(self, sql: str, params: tuple[Any, ...]) -> None:
        self._conn.exec_driver_sql(self._sql(sql), params)

    def many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            self._conn.exec_driver_sql(self._sql(sql), rows)

    def rows(self, statement: RowsStatement, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if self._conn.dialect.name == "sqlite":
            self.many(statement.sqlite, list(rows))
        else:
            self.run(statement.postgres, statement.columns(rows))

    def fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        return list(self._conn.exec_driver_sql(self._sql(sql), params).all())


class _StoredMapNodes:
    """The subject map's nodes as :func:`~civicstack.access.subject_map.update_map` reads them,
    inside a transaction (or a read snapshot)."""

    def __init__(self, fetch: Fetch) -> None:
        self._fetch = fetch

    def read_nodes(self, ids: Collection[bytes]) -> Mapping[bytes, MapNode]:
        out: dict[bytes, MapNode] = {}
        wanted = list(ids)
        for at in range(0, len(wanted), _CHUNK):
            chunk = wanted[at : at + _CHUNK]
            rows = self._fetch(
                "SELECT id, hash, leaf_key, leaf_value FROM access_map_nodes"  # noqa: S608
                " WHERE id IN (" + ", ".join("?" * len(chunk)) + ")",
                tuple(chunk),
            )
            for r in rows:
                out[bytes(r[0])] = (
                    MapBranch(bytes(r[1])) if r[2] is None else MapLeaf(bytes(r[2]), bytes(r[3]))
                )
        return out


_ROOT_ID = node_id(0, bytes(32))


class _MapCache:
    """The subject map's nodes this process has read or written, valid for one root.

    The map is content-addressed: while the stored root's hash is the one cached, every node
    under it (and every absence) is as cached, since a different node would change the root
    (a SHA-256 collision otherwise). So a write batch reads the root row, and only when it
    differs (another process wrote, or a batch rolled back) forgets everything. Writes enter
    the cache after their commit. A cache that started from the empty map and saw every write
    since is *complete*: a node it lacks is an empty subtree, read from nowhere. Bounded: past
    :attr:`most` nodes it starts afresh.
    """

    def __init__(self, most: int = 1 << 20) -> None:
        self.root: bytes | None = None
        self.nodes: dict[bytes, MapNode | None] = {}
        self.complete = False
        self.most = most
        self.lock = threading.Lock()

    def reader(self, fetch: Fetch) -> _CachedMapNodes:
        """Nodes for one write transaction: checked against the stored root first."""
        stored = fetch("SELECT hash FROM access_map_nodes WHERE id = ?", (_ROOT_ID,))
        root = bytes(stored[0][0]) if stored else MAP_EMPTY
        with self.lock:
            if root != self.root or len(self.nodes) > self.most:
                self.nodes = {}
                self.root = root
                self.complete = root == MAP_EMPTY
        return _CachedMapNodes(self, _StoredMapNodes(fetch))

    def committed(self, root: bytes, writes: Mapping[bytes, MapNode]) -> None:
        """After a commit: the map now has ``root`` and ``writes``."""
        with self.lock:
            self.nodes.update(writes)
            self.root = root


class _CachedMapNodes:
    def __init__(self, cache: _MapCache, stored: _StoredMapNodes) -> None:
        self._cache, self._stored = cache, stored

    def read_nodes(self, ids: Collection[bytes]) -> Mapping[bytes, MapNode]:
        nodes = self._cache.nodes
        out: dict[bytes, MapNode] = {}
        missing: list[bytes] = []
        for i in ids:
            if i in nodes:
                hit = nodes[i]
                if hit is not None:
                    out[i] = hit
            else:
                missing.append(i)
        if missing and not self._cache.complete:
            read = self._stored.read_nodes(missing)
            out.update(read)
            with self._cache.lock:
                for i in missing:
                    nodes[i] = read.get(i)
        return out


class DataServiceStore:
    """Published data services and hosted records (implements ``DataServiceStorage``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._reads = DirectReads(engine, max_idle=4)
        self._sqlite = engine.dialect.name == "sqlite"

    def publish(self, service: DataService, *, now: int) -> None:
        """Publish ``service`` or replace its earlier definition."""
        row = (
            service.title,
            orjson.dumps(list(service.categories)).decode(),
            service.kind,
            service.url,
            now,
            service.provider,
            service.name,
        )
        with write_transaction(self.engine) as conn:
            sql = self._reads.sql
            updated = conn.exec_driver_sql(
                sql(
                    "UPDATE exchange_services SET title = ?, categories = ?, kind = ?, url = ?,"
                    " published_at = ? WHERE provider = ? AND name = ?"
                ),
                row,
            ).rowcount
            if not updated:
                conn.exec_driver_sql(
                    sql(
                        "INSERT INTO exchange_services (title, categories, kind, url,"
                        " published_at, provider, name) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    row,
                )

    def service(self, provider: str, name: str) -> DataService | None:
        """The published service, if any."""
        with self._reads.reading() as fetch:
            rows = fetch(
                "SELECT provider, name, title, categories, kind, url FROM exchange_services"
                " WHERE provider = ? AND name = ?",
                (provider, name),
            )
        return _service(rows[0]) if rows else None

    def services(self) -> list[DataService]:
        """Every published service, by provider and name."""
        with self._reads.reading() as fetch:
            rows = fetch(
                "SELECT provider, name, title, categories, kind, url FROM exchange_services"
                " ORDER BY provider, name",
                (),
            )
        return [_service(r) for r in rows]

    def put_records(
        self, provider: str, name: str, records: Sequence[tuple[str, bytes]], *, now: int
    ) -> None:
        """Write hosted records, replacing earlier ones of the same subjects; all or nothing."""
        sql = self._reads.sql
        with write_transaction(self.engine) as conn:
            conn.exec_driver_sql(
                sql(
                    # Only "?" placeholders are interpolated; every value is a bound parameter.
                    "DELETE FROM exchange_records WHERE provider = ? AND service = ?"  # noqa: S608
                    " AND subject IN (" + ", ".join("?" * len(records)) + ")"
                ),
                (provider, name, *(s for s, _ in records)),
            )
            conn.exec_driver_sql(
                sql(
                    "INSERT INTO exchange_records (provider, service, subject, record, updated_at)"
                    " VALUES (?, ?, ?, ?, ?)"
                ),
                [(provider, name, s, data, now) for s, data in records],
            )

    def put_value_in(
        self,
        conn: Connection,
        services: Sequence[DataService],
        subject: str,
        category: str,
        value: object,
        *,
        now: int,
    ) -> None:
        """In the caller's transaction: set ``category`` to ``value`` in ``subject``'s record of
        each of ``services`` (hosted, one provider's), keeping its other categories; each
        service is published first if it is not yet."""
        sql = self._reads.sql
        for service in services:
            listed = conn.exec_driver_sql(
                sql("SELECT 1 FROM exchange_services WHERE provider = ? AND name = ?"),
                (service.provider, service.name),
            ).first()
            if listed is None:
                conn.exec_driver_sql(
                    sql(
                        "INSERT INTO exchange_services (title, categories, kind, url,"
                        " published_at, provider, name) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    ),
                    (
                        service.title,
                        orjson.dumps(list(service.categories)).decode(),
                        service.kind,
                        service.url,
                        now,
                        service.provider,
                        service.name,
                    ),
                )
            key = (service.provider, service.name, subject)
            read = "SELECT record FROM exchange_records WHERE provider = ? AND service = ?"
            read += " AND subject = ?"
            if not self._sqlite:
                read += " FOR UPDATE"
            row = conn.exec_driver_sql(sql(read), key).first()
            record = {} if row is None else orjson.loads(bytes(row[0]))
            record[category] = value
            data = orjson.dumps(record)
            if row is None:
                conn.exec_driver_sql(
                    sql(
                        "INSERT INTO exchange_records (provider, service, subject, record,"
                        " updated_at) VALUES (?, ?, ?, ?, ?)"
                    ),
                    (*key, data, now),
                )
            else:
                conn.exec_driver_sql(
                    sql(
                        "UPDATE exchange_records SET record = ?, updated_at = ?"
                        " WHERE provider = ? AND service = ? AND subject = ?"
                    ),
                    (data, now, *key),
                )

    def record(self, provider: str, name: str, subject: str) -> bytes | None:
        """The hosted record of ``subject``, if any."""
        with self._reads.reading() as fetch:
            rows = fetch(
                "SELECT record FROM exchange_records WHERE provider = ? AND service = ?"
                " AND subject = ?",
                (provider, name, subject),
            )
        return bytes(rows[0][0]) if rows else None

    def records(self, keys: Sequence[tuple[str, str, str]]) -> dict[tuple[str, str, str], bytes]:
        """The hosted records of ``(provider, service, subject)`` keys that have one, in one
        read per data service."""
        by_service: dict[tuple[str, str], list[str]] = {}
        for provider, name, subject in keys:
            by_service.setdefault((provider, name), []).append(subject)
        out: dict[tuple[str, str, str], bytes] = {}
        with self._reads.reading() as fetch:
            for (provider, name), subjects in by_service.items():
                for at in range(0, len(subjects), _CHUNK):
                    sql, params = any_of(
                        "SELECT subject, record FROM exchange_records WHERE provider = ?"
                        " AND service = ? AND subject {in_keys}",
                        subjects[at : at + _CHUNK],
                        sqlite=self._sqlite,
                    )
                    for subject, record in fetch(sql, (provider, name, *params)):
                        out[provider, name, str(subject)] = bytes(record)
        return out

    def close(self) -> None:
        """Close the kept-open read connections."""
        self._reads.close()


def _is_map_root(leaf: bytes) -> bool:
    try:
        return isinstance(parse_leaf(leaf), SubjectMapRoot)
    except CivicError:
        return False


def _service(row: Sequence[object]) -> DataService:
    categories = orjson.loads(str(row[3]))
    return DataService(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        tuple(categories),
        "remote" if row[4] == "remote" else "hosted",
        None if row[5] is None else str(row[5]),
    )


class AccessLogStore:
    """The access log and its subjects' chains (implements ``AccessLogStorage``)."""

    def __init__(self, logs: LogStore, signer: NoteSigner, *, name: str = ACCESS_LOG) -> None:
        self.logs = logs
        self.signer = signer
        self.name = name
        self._reads = DirectReads(logs.engine, max_idle=1)
        self._sqlite = logs.engine.dialect.name == "sqlite"
        self._map = _MapCache()

    def ensure(self) -> None:
        """Create the access log (signed by :attr:`signer`) unless it exists; a log written
        before the subject map existed gets its map now (:meth:`seal_map`)."""
        try:
            self.logs.create_log(self.name, self.signer)
        except InputError as exc:
            if exc.code != "log_exists":
                raise
            self.seal_map()

    def append_accesses(
        self, accesses: Sequence[tuple[AccessEntry, str | None]]
    ) -> AppendedAccesses:
        """Append in one transaction with the chain heads, the tags, the subject map (its root
        as the batch's last leaf) and one signed checkpoint.

        The transaction is the log store's group-commit one (:meth:`LogStore.append_built`):
        the log row is locked first (every writer, in any process, takes turns there before it
        reads the map or the heads), then this batch's rows are written, then the entries."""
        subjects = sorted({s for _, s in accesses if s is not None})
        keys = {s: subject_key(s) for s in subjects}
        # What build() made, for after the commit: the map root, its writes, the entries.
        made: list[tuple[bytes, Mapping[bytes, MapNode], list[bytes]]] = []

        def build(sql: LogWrites, start: int) -> list[bytes]:
            heads: dict[str, ChainHead] = {}
            if subjects:
                # New subjects get a row first, so that every head is then locked in one order
                # (no deadlock between two writers on PostgreSQL).
                sql.rows(_NEW_SUBJECTS, [(s, _EMPTY_LAST) for s in subjects])
                lock = "" if self._sqlite else " FOR UPDATE"
                marks = ", ".join("?" * len(subjects))
                rows = sql.fetch(
                    "SELECT log_subject, count, last FROM access_subjects"  # noqa: S608
                    f" WHERE log_subject IN ({marks}) ORDER BY log_subject{lock}",
                    tuple(subjects),
                )
                heads = {str(r[0]): ChainHead(int(r[1]), bytes(r[2])) for r in rows}
            entries: list[bytes] = []
            tags: list[tuple[bytes, int]] = []
            for entry, subject in accesses:
                head = heads.get(subject, ChainHead()) if subject is not None else ChainHead()
                data, after = chained(
                    entry, subject, head, None if subject is None else keys[subject]
                )
                if subject is not None:
                    tags.append((subject_tag(keys[subject], head.count), start + len(entries)))
                    heads[subject] = after
                entries.append(data)
            # The subject map, once for the batch: each subject's blinded head.
            root, writes = update_map(
                self._map.reader(sql.fetch),
                {map_key(k): head_value(k, heads[s]) for s, k in keys.items()},
            )
            sql.rows(_TAGS, tags)
            self._write_map(sql, writes)
            sql.rows(_HEADS, [(heads[s].count, heads[s].last, s) for s in subjects])
            made[:] = [(root, writes, entries)]
            return [*entries, SubjectMapRoot(root).to_bytes()]

        done = self.logs.append_built(self.name, self.signer, build)
        root, writes, entries = made[0]
        self._map.committed(root, writes)
        proofs = None
        if done.proofs is not None:
            proofs = tuple(tuple(p) for p in done.proofs[: len(entries)])
        return AppendedAccesses(
            done.indices.start, tuple(entries), done.indices.stop, done.checkpoint, proofs
        )

    def _lock_log(self, fetch: Fetch) -> None:
        if not self._sqlite:
            fetch("SELECT id FROM log_logs WHERE name = ? FOR UPDATE", (self.name,))

    def _write_map(self, sql: LogWrites, writes: Mapping[bytes, MapNode]) -> None:
        sql.rows(
            _MAP_NODES,
            [
                (nid, n.hash, n.key, n.value)
                if isinstance(n, MapLeaf)
                else (nid, n.hash, None, None)
                for nid, n in writes.items()
            ],
        )

    def seal_map(self) -> bool:
        """Commit the subject map's root unless the log already ends with it: a log written
        before the map existed gets the map of every subject's head and its root as a leaf.
        True when a root was appended."""
        head = self.logs.head(self.name)
        if head.size == 0 or _is_map_root(self.logs.entry(self.name, head.size - 1)):
            return False
        with self.logs.transaction() as conn:
            fetch = self._reads.fetcher(conn)
            self._lock_log(fetch)
            rows = fetch("SELECT log_subject, count, last FROM access_subjects WHERE count > 0", ())
            updates = {}
            for r in rows:
                k = subject_key(str(r[0]))
                updates[map_key(k)] = head_value(k, ChainHead(int(r[1]), bytes(r[2])))
            root, writes = update_map(_StoredMapNodes(fetch), updates)
            self.logs.append_in(conn, self.name, [SubjectMapRoot(root).to_bytes()], self.signer)
            self._write_map(_ConnectionWrites(conn, self._reads.sql), writes)
        return True

    # --- a citizen's history (issue 12) ------------------------------------------------------

    @contextmanager
    def _snapshot(self) -> Iterator[Fetch]:
        """Reads that all see one committed state (a read transaction: WAL snapshot on SQLite,
        REPEATABLE READ on PostgreSQL)."""
        with self.logs.engine.connect() as conn:
            if self._sqlite:
                conn.execution_options(isolation_level="AUTOCOMMIT")
                conn.exec_driver_sql("BEGIN")
                try:
                    yield self._reads.fetcher(conn)
                finally:
                    conn.exec_driver_sql("ROLLBACK")
            else:
                conn.execution_options(isolation_level="REPEATABLE READ")
                with conn.begin():
                    yield self._reads.fetcher(conn)

    def subject_history(self, log_subject: str) -> SubjectHistory:
        """Every entry about ``log_subject`` under the latest checkpoint, with inclusion proofs,
        the checkpoint's last leaf (the subject map's root) and the map proof of the subject's
        key: what :func:`civicstack.access.history.verify_history` checks.

        The checkpoint, the subject's head and tags and the map are read in one snapshot, so
        they describe one state of the log; leaves and proofs under a checkpoint never change.
        A leaf the database has lost is left out (the wallet then finds the history incomplete).
        """
        key = subject_key(log_subject)
        with self._snapshot() as fetch:
            note = str(fetch("SELECT checkpoint FROM log_logs WHERE name = ?", (self.name,))[0][0])
            size = int(note.split("\n", 2)[1])
            found = fetch("SELECT count FROM access_subjects WHERE log_subject = ?", (log_subject,))
            count = int(found[0][0]) if found else 0
            if count > MAX_HISTORY_ENTRIES:
                raise InputError(
                    "too_large", f"a history lists at most {MAX_HISTORY_ENTRIES} entries"
                )
            indices = self._tag_indices(fetch, [subject_tag(key, n) for n in range(count)])
            _, proof = (
                prove_map(_StoredMapNodes(fetch), map_key(key))
                if size
                else (None, MapProof((), None))
            )
        checkpoint = self.logs.checkpoint(self.name, size)
        wanted = sorted(i for i in indices if i < size)
        if size:
            wanted.append(size - 1)
        leaves = self._leaves(wanted, size)
        return SubjectHistory(
            log_subject,
            checkpoint,
            tuple(leaves[i] for i in wanted[:-1] if i in leaves),
            leaves.get(size - 1) if size else None,
            proof,
        )

    @staticmethod
    def _tag_indices(fetch: Fetch, tags: Sequence[bytes]) -> list[int]:
        out: list[int] = []
        for at in range(0, len(tags), _CHUNK):
            chunk = tags[at : at + _CHUNK]
            rows = fetch(
                "SELECT idx FROM access_tags WHERE tag IN ("  # noqa: S608
                + ", ".join("?" * len(chunk))
                + ")",
                tuple(chunk),
            )
            out += [int(r[0]) for r in rows]
        return out

    def _leaves(self, indices: Sequence[int], size: int) -> dict[int, ProvenLeaf]:
        """The leaves at ``indices`` (bundle by bundle) with their proofs under ``size``."""
        out: dict[int, ProvenLeaf] = {}
        by_bundle: dict[int, list[int]] = {}
        for i in indices:
            by_bundle.setdefault(i // TILE_WIDTH, []).append(i)
        for bundle, wanted in by_bundle.items():
            start = bundle * TILE_WIDTH
            try:
                data = self.logs.entries(self.name, start, min(start + TILE_WIDTH, size))
                for i in wanted:
                    proof = self.logs.inclusion_proof(self.name, i, size)
                    out[i] = ProvenLeaf(i, data[i - start], tuple(proof))
            except CivicError as exc:
                log.warning("access-log leaves of bundle %d unreadable: %s", bundle, exc.detail)
        return out

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size``."""
        return self.logs.inclusion_proof(self.name, index, size)

    def chain_head(self, log_subject: str) -> ChainHead:
        """Where ``log_subject``'s chain stands."""
        with self._reads.reading() as fetch:
            rows = fetch(
                "SELECT count, last FROM access_subjects WHERE log_subject = ?", (log_subject,)
            )
        return ChainHead(int(rows[0][0]), bytes(rows[0][1])) if rows else ChainHead()

    def close(self) -> None:
        """Close the kept-open read connection."""
        self._reads.close()
