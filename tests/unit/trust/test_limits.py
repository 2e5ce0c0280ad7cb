"""trust.Limits: each lowered cap refuses what the defaults accept, with the code of the default
cap's refusal."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from civicstack.credential_types import PID_VCT
from civicstack.errors import CivicError
from civicstack.testing import T0, World
from civicstack.trust import DEFAULT_LIMITS, Limits, TrustRegistry
from civicstack.trust.parties import DAY, validity_seconds

NOW = T0 + DAY


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


def _lowered(limits: Limits) -> World:
    world = World()
    world.registry = TrustRegistry([world.root], limits=limits)
    return world


def test_lowered_statement_size_is_refused_as_the_default_is() -> None:
    """A statement over a lowered size cap is refused like one over the default cap."""
    world = World()
    authority = world.accredit()
    assert authority.accreditation is not None
    token = authority.accreditation.token
    huge = token + "A" * DEFAULT_LIMITS.statement_bytes
    expected = _code(lambda: World().registry.add(huge))
    small = _lowered(Limits(statement_bytes=len(token) - 1))
    assert _code(lambda: small.registry.add(token)) == expected


def test_lowered_purposes_and_keys_are_refused() -> None:
    """A registration with two purposes, a key set of one key: refused under caps of one and
    zero, with the codes the default caps give (malformed, invalid_key)."""
    assert World().register()  # two purposes: within the default
    assert _code(lambda: _lowered(Limits(purposes=1)).register()) == "malformed"
    assert _code(lambda: _lowered(Limits(keys=0)).accredit()) == "invalid_key"
    assert _code(lambda: _lowered(Limits(vcts=0)).accredit()) == "malformed"


def test_lowered_chain_request_and_export_caps() -> None:
    """A lowered chain is untrusted_issuer, a lowered request cap too_large, a lowered export
    cap too_large, a lowered validity invalid_request."""
    world = _lowered(Limits(chain=1, request_claims=1))
    two = world.chain(2)
    assert _code(lambda: world.registry.issuer_key(two[1].id, None, NOW)) == "untrusted_issuer"
    rp = world.register()
    claims = {PID_VCT: ["given_name", "family_name"]}
    assert (
        _code(lambda: world.registry.check_request(rp.relying_party, "onboarding", claims, NOW))
        == "too_large"
    )
    export = world.registry.to_json()
    assert TrustRegistry.from_json(export, [world.root])
    lowered = Limits(export_bytes=len(export) - 1)
    assert _code(lambda: TrustRegistry.from_json(export, [world.root], limits=lowered)) == (
        "too_large"
    )
    assert validity_seconds(11) == 11 * DAY
    assert _code(lambda: validity_seconds(11, limits=Limits(validity_days=10))) == (
        "invalid_request"
    )
