"""Status lists as the verifier reads them: this platform's own fresh, others' per their ``ttl``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from civicstack.status import DEFAULT_LIMITS, Limits, StatusListClient
from civicstack.types import Clock, Fetcher, IssuerTrust, StatusChecker


class FreshLocalStatus:
    """A :class:`StatusChecker`: this platform's own lists (same database) are read again each
    second, so a revocation takes effect within a second; other platforms' lists are cached
    for their ``ttl`` (Token Status List §8.3 step 4.d). Both read within ``limits``."""

    def __init__(
        self,
        fetcher: Fetcher,
        remote: StatusChecker,
        prefix: str,
        clock: Clock,
        *,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self.local = StatusListClient(
            fetcher, clock=clock, limits=replace(limits, min_ttl=1, max_ttl=1)
        )
        self.remote = remote
        self.prefix = prefix.rstrip("/") + "/"

    def check(self, status: Mapping[str, Any], iss: str, trust: IssuerTrust, now: int) -> None:
        """Check with the client that fits the list's location."""
        reference = status.get("status_list")
        uri = reference.get("uri") if isinstance(reference, Mapping) else None
        local = isinstance(uri, str) and uri.startswith(self.prefix)
        (self.local if local else self.remote).check(status, iss, trust, now)
