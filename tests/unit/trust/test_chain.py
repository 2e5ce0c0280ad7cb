"""Resolving accreditation chains to the root: keys, scope, revocation, expiry, forgeries."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from civicstack._crypto import PrivateKey
from civicstack.credential_types import PID_VCT as PID
from civicstack.credential_types import RIGHT_TO_WORK_VCT as RTW
from civicstack.errors import CivicError
from civicstack.testing import DAY, ROOT_ID, T0, YEAR, World, accreditation_payload, forge
from civicstack.trust import (
    TYP_ACCREDITATION,
    Authority,
    Limits,
    TrustRegistry,
    sign_accreditation,
    sign_revocation,
)
from civicstack.types import IssuerTrust

NOW = T0 + DAY


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


def test_registry_is_an_issuer_trust(world: World) -> None:
    """TrustRegistry satisfies the IssuerTrust seam the credential verifier calls."""
    trust: IssuerTrust = world.registry
    issuer = world.accredit()
    assert trust.issuer_key(issuer.id, None, NOW) == issuer.key.public_key


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_chain_resolves_to_root(world: World, depth: int) -> None:
    """An issuer accredited through 1 to 3 links yields its key and its scope."""
    leaf = world.chain(depth)[-1]
    key = world.registry.issuer_key(leaf.id, leaf.key.public_key.thumbprint(), NOW)
    assert key == leaf.key.public_key
    world.registry.check_scope(leaf.id, PID, {"given_name", "age_over_18"}, NOW)
    assert len(world.registry.valid_accreditations(leaf.id, NOW)) == 1


def test_root_keys_are_trusted_directly(world: World) -> None:
    """The root's own key resolves, and the root may attest anything."""
    assert world.registry.issuer_key(ROOT_ID, None, NOW) == world.gov.key.public_key
    world.registry.check_scope(ROOT_ID, "urn:anything", {"whatever"}, NOW)


def test_unknown_issuer_is_untrusted(world: World) -> None:
    """An issuer with no accreditation on record is untrusted_issuer."""
    assert _code(lambda: world.registry.issuer_key("https://x.example", None, NOW)) == (
        "untrusted_issuer"
    )
    assert _code(lambda: world.registry.check_scope("https://x.example", PID, set(), NOW)) == (
        "untrusted_issuer"
    )


def test_unknown_kid_is_untrusted(world: World) -> None:
    """A kid the issuer's valid accreditations do not list is untrusted_issuer."""
    issuer = world.accredit()
    other = PrivateKey.generate("EdDSA").public_key.thumbprint()
    assert _code(lambda: world.registry.issuer_key(issuer.id, other, NOW)) == "untrusted_issuer"


def test_several_keys_need_a_kid(world: World) -> None:
    """An issuer holding two keys must be asked for one by kid; each then resolves."""
    k1, k2 = PrivateKey.generate("ES256"), PrivateKey.generate("EdDSA")
    token = sign_accreditation(
        world.gov,
        authority="https://two-keys.example",
        name="Two keys",
        keys=[k1.public_key, k2.public_key],
        scope={PID: ["given_name"]},
        now=T0,
        exp=T0 + YEAR,
    )
    world.registry.add_accreditation(token)
    reg = world.registry
    assert _code(lambda: reg.issuer_key("https://two-keys.example", None, NOW)) == (
        "untrusted_issuer"
    )
    for key in (k1, k2):
        thumb = key.public_key.thumbprint()
        assert reg.issuer_key("https://two-keys.example", thumb, NOW) == key.public_key


def test_scope_checks(world: World) -> None:
    """Scope covers listed claims and paths beneath them, never other types or claims."""
    issuer = world.accredit(scope={PID: ["given_name", "address"]})
    reg = world.registry
    reg.check_scope(issuer.id, PID, {"given_name", "address.locality", "address"}, NOW)
    # structural SD-JWT VC claims need no cover
    reg.check_scope(issuer.id, PID, {"iss", "vct", "cnf", "status", "iat", "exp", "sub"}, NOW)
    assert _code(lambda: reg.check_scope(issuer.id, RTW, set(), NOW)) == "out_of_scope"
    assert _code(lambda: reg.check_scope(issuer.id, PID, {"birthdate"}, NOW)) == "out_of_scope"
    assert _code(lambda: reg.check_scope(issuer.id, PID, {"addressee"}, NOW)) == "out_of_scope"
    assert _code(lambda: reg.check_scope(issuer.id, None, set(), NOW)) == "out_of_scope"


def test_scope_of_several_accreditations(world: World) -> None:
    """An authority accredited twice (by two accreditors) may attest what either allows."""
    parent = world.accredit()
    key = PrivateKey.generate("EdDSA")
    first = world.accredit(scope={PID: ["given_name"]}, key=key)
    world.accredit(parent, scope={RTW: ["right_to_work"]}, key=key, authority=first.id)
    world.registry.check_scope(first.id, PID, {"given_name"}, NOW)
    world.registry.check_scope(first.id, RTW, {"right_to_work"}, NOW)
    assert _code(lambda: world.registry.check_scope(first.id, PID, {"right_to_work"}, NOW)) == (
        "out_of_scope"
    )


@pytest.mark.parametrize(
    ("parent_kw", "child_kw"),
    [
        ({"scope": {PID: ["given_name"]}}, {"scope": {RTW: []}}),
        ({"scope": {PID: ["given_name"]}}, {"scope": {PID: ["given_name", "birthdate"]}}),
        ({"scope": {PID: ["address.locality"]}}, {"scope": {PID: ["address"]}}),
        ({"exp": T0 + YEAR}, {"exp": T0 + 2 * YEAR}),
        ({"nbf": T0}, {"nbf": T0 - DAY}),
        ({"may_accredit": False}, {}),
        ({"may_register": False}, {"may_register": True}),
    ],
    ids=["vct", "claim", "wider-path", "exp", "nbf", "may-not-accredit", "may-not-register"],
)
def test_sub_accreditation_outside_scope_is_refused_when_signing(
    world: World, parent_kw: dict[str, object], child_kw: dict[str, object]
) -> None:
    """An authority cannot sign a sub-accreditation exceeding its own: out_of_scope."""
    parent = world.accredit(**parent_kw)
    assert _code(lambda: world.accredit(parent, **child_kw)) == "out_of_scope"


@pytest.mark.parametrize(
    ("parent_kw", "child_changes"),
    [
        ({"scope": {PID: ["given_name"]}}, {"scope": {RTW: []}}),
        ({"scope": {PID: ["given_name"]}}, {"scope": {PID: ["given_name", "birthdate"]}}),
        ({"exp": T0 + YEAR}, {"exp": T0 + 2 * YEAR}),
        ({"may_accredit": False}, {}),
        ({"may_register": False}, {"may_register": True}),
    ],
    ids=["vct", "claim", "exp", "may-not-accredit", "may-not-register"],
)
def test_forged_over_scoped_child_fails_resolution(
    world: World, parent_kw: dict[str, object], child_changes: dict[str, object]
) -> None:
    """A sub-accreditation signed with the parent's real key but beyond its scope never resolves."""
    parent = world.accredit(**parent_kw)
    assert parent.accreditation is not None
    payload = accreditation_payload(
        parent.accreditation,
        iss=parent.id,
        sub="https://forged.example",
        jti="forged-1",
        **{"scope": {PID: ["given_name"]}, "may_accredit": False, **child_changes},
    )
    world.registry.add_accreditation(forge(parent.key, TYP_ACCREDITATION, payload))
    assert _code(lambda: world.registry.issuer_key("https://forged.example", None, NOW)) == (
        "out_of_scope"
    )


def test_expired_and_not_yet_valid(world: World) -> None:
    """Outside nbf <= now < exp an accreditation gives accreditation_expired."""
    issuer = world.accredit(nbf=T0 + DAY, exp=T0 + 2 * DAY)
    reg = world.registry
    assert _code(lambda: reg.issuer_key(issuer.id, None, T0)) == "accreditation_expired"
    assert reg.issuer_key(issuer.id, None, T0 + DAY) == issuer.key.public_key
    assert _code(lambda: reg.issuer_key(issuer.id, None, T0 + 2 * DAY)) == "accreditation_expired"


def test_expired_middle_link_fails_the_leaf(world: World) -> None:
    """A leaf whose accreditor's own accreditation has expired does not resolve."""
    middle = world.accredit(exp=T0 + 2 * DAY)
    leaf = world.accredit(middle, exp=T0 + 2 * DAY)
    assert world.registry.issuer_key(leaf.id, None, T0 + DAY) == leaf.key.public_key
    assert _code(lambda: world.registry.issuer_key(leaf.id, None, T0 + 3 * DAY)) == (
        "accreditation_expired"
    )


def test_results_follow_the_clock(world: World) -> None:
    """Cached resolutions never outlive their validity: valid, expired, valid again by time."""
    issuer = world.accredit(exp=T0 + 2 * DAY)
    reg = world.registry
    assert reg.issuer_key(issuer.id, None, T0 + DAY) == issuer.key.public_key
    assert _code(lambda: reg.issuer_key(issuer.id, None, T0 + 2 * DAY)) == "accreditation_expired"
    assert reg.issuer_key(issuer.id, None, T0 + DAY - 1) == issuer.key.public_key


@pytest.mark.parametrize("revoker", ["accreditor", "root"])
@pytest.mark.parametrize("revoked_link", [0, 1, 2])
def test_revoked_link_anywhere_in_chain(world: World, revoker: str, revoked_link: int) -> None:
    """Revoking any link of a 3-link chain, by its accreditor or the root, revokes the leaf."""
    chain = world.chain(3)
    target = chain[revoked_link]
    assert target.accreditation is not None
    by = world.gov if revoker == "root" or revoked_link == 0 else chain[revoked_link - 1]
    world.registry.revoke(sign_revocation(by, target.accreditation, now=NOW, reason="fraud"))
    leaf = chain[-1].id
    assert world.registry.issuer_key(leaf, None, NOW - 1) == chain[-1].key.public_key
    assert _code(lambda: world.registry.issuer_key(leaf, None, NOW)) == "accreditation_revoked"
    assert _code(lambda: world.registry.check_scope(leaf, PID, set(), NOW)) == (
        "accreditation_revoked"
    )


def test_revocation_by_a_stranger_is_refused(world: World) -> None:
    """Only the accreditor or the root may revoke: another authority gets forbidden."""
    issuer = world.accredit()
    stranger = world.accredit()
    assert issuer.accreditation is not None
    token = sign_revocation(
        Authority(stranger.id, stranger.key), issuer.accreditation, now=NOW
    )  # signed as if a root, to get past the signing-side check
    assert _code(lambda: world.registry.revoke(token)) == "forbidden"
    assert _code(lambda: sign_revocation(stranger, issuer.accreditation, now=NOW)) == ("forbidden")


def test_revocation_of_unknown_accreditation(world: World) -> None:
    """A revocation naming no recorded accreditation is unknown_statement."""
    issuer = world.accredit()
    assert issuer.accreditation is not None
    other = World()
    other_issuer = other.accredit(authority=issuer.id)
    assert other_issuer.accreditation is not None
    token = sign_revocation(world.gov, other_issuer.accreditation, now=NOW)
    assert _code(lambda: world.registry.revoke(token)) == "unknown_statement"


def test_renewal_after_expiry(world: World) -> None:
    """An authority renewed after its first accreditation expired resolves with the new one."""
    key = PrivateKey.generate("EdDSA")
    first = world.accredit(exp=T0 + DAY, key=key)
    world.accredit(nbf=T0 + DAY, exp=T0 + YEAR, key=key, authority=first.id)
    assert world.registry.issuer_key(first.id, None, T0 + 10 * DAY) == key.public_key


def test_most_serious_failure_is_reported(world: World) -> None:
    """With one accreditation expired and another revoked, the error is accreditation_revoked."""
    key = PrivateKey.generate("EdDSA")
    first = world.accredit(exp=T0 + DAY, key=key)
    second = world.accredit(nbf=T0 + DAY, key=key, authority=first.id)
    assert second.accreditation is not None
    world.registry.revoke(sign_revocation(world.gov, second.accreditation, now=T0 + 2 * DAY))
    assert _code(lambda: world.registry.issuer_key(first.id, None, T0 + 3 * DAY)) == (
        "accreditation_revoked"
    )


def test_rotated_key_drops_children_signed_with_the_old_one(world: World) -> None:
    """After an accreditor's old accreditation (old key) is revoked, its children go untrusted."""
    old_key, new_key = PrivateKey.generate("EdDSA"), PrivateKey.generate("EdDSA")
    old = world.accredit(key=old_key)
    assert old.accreditation is not None
    child = world.accredit(old)
    new = world.accredit(key=new_key, authority=old.id)
    world.registry.revoke(sign_revocation(world.gov, old.accreditation, now=NOW))
    assert world.registry.issuer_key(new.id, None, NOW) == new_key.public_key
    assert _code(lambda: world.registry.issuer_key(child.id, None, NOW)) == "untrusted_issuer"
    renewed = world.accredit(new, authority=child.id, key=child.key)
    assert world.registry.issuer_key(renewed.id, None, NOW) == child.key.public_key


def test_chain_too_long_is_untrusted() -> None:
    """A chain longer than the registry's limit is untrusted_issuer."""
    world = World()
    world.registry = TrustRegistry([world.root], limits=Limits(chain=2))
    chain = world.chain(3)
    assert world.registry.issuer_key(chain[1].id, None, NOW) == chain[1].key.public_key
    assert _code(lambda: world.registry.issuer_key(chain[2].id, None, NOW)) == "untrusted_issuer"


def test_default_limit_allows_five_links(world: World) -> None:
    """Five links resolve by default; a sixth is too deep."""
    chain = world.chain(6)
    assert world.registry.issuer_key(chain[4].id, None, NOW) == chain[4].key.public_key
    assert _code(lambda: world.registry.issuer_key(chain[5].id, None, NOW)) == "untrusted_issuer"


def test_cycle_terminates_and_vouches_for_nothing(world: World) -> None:
    """A key vouched for only through a cycle (A -> B -> A) is untrusted; resolution ends."""
    a = world.accredit()
    b = world.accredit(a)
    cyclic_key = PrivateKey.generate("EdDSA")
    a_via_b = world.accredit(b, authority=a.id, key=cyclic_key)
    c = world.accredit(a_via_b)  # signed with the key only the cycle vouches for
    assert _code(lambda: world.registry.issuer_key(c.id, None, NOW)) == "untrusted_issuer"
    # the honest branch is unaffected
    assert world.registry.issuer_key(b.id, None, NOW) == b.key.public_key


def test_statement_added_after_a_cached_resolution_applies_at_once(world: World) -> None:
    """A revocation added after a resolution was cached takes effect on the next call."""
    issuer = world.accredit()
    assert issuer.accreditation is not None
    assert world.registry.issuer_key(issuer.id, None, NOW) == issuer.key.public_key
    world.registry.revoke(sign_revocation(world.gov, issuer.accreditation, now=NOW - 10))
    assert _code(lambda: world.registry.issuer_key(issuer.id, None, NOW)) == (
        "accreditation_revoked"
    )
