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
import os
import pickle
import signal
import struct
import threading
import warnings
from collections import deque
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
#: How long a blocking caller waits for its access's answer (a durable append takes
#: milliseconds; past this the writer is taken as unavailable and nothing is released).
ANSWER_TIMEOUT = 60.0


def serve_access_log(conn: Connection, storage: AccessLogStorage) -> None:
    """The child of :class:`AccessLogProcess`, one thread: wait for accesses, take those that
    have arrived, append them as one batch, answer ``[(job, outcome)...]`` in one message;
    meanwhile the next batch gathers in the pipe (group commit). Stops on ``None`` or when
    the parent's end closes, after committing and answering every access it was sent.

    When more than :data:`_HALVE_ABOVE` accesses wait, a batch takes the older half: clients
    that all sent at once (one loop turn's fetches, woken by the last batch's answers) would
    otherwise move in one convoy, the API idle while the writer commits and the writer idle
    while the API answers; halves overlap the two."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which stops us
    waiting: deque[tuple[int, AccessEntry, str | None]] = deque()
    stopping = False
    try:
        while waiting or not stopping:
            try:
                while not stopping and (not waiting or conn.poll()):
                    message = conn.recv()
                    if message is None:
                        stopping = True
                    else:
                        waiting.extend(message)
            except (EOFError, OSError):
                stopping = True
            if not waiting:
                continue
            take = len(waiting)
            if take > _HALVE_ABOVE:
                take = (take + 1) // 2
            jobs = [waiting.popleft() for _ in range(take)]
            outcomes = _append(storage, [(entry, subject) for _, entry, subject in jobs])
            with suppress(OSError):  # the parent is gone: nobody to tell
                conn.send([(job, o) for (job, _, _), o in zip(jobs, outcomes, strict=True)])
    finally:
        conn.close()


#: Above this many waiting accesses the writer commits the older half first (see
#: :func:`serve_access_log`).
_HALVE_ABOVE = 4


class AccessLogProcess:
    """:class:`AccessLog` in a child process (see the module docstring), started on first use
    or by :meth:`start`.

    On an event loop it costs the loop no thread: the loop that records first owns the pipe
    (non-blocking: it is an event loop's descriptor now), the accesses it records in one turn
    go in one message written at the end of the turn, and it reads the answers itself, so no
    other thread of the API process wants its interpreter lock. Blocking callers
    (:meth:`record` from other threads) hand their access to that loop. With no loop (or once
    the loop has finished), the pipe is blocking and a reader thread reads the answers.
    Messages are multiprocessing's: a 4-byte big-endian length (or -1 and 8 bytes), then a
    pickle, as the child's :class:`~multiprocessing.connection.Connection` reads and writes.
    """

    def __init__(self, main: WriterMain) -> None:
        self._main = main
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._process: multiprocessing.process.BaseProcess | None = None
        self._waiting: dict[int, _Waiter] = {}
        self._jobs = itertools.count()
        self._closed = False
        # who does the pipe's I/O: an event loop, or (blocking pipe) callers and a thread
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        # the loop's side: this turn's accesses, bytes not yet written, bytes not yet read
        self._turn: _Jobs = []
        self._out = bytearray()
        self._in = bytearray()
        self._writing = False

    def start(self) -> None:
        """Start the child now (else the first access does)."""
        with self._lock:
            self._ensure()

    @property
    def pid(self) -> int | None:
        """The writer process's id while one runs (for operators' monitoring)."""
        with self._lock:
            process = self._process
            return process.pid if self._conn is not None and process is not None else None

    def record(self, entry: AccessEntry, log_subject: str | None) -> Recorded:
        """Record ``entry``; returns once it is durable, with its receipt."""
        waiter = _Blocking()
        with self._lock:
            conn = self._ensure()
            job = next(self._jobs)
            self._waiting[job] = waiter
            loop = self._loop
            if loop is not None and loop.is_running():
                try:
                    loop.call_soon_threadsafe(self._take, conn, [(job, entry, log_subject)])
                except RuntimeError:  # closed since: fail like a lost writer
                    self._lost(conn)
            else:
                self._blocking(conn)
                self._send(conn, [(job, entry, log_subject)])
        try:
            return waiter.future.result(timeout=ANSWER_TIMEOUT)
        except TimeoutError as exc:  # e.g. the loop it was handed to stopped meanwhile
            with self._lock:
                self._waiting.pop(job, None)
            raise _unavailable("no answer from its writer process") from exc

    async def record_async(self, entry: AccessEntry, log_subject: str | None) -> Recorded:
        """Record ``entry`` from an event loop (the loop keeps serving while it commits)."""
        loop = asyncio.get_running_loop()
        waiter = _OnLoop(loop)
        with self._lock:
            conn = self._ensure()
            job = next(self._jobs)
            self._waiting[job] = waiter
            owner = self._loop
            if self._thread is None and (
                owner is None or (owner is not loop and not owner.is_running())
            ):
                self._own(loop, conn)  # the first loop, or the next after one has finished
            if self._loop is loop:
                self._take_locked([(job, entry, log_subject)])
            else:  # another loop, or a reader thread, does the I/O
                self._send(conn, [(job, entry, log_subject)])
        return await waiter.future

    # --- starting and losing the child -------------------------------------------------------

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
            self._conn, self._process = ours, process
            self._loop, self._thread = None, None
            self._turn, self._out, self._in, self._writing = [], bytearray(), bytearray(), False
        return self._conn

    def _lost(self, conn: Connection) -> None:
        """The child is gone (the lock held): every access waiting in it fails; the next one
        starts a new child."""
        if self._conn is not conn:
            return
        loop, fd = self._loop, conn.fileno()
        if loop is not None:
            with suppress(RuntimeError, ValueError, OSError):  # a closed loop
                if _running_loop() is loop or not loop.is_running():
                    loop.remove_reader(fd)
                    loop.remove_writer(fd)
                else:
                    loop.call_soon_threadsafe(loop.remove_reader, fd)
                    loop.call_soon_threadsafe(loop.remove_writer, fd)
        self._conn, self._loop, self._thread = None, None, None
        self._turn, self._out, self._in = [], bytearray(), bytearray()
        lost, self._waiting = list(self._waiting.values()), {}
        with suppress(OSError):
            conn.close()
        if lost:
            log.error("the access log's writer process stopped with %d accesses", len(lost))
            _settle([(w, _unavailable("its writer process stopped")) for w in lost])

    # --- a blocking pipe: callers write, a thread reads -------------------------------------

    def _blocking(self, conn: Connection) -> None:
        """Make the pipe blocking, with a reader thread (the lock held), unless a running loop
        owns it. A loop that has finished gives it up."""
        loop = self._loop
        if loop is not None and not loop.is_running():
            with suppress(RuntimeError, ValueError, OSError):
                loop.remove_reader(conn.fileno())
                loop.remove_writer(conn.fileno())
            pending, self._out = bytes(self._out), bytearray()
            self._loop, self._writing = None, False
            os.set_blocking(conn.fileno(), True)
            if pending:
                self._write(conn, pending)
        if self._loop is None and self._thread is None:
            self._thread = threading.Thread(
                target=self._read_thread, args=(conn,), name="access-log-replies", daemon=True
            )
            self._thread.start()

    def _send(self, conn: Connection, jobs: _Jobs) -> None:
        """One message to the child (the lock held; the pipe blocking or owned by another
        loop, whose descriptor this thread may not touch: then that loop sends it)."""
        loop = self._loop
        if loop is not None:
            try:
                loop.call_soon_threadsafe(self._take, conn, jobs)
            except RuntimeError:
                self._lost(conn)
            return
        self._write(conn, _frame(jobs))

    def _write(self, conn: Connection, data: bytes) -> None:
        """Write framed bytes on the blocking pipe (the lock held)."""
        try:
            _write_all(conn.fileno(), data)
        except (OSError, ValueError):
            self._lost(conn)

    def _read_thread(self, conn: Connection) -> None:
        while True:
            try:
                replies = [conn.recv()]
                while conn.poll():
                    replies.append(conn.recv())
            except (EOFError, OSError):
                with self._lock:
                    self._lost(conn)
                return
            with self._lock:
                outcomes = self._answered(replies)
            _settle(outcomes)

    # --- an event loop's pipe: the loop writes and reads, never blocking ---------------------

    def _own(self, loop: asyncio.AbstractEventLoop, conn: Connection) -> None:
        """``loop`` does the pipe's I/O from now on (the lock held); a loop that has finished
        hands over what it had not written yet."""
        fd = conn.fileno()
        old = self._loop
        if old is not None:
            with suppress(RuntimeError, ValueError, OSError):  # closed
                old.remove_reader(fd)
                old.remove_writer(fd)
        os.set_blocking(fd, False)
        loop.add_reader(fd, self._readable, conn)
        self._loop, self._writing = loop, False
        if self._turn:
            self._out += _frame(self._turn)
            self._turn = []
        if self._out:
            loop.add_writer(fd, self._writable, conn)
            self._writing = True

    def _take(self, conn: Connection, jobs: _Jobs) -> None:
        """On a loop: accesses handed over by other threads, for the child of ``conn`` (if it
        is gone, its waiters were failed with it: nothing is sent to the next one)."""
        with self._lock:
            if self._conn is not conn:
                return
            if self._loop is _running_loop():
                self._take_locked(jobs)
            else:  # the pipe changed hands meanwhile
                self._send(conn, jobs)

    def _take_locked(self, jobs: _Jobs) -> None:
        self._turn.extend(jobs)
        if len(self._turn) == len(jobs):  # the turn's first: flush at its end
            loop = self._loop
            assert loop is not None
            loop.call_soon(self._flush)

    def _flush(self) -> None:
        """End of a loop turn: its accesses in one message."""
        with self._lock:
            conn = self._conn
            if conn is None or not self._turn:
                return
            jobs, self._turn = self._turn, []
            self._out += _frame(jobs)
            self._write_out(conn)

    def _writable(self, conn: Connection) -> None:
        with self._lock:
            if self._conn is conn:
                self._write_out(conn)

    def _write_out(self, conn: Connection) -> None:
        """Write what the pipe takes now; wait for it to take the rest (the lock held)."""
        loop = self._loop
        assert loop is not None
        while self._out:
            try:
                sent = os.write(conn.fileno(), self._out)
            except BlockingIOError:
                break
            except OSError:
                self._lost(conn)
                return
            del self._out[:sent]
        if self._out and not self._writing:
            loop.add_writer(conn.fileno(), self._writable, conn)
            self._writing = True
        elif not self._out and self._writing:
            loop.remove_writer(conn.fileno())
            self._writing = False

    def _readable(self, conn: Connection) -> None:
        """On the loop: read what has come, settle every whole answer."""
        with self._lock:
            if self._conn is not conn:
                return
            try:
                chunk = os.read(conn.fileno(), 1 << 20)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:  # the child's end closed
                self._lost(conn)
                return
            self._in += chunk
            outcomes = self._answered(_unframe(self._in))
        mine: list[tuple[_OnLoop, Recorded | CivicError]] = []
        others: list[tuple[_Waiter, Recorded | CivicError]] = []
        for waiter, outcome in outcomes:
            if isinstance(waiter, _OnLoop) and waiter.loop is self._loop:
                mine.append((waiter, outcome))
            else:
                others.append((waiter, outcome))
        _settle_on_loop(mine)
        _settle(others)

    def _answered(
        self, replies: list[list[tuple[int, Recorded | CivicError]]]
    ) -> list[tuple[_Waiter, Recorded | CivicError]]:
        """The waiters of the answered jobs (the lock held); one that gave up is skipped."""
        out = []
        for reply in replies:
            for job, outcome in reply:
                waiter = self._waiting.pop(job, None)
                if waiter is not None:
                    out.append((waiter, outcome))
        return out

    def close(self) -> None:
        """Let the child commit and answer what it has, then wait for it to stop."""
        with self._lock:
            self._closed = True
            conn, process = self._conn, self._process
            if conn is not None:
                loop = self._loop
                if loop is None or not loop.is_running():
                    # nobody else does the pipe's I/O now: send what is left, then stop
                    with suppress(RuntimeError, ValueError, OSError):
                        if loop is not None:
                            loop.remove_reader(conn.fileno())
                            loop.remove_writer(conn.fileno())
                    os.set_blocking(conn.fileno(), True)
                    data = bytes(self._out) + (_frame(self._turn) if self._turn else b"")
                    self._out, self._turn, self._loop = bytearray(), [], None
                    with suppress(OSError, ValueError):
                        _write_all(conn.fileno(), data + _frame(None))
                else:
                    loop.call_soon_threadsafe(self._stop_on_loop, conn)
        if process is not None:
            process.join(30)
            if process.is_alive():  # pragma: no cover - a stuck child
                process.kill()
                process.join()
        if self._thread is not None:
            self._thread.join(10)  # it reads the last answers, then the end of the pipe
        with self._lock:
            if self._conn is not None:
                self._lost(self._conn)

    def _stop_on_loop(self, conn: Connection) -> None:
        """On the owning loop (:meth:`close` from another thread): the turn, then the end."""
        with self._lock:
            if self._conn is conn:
                if self._turn:
                    self._out += _frame(self._turn)
                    self._turn = []
                self._out += _frame(None)
                self._write_out(conn)


def _frame(message: object) -> bytes:
    """``message`` as multiprocessing's Connection frames it (see AccessLogProcess)."""
    data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    if len(data) > 0x7FFFFFFF:
        return struct.pack("!i", -1) + struct.pack("!Q", len(data)) + data
    return struct.pack("!i", len(data)) + data


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _unframe(buffer: bytearray) -> list[list[tuple[int, Recorded | CivicError]]]:
    """Every whole message at the front of ``buffer``, removed from it."""
    out = []
    while len(buffer) >= 4:
        (size,) = struct.unpack_from("!i", buffer)
        head = 4
        if size == -1:
            if len(buffer) < 12:
                break
            (size,) = struct.unpack_from("!Q", buffer, 4)
            head = 12
        if len(buffer) < head + size:
            break
        out.append(pickle.loads(bytes(buffer[head : head + size])))  # noqa: S301 - our child
        del buffer[: head + size]
    return out


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
