"""API keys for relying parties' backends: issued once, revoked at once, checked off the database.

A key reads ``cvk.<id>.<secret>`` and only the SHA-256 of its secret is stored. A bearer token
without the prefix is the admin's, checked by the platform's admin check.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from civicstack.errors import CivicError
from civicstack.types import Clock

#: API keys read ``cvk.<id>.<secret>``.
API_KEY_PREFIX = "cvk"
_KEY_CACHE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls the relying-party API: the admin (acting for any relying party) or one
    relying party through its API key."""

    relying_party: str | None  # None: the admin

    def acting_for(self, named: str | None) -> str | None:
        """The relying party this call acts for (``forbidden`` for another one's key)."""
        if self.relying_party is None:
            return named
        if named is not None and named != self.relying_party:
            raise CivicError("forbidden", "an API key acts only for its own relying party")
        return self.relying_party


@dataclass(frozen=True, slots=True)
class ApiKey:
    """A relying party's API key as listed (the secret's hash is never shown)."""

    id: str
    relying_party: str
    created_at: int
    revoked_at: int | None


class ApiKeyRecord(Protocol):
    """An API key as stored: its id, relying party, the SHA-256 of its secret, when it was made
    and revoked."""

    @property
    def id(self) -> str: ...
    @property
    def relying_party(self) -> str: ...
    @property
    def secret_hash(self) -> str: ...
    @property
    def created_at(self) -> int: ...
    @property
    def revoked_at(self) -> int | None: ...


class ApiKeyStore(Protocol):
    """Where API keys are kept (by the hash of their secret only)."""

    def add_key(self, key_id: str, relying_party: str, secret_hash: str, *, now: int) -> None:
        """Record a new API key."""

    def key(self, key_id: str) -> ApiKeyRecord | None:
        """The API key ``key_id``, if it exists."""

    def keys(self, relying_party: str) -> tuple[ApiKeyRecord, ...]:
        """Every API key of ``relying_party``, oldest first."""

    def revoke_key(self, key_id: str, *, now: int) -> None:
        """Revoke a live API key (``not_found`` otherwise)."""


class ApiKeys:
    """The relying parties' API keys, and the callers their bearer tokens stand for."""

    def __init__(
        self, store: ApiKeyStore, clock: Clock, admin_check: Callable[[str | None], None]
    ) -> None:
        self.store = store
        self.clock = clock
        self._admin_check = admin_check
        self._keys: dict[str, tuple[float, str | None, str]] = {}
        self._lock = threading.Lock()

    def issue(self, relying_party: str) -> tuple[str, str]:
        """A new API key for ``relying_party``'s backend: ``(id, key)``; the key is shown once."""
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        digest = hashlib.sha256(secret.encode()).hexdigest()
        self.store.add_key(key_id, relying_party, digest, now=self.clock.now())
        return key_id, f"{API_KEY_PREFIX}.{key_id}.{secret}"

    def listed(self, relying_party: str) -> tuple[ApiKey, ...]:
        """Every API key of ``relying_party``, oldest first, without their secrets' hashes."""
        return tuple(
            ApiKey(
                k.id,
                k.relying_party,
                int(k.created_at),
                None if k.revoked_at is None else int(k.revoked_at),
            )
            for k in self.store.keys(relying_party)
        )

    def revoke(self, key_id: str) -> None:
        """Revoke an API key at once (in every process within a second)."""
        self.store.revoke_key(key_id, now=self.clock.now())
        with self._lock:
            self._keys.pop(key_id, None)

    def authenticate(self, token: str | None) -> Caller:
        """The caller behind a bearer token: the admin, or a relying party's API key."""
        if token is None:
            raise CivicError("unauthorized", "send the admin token or an API key as a bearer")
        prefix, _, rest = token.partition(".")
        if prefix != API_KEY_PREFIX:
            self._admin_check(token)
            return Caller(None)
        key_id, _, secret = rest.partition(".")
        entry = self._key(key_id)
        digest = hashlib.sha256(secret.encode()).hexdigest()
        rp, expected = entry[1], entry[2]
        if rp is None or not hmac.compare_digest(digest, expected):
            raise CivicError("unauthorized", "unknown or revoked API key")
        return Caller(rp)

    def _key(self, key_id: str) -> tuple[float, str | None, str]:
        # Looked up at most once a second per process: the verify endpoint stays off the
        # database, and a revocation reaches every worker within a second.
        now = time.monotonic()
        cached = self._keys.get(key_id)
        if cached is not None and now - cached[0] < _KEY_CACHE_SECONDS:
            return cached
        stored = self.store.key(key_id) if 0 < len(key_id) <= 32 else None
        if stored is None or stored.revoked_at is not None:
            entry: tuple[float, str | None, str] = (now, None, "")
        else:
            entry = (now, stored.relying_party, stored.secret_hash)
        with self._lock:
            if len(self._keys) > 10_000:
                self._keys.clear()
            self._keys[key_id] = entry
        return entry
