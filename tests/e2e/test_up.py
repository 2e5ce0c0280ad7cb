"""``civic up`` serves the platform: ready, catalogued, with workers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.e2e.server import running_platform


@pytest.mark.parametrize("workers", [1, 2])
def test_up_becomes_ready(tmp_path: Path, workers: int) -> None:
    """With one or two workers the platform answers /healthz and serves the catalogue."""
    with running_platform(tmp_path, workers=workers) as base:
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"
        assert "civicstack" in httpx.get(f"{base}/").text
    assert (tmp_path / "civic.db").exists()
    assert (tmp_path / "admin-token").exists()
