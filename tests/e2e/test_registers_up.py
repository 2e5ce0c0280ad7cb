"""``civic up`` serves the seeded registers; a new user browses, downloads and verifies one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import shared_path
from tests.e2e.server import running_platform

pytestmark = pytest.mark.slow

SYNTHETIC = {"address", "company", "licensed-labour-provider", "gp-practice"}


def _civic(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CIVIC_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "civicstack.cli.main", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_up_seeds_the_registers_before_it_is_ready(tmp_path: Path) -> None:
    """Once /healthz answers, the catalogue lists the registers service and every archived and
    synthetic register is there; downloads verify against their checkpoints from the CLI."""
    archive = shared_path("data", "gov-uk-registers-2021")
    env = {"CIVIC_REGISTERS_ARCHIVE": str(archive)}
    with running_platform(tmp_path, env=env) as base:
        assert "/registers" in httpx.get(f"{base}/healthz").json()["services"]
        services = httpx.get(f"{base}/services").json()
        assert any(s["mount"] == "/registers" for s in services)
        assert "/registers/docs" in httpx.get(f"{base}/").text
        listed = {r["name"]: r for r in httpx.get(f"{base}/registers").json()["registers"]}
        assert len(listed) == 55
        assert {n for n, r in listed.items() if r["synthetic"]} == SYNTHETIC
        provider = httpx.get(f"{base}/registers/licensed-labour-provider/records?page-size=1")
        licence = next(iter(provider.json().values()))["item"][0]
        assert licence["licence-status"] in {"licensed", "revoked", "surrendered"}
        # The walk-through of the README: download a register and verify it.
        url = f"{base}/registers/local-authority-eng/download-rsf"
        done = _civic("registers", "verify", url, "--json", data_dir=tmp_path / "client")
        assert done.returncode == 0, done.stderr
        verified = json.loads(done.stdout)
        assert verified["register"] == "local-authority-eng"
        assert verified["method"] == "equal"
        summary = httpx.get(f"{base}/registers/local-authority-eng").json()
        assert verified["root-hash"] == summary["root-hash"]
        assert verified["key"] == summary["log"]["verifier-key"]
    first_log = (tmp_path / "civic-up.log").read_text()
    assert "seeded 51 archived GOV.UK registers (36 historic dangling links" in first_log
    # A second start finds everything seeded and does not seed again.
    with running_platform(tmp_path, env=env) as base:
        again = httpx.get(f"{base}/registers/local-authority-eng").json()
        assert again["log"]["size"] == summary["log"]["size"]
    assert "seeded" not in (tmp_path / "civic-up.log").read_text()
