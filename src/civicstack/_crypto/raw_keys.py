"""Raw key operations for webhook signing: HMAC-SHA256 and Ed25519 over bare key bytes.

Standard Webhooks (spec/standard-webhooks.md, "Signature scheme") serialises keys as prefixed
base64 of their raw bytes, not as JWKs: ``whsec_`` (an HMAC key of 24 to 64 bytes), ``whsk_``
(an Ed25519 private key, RFC 8032 §5.1.5: the 32-byte seed) and ``whpk_`` (the 32-byte public
key). These are the primitives under :mod:`civicstack.events.webhooks`.
"""

from __future__ import annotations

import hmac
import secrets

import nacl.exceptions
import nacl.signing

from civicstack.errors import InputError, VerificationError

ED25519_SEED_BYTES = 32
ED25519_PUBLIC_BYTES = 32
ED25519_SIGNATURE_BYTES = 64


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104) of ``data`` under ``key``."""
    return hmac.digest(key, data, "sha256")  # OpenSSL's one-shot HMAC: no Python object


def constant_time_equal(a: bytes, b: bytes) -> bool:
    """Compare two MACs without leaking where they differ."""
    return hmac.compare_digest(a, b)


def ed25519_generate_seed() -> bytes:
    """A fresh Ed25519 private key (its 32-byte seed) from the OS CSPRNG."""
    return secrets.token_bytes(ED25519_SEED_BYTES)


def _signing_key(seed: bytes) -> nacl.signing.SigningKey:
    if len(seed) != ED25519_SEED_BYTES:
        raise InputError("invalid_key", "an Ed25519 private key is 32 bytes")
    return nacl.signing.SigningKey(seed)


def ed25519_public(seed: bytes) -> bytes:
    """The 32-byte public key of an Ed25519 seed."""
    return bytes(_signing_key(seed).verify_key)


def ed25519_sign(seed: bytes, data: bytes) -> bytes:
    """The 64-byte Ed25519 signature of ``data`` (RFC 8032 §5.1.6)."""
    return _signing_key(seed).sign(data).signature


def ed25519_verify(public: bytes, signature: bytes, data: bytes) -> None:
    """Return if ``signature`` is ``public``'s over ``data``; raise ``invalid_signature``."""
    if len(public) != ED25519_PUBLIC_BYTES:
        raise InputError("invalid_key", "an Ed25519 public key is 32 bytes")
    if len(signature) != ED25519_SIGNATURE_BYTES:
        raise VerificationError("invalid_signature", "an Ed25519 signature is 64 bytes")
    try:
        nacl.signing.VerifyKey(public).verify(data, signature)
    except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError) as exc:
        raise VerificationError(
            "invalid_signature", "the Ed25519 signature does not verify"
        ) from exc
