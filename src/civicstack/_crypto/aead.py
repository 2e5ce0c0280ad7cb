"""Data at rest: AES-256-GCM (NIST SP 800-38D) records, and bytes sealed under a passphrase.

Two layers, the usual key hierarchy of an encrypted store (the wallet uses both):

* :func:`seal_bytes` / :func:`open_bytes` protect a small secret (a random data key) with a
  passphrase through Argon2id (RFC 9106), exactly like :func:`.sealing.seal_private_key`: the KDF
  parameters travel with the ciphertext and are bound into the associated data, together with a
  caller-chosen ``context`` so a blob sealed for one purpose cannot be passed off as another.
* :func:`aead_encrypt` / :func:`aead_decrypt` encrypt each record under that 256-bit data key with
  a fresh random 96-bit nonce (SP 800-38D §8.2.2: safe for up to 2**32 records per key); the
  caller's associated data binds a record to its place (file name, sequence number), so records
  cannot be swapped or replayed between slots unnoticed.

Opening costs one Argon2id derivation however many records follow.

A third use, for servers: :func:`wrap_private_key` / :func:`unwrap_private_key` keep signing keys
at rest under a platform key-encryption key (AES-256-GCM as above, one fresh nonce per key).
"""

from __future__ import annotations

import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from civicstack._crypto.encoding import b64url_decode, b64url_encode, json_canonical
from civicstack._crypto.hashing import sha256_digest
from civicstack._crypto.keys import SUPPORTED_ALGORITHMS, PrivateKey
from civicstack._crypto.sealing import DEFAULT_KDF, _derive
from civicstack.errors import InputError, VerificationError

DATA_KEY_BYTES = 32
_NONCE = 12
_TAG = 16
#: Largest record accepted (64 MiB): a wallet holds credentials and signed documents' metadata.
MAX_RECORD_BYTES = 64 * 1024 * 1024


def _check_key(key: bytes) -> AESGCM:
    if not isinstance(key, bytes) or len(key) != DATA_KEY_BYTES:
        raise InputError("invalid_key", "a data key is 32 bytes")
    return AESGCM(key)


def aead_encrypt(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """Encrypt ``plaintext`` under the 32-byte ``key``; returns ``nonce || ciphertext || tag``."""
    if len(plaintext) > MAX_RECORD_BYTES:
        raise InputError("too_large", "record too large to encrypt")
    nonce = os.urandom(_NONCE)
    return nonce + _check_key(key).encrypt(nonce, plaintext, aad)


def aead_decrypt(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Decrypt what :func:`aead_encrypt` made; ``decryption_failed`` on any mismatch."""
    aes = _check_key(key)
    if len(blob) > MAX_RECORD_BYTES + _NONCE + _TAG:
        raise InputError("too_large", "record too large to decrypt")
    if len(blob) < _NONCE + _TAG:
        raise VerificationError("decryption_failed", "record too short")
    try:
        return aes.decrypt(blob[:_NONCE], blob[_NONCE:], aad)
    except InvalidTag as exc:
        raise VerificationError("decryption_failed") from exc


def _aad(params: dict[str, Any], context: str) -> bytes:
    return json_canonical({"context": context, "kdf": params, "kind": "bytes", "v": 1})


def seal_bytes(
    data: bytes, passphrase: str, *, context: str, kdf: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Encrypt a small secret under ``passphrase`` (Argon2id, then AES-256-GCM) for ``context``."""
    if len(data) > 4096:
        raise InputError("too_large", "seal_bytes is for small secrets (keys), not bulk data")
    params = dict(kdf or DEFAULT_KDF)
    salt = os.urandom(16)
    nonce = os.urandom(_NONCE)
    ct = AESGCM(_derive(passphrase, params, salt)).encrypt(nonce, data, _aad(params, context))
    return {
        "v": 1,
        "kind": "bytes",
        "kdf": {**params, "salt": b64url_encode(salt)},
        "nonce": b64url_encode(nonce),
        "ct": b64url_encode(ct),
    }


def open_bytes(sealed: object, passphrase: str, *, context: str) -> bytes:
    """Decrypt :func:`seal_bytes` output; ``wrong_passphrase`` if passphrase or file is wrong."""
    if not isinstance(sealed, dict) or sealed.get("v") != 1 or sealed.get("kind") != "bytes":
        raise InputError("malformed", "not sealed bytes (version 1)")
    kdf = sealed.get("kdf")
    if not isinstance(kdf, dict):
        raise InputError("malformed", "sealed bytes have no KDF")
    params = {k: v for k, v in kdf.items() if k != "salt"}
    salt_text, nonce_text, ct_text = kdf.get("salt"), sealed.get("nonce"), sealed.get("ct")
    if not (isinstance(salt_text, str) and isinstance(nonce_text, str)):
        raise InputError("malformed", "sealed bytes are missing salt or nonce")
    if not isinstance(ct_text, str) or len(ct_text) > 8192:
        raise InputError("malformed", "sealed bytes have a missing or oversized ciphertext")
    salt, nonce, ct = b64url_decode(salt_text), b64url_decode(nonce_text), b64url_decode(ct_text)
    if len(nonce) != _NONCE or len(salt) < 8:
        raise InputError("malformed", "sealed bytes have a bad salt or nonce")
    try:
        return AESGCM(_derive(passphrase, params, salt)).decrypt(nonce, ct, _aad(params, context))
    except InvalidTag as exc:
        raise VerificationError("wrong_passphrase") from exc


# --- private keys wrapped under a key-encryption key -------------------------------------------
#
# A server holds many signing keys (one or more per hosted authority). Sealing each under a
# passphrase would cost an Argon2id derivation per signature; instead each is encrypted with
# AES-256-GCM under the platform's 256-bit key-encryption key (the usual KEK/DEK split of an
# HSM-less key store). The associated data binds the algorithm and a caller-chosen ``context``
# (the key's owner and kid), so a wrapped key cannot be moved to another owner or algorithm.


def kek_id(kek: bytes) -> str:
    """A short public name for a key-encryption key, to tell which KEK wrapped a key."""
    _check_key(kek)
    return b64url_encode(sha256_digest(b"civicstack/kek-id/v1\x00" + kek)[:12])


def _wrap_aad(alg: str, context: str) -> bytes:
    return json_canonical({"alg": alg, "context": context, "kind": "wrapped-key", "v": 1})


def wrap_private_key(key: PrivateKey, kek: bytes, *, context: str) -> dict[str, Any]:
    """Encrypt ``key`` under the 32-byte ``kek`` for ``context``; safe to store in a database."""
    blob = aead_encrypt(kek, key._private_bytes(), _wrap_aad(key.alg, context))
    return {
        "v": 1,
        "kind": "wrapped-key",
        "alg": key.alg,
        "kek": kek_id(kek),
        "ct": b64url_encode(blob),
    }


def unwrap_private_key(wrapped: object, kek: bytes, *, context: str) -> PrivateKey:
    """Decrypt :func:`wrap_private_key` output.

    ``decryption_failed`` when ``kek`` is not the key it was wrapped under, or the record was
    changed or moved to another ``context``; ``malformed`` when it is not a wrapped key at all.
    """
    if (
        not isinstance(wrapped, dict)
        or wrapped.get("v") != 1
        or wrapped.get("kind") != "wrapped-key"
    ):
        raise InputError("malformed", "not a wrapped key (version 1)")
    alg, ct, named = wrapped.get("alg"), wrapped.get("ct"), wrapped.get("kek")
    if alg not in SUPPORTED_ALGORITHMS or not isinstance(ct, str) or len(ct) > 8192:
        raise InputError("malformed", "a wrapped key needs its algorithm and a short ciphertext")
    if named != kek_id(kek):
        raise VerificationError(
            "decryption_failed", "the key was wrapped under another key-encryption key"
        )
    raw = aead_decrypt(kek, b64url_decode(ct), _wrap_aad(str(alg), context))
    return PrivateKey._from_private_bytes(alg, raw)
