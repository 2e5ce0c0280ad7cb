"""Requests that coroutines on one event loop make in one turn, handed over together: the
gathering half of a group commit for asyncio code.

Each request gets a future on its loop. The first request of a turn schedules one callback
(``loop.call_soon``), which runs after every callback already ready in that turn: the tasks
woken together (say, by the previous batch's answers) all make their next request first. The
callback hands the turn's requests to ``flush`` as one batch, and ``flush`` answers them on
the loop (:func:`settle`, :func:`fail`): at once, or later from another thread through
``loop.call_soon_threadsafe``. A future already done (its awaiting task was cancelled) is
skipped: nobody is waiting for that answer, and the request is not withdrawn.

Used for records that count only the first time
(:class:`civicstack.services.turn_batches.FirstTimeBatches`, committed on the loop) and for the
transparency log's asynchronous appends (``civicstack.log.DurableLog.append_async``, committed
off the loop by a writer thread).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from contextlib import suppress
from typing import Generic, TypeVar

from civicstack.errors import CivicError

__all__ = ["Batch", "TurnBatches", "fail", "settle"]

T = TypeVar("T")
R = TypeVar("R")

#: One turn's requests with their futures, in the order they were made.
Batch = list[tuple[T, "asyncio.Future[R]"]]


class TurnBatches(Generic[T, R]):
    """See the module docstring: one batch per event loop and turn."""

    def __init__(self, flush: Callable[[asyncio.AbstractEventLoop, Batch[T, R]], None]) -> None:
        """``flush(loop, batch)`` is called on ``loop`` at the end of each turn that made a
        request; it must settle every future of ``batch``, now or later."""
        self._flush_batch = flush
        # A lock, not the GIL alone: take_all() may run on another thread than the loops.
        self._lock = threading.Lock()
        self._pending: dict[asyncio.AbstractEventLoop, Batch[T, R]] = {}

    def submit(self, request: T) -> asyncio.Future[R]:
        """Queue ``request`` in the running loop's current batch; the future of its answer."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        with self._lock:
            batch = self._pending.get(loop)
            if batch is None:
                batch = self._pending[loop] = []
                loop.call_soon(self._flush, loop)
            batch.append((request, future))
        return future

    def take_all(self) -> list[tuple[asyncio.AbstractEventLoop, Batch[T, R]]]:
        """Every batch not yet flushed, taken away (for an owner that closes: it settles them;
        their loops' end-of-turn callbacks then find nothing)."""
        with self._lock:
            taken = list(self._pending.items())
            self._pending.clear()
        return taken

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        with self._lock:
            batch = self._pending.pop(loop, None)
            # A loop closed before its turn ended never runs its callback: its batch goes with
            # this one's, so no request is stranded.
            stranded = [(other, self._pending.pop(other)) for other in self._closed_loops()]
        for other, requests in stranded:
            self._flush_batch(other, requests)
        if batch:
            self._flush_batch(loop, batch)

    def _closed_loops(self) -> list[asyncio.AbstractEventLoop]:
        if not self._pending:
            return []
        return [loop for loop in self._pending if loop.is_closed()]


def settle(batch: Batch[T, R], results: Iterable[R]) -> None:
    """Answer each request of ``batch`` with its result (on the batch's loop)."""
    for (_, future), result in zip(batch, results, strict=True):
        if not future.done():
            with suppress(RuntimeError):  # its loop is closed: nobody is waiting any more
                future.set_result(result)


def fail(batch: Batch[T, R], error: BaseException) -> None:
    """Fail every request of ``batch`` with ``error`` (on the batch's loop): a
    :class:`CivicError` is copied for each request, code and detail, so that no two tasks
    raise (and add their tracebacks to) one exception object."""
    for _, future in batch:
        if not future.done():
            with suppress(RuntimeError):  # its loop is closed: nobody is waiting any more
                future.set_exception(_copy(error))


def _copy(error: BaseException) -> BaseException:
    if isinstance(error, CivicError):
        copy = type(error)(error.code, error.detail)
        copy.__cause__ = error.__cause__ or error
        return copy
    return error
