"""``civic demo`` tells the whole issue-2 story and exits 0; the story itself checks out."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from civicstack._crypto import PrivateKey
from civicstack.credential_types import PID_VCT
from civicstack.demo.local import ShiftedClock, tell
from civicstack.demo.story import AMARA, Step
from civicstack.log import NoteSigner
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
    OpenID4VP checks, the over-asking refusal, consents given by wallets (Amara's, her
    relatives'), fetches released with receipts that verified, a withdrawn consent's refusal, a
    GP switch sharing only the consenting relative's history, then the revocation, and it ends
    with Amara's verified, complete access history; her wallet is left in CIVIC_WALLET_DIR with
    the insurer's consent still given, and `civic wallet access-history` proves the same."""
    from tests.e2e.server import running_platform

    env = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
    env |= {
        "CIVIC_DATA_DIR": str(tmp_path / "up"),
        "CIVIC_WALLET_DIR": str(tmp_path / "amara"),
        "CIVIC_WALLET_PASSPHRASE": "correct horse battery staple",
    }

    def civic(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "civicstack.cli.main", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
            check=False,
        )

    with running_platform(tmp_path / "up") as base:
        done = civic("demo", "--server", base, "--json")
        assert done.returncode == 0, done.stderr
        # Her PID was revoked at the story's end: with a new passport's PID her wallet can
        # pull its inbox again (the consents were given under her citizen identity, not a key).
        issued = civic(
            "authority", "issue", "--issuer", "passport-office", "--vct", PID_VCT,
            "--claims", json.dumps(AMARA), "--to-wallet", "--json",
        )  # fmt: skip
        assert issued.returncode == 0, issued.stderr
        listed = civic("wallet", "consents", "--json", "--server", base)
        history = civic("wallet", "access-history", "--json", "--server", base)
        stranger = NoteSigner(
            json.loads(history.stdout)["checkpoint"]["origin"], PrivateKey.generate("EdDSA")
        )
        forged = civic(
            "wallet", "access-history", "--json", "--server", base,
            "--key", stranger.verifier.vkey,
        )  # fmt: skip
    assert listed.returncode == 0, listed.stderr
    assert history.returncode == 0, history.stderr
    proven = json.loads(history.stdout)
    assert proven["complete"] is True
    assert proven["checkpoint"]["size"] > len(proven["entries"])
    assert {(e["requester"], e["outcome"]) for e in proven["entries"]} >= {
        ("insurer", "released"),
        ("council", "refused"),
    }
    assert all(e["verified"] and e["time"] for e in proven["entries"])
    # Under a key that did not sign the log, nothing verifies: complete false, one error line.
    assert forged.returncode == 1
    assert json.loads(forged.stdout)["complete"] is False
    assert forged.stderr.startswith("error [untrusted_note]"), forged.stderr
    steps = json.loads(done.stdout)["steps"]
    titles = [s["title"] for s in steps]
    assert any("over OpenID4VCI" in t and "PID" in t for t in titles)
    refused = [s["refused"] for s in steps if s["refused"]]
    assert refused == ["overasking", "consent_not_active", "revoked"]
    shop = next(s for s in steps if "age_over_18" in s["title"])
    assert shop["rows"] == [["age_over_18", "true"]]
    by = {s["title"]: s for s in steps}
    insurer = by["Civic Mutual Insurance asks Amara for consent; Amara's wallet pulls its inbox "
                 "and gives it"]  # fmt: skip
    assert insurer["details"][-1].endswith(": given (dpv:ConsentGiven)"), insurer
    fetched = by["Civic Mutual Insurance fetches her driving record through the exchange, "
                 "with a receipt"]  # fmt: skip
    assert fetched["details"][1].startswith("receipt verified: signed by ")
    assert {r[0] for r in fetched["rows"]} == {"dpv-pd:VehicleLicense", "dpv-pd:VehicleUsage"}
    assert "Amara withdraws the council's consent from her wallet" in by
    council = by["Northside Council fetches her tax summary: refused, the consent was withdrawn"]
    assert council["refused"] == "consent_not_active"
    assert any("receipt verified" in d for d in council["details"])
    switch = next(s for s in steps if "registers Amara and takes over her record" in s["title"])
    assert "receipt verified" in switch["details"][1]
    assert "Her mother's own wallet gives the family-history consent" in by
    assert "Her brother's own wallet refuses the family-history consent" in by
    shared = by["Only the consenting relative's family history is shared with the new practice"]
    assert [r[0] for r in shared["rows"]] == ["dpv-pd:FamilyHealthHistory"]
    assert shared["details"][1] == "brother: refused, nothing fetched"
    # every consent step ran before the PID was revoked
    assert titles.index(shared["title"]) < titles.index(
        "HM Passport Office revokes Amara's PID (her passport was reported stolen)"
    )
    last = steps[-1]
    assert last["title"].startswith("Amara's wallet verifies her complete access history")
    assert len(last["rows"]) == len(proven["entries"])
    kept = json.loads(listed.stdout)
    still = [c for c in kept["given"] if c["state"] == "given"]
    assert [(c["requester"], c["provider"]) for c in still if c["requester"] == "insurer"] == [
        ("insurer", "dvla")
    ]
    assert {c["requester"]: c["state"] for c in kept["given"]}["council"] == "withdrawn"


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
