"""Writing the access log: group commit, one checkpoint per batch, a receipt per access.

Every access (released or refused) goes through :meth:`AccessLog.record` (blocking) or
:meth:`AccessLog.record_async` (on an event loop). One writer thread takes whatever has queued
while the previous batch was committing and appends it in ONE transaction
(:meth:`AccessLogStorage.append_accesses`): the entries, their subjects' chain heads and ONE
signed C2SP checkpoint. Only after that commit does any caller learn its index; each then gets a
C2SP tlog-proof receipt (:class:`civicstack.log.Receipt`: its entry, its RFC 9162 inclusion proof
and the batch's checkpoint), so a batch of 16 accesses costs one fsync and one Ed25519
signature, not 16. A batch is all or nothing: if it cannot be written, every caller in it gets
``access_log_unavailable`` (503) and no data is released. A batch's callers on one event loop
are woken by one callback, not one each.

:class:`AccessLogProcess` is the same writer in a process of its own (``civic up`` runs it so;
``CIVIC_ACCESS_LOG_WRITER``): building entries, the subject map, proofs and the signature take
about as much CPU as the fetch itself, and in a thread they would take it under the API
process's interpreter lock. The API process sends each access over a pipe and gets each
batch's outcomes back in one message; the child runs :func:`serve_access_log`, i.e. the
:class:`AccessLog` above, on its own connection to the same database. If the child dies, every
access waiting in it gets ``access_log_unavailable`` and the next one starts a new child.

:class:`UnsafeNoAccessLog` records nothing: it exists only so that ``bench/access.py`` can
measure what logging costs, and warns when made.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import multiprocessing
import multiprocessing.process
import signal
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Protocol

from civicstack.access import AccessEntry
from civicstack.errors import CivicError
from civicstack.log import Receipt
from civicstack.services.exchange.storage import AccessLogStorage

__all__ = [
    "AccessLog",
    "AccessLogProcess",
    "AccessRecorder",
    "Recorded",
    "UnsafeNoAccessLog",
    "WriterMain",
    "serve_access_log",
]

log = logging.getLogger("civicstack.exchange")


@dataclass(frozen=True, slots=True)
class Recorded:
    """An access durably in the log: its index, its bytes, and its receipt."""

    index: int
    entry: bytes
    receipt: Receipt | None
    #: ``receipt.text()``, rendered by the writer (off the API's event loop)
    receipt_text: str | None = None


class AccessRecorder(Protocol):
    """What the exchange records accesses with (:class:`AccessLog`)."""

    def record(self, entry: AccessEntry, log_subject: str | None) -> Recorded:
        """Record ``entry`` (about ``log_subject``, if known); its receipt once durable."""
        ...

    async def record_async(self, entry: AccessEntry, log_subject: str | None) -> Recorded:
        """:meth:`record` without blocking the event loop."""
        ...

    def close(self) -> None:
        """Stop writing (pending accesses are committed first)."""
        ...


class _Waiter(Protocol):
    """Who waits for one access: told once, from the writer's thread."""

    def settle(self, outcome: Recorded | CivicError) -> None:
        """Deliver ``outcome`` (a record, or the error the caller gets)."""
        ...


class _Blocking:
    """A blocking caller (:meth:`AccessLog.record`)."""

    __slots__ = ("future",)

    def __init__(self) -> None:
        self.future: Future[Recorded] = Future()

    def settle(self, outcome: Recorded | CivicError) -> None:
        if isinstance(outcome, Recorded):
            self.future.set_result(outcome)
        else:
            self.future.set_exception(outcome)


class _OnLoop:
    """A caller awaiting on an event loop; settled with the rest of its batch on that loop."""

    __slots__ = ("future", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.future: asyncio.Future[Recorded] = loop.create_future()

    def settle(self, outcome: Recorded | CivicError) -> None:
        _settle([(self, outcome)])


def _settle_on_loop(items: list[tuple[_OnLoop, Recorded | CivicError]]) -> None:
    for waiter, outcome in items:
        if waiter.future.done():  # the caller went away (its task was cancelled)
            continue
        if isinstance(outcome, Recorded):
            waiter.future.set_result(outcome)
        else:
            waiter.future.set_exception(outcome)


def _settle(outcomes: Sequence[tuple[_Waiter, Recorded | CivicError]]) -> None:
    """Tell every waiter of a batch; those on event loops with one callback per loop."""
    loops: dict[asyncio.AbstractEventLoop, list[tuple[_OnLoop, Recorded | CivicError]]] = {}
    for waiter, outcome in outcomes:
        if isinstance(waiter, _OnLoop):
            loops.setdefault(waiter.loop, []).append((waiter, outcome))
        else:
            waiter.settle(outcome)
    for loop, items in loops.items():
        with suppress(RuntimeError):  # the loop is closed: nobody is waiting any more
            loop.call_soon_threadsafe(_settle_on_loop, items)


def _unavailable(detail: str) -> CivicError:
    return CivicError("access_log_unavailable", f"the access log is unavailable: {detail}")


def _append(
    storage: AccessLogStorage, batch: Sequence[tuple[AccessEntry, str | None]]
) -> list[Recorded | CivicError]:
    """One batch in one transaction: each access's record with its receipt, or, when the
    batch cannot be written, ``access_log_unavailable`` for every one."""
    try:
        done = storage.append_accesses(batch)
        proofs = done.proofs
        if proofs is None:  # the writer could not make them from memory: read them
            proofs = tuple(
                tuple(storage.inclusion_proof(done.start + k, done.size))
                for k in range(len(done.entries))
            )
        at, checkpoint = done.start, done.checkpoint
        receipts = [Receipt(at + k, proofs[k], checkpoint, e) for k, e in enumerate(done.entries)]
        return [
            Recorded(r.index, e, r, r.text()) for r, e in zip(receipts, done.entries, strict=True)
        ]
    except Exception as exc:
        log.exception("the access log could not be written (%d accesses)", len(batch))
        return [_unavailable(getattr(exc, "detail", "") or type(exc).__name__) for _ in batch]


@dataclass(slots=True)
class _Job:
    entry: AccessEntry
    log_subject: str | None
    waiter: _Waiter


class AccessLog:
    """The access log's writer (see the module docstring)."""

    def __init__(self, storage: AccessLogStorage, *, max_batch: int = 1024) -> None:
        self.storage = storage
        self._max_batch = max_batch
        self._cond = threading.Condition()
        self._queue: list[_Job] = []
        self._thread: threading.Thread | None = None
        self._closed = False

    def record(self, entry: AccessEntry, log_subject: str | None) -> Recorded:
        """Record ``entry``; returns once it is durable, with its receipt."""
        waiter = _Blocking()
        self.submit(entry, log_subject, waiter)
        return waiter.future.result()

    async def record_async(self, entry: AccessEntry, log_subject: str | None) -> Recorded:
        """Record ``entry`` from an event loop (the loop keeps serving while it commits)."""
        waiter = _OnLoop(asyncio.get_running_loop())
        self.submit(entry, log_subject, waiter)
        return await waiter.future

    def submit(self, entry: AccessEntry, log_subject: str | None, waiter: _Waiter) -> None:
        """Queue ``entry`` for the next batch; ``waiter`` is settled after its commit."""
        with self._cond:
            if self._closed:
                raise CivicError("access_log_unavailable", "the access log is closed")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="access-log-writer", daemon=True
                )
                self._thread.start()
            self._queue.append(_Job(entry, log_subject, waiter))
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
            outcomes = _append(self.storage, [(j.entry, j.log_subject) for j in batch])
            _settle(list(zip((j.waiter for j in batch), outcomes, strict=True)))

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()


# --- the writer in a process of its own ------------------------------------------------------

#: What the child runs: given its end of the pipe, serve until it closes (a picklable callable,
#: e.g. a module-level function bound with functools.partial to the platform's settings).
WriterMain = Callable[[Connection], None]
#: One message to the child: accesses as ``(job, entry, log_subject)``; ``None`` asks it to stop.
_Jobs = list[tuple[int, AccessEntry, str | None]]


def serve_access_log(conn: Connection, storage: AccessLogStorage) -> None:
    """The child of :class:`AccessLogProcess`, one thread: wait for accesses, take every one
    that has arrived, append them as one batch, answer ``[(job, outcome)...]`` in one message;
    meanwhile the next batch gathers in the pipe (group commit). Stops on ``None`` or when
    the parent's end closes, after committing and answering what it took."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which stops us
    try:
        stopping = False
        while not stopping:
            jobs: _Jobs = []
            try:
                message = conn.recv()
                while True:
                    if message is None:
                        stopping = True
                        break
                    jobs.extend(message)
                    if not conn.poll():
                        break
                    message = conn.recv()
            except (EOFError, OSError):
                stopping = True
            if not jobs:
                continue
            outcomes = _append(storage, [(entry, subject) for _, entry, subject in jobs])
            with suppress(OSError):  # the parent is gone: nobody to tell
                conn.send([(job, o) for (job, _, _), o in zip(jobs, outcomes, strict=True)])
    finally:
        conn.close()


class AccessLogProcess:
    """:class:`AccessLog` in a child process (see the module docstring), started on first use
    or by :meth:`start`.

    On an event loop it costs the loop no thread: the accesses a loop records in one turn go
    in one message, written at the end of the turn, and the loop reads the answers itself
    (``add_reader``), so no other thread of the API process wants its interpreter lock.
    Blocking callers (:meth:`record` from another thread) are answered by that reader, or by
    a reader thread when no loop has recorded yet.
    """

    def __init__(self, main: WriterMain) -> None:
        self._main = main
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._waiting: dict[int, _Waiter] = {}
        self._jobs = itertools.count()
        self._closed = False
        self._reader: asyncio.AbstractEventLoop | threading.Thread | None = None
        self._outgoing: _Jobs = []
        self._flushing = False

    def start(self) -> None:
        """Start the child now (else the first access does)."""
        with self._lock:
            self._ensure()

    @property
    def pid(self) -> int | None:
        """The writer process's id while one runs (for operators' monitoring)."""
        with self._lock:
            alive = self._conn is not None and self._process is not None
            return self._process.pid if alive and self._process is not None else None

    def record(self, entry: AccessEntry, log_subject: str | None) -> Recorded:
        """Record ``entry``; returns once it is durable, with its receipt."""
        waiter = _Blocking()
        with self._lock:
            conn = self._ensure()
            if self._reader is None:
                self._reader = threading.Thread(
                    target=self._read_thread, args=(conn,), name="access-log-replies", daemon=True
                )
                self._reader.start()
            job = next(self._jobs)
            self._waiting[job] = waiter
            self._send(conn, [(job, entry, log_subject)])
        return waiter.future.result()

    async def record_async(self, entry: AccessEntry, log_subject: str | None) -> Recorded:
        """Record ``entry`` from an event loop (the loop keeps serving while it commits)."""
        loop = asyncio.get_running_loop()
        waiter = _OnLoop(loop)
        with self._lock:
            conn = self._ensure()
            reader = self._reader
            if reader is None or (
                isinstance(reader, asyncio.AbstractEventLoop)
                and reader is not loop
                and not reader.is_running()  # e.g. an earlier asyncio.run's loop
            ):
                if isinstance(reader, asyncio.AbstractEventLoop):
                    with suppress(RuntimeError, ValueError, OSError):
                        reader.remove_reader(conn.fileno())
                loop.add_reader(conn.fileno(), self._readable, conn)
                self._reader = loop
            job = next(self._jobs)
            self._waiting[job] = waiter
            self._outgoing.append((job, entry, log_subject))
            if not self._flushing:
                self._flushing = True
                loop.call_soon(self._flush)
        return await waiter.future

    def _ensure(self) -> Connection:
        if self._closed:
            raise CivicError("access_log_unavailable", "the access log is closed")
        if self._conn is None:
            context = multiprocessing.get_context("spawn")  # never fork a threaded process
            ours, theirs = context.Pipe(duplex=True)
            process = context.Process(
                target=self._main, args=(theirs,), name="civic-access-log", daemon=True
            )
            process.start()
            theirs.close()
            self._conn, self._process, self._reader = ours, process, None
        return self._conn

    def _send(self, conn: Connection, jobs: _Jobs) -> None:
        """Send ``jobs`` (the lock held); if the child is gone, they fail at once."""
        try:
            conn.send(jobs)
        except (OSError, ValueError):
            self._lost(conn)

    def _flush(self) -> None:
        """End of a loop turn: the accesses it recorded, in one message."""
        with self._lock:
            self._flushing = False
            jobs, self._outgoing = self._outgoing, []
            if jobs and self._conn is not None:
                self._send(self._conn, jobs)

    def _answers(self, conn: Connection) -> list[tuple[_Waiter, Recorded | CivicError]]:
        """Every answer waiting in the pipe (blocking for the first); EOF when none come."""
        replies = [conn.recv()]
        while conn.poll():
            replies.append(conn.recv())
        with self._lock:
            return [(self._waiting.pop(job), o) for reply in replies for job, o in reply]

    def _readable(self, conn: Connection) -> None:
        """The loop's reader: answers for this loop are settled here and now."""
        try:
            outcomes = self._answers(conn)
        except (EOFError, OSError):
            with self._lock:
                self._lost(conn)
            return
        others: list[tuple[_Waiter, Recorded | CivicError]] = []
        mine: list[tuple[_OnLoop, Recorded | CivicError]] = []
        for waiter, outcome in outcomes:
            if isinstance(waiter, _OnLoop) and waiter.loop is self._reader:
                mine.append((waiter, outcome))
            else:
                others.append((waiter, outcome))
        _settle_on_loop(mine)
        _settle(others)

    def _read_thread(self, conn: Connection) -> None:
        while True:
            try:
                outcomes = self._answers(conn)
            except (EOFError, OSError):
                with self._lock:
                    self._lost(conn)
                return
            _settle(outcomes)

    def _lost(self, conn: Connection) -> None:
        """The child is gone (the lock held): every access waiting in it fails; the next one
        starts a new child."""
        if self._conn is not conn:
            return
        loop = self._reader
        if isinstance(loop, asyncio.AbstractEventLoop):
            with suppress(RuntimeError, ValueError, OSError):  # closed loop or descriptor
                if _running_loop() is loop:
                    loop.remove_reader(conn.fileno())
                else:
                    loop.call_soon_threadsafe(loop.remove_reader, conn.fileno())
        self._conn, self._reader = None, None
        self._outgoing = []
        lost, self._waiting = list(self._waiting.values()), {}
        with suppress(OSError):
            conn.close()
        if lost:
            log.error("the access log's writer process stopped with %d accesses", len(lost))
            _settle([(w, _unavailable("its writer process stopped")) for w in lost])

    def close(self) -> None:
        """Let the child commit and answer what it has, then wait for it to stop."""
        with self._lock:
            self._closed = True
            conn, process = self._conn, self._process
            if conn is not None and self._outgoing:
                self._send(conn, self._outgoing)
                self._outgoing = []
            if conn is not None:
                with suppress(OSError, ValueError):
                    conn.send(None)
        if process is not None:
            process.join(30)
            if process.is_alive():  # pragma: no cover - a stuck child
                process.kill()
                process.join()
        if isinstance(self._reader, threading.Thread):
            self._reader.join(10)  # it reads the last answers, then the end of the pipe
        with self._lock:
            if self._conn is not None:
                self._lost(self._conn)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class UnsafeNoAccessLog:
    """Records nothing and releases anyway. For ``bench/access.py``'s unlogged peer ONLY: the
    platform never builds one (the exchange without its log breaks the platform's promise)."""

    def __init__(self) -> None:
        warnings.warn(
            "UnsafeNoAccessLog: accesses are NOT logged (benchmark peer only)",
            RuntimeWarning,
            stacklevel=2,
        )

    def record(self, entry: AccessEntry, log_subject: str | None) -> Recorded:
        """The entry's bytes, index -1, no receipt."""
        return Recorded(-1, entry.to_bytes(), None)

    async def record_async(self, entry: AccessEntry, log_subject: str | None) -> Recorded:
        """:meth:`record`."""
        return self.record(entry, log_subject)

    def close(self) -> None:
        """Nothing to close."""
