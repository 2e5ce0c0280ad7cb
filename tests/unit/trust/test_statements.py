"""Statements as hostile input: envelopes, fields, signers; and the published registry."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicstack._crypto import PrivateKey, b64url_decode, b64url_encode, json_dumps, sign_jwt
from civicstack.credential_types import PID_VCT as PID
from civicstack.credential_types import RIGHT_TO_WORK_VCT as RTW
from civicstack.errors import CivicError
from civicstack.testing import DAY, ROOT_ID, ROOT_KEY, T0, YEAR, World, forge
from civicstack.trust import (
    TYP_ACCREDITATION,
    TYP_REGISTRATION,
    Authority,
    KeySet,
    RootAuthority,
    TrustRegistry,
    claim_covered,
    sign_revocation,
    sign_suspension,
)

NOW = T0 + DAY


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


def _outcome(fn: Callable[[], object]) -> tuple[object, str | None]:
    """The result of ``fn``, or the code it failed with."""
    try:
        return fn(), None
    except CivicError as exc:
        return None, exc.code


def _payload(**changes: Any) -> dict[str, Any]:
    key = PrivateKey.generate("EdDSA")
    payload: dict[str, Any] = {
        "iss": ROOT_ID,
        "sub": "https://passport.example",
        "jti": "acc-1",
        "iat": T0,
        "nbf": T0,
        "exp": T0 + YEAR,
        "name": "Passport Office",
        "jwks": {"keys": [key.public_key.to_jwk()]},
        "scope": {PID: ["given_name"]},
        "may_accredit": False,
        "may_register": False,
    }
    payload.update(changes)
    return {k: v for k, v in payload.items() if v is not None}


def test_well_formed_forged_payload_is_accepted(world: World) -> None:
    """The baseline payload of the hostile cases below is accepted (so each case tests one flaw)."""
    acc = world.registry.add_accreditation(forge(ROOT_KEY, TYP_ACCREDITATION, _payload()))
    assert acc.authority == "https://passport.example"
    assert world.registry.issuer_key(acc.authority, None, NOW) == acc.keys.keys[0]


@pytest.mark.parametrize(
    "changes",
    [
        {"jti": None},
        {"jti": ""},
        {"iat": "2026-01-01"},
        {"nbf": True},
        {"exp": T0},
        {"exp": -1},
        {"exp": 1 << 60},
        {"sub": "passport-office"},
        {"sub": "ftp://passport.example"},
        {"sub": "https://passport.example/#frag"},
        {"sub": "https://pass port.example"},
        {"sub": ROOT_ID},
        {"name": ""},
        {"name": "x" * 300},
        {"scope": [PID]},
        {"scope": {PID: "given_name"}},
        {"scope": {PID: ["a..b"]}},
        {"scope": {PID: [".a"]}},
        {"scope": {PID: [7]}},
        {"scope": {f"urn:vct:{i}": [] for i in range(100)}},
        {"may_accredit": "yes"},
        {"jwks": {"keys": []}},
        {"jwks": {"keys": [{"kty": "RSA", "n": "AQAB", "e": "AQAB"}]}},
        {"jwks": {"keys": [PrivateKey.generate("EdDSA").public_key.to_jwk()] * 2}},
        {"jwks": [PrivateKey.generate("EdDSA").public_key.to_jwk()]},
    ],
)
def test_hostile_accreditation_fields(world: World, changes: dict[str, Any]) -> None:
    """Each malformed member is refused with an input error; nothing is recorded."""
    token = forge(ROOT_KEY, TYP_ACCREDITATION, _payload(**changes))
    with pytest.raises(CivicError) as err:
        world.registry.add_accreditation(token)
    assert err.value.code in ("malformed", "invalid_key", "invalid_request")
    assert world.registry.statements() == ()


def test_private_keys_in_a_published_key_set_are_refused(world: World) -> None:
    """A JWKS carrying a private member (d) is refused: keys are published, never secrets."""
    key = PrivateKey.generate("EdDSA")
    jwk = {**key.public_key.to_jwk(), "d": b64url_encode(b"\x01" * 32)}
    token = forge(ROOT_KEY, TYP_ACCREDITATION, _payload(jwks={"keys": [jwk]}))
    assert _code(lambda: world.registry.add_accreditation(token)) == "invalid_key"


def test_self_accreditation_is_refused(world: World) -> None:
    """An authority naming itself as its own subject is malformed."""
    issuer = world.accredit()
    token = forge(issuer.key, TYP_ACCREDITATION, _payload(iss=issuer.id, sub=issuer.id))
    assert _code(lambda: world.registry.add_accreditation(token)) == "malformed"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        ({"typ": "JWT"}, "malformed"),
        ({"typ": "accreditation+jwt"}, "malformed"),  # no kid
        ({"typ": "dc+sd-jwt", "kid": "k"}, "malformed"),
    ],
)
def test_envelope_checks(world: World, header: dict[str, str], code: str) -> None:
    """A statement must carry an explicit trust typ and a kid."""
    token = sign_jwt(ROOT_KEY, _payload(), header)
    assert _code(lambda: world.registry.add(token)) == code


def test_wrong_typ_for_the_method(world: World) -> None:
    """add_accreditation refuses a registration and vice versa, before verifying anything."""
    token = forge(ROOT_KEY, TYP_ACCREDITATION, _payload())
    assert _code(lambda: world.registry.register_relying_party(token)) == "malformed"
    assert _code(lambda: world.registry.revoke(token)) == "malformed"


@pytest.mark.parametrize(
    "token",
    [
        "",
        "a.b",
        "e30.e30.",
        "x" * 70_000,
        b64url_encode(json_dumps({"alg": "none", "typ": TYP_ACCREDITATION, "kid": "k"}))
        + "."
        + b64url_encode(json_dumps({"iss": ROOT_ID}))
        + ".",
        12345,
    ],
    ids=["empty", "two-parts", "no-alg", "too-large", "alg-none", "not-a-string"],
)
def test_hostile_envelopes(world: World, token: Any) -> None:
    """Garbage, oversized and alg=none tokens are refused with a stable code."""
    assert _code(lambda: world.registry.add(token)) in (
        "malformed",
        "too_large",
        "unsupported_algorithm",
    )


def test_statement_signed_by_the_wrong_key(world: World) -> None:
    """A statement claiming the root's kid but signed by another key is invalid_signature."""
    impostor = PrivateKey.generate("ES256")
    token = forge(impostor, TYP_ACCREDITATION, _payload(), kid=ROOT_KEY.public_key.thumbprint())
    assert _code(lambda: world.registry.add(token)) == "invalid_signature"


def test_statement_naming_an_unknown_key(world: World) -> None:
    """A statement whose kid names no key of its issuer is invalid_signature."""
    token = forge(PrivateKey.generate("ES256"), TYP_ACCREDITATION, _payload())
    assert _code(lambda: world.registry.add(token)) == "invalid_signature"


def test_statement_from_an_unknown_issuer(world: World) -> None:
    """A statement by an issuer neither root nor accredited is untrusted_issuer."""
    stranger = PrivateKey.generate("EdDSA")
    token = forge(stranger, TYP_ACCREDITATION, _payload(iss="https://stranger.example"))
    assert _code(lambda: world.registry.add(token)) == "untrusted_issuer"


def test_tampered_payload_fails_the_signature(world: World) -> None:
    """Changing the payload of a signed accreditation breaks its signature."""
    token = forge(ROOT_KEY, TYP_ACCREDITATION, _payload())
    h, p, s = token.split(".")
    payload = b64url_decode(p).replace(b'"given_name"', b'"birthdate"')
    tampered = f"{h}.{b64url_encode(payload)}.{s}"
    assert _code(lambda: world.registry.add(tampered)) == "invalid_signature"


def test_duplicate_jti_and_idempotent_add(world: World) -> None:
    """The same token twice is a no-op; another statement reusing a jti is a conflict."""
    token = forge(ROOT_KEY, TYP_ACCREDITATION, _payload())
    first = world.registry.add(token)
    assert world.registry.add(token) is first
    other = forge(ROOT_KEY, TYP_ACCREDITATION, _payload(sub="https://other.example"))
    assert _code(lambda: world.registry.add(other)) == "conflict"
    assert len(world.registry.statements()) == 1


def test_registration_field_checks(world: World) -> None:
    """A registration with duplicate or missing purposes, or a spaced id, is malformed."""
    key = PrivateKey.generate("EdDSA")
    base = {
        "iss": ROOT_ID,
        "sub": "https://rp.example",
        "jti": "r1",
        "iat": T0,
        "nbf": T0,
        "exp": T0 + YEAR,
        "name": "RP",
        "jwks": {"keys": [key.public_key.to_jwk()]},
    }
    purpose = {"id": "p", "description": "d", "claims": {PID: ["given_name"]}}
    for bad in (
        {"purposes": []},
        {"purposes": [purpose, purpose]},
        {"purposes": [{**purpose, "description": ""}]},
        {"purposes": [{**purpose, "id": "has space"}]},
        {"purposes": [purpose], "sub": "has space"},
    ):
        token = forge(ROOT_KEY, TYP_REGISTRATION, {**base, **bad})
        assert _code(lambda t=token: world.registry.register_relying_party(t)) == "malformed"


def test_root_authority_config_round_trip() -> None:
    """A root's configuration survives to_json/from_json with the same keys."""
    root = RootAuthority.create(ROOT_ID, "Government", [ROOT_KEY.public_key])
    again = RootAuthority.from_json(root.to_json())
    assert again == root
    assert _code(lambda: RootAuthority.from_json({"id": ROOT_ID, "name": "x"})) == "invalid_key"
    assert _code(lambda: RootAuthority.create("not a url", "x", [ROOT_KEY.public_key])) == (
        "malformed"
    )


def test_key_set_kids() -> None:
    """Keys are found by thumbprint or their own kid; clashing kids are refused."""
    k1, k2 = PrivateKey.generate("ES256").public_key, PrivateKey.generate("EdDSA").public_key
    ks = KeySet.from_jwks({"keys": [{**k1.to_jwk(), "kid": "one"}, k2.to_jwk()]})
    assert ks.find("one") == k1
    assert ks.find(k1.thumbprint()) == k1
    assert ks.find(k2.thumbprint()) == k2
    assert ks.find("two") is None
    clash = {"keys": [{**k1.to_jwk(), "kid": k2.thumbprint()}, k2.to_jwk()]}
    assert _code(lambda: KeySet.from_jwks(clash)) == "invalid_key"


def _populated() -> World:
    world = World()
    registrar = world.accredit(may_register=True)
    leaf = world.accredit(world.accredit())
    assert leaf.accreditation is not None
    world.register(registrar)
    world.registry.revoke(sign_revocation(world.gov, leaf.accreditation, now=NOW))
    world.registry.suspend_relying_party(
        sign_suspension(registrar, "https://employer.example", now=NOW)
    )
    return world


def test_export_round_trip() -> None:
    """A registry exported as JSON and reloaded re-verifies to the same statements and results."""
    world = _populated()
    data = world.registry.to_json()
    again = TrustRegistry.from_json(data, [world.root])
    assert again.statements() == world.registry.statements()
    assert again.to_json() == data
    for acc in world.registry.accreditations:
        for t in (NOW - 1, NOW):
            before = _outcome(lambda a=acc, t=t: world.registry.issuer_key(a.authority, None, t))
            after = _outcome(lambda a=acc, t=t: again.issuer_key(a.authority, None, t))
            assert before == after
    assert again.is_suspended("https://employer.example", NOW)


def test_tampered_export_is_refused() -> None:
    """One flipped signature byte in a published registry makes the whole load fail."""
    world = _populated()
    tokens = list(world.registry.statements())
    h, p, s = tokens[1].split(".")
    sig = bytearray(b64url_decode(s))
    sig[5] ^= 1
    tokens[1] = f"{h}.{p}.{b64url_encode(bytes(sig))}"
    assert _code(lambda: TrustRegistry.from_json(json_dumps(tokens), [world.root])) == (
        "invalid_signature"
    )


def test_export_under_another_root_is_untrusted() -> None:
    """A registry loaded against a different root refuses the first statement."""
    world = _populated()
    other = RootAuthority.create(ROOT_ID, "Other", [PrivateKey.generate("ES256").public_key])
    assert _code(lambda: TrustRegistry.from_json(world.registry.to_json(), [other])) == (
        "invalid_signature"
    )


@pytest.mark.parametrize("data", [b"{}", b"[1]", b"not json", b'["a"]'])
def test_hostile_exports(data: bytes) -> None:
    """A malformed export is refused with an input error."""
    root = RootAuthority.create(ROOT_ID, "Government", [ROOT_KEY.public_key])
    assert _code(lambda: TrustRegistry.from_json(data, [root])) == "malformed"


def test_registry_needs_a_root() -> None:
    """A registry without any root is refused."""
    assert _code(lambda: TrustRegistry([])) == "invalid_request"


# --- properties ------------------------------------------------------------------------------

_SEGMENTS = st.sampled_from(["name", "address", "locality", "0", "1"])
_PATHS = st.lists(_SEGMENTS, min_size=1, max_size=3).map(".".join)
_SCOPES = st.dictionaries(
    st.sampled_from([PID, RTW]), st.lists(_PATHS, max_size=4).map(frozenset), max_size=2
)


def _within(child: dict[str, frozenset[str]], parent: dict[str, frozenset[str]]) -> bool:
    """Reference semantics: each child path equals or lies beneath a parent path."""
    for vct, paths in child.items():
        if vct not in parent:
            return False
        for path in paths:
            parts = path.split(".")
            prefixes = {".".join(parts[: i + 1]) for i in range(len(parts))}
            if not prefixes & parent[vct]:
                return False
    return True


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(parent_scope=_SCOPES, child_scope=_SCOPES)
def test_sub_accreditation_scope_property(
    parent_scope: dict[str, frozenset[str]], child_scope: dict[str, frozenset[str]]
) -> None:
    """Signing succeeds exactly when the child's scope lies within the parent's, and a forged
    child resolves exactly then too."""
    world = World()
    parent = world.accredit(scope=parent_scope)
    expected = _within(child_scope, parent_scope)
    child, code = _outcome(lambda: world.accredit(parent, scope=child_scope, may_accredit=False))
    assert code == (None if expected else "out_of_scope")
    if isinstance(child, Authority):
        assert world.registry.issuer_key(child.id, None, NOW) == child.key.public_key
    assert parent.accreditation is not None
    forged = _payload(
        iss=parent.id,
        sub="https://forged.example",
        jti="forged",
        scope={vct: sorted(p) for vct, p in child_scope.items()},
    )
    world.registry.add(forge(parent.key, TYP_ACCREDITATION, forged))
    if expected:
        world.registry.issuer_key("https://forged.example", None, NOW)
    else:
        assert _code(lambda: world.registry.issuer_key("https://forged.example", None, NOW)) == (
            "out_of_scope"
        )


@given(st.frozensets(_PATHS, max_size=4), _PATHS)
def test_claim_covered_matches_prefix_semantics(allowed: frozenset[str], path: str) -> None:
    """claim_covered(allowed, p) holds exactly when p or one of its dotted prefixes is listed."""
    parts = path.split(".")
    prefixes = {".".join(parts[: i + 1]) for i in range(len(parts))}
    assert claim_covered(allowed, path) == bool(prefixes & allowed)
