"""How much unauthenticated citizens may send: submissions per client, and a disk quota.

Anyone may submit an application with proof documents, so two rules bound what a stranger can
make the platform store:

* :class:`SubmissionRate`, a token bucket per client (the remote address; an IPv6 address by its
  /64, what one host is usually given — :func:`client_key`). A client holds up to ``burst``
  tokens, gets ``per_hour`` new ones an hour, and spends one on every submission, accepted or
  not; with none left it is refused with ``rate_limited`` (HTTP 429) and told when the next
  token comes (``Retry-After``). The bucket is kept as its "theoretical arrival time" (the
  GCRA form of a token bucket, RFC 2697's single-rate idea): one number a client, stored in the
  database, so every worker process of ``civic up --workers N`` spends from the same bucket.
  Defaults: a burst of 10, then 120 an hour (one every 30 s): a citizen retrying a few
  times never meets it, a script filling the disk does at once.
* :class:`DocumentQuota`: the documents of pending applications (those not yet decided and not
  expired, :mod:`.retention`) take at most ``max_bytes`` (default 1 GiB); a submission that
  would go over is refused with ``storage_full`` (HTTP 507) before anything is written.

Both decide through pure functions that the store calls inside its transaction, under the lock
that serialises submissions, so the limit holds across processes.
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass

from civicstack.errors import CivicError, InputError, RetryLaterError

HOUR = 3600
#: The longest key a bucket is stored under.
MAX_CLIENT_CHARS = 64


@dataclass(frozen=True, slots=True)
class SubmissionRate:
    """A token bucket: ``burst`` submissions at once, then ``per_hour`` an hour."""

    burst: int = 10
    per_hour: int = 120

    def __post_init__(self) -> None:
        if self.burst < 1 or self.per_hour < 1:
            raise InputError("invalid_request", "a submission rate needs burst and per_hour >= 1")

    @property
    def interval(self) -> float:
        """Seconds between two new tokens."""
        return HOUR / self.per_hour

    def admit(self, arrival: float | None, now: int) -> float:
        """Spend one token of a bucket whose theoretical arrival time is ``arrival`` (``None``:
        a full bucket); the new arrival time, or :class:`RetryLaterError` (``rate_limited``) when
        the bucket is empty.

        1. a bucket is never fuller than full: the arrival time is at least ``now``;
        2. it holds ``burst`` tokens when the arrival time is ``now``, one fewer for every
           ``interval`` it lies ahead; none once it lies ``burst`` intervals ahead;
        3. spending a token moves the arrival time one interval on.
        """
        at = max(arrival if arrival is not None else now, now)  # 1.
        ahead = at + self.interval - now  # 2. where spending would put it
        limit = self.burst * self.interval
        if ahead > limit:
            wait = math.ceil(ahead - limit)  # whole seconds, rounded up
            raise RetryLaterError(
                "rate_limited",
                f"at most {self.burst} submissions at once and {self.per_hour} an hour"
                f" from one client; retry in {wait} s",
                retry_after=wait,
            )
        return at + self.interval  # 3.


@dataclass(frozen=True, slots=True)
class DocumentQuota:
    """The bytes the documents of pending applications may take on disk, in all."""

    max_bytes: int = 1024 * 1024 * 1024

    def __post_init__(self) -> None:
        if self.max_bytes < 0:
            raise InputError("invalid_request", "a document quota is >= 0 bytes")

    def check(self, used: int, incoming: int) -> None:
        """``storage_full`` unless ``incoming`` more bytes fit beside the ``used`` ones."""
        if used + incoming > self.max_bytes:
            raise CivicError(
                "storage_full",
                "the storage for pending applications' documents is full; try again later",
            )


def client_key(address: str | None) -> str:
    """The bucket a remote address spends from: an IPv4 address itself, an IPv6 address its
    /64 network (an IPv4-mapped one its IPv4 address), anything else (a Unix socket, a test
    client) its text, cut to 64 characters."""
    if not address:
        return "unknown"
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:MAX_CLIENT_CHARS]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
