"""The replay guard: a Key Binding JWT is accepted once (OpenID4VP 1.0 §14.1: a verifier must
detect replayed presentations).

A KB-JWT is known by its digest (:func:`kb_digest`), remembered for as long as it could still
pass the freshness check (its ``kb_age`` plus :data:`MAX_SKEW`). The store declared here
records digests; :class:`ReplayBatches` commits the digests of the requests in flight on an event
loop together, and each answer waits for its commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from civicstack._crypto import sha256_b64url
from civicstack.errors import CivicError
from civicstack.services.turn_batches import FirstTimeBatches
from civicstack.services.verifier.limits import DEFAULT_LIMITS, Limits

#: The default of :attr:`Limits.kb_age`, by its former name.
MAX_KB_AGE = DEFAULT_LIMITS.kb_age
#: The clock skew SD-JWT verification allows a KB-JWT's ``iat`` (RFC 9901 §7.3; the sdjwt
#: recipe's, which verification does not take from here): not a cap an operator may lower, or
#: the guard would forget a KB-JWT while it still verifies.
MAX_SKEW = 60


def replay_until(now: int, *, limits: Limits = DEFAULT_LIMITS) -> int:
    """Until when a KB-JWT accepted at ``now`` is remembered: past that it is too old anyway."""
    return now + limits.kb_age + MAX_SKEW


class ReplayStore(Protocol):
    """Where accepted KB-JWT digests are recorded (each once, in any number of processes)."""

    def remember(self, digest: str, *, relying_party: str, until: int) -> None:
        """Record a digest; ``replayed`` if it was recorded before."""

    def remember_many(self, rows: list[tuple[str, str, int]]) -> set[str]:
        """Record ``(digest, relying party, until)`` rows in one transaction; the new digests."""


@dataclass(frozen=True, slots=True)
class Accepted:
    """A presentation that passed every check but the replay guard."""

    result: dict[str, Any]
    digest: str
    relying_party: str
    until: int


class ReplayBatches:
    """Group commit for the replay guard, per event loop and turn
    (:class:`~civicstack.services.turn_batches.FirstTimeBatches`): a digest is on record for
    every process before its presentation is reported verified; a digest twice in one batch is
    new only once."""

    def __init__(self, store: ReplayStore) -> None:
        self.store = store
        self._batches: FirstTimeBatches[Accepted, str] = FirstTimeBatches(
            lambda batch: store.remember_many(
                [(a.digest, a.relying_party, a.until) for a in batch]
            ),
            key=lambda accepted: accepted.digest,
        )

    async def remember(self, accepted: Accepted) -> None:
        """Record ``accepted``'s digest; ``replayed`` if it was accepted before."""
        if not await self._batches.first_time(accepted):
            raise CivicError("replayed", "this presentation was accepted before")


def kb_digest(presentation: str) -> str:
    """The replay guard's key for an SD-JWT+KB: SHA-256 of its KB-JWT's signing input."""
    kb = presentation[presentation.rfind("~") + 1 :]
    return sha256_b64url(kb[: kb.rfind(".")].encode())
