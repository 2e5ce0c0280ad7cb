"""Verifying a register download against checkpoints of its log: equal, older, newer, forged."""

from __future__ import annotations

from pathlib import Path

import pytest

from civicstack._crypto import PrivateKey
from civicstack.errors import CivicError
from civicstack.log import Checkpoint, MemoryTiles, NoteSigner, prove_consistency, sign_checkpoint
from civicstack.log.tiles import root_at
from civicstack.registers import Catalogue, Item, Scope, export_rsf
from civicstack.registers.verify import verify_download

GOOD = Path(__file__).resolve().parents[2] / "vectors" / "registers" / "good"
SHADE_ROOT = b"c7df63e1d127ee883d642fd472be9bfc2ff0d1b03eb42e85a3af4dbad5e5e4bf"
SIGNER = NoteSigner("civic.test/registers/shade", PrivateKey.generate("EdDSA"))


def _shade() -> tuple[bytes, list[bytes]]:
    """The shade register grown by two entries: its RSF and its log's leaves."""
    catalogue = Catalogue()
    catalogue.import_rsf({"shade": (GOOD / "shade.rsf").read_bytes()})
    register = catalogue.get("shade")
    batch = register.batch(name="shade")
    for key in ("grey", "black"):
        batch.append_items(Scope.USER, key, [Item.of({"shade": key})], now=1_767_225_600)
    register.commit(batch, catalogue)
    return "".join(export_rsf(register)).encode(), register.log_leaves()


def _checkpoint(tiles: MemoryTiles, size: int) -> str:
    return sign_checkpoint(Checkpoint(SIGNER.name, size, root_at(size, tiles)), [SIGNER])


def test_a_download_verifies_against_its_own_an_older_and_a_newer_checkpoint() -> None:
    """Same size: roots equal; older: the prefix is signed; newer: a consistency proof links."""
    rsf, leaves = _shade()
    tiles = MemoryTiles()
    tiles.append(0, leaves)
    trusted = [SIGNER.verifier]
    got = verify_download(rsf, _checkpoint(tiles, len(leaves)), trusted, name="shade")
    assert (got.method, got.size, got.records) == ("equal", 8, 4)
    older = verify_download(rsf, _checkpoint(tiles, 5), trusted, origin=SIGNER.name)
    assert (older.method, older.checkpoint.size) == ("prefix", 5)
    # A download of 6 entries checked against the checkpoint of all 8.
    short = b"".join(rsf.splitlines(keepends=True)[:-5])
    short += b"assert-root-hash\tsha-256:" + SHADE_ROOT + b"\n"
    newer = verify_download(
        short,
        _checkpoint(tiles, 8),
        trusted,
        consistency=lambda a, b: prove_consistency(a, b, tiles),
    )
    assert (newer.method, newer.size) == ("consistency", 6)


def test_forged_checkpoints_and_proofs_are_refused() -> None:
    """A root that differs, a bogus consistency proof, or an unknown key fail with their codes."""
    rsf, leaves = _shade()
    tiles = MemoryTiles()
    tiles.append(0, [*leaves[:5], b"another history", *leaves[6:], b"one more"])
    trusted = [SIGNER.verifier]
    for size in (8, 6):
        with pytest.raises(CivicError) as err:
            verify_download(rsf, _checkpoint(tiles, size), trusted)
        assert err.value.code == "root_hash_mismatch"
    honest = MemoryTiles()
    honest.append(0, [*leaves, b"one more"])
    # The true proof from 8 to 9 is the new leaf's hash; any other proof fails.
    good = verify_download(
        rsf,
        _checkpoint(honest, 9),
        trusted,
        consistency=lambda a, b: prove_consistency(a, b, honest),
    )
    assert good.method == "consistency"
    with pytest.raises(CivicError) as err:
        verify_download(
            rsf, _checkpoint(honest, 9), trusted, consistency=lambda a, b: [b"\x07" * 32]
        )
    assert err.value.code == "consistency_proof_invalid"
    stranger = NoteSigner(SIGNER.name, PrivateKey.generate("EdDSA"))
    with pytest.raises(CivicError) as err:
        verify_download(rsf, _checkpoint(honest, 8), [stranger.verifier])
    assert err.value.code == "untrusted_note"
