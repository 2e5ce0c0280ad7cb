"""Appends to the log store: the group commit, appends inside a caller's transaction, and the
write of one batch (tiles, entry bundles, a signed checkpoint, the new head)."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import islice

from sqlalchemy.engine import Connection

from civicstack._crypto import merkle_leaf_hashes
from civicstack.errors import CivicError, InputError
from civicstack.log import Checkpoint, NoteSigner, sign_checkpoint
from civicstack.log.tiles import (
    TILE_WIDTH,
    MemoryTiles,
    encode_bundle,
    grow,
    right_edge,
    root_at,
)
from civicstack.stores.log.database import LogDatabase
from civicstack.stores.log.values import _check_entries, _Row

__all__ = ["LogAppends"]


@dataclass
class _Pending:
    name: str
    entries: list[bytes]
    signer: NoteSigner
    result: range | None = None
    error: BaseException | None = None
    finished: bool = False


class LogAppends(LogDatabase):
    """The writes of :class:`~civicstack.stores.log.LogStore` (see the package docstring)."""

    _max_batch: int
    _cond: threading.Condition
    _queue: list[_Pending]
    _leading: bool

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
