"""Appends to the log store: the group commit, appends inside a caller's transaction, and the
write of one batch.

What a durable append must write, and no more: its entries, one ``log_leaves`` row each while
their entry bundle is partial, in one transaction. A log's size is the larger of its row's
``size`` and one past its last leaf row, so an unsigned append that stays in the partial
bundle writes ONE b-tree page on SQLite, as a bare one-row commit does: ``BEGIN IMMEDIATE``
(the write lock), the leaf rows, ``COMMIT`` (fsynced). The writer remembers the size it left,
and ``PRAGMA data_version`` (unchanged unless another connection committed since) tells it
whether that is still the size; else it reads the size in the same transaction. On PostgreSQL
the same append is ONE autocommit statement that moves the log row's size by the number of
entries and inserts them at the old size, whoever else appended (the row lock orders writers,
in any number of processes). The root is not written per append: it is computed from the tiles
when read (:meth:`LogStore.head`, :meth:`LogStore.root`).
Tiles and entry bundles are written once, when they fill (every 256 entries), with the partial
tiles of the levels above; the log row then takes the new size and root. A checkpoint is signed
in the same transaction when the caller passes a signer, and can be signed later for any
committed size (:meth:`LogStore.sign`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any, NamedTuple, Protocol

from sqlalchemy.engine import Connection

from civicstack._crypto import merkle_leaf_hash, merkle_leaf_hashes
from civicstack.errors import CivicError, InputError
from civicstack.log import Checkpoint, NoteSigner, sign_checkpoint
from civicstack.log.tiles import (
    TILE_WIDTH,
    Frontier,
    MemoryTiles,
    Tile,
    encode_bundle,
    extend_frontier,
    frontier_root,
    grow,
    prove_appended,
    right_edge,
    root_at,
    span_hashes,
)
from civicstack.log.tree import root_nodes
from civicstack.stores.db import RowsStatement
from civicstack.stores.log.database import LogDatabase, _check_entries, _Row

__all__ = ["BuildEntries", "BuiltAppend", "LogAppends", "LogWrites"]


class _Pending:
    """One caller's append, queued for the group commit.

    A request that waits holds ``wake``; the leader releases it once, when the request is
    finished or when it hands the request the lead: one wake-up per caller, no broadcast.
    """

    __slots__ = (
        "build",
        "built",
        "entries",
        "error",
        "finished",
        "name",
        "result",
        "signer",
        "wake",
    )

    def __init__(
        self,
        name: str,
        entries: list[bytes],
        signer: NoteSigner | None,
        build: BuildEntries | None = None,
    ) -> None:
        self.name, self.entries, self.signer, self.build = name, entries, signer, build
        self.built: BuiltAppend | None = None
        self.result: range | None = None
        self.error: BaseException | None = None
        self.finished = False
        self.wake: Any = None  # a held lock, made only when the request has to wait


#: The most entry bytes a writer remembers of one log's partial bundle (:class:`_Bundle`).
_BUNDLE_MEMORY = 1 << 20


class _Bundle:
    """The leaves of a log's partial bundle as this writer committed them, ``[base, base + n)``,
    so that the append that fills the bundle need not read them back.

    Only the writer that committed them extends the lists, in place and only after its commit,
    so the first ``n`` of them never change: a reader takes a prefix (:meth:`leaves`).
    """

    __slots__ = ("base", "entries", "hashes", "nbytes")

    def __init__(self, base: int, hashes: list[bytes], entries: list[bytes]) -> None:
        self.base, self.hashes, self.entries = base, hashes, entries
        self.nbytes = sum(map(len, entries))

    @classmethod
    def of(cls, base: int, hashes: list[bytes], entries: list[bytes]) -> _Bundle | None:
        """The bundle ``[base, base + len(entries))``, or None when too large to remember."""
        bundle = cls(base, hashes, entries)
        return bundle if bundle.nbytes <= _BUNDLE_MEMORY else None

    def extended(
        self, start: int, hashes: Sequence[bytes], entries: Sequence[bytes]
    ) -> _Bundle | None:
        """This bundle with leaves committed at ``start`` (None: no longer remembered)."""
        if start != self.base + len(self.hashes) or start + len(entries) >= self.base + 256:
            return None
        self.nbytes += sum(map(len, entries))
        if self.nbytes > _BUNDLE_MEMORY:
            return None
        self.hashes.extend(hashes)
        self.entries.extend(entries)
        return self

    def plus(self, start: int, hashes: Sequence[bytes], entries: Sequence[bytes]) -> _Bundle | None:
        """A new bundle: this one's leaves up to ``start`` and then these (None: unknown)."""
        got = self.leaves(self.base, start)
        if got is None:
            return None
        return _Bundle.of(self.base, got[0] + list(hashes), got[1] + list(entries))

    def leaves(self, base: int, size: int) -> tuple[list[bytes], list[bytes]] | None:
        """The hashes and entries of leaves ``[base, size)``, when remembered."""
        n = size - base
        if base != self.base or len(self.entries) < n:
            return None
        return self.hashes[:n], self.entries[:n]


class _Edge(NamedTuple):
    """What a writer remembers of a log after its own last commit: the size it left the log
    at and, when known, the frontier there (to sign without reading the right edge) and the
    leaves of the partial bundle (to fill it without reading them).

    The frontier is kept at ``size - len(pending)`` with the leaf hashes appended since: an
    unsigned append inside the partial bundle needs no root, so its node hashes are computed
    only when something asks for the frontier (:meth:`at_size`), and not at all when the
    bundle fills first (the fill rebuilds the right edge from its tiles).
    """

    size: int
    frontier: Frontier | None
    pending: tuple[bytes, ...] = ()
    bundle: _Bundle | None = None

    def at_size(self) -> Frontier | None:
        """The frontier at ``size``, or None when unknown."""
        if self.frontier is None or not self.pending:
            return self.frontier
        return extend_frontier(self.frontier, self.pending)

    def grown(self, start: int, hashes: Sequence[bytes], entries: Sequence[bytes]) -> _Edge:
        """This edge after leaves ``hashes`` of ``entries`` were committed at ``start`` inside
        the partial bundle (frontier and bundle unknown unless this writer left the log at
        ``start``)."""
        size = start + len(hashes)
        if self.size != start:
            return _Edge(size, None)
        bundle = self.bundle.extended(start, hashes, entries) if self.bundle else None
        if self.frontier is None:
            return _Edge(size, None, (), bundle)
        return _Edge(size, self.frontier, self.pending + tuple(hashes), bundle)


@dataclass(frozen=True)
class _Extended:
    indices: range
    edge: _Edge
    checkpoint: str | None = None
    before: Frontier | None = None  # the frontier at indices.start, when known
    hashes: Sequence[bytes] = ()


class LogWrites(Protocol):
    """The statements of the log store's write transaction, for a :data:`BuildEntries` callback:
    ``?`` placeholders on both engines."""

    def run(self, sql: str, params: tuple[Any, ...]) -> None:
        """Execute one statement (on PostgreSQL it may only be sent: its error, if any, is
        raised by a later statement or the commit, and the transaction rolls back)."""
        ...

    def many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Execute one statement for each of ``rows``."""
        ...

    def rows(self, statement: RowsStatement, rows: Sequence[tuple[Any, ...]]) -> None:
        """Execute ``statement`` over ``rows`` as its engine's form says (one execution over
        column arrays on PostgreSQL)."""
        ...

    def fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Execute one query; its rows."""
        ...


#: Called by the group-commit leader inside the append's write transaction, with the log's
#: row locked and its size: writes the caller's own rows (with ``LogWrites``) and returns the
#: entries to append at that size. Raising rolls everything back.
BuildEntries = Callable[[LogWrites, int], Sequence[bytes]]


@dataclass(frozen=True)
class BuiltAppend:
    """What :meth:`LogAppends.append_built` committed: the entries' indices, the checkpoint
    signed for them, and their RFC 9162 inclusion proofs in that checkpoint's tree when the
    writer could make them from memory (else None: read them from the store)."""

    indices: range
    checkpoint: str
    proofs: list[list[bytes]] | None


class _Statements:
    """The statements one write transaction runs, on a SQLAlchemy connection or a raw cursor."""

    def __init__(self, store: LogDatabase, conn: Connection | None, cursor: Any = None) -> None:
        self._sql, self._conn, self._cursor = store._sql, conn, cursor
        self._sqlite = store._sqlite

    def run(self, sql: str, params: tuple[Any, ...]) -> None:
        """Execute one statement (in a pipeline on PostgreSQL: sent, not waited for)."""
        if self._cursor is not None:
            self._cursor.execute(self._sql(sql), params)
            return
        assert self._conn is not None
        self._conn.exec_driver_sql(self._sql(sql), params)

    def many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Execute one statement for each of ``rows`` (one round of executemany)."""
        if not rows:
            return
        if self._cursor is not None:
            self._cursor.executemany(self._sql(sql), rows)
        else:
            assert self._conn is not None
            self._conn.exec_driver_sql(self._sql(sql), rows)

    def rows(self, statement: RowsStatement, rows: Sequence[tuple[Any, ...]]) -> None:
        """Execute ``statement`` over ``rows``: per row on SQLite, once on PostgreSQL."""
        if not rows:
            return
        if self._sqlite:
            self.many(statement.sqlite, list(rows))
        elif self._cursor is not None:
            # Binary parameters (%b): psycopg quotes each element of a text-format bytea array
            # with a regular expression, which cost more than the rest of the statement.
            sql = self._sql(statement.postgres).replace("%s", "%b")
            self._cursor.execute(sql, statement.columns(rows))
        else:
            self.run(statement.postgres, statement.columns(rows))

    def fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Execute one query; its rows."""
        if self._cursor is not None:
            self._cursor.execute(self._sql(sql), params)
            return list(self._cursor.fetchall())
        assert self._conn is not None
        return list(self._conn.exec_driver_sql(self._sql(sql), params).all())


class _LockedTiles:
    """The tiles of one log as the current write transaction sees them (never the cache's
    partial tiles: a partial tile read here may be newer than any committed one)."""

    def __init__(self, store: LogDatabase, sql: _Statements, log_id: int) -> None:
        self._store, self._sql, self._log_id = store, sql, log_id

    def read_tiles(self, refs: Any) -> dict[tuple[int, int], Tile]:
        return self._store._read_tiles(self._sql.fetch, self._log_id, refs, cache=False)


def _held_lock() -> Any:
    lock = threading.Lock()
    lock.acquire()
    return lock


def _settled(req: _Pending) -> range:
    """A finished request's indices, or its error raised in the caller's thread."""
    if req.error is None:
        assert req.result is not None
        return req.result
    if isinstance(req.error, CivicError):
        # A fresh exception per caller: the batch's error object is shared between threads.
        raise type(req.error)(req.error.code, req.error.detail) from req.error
    raise CivicError("internal_error", f"the append failed: {req.error}") from req.error


# A leaf row goes in its bundle slot (idx % 256), over the stale row of an earlier bundle:
# after a log's first bundle, its leaf pages are written in place and never split (log_0003).
_INSERT_LEAF = (
    "INSERT INTO log_leaves (log_id, slot, idx, hash, entry) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (log_id, slot) DO UPDATE"
    " SET idx = excluded.idx, hash = excluded.hash, entry = excluded.entry"
)

# PostgreSQL's one-statement append: the log row's size moves by the number of entries (its
# row lock orders every writer, in any process) unless they would fill the partial bundle,
# and the entries go in at the size it had. Durable when it returns (synchronous_commit).
_PG_APPEND_ONE = (
    "WITH head AS (UPDATE log_logs SET size = size + 1"
    " WHERE id = %s AND mod(size, 256) < 255 RETURNING size - 1 AS start)"
    " INSERT INTO log_leaves (log_id, slot, idx, hash, entry)"
    " SELECT %s, mod(start, 256), start, %s, %s FROM head ON CONFLICT (log_id, slot) DO UPDATE"
    " SET idx = excluded.idx, hash = excluded.hash, entry = excluded.entry RETURNING idx"
)
_PG_APPEND_MANY = (
    "WITH head AS (UPDATE log_logs SET size = size + %s"
    " WHERE id = %s AND mod(size, 256) + %s < 256 RETURNING size - %s AS start)"
    " INSERT INTO log_leaves (log_id, slot, idx, hash, entry)"
    " SELECT %s, mod(head.start + v.n - 1, 256), head.start + v.n - 1, v.hash, v.entry"
    " FROM head, unnest(%s::bytea[], %s::bytea[]) WITH ORDINALITY AS v(hash, entry, n)"
    " ON CONFLICT (log_id, slot) DO UPDATE"
    " SET idx = excluded.idx, hash = excluded.hash, entry = excluded.entry RETURNING idx"
)


class LogAppends(LogDatabase):
    """The writes of :class:`~civicstack.stores.log.LogStore` (see the package docstring)."""

    _max_batch: int
    _mutex: threading.Lock
    _queue: list[_Pending]
    _leading: bool
    _writer: Connection | None
    _cursor: Any  # the writer's DB-API cursor, kept with it
    # SQLite: the writer connection's PRAGMA data_version at its last commit (None: unknown).
    _data_version: int | None
    # log id -> what this store's writer left it at; name -> log id.
    _edges: dict[int, _Edge]
    _log_ids: dict[str, int]

    # --- writes -----------------------------------------------------------------------------

    def append(self, name: str, entries: Sequence[bytes], signer: NoteSigner | None) -> range:
        """Append ``entries`` to log ``name``; return their indices once durably committed.

        Concurrent calls are committed together (group commit); a batch is all-or-nothing.
        With a ``signer`` (which must hold the log's key) the batch signs one checkpoint; with
        ``None`` it signs none and the log's latest checkpoint stays at an earlier size until
        :meth:`sign`. Raises ``unknown_log``, ``invalid_key``, ``too_large`` or
        ``invalid_request``.
        """
        entries = _check_entries(entries, self.limits.append_entries)
        with self._mutex:
            alone = not self._leading  # then nobody is queued either
            self._leading = True
            if not alone:
                req = _Pending(name, entries, signer)
                req.wake = _held_lock()
                self._queue.append(req)
        if alone:
            return self._append_alone(name, entries, signer)
        req.wake.acquire()  # released when finished, or when handed the lead
        if not req.finished:
            self._lead()
        return _settled(req)

    def _append_alone(self, name: str, entries: list[bytes], signer: NoteSigner | None) -> range:
        """Commit one caller's append as the leader of a batch of one (no other caller was
        waiting), then hand the lead on: the single writer's path, without the queue."""
        try:
            log_id = self._log_ids.get(name) if signer is None else None
            if log_id is not None:
                try:
                    start = self._append_fast(log_id, entries)
                except BaseException as exc:
                    self._edges.pop(log_id, None)
                    if not isinstance(exc, Exception):
                        raise
                    req = _Pending(name, entries, signer)
                    req.error, req.finished = exc, True
                    return _settled(req)
                if start is not None:
                    return range(start, start + len(entries))
            req = _Pending(name, entries, signer)
            self._commit_general([req])  # the fast path was tried, or does not apply
        finally:
            self._hand_off()
        return _settled(req)

    def _hand_off(self) -> None:
        """Wake the first queued request to lead the next batch, or stop leading."""
        with self._mutex:
            after = self._queue[0] if self._queue else None
            self._leading = after is not None
        if after is not None:
            after.wake.release()

    def _lead(self) -> None:
        """Commit the queued requests (the leader's own first) and hand the lead on.

        While a batch commits (the fsync releases the GIL) the callers of the previous batch
        return and queue their next appends, so the next batch holds them all: one commit
        covers as many appends as there are waiting writers. The next leader is woken alone.
        """
        with self._mutex:
            batch = self._take_batch()
        try:
            self._commit(batch)
        finally:
            for req in batch:
                if not req.finished:  # a BaseException escaped the commit
                    req.error = req.error or CivicError("internal_error", "the append stopped")
                    req.finished = True
            self._hand_off()
            mine = batch[0]
            for req in batch:
                if req is not mine:
                    req.wake.release()

    def append_all(
        self,
        name: str,
        entries: Iterable[bytes],
        signer: NoteSigner | None,
        *,
        batch: int = 65_536,
    ) -> range:
        """Append a stream of entries in durable batches of ``batch`` (each signs a checkpoint
        when a ``signer`` is given).

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
        entries = _check_entries(entries, self.limits.append_entries)
        row = self._row(self._fetcher(conn), name, lock=True)
        self._check_signer(row, name, signer)
        # The caller may still roll back: what this append learns is not remembered.
        return self._extend(_Statements(self, conn), row, entries, signer).indices

    def append_built(self, name: str, signer: NoteSigner, build: BuildEntries) -> BuiltAppend:
        """Append what ``build`` returns, in the group-commit leader's write transaction with the
        caller's own writes, and sign one checkpoint; durable when it returns, all or nothing.

        The fast path's transaction (the leader's kept-open connection, the remembered right
        edge) with the general path's locking: the log row is locked before ``build`` runs, so
        ``build`` sees the size its entries will start at, and writers in other processes wait
        (PostgreSQL: the row lock; SQLite: ``BEGIN IMMEDIATE``). Taken alone, never batched
        with other requests, so a ``build`` that raises fails nobody else. Raises what
        :meth:`append` raises, or what ``build`` raised.
        """
        req = _Pending(name, [], signer, build)
        with self._mutex:
            lead = not self._leading
            if not lead:
                req.wake = _held_lock()
            self._queue.append(req)
            self._leading = True
        if not lead:
            req.wake.acquire()
        if not req.finished:
            self._lead()
        if isinstance(req.error, CivicError):
            raise type(req.error)(req.error.code, req.error.detail) from req.error
        if req.error is not None:
            raise req.error
        assert req.built is not None
        return req.built

    def sign(self, name: str, signer: NoteSigner) -> str:
        """Sign the log's current size and root, unless already signed; the signed checkpoint.

        A log created without a key takes ``signer``'s key (and name as its origin) here.
        Raises ``unknown_log`` or ``invalid_key``.
        """
        with self.transaction() as conn:
            fetch = self._fetcher(conn)
            row = self._row(fetch, name, lock=True)
            if row.verifier_key:
                self._check_signer(row, name, signer)
            else:
                row = replace(row, origin=signer.name, verifier_key=signer.verifier.vkey)
                conn.exec_driver_sql(
                    self._sql("UPDATE log_logs SET origin = ?, verifier_key = ? WHERE id = ?"),
                    (row.origin, row.verifier_key, row.id),
                )
            found = fetch(
                "SELECT note FROM log_checkpoints WHERE log_id = ? AND size = ?", (row.id, row.size)
            )
            if found:
                return str(found[0][0])
            root = root_at(row.size, _LockedTiles(self, _Statements(self, conn), row.id))
            note = sign_checkpoint(Checkpoint(row.origin, row.size, root), [signer])
            conn.exec_driver_sql(
                self._sql("UPDATE log_logs SET size = ?, root = ?, checkpoint = ? WHERE id = ?"),
                (row.size, root, note, row.id),
            )
            conn.exec_driver_sql(
                self._sql(
                    "INSERT INTO log_checkpoints (log_id, size, root, note) VALUES (?, ?, ?, ?)"
                ),
                (row.id, row.size, root, note),
            )
        return note

    def _take_batch(self) -> list[_Pending]:
        queue = self._queue
        count = len(queue[0].entries)
        end = 1
        while (
            queue[0].build is None
            and end < len(queue)
            and queue[end].build is None
            and count + len(queue[end].entries) <= self._max_batch
        ):
            count += len(queue[end].entries)
            end += 1
        batch = queue[:end]
        del queue[:end]
        return batch

    @staticmethod
    def _check_signer(row: _Row, name: str, signer: NoteSigner | None) -> None:
        if signer is not None and signer.verifier.vkey != row.verifier_key:
            raise InputError("invalid_key", f"that key does not sign log {name!r}")

    def _writer_cursor(self) -> Any:
        """A DB-API cursor on the group-commit leader's kept-open connection (autocommit).

        Only the leader writes, so one connection serves every batch: no pool checkout, and on
        SQLite ``synchronous=FULL`` is set once (each commit reaches the disk before it returns).
        """
        if self._writer is None:
            conn = self.engine.connect()
            conn.execution_options(isolation_level="AUTOCOMMIT")
            if self._sqlite:
                conn.exec_driver_sql("PRAGMA synchronous=FULL")
            self._writer = conn
            self._cursor = None
            self._data_version = None
        if self._cursor is None:
            dbapi = self._writer.connection.dbapi_connection
            if dbapi is None:  # pragma: no cover - an open connection always has one
                raise CivicError("internal_error", "no database connection")
            self._cursor = dbapi.cursor()
        return self._cursor

    @contextmanager
    def _writing(self) -> Iterator[_Statements]:
        """A durable write transaction on the leader's kept-open connection."""
        cursor = self._writer_cursor()
        # SQLite: take the write lock up front (a deferred reader that later writes can fail
        # with SQLITE_BUSY instead of waiting). PostgreSQL: the log row's lock serialises.
        try:
            if self._sqlite:
                cursor.execute("BEGIN IMMEDIATE")
                yield _Statements(self, None, cursor)
                cursor.execute("COMMIT")
            else:
                # A pipeline: statements whose results nobody reads go with the next that is
                # read, or with the COMMIT, in one round trip. Leaving the pipeline waits for
                # the COMMIT's answer (or raises the first error: then the transaction rolls
                # back below).
                with cursor.connection.pipeline():
                    cursor.execute("BEGIN")
                    yield _Statements(self, None, cursor)
                    cursor.execute("COMMIT")
        except BaseException:
            try:
                cursor.execute("ROLLBACK")
            except Exception:
                self._drop_writer()  # the connection is broken: open another next time
            raise

    def _drop_writer(self) -> None:
        writer, self._writer, self._cursor = self._writer, None, None
        self._data_version = None
        if writer is not None:
            with suppress(Exception):
                writer.invalidate()

    def _commit(self, batch: list[_Pending]) -> None:
        """Write one group-commit batch in one transaction and settle every request in it."""
        if batch[0].build is not None:
            self._commit_built(batch[0])
            return
        if not self._commit_fast(batch):
            self._commit_general(batch)

    def _commit_general(self, batch: list[_Pending]) -> None:
        """Write a batch of unbuilt requests in one general transaction (each log's row locked
        and read) and settle every request in it."""
        groups: dict[str, list[_Pending]] = {}
        for req in batch:
            groups.setdefault(req.name, []).append(req)
        results: dict[int, range] = {}
        edges: dict[int, _Edge] = {}
        try:
            with self._writing() as sql:
                for name, reqs in groups.items():
                    self._commit_log(sql, name, reqs, results, edges)
        except BaseException as exc:
            for name in groups:
                self._edges.pop(self._log_ids.get(name, -1), None)
            for req in batch:
                req.error = req.error or exc
                req.finished = True
            if not isinstance(exc, Exception):
                raise
            return
        self._edges.update(edges)  # committed: the writer may append on top without reading
        for req in batch:
            if req.error is None:
                req.result = results[id(req)]
            req.finished = True

    def _commit_fast(self, batch: list[_Pending]) -> bool:
        """The common batch, settled in one pass: unsigned appends to one log this store has
        written to, staying in the partial bundle (:meth:`_append_fast`). False, with nothing
        written or settled, when it does not apply."""
        name = batch[0].name
        log_id = self._log_ids.get(name)
        if log_id is None:
            return False
        for req in batch:
            if req.signer is not None or req.name != name:
                return False
        entries = batch[0].entries if len(batch) == 1 else [e for r in batch for e in r.entries]
        try:
            pos = self._append_fast(log_id, entries)
        except BaseException as exc:
            self._edges.pop(log_id, None)
            for req in batch:
                req.error, req.finished = exc, True
            if not isinstance(exc, Exception):
                raise
            return True
        if pos is None:
            return False
        for req in batch:
            end = pos + len(req.entries)
            req.result, req.finished = range(pos, end), True
            pos = end
        return True

    def _commit_built(self, req: _Pending) -> None:
        """Write one :meth:`append_built` request in its own transaction."""
        assert req.build is not None
        assert req.signer is not None
        log_id = self._log_ids.get(req.name, -1)
        try:
            with self._writing() as sql:
                row = self._row(sql.fetch, req.name, lock=True)
                log_id = row.id
                self._check_signer(row, req.name, req.signer)
                entries = _check_entries(req.build(sql, row.size), self.limits.append_entries)
                done = self._extend(sql, row, entries, req.signer)
        except BaseException as exc:
            self._edges.pop(log_id, None)
            req.error = exc
            req.finished = True
            if not isinstance(exc, Exception):
                raise
            return
        self._edges[row.id] = done.edge
        self._log_ids[req.name] = row.id
        assert done.checkpoint is not None
        proofs = None
        if done.before is not None:
            proofs = prove_appended(done.before, done.indices.start, done.hashes)
        req.built = BuiltAppend(done.indices, done.checkpoint, proofs)
        req.result = done.indices
        req.finished = True

    def _append_fast(self, log_id: int, entries: list[bytes]) -> int | None:
        """The common append, with as few statements and as little Python as it takes: the
        first index, or None (nothing written) when the entries would fill the partial bundle.

        It applies to unsigned entries of a log this store has written to before: SQLite
        writes only their leaf rows (one b-tree page); PostgreSQL runs one autocommit
        statement. When it returns None the caller runs the general transaction, which locks
        the row and reads. Remembers the edge it left the log at.
        """
        edge = self._edges.get(log_id)
        if edge is not None and edge.size % TILE_WIDTH + len(entries) >= TILE_WIDTH:
            return None  # they would fill the bundle (if this writer was the last to append)
        hashes = (
            [merkle_leaf_hash(entries[0])] if len(entries) == 1 else merkle_leaf_hashes(entries)
        )
        cursor = self._writer_cursor()
        try:
            if self._sqlite:
                start = self._sqlite_alone(cursor, log_id, entries, hashes)
            else:
                start = self._postgres_alone(cursor, log_id, entries, hashes)
        except BaseException:
            self._drop_writer()  # its state is unknown: open another next time
            raise
        if start is not None:
            self._edges[log_id] = (
                _Edge(start + len(entries), None)
                if edge is None
                else edge.grown(start, hashes, entries)
            )
        return start

    def _sqlite_alone(
        self, cursor: Any, log_id: int, entries: list[bytes], hashes: list[bytes]
    ) -> int | None:
        """BEGIN IMMEDIATE, the leaf rows, COMMIT; the first index, or None (nothing written)
        when the entries would fill the partial bundle."""
        execute = cursor.execute
        execute("BEGIN IMMEDIATE")
        try:
            # Unchanged since this connection's last commit: no other connection wrote since,
            # so the log is at the size this writer left it at.
            version = execute("PRAGMA data_version").fetchone()[0]
            edge = self._edges.get(log_id)
            if edge is not None and version == self._data_version:
                size = edge.size
            else:
                size = self._size_of(cursor, log_id)
            if size % TILE_WIDTH + len(entries) >= TILE_WIDTH:
                execute("ROLLBACK")
                return None
            if len(entries) == 1:
                execute(_INSERT_LEAF, (log_id, size % TILE_WIDTH, size, hashes[0], entries[0]))
            else:
                cursor.executemany(
                    _INSERT_LEAF,
                    [
                        (log_id, (size + k) % TILE_WIDTH, size + k, h, e)
                        for k, (h, e) in enumerate(zip(hashes, entries, strict=True))
                    ],
                )
            execute("COMMIT")
        except BaseException:
            with suppress(Exception):  # already rolled back by SQLite itself
                execute("ROLLBACK")
            raise
        self._data_version = version
        return size

    @staticmethod
    def _size_of(cursor: Any, log_id: int) -> int:
        """The log's size, read inside the write transaction (see :meth:`LogDatabase._row`)."""
        cursor.execute(
            "SELECT size, (SELECT max(idx) FROM log_leaves WHERE log_id = log_logs.id)"
            " FROM log_logs WHERE id = ?",
            (log_id,),
        )
        found = cursor.fetchone()
        if found is None:
            raise InputError("unknown_log", f"no log with id {log_id}")
        size, last = int(found[0]), found[1]
        return size if last is None else max(size, int(last) + 1)

    @staticmethod
    def _postgres_alone(
        cursor: Any, log_id: int, entries: list[bytes], hashes: list[bytes]
    ) -> int | None:
        n = len(entries)
        if n == 1:
            cursor.execute(_PG_APPEND_ONE, (log_id, log_id, hashes[0], entries[0]))
        else:
            cursor.execute(_PG_APPEND_MANY, (n, log_id, n, n, log_id, hashes, entries))
        rows = cursor.fetchall()
        if not rows:
            return None
        if len(rows) != n:  # pragma: no cover - the statement inserts all or none
            raise CivicError("internal_error", "the append wrote part of its entries")
        return min(int(r[0]) for r in rows)

    def _commit_log(
        self,
        sql: _Statements,
        name: str,
        reqs: list[_Pending],
        results: dict[int, range],
        edges: dict[int, _Edge],
    ) -> None:
        """Append one log's share of a batch; requests that cannot be served get their error."""
        try:
            row = self._row(sql.fetch, name, lock=True)
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
        signer = next((req.signer for req in good if req.signer is not None), None)
        entries = [e for req in good for e in req.entries]
        done = self._extend(sql, row, entries, signer)
        edges[row.id] = done.edge
        self._log_ids[name] = row.id
        pos = done.indices.start
        for req in good:
            results[id(req)] = range(pos, pos + len(req.entries))
            pos += len(req.entries)

    def _extend(
        self, sql: _Statements, row: _Row, entries: list[bytes], signer: NoteSigner | None
    ) -> _Extended:
        """Append to the locked log ``row`` (read in this transaction): its leaves or filled
        tiles and bundles, checkpoint, new head.

        When this writer left the log at ``row.size`` knowing its frontier and the entries stay
        in the partial bundle, nothing more is read; else the right edge is.
        """
        hashes = merkle_leaf_hashes(entries)
        edge = self._edges.get(row.id)
        fits = row.size % TILE_WIDTH + len(entries) < TILE_WIDTH
        known = edge if edge is not None and edge.size == row.size else None
        frontier = known.at_size() if fits and known is not None else None
        if frontier is not None:
            assert known is not None
            # Not extended in place: the transaction may still roll back (append_in).
            bundle = known.bundle.plus(row.size, hashes, entries) if known.bundle else None
            return self._extend_edge(
                sql, row, frontier, entries, hashes, signer=signer, bundle=bundle
            )
        return self._extend_read(sql, row, entries, hashes, signer=signer, known=known)

    def _extend_edge(
        self,
        sql: _Statements,
        row: _Row,
        frontier: Frontier,
        entries: list[bytes],
        hashes: list[bytes],
        *,
        signer: NoteSigner | None,
        bundle: _Bundle | None,
    ) -> _Extended:
        """Append entries that stay in the partial bundle, from the ``frontier`` at
        ``row.size``; ``bundle`` is the partial bundle with them, if remembered."""
        size = row.size
        before = frontier
        frontier = extend_frontier(frontier, hashes)
        new_size = size + len(entries)
        note = self._set_head(sql, row, new_size, frontier_root(frontier), signer)
        sql.many(
            _INSERT_LEAF,
            [
                (row.id, (size + k) % TILE_WIDTH, size + k, h, e)
                for k, (h, e) in enumerate(zip(hashes, entries, strict=True))
            ],
        )
        edge = _Edge(new_size, frontier, (), bundle)
        return _Extended(range(size, new_size), edge, note, before, hashes)

    def _set_head(
        self, sql: _Statements, row: _Row, new_size: int, root: bytes, signer: NoteSigner | None
    ) -> str | None:
        """Move the locked log row to ``new_size`` and ``root``, with a checkpoint if signed
        (returned)."""
        if signer is None:
            sql.run("UPDATE log_logs SET size = ?, root = ? WHERE id = ?", (new_size, root, row.id))
            return None
        note = sign_checkpoint(Checkpoint(row.origin, new_size, root), [signer])
        sql.run(
            "UPDATE log_logs SET size = ?, root = ?, checkpoint = ? WHERE id = ?",
            (new_size, root, note, row.id),
        )
        sql.run(
            "INSERT INTO log_checkpoints (log_id, size, root, note) VALUES (?, ?, ?, ?)",
            (row.id, new_size, root, note),
        )
        return note

    def _extend_read(
        self,
        sql: _Statements,
        row: _Row,
        entries: list[bytes],
        hashes: list[bytes],
        *,
        signer: NoteSigner | None,
        known: _Edge | None,
    ) -> _Extended:
        """The general append to the locked ``row``: read the right edge, write what filled.

        ``known`` is this writer's edge at ``row.size``, if any: the partial bundle's leaves
        are read from it when it remembers them.
        """
        size, log_id = row.size, row.id
        base = size - size % TILE_WIDTH
        got = known.bundle.leaves(base, size) if known is not None and known.bundle else None
        if got is None:
            rows = sql.fetch(
                "SELECT idx, hash, entry FROM log_leaves WHERE log_id = ? AND idx >= ?"
                " ORDER BY idx",
                (log_id, base),
            )
            if [int(r[0]) for r in rows] != list(range(base, size)):
                raise CivicError(
                    "internal_error", f"leaves {base}..{size} of log {log_id} are missing"
                )
            got = [bytes(r[1]) for r in rows], [bytes(r[2]) for r in rows]
        pending_hashes, pending_entries = got
        edge = self._read_tiles(
            sql.fetch, log_id, [r for r in right_edge(size) if r.level], cache=False
        )
        if pending_hashes:
            # grow() reads only the partial tile's hashes and replaces it with the tile it
            # extends, so its inner hashes are not computed (255 hashes per filled bundle).
            edge[(0, base // TILE_WIDTH)] = Tile(
                0, base // TILE_WIDTH, b"".join(pending_hashes), b""
            )
        changed = grow(size, edge, hashes)
        new_size = size + len(entries)
        work = MemoryTiles(edge.values())
        work.update(changed)
        frontier = _frontier(new_size, work)
        # The frontier at the old size too (its perfect subtrees are in the same tiles), so the
        # appended leaves' proofs can be made from memory.
        before = _frontier(size, work)
        note = self._set_head(sql, row, new_size, frontier_root(frontier), signer)
        tail = new_size - new_size % TILE_WIDTH  # the first leaf of the new partial bundle
        sql.many(
            "INSERT INTO log_tiles (log_id, level, idx, hashes, inner_hashes)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (log_id, level, idx) DO UPDATE"
            " SET hashes = excluded.hashes, inner_hashes = excluded.inner_hashes",
            [
                (log_id, t.level, t.index, t.hashes, t.inner)
                for t in changed
                if t.level or t.width == TILE_WIDTH
            ],
        )
        if tail > base:
            stream = pending_entries + entries
            sql.many(
                "INSERT INTO log_bundles (log_id, idx, data) VALUES (?, ?, ?)",
                [
                    (log_id, (base + k) // TILE_WIDTH, encode_bundle(stream[k : k + TILE_WIDTH]))
                    for k in range(0, tail - base, TILE_WIDTH)
                ],
            )
        first = max(tail, size)
        # The filled bundles' leaf rows stay, stale, until the next bundle's overwrite them.
        sql.many(
            _INSERT_LEAF,
            [
                (log_id, i % TILE_WIDTH, i, hashes[i - size], entries[i - size])
                for i in range(first, new_size)
            ],
        )
        if tail > base:  # the new partial bundle holds the last of these entries
            bundle = _Bundle.of(tail, hashes[tail - size :], entries[tail - size :])
        else:
            bundle = _Bundle.of(base, pending_hashes + hashes, pending_entries + entries)
        edge_after = _Edge(new_size, frontier, (), bundle)
        return _Extended(range(size, new_size), edge_after, note, before, hashes)


def _frontier(size: int, tiles: MemoryTiles) -> Frontier:
    """The frontier of a tree of ``size`` leaves from its right-edge tiles."""
    nodes = root_nodes(size)
    spans = [(index << level, (index + 1) << level) for level, index in nodes]
    hashes = span_hashes(spans, size, tiles)
    return [(level, h) for (level, _), h in zip(nodes, hashes, strict=True)]
