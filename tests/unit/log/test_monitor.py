"""The log monitor's protocol over an in-memory log: a good log, a forked one, a rolled-back one."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from civicstack._crypto import PrivateKey
from civicstack.errors import VerificationError
from civicstack.log import (
    Checkpoint,
    MemoryTiles,
    NoteSigner,
    prove_consistency,
    root_at,
    sign_checkpoint,
)
from civicstack.log.monitor import ConsistentCheckpoints, check_checkpoint

ORIGIN = "example.com/monitored"
SIGNER = NoteSigner(ORIGIN, PrivateKey.generate("EdDSA"))
TRUSTED = [SIGNER.verifier]


class MemoryLog:
    """A log kept in memory that serves signed checkpoints and consistency proofs; it can be
    forked (rewritten after an entry) or rolled back (truncated) as a misbehaving log would."""

    def __init__(self, entries: Sequence[bytes] = (), *, signer: NoteSigner = SIGNER) -> None:
        self.entries = list(entries)
        self.signer = signer
        self.proofs = 0

    def add(self, *entries: bytes) -> None:
        self.entries += entries

    def _tiles(self) -> MemoryTiles:
        tiles = MemoryTiles()
        if self.entries:
            tiles.append(0, self.entries)
        return tiles

    def checkpoint(self) -> bytes:
        size = len(self.entries)
        root = root_at(size, self._tiles())
        return sign_checkpoint(Checkpoint(self.signer.name, size, root), [self.signer]).encode()

    def prove(self, origin: str, first: int, second: int) -> tuple[list[bytes], str]:
        assert origin == self.signer.name
        self.proofs += 1
        return prove_consistency(first, second, self._tiles()), "memory"


class Kept:
    """The monitor's state, in memory."""

    def __init__(self, note: bytes | None = None) -> None:
        self.note = note

    def last_seen(self) -> bytes | None:
        return self.note

    def remember(self, note: bytes) -> None:
        self.note = note


def _entries(n: int, tag: bytes = b"entry") -> list[bytes]:
    return [b"%s %d" % (tag, i) for i in range(n)]


def test_a_growing_log_is_followed_checkpoint_by_checkpoint() -> None:
    """Each newer checkpoint of an honest log is proved to extend the last one, and kept."""
    log, kept = MemoryLog(_entries(3)), Kept()
    first = check_checkpoint(kept, log, TRUSTED, log.prove)
    assert (first.older.size, first.newer.size, first.proof_source) == (3, 3, "first seen")
    for grown in (5, 17, 300):
        log.add(*_entries(grown - len(log.entries), b"more %d" % grown))
        got = check_checkpoint(kept, log, TRUSTED, log.prove)
        assert isinstance(got, ConsistentCheckpoints)
        assert (got.origin, got.newer.size, got.proof_source) == (ORIGIN, grown, "memory")
        assert not got.rolled_back
        assert kept.note == log.checkpoint()


def test_an_unchanged_log_needs_no_proof() -> None:
    """The same checkpoint twice is consistent without asking for a proof."""
    log = MemoryLog(_entries(4))
    kept = Kept(log.checkpoint())
    got = check_checkpoint(kept, log, TRUSTED, log.prove)
    assert (got.older.size, got.newer.size, got.proof_source, log.proofs) == (
        4,
        4,
        "none needed",
        0,
    )


def test_a_forked_log_is_caught_and_nothing_is_kept() -> None:
    """A log that rewrote an entry it had shown cannot prove itself an extension of it."""
    honest = MemoryLog(_entries(8))
    kept = Kept(honest.checkpoint())
    forked = MemoryLog([*_entries(5), b"rewritten", *_entries(10)[6:]])
    with pytest.raises(VerificationError) as err:
        check_checkpoint(kept, forked, TRUSTED, forked.prove)
    assert err.value.code == "consistency_proof_invalid"
    assert "INCONSISTENT" in err.value.detail
    assert kept.note == honest.checkpoint()
    # Same size, another root: a fork needs no proof to be seen.
    split = MemoryLog([*_entries(7), b"other"])
    with pytest.raises(VerificationError) as err:
        check_checkpoint(kept, split, TRUSTED, split.prove)
    assert err.value.code == "split_view"


def test_a_rolled_back_log_is_reported_and_the_state_never_moves_back() -> None:
    """A log serving an older state is flagged (the state is kept); one rolled back and then
    regrown with other entries is inconsistent."""
    log = MemoryLog(_entries(12))
    kept = Kept(log.checkpoint())
    seen = kept.note
    rolled = MemoryLog(log.entries[:6])
    # The rolled-back log cannot prove up to 12 entries; a mirror of what it showed can.
    got = check_checkpoint(kept, rolled, TRUSTED, log.prove)
    assert got.rolled_back
    assert (got.older.size, got.newer.size) == (6, 12)
    assert kept.note == seen
    rolled.add(*_entries(10, b"regrown"))
    with pytest.raises(VerificationError) as err:
        check_checkpoint(kept, rolled, TRUSTED, rolled.prove)
    assert err.value.code == "consistency_proof_invalid"
    assert kept.note == seen


def test_checkpoints_must_be_trusted_and_of_one_log() -> None:
    """An untrusted signature, or a checkpoint of another log, is refused before any proof."""
    log = MemoryLog(_entries(3))
    stranger = MemoryLog(_entries(3), signer=NoteSigner(ORIGIN, PrivateKey.generate("EdDSA")))
    with pytest.raises(VerificationError) as err:
        check_checkpoint(Kept(log.checkpoint()), stranger, TRUSTED, stranger.prove)
    assert err.value.code == "untrusted_note"
    other_signer = NoteSigner("example.com/other", PrivateKey.generate("EdDSA"))
    other = MemoryLog(_entries(3), signer=other_signer)
    with pytest.raises(VerificationError) as err:
        check_checkpoint(
            Kept(log.checkpoint()), other, [*TRUSTED, other_signer.verifier], other.prove
        )
    assert err.value.code == "origin_mismatch"
    assert log.proofs == other.proofs == 0
