"""RS256 (RFC 7518 §3.3): opt-in only, for OpenID Connect."""

from __future__ import annotations

import pytest

from civicstack._crypto import (
    PrivateKey,
    PublicKey,
    sign_jwt,
    unwrap_private_key,
    verify_compact,
    wrap_private_key,
)
from civicstack.errors import CivicError, InputError


def test_rs256_signs_and_verifies_only_when_allowed() -> None:
    """An RS256 JWT verifies with algorithms=("RS256",) and is refused by the default list."""
    key = PrivateKey.generate("RS256")
    token = sign_jwt(key, {"a": 1})
    public = PublicKey.from_jwk(key.public_key.to_jwk(), rsa=True)
    assert verify_compact(token, public, algorithms=("RS256",))[1] == {"a": 1}
    with pytest.raises(CivicError, match="unsupported_algorithm"):
        verify_compact(token, public)
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    with pytest.raises(CivicError, match="invalid_signature"):
        verify_compact(tampered, public, algorithms=("RS256",))


def test_rsa_keys_are_imported_only_on_request_and_checked() -> None:
    """Without rsa=True an RSA JWK is refused; small moduli and odd exponents always are."""
    jwk = PrivateKey.generate("RS256").public_key.to_jwk()
    with pytest.raises(InputError, match="invalid_key"):
        PublicKey.from_jwk(jwk)
    with pytest.raises(InputError, match="invalid_key"):
        PublicKey.from_jwk({**jwk, "e": "Aw"}, rsa=True)  # e = 3
    with pytest.raises(InputError, match="invalid_key"):
        PublicKey.from_jwk({**jwk, "n": jwk["n"][:100]}, rsa=True)


def test_rsa_keys_wrap_and_unwrap() -> None:
    """An RS256 key survives wrapping under a key-encryption key."""
    key = PrivateKey.generate("RS256")
    wrapped = wrap_private_key(key, b"k" * 32, context="c")
    back = unwrap_private_key(wrapped, b"k" * 32, context="c")
    assert back.public_key == key.public_key
