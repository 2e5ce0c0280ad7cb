"""Copies of a credential in the wallet: a key of their own each, stored as one credential,
settings for how many to ask for, and keys destroyed with the credential."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicstack._crypto import PrivateKey
from civicstack.credentials import issue_credential
from civicstack.errors import CivicError
from civicstack.openid4vci import verify_key_proof
from civicstack.testing import T0, FixedClock
from civicstack.wallet import Wallet, WalletSettings

FAST_KDF = {"name": "argon2id", "m": 1024, "t": 1, "p": 1}
PASS = "correct horse battery staple"
AUD = "https://gov.example/issuers/passport-office"
ISSUER = PrivateKey.generate("EdDSA")


@pytest.fixture
def wallet(tmp_path: Path) -> Wallet:
    """A fresh wallet on a fixed clock."""
    return Wallet.create(tmp_path / "w", PASS, kdf=FAST_KDF, clock=FixedClock(T0))


def _copies(wallet: Wallet, count: int, **claims: str) -> list[str]:
    """``count`` copies issued to fresh wallet keys, as an issuer reading the proofs would."""
    key_ids = wallet.new_copy_keys(count)
    proofs = wallet.sign_key_proofs(key_ids, audience=AUD, nonce="n")
    return [
        issue_credential(
            ISSUER,
            iss="https://passport.example",
            vct="urn:example:card",
            claims={"given_name": "Erika", **claims},
            holder=verify_key_proof(p, audience=AUD, now=T0).key,
            iat=T0,
        )
        for p in proofs
    ]


def test_copies_are_bound_to_distinct_keys_and_stored_as_one(
    wallet: Wallet, tmp_path: Path
) -> None:
    """Three proofs name three keys, none the holder key; the copies are one credential with
    three unused copies, the keys survive reopening and never appear in clear."""
    stored = wallet.add_copies(_copies(wallet, 3))
    assert [c.index for c in stored.copies] == [0, 1, 2]
    assert len({c.key for c in stored.copies}) == 3
    assert stored.own_keys
    assert stored.unused_copies == 3
    assert [c.id for c in Wallet.open(tmp_path / "w", PASS).credentials()] == [stored.id]
    assert not any(b'"d"' in p.read_bytes() for p in (tmp_path / "w").rglob("*.rec"))


def test_copies_of_different_credentials_or_foreign_keys_are_refused(wallet: Wallet) -> None:
    """Copies must say the same thing and be bound to this wallet's keys."""
    one, two = _copies(wallet, 1), _copies(wallet, 1, family_name="Other")
    with pytest.raises(CivicError) as err:
        wallet.add_copies([*one, *two])
    assert err.value.code == "invalid_credential"
    foreign = issue_credential(
        ISSUER,
        iss="https://passport.example",
        vct="urn:example:card",
        claims={"a": "b"},
        holder=PrivateKey.generate().public_key,
        iat=T0,
    )
    with pytest.raises(CivicError) as err:
        wallet.add_copies([foreign])
    assert err.value.code == "invalid_credential"
    with pytest.raises(CivicError) as err:
        wallet.add_copies([])
    assert err.value.code == "malformed"


def test_removing_a_credential_destroys_its_copy_keys(wallet: Wallet, tmp_path: Path) -> None:
    """A removed credential leaves no key behind; discarded keys of a failed issuance go too."""
    stored = wallet.add_copies(_copies(wallet, 2))
    unused = wallet.new_copy_keys(2)
    wallet.discard_copy_keys(unused)
    keys = sorted(p.name for p in (tmp_path / "w" / "meta").glob("key-*.rec"))
    assert len(keys) == 2
    wallet.remove_credential(stored.id)
    assert not list((tmp_path / "w" / "meta").glob("key-*.rec"))


def test_batch_size_is_a_setting_within_limits(wallet: Wallet, tmp_path: Path) -> None:
    """The batch size defaults to 5, can be changed (and is kept), and must be 1 to 20."""
    assert wallet.settings == WalletSettings(batch_size=5, low_copies=1)
    wallet.change_settings(batch_size=3, low_copies=2)
    assert Wallet.open(tmp_path / "w", PASS).settings == WalletSettings(3, 2)
    for bad in (0, 21, -1):
        with pytest.raises(CivicError) as err:
            wallet.change_settings(batch_size=bad)
        assert err.value.code == "invalid_request"
    with pytest.raises(CivicError):
        wallet.new_copy_keys(0)
