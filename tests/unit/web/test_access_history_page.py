"""The web wallet's access history page over plain HTTP: a verified history with its checkpoint,
and a calm error page (no list) when the platform's answer does not verify or is incomplete."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from civicstack._crypto import json_dumps, json_loads_strict
from civicstack.access.history import SubjectHistory
from civicstack.credential_types import pid_claims
from civicstack.testing import World
from civicstack.wallet.transport import Method
from civicstack.web.wallet import WalletUISettings, create_wallet_app
from tests.unit.access.test_history import ME, OTHER, SIGNER, Log
from tests.unit.web.test_wallet_http import ORIGIN, PORT, unlock

PLATFORM = "https://civic.example"
PASSPHRASE = "test wallet"


class AccessService:
    """The platform's three access routes, answering ``history``; counts what was asked."""

    def __init__(self, history: SubjectHistory | None, status: int = 200) -> None:
        self.history = history
        self.status = status
        self.asked: list[str] = []

    def __call__(self) -> AccessService:
        return self

    def send(self, method: Method, url: str, **kw: Any) -> tuple[int, bytes]:
        path = url.removeprefix(PLATFORM)
        self.asked.append(f"{method} {path}")
        if self.status != 200:
            return self.status, b""
        if path == "/access":
            return 200, json_dumps({"verifier_key": SIGNER.verifier.vkey})
        if path == "/access/nonces":
            return 200, json_dumps({"nonce": "n-1", "aud": PLATFORM + "/access", "expires_at": 0})
        if path != "/access/history":
            return 404, b""
        assert json_loads_strict(json_dumps(kw["json"]))["nonce"] == "n-1"
        assert self.history is not None
        return 200, json_dumps(self.history.to_json())

    def close(self) -> None:
        """Nothing to close."""


def _log() -> Log:
    log = Log()
    log.batch([ME, OTHER, None])
    log.batch([ME])
    return log


def _client(tmp_path: Path, service: AccessService, *, pid: bool = True) -> TestClient:
    world = World.populated()
    wallet = world.wallet(tmp_path / "wallet", PASSPHRASE)
    if pid:
        claims = pid_claims(
            given_name="Amara",
            family_name="Okafor",
            birthdate="1990-05-17",
            issuing_authority="HM Passport Office",
            issuing_country="GB",
            now=world.clock.now(),
            personal_administrative_number="GB-1234",
        )
        wallet.add_credential(world.issue("passport-office", claims, holder=wallet.holder_key))
    settings = WalletUISettings(wallet_dir=tmp_path / "wallet", port=PORT, platform=PLATFORM)
    app = create_wallet_app(settings, clock=world.clock, transport=service)
    client = TestClient(app, base_url=ORIGIN, follow_redirects=False)
    unlock(client, PASSPHRASE)
    return client


def test_a_verified_history_shows_every_access_and_its_checkpoint(tmp_path: Path) -> None:
    """Each access (who, what, why, released under which consent or refused) is listed under
    "complete and verified as of checkpoint N"; the navigation links to the page."""
    service = AccessService(_log().history(ME))
    client = _client(tmp_path, service)
    service.asked.clear()
    page = client.get("/access-history")
    assert page.status_code == 200, page.text
    assert "Complete and verified as of checkpoint 6" in page.text
    assert page.text.count("govuk-tag--green") == 2
    assert "Released under your consent <code>consent-0</code> (version 1)" in page.text
    assert "Released under your consent <code>consent-4</code>" in page.text
    assert "insurer" in page.text
    assert "dvla" in page.text
    assert page.text.index("consent-4") < page.text.index("consent-0")  # newest first
    assert 'href="/access-history"' in client.get("/credentials").text
    asked = [a for a in service.asked if a.split(" ")[1].startswith("/access")]
    assert asked == ["GET /access", "POST /access/nonces", "POST /access/history"]


def test_no_access_is_proven_too(tmp_path: Path) -> None:
    """A holder nobody asked about sees the proof of none, with its checkpoint."""
    log = Log()
    log.batch([OTHER])
    page = _client(tmp_path, AccessService(log.history(ME))).get("/access-history")
    assert page.status_code == 200
    assert "Complete and verified as of checkpoint 2" in page.text
    assert "No organisation has fetched your information" in page.text


@pytest.mark.parametrize(
    ("tamper", "title", "code"),
    [
        (
            lambda h: replace(h, entries=h.entries[:-1]),
            "Your access history is incomplete",
            "access_history_incomplete",
        ),
        (
            lambda h: replace(
                h,
                entries=(
                    replace(
                        h.entries[0],
                        data=h.entries[0].data.replace(b"insurance_quote", b"insurance_quota"),
                    ),
                    *h.entries[1:],
                ),
            ),
            "Your access history could not be verified",
            "inclusion_proof_invalid",
        ),
    ],
)
def test_a_tampered_history_is_an_error_page_not_a_list(
    tmp_path: Path, tamper: Any, title: str, code: str
) -> None:
    """A history with an entry left out or altered shows what it means and what to do, with the
    code, and lists nothing."""
    page = _client(tmp_path, AccessService(tamper(_log().history(ME)))).get("/access-history")
    assert page.status_code == 502
    assert title in page.text
    assert "What this means" in page.text
    assert "What you can do" in page.text
    assert f"<code>{code}</code>" in page.text
    assert "consent-0" not in page.text
    assert "Complete and verified" not in page.text


def test_the_last_verified_checkpoint_is_named_when_a_later_one_fails(tmp_path: Path) -> None:
    """After one verified history, a later one that fails (an older checkpoint with today's map)
    names the last checkpoint the wallet verified."""
    log = _log()
    service = AccessService(log.history(ME))
    client = _client(tmp_path, service)
    assert client.get("/access-history").status_code == 200
    service.history = log.history(ME, size=4)
    page = client.get("/access-history")
    assert page.status_code == 502
    assert "could not be verified" in page.text
    assert "complete as of checkpoint 6" in page.text


def test_an_unreachable_platform_says_try_again(tmp_path: Path) -> None:
    """A platform that answers an error is "cannot be fetched right now", not a tampering."""
    page = _client(tmp_path, AccessService(None, status=503)).get("/access-history")
    assert page.status_code == 502
    assert "cannot be fetched right now" in page.text


def test_a_wallet_without_a_pid_is_told_to_add_one(tmp_path: Path) -> None:
    """Without a PID to prove who it is, the page says to add it and links there."""
    page = _client(tmp_path, AccessService(_log().history(ME)), pid=False).get("/access-history")
    assert "Add your identity credential first" in page.text
    assert 'href="/receive"' in page.text
