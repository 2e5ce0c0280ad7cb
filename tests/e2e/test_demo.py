"""``civic demo`` tells the whole issue-2 story and exits 0; the story itself checks out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from civicstack.demo.local import ShiftedClock, tell
from civicstack.demo.story import Step
from civicstack.platform import Platform
from civicstack.settings import Settings

pytestmark = pytest.mark.slow


def _demo(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
    return subprocess.run(
        [sys.executable, "-m", "civicstack.cli.main", "demo", "--local", *args],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200"},
        timeout=180,
        check=False,
    )


def test_demo_runs_and_prints_every_step() -> None:
    """The demo exits 0, printing each step, the refusals with their codes, and its ending."""
    done = _demo()
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for text in (
        "HM Government",
        "HM Passport Office",
        "Home Office",
        "Acme Ltd",
        "Corner Shop",
        "refused [overasking]",
        "refused [revoked]",
        "The story ran as told.",
    ):
        assert text in out, text


def test_demo_json_tells_what_each_party_learned(tmp_path: Path) -> None:
    """--json lists the steps: the shop saw only age_over_18, both refusals happened, and the
    data directory given was used."""
    where = tmp_path / "kept"
    done = _demo("--data-dir", str(where), "--json")
    assert done.returncode == 0, done.stderr
    story = json.loads(done.stdout)
    steps = {s["title"]: s for s in story["steps"]}
    shop = steps["Corner Shop verifies: over 18, and nothing else"]
    assert shop["rows"] == [["age_over_18", "true"]]
    assert [s["refused"] for s in story["steps"] if s["refused"]] == ["overasking", "revoked"]
    assert (where / "civic.db").exists()
    assert (where / "wallet" / "wallet.json").exists()
    again = _demo("--data-dir", str(where))
    assert again.returncode == 1
    assert again.stderr.startswith("error [conflict]")


def test_the_story_in_process(tmp_path: Path) -> None:
    """The employer learns the right to work and the name; the shop one claim; the consent
    steps showed exactly what left the device."""
    clock = ShiftedClock()
    settings = Settings.from_env({"CIVIC_DATA_DIR": str(tmp_path)})
    platform = Platform(settings, clock=clock)
    platform.migrate()
    seen: list[Step] = []
    story = tell(platform, tmp_path / "wallet", clock, seen.append)
    platform.close()
    assert story.shop_learned == {"age_over_18": True}
    assert story.employer_learned == {
        "given_name": "Amara",
        "family_name": "Okafor",
        "right_to_work": True,
        "valid_until": "2030-01-01",
    }
    asked = [s for s in seen if s.title.startswith("Amara is asked")]
    assert len(asked) == 3  # employer, shop, shop again after revocation (not the overasking)
    shop_rows = dict(asked[1].rows)
    assert shop_rows["age_over_18"] == "true"
    assert "birthdate" not in shop_rows
    assert "given_name" not in shop_rows
    assert clock.offset == 301


def test_demo_against_the_running_platform(tmp_path: Path) -> None:
    """`civic demo` walks the story over HTTP against `civic up`: OpenID4VCI issuance,
    OpenID4VP checks, the over-asking refusal and the revocation, each step as told."""
    from tests.e2e.server import running_platform

    with running_platform(tmp_path / "up") as base:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
        done = subprocess.run(
            [sys.executable, "-m", "civicstack.cli.main", "demo", "--server", base, "--json"],
            capture_output=True,
            text=True,
            env={**env, "CIVIC_DATA_DIR": str(tmp_path / "up")},
            timeout=180,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    steps = json.loads(done.stdout)["steps"]
    titles = [s["title"] for s in steps]
    assert any("over OpenID4VCI" in t and "PID" in t for t in titles)
    refused = [s["refused"] for s in steps if s["refused"]]
    assert refused == ["overasking", "revoked"]
    shop = next(s for s in steps if "age_over_18" in s["title"])
    assert shop["rows"] == [["age_over_18", "true"]]


def test_demo_without_a_server_says_so() -> None:
    """Without a running platform the demo fails on one line, pointing at --local."""
    from tests.e2e.server import free_port

    done = _demo_raw("--server", f"http://127.0.0.1:{free_port()}")
    assert done.returncode == 1
    assert done.stderr.startswith("error [server_unreachable]")
    assert "--local" in done.stderr


def _demo_raw(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
    return subprocess.run(
        [sys.executable, "-m", "civicstack.cli.main", "demo", *args],
        capture_output=True,
        text=True,
        env={**env, "COLUMNS": "200", "CIVIC_ADMIN_TOKEN": "unused"},
        timeout=60,
        check=False,
    )
