"""Sealed private keys: Argon2id + AES-GCM at rest."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from civicstack._crypto import PrivateKey, open_private_key, seal_private_key
from civicstack.errors import CivicError

FAST_KDF = {"name": "argon2id", "m": 1024, "t": 1, "p": 1}


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_seal_and_open(alg: str) -> None:
    """A sealed key opens with its passphrase to the same key, and signs."""
    key = PrivateKey.generate("ES256" if alg == "ES256" else "EdDSA")
    sealed = seal_private_key(key, "correct horse", kdf=FAST_KDF)
    opened = open_private_key(sealed, "correct horse")
    assert opened.public_key == key.public_key
    key.public_key.verify(opened.sign(b"m"), b"m")


def test_wrong_passphrase() -> None:
    """The wrong passphrase fails with wrong_passphrase."""
    sealed = seal_private_key(PrivateKey.generate("EdDSA"), "a", kdf=FAST_KDF)
    with pytest.raises(CivicError) as err:
        open_private_key(sealed, "b")
    assert err.value.code == "wrong_passphrase"


def test_weakened_kdf_parameters_are_detected() -> None:
    """Lowering the stored KDF cost breaks decryption (the parameters are authenticated)."""
    sealed = seal_private_key(PrivateKey.generate("EdDSA"), "a", kdf=FAST_KDF)
    sealed["kdf"] = {**sealed["kdf"], "m": 512}
    with pytest.raises(CivicError) as err:
        open_private_key(sealed, "a")
    assert err.value.code == "wrong_passphrase"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda s: {**s, "v": 2},
        lambda s: {**s, "alg": "RS256"},
        lambda s: {**s, "kdf": {**s["kdf"], "m": 1 << 30}},
        lambda s: {**s, "kdf": {**s["kdf"], "name": "pbkdf2"}},
        lambda s: {**s, "nonce": "AAAA"},
        lambda s: {k: v for k, v in s.items() if k != "ct"},
    ],
)
def test_hostile_sealed_files(mutate: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Malformed or absurd sealed files are refused without doing the work they ask for."""
    sealed = seal_private_key(PrivateKey.generate("EdDSA"), "a", kdf=FAST_KDF)
    with pytest.raises(CivicError):
        open_private_key(mutate(sealed), "a")
