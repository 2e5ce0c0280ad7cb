"""Key proofs of the jwt proof type (OpenID4VCI Appendix F.1): every check of F.4 bites."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any

import pytest

from civicstack._crypto import PrivateKey, b64url_encode, json_dumps, sign_compact
from civicstack.errors import CivicError, ProtocolError
from civicstack.openid4vci.proofs import PROOF_TYP, create_key_proof, verify_key_proof

AUD = "https://gov.example/issuers/passport-office"
NOW = 1_767_225_600
KEY = PrivateKey.generate("ES256")


def _jws(header: dict[str, Any], claims: dict[str, Any], key: PrivateKey = KEY) -> str:
    return sign_compact(key, json_dumps(claims), header)


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    return (
        b64url_encode(json_dumps(header))
        + "."
        + b64url_encode(json_dumps(claims))
        + "."
        + b64url_encode(signature)
    )


def _header(**extra: Any) -> dict[str, Any]:
    return {"typ": PROOF_TYP, "jwk": KEY.public_key.to_jwk(), **extra}


def _claims(**extra: Any) -> dict[str, Any]:
    return {"aud": AUD, "iat": NOW, "nonce": "n-1", **extra}


def _why(fn: Callable[[], object]) -> str:
    with pytest.raises(ProtocolError) as caught:
        fn()
    assert caught.value.code == "invalid_proof"
    assert caught.value.oauth_error == "invalid_proof"
    return caught.value.detail


def _verify(token: object) -> object:
    return verify_key_proof(token, audience=AUD, now=NOW)


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_a_wallets_proof_verifies(alg: str) -> None:
    """A proof made as Appendix F.1 says yields the key and the nonce."""
    key = PrivateKey.generate("EdDSA" if alg == "EdDSA" else "ES256")
    proof = verify_key_proof(
        create_key_proof(key, audience=AUD, nonce="n-1", now=NOW), audience=AUD, now=NOW
    )
    assert proof.key == key.public_key
    assert proof.nonce == "n-1"
    assert proof.iat == NOW


def test_hmac_with_the_public_key_is_refused() -> None:
    """HS256 keyed with the (public) JWK is the classic confusion attack: refused."""
    header = {**_header(), "alg": "HS256"}
    signing_input = (
        b64url_encode(json_dumps(header)) + "." + b64url_encode(json_dumps(_claims()))
    ).encode()
    mac = hmac.new(json_dumps(KEY.public_key.to_jwk()), signing_input, hashlib.sha256).digest()
    assert "not a usable JWS" in _why(lambda: _verify(_unsigned(header, _claims(), mac)))


def test_alg_none_is_refused() -> None:
    """An unsigned proof (alg none) is refused."""
    header = {**_header(), "alg": "none"}
    assert "not a usable JWS" in _why(lambda: _verify(_unsigned(header, _claims())))


@pytest.mark.parametrize(
    ("header", "claims", "expect"),
    [
        (_header(typ="JWT"), _claims(), "typ"),
        ({"jwk": KEY.public_key.to_jwk()}, _claims(), "typ"),
        (_header(kid="did:example:1#k"), _claims(), "not kid"),
        (_header(x5c=["MIIB"]), _claims(), "not x5c"),
        (_header(trust_chain=["a"]), _claims(), "not trust_chain"),
        ({"typ": PROOF_TYP}, _claims(), "no jwk"),
        (_header(jwk="not an object"), _claims(), "no jwk"),
        (_header(jwk={"kty": "oct", "k": "c2VjcmV0"}), _claims(), "private key material"),
        (_header(jwk={"kty": "RSA", "n": "AQAB", "e": "AQAB"}), _claims(), "not a usable key"),
        (_header(), {"iat": NOW, "nonce": "n"}, "needs aud"),
        (_header(), _claims(aud=[AUD]), "needs aud"),
        (_header(), _claims(aud="https://evil.example"), "another Credential Issuer"),
        (_header(), {"aud": AUD, "nonce": "n"}, "needs iat"),
        (_header(), _claims(iat=True), "needs iat"),
        (_header(), _claims(iat=str(NOW)), "needs iat"),
        (_header(), _claims(iat=NOW - 301), "too old"),
        (_header(), _claims(iat=NOW + 61), "future"),
        (_header(), _claims(exp=NOW), "expired"),
        (_header(), {"aud": AUD, "iat": NOW}, "no c_nonce"),
        (_header(), _claims(nonce=7), "nonce must be a string"),
    ],
)
def test_bad_proofs_say_why(header: dict[str, Any], claims: dict[str, Any], expect: str) -> None:
    """Each faulty proof is invalid_proof with a detail naming the fault."""
    assert expect in _why(lambda: _verify(_jws(header, claims)))


def test_a_jwk_with_its_private_scalar_is_refused_even_if_the_signature_verifies() -> None:
    """A jwk header carrying ``d`` leaks the holder's key: the proof is refused (F.4)."""
    jwk = {**KEY.public_key.to_jwk(), "d": b64url_encode(b"\x01" * 32)}
    assert "private key material" in _why(lambda: _verify(_jws(_header(jwk=jwk), _claims())))


def test_a_proof_signed_by_another_key_than_its_jwk_is_refused() -> None:
    """The signature must verify with the key in the header."""
    token = _jws(_header(), _claims(), key=PrivateKey.generate("ES256"))
    assert "does not verify" in _why(lambda: _verify(token))


def test_alg_must_fit_the_key() -> None:
    """An EdDSA-signed proof naming a P-256 jwk is refused."""
    other = PrivateKey.generate("EdDSA")
    token = _jws(_header(), _claims(), key=other)
    assert "does not verify" in _why(lambda: _verify(token))


def test_tampered_and_oversize_proofs_are_refused() -> None:
    """A changed payload, a non-string and a huge proof are refused before any use."""
    good = _jws(_header(), _claims())
    head, _body, sig = good.split(".")
    tampered = f"{head}.{b64url_encode(json_dumps(_claims(aud=AUD + 'x')))}.{sig}"
    _why(lambda: _verify(tampered))
    _why(lambda: _verify(123))
    _why(lambda: _verify(good + "A" * 5000))
    _why(lambda: _verify("a.b"))


def test_nonce_can_be_optional_for_issuers_without_a_nonce_endpoint() -> None:
    """With require_nonce=False, a proof without nonce verifies and reports none."""
    token = _jws(_header(), {"aud": AUD, "iat": NOW})
    assert verify_key_proof(token, audience=AUD, now=NOW, require_nonce=False).nonce is None
    with pytest.raises(CivicError):
        verify_key_proof(token, audience=AUD, now=NOW)
