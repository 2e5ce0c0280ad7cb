"""``sdjwt.Limits``: each cap, lowered below one valid presentation, refuses it with its code.

Every case verifies the same presentation through ``credentials.verify_presentation`` twice:
it passes under the defaults, and fails under the one lowered field with the code that field
documents (the code the check used when the caps were module constants).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from typing import Any

import pytest

from civicstack import credentials as cred
from civicstack import sdjwt
from civicstack._crypto import PrivateKey
from civicstack.errors import CivicError

NOW = 1_767_225_600
ISS = "https://passport.example.gov"
AUD, NONCE = "https://shop.example", "nonce-1"
ISSUER = PrivateKey.generate("ES256")
HOLDER = PrivateKey.generate("ES256")
TRUST = cred.StaticIssuer(ISSUER.public_key, iss=ISS)


def _presentation(*, iat: int = NOW - 100, kb_iat: int = NOW - 100) -> str:
    issued = cred.issue_credential(
        ISSUER,
        iss=ISS,
        vct="urn:eudi:pid:1",
        claims={"given_name": "Ada", "address": {"locality": "Leeds", "postcode": "LS1"}},
        holder=HOLDER.public_key,
        disclosable=["given_name", "address", "address.locality"],
        iat=iat,
    )
    return cred.present_credential(
        issued,
        disclose=["given_name", "address.locality"],
        holder=HOLDER,
        aud=AUD,
        nonce=NONCE,
        now=kb_iat,
    )


def _verify(presentation: str, **kw: Any) -> cred.VerifiedCredential:
    return cred.verify_presentation(
        presentation,
        trust=TRUST,
        aud=AUD,
        nonce=NONCE,
        now=NOW,
        status=cred.UnsafeSkipStatus(),
        **kw,
    )


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as info:
        fn()
    return info.value.code


def _parts(presentation: str) -> tuple[str, list[str], str]:
    first, *disclosures, kb = presentation.split("~")
    return first, disclosures, kb


# (field, the lowered value for this presentation, the code, the presentation's times)
_PLAIN = _presentation()
_ISSUER_JWT, _DISCLOSURES, _KB_JWT = _parts(_PLAIN)
CASES: list[tuple[str, int, str, dict[str, int]]] = [
    ("sd_jwt_bytes", len(_PLAIN) - 1, "too_large", {}),
    ("issuer_jwt_bytes", len(_ISSUER_JWT) - 1, "too_large", {}),
    ("disclosures", len(_DISCLOSURES) - 1, "too_large", {}),
    ("disclosure_bytes", max(map(len, _DISCLOSURES)) - 1, "too_large", {}),
    ("depth", 0, "too_large", {}),
    ("kb_jwt_bytes", len(_KB_JWT) - 1, "key_binding_failed", {}),
    ("kb_jwt_age", 99, "stale_key_binding", {}),
    ("clock_skew", 29, "stale_key_binding", {"kb_iat": NOW + 30}),
    ("clock_skew", 29, "not_yet_valid", {"iat": NOW + 30, "kb_iat": NOW}),
]


def test_every_field_has_a_case() -> None:
    """No cap of ``Limits`` goes untested below."""
    assert {f.name for f in fields(sdjwt.Limits)} == {case[0] for case in CASES}


# Ids by name and code: the sizes differ from one process (one random key) to the next.
@pytest.mark.parametrize(
    ("name", "value", "code", "times"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES]
)
def test_a_lowered_limit_refuses_with_its_code(
    name: str, value: int, code: str, times: dict[str, int]
) -> None:
    """Valid under the defaults; refused with the field's code once that field is lowered."""
    presentation = _presentation(**times) if times else _PLAIN
    assert _verify(presentation).claims["given_name"] == "Ada"
    lowered = replace(sdjwt.DEFAULT_LIMITS, **{name: value})
    assert _code(lambda: _verify(presentation, limits=lowered)) == code


def test_a_raised_limit_lets_more_through() -> None:
    """Limits work both ways: a KB-JWT older than the default 300 s passes a longer window."""
    old = _presentation(kb_iat=NOW - 400)
    assert _code(lambda: _verify(old)) == "stale_key_binding"
    assert _verify(old, limits=sdjwt.Limits(kb_jwt_age=600)).key_bound


def test_max_kb_age_still_takes_the_place_of_the_limit() -> None:
    """The keyword callers used before ``Limits`` keeps its meaning, over ``limits``."""
    assert _code(lambda: _verify(_PLAIN, max_kb_age=99)) == "stale_key_binding"
    roomy = sdjwt.Limits(kb_jwt_age=10)
    assert _verify(_PLAIN, limits=roomy, max_kb_age=300).key_bound


def test_the_front_doors_take_limits() -> None:
    """``credentials.verify`` and ``credentials.inspect`` read under the limits they are given."""
    lowered = sdjwt.Limits(sd_jwt_bytes=len(_PLAIN) - 1)
    jwk = ISSUER.public_key.to_jwk()
    assert cred.verify(_PLAIN, issuer_jwk=jwk, aud=AUD, nonce=NONCE, now=NOW)["given_name"]
    assert _code(
        lambda: cred.verify(_PLAIN, issuer_jwk=jwk, aud=AUD, nonce=NONCE, now=NOW, limits=lowered)
    ) == ("too_large")
    issued = _PLAIN[: len(_PLAIN) - len(_KB_JWT)]
    assert cred.inspect(issued).claims["given_name"] == "Ada"
    assert _code(lambda: cred.inspect(issued, limits=sdjwt.Limits(depth=0))) == "too_large"


def test_conceal_caps_the_issuers_claims_depth() -> None:
    """The issuer's claims obey ``depth`` too, before anything is concealed."""
    claims = {"a": {"b": {"c": 1}}}
    assert sdjwt.conceal(claims, [("a",)]).disclosures
    assert _code(lambda: sdjwt.conceal(claims, [("a",)], limits=sdjwt.Limits(depth=1))) == (
        "too_large"
    )
