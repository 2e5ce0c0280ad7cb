"""Group commit per turn of an event loop, for records that count only the first time.

The requests an event loop serves in one turn each queue one record (a presentation's KB-JWT
digest, an authorization code's redemption); one callback at the end of the turn writes them
all in one transaction (``insert_new``, which returns the keys it inserted for the first time)
and tells each request whether its record was new. The answer waits for the commit, so nothing
is reported before its record is durable for every process; a key twice in one batch is new
only once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from civicstack.turn_batches import Batch, TurnBatches, fail, settle

__all__ = ["FirstTimeBatches"]

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


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
