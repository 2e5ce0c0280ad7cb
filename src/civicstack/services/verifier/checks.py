"""The verifier's checks beyond the credential itself: the replay guard and fresh status lists.

* :class:`ReplayBatches`: a Key Binding JWT is accepted once (OpenID4VP 1.0 §14.1: a verifier
  must detect replayed presentations); the digests of the requests in flight on an event loop
  commit together, and each answer waits for its commit;
* :class:`FreshLocalStatus`: Token Status List §8.3 with this platform's own lists re-read each
  second (a revocation here takes effect within a second) and other platforms' per their ``ttl``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from civicstack._crypto import sha256_b64url
from civicstack.errors import CivicError
from civicstack.status import StatusListClient
from civicstack.stores.verifier import VerifierStore
from civicstack.types import Clock, Fetcher, IssuerTrust, StatusChecker


@dataclass(frozen=True, slots=True)
class Accepted:
    """A presentation that passed every check but the replay guard."""

    result: dict[str, Any]
    digest: str
    relying_party: str
    until: int


class ReplayBatches:
    """Group commit for the replay guard, per event loop.

    Requests verified in the same turn of the loop queue their KB-JWT digests; one callback
    inserts them all in one transaction and tells each request whether its digest was new.
    The answer waits for the commit, so a digest is on record (for every process) before its
    presentation is reported verified; a digest twice in one batch is new only once.
    """

    def __init__(self, store: VerifierStore) -> None:
        self.store = store
        self._pending: dict[
            asyncio.AbstractEventLoop, list[tuple[Accepted, asyncio.Future[bool]]]
        ] = {}

    async def remember(self, accepted: Accepted) -> None:
        """Record ``accepted``'s digest; ``replayed`` if it was accepted before."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        queue = self._pending.get(loop)
        if queue is None:
            queue = self._pending[loop] = []
            loop.call_soon(self._flush, loop)
        queue.append((accepted, future))
        if not await future:
            raise CivicError("replayed", "this presentation was accepted before")

    def _flush(self, loop: asyncio.AbstractEventLoop) -> None:
        batch = self._pending.pop(loop, [])
        try:
            inserted = self.store.remember_many(
                [(a.digest, a.relying_party, a.until) for a, _ in batch]
            )
        except Exception as exc:  # every waiter learns the failure
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for accepted, future in batch:
            new = accepted.digest in inserted
            inserted.discard(accepted.digest)  # a second copy in the batch is a replay
            if not future.done():
                future.set_result(new)


class FreshLocalStatus:
    """A :class:`StatusChecker`: this platform's own lists (same database) are read again each
    second, so a revocation takes effect within a second; other platforms' lists are cached
    for their ``ttl`` (Token Status List §8.3 step 4.d)."""

    def __init__(self, fetcher: Fetcher, remote: StatusChecker, prefix: str, clock: Clock) -> None:
        self.local = StatusListClient(fetcher, clock=clock, min_ttl=1, max_ttl=1)
        self.remote = remote
        self.prefix = prefix.rstrip("/") + "/"

    def check(self, status: Mapping[str, Any], iss: str, trust: IssuerTrust, now: int) -> None:
        """Check with the client that fits the list's location."""
        reference = status.get("status_list")
        uri = reference.get("uri") if isinstance(reference, Mapping) else None
        local = isinstance(uri, str) and uri.startswith(self.prefix)
        (self.local if local else self.remote).check(status, iss, trust, now)


def kb_digest(presentation: str) -> str:
    """The replay guard's key for an SD-JWT+KB: SHA-256 of its KB-JWT's signing input."""
    kb = presentation[presentation.rfind("~") + 1 :]
    return sha256_b64url(kb[: kb.rfind(".")].encode())
