"""The verifier against a real ``civic up``: single use under concurrency, restarts, the CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from civicstack._crypto import PublicKey
from civicstack.credential_types import PID_VCT
from civicstack.platform import Platform
from civicstack.settings import Settings
from tests.api.conftest import AMARA
from tests.api.spec_wallet import SpecWallet
from tests.e2e.server import running_platform

pytestmark = pytest.mark.slow

PARALLEL = 8


def _issue_pid(data_dir: Path, database_url: str, wallet: SpecWallet) -> None:
    """Issue Amara's PID from the hosted passport office straight into the spec wallet."""
    settings = Settings.from_env(
        {"CIVIC_DATA_DIR": str(data_dir), "CIVIC_DATABASE_URL": database_url}
    )
    platform = Platform(settings)
    try:
        issued = platform.authorities.issue(
            "passport-office", vct=PID_VCT, claims=AMARA, holder=PublicKey.from_jwk(wallet.key.jwk)
        )
    finally:
        platform.close()
    wallet.credentials.append(issued.credential)


def _admin(data_dir: Path) -> dict[str, str]:
    return {"Authorization": f"Bearer {(data_dir / 'admin-token').read_text().strip()}"}


def _in_parallel(calls: list[Any]) -> list[httpx.Response]:
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


@pytest.fixture
def up(database_url: str, tmp_path: Path) -> Any:
    """``civic up --workers 2`` on SQLite, then PostgreSQL."""
    env = {"CIVIC_DATABASE_URL": database_url}
    with running_platform(tmp_path, workers=2, env=env) as base:
        yield base, tmp_path, database_url


def test_concurrent_answers_give_exactly_one_success(up: Any) -> None:
    """Eight identical answers, then eight different valid answers, raced at one request
    across two workers: exactly one succeeds each time; the rest are request_answered (or
    replayed), and the outcome stands."""
    base, data_dir, database_url = up
    with httpx.Client(base_url=base, timeout=30) as http:
        root = http.get("/trust/root").json()
        wallet = SpecWallet(http, root)
        _issue_pid(data_dir, database_url, wallet)
        for variant in ("identical", "distinct"):
            created = http.post(
                "/verifier/requests", json={"preset": "age_over_18"}, headers=_admin(data_dir)
            ).json()
            request = wallet.receive_request(created["request"])
            forms = [wallet.present(request, now=request_time(i, variant)) for i in range(PARALLEL)]
            responses = _in_parallel(
                [
                    lambda f=form, uri=request.response_uri: httpx.post(uri, data=f, timeout=30)
                    for form in forms
                ]
            )
            statuses = Counter(r.status_code for r in responses)
            assert statuses[200] == 1, [r.text for r in responses]
            codes = {r.json()["code"] for r in responses if r.status_code != 200}
            assert codes <= {"request_answered", "replayed"}
            outcome = http.get(f"/verifier/requests/{created['id']}", headers=_admin(data_dir))
            assert outcome.json()["status"] == "verified"
            assert outcome.json()["claims"] == {"age_over_18": True}


def request_time(i: int, variant: str) -> int:
    """A KB-JWT time: the same for identical answers, one second apart for distinct ones."""
    import time

    return int(time.time()) - (i if variant == "distinct" else 0)


def test_concurrent_replays_of_one_presentation_verify_once(up: Any) -> None:
    """One presentation sent eight times at once to the direct verify endpoint is accepted
    exactly once."""
    base, data_dir, database_url = up
    with httpx.Client(base_url=base, timeout=30) as http:
        wallet = SpecWallet(http, http.get("/trust/root").json())
        _issue_pid(data_dir, database_url, wallet)
        key = http.post("/verifier/relying-parties/shop/api-keys", headers=_admin(data_dir)).json()
    from tests.api.spec_wallet import Request

    nonce = "race-nonce-0123456789ab"
    request = Request(
        client_id=f"verifier_attestation:{base}/verifiers/shop",
        response_uri="",
        nonce=nonce,
        state=None,
        dcql_query={},
        claims={},
    )
    presentation = wallet._presentation(
        wallet.credentials[0], ["age_over_18"], request, request_time(0, "")
    )
    body = {"presentation": presentation, "nonce": nonce}
    headers = {"Authorization": f"Bearer {key['api_key']}"}
    responses = _in_parallel(
        [
            lambda: httpx.post(f"{base}/verifier/verify", json=body, headers=headers, timeout=30)
            for _ in range(PARALLEL)
        ]
    )
    statuses = Counter(r.status_code for r in responses)
    assert statuses == Counter({200: 1, 409: PARALLEL - 1}), [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"replayed"}


def test_restart_loses_no_pending_request(database_url: str, tmp_path: Path) -> None:
    """A request made before a restart is answered after it."""
    env = {"CIVIC_DATABASE_URL": database_url}
    with running_platform(tmp_path, env=env) as base:
        created = httpx.post(
            f"{base}/verifier/requests", json={"preset": "age_over_18"}, headers=_admin(tmp_path)
        ).json()
        root = httpx.get(f"{base}/trust/root").json()
    port = int(base.rsplit(":", 1)[1])
    with running_platform(tmp_path, env=env, port=port), httpx.Client(timeout=30) as http:
        wallet = SpecWallet(http, root)
        _issue_pid(tmp_path, database_url, wallet)
        request = wallet.receive_request(created["request"])
        r = wallet.post(request, wallet.present(request))
        assert r.status_code == 200, r.text
        outcome = http.get(f"{base}/verifier/requests/{created['id']}", headers=_admin(tmp_path))
        assert outcome.json()["status"] == "verified"


def test_cli_request_present_result(tmp_path: Path) -> None:
    """A new user's walk: civic verifier request, civic wallet present --yes, civic verifier
    result; an over-asking preset is one error line."""
    env = {
        **os.environ,
        "CIVIC_DATA_DIR": str(tmp_path),
        "CIVIC_WALLET_PASSPHRASE": "correct horse battery staple",
        "COLUMNS": "200",
    }
    env.pop("CIVIC_DATABASE_URL", None)
    env.pop("CIVIC_WALLET_DIR", None)
    env.pop("CIVIC_ADMIN_TOKEN", None)
    env.pop("CIVIC_SERVER", None)

    def civic(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "civicstack.cli.main", *args],
            env={**env, **extra},
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    with running_platform(tmp_path) as base:
        env["CIVIC_BASE_URL"] = base
        assert civic("wallet", "init").returncode == 0
        claims = json.dumps(AMARA)
        done = civic(
            "authority", "issue", "--issuer", "passport-office", "--vct", PID_VCT,
            "--claims", claims, "--to-wallet",
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        made = civic("verifier", "request", "--preset", "age_over_18", "--json", "--server", base)
        assert made.returncode == 0, made.stderr
        created = json.loads(made.stdout)
        assert set(created) == {"id", "request"}
        assert created["request"].startswith("openid4vp://?client_id=verifier_attestation")
        pending = civic("verifier", "result", created["id"], "--json", "--server", base)
        assert json.loads(pending.stdout) == {
            "status": "pending",
            "claims": {},
            "error": None,
            "attempt_count": 0,
            "attempts": [],
        }
        # No --server and no CIVIC_SERVER: the wallet follows the platform the link names
        # (issue 9 #15); this platform is not on the default port.
        shown = civic("wallet", "present", created["request"], "--yes", "--json")
        assert shown.returncode == 0, shown.stderr
        assert "Corner Shop" in shown.stderr
        assert "trusting HM Government" in shown.stderr
        assert json.loads(shown.stdout)["shared"] == {"pid": {"age_over_18": True}}
        result = civic("verifier", "result", created["id"], "--json", "--server", base)
        assert json.loads(result.stdout) == {
            "status": "verified",
            "claims": {"age_over_18": True},
            "error": None,
            "attempt_count": 0,
            "attempts": [],
        }
        again = civic("wallet", "present", created["request"], "--yes", "--server", base)
        assert again.returncode == 1
        assert again.stderr.strip().splitlines()[-1].startswith("error [")
        refused = civic(
            "verifier", "request", "--preset", "identity", "--rp", "shop", "--server", base
        )
        assert refused.returncode == 1
        assert refused.stderr.startswith("error [overasking]")
        history = civic("wallet", "history", "--json")
        assert json.loads(history.stdout)[-1]["relying_party"] == f"{base}/verifiers/shop"
