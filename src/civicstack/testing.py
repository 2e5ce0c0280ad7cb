"""Helpers the library ships for its users' own tests: a fixed clock and fresh keys."""

from __future__ import annotations

from dataclasses import dataclass

from civicstack._crypto import generate_private_jwk

__all__ = ["FixedClock", "generate_private_jwk"]


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
