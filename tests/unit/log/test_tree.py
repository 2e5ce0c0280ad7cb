"""RFC 9162 tree hashing and proofs: tiles against a naive recursion written from the RFC text."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicstack.errors import CivicError, VerificationError
from civicstack.log import (
    MemoryTiles,
    leaf_hash,
    mth,
    prove_consistency,
    prove_inclusion,
    root_at,
    verify_consistency,
    verify_inclusion,
)
from civicstack.log.tree import span_nodes


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def naive_mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH over entries, recursively, straight from the definition."""
    n = len(leaves)
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + leaves[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return _h(b"\x01" + naive_mth(leaves[:k]) + naive_mth(leaves[k:]))


def naive_path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n])."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*naive_path(m, leaves[:k]), naive_mth(leaves[k:])]
    return [*naive_path(m - k, leaves[k:]), naive_mth(leaves[:k])]


def naive_subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if b else [naive_mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return [*naive_subproof(m, leaves[:k], b), naive_mth(leaves[k:])]
    return [*naive_subproof(m - k, leaves[k:], False), naive_mth(leaves[:k])]


def _tiles(entries: list[bytes], chunks: list[int]) -> MemoryTiles:
    tiles = MemoryTiles()
    size = 0
    pos = 0
    for c in [*chunks, len(entries)]:
        take = entries[pos : pos + max(1, c)]
        if take:
            size = tiles.append(size, take)
            pos += len(take)
    while pos < len(entries):
        size = tiles.append(size, entries[pos : pos + 1000])
        pos += 1000
    return tiles


ENTRIES = st.integers(min_value=1, max_value=700).map(lambda n: [b"e%d" % i for i in range(n)])


@settings(max_examples=60, deadline=None)
@given(entries=ENTRIES, data=st.data())
def test_tile_proofs_equal_the_naive_recursion(entries: list[bytes], data: st.DataObject) -> None:
    """Proofs built from tiles equal RFC 9162's PATH and PROOF, and they verify."""
    chunks = data.draw(st.lists(st.integers(1, 300), max_size=5))
    tiles = _tiles(entries, chunks)
    size = data.draw(st.integers(1, len(entries)))
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(1, size))
    prefix = entries[:size]
    root = naive_mth(prefix)
    assert root_at(size, tiles) == root
    proof = prove_inclusion(index, size, tiles)
    assert proof == naive_path(index, prefix)
    verify_inclusion(leaf_hash(entries[index]), index, size, proof, root)
    cproof = prove_consistency(old, size, tiles)
    assert cproof == naive_subproof(old, prefix, True)
    verify_consistency(old, size, naive_mth(entries[:old]), root, cproof)


@settings(max_examples=60, deadline=None)
@given(entries=ENTRIES, data=st.data())
def test_a_flipped_bit_breaks_every_proof(entries: list[bytes], data: st.DataObject) -> None:
    """Any single flipped bit in a proof hash or the root makes verification fail."""
    tiles = _tiles(entries, [])
    size = len(entries)
    index = data.draw(st.integers(0, size - 1))
    root = root_at(size, tiles)
    proof = prove_inclusion(index, size, tiles)
    target = data.draw(st.integers(0, len(proof)))  # len(proof) means: the root
    bit = data.draw(st.integers(0, 255))
    if target == len(proof):
        root = bytes(b ^ (1 << (bit % 8)) if i == bit // 8 else b for i, b in enumerate(root))
    else:
        h = proof[target]
        proof[target] = bytes(b ^ (1 << (bit % 8)) if i == bit // 8 else b for i, b in enumerate(h))
    with pytest.raises(VerificationError) as err:
        verify_inclusion(leaf_hash(entries[index]), index, size, proof, root)
    assert err.value.code == "inclusion_proof_invalid"


def test_mth_matches_the_naive_definition_for_every_small_size() -> None:
    """The level-by-level MTH equals RFC 9162's recursive definition for sizes 0..300."""
    entries = [b"x%d" % i for i in range(300)]
    for n in range(301):
        assert mth([leaf_hash(e) for e in entries[:n]]) == naive_mth(entries[:n])


def test_empty_tree_root_is_the_hash_of_nothing() -> None:
    """A tree of size 0 has the root SHA-256 of the empty string (RFC 9162 §2.1.1)."""
    assert root_at(0, MemoryTiles()) == _h(b"")


def test_proof_requests_beyond_the_tree_are_refused() -> None:
    """Asking for a leaf or size beyond the tree raises proof_out_of_range."""
    tiles = _tiles([b"a", b"b", b"c"], [])
    for call in (
        lambda: prove_inclusion(3, 3, tiles),
        lambda: prove_inclusion(-1, 3, tiles),
        lambda: prove_consistency(0, 3, tiles),
        lambda: prove_consistency(3, 2, tiles),
        lambda: root_at(-1, tiles),
    ):
        with pytest.raises(CivicError) as err:
            call()
        assert err.value.code == "proof_out_of_range"


def test_equal_sizes_have_an_empty_consistency_proof() -> None:
    """The consistency proof of a tree with itself is empty, and verifies."""
    tiles = _tiles([b"a", b"b", b"c"], [])
    assert prove_consistency(3, 3, tiles) == []
    root = root_at(3, tiles)
    verify_consistency(3, 3, root, root, [])


def test_verify_rejects_malformed_arguments() -> None:
    """Short hashes, overlong proofs and negative indices are rejected with a code."""
    leaf = leaf_hash(b"a")
    cases = [
        (lambda: verify_inclusion(leaf[:31], 0, 1, [], leaf), "inclusion_proof_invalid"),
        (lambda: verify_inclusion(leaf, 0, 2, [b"\x00" * 31], leaf), "inclusion_proof_invalid"),
        (lambda: verify_inclusion(leaf, 0, 2, [leaf] * 129, leaf), "inclusion_proof_invalid"),
        (lambda: verify_inclusion(leaf, -1, 2, [leaf], leaf), "proof_out_of_range"),
        (lambda: verify_inclusion(leaf, 0, 1 << 64, [leaf], leaf), "proof_out_of_range"),
        (lambda: verify_consistency(2, 3, leaf, leaf, [b"short"]), "consistency_proof_invalid"),
        (lambda: verify_consistency(-1, 3, leaf, leaf, [leaf]), "proof_out_of_range"),
    ]
    for call, code in cases:
        with pytest.raises(VerificationError) as err:
            call()
        assert err.value.code == code


def test_span_nodes_refuses_spans_that_are_not_subtrees() -> None:
    """A range that no RFC 9162 proof can refer to is a programming error (ValueError)."""
    assert span_nodes(8, 13) == [(2, 2), (0, 12)]
    with pytest.raises(ValueError, match="not a subtree"):
        span_nodes(3, 7)
    with pytest.raises(ValueError, match="empty"):
        span_nodes(4, 4)
