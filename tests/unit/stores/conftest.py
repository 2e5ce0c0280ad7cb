"""A migrated platform on each database, and a small world of authorities on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from civicstack.credential_types import PID, PID_VCT, RIGHT_TO_WORK, RIGHT_TO_WORK_VCT
from civicstack.platform import Platform
from civicstack.settings import Settings
from civicstack.testing import FixedClock
from civicstack.trust import Purpose

BASE = "http://civic.test"
MASTER_KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"  # bytes 0..31, base64url


def make_platform(database_url: str, data_dir: Path, clock: FixedClock, **env: str) -> Platform:
    """A migrated platform on ``database_url`` keeping its files in ``data_dir``."""
    settings = Settings.from_env(
        {
            "CIVIC_DATA_DIR": str(data_dir),
            "CIVIC_DATABASE_URL": database_url,
            "CIVIC_BASE_URL": BASE,
            **env,
        }
    )
    platform = Platform(settings, clock=clock)
    platform.migrate()
    return platform


@pytest.fixture
def platform(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Platform]:
    """A fresh, migrated platform (SQLite, then PostgreSQL)."""
    p = make_platform(database_url, tmp_path, clock)
    yield p
    p.close()


def build_world(platform: Platform) -> None:
    """Root, passport office (PID), home office (right to work), a shop and an employer."""
    a = platform.authorities
    a.init_root("root", "HM Government")
    a.accredit("passport-office", scope={PID_VCT: sorted(PID.claim_names)}, display_name="HMPO")
    a.accredit(
        "home-office",
        scope={RIGHT_TO_WORK_VCT: sorted(RIGHT_TO_WORK.claim_names)},
        display_name="Home Office",
    )
    a.register(
        "shop",
        purposes=[Purpose.create("age_check", "Sell alcohol", {PID_VCT: ["age_over_18"]})],
        display_name="Corner Shop",
    )
