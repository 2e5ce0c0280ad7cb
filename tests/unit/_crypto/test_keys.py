"""Keys: JWK import/export, RFC 7638 thumbprints, signing, and hostile JWKs."""

from __future__ import annotations

import pytest

from civicstack._crypto import (
    ALGORITHMS,
    Alg,
    PrivateKey,
    PublicKey,
    b64url_encode,
    generate_private_jwk,
)
from civicstack.errors import CivicError, InputError, VerificationError

# RFC 7638 §3.1: the example RSA key's thumbprint is given; for EC/OKP we use RFC 8037 App. A.3.
RFC8037_OKP = {
    "kty": "OKP",
    "crv": "Ed25519",
    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
}
RFC8037_PRIVATE = {**RFC8037_OKP, "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}


def test_rfc8037_thumbprint() -> None:
    """The RFC 8037 §A.3 Ed25519 key has the thumbprint the RFC gives."""
    assert (
        PublicKey.from_jwk(RFC8037_OKP).thumbprint()
        == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    )


def test_rfc8037_signature() -> None:
    """Signing the RFC 8037 §A.4 input yields the RFC's signature (Ed25519 is deterministic)."""
    key = PrivateKey.from_jwk(RFC8037_PRIVATE)
    signing_input = b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
    expected = (
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
    )
    assert b64url_encode(key.sign(signing_input)) == expected


@pytest.mark.parametrize("alg", ALGORITHMS)
def test_round_trip(alg: Alg) -> None:
    """A generated key signs, its public JWK re-imports equal, and the signature verifies."""
    jwk = generate_private_jwk(alg)
    key = PrivateKey.from_jwk(jwk)
    pub = PublicKey.from_jwk(key.public_key.to_jwk())
    assert pub == key.public_key
    assert "d" not in pub.to_jwk()
    sig = key.sign(b"hello")
    pub.verify(sig, b"hello")
    with pytest.raises(VerificationError) as err:
        pub.verify(sig, b"hellO")
    assert err.value.code == "invalid_signature"


def test_es256_signature_is_raw_64_bytes() -> None:
    """ES256 signatures are JOSE's r||s, not DER."""
    key = PrivateKey.generate("ES256")
    assert len(key.sign(b"x")) == 64


def test_private_key_has_no_export() -> None:
    """No public method hands out private material; repr shows only the thumbprint."""
    key = PrivateKey.generate("EdDSA")
    public_names = {n for n in dir(key) if not n.startswith("_")}
    # ed25519_from_seed builds a key from a derived seed (the access log's): an import, no export
    assert public_names == {
        "alg",
        "public_key",
        "sign",
        "generate",
        "from_jwk",
        "ed25519_from_seed",
    }
    assert repr(key) == f"PrivateKey(EdDSA, {key.public_key.thumbprint()})"


@pytest.mark.parametrize(
    ("jwk", "why"),
    [
        ({"kty": "RSA", "n": "AQAB", "e": "AQAB"}, "unsupported type"),
        ({"kty": "oct", "k": "c2VjcmV0"}, "symmetric key"),
        ({"kty": "OKP", "crv": "X25519", "x": RFC8037_OKP["x"]}, "not a signing curve"),
        ({"kty": "OKP", "crv": "Ed25519"}, "missing x"),
        ({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}, "short x"),
        ({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_OKP["x"] + "="}, "padded"),
        (
            {
                "kty": "EC",
                "crv": "P-256",
                "x": b64url_encode(b"\x01" * 32),
                "y": b64url_encode(b"\x02" * 32),
            },
            "off-curve",
        ),
        ({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"}, "unsupported curve"),
        ([], "not an object"),
        ({"kty": "OKP", "crv": "Ed25519", "x": 5}, "x not a string"),
    ],
)
def test_bad_public_jwk(jwk: object, why: str) -> None:
    """Hostile or unsupported JWKs fail with invalid_key."""
    with pytest.raises(CivicError) as err:
        PublicKey.from_jwk(jwk)
    assert err.value.code == "invalid_key", why


def test_private_jwk_with_mismatched_public_members() -> None:
    """A private JWK whose x/y belong to another key is refused."""
    a, b = generate_private_jwk("ES256"), generate_private_jwk("ES256")
    with pytest.raises(CivicError) as err:
        PrivateKey.from_jwk({**a, "d": b["d"]})
    assert err.value.code == "invalid_key"


def test_an_ed25519_key_from_a_seed_is_deterministic() -> None:
    """The same 32-byte seed gives the same key (RFC 8032 §5.1.5); another length is refused."""
    one, two = (
        PrivateKey.ed25519_from_seed(b"\x01" * 32),
        PrivateKey.ed25519_from_seed(b"\x01" * 32),
    )
    assert one.public_key == two.public_key
    assert one.sign(b"m") == two.sign(b"m")
    with pytest.raises(InputError):
        PrivateKey.ed25519_from_seed(b"short")


def test_es256_rejects_a_signature_of_another_length() -> None:
    """A 63- or 65-byte ES256 signature is refused before any DER is built."""
    key = PrivateKey.generate("ES256")
    sig = key.sign(b"x")
    for bad in (sig[:-1], sig + b"\x00", b""):
        with pytest.raises(VerificationError):
            key.public_key.verify(bad, b"x")
