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

from civicstack.errors import CivicError
from civicstack.services.verifier.values import API_KEY_PREFIX, Caller
from civicstack.stores.verifier import VerifierStore
from civicstack.types import Clock

_KEY_CACHE_SECONDS = 1.0


class ApiKeys:
    """The relying parties' API keys, and the callers their bearer tokens stand for."""

    def __init__(
        self, store: VerifierStore, clock: Clock, admin_check: Callable[[str | None], None]
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
