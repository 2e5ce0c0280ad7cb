"""Signing keys wrapped under a key-encryption key (what the platform stores for authorities)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from civicstack._crypto import (
    Alg,
    PrivateKey,
    b64url_decode,
    b64url_encode,
    kek_id,
    unwrap_private_key,
    wrap_private_key,
)
from civicstack.errors import CivicError

KEK = bytes(range(32))
OTHER = bytes(range(1, 33))


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_wrap_round_trip(alg: Alg) -> None:
    """A wrapped key unwraps to a key that signs what the original's public key verifies."""
    key = PrivateKey.generate(alg)
    wrapped = wrap_private_key(key, KEK, context="authority/a/kid")
    back = unwrap_private_key(wrapped, KEK, context="authority/a/kid")
    assert back.public_key == key.public_key
    key.public_key.verify(back.sign(b"data"), b"data")
    assert wrapped["alg"] == alg
    assert wrapped["kek"] == kek_id(KEK)


def test_wrapped_key_holds_no_plain_key_material() -> None:
    """The stored form does not contain the private scalar."""
    key = PrivateKey.generate("EdDSA")
    wrapped = wrap_private_key(key, KEK, context="c")
    assert b64url_encode(key._private_bytes()) not in str(wrapped)


def test_wrong_kek_is_refused() -> None:
    """Another key-encryption key cannot unwrap it: decryption_failed, named by the kek id."""
    wrapped = wrap_private_key(PrivateKey.generate(), KEK, context="c")
    assert _code(lambda: unwrap_private_key(wrapped, OTHER, context="c")) == "decryption_failed"


def test_moved_to_another_context_is_refused() -> None:
    """A wrapped key copied to another owner's row does not unwrap there."""
    wrapped = wrap_private_key(PrivateKey.generate(), KEK, context="authority/a")
    assert _code(lambda: unwrap_private_key(wrapped, KEK, context="authority/b")) == (
        "decryption_failed"
    )


def test_algorithm_swap_is_refused() -> None:
    """Relabelling the algorithm breaks the associated data."""
    wrapped = wrap_private_key(PrivateKey.generate("ES256"), KEK, context="c")
    wrapped["alg"] = "EdDSA"
    assert _code(lambda: unwrap_private_key(wrapped, KEK, context="c")) == "decryption_failed"


def test_tampered_ciphertext_is_refused() -> None:
    """A flipped bit in the ciphertext fails authentication."""
    wrapped = wrap_private_key(PrivateKey.generate(), KEK, context="c")
    blob = bytearray(b64url_decode(wrapped["ct"]))
    blob[-1] ^= 1
    wrapped["ct"] = b64url_encode(bytes(blob))
    assert _code(lambda: unwrap_private_key(wrapped, KEK, context="c")) == "decryption_failed"


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "text",
        {"v": 2, "kind": "wrapped-key"},
        {"v": 1, "kind": "bytes"},
        {"v": 1, "kind": "wrapped-key", "alg": "HS256", "ct": "AA"},
    ],
)
def test_not_a_wrapped_key_is_malformed(bad: object) -> None:
    """Anything but a version-1 wrapped key is malformed."""
    assert _code(lambda: unwrap_private_key(bad, KEK, context="c")) == "malformed"


def test_kek_must_be_32_bytes() -> None:
    """A short key-encryption key is refused as an invalid key."""
    assert _code(lambda: wrap_private_key(PrivateKey.generate(), b"short", context="c")) == (
        "invalid_key"
    )
