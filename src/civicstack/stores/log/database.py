"""The SQL side every part of the log store shares: connections, the write transaction, log rows
and tile reads, and the checks of a log name and of entries to append."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, Engine

from civicstack.errors import CivicError, InputError
from civicstack.log.limits import Limits
from civicstack.log.tiles import MAX_ENTRY_BYTES, TILE_WIDTH, Tile, TileRef
from civicstack.stores.db import DirectReads, Fetch
from civicstack.stores.log.tile_cache import TileCache

__all__ = ["LogDatabase"]

_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}(/[a-z0-9][a-z0-9._-]{0,63}){0,3}")


@dataclass(frozen=True)
class _Row:
    id: int
    origin: str
    verifier_key: str
    size: int


def _check_name(name: str) -> str:
    if not isinstance(name, str) or len(name) > 128 or not _NAME.fullmatch(name):
        raise InputError("invalid_request", f"invalid log name {name!r}")
    return name


def _check_entries(entries: Iterable[bytes], most: int) -> list[bytes]:
    out = entries if isinstance(entries, list) else list(entries)
    if len(out) == 1 and type(out[0]) is bytes and len(out[0]) <= MAX_ENTRY_BYTES and most:
        return out  # one entry: the checks below, without building their sets
    if not out:
        raise InputError("invalid_request", "nothing to append")
    if len(out) > most:
        raise InputError("too_large", f"at most {most} entries per append")
    # map() keeps these checks in C: bulk appends check millions of entries.
    if set(map(type, out)) != {bytes}:
        raise InputError("invalid_request", "log entries are bytes")
    if max(map(len, out)) > MAX_ENTRY_BYTES:
        raise InputError("too_large", f"a log entry is at most {MAX_ENTRY_BYTES} bytes")
    return out


class LogDatabase:
    """The plumbing of :class:`~civicstack.stores.log.LogStore`, which sets these attributes."""

    engine: Engine
    limits: Limits
    _sqlite: bool
    _reads: DirectReads
    _tile_cache: TileCache

    _writer: Connection | None
    _cursor: Any  # the writer's DB-API cursor, kept with it
    _data_version: int | None

    def close(self) -> None:
        """Close the connections kept open for reads and for the group-commit writer."""
        self._reads.close()
        writer, self._writer, self._cursor = self._writer, None, None
        self._data_version = None
        if writer is not None:
            writer.close()

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

    def _last_leaf(self) -> str:
        """A scalar subquery: the highest ``idx`` among the leaf rows of ``log_logs.id``.

        On SQLite an append inside the partial bundle writes only its leaf rows, so a log's size
        is the larger of its row's ``size`` and one past this (stale rows, of stored bundles,
        are below the row's ``size``); it scans the log's leaf rows (at most 256, in slot
        order). On PostgreSQL every append moves the row's ``size``: NULL.
        """
        if self._sqlite:
            return "(SELECT max(idx) FROM log_leaves WHERE log_id = log_logs.id)"
        return "NULL"

    def _row(self, fetch: Fetch, name: str, *, lock: bool = False) -> _Row:
        """Log ``name``'s row, with its size (see :meth:`_last_leaf`)."""
        # Only a constant subquery is interpolated; the name is a bound parameter.
        sql = (
            f"SELECT id, origin, verifier_key, size, {self._last_leaf()}"  # noqa: S608
            " FROM log_logs WHERE name = ?"
        )
        if lock and not self._sqlite:
            sql += " FOR UPDATE"
        rows = fetch(sql, (_check_name(name),))
        if not rows:
            raise InputError("unknown_log", f"no log named {name!r}")
        row = rows[0]
        size = int(row[3]) if row[4] is None else max(int(row[3]), int(row[4]) + 1)
        return _Row(int(row[0]), str(row[1]), str(row[2]), size)

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
            hit = self._tile_cache.get((log_id, ref.level, ref.idx)) if cache else None
            if hit is not None and hit.width >= ref.width:
                out[(ref.level, ref.idx)] = hit
            else:
                missing.append(ref)
        if missing:
            out.update(self._stored_tiles(fetch, log_id, missing, cache=cache))
        for ref in refs:
            got = out.get((ref.level, ref.idx))
            if got is None or got.width < ref.width:
                raise CivicError("internal_error", f"log tile {ref.level}/{ref.idx} is missing")
        return out

    def _stored_tiles(
        self, fetch: Fetch, log_id: int, refs: Collection[TileRef], *, cache: bool
    ) -> dict[tuple[int, int], Tile]:
        """Tiles from ``log_tiles``, and partial level-0 tiles from the leaves of ``log_leaves``.

        A level-0 tile is stored when it fills, before the next bundle's leaves overwrite its
        leaf rows: so when its leaves are gone by the time they are read, the tile is there on
        a second look.
        """
        out = self._tile_rows(fetch, log_id, refs, cache=cache)
        partial = [r for r in refs if r.level == 0 and (r.level, r.idx) not in out]
        again: list[TileRef] = []
        for ref in partial:
            start = ref.idx * TILE_WIDTH
            rows = fetch(
                "SELECT idx, hash FROM log_leaves WHERE log_id = ? AND idx >= ? AND idx < ?"
                " ORDER BY idx",
                (log_id, start, start + TILE_WIDTH),
            )
            # Short, or not from the tile's first leaf on (appends to the next bundle have
            # overwritten the first slots): the bundle filled, and its tile is stored.
            if len(rows) < ref.width or int(rows[-1][0]) != start + len(rows) - 1:
                again.append(ref)
                continue
            tile = Tile.build(0, ref.idx, b"".join(bytes(r[1]) for r in rows))
            out[(0, ref.idx)] = tile
            if cache:
                self._tile_cache.put((log_id, 0, ref.idx), tile)
        if again:
            out.update(self._tile_rows(fetch, log_id, again, cache=cache))
        return out

    def _tile_rows(
        self, fetch: Fetch, log_id: int, missing: Collection[TileRef], *, cache: bool
    ) -> dict[tuple[int, int], Tile]:
        out: dict[tuple[int, int], Tile] = {}
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
                    self._tile_cache.put((log_id, tile.level, tile.index), tile)
        return out
