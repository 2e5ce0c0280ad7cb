"""Properties: any claims round-trip through conceal/process and issue/present/verify, and any
tampered byte of a presentation is rejected."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicstack import credentials as cred
from civicstack import sdjwt
from civicstack._crypto import PrivateKey
from civicstack.errors import VerificationError

NOW = 1_767_225_600
ISSUER = PrivateKey.generate("ES256")
HOLDER = PrivateKey.generate("EdDSA")
TRUST = cred.StaticIssuer(ISSUER.public_key)

names = st.text(
    st.characters(codec="utf-8", exclude_characters="."), min_size=1, max_size=8
).filter(lambda n: n not in ("_sd", "...", "_sd_alg") and n not in cred.REGISTERED)
scalars = st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=12)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4),
    max_leaves=12,
)
claim_sets = st.dictionaries(names, values, min_size=1, max_size=8)


def _paths(value: Any, prefix: sdjwt.Path = ()) -> list[sdjwt.Path]:
    found: list[sdjwt.Path] = []
    if isinstance(value, dict):
        for key, inner in value.items():
            found.append((*prefix, key))
            found += _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            found.append((*prefix, i))
            found += _paths(inner, (*prefix, i))
    return found


@settings(max_examples=150, deadline=None)
@given(claims=claim_sets, data=st.data())
def test_conceal_then_process_gives_back_the_claims(claims: dict[str, Any], data: Any) -> None:
    """Whatever is concealed (nested, arrays, decoys), all Disclosures restore the claims."""
    candidates = _paths(claims)
    chosen = data.draw(st.lists(st.sampled_from(candidates), unique=True)) if candidates else []
    decoys = data.draw(st.integers(0, 4))
    concealed = sdjwt.conceal(claims, chosen, decoys=decoys)
    assert len(concealed.disclosures) == len(chosen)
    processed = sdjwt.process(concealed.payload, [d.encoded for d in concealed.disclosures])
    assert processed.claims == claims


def _top(claims: dict[str, Any], disclose: set[str], disclosable: set[str]) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if k in disclose or k not in disclosable}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(claims=claim_sets, data=st.data())
def test_issue_present_verify_round_trip(claims: dict[str, Any], data: Any) -> None:
    """The verifier sees the plain claims and exactly the disclosed ones, nothing else."""
    disclosable = set(data.draw(st.lists(st.sampled_from(sorted(claims)), unique=True)))
    disclose = set(data.draw(st.lists(st.sampled_from(sorted(claims)), unique=True)))
    sd = cred.issue_credential(
        ISSUER, iss="https://i", vct="urn:t", claims=claims, holder=HOLDER.public_key,
        disclosable=sorted(disclosable), iat=NOW,
    )  # fmt: skip
    presentation = cred.present_credential(
        sd, disclose=sorted(disclose), holder=HOLDER, aud="v", nonce="n", now=NOW
    )
    result = cred.verify_presentation(
        presentation, trust=TRUST, aud="v", nonce="n", now=NOW, status=cred.UnsafeSkipStatus()
    )
    assert result.claims == _top(claims, disclose, disclosable)
    assert {p.split(".")[0] for p in result.disclosed} == disclose & disclosable


def _presentation() -> str:
    claims = {"given_name": "Ada", "address": {"locality": "London"}, "nationalities": ["GB", "FR"]}
    sd = cred.issue_credential(
        ISSUER, iss="https://i", vct="urn:t", claims=claims, holder=HOLDER.public_key,
        disclosable=["given_name", "address", "address.locality", "nationalities.1"], iat=NOW,
    )  # fmt: skip
    return cred.present_credential(
        sd, disclose=["address.locality", "nationalities.1"], holder=HOLDER, aud="v", nonce="n",
        now=NOW,
    )  # fmt: skip


PRESENTATION = _presentation()


@settings(max_examples=400, deadline=None)
@given(
    position=st.integers(0, len(PRESENTATION) - 1),
    replacement=st.characters(codec="utf-8"),
)
def test_any_tampered_character_is_rejected(position: int, replacement: str) -> None:
    """Changing any one character anywhere in a presentation makes verification fail."""
    if PRESENTATION[position] == replacement:
        replacement = "A" if replacement != "A" else "B"
    tampered = PRESENTATION[:position] + replacement + PRESENTATION[position + 1 :]
    # Always a VerificationError (issue 9 item 9), also when the damage makes it unreadable.
    with pytest.raises(VerificationError):
        cred.verify_presentation(
            tampered, trust=TRUST, aud="v", nonce="n", now=NOW, status=cred.UnsafeSkipStatus()
        )


def test_the_untampered_presentation_verifies() -> None:
    """The tampering property starts from a presentation that does verify."""
    result = cred.verify_presentation(
        PRESENTATION, trust=TRUST, aud="v", nonce="n", now=NOW, status=cred.UnsafeSkipStatus()
    )
    assert result.claims == {"address": {"locality": "London"}, "nationalities": ["GB", "FR"]}
