"""``civic consent request`` and ``civic wallet consents`` / ``consent give|withdraw`` against
``civic up``: a request reaches the citizen's inbox, the consent screen shows exactly what is
asked, the wallet signs and keeps its copy, and a withdrawal takes effect at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from civicstack.credential_types import PID_VCT
from civicstack.demo.story import AMARA
from civicstack.pairwise import Subject
from civicstack.platform import Platform
from civicstack.settings import Settings
from civicstack.wallet import Wallet
from tests.e2e.server import running_platform
from tests.unit.cli.conftest import FAST_KDF, PASSPHRASE, Civic

pytestmark = pytest.mark.slow


def test_a_consent_from_request_to_withdrawal(tmp_path: Path) -> None:
    """The requester asks, the wallet lists, gives (after the screen), keeps, withdraws."""
    civic = Civic(
        tmp_path, {"CIVIC_DATA_DIR": str(tmp_path), "CIVIC_WALLET_PASSPHRASE": PASSPHRASE}
    )
    with running_platform(tmp_path, timeout=300) as base:
        Wallet.create(tmp_path / "wallet", PASSPHRASE, kdf=FAST_KDF)
        issued = civic(
            "authority", "issue", "--issuer", "passport-office", "--vct", PID_VCT,
            "--claims", json.dumps(AMARA), "--to-wallet", "--json",
        )  # fmt: skip
        assert issued.code == 0, issued.err
        platform = Platform(Settings.from_env({"CIVIC_DATA_DIR": str(tmp_path)}))
        subject = platform.pairwise_id(
            "insurer", Subject("GB", AMARA["personal_administrative_number"])
        )
        platform.close()
        civic.fails(
            "overasking", "consent", "request", "--as", "insurer", "--subject", subject,
            "--provider", "hmrc", "--purpose", "insurance_quote", "--categories", "dpv-pd:Tax",
            "--server", base,
        )  # fmt: skip
        asked = civic(
            "consent", "request", "--as", "insurer", "--subject", subject, "--provider", "dvla",
            "--purpose", "insurance_quote", "--categories",
            "dpv-pd:VehicleLicense,dpv-pd:VehicleUsage", "--valid-days", "30", "--json",
            "--server", base,
        )  # fmt: skip
        assert asked.code == 0, asked.err
        request_id = asked.json()["id"]
        listed = civic("wallet", "consents", "--json", "--server", base)
        assert listed.code == 0, listed.err
        assert [p["id"] for p in listed.json()["pending"]] == [request_id]
        assert listed.json()["given"] == []
        civic.fails("invalid_request", "wallet", "consent", "give", request_id, "--server", base)
        given = civic(
            "wallet", "consent", "give", request_id[:12], "--yes", "--json", "--server", base
        )
        assert given.code == 0, given.err
        for shown in ("insurer", "Your driving licence", "dvla", "30 days", "until you withdraw"):
            assert shown in given.err
        assert "registered (" in given.err
        consent_id = given.json()["id"]
        after = civic("wallet", "consents", "--json", "--server", base).json()
        assert after["pending"] == []
        assert [(c["id"], c["state"]) for c in after["given"]] == [(consent_id, "given")]
        out = civic(
            "wallet", "consent", "withdraw", consent_id, "--yes", "--json", "--server", base
        )
        assert out.code == 0, out.err
        assert out.json()["state"] == "withdrawn"
        kept = civic("wallet", "consents", "--json", "--server", base).json()["given"]
        assert [c["state"] for c in kept] == ["withdrawn"]
        civic.fails(
            "consent_not_active", "wallet", "consent", "withdraw", consent_id, "--yes",
            "--server", base,
        )  # fmt: skip
