"""Private keys at rest: a passphrase through Argon2id (RFC 9106), then AES-256-GCM (SP 800-38D).

A sealed key is a small JSON document::

    {"v": 1, "alg": "ES256", "kdf": {"name": "argon2id", "m": 65536, "t": 3, "p": 1, "salt": ...},
     "nonce": ..., "ct": ...}

The KDF parameters travel with the ciphertext so they can be raised later without breaking old
files; the associated data binds the algorithm and KDF parameters, so tampering with them fails
decryption instead of silently weakening it. Defaults follow RFC 9106 §4's second recommended
option (64 MiB of memory, three passes), with one lane so phones pay the same as servers.
"""

from __future__ import annotations

import os
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from civicstack._crypto.encoding import b64url_decode, b64url_encode, json_canonical
from civicstack._crypto.keys import ALGORITHMS, PrivateKey
from civicstack.errors import InputError, VerificationError

DEFAULT_KDF = {"name": "argon2id", "m": 65536, "t": 3, "p": 1}
_MAX_M = 1 << 21  # 2 GiB in KiB: refuse absurd parameters from a hostile file
_MAX_T = 64


def _is_int(v: object) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _derive(passphrase: str, kdf: dict[str, Any], salt: bytes) -> bytes:
    if kdf.get("name") != "argon2id":
        raise InputError("unsupported", "only argon2id sealing is supported")
    m, t, p = kdf.get("m"), kdf.get("t"), kdf.get("p")
    if not (_is_int(m) and _is_int(t) and _is_int(p)):
        raise InputError("malformed", "bad KDF parameters")
    assert isinstance(m, int)
    assert isinstance(t, int)
    assert isinstance(p, int)
    if not (8 <= m <= _MAX_M and 1 <= t <= _MAX_T and 1 <= p <= 16 and m >= 8 * p):
        raise InputError("malformed", "KDF parameters out of range")
    return hash_secret_raw(
        passphrase.encode("utf-8"),
        salt,
        time_cost=t,
        memory_cost=m,
        parallelism=p,
        hash_len=32,
        type=Type.ID,
    )


def seal_private_key(
    key: PrivateKey, passphrase: str, *, kdf: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Encrypt ``key`` under ``passphrase``; the result is safe to write to disk."""
    params = dict(kdf or DEFAULT_KDF)
    salt = os.urandom(16)
    nonce = os.urandom(12)
    aad = json_canonical({"alg": key.alg, "kdf": params, "v": 1})
    ct = AESGCM(_derive(passphrase, params, salt)).encrypt(nonce, key._private_bytes(), aad)
    return {
        "v": 1,
        "alg": key.alg,
        "kdf": {**params, "salt": b64url_encode(salt)},
        "nonce": b64url_encode(nonce),
        "ct": b64url_encode(ct),
    }


def open_private_key(sealed: object, passphrase: str) -> PrivateKey:
    """Decrypt a sealed key; ``wrong_passphrase`` if the passphrase (or the file) is wrong."""
    if not isinstance(sealed, dict) or sealed.get("v") != 1:
        raise InputError("malformed", "not a sealed key (version 1)")
    alg = sealed.get("alg")
    kdf = sealed.get("kdf")
    if alg not in ALGORITHMS or not isinstance(kdf, dict):
        raise InputError("malformed", "sealed key has no algorithm or KDF")
    params = {k: v for k, v in kdf.items() if k != "salt"}
    salt_text, nonce_text, ct_text = kdf.get("salt"), sealed.get("nonce"), sealed.get("ct")
    if not all(isinstance(v, str) for v in (salt_text, nonce_text, ct_text)):
        raise InputError("malformed", "sealed key is missing salt, nonce or ciphertext")
    salt = b64url_decode(str(salt_text))
    nonce = b64url_decode(str(nonce_text))
    aad = json_canonical({"alg": alg, "kdf": params, "v": 1})
    if len(nonce) != 12 or len(salt) < 8:
        raise InputError("malformed", "sealed key has a bad salt or nonce")
    try:
        raw = AESGCM(_derive(passphrase, params, salt)).decrypt(
            nonce, b64url_decode(str(ct_text)), aad
        )
    except InvalidTag as exc:
        raise VerificationError("wrong_passphrase") from exc
    return PrivateKey._from_private_bytes(alg, raw)
