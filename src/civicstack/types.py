"""Protocols for the seams between the pure core and its adapters.

The core depends on these shapes, never on an implementation: ``credentials`` asks an
:class:`IssuerTrust` for keys and scope (``trust`` implements it; a single known key is
:class:`civicstack.credentials.StaticIssuer`), and a :class:`StatusChecker` for revocation
(``status`` implements it over a :class:`Fetcher`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Set
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from civicstack._crypto import PublicKey


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


class IssuerTrust(Protocol):
    """Decides which keys may sign for an issuer, and what that issuer may attest."""

    def issuer_key(self, iss: str, kid: str | None, now: int) -> PublicKey:
        """The key that signs ``iss``'s credentials (``kid`` from the JWS header, if any).

        Raises ``VerificationError`` with ``untrusted_issuer``, ``accreditation_revoked`` or
        ``accreditation_expired``.
        """
        ...

    def check_scope(self, iss: str, vct: str | None, claim_names: Set[str], now: int) -> None:
        """Return if ``iss`` may attest ``vct`` with these claims, else raise ``out_of_scope``."""
        ...


class StatusChecker(Protocol):
    """Checks a credential's ``status`` claim (Token Status List) at time ``now``."""

    def check(self, status: Mapping[str, Any], iss: str, trust: IssuerTrust, now: int) -> None:
        """Return if the credential is valid; raise ``revoked``, ``suspended`` or
        ``status_unavailable``. ``trust`` gives the keys that may sign the list token."""
        ...


class Fetcher(Protocol):
    """Fetches a resource by URL (HTTP in production, an in-memory map in tests)."""

    def fetch(self, url: str, *, accept: str, max_bytes: int) -> bytes:
        """The body at ``url``; raise ``CivicError("fetch_failed")`` on any failure."""
        ...


class RegisterLinks(Protocol):
    """Tells which registers and records exist, so links between registers can be checked.

    ``civicstack.registers.Catalogue`` implements it in memory; a database-backed catalogue
    answers the same two questions with one query per register and batch.
    """

    def has_register(self, name: str) -> bool:
        """Whether a register called ``name`` exists."""
        ...

    def missing_keys(self, register: str, keys: Set[str]) -> Set[str]:
        """The members of ``keys`` that name no record of ``register`` (all when it is absent)."""
        ...
