"""The wallet's pull of its access history: a verified history pins the log's key and the
holder's handle and head; another key, another handle or a shorter history later is refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from civicstack._crypto import PrivateKey
from civicstack.access.history import SubjectHistory
from civicstack.credential_types import pid_claims
from civicstack.errors import CivicError
from civicstack.log import NoteSigner
from civicstack.testing import World
from civicstack.wallet import Wallet
from civicstack.wallet.access_history import pull_access_history
from tests.unit.access.test_history import ME, OTHER, SIGNER, Log

AUD = "https://civic.example/access"


def _wallet(tmp_path: Path) -> Wallet:
    world = World.populated()
    wallet = world.wallet(tmp_path / "wallet")
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
    return wallet


class Platform:
    """The two routes, answering ``history`` (and recording what the wallet sent)."""

    def __init__(self, history: SubjectHistory) -> None:
        self.history = history
        self.bodies: list[Any] = []

    def post(self, path: str, body: Any) -> Any:
        self.bodies.append(body)
        if path == "/access/nonces":
            return {"nonce": "n-1", "aud": AUD, "expires_at": 0}
        assert path == "/access/history"
        return self.history.to_json()


def _log(batches: int) -> Log:
    log = Log()
    for _ in range(batches):
        log.batch([ME, OTHER])
    return log


def _pull(wallet: Wallet, history: SubjectHistory, **kw: Any) -> Any:
    return pull_access_history(
        wallet, Platform(history).post, verifier_key=SIGNER.verifier.vkey, **kw
    )


def _code(wallet: Wallet, history: SubjectHistory, **kw: Any) -> str:
    with pytest.raises(CivicError) as caught:
        _pull(wallet, history, **kw)
    return caught.value.code


def test_a_verified_history_is_remembered(tmp_path: Path) -> None:
    """The wallet presents its PID to the access service, verifies, and keeps key and head."""
    wallet = _wallet(tmp_path)
    platform = Platform(_log(3).history(ME))
    got = pull_access_history(wallet, platform.post, verifier_key=SIGNER.verifier.vkey)
    assert got.head.count == 3
    assert platform.bodies[1]["nonce"] == "n-1"
    assert "~" in platform.bodies[1]["presentation"]  # an SD-JWT presentation
    state = wallet.access_log_state()
    assert state is not None
    assert (state["verifier_key"], state["log_subject"], state["count"]) == (
        SIGNER.verifier.vkey,
        ME,
        3,
    )
    assert _pull(wallet, _log(4).history(ME)).head.count == 4


def test_a_shorter_history_later_is_a_rollback(tmp_path: Path) -> None:
    """After verifying 3 entries, a history of 2 is refused."""
    wallet = _wallet(tmp_path)
    _pull(wallet, _log(3).history(ME))
    assert _code(wallet, _log(2).history(ME)) == "access_history_rollback"


def test_another_handle_later_is_refused(tmp_path: Path) -> None:
    """After verifying its own handle's history, a history of another handle is refused."""
    wallet = _wallet(tmp_path)
    _pull(wallet, _log(1).history(ME))
    assert _code(wallet, _log(1).history(OTHER)) == "wrong_subject"


def test_the_pinned_key_outlives_the_advertised_one(tmp_path: Path) -> None:
    """Once pinned, the log's key is used whatever the platform advertises; --key overrides."""
    wallet = _wallet(tmp_path)
    _pull(wallet, _log(1).history(ME))
    other = NoteSigner(SIGNER.name, PrivateKey.ed25519_from_seed(bytes([9]) * 32))
    # The platform now advertises another key: the pinned one is still the one used.
    advertised = pull_access_history(
        wallet, Platform(_log(2).history(ME)).post, verifier_key=other.verifier.vkey
    )
    assert advertised.head.count == 2
    # Told to trust only the other key, the log's checkpoint is not trusted.
    with pytest.raises(CivicError) as caught:
        pull_access_history(
            wallet,
            Platform(_log(2).history(ME)).post,
            verifier_key=other.verifier.vkey,
            trusted_keys=[other.verifier.vkey],
        )
    assert caught.value.code == "untrusted_note"
