"""Writing the access log: group commit, one checkpoint per batch, a receipt per access.

Every access (released or refused) goes through :meth:`AccessLog.record` (blocking) or
:meth:`AccessLog.record_async` (on an event loop). One writer thread takes whatever has queued
while the previous batch was committing and appends it in ONE transaction
(:meth:`AccessLogStorage.append_accesses`): the entries, their subjects' chain heads and ONE
signed C2SP checkpoint. Only after that commit does any caller learn its index; each then gets a
C2SP tlog-proof receipt (:class:`civicstack.log.Receipt`: its entry, its RFC 9162 inclusion proof
and the batch's checkpoint), so a batch of 16 accesses costs one fsync and one Ed25519
signature, not 16. A batch is all or nothing: if it cannot be written, every caller in it gets
``access_log_unavailable`` (503) and no data is released.

:class:`UnsafeNoAccessLog` records nothing: it exists only so that ``bench/access.py`` can
measure what logging costs, and warns when made.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import warnings
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Protocol

from civicstack.access import AccessEntry
from civicstack.errors import CivicError
from civicstack.log import Receipt
from civicstack.services.exchange.storage import AccessLogStorage

__all__ = ["AccessLog", "AccessRecorder", "Recorded", "UnsafeNoAccessLog"]

log = logging.getLogger("civicstack.exchange")


@dataclass(frozen=True, slots=True)
class Recorded:
    """An access durably in the log: its index, its bytes, and its receipt."""

    index: int
    entry: bytes
    receipt: Receipt | None


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


@dataclass(slots=True)
class _Job:
    entry: AccessEntry
    log_subject: str | None
    future: Future[Recorded]


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
        return self._submit(entry, log_subject).result()

    async def record_async(self, entry: AccessEntry, log_subject: str | None) -> Recorded:
        """Record ``entry`` from an event loop (the loop keeps serving while it commits)."""
        return await asyncio.wrap_future(self._submit(entry, log_subject))

    def _submit(self, entry: AccessEntry, log_subject: str | None) -> Future[Recorded]:
        future: Future[Recorded] = Future()
        with self._cond:
            if self._closed:
                raise CivicError("access_log_unavailable", "the access log is closed")
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="access-log-writer", daemon=True
                )
                self._thread.start()
            self._queue.append(_Job(entry, log_subject, future))
            self._cond.notify()
        return future

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue:
                    return
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
            self._commit(batch)

    def _commit(self, batch: Sequence[_Job]) -> None:
        try:
            done = self.storage.append_accesses([(j.entry, j.log_subject) for j in batch])
            proofs = done.proofs
            if proofs is None:  # the writer could not make them from memory: read them
                proofs = tuple(
                    tuple(self.storage.inclusion_proof(done.start + k, done.size))
                    for k in range(len(done.entries))
                )
            receipts = [
                Receipt(done.start + k, proofs[k], done.checkpoint, data)
                for k, data in enumerate(done.entries)
            ]
        except Exception as exc:
            log.exception("the access log could not be written (%d accesses)", len(batch))
            detail = getattr(exc, "detail", "") or type(exc).__name__
            for job in batch:
                job.future.set_exception(
                    CivicError("access_log_unavailable", f"the access log is unavailable: {detail}")
                )
            return
        for k, (job, receipt) in enumerate(zip(batch, receipts, strict=True)):
            job.future.set_result(Recorded(done.start + k, done.entries[k], receipt))

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()


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
