"""The platform's key-encryption key: from CIVIC_MASTER_KEY, or generated once, private."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from civicstack.errors import CivicError
from civicstack.platform import Platform
from civicstack.settings import Settings

KEY = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"


def _platform(tmp_path: Path, **env: str) -> Platform:
    return Platform(Settings.from_env({"CIVIC_DATA_DIR": str(tmp_path), **env}))


def test_generated_once_with_mode_0600(tmp_path: Path) -> None:
    """Without CIVIC_MASTER_KEY a random key is written to <data dir>/master-key, readable by
    its owner only, and every later platform reads the same key."""
    first = _platform(tmp_path).master_key
    path = tmp_path / "master-key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first) == 32
    assert _platform(tmp_path).master_key == first


def test_environment_wins(tmp_path: Path) -> None:
    """CIVIC_MASTER_KEY is used as given and nothing is written to the data dir."""
    assert _platform(tmp_path, CIVIC_MASTER_KEY=KEY).master_key == bytes(range(32))
    assert not (tmp_path / "master-key").exists()


@pytest.mark.parametrize("bad", ["short", "!!!not base64!!!", KEY + "AAAA"])
def test_a_bad_key_is_refused(tmp_path: Path, bad: str) -> None:
    """A master key that is not 32 bytes of base64url is an invalid_key error."""
    with pytest.raises(CivicError) as err:
        _ = _platform(tmp_path, CIVIC_MASTER_KEY=bad).master_key
    assert err.value.code == "invalid_key"


def test_wallet_dir_defaults_into_the_data_dir(tmp_path: Path) -> None:
    """CIVIC_WALLET_DIR defaults to <data dir>/wallet and can be set apart."""
    assert Settings.from_env({"CIVIC_DATA_DIR": str(tmp_path)}).wallet_dir == tmp_path / "wallet"
    moved = Settings.from_env({"CIVIC_DATA_DIR": str(tmp_path), "CIVIC_WALLET_DIR": "/w"})
    assert moved.wallet_dir == Path("/w")
