"""Work gathered per turn of an event loop: group commit of records that count only the first
time (:class:`FirstTimeBatches`), and point reads made as one query (:class:`TurnLookups`).

The requests an event loop serves in one turn each queue one record (a presentation's KB-JWT
digest, an authorization code's redemption); one callback at the end of the turn writes them
all in one transaction (``insert_new``, which returns the keys it inserted for the first time)
and tells each request whether its record was new. The answer waits for the commit, so nothing
is reported before its record is durable for every process; a key twice in one batch is new
only once.

A read the requests of one turn each make (a consent by id, a record by key) is made once for
all of them: over a database server, a point read per request blocks the loop for a round trip
each, and the loop waits where it could serve; one read of every key of the turn waits once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Mapping
from typing import Generic, TypeVar

__all__ = ["FirstTimeBatches", "TurnLookups"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class FirstTimeBatches(Generic[T, K]):
    """See the module docstring: one batch per event loop and turn."""

    def __init__(self, insert_new: Callable[[list[T]], set[K]], key: Callable[[T], K]) -> None:
        self._insert_new = insert_new
        self._key = key
        self._pending: dict[asyncio.AbstractEventLoop, list[tuple[T, asyncio.Future[bool]]]] = {}

    async def first_time(self, record: T) -> bool:
        """Commit ``record`` with this turn's others; whether its key was new."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        queue = self._pending.get(loop)
        if queue is None:
            queue = self._pending[loop] = []
            loop.call_soon(self._flush, loop)
        queue.append((record, future))
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending.pop(loop, [])
        try:
            inserted = self._insert_new([record for record, _ in batch])
        except Exception as exc:  # every waiter learns the failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for record, future in batch:
            key = self._key(record)
            new = key in inserted
            inserted.discard(key)  # a second copy in the batch is not new
            if not future.done():
                future.set_result(new)


class TurnLookups(Generic[K, V]):
    """Point reads by key, one read per event loop and turn: ``lookup(keys)`` answers the values
    found (a key it leaves out has none). A failed read fails every request of its turn."""

    def __init__(self, lookup: Callable[[list[K]], Mapping[K, V]]) -> None:
        self._lookup = lookup
        self._pending: dict[asyncio.AbstractEventLoop, dict[K, list[asyncio.Future[V | None]]]] = {}

    async def get(self, key: K) -> V | None:
        """The value of ``key`` as read with this turn's other keys, or None."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[V | None] = loop.create_future()
        waiting = self._pending.get(loop)
        if waiting is None:
            waiting = self._pending[loop] = {}
            loop.call_soon(self._flush, loop)
        waiting.setdefault(key, []).append(future)
        return await future

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        waiting = self._pending.pop(loop, {})
        try:
            found = self._lookup(list(waiting))
        except Exception as exc:  # every waiter learns the failure
            for futures in waiting.values():
                for future in futures:
                    if not future.done():
                        future.set_exception(exc)
            return
        for key, futures in waiting.items():
            value = found.get(key)
            for future in futures:
                if not future.done():
                    future.set_result(value)
