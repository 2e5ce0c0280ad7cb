"""Helpers the library ships for its users' own tests: a fixed clock, fresh keys, a fetcher."""

from __future__ import annotations

from dataclasses import dataclass, field

from civicstack._crypto import generate_private_jwk
from civicstack.errors import CivicError

__all__ = ["FixedClock", "InMemoryFetcher", "generate_private_jwk"]


@dataclass
class FixedClock:
    """A clock that stands still until told to move."""

    t: int = 1_767_225_600  # 2026-01-01T00:00:00Z

    def now(self) -> int:
        """The fixed time."""
        return self.t

    def advance(self, seconds: int) -> None:
        """Move the clock forward."""
        self.t += seconds


@dataclass
class InMemoryFetcher:
    """A :class:`civicstack.types.Fetcher` serving ``documents`` (URL -> body) from memory.

    It keeps the fetcher contract: a missing URL or a body over ``max_bytes`` is
    ``fetch_failed``. ``requests`` records every ``(url, accept)`` asked for, so tests can
    see what was (and was not) fetched.
    """

    documents: dict[str, bytes | str] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)

    def fetch(self, url: str, *, accept: str, max_bytes: int) -> bytes:
        """The stored body for ``url``."""
        self.requests.append((url, accept))
        body = self.documents.get(url)
        if body is None:
            raise CivicError("fetch_failed", f"{url}: not found")
        raw = body.encode() if isinstance(body, str) else body
        if len(raw) > max_bytes:
            raise CivicError("fetch_failed", f"{url} is larger than {max_bytes} bytes")
        return raw
