"""Records at rest (AES-256-GCM) and small secrets sealed under a passphrase."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicstack._crypto import aead_decrypt, aead_encrypt, open_bytes, seal_bytes
from civicstack.errors import CivicError

FAST_KDF = {"name": "argon2id", "m": 1024, "t": 1, "p": 1}
KEY = bytes(range(32))


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


@given(st.binary(max_size=2048), st.binary(max_size=64))
def test_record_round_trip(plaintext: bytes, aad: bytes) -> None:
    """Any record decrypts to itself under the same key and associated data."""
    assert aead_decrypt(KEY, aead_encrypt(KEY, plaintext, aad), aad) == plaintext


def test_records_use_fresh_nonces() -> None:
    """Encrypting the same record twice gives different ciphertexts (a fresh nonce each time)."""
    assert aead_encrypt(KEY, b"same", b"") != aead_encrypt(KEY, b"same", b"")


@settings(max_examples=60)
@given(st.data())
def test_any_tampered_byte_is_rejected(data: st.DataObject) -> None:
    """Flipping any bit of a record makes decryption fail with decryption_failed."""
    blob = bytearray(aead_encrypt(KEY, b"a wallet record", b"slot-1"))
    i = data.draw(st.integers(0, len(blob) - 1))
    blob[i] ^= 1 << data.draw(st.integers(0, 7))
    assert _code(lambda: aead_decrypt(KEY, bytes(blob), b"slot-1")) == "decryption_failed"


def test_record_bound_to_its_associated_data() -> None:
    """A record moved to another slot (other associated data) does not decrypt."""
    blob = aead_encrypt(KEY, b"x", b"slot-1")
    assert _code(lambda: aead_decrypt(KEY, blob, b"slot-2")) == "decryption_failed"


def test_wrong_key_and_bad_shapes() -> None:
    """A wrong key, a short blob and a key of the wrong size each fail with their code."""
    blob = aead_encrypt(KEY, b"x", b"")
    assert _code(lambda: aead_decrypt(os.urandom(32), blob, b"")) == "decryption_failed"
    assert _code(lambda: aead_decrypt(KEY, blob[:20], b"")) == "decryption_failed"
    assert _code(lambda: aead_encrypt(b"short", b"x", b"")) == "invalid_key"


def test_sealed_bytes_round_trip() -> None:
    """Sealed bytes open with the passphrase and context they were sealed with."""
    sealed = seal_bytes(KEY, "correct horse", context="wallet", kdf=FAST_KDF)
    assert open_bytes(sealed, "correct horse", context="wallet") == KEY


def test_sealed_bytes_wrong_passphrase_or_context() -> None:
    """A wrong passphrase or another context fails with wrong_passphrase."""
    sealed = seal_bytes(KEY, "a", context="wallet", kdf=FAST_KDF)
    assert _code(lambda: open_bytes(sealed, "b", context="wallet")) == "wrong_passphrase"
    assert _code(lambda: open_bytes(sealed, "a", context="other")) == "wrong_passphrase"


def test_sealed_bytes_refuse_bulk_data() -> None:
    """seal_bytes is for small secrets: a large input is refused with too_large."""
    assert _code(lambda: seal_bytes(b"x" * 5000, "a", context="c", kdf=FAST_KDF)) == "too_large"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: {**s, "v": 2},
        lambda s: {**s, "kind": "key"},
        lambda s: {**s, "kdf": "argon2id"},
        lambda s: {**s, "kdf": {**s["kdf"], "m": 1 << 30}},
        lambda s: {**s, "kdf": {**s["kdf"], "t": True}},
        lambda s: {**s, "nonce": "AAAA"},
        lambda s: {**s, "ct": "A" * 9000},
        lambda s: {k: v for k, v in s.items() if k != "ct"},
        lambda s: [s],
    ],
)
def test_hostile_sealed_bytes(mutate: Callable[[dict[str, Any]], object]) -> None:
    """Malformed or absurd sealed blobs are refused as malformed input, before any KDF work."""
    sealed = seal_bytes(KEY, "a", context="c", kdf=FAST_KDF)
    assert _code(lambda: open_bytes(mutate(sealed), "a", context="c")) == "malformed"
