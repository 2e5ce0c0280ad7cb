"""Appends to the log store: the group commit, appends inside a caller's transaction, and the
write of one batch.

What a durable append must write, and no more: its entries (one ``log_leaves`` row each while
their entry bundle is partial) and the log's new size and root, in one transaction. The root
comes from the writer's :data:`~civicstack.log.tiles.Frontier` (O(1) hashes per leaf), so a
one-entry append reads nothing: it updates the log row on the condition that its size is the one
the writer remembers (on PostgreSQL, in one autocommit statement with the leaf rows), and when
another writer moved it, locks the row and catches up from the leaf rows added since (or reads
the right edge when a bundle filled in between).
Tiles and entry bundles are written once, when they fill (every 256 entries), with the partial
tiles of the levels above. A checkpoint is signed in the same transaction when the caller passes
a signer, and can be signed later for any committed size (:meth:`LogStore.sign`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from itertools import islice
from typing import Any

from sqlalchemy.engine import Connection

from civicstack._crypto import merkle_leaf_hashes
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
    right_edge,
    span_hashes,
)
from civicstack.log.tree import root_nodes
from civicstack.stores.log.database import LogDatabase, _check_entries, _Row

__all__ = ["LogAppends"]


@dataclass
class _Pending:
    name: str
    entries: list[bytes]
    signer: NoteSigner | None
    result: range | None = None
    error: BaseException | None = None
    finished: bool = False


@dataclass(frozen=True)
class _Edge:
    """What a writer remembers of a committed log: enough to append without reading it."""

    row: _Row
    frontier: Frontier


@dataclass(frozen=True)
class _Move:
    """One append that stays in the partial bundle: the head moves from ``row.size``."""

    row: _Row
    new_size: int
    root: bytes
    note: str  # the signed checkpoint, or "" for none
    hashes: list[bytes]
    entries: list[bytes]

    def arrays(self) -> tuple[list[int], list[bytes], list[bytes]]:
        """The leaf rows as three arrays (PostgreSQL ``unnest``)."""
        return list(range(self.row.size, self.new_size)), self.hashes, self.entries


@dataclass(frozen=True)
class _Extended:
    indices: range
    edge: _Edge


class _Statements:
    """The statements one write transaction runs, on a SQLAlchemy connection or a raw cursor."""

    def __init__(self, store: LogDatabase, conn: Connection | None, cursor: Any = None) -> None:
        self._sql, self._conn, self._cursor = store._sql, conn, cursor

    def run(self, sql: str, params: tuple[Any, ...]) -> int:
        """Execute one statement; its row count."""
        if self._cursor is not None:
            self._cursor.execute(self._sql(sql), params)
            return int(self._cursor.rowcount)
        assert self._conn is not None
        return int(self._conn.exec_driver_sql(self._sql(sql), params).rowcount)

    def many(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Execute one statement for each of ``rows`` (one round of executemany)."""
        if not rows:
            return
        if self._cursor is not None:
            self._cursor.executemany(self._sql(sql), rows)
        else:
            assert self._conn is not None
            self._conn.exec_driver_sql(self._sql(sql), rows)

    def fetch(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        """Execute one query; its rows."""
        if self._cursor is not None:
            self._cursor.execute(self._sql(sql), params)
            return list(self._cursor.fetchall())
        assert self._conn is not None
        return list(self._conn.exec_driver_sql(self._sql(sql), params).all())


class LogAppends(LogDatabase):
    """The writes of :class:`~civicstack.stores.log.LogStore` (see the package docstring)."""

    _max_batch: int
    _cond: threading.Condition
    _queue: list[_Pending]
    _leading: bool
    _writer: Connection | None
    _cursor: Any  # the writer's DB-API cursor, kept with it
    # log id -> what this store's writer last committed to it; name -> log id.
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
        req = _Pending(name, _check_entries(entries, self.limits.append_entries), signer)
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
        return self._extend(_Statements(self, conn), row, entries, signer, locked=True).indices

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
            root = bytes(fetch("SELECT root FROM log_logs WHERE id = ?", (row.id,))[0][0])
            note = sign_checkpoint(Checkpoint(row.origin, row.size, root), [signer])
            conn.exec_driver_sql(
                self._sql("UPDATE log_logs SET checkpoint = ? WHERE id = ?"), (note, row.id)
            )
            conn.exec_driver_sql(
                self._sql(
                    "INSERT INTO log_checkpoints (log_id, size, root, note) VALUES (?, ?, ?, ?)"
                ),
                (row.id, row.size, root, note),
            )
        return note

    def _take_batch(self) -> list[_Pending]:
        batch: list[_Pending] = []
        count = 0
        while self._queue and (not batch or count + len(self._queue[0].entries) <= self._max_batch):
            req = self._queue.pop(0)
            batch.append(req)
            count += len(req.entries)
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
        cursor.execute("BEGIN IMMEDIATE" if self._sqlite else "BEGIN")
        try:
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
        if writer is not None:
            with suppress(Exception):
                writer.invalidate()

    def _commit(self, batch: list[_Pending]) -> None:
        """Write one group-commit batch in one transaction and settle every request in it."""
        groups: dict[str, list[_Pending]] = {}
        for req in batch:
            groups.setdefault(req.name, []).append(req)
        results: dict[int, range] = {}
        edges: dict[int, _Edge] = {}
        try:
            alone = len(groups) == 1
            if not (alone and self._commit_alone(*next(iter(groups.items())), results, edges)):
                with self._writing() as sql:
                    for name, reqs in groups.items():
                        self._commit_log(sql, name, reqs, results, edges, optimistic=not alone)
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

    def _commit_alone(
        self,
        name: str,
        reqs: list[_Pending],
        results: dict[int, range],
        edges: dict[int, _Edge],
    ) -> bool:
        """The common append, with as few statements and as little Python as it takes.

        It applies when this writer remembers the log's head (it made the last commit it knows
        of) and the entries stay in the partial bundle: then nothing is read, and the head moves
        from the remembered size or nothing is written (the guard of :meth:`_set_head`), so
        indices stay contiguous whoever else writes. PostgreSQL: ONE autocommit statement
        (guarded head update, leaf rows and, with a signer, the checkpoint): one round trip, no
        BEGIN or COMMIT, durable when it returns (``synchronous_commit``). SQLite: BEGIN
        IMMEDIATE, the guarded update, the leaf rows, COMMIT (fsynced, ``synchronous=FULL``).
        False, with nothing written, when it does not apply or another writer moved the head:
        the caller then runs the general transaction, which locks the row and reads.
        """
        edge = self._edges.get(self._log_ids.get(name, -1))
        if edge is None:
            return False
        row = edge.row
        entries = reqs[0].entries if len(reqs) == 1 else [e for r in reqs for e in r.entries]
        if row.size % TILE_WIDTH + len(entries) >= TILE_WIDTH or any(
            r.signer is not None and r.signer.verifier.vkey != row.verifier_key for r in reqs
        ):
            return False
        hashes = merkle_leaf_hashes(entries)
        frontier = extend_frontier(edge.frontier, hashes)
        size, new_size = row.size, row.size + len(entries)
        root = frontier_root(frontier)
        signer = next((r.signer for r in reqs if r.signer is not None), None)
        note = sign_checkpoint(Checkpoint(row.origin, new_size, root), [signer]) if signer else ""
        cursor = self._writer_cursor()
        try:
            move = _Move(row, new_size, root, note, hashes, entries)
            written = (self._sqlite_alone if self._sqlite else self._postgres_alone)(cursor, move)
        except BaseException:
            self._drop_writer()  # its state is unknown: open another next time
            raise
        if not written:
            return False  # another writer moved the head: nothing was written
        edges[row.id] = _Edge(replace(row, size=new_size), frontier)
        pos = size
        for req in reqs:
            results[id(req)] = range(pos, pos + len(req.entries))
            pos += len(req.entries)
        return True

    @staticmethod
    def _sqlite_alone(cursor: Any, m: _Move) -> bool:
        row, size, new_size, root, note = m.row, m.row.size, m.new_size, m.root, m.note
        hashes, entries = m.hashes, m.entries
        cursor.execute("BEGIN IMMEDIATE")
        try:
            if note:
                cursor.execute(
                    "UPDATE log_logs SET size = ?, root = ?, checkpoint = ?"
                    " WHERE id = ? AND size = ?",
                    (new_size, root, note, row.id, size),
                )
            else:
                cursor.execute(
                    "UPDATE log_logs SET size = ?, root = ? WHERE id = ? AND size = ?",
                    (new_size, root, row.id, size),
                )
            if cursor.rowcount != 1:
                cursor.execute("ROLLBACK")
                return False
            if note:
                cursor.execute(
                    "INSERT INTO log_checkpoints (log_id, size, root, note) VALUES (?, ?, ?, ?)",
                    (row.id, new_size, root, note),
                )
            if len(entries) == 1:
                cursor.execute(
                    "INSERT INTO log_leaves (log_id, idx, hash, entry) VALUES (?, ?, ?, ?)",
                    (row.id, size, hashes[0], entries[0]),
                )
            else:
                cursor.executemany(
                    "INSERT INTO log_leaves (log_id, idx, hash, entry) VALUES (?, ?, ?, ?)",
                    [
                        (row.id, size + k, h, e)
                        for k, (h, e) in enumerate(zip(hashes, entries, strict=True))
                    ],
                )
            cursor.execute("COMMIT")
        except BaseException:
            with suppress(Exception):  # already rolled back by SQLite itself
                cursor.execute("ROLLBACK")
            raise
        return True

    @staticmethod
    def _postgres_alone(cursor: Any, m: _Move) -> bool:
        row, size, new_size, root, note = m.row, m.row.size, m.new_size, m.root, m.note
        hashes, entries = m.hashes, m.entries
        if note:
            cursor.execute(
                "WITH head AS (UPDATE log_logs SET size = %s, root = %s, checkpoint = %s"
                " WHERE id = %s AND size = %s RETURNING id),"
                " cp AS (INSERT INTO log_checkpoints (log_id, size, root, note)"
                " SELECT id, %s, %s, %s FROM head)"
                " INSERT INTO log_leaves (log_id, idx, hash, entry)"
                " SELECT head.id, v.idx, v.hash, v.entry FROM head,"
                " unnest(%s::bigint[], %s::bytea[], %s::bytea[]) AS v(idx, hash, entry)",
                (new_size, root, note, row.id, size, new_size, root, note, *m.arrays()),
            )
        elif len(entries) == 1:
            cursor.execute(
                "WITH head AS (UPDATE log_logs SET size = %s, root = %s"
                " WHERE id = %s AND size = %s RETURNING id)"
                " INSERT INTO log_leaves (log_id, idx, hash, entry)"
                " SELECT id, %s, %s, %s FROM head",
                (new_size, root, row.id, size, size, hashes[0], entries[0]),
            )
        else:
            cursor.execute(
                "WITH head AS (UPDATE log_logs SET size = %s, root = %s"
                " WHERE id = %s AND size = %s RETURNING id)"
                " INSERT INTO log_leaves (log_id, idx, hash, entry)"
                " SELECT head.id, v.idx, v.hash, v.entry FROM head,"
                " unnest(%s::bigint[], %s::bytea[], %s::bytea[]) AS v(idx, hash, entry)",
                (new_size, root, row.id, size, *m.arrays()),
            )
        return int(cursor.rowcount) == len(entries)

    def _commit_log(
        self,
        sql: _Statements,
        name: str,
        reqs: list[_Pending],
        results: dict[int, range],
        edges: dict[int, _Edge],
        *,
        optimistic: bool = True,
    ) -> None:
        """Append one log's share of a batch; requests that cannot be served get their error.

        Not ``optimistic`` after :meth:`_commit_alone` found nothing to do with the remembered
        head: then the row is locked and read first."""
        edge = self._edges.get(self._log_ids.get(name, -1))
        try:
            # The remembered row is checked by _extend's conditional update; else lock it now.
            row = edge.row if edge is not None else self._row(sql.fetch, name, lock=True)
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
        done = self._extend(sql, row, entries, signer, locked=edge is None, optimistic=optimistic)
        edges[row.id] = done.edge
        self._log_ids[name] = row.id
        pos = done.indices.start
        for req in good:
            results[id(req)] = range(pos, pos + len(req.entries))
            pos += len(req.entries)

    def _extend(
        self,
        sql: _Statements,
        row: _Row,
        entries: list[bytes],
        signer: NoteSigner | None,
        *,
        locked: bool,
        optimistic: bool = True,
    ) -> _Extended:
        """Append to log ``row``: its leaves or filled tiles and bundles, checkpoint, new head.

        ``row`` is either ``locked``, or remembered from this writer's last commit: then the
        update of the log row checks that its size is still the remembered one (unless not
        ``optimistic``: the caller knows it moved), and else the row is locked and read. A
        writer whose remembered head another writer moved catches up from the leaf rows added
        since, while they stay in the same partial bundle, rather than reading the right edge.
        """
        hashes = merkle_leaf_hashes(entries)
        edge = self._edges.get(row.id)
        if edge is not None and edge.row.size == row.size and (optimistic or locked):
            # The common case: the entries stay in the partial bundle. Nothing to read.
            done = self._extend_edge(sql, row, edge.frontier, entries, hashes, signer=signer)
            if done is not None:
                return done
        if not locked:
            lock = "" if self._sqlite else " FOR UPDATE"  # SQLite: BEGIN IMMEDIATE locked it
            found = sql.fetch("SELECT size FROM log_logs WHERE id = ?" + lock, (row.id,))  # noqa: S608
            row = replace(row, size=int(found[0][0]))
        if edge is not None and edge.row.size < row.size:
            frontier = self._catch_up(sql, edge, row.size)
            if frontier is not None:
                done = self._extend_edge(sql, row, frontier, entries, hashes, signer=signer)
                if done is not None:
                    return done
        return self._extend_read(sql, row, entries, hashes, signer)

    def _extend_edge(
        self,
        sql: _Statements,
        row: _Row,
        frontier: Frontier,
        entries: list[bytes],
        hashes: list[bytes],
        *,
        signer: NoteSigner | None,
    ) -> _Extended | None:
        """Append entries that stay in the partial bundle, from the ``frontier`` at ``row.size``;
        None (nothing written) if they would fill it or the head is no longer at ``row.size``."""
        size = row.size
        if size % TILE_WIDTH + len(entries) >= TILE_WIDTH:
            return None
        frontier = extend_frontier(frontier, hashes)
        new_size = size + len(entries)
        if not self._set_head(sql, row, new_size, frontier_root(frontier), signer):
            return None
        sql.many(
            "INSERT INTO log_leaves (log_id, idx, hash, entry) VALUES (?, ?, ?, ?)",
            [
                (row.id, size + k, h, e)
                for k, (h, e) in enumerate(zip(hashes, entries, strict=True))
            ],
        )
        return _Extended(range(size, new_size), _Edge(replace(row, size=new_size), frontier))

    @staticmethod
    def _catch_up(sql: _Statements, edge: _Edge, size: int) -> Frontier | None:
        """The frontier at ``size`` (locked) from the remembered ``edge``, reading only the leaf
        rows added since; None when a bundle filled in between (its leaf rows are gone)."""
        start = edge.row.size
        if start // TILE_WIDTH != size // TILE_WIDTH:
            return None
        rows = sql.fetch(
            "SELECT hash FROM log_leaves WHERE log_id = ? AND idx >= ? AND idx < ? ORDER BY idx",
            (edge.row.id, start, size),
        )
        if len(rows) != size - start:
            return None
        return extend_frontier(edge.frontier, [bytes(r[0]) for r in rows])

    def _set_head(
        self, sql: _Statements, row: _Row, new_size: int, root: bytes, signer: NoteSigner | None
    ) -> bool:
        """Move the log row from ``row.size`` to ``new_size``; False if it was not at row.size."""
        if signer is None:
            return (
                sql.run(
                    "UPDATE log_logs SET size = ?, root = ? WHERE id = ? AND size = ?",
                    (new_size, root, row.id, row.size),
                )
                == 1
            )
        note = sign_checkpoint(Checkpoint(row.origin, new_size, root), [signer])
        updated = sql.run(
            "UPDATE log_logs SET size = ?, root = ?, checkpoint = ? WHERE id = ? AND size = ?",
            (new_size, root, note, row.id, row.size),
        )
        if updated != 1:
            return False
        sql.run(
            "INSERT INTO log_checkpoints (log_id, size, root, note) VALUES (?, ?, ?, ?)",
            (row.id, new_size, root, note),
        )
        return True

    def _extend_read(
        self,
        sql: _Statements,
        row: _Row,
        entries: list[bytes],
        hashes: list[bytes],
        signer: NoteSigner | None,
    ) -> _Extended:
        """The general append to the locked ``row``: read the right edge, write what filled."""
        size, log_id = row.size, row.id
        base = size - size % TILE_WIDTH
        pending = sql.fetch(
            "SELECT idx, hash, entry FROM log_leaves WHERE log_id = ? AND idx >= ? ORDER BY idx",
            (log_id, base),
        )
        if [int(r[0]) for r in pending] != list(range(base, size)):
            raise CivicError("internal_error", f"leaves {base}..{size} of log {log_id} are missing")
        edge = self._read_tiles(
            sql.fetch, log_id, [r for r in right_edge(size) if r.level], cache=False
        )
        if pending:
            edge[(0, base // TILE_WIDTH)] = Tile.build(
                0, base // TILE_WIDTH, b"".join(bytes(r[1]) for r in pending)
            )
        changed = grow(size, edge, hashes)
        new_size = size + len(entries)
        work = MemoryTiles(edge.values())
        work.update(changed)
        frontier = _frontier(new_size, work)
        if not self._set_head(sql, row, new_size, frontier_root(frontier), signer):
            raise InputError("conflict", "the log changed during the append")
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
            stream = [bytes(r[2]) for r in pending] + entries
            sql.many(
                "INSERT INTO log_bundles (log_id, idx, data) VALUES (?, ?, ?)",
                [
                    (log_id, (base + k) // TILE_WIDTH, encode_bundle(stream[k : k + TILE_WIDTH]))
                    for k in range(0, tail - base, TILE_WIDTH)
                ],
            )
            if pending:
                sql.run("DELETE FROM log_leaves WHERE log_id = ? AND idx < ?", (log_id, tail))
        first = max(tail, size)
        sql.many(
            "INSERT INTO log_leaves (log_id, idx, hash, entry) VALUES (?, ?, ?, ?)",
            [(log_id, i, hashes[i - size], entries[i - size]) for i in range(first, new_size)],
        )
        return _Extended(range(size, new_size), _Edge(replace(row, size=new_size), frontier))


def _frontier(size: int, tiles: MemoryTiles) -> Frontier:
    """The frontier of a tree of ``size`` leaves from its right-edge tiles."""
    nodes = root_nodes(size)
    spans = [(index << level, (index + 1) << level) for level, index in nodes]
    hashes = span_hashes(spans, size, tiles)
    return [(level, h) for (level, _), h in zip(nodes, hashes, strict=True)]
