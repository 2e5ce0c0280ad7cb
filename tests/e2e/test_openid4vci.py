"""OpenID4VCI against a real ``civic up``: a client written only from the spec obtains
credentials (at once, by reference, deferred); the ``civic`` wallet receives them; parallel
redemptions succeed exactly once with two workers on SQLite and PostgreSQL; a restart loses
nothing."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from civicstack._crypto import PrivateKey
from tests.e2e.server import free_port, running_platform
from tests.e2e.spec_client import PRE_AUTH, HolderKey, SpecClientError, SpecWallet

pytestmark = pytest.mark.slow

PID = "urn:eudi:pid:1"
RTW = "urn:civicstack:right-to-work:1"
AMARA = {
    "given_name": "Amara",
    "family_name": "Okafor",
    "birthdate": "1990-05-17",
    "issuing_country": "GB",
}
RTW_CLAIMS = {
    "given_name": "Amara",
    "family_name": "Okafor",
    "right_to_work": True,
    "share_code": "W12345678",
}
PDF = b"%PDF-1.7\n% a scan of a passport\n"
ERROR_LINE = re.compile(r"error \[([a-z_]+)\] [^\n]+\n")


class Civic:
    """``civic`` in real processes against a running platform."""

    def __init__(self, data_dir: Path, server: str, **env: str) -> None:
        self.server = server
        self.env = {
            **os.environ,
            "CIVIC_DATA_DIR": str(data_dir),
            "CIVIC_WALLET_DIR": str(data_dir / "citizen-wallet"),
            "CIVIC_WALLET_PASSPHRASE": "correct horse battery staple",
            "CIVIC_SERVER": server,
            "COLUMNS": "200",
            **env,
        }
        self.env.pop("CIVIC_ADMIN_TOKEN", None)

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``civic ARGS``."""
        return subprocess.run(
            [sys.executable, "-m", "civicstack.cli.main", *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=timeout,
            check=False,
        )

    def popen(self, *args: str) -> subprocess.Popen[str]:
        """``civic ARGS`` in the background."""
        return subprocess.Popen(
            [sys.executable, "-m", "civicstack.cli.main", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )

    def json(self, *args: str) -> Any:
        """Run a command that must succeed with --json; its output."""
        done = self.run(*args, "--json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def fails(self, code: str, *args: str) -> None:
        """Run a command that must fail with exactly one ``error [code] ...`` line."""
        done = self.run(*args)
        assert done.returncode == 1, (done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        match = ERROR_LINE.search(done.stderr)
        assert match is not None, done.stderr
        assert match[1] == code, done.stderr

    def offer(
        self, issuer: str = "passport-office", claims: dict[str, Any] | None = None, *extra: str
    ) -> dict[str, Any]:
        """``civic authority offer`` for a PID: exactly {"offer", "tx_code"}."""
        out = self.json(
            "authority",
            "offer",
            "--issuer",
            issuer,
            "--vct",
            PID if issuer == "passport-office" else RTW,
            "--claims",
            json.dumps(claims or AMARA),
            *extra,
        )
        assert set(out) == {"offer", "tx_code"}
        return dict(out)


def _admin(data_dir: Path) -> dict[str, str]:
    return {"Authorization": f"Bearer {(data_dir / 'admin-token').read_text().strip()}"}


def _apply(base: str) -> dict[str, Any]:
    r = httpx.post(
        f"{base}/issuers/home-office/applications",
        data={"vct": RTW, "claims": json.dumps(RTW_CLAIMS)},
        files=[("documents", ("passport.pdf", PDF, "application/pdf"))],
    )
    assert r.status_code == 201, r.text
    return dict(r.json())


@pytest.fixture
def wallets() -> Iterator[Callable[[], SpecWallet]]:
    """Spec-only wallets, closed after the test."""
    made: list[SpecWallet] = []

    def make() -> SpecWallet:
        made.append(SpecWallet())
        return made[-1]

    yield make
    for wallet in made:
        wallet.http.close()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """One ``civic up`` (SQLite) shared by the flow tests of this module."""
    data_dir = tmp_path_factory.mktemp("platform")
    with running_platform(data_dir) as base:
        yield base, data_dir


# --- a client from the spec alone -----------------------------------------------------------------


def test_spec_client_obtains_a_credential(
    platform: tuple[str, Path], wallets: Callable[[], SpecWallet]
) -> None:
    """An offer from `civic authority offer`, redeemed by the spec-only client with its tx_code,
    yields an SD-JWT VC it verifies on its own against the issuer's published keys."""
    base, data_dir = platform
    offer = Civic(data_dir, base).offer()
    assert offer["offer"].startswith("openid-credential-offer://?credential_offer=")
    assert re.fullmatch(r"[0-9]{6}", offer["tx_code"])
    wallet = wallets()
    (credential,) = wallet.receive(offer["offer"], offer["tx_code"])
    claims = wallet.check_credential(credential, f"{base}/issuers/passport-office")
    assert claims["given_name"] == "Amara"
    assert claims["age_over_18"] is True
    assert claims["vct"] == PID


def test_spec_client_by_reference_with_a_batch(
    platform: tuple[str, Path], wallets: Callable[[], SpecWallet]
) -> None:
    """An offer by reference, and three proofs in one request: three credentials, each bound to
    its own key."""
    base, data_dir = platform
    offer = Civic(data_dir, base).offer("passport-office", None, "--by-reference", "--no-tx-code")
    assert offer["tx_code"] is None
    assert "credential_offer_uri=" in offer["offer"]
    wallet = wallets()
    session = wallet.discover(wallet.read_offer(offer["offer"]))
    wallet.token(session, None)
    keys = [HolderKey(), HolderKey(), HolderKey()]
    response = wallet.request_credential(session, keys=keys)
    assert response.status_code == 200, response.text
    credentials = [c["credential"] for c in response.json()["credentials"]]
    for credential, key in zip(credentials, keys, strict=True):
        wallet.check_credential(credential, f"{base}/issuers/passport-office", key)
    # the reference is spent with the code
    with pytest.raises(SpecClientError):
        wallet.read_offer(offer["offer"])


def test_spec_client_is_told_no_in_the_spec_s_words(
    platform: tuple[str, Path], wallets: Callable[[], SpecWallet]
) -> None:
    """Wrong tx_code, a reused nonce and a forged token get the spec's error codes."""
    base, data_dir = platform
    offer = Civic(data_dir, base).offer()
    wallet = wallets()
    session = wallet.discover(wallet.read_offer(offer["offer"]))
    with pytest.raises(SpecClientError) as caught:
        wallet.token(session, "000000" if offer["tx_code"] != "000000" else "111111")
    assert caught.value.error == "invalid_grant"
    wallet.token(session, offer["tx_code"])
    nonce = wallet.nonce(session)
    proof = wallet.key.key_proof(session.metadata["credential_issuer"], nonce)
    body = {"credential_configuration_id": PID, "proofs": {"jwt": [proof]}}
    forged = wallet.http.post(
        session.metadata["credential_endpoint"], json=body, headers={"Authorization": "Bearer x"}
    )
    assert forged.status_code == 401
    assert forged.json()["error"] == "invalid_token"
    auth = {"Authorization": f"Bearer {session.access_token}"}
    ok = wallet.http.post(session.metadata["credential_endpoint"], json=body, headers=auth)
    assert ok.status_code == 200
    other = Civic(data_dir, base).offer()
    second = wallet.discover(wallet.read_offer(other["offer"]))
    wallet.token(second, other["tx_code"])
    replay = wallet.http.post(
        session.metadata["credential_endpoint"],
        json=body,
        headers={"Authorization": f"Bearer {second.access_token}"},
    )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_nonce"


def test_spec_client_deferred_issuance(
    platform: tuple[str, Path], wallets: Callable[[], SpecWallet]
) -> None:
    """A citizen applies with a document; the spec client gets 202 and a transaction_id; after
    `civic authority approve` the deferred endpoint returns the credential."""
    base, data_dir = platform
    applied = _apply(base)
    wallet = wallets()
    session = wallet.discover(wallet.read_offer(applied["offer"]))
    wallet.token(session, applied["tx_code"])
    response = wallet.request_credential(session)
    assert response.status_code == 202, response.text
    transaction_id = response.json()["transaction_id"]
    assert wallet.deferred(session, transaction_id).status_code == 202
    civic = Civic(data_dir, base)
    queue = civic.json("authority", "applications", "--issuer", "home-office")
    assert applied["application"]["id"] in [a["id"] for a in queue]
    civic.json("authority", "approve", applied["application"]["id"], "--issuer", "home-office")
    response = wallet.deferred(session, transaction_id)
    assert response.status_code == 200, response.text
    (item,) = response.json()["credentials"]
    claims = wallet.check_credential(item["credential"], f"{base}/issuers/home-office")
    assert claims["share_code"] == "W12345678"
    again = wallet.deferred(session, transaction_id)
    assert again.json()["error"] == "invalid_transaction_id"


# --- the civic wallet -----------------------------------------------------------------------------


def test_civic_wallet_receives_and_presents(platform: tuple[str, Path], tmp_path: Path) -> None:
    """`civic wallet receive` takes an offer, pins the root on first use, stores the credential;
    a bad offer and a wrong tx code are one-line errors."""
    base, data_dir = platform
    civic = Civic(data_dir, base, CIVIC_WALLET_DIR=str(tmp_path / "wallet"))
    civic.json("wallet", "init")
    offer = civic.offer()
    done = civic.run(
        "wallet", "receive", offer["offer"], "--tx-code", offer["tx_code"], "--yes", "--json"
    )
    assert done.returncode == 0, done.stderr
    received = json.loads(done.stdout)
    assert received["status"] == "stored"
    (stored,) = received["credentials"]
    assert stored["claims"]["given_name"] == "Amara"
    assert "trusting HM Government" in done.stderr
    # the offer reads as English (issue 9 #17): "offers you a credential: <its type>"
    assert "offers you a credential: Person identification data" in " ".join(done.stderr.split())
    assert [c["id"] for c in civic.json("wallet", "list")] == [stored["id"]]
    civic.fails(
        "invalid_offer", "wallet", "receive", "openid-credential-offer://?nothing=1", "--yes"
    )
    again = civic.offer()
    civic.fails(
        "invalid_grant",
        "wallet",
        "receive",
        again["offer"],
        "--tx-code",
        "000000" if again["tx_code"] != "000000" else "111111",
        "--yes",
    )
    civic.fails("invalid_request", "wallet", "receive", again["offer"], "--yes")
    civic.fails("invalid_request", "wallet", "receive", again["offer"], "--tx-code", "123456")


def test_a_wallet_pinned_to_another_root_refuses_the_credential(
    platform: tuple[str, Path], tmp_path: Path
) -> None:
    """With --trust-root naming a root this platform does not chain to, the credential is
    refused as untrusted_issuer and nothing is stored."""
    base, data_dir = platform
    civic = Civic(data_dir, base, CIVIC_WALLET_DIR=str(tmp_path / "wallet"))
    civic.json("wallet", "init")
    elsewhere = {
        "id": "https://elsewhere.example/trust/root",
        "name": "Another Government",
        "jwks": {"keys": [PrivateKey.generate("EdDSA").public_key.to_jwk()]},
    }
    offer = civic.offer()
    civic.fails(
        "untrusted_issuer",
        "wallet",
        "receive",
        offer["offer"],
        "--tx-code",
        offer["tx_code"],
        "--yes",
        "--trust-root",
        json.dumps(elsewhere),
    )
    assert civic.json("wallet", "list") == []


def test_civic_wallet_applies_and_waits(platform: tuple[str, Path], tmp_path: Path) -> None:
    """`civic wallet apply`, then `receive --wait` in the background while an officer approves:
    the wallet stores the credential as soon as it is issued. A rejected one is reported."""
    base, data_dir = platform
    civic = Civic(data_dir, base, CIVIC_WALLET_DIR=str(tmp_path / "wallet"))
    civic.json("wallet", "init")
    document = tmp_path / "passport.pdf"
    document.write_bytes(PDF)
    applied = civic.json(
        "wallet",
        "apply",
        "--issuer",
        "home-office",
        "--vct",
        RTW,
        "--claims",
        json.dumps(RTW_CLAIMS),
        "--document",
        str(document),
    )
    assert applied["application"]["status"] == "pending"
    waiting = civic.popen(
        "wallet",
        "receive",
        applied["offer"],
        "--tx-code",
        applied["tx_code"],
        "--yes",
        "--wait",
        "--poll-interval",
        "0.5",
        "--timeout",
        "60",
        "--json",
    )
    shown = civic.json(
        "authority", "application", applied["application"]["id"], "--issuer", "home-office"
    )
    (doc,) = shown["documents"]
    out = tmp_path / "downloaded.pdf"
    civic.json(
        "authority",
        "document",
        shown["id"],
        doc["sha256"],
        "--issuer",
        "home-office",
        "--out",
        str(out),
    )
    assert out.read_bytes() == PDF
    civic.json(
        "authority",
        "approve",
        shown["id"],
        "--issuer",
        "home-office",
        "--reviewer",
        "Officer Jones",
    )
    stdout, stderr = waiting.communicate(timeout=90)
    assert waiting.returncode == 0, stderr
    result = json.loads(stdout)
    assert result["status"] == "stored"
    assert result["credentials"][0]["vct"] == RTW
    # a second application, rejected while the wallet keeps it pending
    applied = civic.json(
        "wallet",
        "apply",
        "--issuer",
        "home-office",
        "--vct",
        RTW,
        "--claims",
        json.dumps(RTW_CLAIMS),
    )
    pending = civic.json(
        "wallet", "receive", applied["offer"], "--tx-code", applied["tx_code"], "--yes"
    )
    assert pending["status"] == "pending"
    assert civic.json("wallet", "deferred") == [
        {"pending_id": pending["pending_id"], "status": "pending"}
    ]
    civic.json(
        "authority",
        "reject",
        applied["application"]["id"],
        "--issuer",
        "home-office",
        "--reason",
        "No document",
    )
    (refused,) = civic.json("wallet", "deferred")
    assert refused["status"] == "refused"
    assert refused["error"] == "credential_request_denied"
    assert civic.json("wallet", "deferred") == []


# --- concurrency and durability -------------------------------------------------------------


def _parallel(n: int, call: Callable[[], httpx.Response]) -> list[httpx.Response]:
    barrier = threading.Barrier(n)
    out: list[httpx.Response] = []
    lock = threading.Lock()

    def run() -> None:
        barrier.wait()
        response = call()
        with lock:
            out.append(response)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_parallel_redemptions_succeed_exactly_once(
    database_url: str, tmp_path: Path, wallets: Callable[[], SpecWallet]
) -> None:
    """With two workers, 16 simultaneous redemptions of one pre-authorized code give one token,
    and 16 simultaneous credential requests with one token and nonce give one credential."""
    env = {"CIVIC_DATABASE_URL": database_url}
    with running_platform(tmp_path, workers=2, env=env) as base:
        offer = Civic(tmp_path, base, **env).offer()
        wallet = wallets()
        session = wallet.discover(wallet.read_offer(offer["offer"]))
        grant = session.offer["grants"][PRE_AUTH]
        form = {
            "grant_type": PRE_AUTH,
            "pre-authorized_code": grant["pre-authorized_code"],
            "tx_code": offer["tx_code"],
        }
        with httpx.Client(timeout=60) as http:
            responses = _parallel(
                16, lambda: http.post(session.as_metadata["token_endpoint"], data=form)
            )
        assert sorted(r.status_code for r in responses) == [200] + [400] * 15
        assert {r.json()["error"] for r in responses if r.status_code == 400} == {"invalid_grant"}
        session.access_token = next(
            r.json()["access_token"] for r in responses if r.status_code == 200
        )
        nonce = wallet.nonce(session)
        proof = wallet.key.key_proof(session.metadata["credential_issuer"], nonce)
        body = {"credential_configuration_id": PID, "proofs": {"jwt": [proof]}}
        auth = {"Authorization": f"Bearer {session.access_token}"}
        with httpx.Client(timeout=60) as http:
            responses = _parallel(
                16,
                lambda: http.post(session.metadata["credential_endpoint"], json=body, headers=auth),
            )
        assert sorted(r.status_code for r in responses)[0] == 200
        assert [r.status_code for r in responses].count(200) == 1
        assert {r.json()["error"] for r in responses if r.status_code != 200} <= {
            "invalid_nonce",
            "invalid_token",
        }
        issued = httpx.get(
            f"{base}/issuers/passport-office/admin/credentials", headers=_admin(tmp_path)
        ).json()
        assert len(issued) == 1


def test_a_restart_loses_nothing(
    database_url: str, tmp_path: Path, wallets: Callable[[], SpecWallet]
) -> None:
    """Stop `civic up` mid-flow and start it again: the issued credential and its status entry,
    the pending application and the deferred transaction are all still there."""
    env = {"CIVIC_DATABASE_URL": database_url}
    port = free_port()
    with running_platform(tmp_path, env=env, port=port) as base:
        civic = Civic(tmp_path, base, **env)
        offer = civic.offer()
        wallet = wallets()
        (credential,) = wallet.receive(offer["offer"], offer["tx_code"])
        applied = _apply(base)
        deferred_wallet = wallets()
        session = deferred_wallet.discover(deferred_wallet.read_offer(applied["offer"]))
        deferred_wallet.token(session, applied["tx_code"])
        response = deferred_wallet.request_credential(session)
        assert response.status_code == 202
        transaction_id = response.json()["transaction_id"]
        issued_before = httpx.get(
            f"{base}/issuers/passport-office/admin/credentials", headers=_admin(tmp_path)
        ).json()
    with running_platform(tmp_path, env=env, port=port) as base:
        civic = Civic(tmp_path, base, **env)
        issued_after = httpx.get(
            f"{base}/issuers/passport-office/admin/credentials", headers=_admin(tmp_path)
        ).json()
        assert issued_after == issued_before
        queue = civic.json("authority", "applications", "--issuer", "home-office")
        assert [a["id"] for a in queue] == [applied["application"]["id"]]
        assert deferred_wallet.deferred(session, transaction_id).status_code == 202
        civic.json("authority", "approve", applied["application"]["id"], "--issuer", "home-office")
        response = deferred_wallet.deferred(session, transaction_id)
        assert response.status_code == 200, response.text
        (record,) = issued_after
        revoked = httpx.post(
            f"{base}/issuers/passport-office/admin/credentials/{record['id']}/status",
            json={"status": "revoked"},
            headers=_admin(tmp_path),
        )
        assert revoked.json()["state"] == "revoked"
        status = httpx.get(f"{base}/issuers/passport-office/status/{record['list_id']}")
        assert status.status_code == 200
        assert status.headers["content-type"] == "application/statuslist+jwt"
    assert credential.endswith("~")
