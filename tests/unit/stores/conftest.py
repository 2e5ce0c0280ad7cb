"""A migrated platform on each database, and a small world of authorities on it (a
:class:`~civicstack.testing.Cast` of the one testing world)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from civicstack.credential_types import PID, PID_VCT, RIGHT_TO_WORK, RIGHT_TO_WORK_VCT
from civicstack.platform import Platform
from civicstack.settings import Settings
from civicstack.testing import Cast, FixedClock, PurposeSpec

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


#: Root, passport office (PID), home office (right to work) and a shop.
STORES_CAST = Cast(
    authorities={
        "passport-office": ("HMPO", PID_VCT, tuple(sorted(PID.claim_names))),
        "home-office": ("Home Office", RIGHT_TO_WORK_VCT, tuple(sorted(RIGHT_TO_WORK.claim_names))),
    },
    relying_parties={
        "shop": (
            "Corner Shop",
            (PurposeSpec("age_check", "Sell alcohol", PID_VCT, ("age_over_18",)),),
        )
    },
    registrars={},
)


def build_world(platform: Platform) -> None:
    """Root, passport office (PID), home office (right to work) and a shop, on ``platform``."""
    STORES_CAST.seed(platform)
