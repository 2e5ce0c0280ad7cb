"""Durable Merkle logs on SQLite and PostgreSQL, stored as C2SP tlog-tiles.

Many independent logs live side by side (one per register, the access log, ...), each named,
each with its own origin and Ed25519 key (C2SP tlog-checkpoint "Signatures"). A log is stored as

- ``log_tiles``: its tlog-tiles hash tiles (level, index) with civicstack's ``inner_hashes``
  (:mod:`civicstack.log.tiles`), so a proof reads one tile per tile level: O(log n) rows, and at
  10M entries three rows;
- ``log_bundles``: its entries in tlog-tiles entry bundles of 256;
- ``log_checkpoints``: every checkpoint it signed (one per write batch);
- ``log_logs``: name, origin, verifier key, current size, root and latest checkpoint.

Writes. :meth:`LogStore.append` is a group commit: concurrent callers queue their entries; one
of them (the leader) writes everything queued in one transaction, signs one checkpoint per log,
commits, and only then hands each caller its indices. A batch is all-or-nothing. On SQLite the
write transaction is ``BEGIN IMMEDIATE`` with ``synchronous=FULL`` (a returned index survives a
power cut); on PostgreSQL the log row is locked ``FOR UPDATE``, so several processes may append
to the same log. :meth:`LogStore.append_in` appends inside a caller's transaction (from
:meth:`LogStore.transaction`), for components that must commit their own rows atomically with
the log entries (a register import).

Reads never touch the leaves: roots and proofs come from the tiles; full tiles never change, so
they are cached in memory. A committed tree never changes either, so the store remembers the
largest size it has seen committed for each log: a proof or root for a size within it needs no
read of the log's row, and no database access at all when its tiles and span hashes are cached
(:class:`~civicstack.log.tiles.ProofMemo`). A proof never uses anything that could still change:
sizes only grow, tiles only grow (a cached prefix is final), and span hashes are of committed
leaves.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from itertools import islice

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
from sqlalchemy.exc import IntegrityError

from civicstack._crypto import MERKLE_EMPTY_ROOT, merkle_leaf_hashes
from civicstack.errors import CivicError, InputError
from civicstack.log import Checkpoint, NoteSigner, Receipt, sign_checkpoint
from civicstack.log.tiles import (
    MAX_ENTRY_BYTES,
    TILE_WIDTH,
    MemoryTiles,
    ProofMemo,
    Tile,
    TilePeek,
    TileRef,
    decode_bundle,
    encode_bundle,
    grow,
    prove_consistency,
    prove_inclusion,
    right_edge,
    root_at,
    tile_width,
)
from civicstack.stores.db import DirectReads, Fetch, metadata

__all__ = ["MAX_APPEND", "MAX_READ", "LogHead", "LogStore"]

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

#: Entries one call may append (larger imports go through :meth:`LogStore.append_all`).
MAX_APPEND = 1_000_000
#: Entries one read may return.
MAX_READ = 10_000
#: Span hashes remembered per log before its memo starts afresh (about 200 bytes each).
MEMO_ENTRIES = 1 << 17
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}(/[a-z0-9][a-z0-9._-]{0,63}){0,3}")


@dataclass(frozen=True)
class LogHead:
    """A log's identity and latest signed state."""

    name: str
    origin: str
    verifier_key: str
    size: int
    root: bytes
    checkpoint: str


@dataclass(frozen=True)
class _Row:
    id: int
    origin: str
    verifier_key: str
    size: int


@dataclass
class _Pending:
    name: str
    entries: list[bytes]
    signer: NoteSigner
    result: range | None = None
    error: BaseException | None = None
    finished: bool = False


def _check_name(name: str) -> str:
    if not isinstance(name, str) or len(name) > 128 or not _NAME.fullmatch(name):
        raise InputError("invalid_request", f"invalid log name {name!r}")
    return name


def _check_entries(entries: Iterable[bytes]) -> list[bytes]:
    out = entries if isinstance(entries, list) else list(entries)
    if not out:
        raise InputError("invalid_request", "nothing to append")
    if len(out) > MAX_APPEND:
        raise InputError("too_large", f"at most {MAX_APPEND} entries per append")
    # map() keeps these checks in C: bulk appends check millions of entries.
    if set(map(type, out)) != {bytes}:
        raise InputError("invalid_request", "log entries are bytes")
    if max(map(len, out)) > MAX_ENTRY_BYTES:
        raise InputError("too_large", f"a log entry is at most {MAX_ENTRY_BYTES} bytes")
    return out


class _CachedTiles:
    """Committed tiles of one log: from the cache, and from the database only for misses."""

    def __init__(self, store: LogStore, log_id: int) -> None:
        self._store, self._log_id = store, log_id

    def read_tiles(self, refs: Collection[TileRef]) -> Mapping[tuple[int, int], Tile]:
        store, log_id = self._store, self._log_id
        out: dict[tuple[int, int], Tile] = {}
        missing: list[TileRef] = []
        for ref in refs:
            hit = store._cache_get((log_id, ref.level, ref.idx))
            if hit is not None and hit.width >= ref.width:
                out[(ref.level, ref.idx)] = hit
            else:
                missing.append(ref)
        if missing:
            with store._reading() as fetch:
                out.update(store._read_tiles(fetch, log_id, missing, cache=True))
        return out


class LogStore:
    """Many named Merkle logs in one database (see the module docstring)."""

    def __init__(
        self,
        engine: Engine,
        *,
        tile_cache: int = 4096,
        max_batch: int = 65_536,
        idle_readers: int = 2,
    ) -> None:
        """A store over ``engine``; migrations must have run (:func:`civicstack.stores.db.upgrade`).

        ``tile_cache`` full tiles (about 11 KB each) stay in memory; ``max_batch`` entries at most
        go in one group-commit transaction; ``idle_readers`` connections stay open for reads.
        """
        self.engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._tile_cache: OrderedDict[tuple[int, int, int], Tile] = OrderedDict()
        self._tile_cache_size = tile_cache
        self._cache_lock = threading.Lock()
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_Pending] = []
        self._leading = False
        self._reads = DirectReads(engine, idle_readers)
        # name -> (log id, largest size seen committed); log id -> span hashes.
        self._known: dict[str, tuple[int, int]] = {}
        self._proving: dict[int, tuple[ProofMemo, TilePeek, _CachedTiles]] = {}

    def close(self) -> None:
        """Close the connections kept open for reads."""
        self._reads.close()

    # --- SQL plumbing -----------------------------------------------------------------------

    def _sql(self, sql: str) -> str:
        """Statements are written with ``?``; psycopg wants ``%s``."""
        return self._reads.sql(sql)

    def _fetcher(self, conn: Connection) -> Fetch:
        return self._reads.fetcher(conn)

    def _reading(self) -> AbstractContextManager[Fetch]:
        """A read outside any transaction (see :class:`~civicstack.stores.db.DirectReads`)."""
        return self._reads.reading()

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction that serialises appenders to a log and is durable at commit.

        Use it to append (:meth:`append_in`) together with your own writes, atomically.
        """
        with self.engine.connect() as conn:
            if not self._sqlite:
                with conn.begin():
                    yield conn
                return
            # pysqlite opens deferred transactions; a deferred reader that later writes can fail
            # with SQLITE_BUSY instead of waiting. Take the write lock up front instead, and make
            # this commit reach the disk (the shared engine runs synchronous=NORMAL).
            conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.exec_driver_sql("PRAGMA synchronous=FULL")
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                committed = False
                try:
                    yield conn
                    conn.exec_driver_sql("COMMIT")
                    committed = True
                finally:
                    if not committed:
                        with suppress(Exception):  # already rolled back by SQLite itself
                            conn.exec_driver_sql("ROLLBACK")
            finally:
                conn.exec_driver_sql("PRAGMA synchronous=NORMAL")

    @contextmanager
    def _maybe_transaction(self, conn: Connection | None) -> Iterator[Connection]:
        if conn is not None:
            yield conn
        else:
            with self.transaction() as own:
                yield own

    def _row(self, fetch: Fetch, name: str, *, lock: bool = False) -> _Row:
        sql = "SELECT id, origin, verifier_key, size FROM log_logs WHERE name = ?"
        if lock and not self._sqlite:
            sql += " FOR UPDATE"
        rows = fetch(sql, (_check_name(name),))
        if not rows:
            raise InputError("unknown_log", f"no log named {name!r}")
        row = rows[0]
        return _Row(int(row[0]), str(row[1]), str(row[2]), int(row[3]))

    def _cache_get(self, key: tuple[int, int, int]) -> Tile | None:
        with self._cache_lock:
            tile = self._tile_cache.get(key)
            if tile is not None:
                self._tile_cache.move_to_end(key)
            return tile

    def _peek(self, log_id: int) -> TilePeek:
        """A tile lookup in the cache only, for proofs of committed sizes."""
        cache = self._tile_cache

        def peek(level: int, index: int, width: int) -> Tile | None:
            # No lock: OrderedDict's C methods are atomic under the GIL; a tile evicted by
            # another thread between the two calls is simply a miss.
            key = (log_id, level, index)
            tile = cache.get(key)
            if tile is None or tile.width < width:
                return None
            with suppress(KeyError):
                cache.move_to_end(key)
            return tile

        return peek

    def _cache_put(self, key: tuple[int, int, int], tile: Tile) -> None:
        with self._cache_lock:
            held = self._tile_cache.get(key)
            if held is not None and held.width > tile.width:
                return
            self._tile_cache[key] = tile
            while len(self._tile_cache) > self._tile_cache_size:
                self._tile_cache.popitem(last=False)

    def _read_tiles(
        self, fetch: Fetch, log_id: int, refs: Collection[TileRef], *, cache: bool
    ) -> dict[tuple[int, int], Tile]:
        """Tiles by ``(level, index)``, from the cache when allowed.

        Only reads outside a write transaction may use the cache: they see committed rows, and
        a committed tile never changes except by growing, so a cached tile serves any request
        up to its width (full tiles: for ever).
        """
        out: dict[tuple[int, int], Tile] = {}
        missing: list[TileRef] = []
        for ref in refs:
            hit = self._cache_get((log_id, ref.level, ref.idx)) if cache else None
            if hit is not None and hit.width >= ref.width:
                out[(ref.level, ref.idx)] = hit
            else:
                missing.append(ref)
        if missing:
            where = " OR ".join(["(level = ? AND idx = ?)"] * len(missing))
            params: list[int] = [log_id]
            for ref in missing:
                params += (ref.level, ref.idx)
            # Only "?" placeholders are interpolated; every value is a bound parameter.
            sql = (
                "SELECT level, idx, hashes, inner_hashes FROM log_tiles"  # noqa: S608
                f" WHERE log_id = ? AND ({where})"
            )
            for level, idx, hashes, inner in fetch(sql, tuple(params)):
                tile = Tile(int(level), int(idx), bytes(hashes), bytes(inner))
                tile.check()
                out[(tile.level, tile.index)] = tile
                if cache:
                    self._cache_put((log_id, tile.level, tile.index), tile)
        for ref in refs:
            got = out.get((ref.level, ref.idx))
            if got is None or got.width < ref.width:
                raise CivicError("internal_error", f"log tile {ref.level}/{ref.idx} is missing")
        return out

    # --- logs -------------------------------------------------------------------------------

    def create_log(
        self, name: str, signer: NoteSigner, *, conn: Connection | None = None
    ) -> LogHead:
        """Create the empty log ``name`` signed by ``signer`` (whose key name is the origin).

        Signs the size-0 checkpoint. Pass ``conn`` (from :meth:`transaction`) to create the log
        atomically with your own writes. Raises ``log_exists`` or ``invalid_request``.
        """
        _check_name(name)
        note = sign_checkpoint(Checkpoint(signer.name, 0, MERKLE_EMPTY_ROOT), [signer])
        vkey = signer.verifier.vkey
        with self._maybe_transaction(conn) as c:
            found = c.exec_driver_sql(self._sql("SELECT 1 FROM log_logs WHERE name = ?"), (name,))
            if found.first() is not None:
                raise InputError("log_exists", f"a log named {name!r} exists")
            try:
                log_id = c.exec_driver_sql(
                    self._sql(
                        "INSERT INTO log_logs (name, origin, verifier_key, size, root, checkpoint)"
                        " VALUES (?, ?, ?, 0, ?, ?) RETURNING id"
                    ),
                    (name, signer.name, vkey, MERKLE_EMPTY_ROOT, note),
                ).scalar_one()
            except IntegrityError as exc:  # a concurrent creator won
                raise InputError("log_exists", f"a log named {name!r} exists") from exc
            c.exec_driver_sql(
                self._sql(
                    "INSERT INTO log_checkpoints (log_id, size, root, note) VALUES (?, 0, ?, ?)"
                ),
                (log_id, MERKLE_EMPTY_ROOT, note),
            )
        return LogHead(name, signer.name, vkey, 0, MERKLE_EMPTY_ROOT, note)

    def head(self, name: str) -> LogHead:
        """The log's origin, verifier key, size, root and latest signed checkpoint."""
        with self._reading() as fetch:
            rows = fetch(
                "SELECT name, origin, verifier_key, size, root, checkpoint FROM log_logs"
                " WHERE name = ?",
                (_check_name(name),),
            )
        if not rows:
            raise InputError("unknown_log", f"no log named {name!r}")
        row = rows[0]
        return LogHead(
            str(row[0]), str(row[1]), str(row[2]), int(row[3]), bytes(row[4]), str(row[5])
        )

    def logs(self) -> list[LogHead]:
        """Every log, by name."""
        with self._reading() as fetch:
            rows = fetch(
                "SELECT name, origin, verifier_key, size, root, checkpoint FROM log_logs"
                " ORDER BY name",
                (),
            )
        return [
            LogHead(str(r[0]), str(r[1]), str(r[2]), int(r[3]), bytes(r[4]), str(r[5]))
            for r in rows
        ]

    # --- writes -----------------------------------------------------------------------------

    def append(self, name: str, entries: Sequence[bytes], signer: NoteSigner) -> range:
        """Append ``entries`` to log ``name``; return their indices once durably committed.

        Concurrent calls are committed together (group commit) with one signed checkpoint per
        log and batch; a batch is all-or-nothing. ``signer`` must hold the log's key. Raises
        ``unknown_log``, ``invalid_key``, ``too_large`` or ``invalid_request``.
        """
        req = _Pending(name, _check_entries(entries), signer)
        with self._cond:
            self._queue.append(req)
            while not req.finished:
                if self._leading:
                    self._cond.wait()
                    continue
                self._leading = True
                batch = self._take_batch()
                self._cond.release()
                try:
                    self._commit(batch)
                finally:
                    self._cond.acquire()
                    self._leading = False
                    self._cond.notify_all()
        if isinstance(req.error, CivicError):
            # A fresh exception per caller: the batch's error object is shared between threads.
            raise type(req.error)(req.error.code, req.error.detail) from req.error
        if req.error is not None:
            raise CivicError("internal_error", f"the append failed: {req.error}") from req.error
        assert req.result is not None
        return req.result

    def append_all(
        self, name: str, entries: Iterable[bytes], signer: NoteSigner, *, batch: int = 65_536
    ) -> range:
        """Append a stream of entries in durable batches of ``batch`` (each signs a checkpoint).

        Not atomic as a whole: a failure leaves the batches before it committed. For an atomic
        import use :meth:`transaction` and :meth:`append_in`.
        """
        first: int | None = None
        last = 0
        stream = iter(entries)
        while chunk := list(islice(stream, batch)):
            got = self.append(name, chunk, signer)
            first = got.start if first is None else first
            last = got.stop
        if first is None:
            raise InputError("invalid_request", "nothing to append")
        return range(first, last)

    def append_in(
        self, conn: Connection, name: str, entries: Sequence[bytes], signer: NoteSigner
    ) -> range:
        """Append inside the caller's transaction (from :meth:`transaction`) and sign a checkpoint.

        The entries and checkpoint commit or roll back with the caller's own writes.
        """
        entries = _check_entries(entries)
        row = self._row(self._fetcher(conn), name, lock=True)
        self._check_signer(row, name, signer)
        return self._extend(conn, row, entries, signer)

    def _take_batch(self) -> list[_Pending]:
        batch: list[_Pending] = []
        count = 0
        while self._queue and (not batch or count + len(self._queue[0].entries) <= self._max_batch):
            req = self._queue.pop(0)
            batch.append(req)
            count += len(req.entries)
        return batch

    @staticmethod
    def _check_signer(row: _Row, name: str, signer: NoteSigner) -> None:
        if signer.verifier.vkey != row.verifier_key:
            raise InputError("invalid_key", f"that key does not sign log {name!r}")

    def _commit(self, batch: list[_Pending]) -> None:
        """Write one group-commit batch in one transaction and settle every request in it."""
        groups: dict[str, list[_Pending]] = {}
        for req in batch:
            groups.setdefault(req.name, []).append(req)
        results: dict[int, range] = {}
        try:
            with self.transaction() as conn:
                for name, reqs in groups.items():
                    self._commit_log(conn, name, reqs, results)
        except BaseException as exc:
            for req in batch:
                req.error = req.error or exc
                req.finished = True
            if not isinstance(exc, Exception):
                raise
            return
        for req in batch:
            if req.error is None:
                req.result = results[id(req)]
            req.finished = True

    def _commit_log(
        self, conn: Connection, name: str, reqs: list[_Pending], results: dict[int, range]
    ) -> None:
        """Append one log's share of a batch; requests that cannot be served get their error."""
        try:
            row = self._row(self._fetcher(conn), name, lock=True)
        except CivicError as exc:
            for req in reqs:
                req.error = exc
            return
        good = []
        for req in reqs:
            try:
                self._check_signer(row, name, req.signer)
                good.append(req)
            except CivicError as exc:
                req.error = exc
        if not good:
            return
        self._extend(conn, row, [e for req in good for e in req.entries], good[0].signer)
        pos = row.size
        for req in good:
            results[id(req)] = range(pos, pos + len(req.entries))
            pos += len(req.entries)

    def _extend(
        self, conn: Connection, row: _Row, entries: list[bytes], signer: NoteSigner
    ) -> range:
        """Append to the locked log ``row``: tiles, bundles, checkpoint, new head."""
        size = row.size
        edge = self._read_tiles(self._fetcher(conn), row.id, right_edge(size), cache=False)
        head = b""
        if size % TILE_WIDTH:
            found = conn.exec_driver_sql(
                self._sql("SELECT data FROM log_bundles WHERE log_id = ? AND idx = ?"),
                (row.id, size // TILE_WIDTH),
            ).first()
            if found is None:
                raise CivicError("internal_error", f"entry bundle {size // TILE_WIDTH} is missing")
            head = bytes(found[0])
        changed = grow(size, edge, merkle_leaf_hashes(entries))
        new_size = size + len(entries)
        work = MemoryTiles(edge.values())
        work.update(changed)
        root = root_at(new_size, work)
        bundles = []
        pos, index = 0, size // TILE_WIDTH
        while pos < len(entries):
            take = TILE_WIDTH - (size + pos) % TILE_WIDTH
            bundles.append((row.id, index, head + encode_bundle(entries[pos : pos + take])))
            pos, index, head = pos + take, index + 1, b""
        conn.exec_driver_sql(
            self._sql(
                "INSERT INTO log_tiles (log_id, level, idx, hashes, inner_hashes)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (log_id, level, idx) DO UPDATE"
                " SET hashes = excluded.hashes, inner_hashes = excluded.inner_hashes"
            ),
            [(row.id, t.level, t.index, t.hashes, t.inner) for t in changed],
        )
        conn.exec_driver_sql(
            self._sql(
                "INSERT INTO log_bundles (log_id, idx, data) VALUES (?, ?, ?)"
                " ON CONFLICT (log_id, idx) DO UPDATE SET data = excluded.data"
            ),
            bundles,
        )
        note = sign_checkpoint(Checkpoint(row.origin, new_size, root), [signer])
        updated = conn.exec_driver_sql(
            self._sql(
                "UPDATE log_logs SET size = ?, root = ?, checkpoint = ? WHERE id = ? AND size = ?"
            ),
            (new_size, root, note, row.id, size),
        )
        if updated.rowcount != 1:
            raise InputError("conflict", "the log changed during the append")
        conn.exec_driver_sql(
            self._sql("INSERT INTO log_checkpoints (log_id, size, root, note) VALUES (?, ?, ?, ?)"),
            (row.id, new_size, root, note),
        )
        return range(size, new_size)

    # --- reads ------------------------------------------------------------------------------

    def _saw(self, name: str, row: _Row) -> None:
        """Remember that ``row`` (read outside any write transaction) is committed."""
        known = self._known.get(name)
        if known is None or row.size > known[1]:
            self._known[name] = (row.id, row.size)

    def _sized(self, name: str, size: int | None) -> tuple[int, int]:
        """The log's id and the tree size to use (default: the latest).

        A size within the largest one seen committed needs no database read: trees only grow.
        Raises ``unknown_log``, ``invalid_request`` or ``proof_out_of_range``.
        """
        if isinstance(size, int) and size >= 0:
            known = self._known.get(name)
            if known is not None and size <= known[1]:
                return known[0], size
        with self._reading() as fetch:
            row = self._row(fetch, name)
        self._saw(name, row)
        if size is None:
            return row.id, row.size
        if not isinstance(size, int) or not 0 <= size <= row.size:
            raise InputError(
                "proof_out_of_range", f"log {name!r} has {row.size} entries, not {size}"
            )
        return row.id, size

    def _prover(self, log_id: int) -> tuple[ProofMemo, TilePeek, _CachedTiles]:
        """What proofs of one log read from: remembered spans, the tile cache, the database."""
        held = self._proving.get(log_id)
        if held is None:
            held = (ProofMemo(MEMO_ENTRIES), self._peek(log_id), _CachedTiles(self, log_id))
            self._proving[log_id] = held
        held[0].trim()
        return held

    def root(self, name: str, size: int | None = None) -> bytes:
        """The root hash of the log's first ``size`` entries (default: all)."""
        log_id, size = self._sized(name, size)
        memo, _, tiles = self._prover(log_id)
        return root_at(size, tiles, memo)

    def inclusion_proof(self, name: str, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``index`` in the tree of ``size`` (default: all).

        Raises ``unknown_log`` or ``proof_out_of_range``.
        """
        log_id, size = self._sized(name, size)
        if not isinstance(index, int) or not 0 <= index < size:
            raise InputError("proof_out_of_range", f"no entry {index} in a tree of {size}")
        memo, peek, tiles = self._prover(log_id)
        return prove_inclusion(index, size, tiles, memo, peek)

    def consistency_proof(self, name: str, size1: int, size2: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof from tree size ``size1`` to ``size2`` (default: all).

        Raises ``unknown_log`` or ``proof_out_of_range`` (sizes must be 0 < size1 <= size2).
        """
        log_id, size2 = self._sized(name, size2)
        if not isinstance(size1, int) or not 0 < size1 <= size2:
            raise InputError("proof_out_of_range", f"no consistency proof from {size1} to {size2}")
        memo, peek, tiles = self._prover(log_id)
        return prove_consistency(size1, size2, tiles, memo, peek)

    def checkpoint(self, name: str, size: int | None = None) -> str:
        """The signed checkpoint of the log at ``size`` (default: the latest)."""
        with self._reading() as fetch:
            row = self._row(fetch, name)
            found = fetch(
                "SELECT note FROM log_checkpoints WHERE log_id = ? AND size = ?",
                (row.id, row.size if size is None else size),
            )
        if not found:
            raise InputError("not_found", f"log {name!r} signed no checkpoint at size {size}")
        return str(found[0][0])

    def entries(self, name: str, start: int, end: int) -> list[bytes]:
        """Entries ``[start, end)`` of the log (at most :data:`MAX_READ` at a time)."""
        if not (isinstance(start, int) and isinstance(end, int)) or not 0 <= start <= end:
            raise InputError("invalid_request", "entries are read from start to end")
        if end - start > MAX_READ:
            raise InputError("too_large", f"at most {MAX_READ} entries per read")
        with self._reading() as fetch:
            row = self._row(fetch, name)
            if end > row.size:
                raise InputError("proof_out_of_range", f"log {name!r} has {row.size} entries")
            if start == end:
                return []
            first, last = start // TILE_WIDTH, (end - 1) // TILE_WIDTH
            rows = fetch(
                "SELECT idx, data FROM log_bundles WHERE log_id = ? AND idx >= ? AND idx <= ?"
                " ORDER BY idx",
                (row.id, first, last),
            )
        if [int(r[0]) for r in rows] != list(range(first, last + 1)):
            raise CivicError("internal_error", f"entry bundles of log {name!r} are missing")
        out: list[bytes] = []
        for _idx, data in rows:
            out += decode_bundle(bytes(data))
        offset = first * TILE_WIDTH
        if len(out) < end - offset:
            raise CivicError("internal_error", f"entry bundles of log {name!r} are short")
        return out[start - offset : end - offset]

    def entry(self, name: str, index: int) -> bytes:
        """Entry ``index`` of the log."""
        if not isinstance(index, int) or index < 0:
            raise InputError("proof_out_of_range", f"no entry {index}")
        return self.entries(name, index, index + 1)[0]

    def receipt(
        self, name: str, index: int, *, size: int | None = None, with_entry: bool = True
    ) -> Receipt:
        """A C2SP tlog-proof for entry ``index`` under the checkpoint at ``size`` (default latest).

        ``with_entry`` puts the entry in the receipt's extra data, so the receipt alone shows
        what was logged (the inclusion proof is what authenticates it).
        """
        head = self.head(name)
        size = head.size if size is None else size
        note = head.checkpoint if size == head.size else self.checkpoint(name, size)
        proof = self.inclusion_proof(name, index, size)
        extra = self.entry(name, index) if with_entry else None
        return Receipt(index, tuple(proof), note, extra or None)

    def tile(self, name: str, level: int, index: int, width: int | None = None) -> bytes:
        """The tlog-tiles tile ``level``/``index`` (``width`` for a partial tile), for serving."""
        if (
            not (isinstance(level, int) and isinstance(index, int))
            or not 0 <= level < 64
            or index < 0
        ):
            raise InputError("not_found", "no such tile")
        with self._reading() as fetch:
            row = self._row(fetch, name)
            have = tile_width(level, index, row.size)
            want = TILE_WIDTH if width is None else width
            if not 0 < want <= have or (width is not None and not 0 < width < TILE_WIDTH):
                raise InputError("not_found", "no such tile")
            tile = self._read_tiles(fetch, row.id, [TileRef(level, index, want)], cache=True)
        return tile[(level, index)].hashes[: want * 32]

    def entry_bundle(self, name: str, index: int, width: int | None = None) -> bytes:
        """The tlog-tiles entry bundle ``index`` (``width`` entries for a partial one)."""
        want = TILE_WIDTH if width is None else width
        if not isinstance(index, int) or index < 0 or not 0 < want <= TILE_WIDTH:
            raise InputError("not_found", "no such entry bundle")
        start = index * TILE_WIDTH
        try:
            return encode_bundle(self.entries(name, start, start + want))
        except InputError as exc:
            if exc.code == "proof_out_of_range":
                raise InputError("not_found", "no such entry bundle") from exc
            raise
