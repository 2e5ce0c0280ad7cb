"""Tell us once through `civic up`: `civic demo` moves Amara house and the platform delivers
signed webhooks to the council, the GP practice and both registration officers; the wallet's
`report-change` and `electoral` commands against the same server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow


def _civic(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("CIVIC_")}
    return subprocess.run(
        [sys.executable, "-m", "civicstack.cli.main", *args],
        capture_output=True,
        text=True,
        env={**clean, "COLUMNS": "200", **env},
        timeout=240,
        check=False,
    )


def test_a_move_of_house_through_civic_up(tmp_path: Path) -> None:
    """The demo's move: consents given, the report published and delivered to every endpoint
    told (signatures checked by the demo), Amara registered to vote at her new address; then
    the wallet CLI reports an unknown address (refused, exit 1) and opts out of the roll."""
    from tests.e2e.server import running_platform

    data = tmp_path / "up"
    with running_platform(data, env={"CIVIC_EVENTS_ALLOW_PRIVATE": "1"}, timeout=240) as base:
        done = _civic("demo", "--server", base, "--json", env={"CIVIC_DATA_DIR": str(data)})
        assert done.returncode == 0, done.stderr
        steps = json.loads(done.stdout)["steps"]
        titles = [s["title"] for s in steps]
        told = next(s for s in steps if s["title"].startswith("Told once"))
        assert "delivered to 4 of 4" in told["title"]
        assert {r[0] for r in told["rows"]} >= {"Northside Council", "Newtown Medical Practice"}
        assert any(t.startswith("Amara is registered to vote in ") for t in titles)
        assert any(t.startswith("Amara moves house") for t in titles)

        wallet = {
            "CIVIC_DATA_DIR": str(tmp_path / "citizen"),
            "CIVIC_WALLET_PASSPHRASE": "correct-horse",
            "CIVIC_SERVER": base,
        }
        assert _civic("wallet", "init", env=wallet).returncode == 0
        admin = (data / "admin-token").read_text().strip()
        offer = _civic(
            "authority", "offer", "--issuer", "passport-office", "--vct", "urn:eudi:pid:1",
            "--claims", json.dumps({"given_name": "Ben", "family_name": "Ode",
                                    "birthdate": "1980-01-01", "issuing_country": "GB",
                                    "personal_administrative_number": "QQ424242Q"}),
            "--json", env={**wallet, "CIVIC_ADMIN_TOKEN": admin},
        )  # fmt: skip
        assert offer.returncode == 0, offer.stderr
        got = json.loads(offer.stdout)
        received = _civic(
            "wallet", "receive", got["offer"], "--tx-code", got["tx_code"], "--yes", env=wallet
        )
        assert received.returncode == 0, received.stderr
        bad = _civic(
            "wallet", "report-change", "address", "--uprn", "1", "--yes", "--json", env=wallet
        )
        assert bad.returncode == 1
        assert bad.stderr.splitlines()[-1].startswith("error [unknown_address]"), bad.stderr
        assert bad.stderr.startswith("Report a change: address")  # the screen came first
        records = httpx.get(f"{base}/registers/address/records", params={"page-size": 50}).json()
        item = next(i for r in records.values() for i in r["item"] if i.get("local-authority-eng"))
        moved = _civic(
            "wallet", "report-change", "address", "--uprn", item["address"], "--yes", "--json",
            env=wallet,
        )  # fmt: skip
        assert moved.returncode == 0, moved.stderr
        assert json.loads(moved.stdout)["status"] in ("published", "delivered")
        status = _civic("wallet", "electoral", "status", "--json", env=wallet)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["authority"] == item["local-authority-eng"]
        out = _civic("wallet", "electoral", "opt-out", "--yes", "--json", env=wallet)
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["opted_out"] is True
        after = json.loads(_civic("wallet", "electoral", "status", "--json", env=wallet).stdout)
        assert after == {"registered": False, "authority": None, "uprn": None, "opted_out": True}
