"""Nonces for a wallet's PID presentation to the platform's citizen-facing services, handed out
without storage.

``POST /consents/nonces`` (and ``/changes/nonces``) answers anyone, so a nonce kept from the
moment it is handed out would let an anonymous caller fill a table, or use up a platform-wide
cap of open nonces and lock every citizen out. Instead a nonce carries its own proof of origin,
as a stateless anti-replay token does (OpenID4VCI 1.0 §7 leaves the nonce's form to the
issuer; RFC 2104 HMAC):

1. ``expires_at`` as 8 bytes big-endian, then 12 random bytes (``salt``);
2. ``tag = HMAC-SHA256(key, "civicstack/pid-nonce/v1" || len(aud) || aud || expires_at ||
   salt)``, cut to 16 bytes (128 bits: no forgery within a nonce's minutes of life);
3. the nonce is ``base64url(expires_at || salt || tag)``, 48 characters.

Checking it needs only the key: a nonce that does not verify for the audience is
``unknown_nonce``; one past ``expires_at``, ``stale_nonce``. Only a nonce that verifies, with a
presentation that verifies, is written down as used (its row kept until it expires), so a
replay is refused (``replayed``) and the table grows only with real presentations.
"""

from __future__ import annotations

import hmac
import struct

from civicstack._crypto import b64url_decode, b64url_encode
from civicstack.errors import CivicError, InputError

__all__ = ["NONCE_LENGTH", "check_nonce", "make_nonce"]

_LABEL = b"civicstack/pid-nonce/v1"
_SALT = 12
_TAG = 16
#: A nonce's length in characters.
NONCE_LENGTH = (8 + _SALT + _TAG) * 4 // 3


def _tag(key: bytes, audience: str, head: bytes) -> bytes:
    aud = audience.encode()
    message = _LABEL + struct.pack(">H", len(aud)) + aud + head
    return hmac.new(key, message, "sha256").digest()[:_TAG]


def make_nonce(key: bytes, audience: str, *, expires_at: int, salt: bytes) -> str:
    """A nonce for one presentation to ``audience``, valid until ``expires_at`` (steps 1-3)."""
    if len(salt) != _SALT:
        raise ValueError(f"salt is {_SALT} random bytes")
    head = struct.pack(">Q", expires_at) + salt
    return b64url_encode(head + _tag(key, audience, head))


def check_nonce(key: bytes, nonce: str, audience: str, *, now: int) -> int:
    """The nonce's expiry if ``key`` made it for ``audience`` and it is fresh at ``now``;
    raises ``unknown_nonce`` or ``stale_nonce`` (it says nothing of whether it was used)."""
    if len(nonce) != NONCE_LENGTH:
        raise CivicError("unknown_nonce", "this service handed out no such nonce")
    try:
        raw = b64url_decode(nonce)
    except InputError as exc:
        raise CivicError("unknown_nonce", "this service handed out no such nonce") from exc
    head, tag = raw[: 8 + _SALT], raw[8 + _SALT :]
    if len(tag) != _TAG or not hmac.compare_digest(tag, _tag(key, audience, head)):
        raise CivicError("unknown_nonce", "this service handed out no such nonce")
    (expires_at,) = struct.unpack(">Q", head[:8])
    if now >= expires_at:
        raise CivicError("stale_nonce", "this nonce has expired: ask for a new one")
    return int(expires_at)
