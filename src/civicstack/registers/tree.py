"""A small in-memory Merkle tree head (RFC 9162 §2.1.1) kept as a compact range.

The register domain needs the root after every append (``assert-root-hash`` may come anywhere
in an RSF file), never proofs: the durable log (``civicstack.log``) stores the tree and serves
proofs. A compact range is the list of roots of the perfect subtrees that the binary expansion
of the size splits the leaves into, largest first; appending merges equal-sized neighbours, and
folding the list from the right gives MTH(D[n]) because RFC 9162 splits at the largest power of
two below n, which is exactly where the first subtree ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from civicstack._crypto import MERKLE_EMPTY_ROOT, merkle_leaf_hash, merkle_node_hash


@dataclass(frozen=True, slots=True)
class TreeHead:
    """A tree's size and compact range (subtree roots, largest first): O(log n) to copy."""

    size: int = 0
    range: tuple[bytes, ...] = ()

    def append_leaf_hash(self, leaf_hash: bytes) -> TreeHead:
        """The head after appending one leaf whose RFC 9162 leaf hash is ``leaf_hash``."""
        nodes = list(self.range)
        nodes.append(leaf_hash)
        size = self.size + 1
        # Each trailing 1-bit of the old size is a perfect subtree that the new leaf completes.
        carry = self.size
        while carry & 1:
            right = nodes.pop()
            nodes[-1] = merkle_node_hash(nodes[-1], right)
            carry >>= 1
        return TreeHead(size, tuple(nodes))

    def extend(self, leaves: Iterable[bytes]) -> TreeHead:
        """The head after appending the leaves (raw leaf data, hashed with the 0x00 prefix)."""
        head = self
        for leaf in leaves:
            head = head.append_leaf_hash(merkle_leaf_hash(leaf))
        return head

    def root(self) -> bytes:
        """MTH of the leaves so far (the SHA-256 of nothing for an empty tree)."""
        if not self.range:
            return MERKLE_EMPTY_ROOT
        root = self.range[-1]
        for node in reversed(self.range[:-1]):
            root = merkle_node_hash(node, root)
        return root


def root_of(leaves: Iterable[bytes]) -> bytes:
    """RFC 9162 MTH of a list of raw leaves."""
    return TreeHead().extend(leaves).root()
