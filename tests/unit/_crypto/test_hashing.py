"""The bulk Merkle hashing helpers agree with the one-at-a-time RFC 9162 §2.1.1 functions."""

from __future__ import annotations

import pytest

from civicstack._crypto import (
    merkle_leaf_hash,
    merkle_leaf_hashes,
    merkle_node_hash,
    merkle_parents,
)


def test_bulk_leaf_hashes_equal_single_leaf_hashes() -> None:
    """merkle_leaf_hashes is merkle_leaf_hash applied to each entry, in order."""
    entries = [b"", b"a", b"\x00" * 100]
    assert merkle_leaf_hashes(entries) == [merkle_leaf_hash(e) for e in entries]


def test_parents_pair_hashes_left_to_right() -> None:
    """merkle_parents hashes each adjacent pair with the 0x01 node prefix."""
    hs = [merkle_leaf_hash(bytes([i])) for i in range(4)]
    assert merkle_parents(hs) == [merkle_node_hash(hs[0], hs[1]), merkle_node_hash(hs[2], hs[3])]
    with pytest.raises(ValueError, match="even"):
        merkle_parents(hs[:3])
