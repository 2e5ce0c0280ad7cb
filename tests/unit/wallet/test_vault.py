"""The wallet directory: sealed keys, encrypted records, atomic writes, the chained history."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from civicstack._crypto import b64url_decode
from civicstack.errors import CivicError
from civicstack.wallet.history import History
from civicstack.wallet.vault import HEADER, Vault

FAST_KDF = {"name": "argon2id", "m": 1024, "t": 1, "p": 1}
PASS = "correct horse battery staple"


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    """A fresh wallet directory with fast (test-only) KDF parameters."""
    return Vault.create(tmp_path / "w", PASS, kdf=FAST_KDF)


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_create_and_open(tmp_path: Path, alg: str) -> None:
    """A created wallet opens with its passphrase to the same holder key."""
    made = Vault.create(
        tmp_path / "w", PASS, alg="EdDSA" if alg == "EdDSA" else "ES256", kdf=FAST_KDF
    )
    opened = Vault.open(tmp_path / "w", PASS)
    assert opened.holder.public_key == made.holder.public_key
    assert opened.holder.alg == alg


def test_open_failures(tmp_path: Path, vault: Vault) -> None:
    """Missing wallet, wrong passphrase and an existing wallet each have their code."""
    assert _code(lambda: Vault.open(tmp_path / "nowhere", PASS)) == "no_wallet"
    assert _code(lambda: Vault.open(vault.path, "wrong")) == "wrong_passphrase"
    assert _code(lambda: Vault.create(vault.path, PASS, kdf=FAST_KDF)) == "wallet_exists"
    assert _code(lambda: Vault.create(tmp_path / "x", "", kdf=FAST_KDF)) == "invalid_request"


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"not json", "wallet_corrupted"),
        (b"[]", "wallet_corrupted"),
        (b'{"format": "something-else", "v": 1}', "wallet_corrupted"),
        (b'{"format": "civicstack-wallet", "v": 2}', "unsupported"),
        (
            b'{"format": "civicstack-wallet", "v": 1, "holder_key": 1, "data_key": {}}',
            "wallet_corrupted",
        ),
        (b"x" * 20_000, "wallet_corrupted"),
    ],
)
def test_damaged_header(vault: Vault, content: bytes, code: str) -> None:
    """A damaged wallet.json gives a clear coded error, never a traceback."""
    (vault.path / HEADER).write_bytes(content)
    assert _code(lambda: Vault.open(vault.path, PASS)) == code


def test_damaged_sealed_keys(vault: Vault) -> None:
    """Damage to either sealed key, with the right passphrase, is wallet_corrupted."""
    header = json.loads((vault.path / HEADER).read_bytes())
    for member, field in (("data_key", "nonce"), ("holder_key", "ct"), ("data_key", "kind")):
        damaged = {**header, member: {**header[member], field: "AAAA"}}
        (vault.path / HEADER).write_text(json.dumps(damaged))
        assert _code(lambda: Vault.open(vault.path, PASS)) == "wallet_corrupted"


def test_holder_key_swapped_from_another_wallet(tmp_path: Path) -> None:
    """A sealed holder key copied from another wallet with the same passphrase is detected."""
    a = Vault.create(tmp_path / "a", PASS, kdf=FAST_KDF)
    b = Vault.create(tmp_path / "b", PASS, kdf=FAST_KDF)
    header_a = json.loads((a.path / HEADER).read_bytes())
    header_b = json.loads((b.path / HEADER).read_bytes())
    header_a["holder_key"] = header_b["holder_key"]
    (a.path / HEADER).write_text(json.dumps(header_a))
    assert _code(lambda: Vault.open(a.path, PASS)) == "wallet_corrupted"


def test_change_passphrase(vault: Vault) -> None:
    """After a passphrase change the old one fails, the new one opens, records survive."""
    vault.put("credentials", "c1", {"x": 1})
    vault.change_passphrase("new passphrase", kdf=FAST_KDF)
    assert _code(lambda: Vault.open(vault.path, PASS)) == "wrong_passphrase"
    again = Vault.open(vault.path, "new passphrase")
    assert again.get("credentials", "c1") == {"x": 1}
    assert again.holder.public_key == vault.holder.public_key


def test_records(vault: Vault) -> None:
    """Records are stored, listed, read, replaced only on request, and deleted."""
    vault.put("credentials", "b", {"n": 2})
    vault.put("credentials", "a", {"n": 1})
    assert vault.names("credentials") == ["a", "b"]
    assert vault.get("credentials", "a") == {"n": 1}
    assert _code(lambda: vault.put("credentials", "a", {"n": 3})) == "conflict"
    vault.put("credentials", "a", {"n": 3}, replace=True)
    assert vault.get("credentials", "a") == {"n": 3}
    vault.delete("credentials", "a")
    assert vault.names("credentials") == ["b"]
    assert _code(lambda: vault.get("credentials", "a")) == "not_found"
    assert _code(lambda: vault.delete("credentials", "a")) == "not_found"


@pytest.mark.parametrize("name", ["../wallet", "a/b", "", "x" * 65, "a.b", "é"])
def test_record_names_cannot_escape(vault: Vault, name: str) -> None:
    """Record names are plain tokens: no path can be smuggled through them."""
    assert _code(lambda: vault.put("credentials", name, {})) == "malformed"


def test_records_are_encrypted_and_private(vault: Vault) -> None:
    """Nothing personal is on disk in clear: not the values, not the holder's public key."""
    vault.put("credentials", "c1", {"given_name": "Erika Mustermann"})
    History(vault).append({"relying_party": "https://shop.example"})
    x = b64url_decode(vault.holder.public_key.to_jwk()["x"])
    for path in vault.path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"Erika" not in data
            assert b"shop.example" not in data
            assert x not in data
            assert vault.holder.public_key.to_jwk()["x"].encode() not in data
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(vault.path.stat().st_mode) == 0o700
    assert not list(vault.path.rglob("*.tmp"))


def test_swapped_record_is_detected(vault: Vault) -> None:
    """A record file copied over another slot fails to open: wallet_corrupted."""
    vault.put("credentials", "a", {"n": 1})
    vault.put("credentials", "b", {"n": 2})
    shutil.copy(vault.path / "credentials" / "a.rec", vault.path / "credentials" / "b.rec")
    assert _code(lambda: vault.get("credentials", "b")) == "wallet_corrupted"


def test_flipped_byte_is_detected(vault: Vault) -> None:
    """A record with one flipped byte is wallet_corrupted."""
    vault.put("credentials", "a", {"n": 1})
    path = vault.path / "credentials" / "a.rec"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))
    assert _code(lambda: vault.get("credentials", "a")) == "wallet_corrupted"


def test_unwritable_directory_gives_io_error(vault: Vault) -> None:
    """A write that the file system refuses is io_error, not a traceback."""
    if os.geteuid() == 0:
        shutil.rmtree(vault.path / "credentials")  # root ignores permissions: remove the dir
    else:
        os.chmod(vault.path / "credentials", 0o500)
    assert _code(lambda: vault.put("credentials", "a", {})) == "io_error"
