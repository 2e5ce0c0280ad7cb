"""The wallet's history: an append-only hash chain in the vault that notices tampering."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from civicstack.errors import CivicError
from civicstack.wallet.history import History
from civicstack.wallet.vault import Vault

FAST_KDF = {"name": "argon2id", "m": 1024, "t": 1, "p": 1}
PASS = "correct horse battery staple"


def _code(fn: Callable[[], object]) -> str:
    with pytest.raises(CivicError) as err:
        fn()
    return err.value.code


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    """A fresh vault."""
    return Vault.create(tmp_path / "w", PASS, kdf=FAST_KDF)


def test_history_appends_in_order(vault: Vault) -> None:
    """Appends number from 1 and read back in order, also after reopening."""
    assert [History(vault).append({"i": i}) for i in range(3)] == [1, 2, 3]
    assert History(Vault.open(vault.path, PASS)).entries() == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert History(vault).entries() == [{"i": 0}, {"i": 1}, {"i": 2}]


def _history(vault: Vault, name: str) -> Path:
    return vault.path / "history" / f"{name}.rec"


@pytest.mark.parametrize(
    "tamper",
    ["delete-middle", "delete-last", "swap", "delete-head", "replace-with-copy"],
)
def test_history_tampering_is_detected(vault: Vault, tamper: str) -> None:
    """Removing, reordering or replacing history records is wallet_corrupted."""
    for i in range(3):
        History(vault).append({"i": i})
    one, two, three = (_history(vault, f"{i:010d}") for i in (1, 2, 3))
    if tamper == "delete-middle":
        two.unlink()
    elif tamper == "delete-last":
        three.unlink()
    elif tamper == "swap":
        a, b = one.read_bytes(), two.read_bytes()
        one.write_bytes(b)
        two.write_bytes(a)
    elif tamper == "delete-head":
        _history(vault, "head").unlink()
    else:
        three.write_bytes(two.read_bytes())
    assert _code(History(vault).entries) == "wallet_corrupted"
    if tamper in ("delete-last", "replace-with-copy", "delete-head"):
        assert _code(lambda: History(vault).append({"i": 9})) == "wallet_corrupted"


def test_history_survives_a_crash_before_the_head_update(vault: Vault) -> None:
    """A record written but not yet pinned by the head is kept, and numbering continues."""
    History(vault).append({"i": 0})
    stale_head = _history(vault, "head").read_bytes()
    History(vault).append({"i": 1})
    _history(vault, "head").write_bytes(stale_head)  # as if we crashed after the link
    assert History(vault).entries() == [{"i": 0}, {"i": 1}]
    assert History(vault).append({"i": 2}) == 3
    assert History(vault).entries() == [{"i": 0}, {"i": 1}, {"i": 2}]


def test_two_handles_append_to_one_history(vault: Vault) -> None:
    """Two open handles on one wallet append without overwriting each other."""
    other = Vault.open(vault.path, PASS)
    assert History(vault).append({"from": "a"}) == 1
    assert History(other).append({"from": "b"}) == 2
    assert History(vault).append({"from": "a"}) == 3
    assert [e["from"] for e in History(other).entries()] == ["a", "b", "a"]
