"""The subject map (sparse Merkle tree): proofs verify for any key set, absent keys are proven
absent, a tampered byte is always refused, and batched updates equal one-by-one updates."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicstack.access.subject_map import (
    KEY_BITS,
    MAP_EMPTY,
    MapLeaf,
    MapProof,
    MemoryMapNodes,
    prove_map,
    update_map,
    verify_map_proof,
)
from civicstack.errors import InputError, VerificationError

keys = st.binary(min_size=32, max_size=32)
values = st.binary(min_size=32, max_size=32)


def _key(n: int) -> bytes:
    return hashlib.sha256(n.to_bytes(8, "big")).digest()


def test_an_empty_map_has_the_empty_root_and_proves_every_key_absent() -> None:
    """The empty map's root is 32 zero bytes; a proof with no hashes shows any key absent."""
    nodes = MemoryMapNodes()
    root, proof = prove_map(nodes, _key(1))
    assert root == MAP_EMPTY
    assert proof == MapProof((), None)
    assert verify_map_proof(root, _key(1), proof) is None


@settings(max_examples=40, deadline=None)
@given(st.dictionaries(keys, values, min_size=1, max_size=40), st.lists(keys, max_size=5))
def test_every_key_proves_its_value_and_others_are_absent(
    content: dict[bytes, bytes], strangers: list[bytes]
) -> None:
    """Every key of a map proves its value under the root; keys not in it prove absent."""
    nodes = MemoryMapNodes()
    root = nodes.update(content)
    for key, value in content.items():
        got_root, proof = prove_map(nodes, key)
        assert got_root == root
        assert verify_map_proof(root, key, proof) == value
    for key in strangers:
        if key not in content:
            assert verify_map_proof(root, key, prove_map(nodes, key)[1]) is None


@settings(max_examples=30, deadline=None)
@given(
    st.lists(st.dictionaries(keys, values, min_size=1, max_size=8), min_size=1, max_size=5),
)
def test_batches_give_the_same_root_as_one_update(batches: list[dict[bytes, bytes]]) -> None:
    """Applying updates in batches (later values win) gives the root of applying them at once."""
    stepwise = MemoryMapNodes()
    for batch in batches:
        root = stepwise.update(batch)
    merged: dict[bytes, bytes] = {}
    for batch in batches:
        merged.update(batch)
    assert MemoryMapNodes().update(merged) == root
    for key, value in merged.items():
        assert verify_map_proof(root, key, prove_map(stepwise, key)[1]) == value


@settings(max_examples=40, deadline=None)
@given(
    st.dictionaries(keys, values, min_size=2, max_size=20),
    st.data(),
)
def test_a_tampered_byte_is_refused(content: dict[bytes, bytes], data: st.DataObject) -> None:
    """Flipping any bit of a proof's hashes, its leaf or the root makes verification fail or
    show another answer than the truth: never the same value under a changed proof."""
    nodes = MemoryMapNodes()
    root = nodes.update(content)
    key = data.draw(st.sampled_from(sorted(content)))
    _, proof = prove_map(nodes, key)
    parts = [*proof.siblings, proof.leaf.value if proof.leaf else b"", root]
    where = data.draw(st.integers(0, len(parts) - 1))
    if not parts[where]:
        return
    bit = data.draw(st.integers(0, 255))
    flipped = bytearray(parts[where])
    flipped[bit // 8] ^= 1 << (bit % 8)
    if where < len(proof.siblings):
        siblings = list(proof.siblings)
        siblings[where] = bytes(flipped)
        bad, bad_root = MapProof(tuple(siblings), proof.leaf), root
    elif where == len(proof.siblings):
        assert proof.leaf is not None
        bad, bad_root = MapProof(proof.siblings, MapLeaf(key, bytes(flipped))), root
    else:
        bad, bad_root = proof, bytes(flipped)
    with pytest.raises(VerificationError) as caught:
        verify_map_proof(bad_root, key, bad)
    assert caught.value.code == "map_proof_invalid"


def test_a_present_key_cannot_be_proven_absent_with_its_neighbours_proof() -> None:
    """Another key's inclusion proof does not pass as the absence of a present key."""
    nodes = MemoryMapNodes()
    content = {_key(n): _key(1000 + n) for n in range(50)}
    root = nodes.update(content)
    _, other = prove_map(nodes, _key(2))
    for n in (1, 3, 4):
        with pytest.raises(VerificationError):
            verify_map_proof(root, _key(n), other)
    _, mine = prove_map(nodes, _key(1))
    assert mine.leaf is not None
    # Dropping the leaf (claiming an empty subtree there) fails too.
    with pytest.raises(VerificationError):
        verify_map_proof(root, _key(1), MapProof(mine.siblings, None))


def test_an_update_writes_only_its_paths() -> None:
    """Changing one value among many writes the nodes of one path (about log2 of the size)."""
    nodes = MemoryMapNodes()
    nodes.update({_key(n): _key(n) for n in range(1024)})
    _, writes = update_map(nodes, {_key(7): _key(99)})
    assert 1 < len(writes) <= 40


def test_keys_and_values_are_32_bytes() -> None:
    """A short key or value is refused before anything is read."""
    with pytest.raises(InputError):
        MemoryMapNodes().update({b"short": bytes(32)})
    with pytest.raises(InputError):
        MemoryMapNodes().update({bytes(32): b"short"})
    with pytest.raises(InputError):
        MapProof(tuple([bytes(32)] * 257), None)


def test_an_empty_update_keeps_the_root() -> None:
    """A batch that changes no head gives the map's current root, and writes nothing."""
    nodes = MemoryMapNodes()
    root = nodes.update({_key(n): _key(n) for n in range(5)})
    assert update_map(nodes, {}) == (root, {})


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 255),
    st.lists(st.tuples(st.integers(0, 255), values), min_size=2, max_size=12),
)
def test_keys_sharing_long_prefixes_split_deep(
    shared_bits: int, tails: list[tuple[int, bytes]]
) -> None:
    """Keys equal up to a deep bit (so leaves move far down, with branches above them whose
    other side is empty) still prove their values, in one batch or one by one."""
    base = int.from_bytes(hashlib.sha256(b"base").digest(), "big")
    content: dict[bytes, bytes] = {}
    low = KEY_BITS - shared_bits  # the bits free below the shared prefix (1 to 256)
    for tail, value in tails:
        variant = int.from_bytes(hashlib.sha256(bytes([tail])).digest(), "big") % (1 << low)
        content[(base >> low << low | variant).to_bytes(32, "big")] = value
    one = MemoryMapNodes()
    root = one.update(content)
    stepwise = MemoryMapNodes()
    for key, value in content.items():
        stepwise.update({key: value})
    assert stepwise.update({}) == root
    for key, value in content.items():
        assert verify_map_proof(root, key, prove_map(one, key)[1]) == value
