"""Relying-party registration: purposes, over-asking, registrars, suspension."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from civicstack._crypto import PrivateKey
from civicstack.credential_types import PID_VCT as PID
from civicstack.credential_types import RIGHT_TO_WORK_VCT as RTW
from civicstack.errors import CivicError
from civicstack.testing import DAY, T0, YEAR, World, forge
from civicstack.trust import (
    TYP_REGISTRATION,
    Authority,
    Purpose,
    sign_registration,
    sign_revocation,
    sign_suspension,
)

NOW = T0 + DAY
RP = "https://employer.example"


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


def test_request_within_registration(world: World) -> None:
    """A request within a registered purpose returns the registration that allows it."""
    reg = world.register()
    got = world.registry.check_request(RP, "onboarding", {PID: ["given_name", "address"]}, NOW)
    assert got == reg
    assert got.purposes["onboarding"].description == "Set up your payroll record"


def test_paths_beneath_a_registered_claim_are_allowed(world: World) -> None:
    """Asking for address.locality is within a registration for address."""
    world.register()
    world.registry.check_request(RP, "onboarding", {PID: ["address.locality"]}, NOW)


def test_always_visible_claims_need_no_registration(world: World) -> None:
    """iss, vct, cnf, status... travel with every presentation, so asking for them is fine."""
    world.register()
    world.registry.check_request(RP, "right_to_work", {RTW: ["right_to_work", "iss", "vct"]}, NOW)


@pytest.mark.parametrize(
    ("purpose", "claims"),
    [
        ("onboarding", {PID: ["given_name", "birthdate"]}),
        ("onboarding", {PID: ["given_name"], RTW: ["right_to_work"]}),
        ("right_to_work", {PID: ["given_name"]}),
        ("marketing", {PID: ["given_name"]}),
        ("onboarding", {PID: ["addressbook"]}),
    ],
    ids=["extra-claim", "extra-vct", "claim-of-other-purpose", "unknown-purpose", "prefix-only"],
)
def test_overasking_is_refused(world: World, purpose: str, claims: dict[str, list[str]]) -> None:
    """Any claim, type or purpose beyond the registration gives overasking."""
    world.register()
    assert _code(lambda: world.registry.check_request(RP, purpose, claims, NOW)) == "overasking"


def test_wider_path_than_registered_is_overasking(world: World) -> None:
    """Registered for address.locality only, asking for the whole address is overasking."""
    world.register(
        purposes=[Purpose.create("delivery", "Deliver your parcel", {PID: ["address.locality"]})]
    )
    assert _code(lambda: world.registry.check_request(RP, "delivery", {PID: ["address"]}, NOW)) == (
        "overasking"
    )


def test_unregistered_relying_party(world: World) -> None:
    """A relying party with no registration is unregistered_relying_party."""
    assert _code(lambda: world.registry.check_request(RP, "onboarding", {}, NOW)) == (
        "unregistered_relying_party"
    )


def test_expired_registration(world: World) -> None:
    """A registration outside its validity no longer counts."""
    world.register(exp=T0 + DAY)
    assert _code(lambda: world.registry.relying_party(RP, T0 + DAY)) == (
        "unregistered_relying_party"
    )
    assert _code(lambda: world.registry.relying_party(RP, T0 - 1)) == ("unregistered_relying_party")


def test_accredited_registrar(world: World) -> None:
    """An authority accredited with may_register registers relying parties that resolve."""
    registrar = world.accredit(may_register=True)
    reg = world.register(registrar)
    assert reg.registrar == registrar.id
    world.registry.check_request(RP, "right_to_work", {RTW: ["right_to_work"]}, NOW)


def test_sub_registrar_down_a_chain(world: World) -> None:
    """The right to register passes down a chain of accreditations that all carry it."""
    # the middle links lack the right, so the leaf cannot be given it
    assert _code(lambda: world.chain(3, may_register=True)) == "out_of_scope"
    chain = [world.accredit(may_register=True)]
    chain.append(world.accredit(chain[0], may_register=True))
    world.register(chain[1])
    world.registry.relying_party(RP, NOW)


def test_registrar_without_the_right(world: World) -> None:
    """Without may_register, signing refuses and a forged registration never resolves."""
    authority = world.accredit(may_register=False)
    assert _code(lambda: world.register(authority)) == "out_of_scope"
    key = PrivateKey.generate("EdDSA")
    payload = {
        "iss": authority.id,
        "sub": RP,
        "jti": "forged-registration",
        "iat": T0,
        "nbf": T0,
        "exp": T0 + YEAR,
        "name": "Forged Ltd",
        "jwks": {"keys": [key.public_key.to_jwk()]},
        "purposes": [{"id": "p", "description": "d", "claims": {PID: ["given_name"]}}],
    }
    world.registry.register_relying_party(forge(authority.key, TYP_REGISTRATION, payload))
    assert _code(lambda: world.registry.relying_party(RP, NOW)) == "unregistered_relying_party"


def test_registration_outliving_the_registrar_is_refused(world: World) -> None:
    """A registration valid beyond its registrar's accreditation is refused when signing."""
    registrar = world.accredit(may_register=True, exp=T0 + DAY * 10)
    assert _code(lambda: world.register(registrar, exp=T0 + YEAR)) == "out_of_scope"


def test_registrar_revoked(world: World) -> None:
    """When a registrar's accreditation is revoked, its registrations stop counting."""
    registrar = world.accredit(may_register=True)
    world.register(registrar)
    assert registrar.accreditation is not None
    world.registry.revoke(sign_revocation(world.gov, registrar.accreditation, now=NOW))
    assert _code(lambda: world.registry.relying_party(RP, NOW)) == "unregistered_relying_party"
    assert world.registry.relying_party(RP, NOW - 1)


def test_suspension_applies_everywhere(world: World) -> None:
    """A suspended relying party is refused by check_request, relying_party and its keys."""
    key = PrivateKey.generate("ES256")
    world.register(key=key)
    world.registry.suspend_relying_party(sign_suspension(world.gov, RP, now=NOW, reason="abuse"))
    reg = world.registry
    assert reg.is_suspended(RP, NOW)
    assert not reg.is_suspended(RP, NOW - 1)
    assert _code(lambda: reg.check_request(RP, "onboarding", {PID: ["given_name"]}, NOW)) == (
        "relying_party_suspended"
    )
    assert _code(lambda: reg.relying_party(RP, NOW)) == "relying_party_suspended"
    assert _code(lambda: reg.relying_party_key(RP, None, NOW)) == "relying_party_suspended"
    assert reg.relying_party_key(RP, None, NOW - 1) == key.public_key


def test_reinstatement(world: World) -> None:
    """A registrar lifts its own suspension; the root lifts anyone's; a registrar not the root's."""
    registrar = world.accredit(may_register=True)
    world.register(registrar)
    reg = world.registry
    reg.suspend_relying_party(sign_suspension(registrar, RP, now=NOW))
    reg.reinstate_relying_party(sign_suspension(registrar, RP, now=NOW + 1, suspended=False))
    assert not reg.is_suspended(RP, NOW + 1)
    reg.suspend_relying_party(sign_suspension(world.gov, RP, now=NOW + 2))
    reg.reinstate_relying_party(sign_suspension(registrar, RP, now=NOW + 3, suspended=False))
    assert reg.is_suspended(RP, NOW + 3)
    reg.suspend_relying_party(sign_suspension(registrar, RP, now=NOW + 4))
    reg.reinstate_relying_party(sign_suspension(world.gov, RP, now=NOW + 5, suspended=False))
    assert not reg.is_suspended(RP, NOW + 5)
    assert reg.is_suspended(RP, NOW + 4)


def test_suspension_by_a_stranger_is_refused(world: World) -> None:
    """Only a root or a registrar of the relying party may suspend it."""
    world.register()
    stranger = world.accredit(may_register=True)
    token = sign_suspension(stranger, RP, now=NOW)
    assert _code(lambda: world.registry.suspend_relying_party(token)) == "forbidden"


def test_suspension_of_unknown_relying_party(world: World) -> None:
    """Suspending a relying party with no registration is unknown_statement."""
    token = sign_suspension(world.gov, "https://nobody.example", now=NOW)
    assert _code(lambda: world.registry.suspend_relying_party(token)) == "unknown_statement"


def test_suspend_and_reinstate_are_not_interchangeable(world: World) -> None:
    """suspend_relying_party refuses a reinstatement and vice versa (malformed)."""
    world.register()
    lift = sign_suspension(world.gov, RP, now=NOW, suspended=False)
    stop = sign_suspension(world.gov, RP, now=NOW)
    assert _code(lambda: world.registry.suspend_relying_party(lift)) == "malformed"
    assert _code(lambda: world.registry.reinstate_relying_party(stop)) == "malformed"


def test_relying_party_key_by_kid(world: World) -> None:
    """A relying party's request-signing keys are found by kid; an unknown kid is refused."""
    k1, k2 = PrivateKey.generate("ES256"), PrivateKey.generate("EdDSA")
    token = sign_registration(
        world.gov,
        relying_party=RP,
        name="Acme",
        keys=[k1.public_key, k2.public_key],
        purposes=[Purpose.create("p", "d", {PID: ["given_name"]})],
        now=T0,
        exp=T0 + YEAR,
    )
    world.registry.register_relying_party(token)
    reg = world.registry
    assert reg.relying_party_key(RP, k2.public_key.thumbprint(), NOW) == k2.public_key
    assert _code(lambda: reg.relying_party_key(RP, None, NOW)) == "unregistered_relying_party"
    assert _code(lambda: reg.relying_party_key(RP, "nope", NOW)) == "unregistered_relying_party"


def test_several_registrations_any_may_allow(world: World) -> None:
    """With registrations from two registrars, a request allowed by either passes."""
    world.register(purposes=[Purpose.create("a", "A", {PID: ["given_name"]})])
    registrar = world.accredit(may_register=True)
    world.register(registrar, purposes=[Purpose.create("b", "B", {RTW: ["right_to_work"]})])
    world.registry.check_request(RP, "a", {PID: ["given_name"]}, NOW)
    got = world.registry.check_request(RP, "b", {RTW: ["right_to_work"]}, NOW)
    assert got.registrar == registrar.id


@pytest.mark.parametrize(
    "claims",
    [
        {PID: "given_name"},
        {PID: [""]},
        {PID: ["a..b"]},
        {"": ["given_name"]},
        {PID: [f"c{i}" for i in range(300)]},
        ["given_name"],
    ],
    ids=["string", "empty-path", "empty-segment", "empty-vct", "too-many", "not-a-mapping"],
)
def test_hostile_request_shapes(world: World, claims: object) -> None:
    """Malformed requested claims are refused as input errors, before any decision."""
    world.register()
    with pytest.raises(CivicError) as err:
        world.registry.check_request(RP, "onboarding", claims, NOW)
    assert err.value.code in ("malformed", "too_large")


def test_root_authority_signer_shape() -> None:
    """An Authority whose key is not listed in its accreditation is refused up front."""
    world = World()
    issuer = world.accredit()
    with pytest.raises(CivicError) as err:
        Authority(issuer.id, PrivateKey.generate("EdDSA"), issuer.accreditation)
    assert err.value.code == "invalid_key"
