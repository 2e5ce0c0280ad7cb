"""Which roots a wallet trusts: pinned on request, or the first ones offered, and no other."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicstack._crypto import PrivateKey
from civicstack.errors import CivicError
from civicstack.testing import FAST_KDF, FixedClock, World
from civicstack.trust import RootAuthority
from civicstack.wallet import Wallet
from civicstack.wallet.anchors import anchor


@pytest.fixture
def wallet(tmp_path: Path, clock: FixedClock) -> Wallet:
    """A new wallet trusting no root yet."""
    return Wallet.create(tmp_path / "w", "a passphrase", kdf=FAST_KDF, clock=clock)


def _impostor(root: RootAuthority) -> RootAuthority:
    return RootAuthority.create(root.id, root.name, [PrivateKey.generate("EdDSA").public_key])


def test_first_use_pins_the_offered_root_and_counts_its_statements(wallet: Wallet) -> None:
    """With no root pinned, the offered one is pinned (and reported) and its statements count."""
    world = World.populated()
    done = anchor(
        wallet, offered=[world.root], statements=world.registry.statements(), source="platform"
    )
    assert done.first_use == (world.root,)
    assert done.pinned == ()
    assert wallet.trust_anchors() == (world.root,)
    assert len(done.registry.accreditations) == len(world.registry.accreditations) > 0


def test_a_later_root_is_not_pinned_and_its_statements_do_not_count(wallet: Wallet) -> None:
    """Once a root is pinned, another offered root (same id, other keys) is not, and the
    statements it signed are left out."""
    world = World.populated()
    pinned = _impostor(world.root)  # the wallet met this one first
    anchor(wallet, offered=[pinned], statements=(), source="first")
    done = anchor(
        wallet, offered=[world.root], statements=world.registry.statements(), source="second"
    )
    assert done.first_use == ()
    assert wallet.trust_anchors() == (pinned,)
    assert done.registry.accreditations == ()


def test_an_explicit_pin_is_reported_once(wallet: Wallet) -> None:
    """A root the holder pins is reported the first time only."""
    world = World.populated()
    first = anchor(wallet, offered=(), statements=(), source="x", pin=[world.root])
    again = anchor(wallet, offered=(), statements=(), source="x", pin=[world.root])
    assert first.pinned == (world.root,)
    assert again.pinned == ()
    assert first.first_use == again.first_use == ()


def test_nothing_to_trust_is_untrusted_issuer(wallet: Wallet) -> None:
    """No root pinned and none offered: untrusted_issuer, naming the source."""
    with pytest.raises(CivicError) as caught:
        anchor(wallet, offered=(), statements=(), source="https://issuer.example")
    assert caught.value.code == "untrusted_issuer"
    assert "https://issuer.example" in caught.value.detail
