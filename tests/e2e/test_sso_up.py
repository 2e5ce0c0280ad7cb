"""One login against a real ``civic up``: an organisation's developers register a client with
a token from ``civic sso initial-access-token``, a browser starts the code flow, the citizen
answers the sign-in page's link with ``civic wallet present LINK --yes``, and the client
redeems its code; the demo government services are served."""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
import secrets
from pathlib import Path

import httpx
import pytest

from civicstack._crypto import b64url_encode
from civicstack.credential_types import PID_VCT
from civicstack.demo.story import AMARA
from civicstack.wallet import Wallet
from tests.e2e.server import running_platform
from tests.unit.cli.conftest import FAST_KDF, PASSPHRASE, Civic

pytestmark = pytest.mark.slow


def test_sign_in_with_the_cli_wallet(database_url: str, tmp_path: Path) -> None:
    """Register, authorize, present from the CLI wallet, continue, redeem: an ID token."""
    env = {
        "CIVIC_DATA_DIR": str(tmp_path),
        "CIVIC_DATABASE_URL": database_url,
        "CIVIC_WALLET_PASSPHRASE": PASSPHRASE,
    }
    civic = Civic(tmp_path, env)
    with running_platform(tmp_path, env={"CIVIC_DATABASE_URL": database_url}, timeout=300) as base:
        Wallet.create(tmp_path / "wallet", PASSPHRASE, kdf=FAST_KDF)
        issued = civic(
            "authority", "issue", "--issuer", "passport-office", "--vct", PID_VCT,
            "--claims", json.dumps(AMARA), "--to-wallet", "--json",
        )  # fmt: skip
        assert issued.code == 0, issued.err
        minted = civic("sso", "initial-access-token", "--org", "council", "--json")
        assert minted.code == 0, minted.err
        token = minted.json()["token"]
        with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as browser:
            meta = browser.get("/.well-known/openid-configuration").json()
            assert meta["issuer"] == base
            reg = browser.post(
                "/oidc/register",
                json={"redirect_uris": ["http://127.0.0.1:9/cb"]},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert reg.status_code == 201, reg.text
            client = reg.json()
            verifier = secrets.token_urlsafe(48)
            challenge = b64url_encode(hashlib.sha256(verifier.encode()).digest())
            r = browser.get(
                "/oidc/authorize",
                params={
                    "response_type": "code",
                    "client_id": client["client_id"],
                    "redirect_uri": "http://127.0.0.1:9/cb",
                    "scope": "openid profile",
                    "state": "st-1",
                    "nonce": "n-1",
                    "code_challenge": challenge,
                    "code_challenge_method": "S256",
                },
            )
            assert r.status_code == 303, r.text
            login = r.headers["location"]
            page = browser.get(login).text
            link = html.unescape(re.search(r'id="wallet-link" href="([^"]+)"', page).group(1))
            csrf = html.unescape(re.search(r'name="csrf" value="([^"]+)"', page).group(1))
            presented = civic("wallet", "present", link, "--yes")
            assert presented.code == 0, presented.err
            done = browser.post(login, data={"csrf": csrf})
            assert done.status_code == 303, done.text
            back = httpx.URL(done.headers["location"])
            assert back.params["state"] == "st-1"
            basic = base64.b64encode(
                f"{client['client_id']}:{client['client_secret']}".encode()
            ).decode()
            tokens = browser.post(
                "/oidc/token",
                data={
                    "grant_type": "authorization_code",
                    "code": back.params["code"],
                    "redirect_uri": "http://127.0.0.1:9/cb",
                    "code_verifier": verifier,
                },
                headers={"Authorization": f"Basic {basic}"},
            )
            assert tokens.status_code == 200, tokens.text
            assert tokens.json()["id_token"].count(".") == 2
            for service in ("tax", "health", "council"):
                assert browser.get(f"/services/{service}/").status_code == 200
