"""The transparency log as a library: :class:`DurableLog`, one RFC 9162 log in SQLite or
PostgreSQL, usable without the rest of the platform (as Tessera is for Go).

    from civicstack.log import DurableLog

    log = DurableLog.open("sqlite:///log.db", "my-log")     # creates the tables and the log
    i = log.append(b"hello")                                 # durable (fsync) when it returns
    proof = log.inclusion_proof(i, log.size())               # RFC 9162 §2.1.3.1 PATH
    verify_inclusion(leaf_hash(b"hello"), i, log.size(), proof, log.root())

Appends from many threads are committed together (group commit), and several processes may
append to one PostgreSQL log at once: indices stay contiguous and unique.

From asyncio code (a server's event loop), await the append instead, as Tessera's ``Add``
returns a future:

    i = await log.append_async(b"hello")                   # durable when it returns
    first, *rest = await log.append_many_async([b"a", b"b"])  # atomic, contiguous

The appends that coroutines make in one turn of their event loop are gathered
(:class:`civicstack.turn_batches.TurnBatches`) and handed, at the end of the turn, to the log's
writer thread, which commits everything handed to it so far as ONE batch (one transaction, one
fsync, at most ``limits.append_entries`` entries) through the same group commit as
:meth:`DurableLog.append` (threads' appends may join the batch). The loop keeps running while
the batch commits, and the next batch gathers meanwhile; each awaiting coroutine gets its index
once its batch is durable. One batch is in flight at a time per log, whatever the number of
event loops (several loops, in several threads, or one ``asyncio.run`` after another, may share
one :class:`DurableLog`). The rules:

- A batch is all or nothing: a commit that fails fails every append of its batch with the
  same stable code (``internal_error`` for a database failure), and none of its entries is
  visible. An append that is invalid on its own (``too_large``, ``invalid_request``) raises
  before it joins a batch and fails no other.
- Cancelling a task that awaits ``append_async`` does not withdraw its entry: once called, the
  append is committed with its batch (or fails with it) exactly as if nobody had cancelled;
  the cancelled caller only does not learn the index (read :meth:`DurableLog.entries` to find
  it). A task cancelled before it calls ``append_async`` appends nothing.
- :meth:`DurableLog.close` takes no more appends (``log_closed``), commits every append already
  made (even those whose turn has not ended, or whose loop has closed), waits for that commit,
  then closes the connections. Called on the event loop, it blocks the loop for that commit;
  called from another thread, an append whose turn is ending at that very moment may fail
  with ``log_closed`` instead (all or nothing still).

Proofs are lists of 32-byte hashes (RFC 9162 §2.1.3, §2.1.4) read from C2SP tlog-tiles in
O(log n) rows. A signed C2SP checkpoint is made on request (:meth:`DurableLog.checkpoint`, with
the signer passed to :meth:`DurableLog.open`), not on every append: an Ed25519 signature per
commit would cost more than the append's own work, and a checkpoint for any committed size
commits to every entry before it.

This module is the one place under :mod:`civicstack.log`'s public name that uses SQL: the core
package re-exports :class:`DurableLog` lazily, so importing :mod:`civicstack.log` imports no
SQLAlchemy.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Iterable
from types import TracebackType

from alembic import command
from sqlalchemy.engine import Engine

from civicstack.errors import InputError
from civicstack.log import DEFAULT_LIMITS, Limits, NoteSigner
from civicstack.stores.db import alembic_config, create_engine
from civicstack.stores.log.database import _check_entries
from civicstack.stores.log.store import LogStore
from civicstack.turn_batches import Batch, TurnBatches, fail, settle

__all__ = ["DurableLog"]


class DurableLog:
    """One append-only Merkle log in a database (see the module docstring)."""

    def __init__(self, store: LogStore, name: str, signer: NoteSigner | None = None) -> None:
        """A log ``name`` of ``store`` (which must exist); prefer :meth:`open`."""
        self.store = store
        self.name = name
        self._signer = signer
        self._writer = _WriterThread(store, name)

    @classmethod
    def open(
        cls,
        database_url: str,
        name: str,
        *,
        signer: NoteSigner | None = None,
        engine: Engine | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> DurableLog:
        """Open log ``name`` at ``database_url`` (SQLite or PostgreSQL), creating what is missing.

        Creates the log tables (Alembic branch ``log``) and the log itself if absent. A new log
        takes ``signer``'s key and name (its origin); without a signer it has no key until the
        first :meth:`checkpoint` with one. Pass ``engine`` to share one engine between logs, and
        ``limits`` (:class:`civicstack.log.Limits`) to change what one append or read may hold.
        """
        if engine is None:
            engine = create_engine(database_url)
        command.upgrade(alembic_config(engine), "log@head")
        store = LogStore(engine, limits=limits)
        try:
            store.create_log(name, signer)
        except InputError as exc:
            if exc.code != "log_exists":
                raise
        return cls(store, name, signer)

    # --- writes -----------------------------------------------------------------------------

    def append(self, leaf: bytes) -> int:
        """Append one entry; its index, once durably committed (on SQLite, fsynced)."""
        return self.store.append(self.name, [leaf], None).start

    def append_many(self, leaves: Iterable[bytes]) -> list[int]:
        """Append entries atomically (at most ``limits.append_entries``)."""
        return list(self.store.append(self.name, list(leaves), None))

    async def append_async(self, leaf: bytes) -> int:
        """Append one entry from a coroutine; its index, once its batch is durably committed
        (see the module docstring: batching, errors, cancellation)."""
        return (await self._writer.submit([leaf])).start

    async def append_many_async(self, leaves: Iterable[bytes]) -> list[int]:
        """Append entries atomically from a coroutine (at most ``limits.append_entries``); their
        contiguous indices, once their batch is durably committed."""
        return list(await self._writer.submit(list(leaves)))

    def checkpoint(self) -> str:
        """The C2SP signed checkpoint of the current tree (signed now unless already signed).

        Raises ``invalid_request`` without a signer, ``invalid_key`` if the log has another key.
        """
        if self._signer is None:
            raise InputError("invalid_request", "open the log with a signer to sign checkpoints")
        return self.store.sign(self.name, self._signer)

    # --- reads ------------------------------------------------------------------------------

    def size(self) -> int:
        """The number of committed entries."""
        return self.store.head(self.name).size

    def root(self, size: int | None = None) -> bytes:
        """RFC 9162 §2.1.1 MTH of the first ``size`` entries (default: all)."""
        return self.store.root(self.name, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.3.1 inclusion proof of entry ``index`` in the tree of ``size``."""
        return self.store.inclusion_proof(self.name, index, size)

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """RFC 9162 §2.1.4.1 consistency proof from tree size ``old`` to ``new``."""
        return self.store.consistency_proof(self.name, old, new)

    def entries(self, start: int, end: int) -> list[bytes]:
        """Entries ``[start, end)``."""
        return self.store.entries(self.name, start, end)

    def tile(self, level: int, index: int, width: int | None = None) -> bytes:
        """The C2SP tlog-tiles hash tile ``level``/``index`` (``width`` for a partial one)."""
        return self.store.tile(self.name, level, index, width)

    def entry_bundle(self, index: int, width: int | None = None) -> bytes:
        """The C2SP tlog-tiles entry bundle ``index`` (``width`` entries for a partial one)."""
        return self.store.entry_bundle(self.name, index, width)

    # --- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Commit the asynchronous appends already made, then close the connections this log
        keeps open; later appends raise ``log_closed``."""
        self._writer.close()
        self.store.close()

    def __enter__(self) -> DurableLog:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


#: One asynchronous append handed to the writer thread: its loop, its entries, its future.
_Request = tuple[asyncio.AbstractEventLoop, list[bytes], "asyncio.Future[range]"]


class _WriterThread:
    """The thread that commits the asynchronous appends of one log, a batch at a time (see the
    module docstring); started by the first batch."""

    def __init__(self, store: LogStore, name: str) -> None:
        self._store, self._name = store, name
        self._turns: TurnBatches[list[bytes], range] = TurnBatches(self._hand_over)
        self._ready: deque[_Request] = deque()
        self._wake = threading.Condition(threading.Lock())
        self._closed = False
        self._thread: threading.Thread | None = None

    def submit(self, entries: list[bytes]) -> asyncio.Future[range]:
        """Queue ``entries`` (one atomic append) in the running loop's batch of this turn."""
        entries = _check_entries(entries, self._store.limits.append_entries)
        with self._wake:
            if self._closed:
                raise InputError("log_closed", "the log was closed")
            return self._turns.submit(entries)

    def close(self) -> None:
        """Take no more appends; commit those made already and wait for the thread to end."""
        with self._wake:
            self._closed = True
            for loop, batch in self._turns.take_all():
                self._queue(loop, batch)
            thread = self._thread
            self._wake.notify()
        if thread is not None:
            thread.join()

    def _hand_over(self, loop: asyncio.AbstractEventLoop, batch: Batch[list[bytes], range]) -> None:
        """The end of a turn: hand its appends to the thread (on the loop; never blocks on a
        commit, only on the queue's lock)."""
        with self._wake:
            if not self._closed:
                self._queue(loop, batch)
                self._wake.notify()
                return
        # close() ran on another thread while this turn was ending, after it took the
        # batches still gathering: too late to be committed by it.
        fail(batch, InputError("log_closed", "the log was closed"))

    def _queue(self, loop: asyncio.AbstractEventLoop, batch: Batch[list[bytes], range]) -> None:
        self._ready.extend((loop, entries, future) for entries, future in batch)
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"civicstack-log-writer-{self._name}", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._ready and not self._closed:
                    self._wake.wait()
                if not self._ready:
                    self._thread = None
                    return  # closed, and everything committed
                batch = self._take()
            self._commit(batch)

    def _take(self) -> list[_Request]:
        """Everything ready, up to the entries one append may hold (at least one request)."""
        ready, most = self._ready, self._store.limits.append_entries
        batch = [ready.popleft()]
        count = len(batch[0][1])
        while ready and count + len(ready[0][1]) <= most:
            count += len(ready[0][1])
            batch.append(ready.popleft())
        return batch

    def _commit(self, batch: list[_Request]) -> None:
        """Commit ``batch`` in one append and answer each request on its own loop."""
        entries = batch[0][1] if len(batch) == 1 else [e for _, es, _ in batch for e in es]
        error: BaseException | None = None
        try:
            got = self._store.append(self._name, entries, None)
        except BaseException as exc:  # every request of the batch learns it; the thread goes on
            error = exc
        answers: dict[asyncio.AbstractEventLoop, tuple[Batch[list[bytes], range], list[range]]]
        answers = {}
        pos = 0 if error is not None else got.start
        for loop, es, future in batch:
            requests, results = answers.setdefault(loop, ([], []))
            requests.append((es, future))
            results.append(range(pos, pos + len(es)))
            pos += len(es)
        for loop, (requests, results) in answers.items():
            try:
                if error is None:
                    loop.call_soon_threadsafe(settle, requests, results)
                else:
                    loop.call_soon_threadsafe(fail, requests, error)
            except RuntimeError:  # the loop is closed: nobody is waiting for these answers
                pass
