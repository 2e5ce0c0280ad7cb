"""The seeded demo world: every preset's relying party is registered, and seeding is idempotent."""

from __future__ import annotations

from pathlib import Path

from civicstack.credential_types import PID_VCT, RIGHT_TO_WORK_VCT
from civicstack.demo.world import AUTHORITIES, REGISTRARS, RELYING_PARTIES, seed_demo_world
from civicstack.platform import Platform
from civicstack.settings import Settings


def test_seed_creates_the_world_once(tmp_path: Path) -> None:
    """Seeding creates the root, both authorities and every relying party; a second call is a
    no-op that changes nothing."""
    platform = Platform(Settings.from_env({"CIVIC_DATA_DIR": str(tmp_path)}))
    platform.migrate()
    assert seed_demo_world(platform) is True
    statements = len(platform.trust_registry().statements())
    assert seed_demo_world(platform) is False
    registry = platform.trust_registry()
    assert (
        len(registry.statements())
        == statements
        == (len(AUTHORITIES) + len(REGISTRARS) + len(RELYING_PARTIES))
    )
    now = platform.clock.now()
    base = platform.settings.base_url
    registry.check_scope(f"{base}/issuers/passport-office", PID_VCT, {"age_over_18"}, now)
    registry.check_scope(f"{base}/issuers/home-office", RIGHT_TO_WORK_VCT, {"right_to_work"}, now)
    shop = f"{base}/verifiers/shop"
    registry.check_request(shop, "age_check", {PID_VCT: ["age_over_18"]}, now)
    platform.close()
