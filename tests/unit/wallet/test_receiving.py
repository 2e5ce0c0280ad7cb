"""The wallet's part in OpenID4VCI: key proofs signed inside the wallet, pinned trust roots,
and deferred issuances kept encrypted until collected."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicstack._crypto import PrivateKey
from civicstack.errors import CivicError
from civicstack.openid4vci import verify_key_proof
from civicstack.testing import FixedClock
from civicstack.trust import RootAuthority
from civicstack.wallet import Wallet

FAST_KDF = {"name": "argon2id", "m": 1024, "t": 1, "p": 1}
PASS = "correct horse battery staple"
AUD = "https://gov.example/issuers/passport-office"


@pytest.fixture
def wallet(tmp_path: Path) -> Wallet:
    """A fresh wallet on a fixed clock."""
    return Wallet.create(tmp_path / "w", PASS, kdf=FAST_KDF, clock=FixedClock())


def test_the_wallet_signs_key_proofs_with_the_holder_key(wallet: Wallet) -> None:
    """The proof names the holder's public key and verifies as Appendix F.4 asks."""
    proof = wallet.sign_key_proof(audience=AUD, nonce="n-1")
    checked = verify_key_proof(proof, audience=AUD, now=FixedClock().now())
    assert checked.key == wallet.holder_key
    assert checked.nonce == "n-1"
    assert '"d"' not in proof
    with pytest.raises(CivicError):
        wallet.sign_key_proof(audience="", nonce=None)


def test_trust_anchors_are_pinned_once_and_survive_reopening(
    wallet: Wallet, tmp_path: Path
) -> None:
    """A pinned root is kept encrypted in the wallet; pinning it again changes nothing; a
    root with new keys under the same id replaces it."""
    key = PrivateKey.generate("EdDSA").public_key
    root = RootAuthority.create("https://gov.example/trust/root", "HM Government", [key])
    assert wallet.trust_anchors() == ()
    assert wallet.pin_trust_anchor(root) is True
    assert wallet.pin_trust_anchor(root) is False
    reopened = Wallet.open(tmp_path / "w", PASS)
    assert reopened.trust_anchors() == (root,)
    rotated = RootAuthority.create(root.id, root.name, [PrivateKey.generate("EdDSA").public_key])
    assert reopened.pin_trust_anchor(rotated) is True
    assert reopened.trust_anchors() == (rotated,)
    assert not any(b"HM Government" in p.read_bytes() for p in (tmp_path / "w").rglob("*.rec"))


def test_pending_issuances_are_kept_until_dropped(wallet: Wallet, tmp_path: Path) -> None:
    """A deferred issuance's token and transaction id are stored encrypted, listed, and
    forgotten when collected."""
    record = {
        "credential_issuer": AUD,
        "deferred_credential_endpoint": f"{AUD}/deferred_credential",
        "access_token": "secret-token",
        "transaction_id": "tx-1",
        "interval": 60,
        "created_at": 1,
    }
    pending_id = wallet.save_pending(record)
    (kept,) = Wallet.open(tmp_path / "w", PASS).pending()
    assert kept == {**record, "id": pending_id}
    assert not any(
        b"secret-token" in p.read_bytes() for p in (tmp_path / "w").rglob("*") if p.is_file()
    )
    wallet.drop_pending(pending_id)
    assert wallet.pending() == ()
    with pytest.raises(CivicError):
        wallet.drop_pending(pending_id)
