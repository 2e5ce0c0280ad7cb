"""Protocols for the seams between the pure core and its adapters."""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


@runtime_checkable
class Clock(Protocol):
    """Tells the time in whole seconds since the Unix epoch (UTC)."""

    def now(self) -> int:
        """The current time."""
        ...


class SystemClock:
    """The machine's clock."""

    def now(self) -> int:
        """The current time from :func:`time.time`."""
        return int(time.time())


def resolve_now(now: int | None) -> int:
    """The given time, or the system clock's when ``None``: public recipes take ``now=``."""
    return int(time.time()) if now is None else now
