"""RFC 9901 mechanics: Disclosures, concealment, parsing caps, processing, selection, KB-JWT."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from civicstack import sdjwt
from civicstack._crypto import PrivateKey, b64url_decode, b64url_encode
from civicstack.errors import CivicError

HOLDER = PrivateKey.generate("EdDSA")


def _python_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _counter(seed: int = 0) -> Callable[[int], bytes]:
    """A deterministic stand-in for os.urandom."""
    return random.Random(seed).randbytes


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


def test_object_disclosure_matches_rfc_example() -> None:
    """§4.2.1's family_name example encodes and hashes to the RFC's strings."""
    d = sdjwt.make_disclosure(
        "_26bc4LT-ac6q2KI6cBW5es", "family_name", "Möbius", dumps=_python_json
    )
    assert d.encoded == "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0"
    assert d.digest == "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0"


def test_array_disclosure_matches_rfc_example() -> None:
    """§4.2.2's nationalities example encodes to the RFC's string."""
    d = sdjwt.make_disclosure("lklxF5jMYlGTPUovMNIvCA", None, "FR", dumps=_python_json)
    assert d.encoded == "WyJsa2x4RjVqTVlsR1RQVW92TU5JdkNBIiwgIkZSIl0"


def test_equivalent_encodings_decode_alike() -> None:
    """§4.2.1: whitespace and escape variants of a Disclosure carry the same claim."""
    for encoded in (
        "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNXHUwMGY2Yml1cyJd",
        "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsImZhbWlseV9uYW1lIiwiTcO2Yml1cyJd",
        "WwoiXzI2YmM0TFQtYWM2cTJLSTZjQlc1ZXMiLAoiZmFtaWx5X25hbWUiLAoiTcO2Yml1cyIKXQ",
    ):
        d = sdjwt.decode_disclosure(encoded)
        assert (d.salt, d.name, d.value) == ("_26bc4LT-ac6q2KI6cBW5es", "family_name", "Möbius")


def test_salts_are_128_bits_from_the_injected_rng() -> None:
    """The salts are consecutive 16-byte slices of one draw from ``rng``, in creation order."""
    drawn: list[bytes] = []

    def rng(n: int) -> bytes:
        drawn.append(bytes(range(n)))
        return drawn[-1]

    concealed = sdjwt.conceal({"a": 1, "b": [1, 2]}, [("a",), ("b", 1)], rng=rng)
    assert len(drawn) == 1
    salts = [b64url_decode(d.salt) for d in concealed.disclosures]
    assert salts == [drawn[0][:16], drawn[0][16:]]


def test_conceal_flat_nested_and_arrays() -> None:
    """Object members go to a sorted _sd, array elements become {'...': digest}."""
    claims = {"a": 1, "address": {"street": "x", "city": "y"}, "list": ["p", "q"]}
    paths = [("a",), ("address",), ("address", "city"), ("list", 1)]
    concealed = sdjwt.conceal(claims, paths, rng=_counter())
    payload = concealed.payload
    assert set(payload) == {"_sd", "list"}
    assert payload["_sd"] == sorted(payload["_sd"])
    assert len(payload["_sd"]) == 2
    assert payload["list"][0] == "p"
    assert set(payload["list"][1]) == {"..."}
    address = next(d for d in concealed.disclosures if d.name == "address")
    assert address.value["street"] == "x"
    assert len(address.value["_sd"]) == 1
    # The inner disclosure is created before the one that embeds its digest.
    names = [d.name for d in concealed.disclosures]
    assert names.index("city") < names.index("address")
    processed = sdjwt.process(payload, [d.encoded for d in concealed.disclosures])
    assert processed.claims == claims


@pytest.mark.parametrize("decoys", [1, 3, 7])
def test_decoys_pad_every_sd_array(decoys: int) -> None:
    """Each _sd array gets 1..decoys extra digests that no Disclosure matches."""
    for seed in range(20):
        rng = _counter(seed)
        concealed = sdjwt.conceal(
            {"a": 1, "o": {"b": 2}}, [("a",), ("o", "b")], rng=rng, decoys=decoys
        )
        for digests in (concealed.payload["_sd"], concealed.payload["o"]["_sd"]):
            assert 2 <= len(digests) <= 1 + decoys
            assert digests == sorted(digests)
        processed = sdjwt.process(concealed.payload, [d.encoded for d in concealed.disclosures])
        assert processed.claims == {"a": 1, "o": {"b": 2}}


def test_no_sd_key_without_disclosable_members() -> None:
    """An object with nothing concealed gets no _sd (and no decoys), as SD-JWT VC §3.2.2.4 asks."""
    concealed = sdjwt.conceal({"a": 1, "o": {"b": 2}}, [("o", "b")], decoys=3)
    assert "_sd" not in concealed.payload
    assert "_sd" in concealed.payload["o"]


@pytest.mark.parametrize(
    ("claims", "paths", "code"),
    [
        ({"_sd": [1]}, [], "reserved_claim"),
        ({"a": {"...": "x"}}, [], "reserved_claim"),
        ({"a": [{"_sd_alg": 1}]}, [], "reserved_claim"),
        ({"a": 1}, [("b",)], "undisclosable_claim"),
        ({"a": [1]}, [("a", 1)], "undisclosable_claim"),
        ({"a": [1]}, [("a", True)], "undisclosable_claim"),
        ({"a": 1}, [()], "undisclosable_claim"),
        ({"a": 1}, [("a", "b")], "undisclosable_claim"),
        ({"a": {1, 2}}, [], "invalid_request"),
        ({"a": [float("nan")]}, [], "invalid_request"),
        ({"a": 2**64}, [], "invalid_request"),
        ({1: "x"}, [], "invalid_request"),
    ],
)
def test_conceal_refuses(claims: dict[str, Any], paths: list[sdjwt.Path], code: str) -> None:
    """Reserved names, non-JSON values and paths that name no claim are refused with a code."""
    assert _code(lambda: sdjwt.conceal(claims, paths)) == code


def test_paths_parse_against_the_claims() -> None:
    """Dotted text indexes arrays where the claims have arrays; bad paths are refused."""
    claims = {"a": {"b": [10, {"c": 1}]}, "1": "x"}
    assert sdjwt.parse_path("a.b.1.c", claims) == ("a", "b", 1, "c")
    assert sdjwt.parse_path("1", claims) == ("1",)
    for bad in ("", "a.b.2", "a.b.01", "a.x", "a.b.-1", "a..b"):
        assert _code(lambda bad=bad: sdjwt.parse_path(bad, claims)) == "undisclosable_claim"
    assert sdjwt.format_path(("a", "b", 1)) == "a.b.1"


def _jwt() -> str:
    return b64url_encode(b'{"alg":"EdDSA"}') + "." + b64url_encode(b"{}") + "." + "AA"


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("x" * (sdjwt.DEFAULT_LIMITS.sd_jwt_bytes + 1), "too_large"),
        (_jwt(), "malformed"),
        (_jwt() + "~~", "malformed"),
        (_jwt() + "~" + "~" * 0 + "WyJhIiwxXQ~~", "malformed"),
        (_jwt() + "~" + "WyJhIiwxXQ~" * (sdjwt.DEFAULT_LIMITS.disclosures + 1), "too_large"),
        (_jwt() + "~" + "A" * 20000 + "~", "too_large"),
        ("a.b~", "malformed"),
        ("{not json", "malformed"),
        ('{"payload": 1}', "malformed"),
    ],
)
def test_parse_caps_and_structure(text: str, code: str) -> None:
    """The whole input, the count and length of Disclosures and the layout are checked first."""
    assert _code(lambda: sdjwt.parse_sd_jwt(text)) == code


def test_parse_splits_compact_forms() -> None:
    """SD-JWT (final ~) and SD-JWT+KB are told apart by the last component."""
    bare = sdjwt.parse_sd_jwt(_jwt() + "~WyJhIiwxXQ~")
    assert bare.disclosures == ("WyJhIiwxXQ",)
    assert bare.kb_jwt is None
    assert bare.sd_jwt == _jwt() + "~WyJhIiwxXQ~" == bare.serialize()
    with_kb = sdjwt.parse_sd_jwt(_jwt() + "~" + _jwt())
    assert with_kb.disclosures == ()
    assert with_kb.kb_jwt == _jwt()


@given(st.lists(st.sampled_from(["", "WyJhIiwxXQ", "WyJiIiwyXQ", _jwt()]), max_size=5))
def test_compact_parse_agrees_with_splitting_on_every_tilde(tail: list[str]) -> None:
    """Finding the first and last '~' reads every compact form as splitting on all of them
    would: the same Disclosures, KB-JWT and sd_hash input, or the same refusal."""
    text = _jwt() + "~" + "~".join(tail)
    parts = text.split("~")
    if not all(parts[1:-1]):
        assert _code(lambda: sdjwt.parse_sd_jwt(text)) == "malformed"
        return
    parsed = sdjwt.parse_sd_jwt(text)
    assert parsed.issuer_jwt == parts[0]
    assert parsed.disclosures == tuple(parts[1:-1])
    assert parsed.kb_jwt == (parts[-1] or None)
    assert parsed.sd_jwt == text[: len(text) - len(parts[-1])]


def _structure() -> tuple[dict[str, Any], list[str]]:
    claims = {"address": {"city": "y", "zip": "1"}, "n": ["a", "b"], "x": 1}
    paths = [("address",), ("address", "city"), ("address", "zip"), ("n",), ("n", 1), ("x",)]
    concealed = sdjwt.conceal(claims, paths, rng=_counter())
    return concealed.payload, [d.encoded for d in concealed.disclosures]


def test_selection_brings_ancestors_and_descendants() -> None:
    """Disclosing a nested claim brings its parents; disclosing a parent brings its children."""
    payload, disclosures = _structure()
    processed = sdjwt.process(payload, disclosures)
    just_city = sdjwt.select_disclosures(processed, [("address", "city")])
    assert sdjwt.process(payload, just_city).claims == {"address": {"city": "y"}}
    whole = sdjwt.select_disclosures(processed, [("address",)])
    assert sdjwt.process(payload, whole).claims == {"address": {"city": "y", "zip": "1"}}
    bare = sdjwt.select_disclosures(processed, [("address",)], descendants=False)
    assert sdjwt.process(payload, bare).claims == {"address": {}}
    second = sdjwt.select_disclosures(processed, [("n", 1)])
    assert sdjwt.process(payload, second).claims == {"n": ["a", "b"]}
    first_only = sdjwt.select_disclosures(processed, [("n",)], descendants=False)
    assert sdjwt.process(payload, first_only).claims == {"n": ["a"]}
    assert _code(lambda: sdjwt.select_disclosures(processed, [("nope",)])) == "undisclosable_claim"


def test_processing_removes_sd_alg_and_withheld_elements() -> None:
    """§7.1 3.4-3.6: withheld array elements vanish, _sd and _sd_alg are removed."""
    payload, _ = _structure()
    processed = sdjwt.process({**payload, "_sd_alg": "sha-256"}, [])
    assert processed.claims == {}


def test_sd_hash_and_key_binding_round_trip() -> None:
    """A KB-JWT made over a presentation verifies against the same presentation only."""
    sd = _jwt() + "~WyJhIiwxXQ~"
    kb = sdjwt.create_key_binding(HOLDER, sd, aud="v", nonce="n", iat=1000)
    claims = sdjwt.verify_key_binding(
        kb, HOLDER.public_key, sd_jwt=sd, aud="v", nonce="n", now=1001
    )
    assert claims["sd_hash"] == sdjwt.sd_hash(sd)
    other = _jwt() + "~"
    kw: dict[str, Any] = {"aud": "v", "nonce": "n", "now": 1001}
    assert _code(lambda: sdjwt.verify_key_binding(kb, HOLDER.public_key, sd_jwt=other, **kw)) == (
        "key_binding_failed"
    )


def test_cnf_key_is_read_and_checked() -> None:
    """The holder key is read from cnf.jwk; a broken cnf is key_binding_failed."""
    payload = {"cnf": {"jwk": HOLDER.public_key.to_jwk()}}
    assert sdjwt.cnf_key(payload) == HOLDER.public_key
    assert sdjwt.cnf_key({}) is None
    for bad in ({"cnf": "x"}, {"cnf": {"jwk": {"kty": "RSA"}}}, {"cnf": {"kid": "1"}}):
        assert _code(lambda bad=bad: sdjwt.cnf_key(bad)) == "key_binding_failed"
