"""The in-memory world civicstack.testing ships for users' tests: it works as its docstring says."""

from __future__ import annotations

from pathlib import Path

from civicstack.credential_types import PID_VCT, pid_claims
from civicstack.credentials import verify_presentation
from civicstack.demo.world import AUTHORITIES, RELYING_PARTIES
from civicstack.testing import Cast, World
from civicstack.wallet import PresentationRequest


def test_the_docstring_example_runs(tmp_path: Path) -> None:
    """A wallet from the populated world shows the shop its age and nothing else."""
    world = World.populated()
    wallet = world.wallet(tmp_path / "wallet")
    claims = pid_claims(
        given_name="Amara",
        family_name="Okafor",
        birthdate="1990-05-17",
        issuing_authority="HM Passport Office",
        issuing_country="GB",
        now=world.clock.now(),
    )
    pid = world.issue("passport-office", claims, holder=wallet.holder_key)
    wallet.add_credential(pid, trust=world.registry)
    shop = world.relying_parties["shop"].relying_party
    request = PresentationRequest.create(shop, "age_check", {PID_VCT: ["age_over_18"]}, nonce="n-1")
    answer = wallet.present(request, trust=world.registry, consent=lambda summary: True)
    seen = verify_presentation(
        answer.tokens[PID_VCT],
        trust=world.registry,
        aud=shop,
        nonce="n-1",
        now=world.clock.now(),
        status=None,
    )
    assert set(seen.claims) == {"age_over_18"}


def test_the_default_cast_is_the_demo_world() -> None:
    """By default a world holds the cast `civic up` seeds, and World() the root only."""
    assert dict(Cast().authorities) == AUTHORITIES
    assert dict(Cast().relying_parties) == RELYING_PARTIES
    world = World.populated()
    assert set(world.authorities) == set(AUTHORITIES)
    assert set(world.relying_parties) == set(RELYING_PARTIES)
    assert World().registry.statements() == ()
