"""A citizen's access history: a complete one verifies; a left-out, altered, hidden or
foreign entry, a stale or missing map root, a wrong map proof and a rollback each fail with
their own code."""

from __future__ import annotations

from dataclasses import replace

import pytest

from civicstack._crypto import PrivateKey
from civicstack.access import (
    ChainHead,
    SubjectMapRoot,
    chained,
    head_value,
    map_key,
    subject_key,
)
from civicstack.access.history import ProvenLeaf, SubjectHistory, verify_history
from civicstack.access.subject_map import MapProof, MemoryMapNodes, prove_map
from civicstack.errors import CivicError
from civicstack.log import Checkpoint, MemoryTiles, NoteSigner, sign_checkpoint
from civicstack.log.tiles import prove_inclusion, root_at
from tests.accesses import insurer_access

SIGNER = NoteSigner("example.org/access", PrivateKey.ed25519_from_seed(bytes(32)))
ME, OTHER = "me-handle", "other-handle"


class Log:
    """An access log in memory, written as the store writes it: batches, then a map root."""

    def __init__(self) -> None:
        self.tiles = MemoryTiles()
        self.leaves: list[bytes] = []
        self.heads: dict[str, ChainHead] = {}
        self.indices: dict[str, list[int]] = {}
        self.map = MemoryMapNodes()

    def batch(self, subjects: list[str | None], *, skip_map: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        out: list[bytes] = []
        for n, subject in enumerate(subjects):
            entry = insurer_access(len(self.leaves) + n)
            if subject is None:
                entry = replace(entry, outcome="refused", refusal="consent_missing", consent=None)
            data, head = chained(entry, subject, self.heads.get(subject or "", ChainHead()))
            if subject is not None:
                self.heads[subject] = head
                self.indices.setdefault(subject, []).append(len(self.leaves) + len(out))
            out.append(data)
        updates = {
            map_key(subject_key(s)): head_value(subject_key(s), self.heads[s])
            for s in {s for s in subjects if s is not None and s not in skip_map}
        }
        root = self.map.update(updates)
        out.append(SubjectMapRoot(root).to_bytes())
        self.tiles.append(len(self.leaves), out)
        self.leaves += out

    def history(self, subject: str, size: int | None = None) -> SubjectHistory:
        size = len(self.leaves) if size is None else size
        note = sign_checkpoint(Checkpoint(SIGNER.name, size, root_at(size, self.tiles)), [SIGNER])

        def proven(i: int) -> ProvenLeaf:
            return ProvenLeaf(i, self.leaves[i], tuple(prove_inclusion(i, size, self.tiles)))

        _, proof = prove_map(self.map, map_key(subject_key(subject)))
        return SubjectHistory(
            subject,
            note,
            tuple(proven(i) for i in self.indices.get(subject, []) if i < size),
            proven(size - 1) if size else None,
            proof,
        )


def _log() -> Log:
    log = Log()
    log.batch([ME, OTHER, None])
    log.batch([OTHER])
    log.batch([ME, ME, OTHER])
    log.batch([ME])
    return log


def _code(history: SubjectHistory, **kw: object) -> str:
    with pytest.raises(CivicError) as caught:
        verify_history(history, [SIGNER.verifier], **kw)  # type: ignore[arg-type]
    return caught.value.code


def test_a_complete_history_verifies() -> None:
    """Every entry about the citizen, in order, with the map's head: complete."""
    log = _log()
    got = verify_history(log.history(ME), [SIGNER.verifier])
    assert [e.index for e in got.entries] == log.indices[ME]
    assert got.head.count == 4
    assert got.checkpoint.size == len(log.leaves)


def test_the_history_round_trips_through_its_wire_form() -> None:
    """to_json/from_json keep every byte the verification needs."""
    history = _log().history(ME)
    assert SubjectHistory.from_json(history.to_json()) == history


def test_a_citizen_without_entries_is_proven_absent() -> None:
    """No entry and a map proof of absence: complete and empty."""
    got = verify_history(_log().history("stranger"), [SIGNER.verifier])
    assert got.entries == ()
    assert got.head == ChainHead()


def test_a_left_out_entry_is_detected() -> None:
    """Dropping an entry from the middle, or the newest one, is incomplete."""
    history = _log().history(ME)
    middle = replace(history, entries=history.entries[:1] + history.entries[2:])
    assert _code(middle) == "access_history_incomplete"
    newest = replace(history, entries=history.entries[:-1])
    assert _code(newest) == "access_history_incomplete"


def test_an_altered_entry_fails_its_inclusion_proof() -> None:
    """An entry whose bytes changed (its purpose) no longer leads to the checkpoint's root."""
    history = _log().history(ME)
    first = history.entries[0]
    altered = replace(first, data=first.data.replace(b"insurance_quote", b"insurance_quota"))
    bad = replace(history, entries=(altered, *history.entries[1:]))
    assert _code(bad) == "inclusion_proof_invalid"


def test_an_entry_hidden_from_the_map_is_detected() -> None:
    """A batch whose map update leaves the citizen's head behind makes the map disagree."""
    log = _log()
    log.batch([ME], skip_map={ME})
    assert _code(log.history(ME)) == "access_history_incomplete"


def test_a_stale_map_root_is_refused() -> None:
    """A map root that is not the checkpoint's last leaf (an older one) is refused."""
    log = _log()
    history = log.history(ME)
    old = log.history(ME, size=log.indices[ME][0] + 2)
    assert old.map_root is not None
    stale = replace(history, map_root=replace(old.map_root, proof=history.entries[0].proof))
    assert _code(stale) == "map_root_missing"


def test_a_wrong_map_proof_is_refused() -> None:
    """Another key's proof, or none, does not pass for the citizen's."""
    log = _log()
    history = log.history(ME)
    theirs = log.history(OTHER).map_proof
    assert _code(replace(history, map_proof=theirs)) == "map_proof_invalid"
    assert _code(replace(history, map_proof=MapProof((), None))) == "map_proof_invalid"


def test_another_citizens_entry_is_not_mine() -> None:
    """An entry of another chain in the list breaks the citizen's chain."""
    log = _log()
    history = log.history(ME)
    theirs = log.history(OTHER).entries[0]
    assert _code(replace(history, entries=(theirs, *history.entries[1:]))) == (
        "access_history_incomplete"
    )


def test_a_rollback_against_the_last_verified_head_is_refused() -> None:
    """A history that no longer extends the head the wallet verified before is refused."""
    log = _log()
    before = verify_history(log.history(ME), [SIGNER.verifier]).head
    assert verify_history(log.history(ME), [SIGNER.verifier], known=before).head == before
    longer = ChainHead(before.count + 1, before.last)
    assert _code(log.history(ME), known=longer) == "access_history_rollback"


def test_an_untrusted_checkpoint_is_refused() -> None:
    """A checkpoint signed by another key is refused before anything else is read."""
    other = NoteSigner("example.org/access", PrivateKey.ed25519_from_seed(bytes([1]) * 32))
    with pytest.raises(CivicError) as caught:
        verify_history(_log().history(ME), [other.verifier])
    assert caught.value.code in {"untrusted_note", "invalid_signature"}


def test_hostile_wire_forms_are_refused() -> None:
    """Unknown members, too many entries and bad hashes are malformed or too large."""
    wire = _log().history(ME).to_json()
    for bad in (
        {**wire, "extra": 1},
        {**wire, "entries": [wire["entries"][0]] * 10_001},
        {**wire, "map_proof": {"siblings": ["AAAA"], "leaf": None}},
        {**wire, "entries": [{**wire["entries"][0], "index": -1}]},
        [],
    ):
        with pytest.raises(CivicError) as caught:
            SubjectHistory.from_json(bad)
        assert caught.value.code in {"malformed", "too_large"}
