"""Work gathered per turn of an event loop (:class:`civicstack.turn_batches.TurnBatches`): group
commit of records that count only the first time (:class:`FirstTimeBatches`), and point reads
made as one query (:class:`TurnLookups`).

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

from civicstack.turn_batches import Batch, TurnBatches, fail, settle

__all__ = ["FirstTimeBatches", "TurnLookups"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class FirstTimeBatches(Generic[T, K]):
    """See the module docstring: one batch per event loop and turn
    (:class:`civicstack.turn_batches.TurnBatches`), committed on the loop."""

    def __init__(self, insert_new: Callable[[list[T]], set[K]], key: Callable[[T], K]) -> None:
        self._insert_new = insert_new
        self._key = key
        self._turns: TurnBatches[T, bool] = TurnBatches(self._flush)

    async def first_time(self, record: T) -> bool:
        """Commit ``record`` with this turn's others; whether its key was new."""
        return await self._turns.submit(record)

    def _flush(self, loop: asyncio.AbstractEventLoop, batch: Batch[T, bool]) -> None:
        try:
            inserted = self._insert_new([record for record, _ in batch])
        except Exception as exc:  # every waiter learns the failure
            fail(batch, exc)
            return
        new = []
        for record, _ in batch:
            key = self._key(record)
            new.append(key in inserted)
            inserted.discard(key)  # a second copy in the batch is not new
        settle(batch, new)


class TurnLookups(Generic[K, V]):
    """Point reads by key, one read per event loop and turn: ``lookup(keys)`` answers the values
    found (a key it leaves out has none; a key asked twice in a turn is read once). A failed
    read fails every request of its turn."""

    def __init__(self, lookup: Callable[[list[K]], Mapping[K, V]]) -> None:
        self._lookup = lookup
        self._turns: TurnBatches[K, V | None] = TurnBatches(self._flush)

    async def get(self, key: K) -> V | None:
        """The value of ``key`` as read with this turn's other keys, or None."""
        return await self._turns.submit(key)

    def _flush(self, loop: asyncio.AbstractEventLoop, batch: Batch[K, V | None]) -> None:
        try:
            found = self._lookup(list(dict.fromkeys(key for key, _ in batch)))
        except Exception as exc:  # every waiter learns the failure
            fail(batch, exc)
            return
        settle(batch, [found.get(key) for key, _ in batch])
