"""Interoperability with the RFC 9901 reference implementation (PyPI ``sd-jwt`` 0.10.4), both ways.

Also pins where the two differ: the reference verifier accepts a Disclosure that no digest
references (RFC 9901 §7.1 step 5 says reject), and checks every KB-JWT as ES256.
"""

from __future__ import annotations

from typing import Any

import pytest
from jwcrypto.jwk import JWK
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from civicstack import credentials as cred
from civicstack import sdjwt
from civicstack._crypto import Alg, PrivateKey
from civicstack.errors import VerificationError
from civicstack.testing import generate_private_jwk

NOW = 1_767_225_600
ISS = "https://passport.example.gov"
AUD, NONCE = "https://shop.example", "nonce-123"
CLAIMS = {
    "given_name": "Ada",
    "family_name": "Lovelace",
    "address": {"locality": "London", "country": "GB"},
    "nationalities": ["GB", "FR"],
    "age_over_18": True,
}
PATHS = [
    "given_name",
    "family_name",
    "address",
    "address.locality",
    "nationalities.1",
    "age_over_18",
]


def _public(jwk: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in jwk.items() if k != "d"}


def _their_verify(presentation: str, issuer_jwk: dict[str, str]) -> dict[str, Any]:
    issuer = JWK(**_public(issuer_jwk))
    verifier = SDJWTVerifier(presentation, lambda iss, header: issuer, AUD, NONCE)
    payload: dict[str, Any] = verifier.get_verified_payload()
    return payload


def _our_verify(presentation: str, issuer_jwk: dict[str, str]) -> dict[str, Any]:
    result = cred.verify_presentation(
        presentation,
        trust=cred.StaticIssuer(_public(issuer_jwk)),
        aud=AUD,
        nonce=NONCE,
        now=NOW + 5,
        status=cred.UnsafeSkipStatus(),
    )
    return result.payload


@pytest.mark.parametrize("issuer_alg", ["ES256", "EdDSA"])
def test_ours_issued_and_presented_theirs_verifies(issuer_alg: Alg) -> None:
    """The reference verifier accepts our credential and presentation, and sees the same claims."""
    issuer, holder = generate_private_jwk(issuer_alg), generate_private_jwk("ES256")
    sd = cred.issue_credential(
        PrivateKey.from_jwk(issuer), iss=ISS, vct="urn:eudi:pid:1", claims=CLAIMS,
        holder=PrivateKey.from_jwk(holder).public_key, disclosable=PATHS, iat=NOW,
    )  # fmt: skip
    presentation = cred.present_credential(
        sd, disclose=["address.locality", "nationalities.1", "age_over_18"],
        holder=PrivateKey.from_jwk(holder), aud=AUD, nonce=NONCE, now=NOW,
    )  # fmt: skip
    theirs = _their_verify(presentation, issuer)
    assert theirs == _our_verify(presentation, issuer)
    assert theirs["address"] == {"locality": "London", "country": "GB"}  # country is plain
    assert theirs["nationalities"] == ["GB", "FR"]  # GB is plain, FR was disclosed
    assert "given_name" not in theirs


def test_ours_issued_their_holder_presents_we_verify() -> None:
    """The reference holder can present our credential; we verify its presentation."""
    issuer, holder = generate_private_jwk("ES256"), generate_private_jwk("ES256")
    sd = cred.issue_credential(
        PrivateKey.from_jwk(issuer), iss=ISS, vct="urn:eudi:pid:1", claims=CLAIMS,
        holder=PrivateKey.from_jwk(holder).public_key, disclosable=PATHS, iat=NOW,
    )  # fmt: skip
    their_holder = SDJWTHolder(sd)
    their_holder.create_presentation(
        {"given_name": True, "address": {"locality": True}}, NONCE, AUD, JWK(**holder)
    )
    ours = cred.verify_presentation(
        their_holder.sd_jwt_presentation, trust=cred.StaticIssuer(_public(issuer)), aud=AUD,
        nonce=NONCE, now=int(their_holder.key_binding_jwt_payload["iat"]),
        status=cred.UnsafeSkipStatus(),
    )  # fmt: skip
    assert ours.claims == {
        "given_name": "Ada",
        "address": {"locality": "London", "country": "GB"},
        "nationalities": ["GB"],
    }


def _their_issuance(issuer: dict[str, str], holder: dict[str, str], alg: str) -> str:
    claims = {
        "iss": ISS,
        "iat": NOW,
        SDObj("given_name"): "Ada",
        "address": {SDObj("locality"): "London", "country": "GB"},
        SDObj("nationalities"): [SDObj("GB"), SDObj("FR")],
    }
    issuance: str = SDJWTIssuer(
        claims, JWK(**issuer), JWK(**holder), sign_alg=alg, add_decoy_claims=True
    ).sd_jwt_issuance
    return issuance


@pytest.mark.parametrize("issuer_alg", ["ES256", "EdDSA"])
def test_theirs_issued_and_presented_we_verify(issuer_alg: Alg) -> None:
    """A reference issuance with decoys and recursive arrays, presented by the reference holder."""
    issuer, holder = generate_private_jwk(issuer_alg), generate_private_jwk("ES256")
    their_holder = SDJWTHolder(_their_issuance(issuer, holder, issuer_alg))
    their_holder.create_presentation(
        {"address": {"locality": True}, "nationalities": [False, True]}, NONCE, AUD, JWK(**holder)
    )
    presentation = their_holder.sd_jwt_presentation
    options: dict[str, Any] = {
        "trust": cred.StaticIssuer(_public(issuer)), "aud": AUD, "nonce": NONCE,
        "now": int(their_holder.key_binding_jwt_payload["iat"]), "status": cred.UnsafeSkipStatus(),
    }  # fmt: skip
    # The reference issues plain SD-JWTs (typ example+sd-jwt), not SD-JWT VCs: an SD-JWT VC
    # verifier refuses them unless told otherwise, explicitly.
    with pytest.raises(VerificationError) as err:
        cred.verify_presentation(presentation, **options)
    assert err.value.code == "invalid_credential"
    ours = cred.verify_presentation(
        presentation, plain_sd_jwt=cred.UnsafeAcceptPlainSdJwt(), **options
    )
    assert ours.claims == {
        "address": {"locality": "London", "country": "GB"},
        "nationalities": ["FR"],
    }
    assert ours.typ == "example+sd-jwt"


def test_theirs_issued_we_present_they_verify() -> None:
    """Our holder presents a reference issuance; the reference verifier accepts it."""
    issuer, holder = generate_private_jwk("ES256"), generate_private_jwk("ES256")
    issuance = _their_issuance(issuer, holder, "ES256")
    held = cred.inspect(issuance)
    assert held.claims["nationalities"] == ["GB", "FR"]
    presentation = cred.present_credential(
        issuance, disclose=["nationalities.0"], holder=PrivateKey.from_jwk(holder),
        aud=AUD, nonce=NONCE, now=NOW,
    )  # fmt: skip
    assert _their_verify(presentation, issuer)["nationalities"] == ["GB"]


def _with_unreferenced_disclosure(issuer: dict[str, str], holder: dict[str, str]) -> str:
    sd = cred.issue_credential(
        PrivateKey.from_jwk(issuer), iss=ISS, vct="urn:eudi:pid:1", claims=CLAIMS,
        holder=PrivateKey.from_jwk(holder).public_key, iat=NOW,
    )  # fmt: skip
    parsed = sdjwt.parse_sd_jwt(sd)
    stray = sdjwt.make_disclosure("c3RyYXlzdHJheXN0cmF5", "age_over_18", False)
    presented = parsed.issuer_jwt + "~" + parsed.disclosures[0] + "~" + stray.encoded + "~"
    # The holder signs over it, so sd_hash is right: only the digest check can catch it.
    kb = sdjwt.create_key_binding(
        PrivateKey.from_jwk(holder), presented, aud=AUD, nonce=NONCE, iat=NOW
    )
    return presented + kb


def test_reference_accepts_an_unreferenced_disclosure_and_we_refuse_it() -> None:
    """RFC 9901 §7.1 step 5: a Disclosure no digest references rejects the SD-JWT."""
    issuer, holder = generate_private_jwk("ES256"), generate_private_jwk("ES256")
    presentation = _with_unreferenced_disclosure(issuer, holder)
    theirs = _their_verify(presentation, issuer)  # the reference raises nothing
    assert "age_over_18" not in theirs
    with pytest.raises(VerificationError) as err:
        _our_verify(presentation, issuer)
    assert err.value.code == "unreferenced_disclosure"


def test_reference_verifier_checks_kb_jwts_as_es256_only() -> None:
    """The reference verifier cannot check an EdDSA KB-JWT (it asks jwcrypto for ES256)."""
    issuer, holder = generate_private_jwk("ES256"), generate_private_jwk("EdDSA")
    sd = cred.issue_credential(
        PrivateKey.from_jwk(issuer), iss=ISS, vct="urn:eudi:pid:1", claims=CLAIMS,
        holder=PrivateKey.from_jwk(holder).public_key, iat=NOW,
    )  # fmt: skip
    presentation = cred.present_credential(
        sd,
        disclose=["age_over_18"],
        holder=PrivateKey.from_jwk(holder),
        aud=AUD,
        nonce=NONCE,
        now=NOW,
    )
    assert _our_verify(presentation, issuer)["age_over_18"] is True
    with pytest.raises(Exception, match="alg"):
        _their_verify(presentation, issuer)
