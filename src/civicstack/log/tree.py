"""RFC 9162 section 2: Merkle tree hashing, inclusion and consistency proofs.

Hashing (§2.1.1) is SHA-256 with the 0x00 leaf and 0x01 node prefixes, computed in
:mod:`civicstack._crypto`. Proof *generation* (§2.1.3.1 ``PATH``, §2.1.4.1 ``PROOF``) is expressed
here as the list of subtree ranges whose Merkle Tree Hashes form the proof; each range is a
concatenation of perfect subtrees (:data:`Node`), so a store that keeps the hashes of perfect
subtrees (tiles, :mod:`civicstack.log.tiles`) answers any proof with O(log n) hashes and never
recomputes from the leaves. Proof *verification* follows §2.1.3.2 and §2.1.4.2 step by step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from civicstack._crypto import MERKLE_EMPTY_ROOT, merkle_leaf_hash, merkle_node_hash
from civicstack.errors import VerificationError

#: A perfect subtree ``(level, index)``: the leaves ``[index << level, (index + 1) << level)``.
Node = tuple[int, int]
#: A half-open range of leaf indices ``[start, end)``.
Span = tuple[int, int]

HASH_SIZE = 32
#: Tree sizes and indices are unsigned 64-bit integers (RFC 9162 §4.1 ``tree_size``).
MAX_TREE_SIZE = (1 << 64) - 1
#: A proof over a tree of at most 2**64 leaves has at most 64 hashes (inclusion) or 2 * 64.
MAX_PROOF_HASHES = 128

__all__ = [
    "HASH_SIZE",
    "MAX_TREE_SIZE",
    "Node",
    "Span",
    "consistency_spans",
    "fold_nodes",
    "inclusion_spans",
    "leaf_hash",
    "mth",
    "nodes_for_spans",
    "proof_from_nodes",
    "root_from_nodes",
    "root_nodes",
    "span_nodes",
    "verify_consistency",
    "verify_inclusion",
]


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1: the leaf hash SHA-256(0x00 || entry)."""
    return merkle_leaf_hash(entry)


def mth(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH(D[n]) from leaf hashes held in memory (RFC 9162 §2.1.1); for small trees and tests."""
    if not leaf_hashes:
        return MERKLE_EMPTY_ROOT
    level = list(leaf_hashes)
    # Hashing level by level and carrying an odd last node up is the same tree as §2.1.1's
    # recursive split at the largest power of two: both make the left subtrees perfect.
    while len(level) > 1:
        nxt = [merkle_node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def span_nodes(start: int, end: int) -> list[Node]:
    """The perfect subtrees, left to right, whose §2.1.1 combination is MTH(D[start:end]).

    ``start`` must be a multiple of the smallest power of two >= ``end - start``, which holds for
    every subtree RFC 9162 proofs refer to. Raises ``ValueError`` otherwise (a programming error).
    """
    if not 0 <= start < end:
        raise ValueError(f"empty or negative span [{start}, {end})")
    width = end - start
    if start & ((1 << (width - 1).bit_length()) - 1):
        raise ValueError(f"span [{start}, {end}) is not a subtree of an RFC 9162 tree")
    nodes: list[Node] = []
    while start < end:
        level = (end - start).bit_length() - 1
        nodes.append((level, start >> level))
        start += 1 << level
    return nodes


def fold_nodes(hashes: Sequence[bytes]) -> bytes:
    """Combine the hashes of :func:`span_nodes`' subtrees into the span's MTH (right to left)."""
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = merkle_node_hash(h, acc)
    return acc


def inclusion_spans(index: int, size: int) -> list[Span]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]) as subtree spans, from the leaf's sibling up to the root."""
    if not 0 <= index < size <= MAX_TREE_SIZE:
        raise ValueError(f"no leaf {index} in a tree of size {size}")
    spans: list[Span] = []
    lo, hi = 0, size
    # PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) for m < k, else PATH(m - k, D[k:n]) :
    # MTH(D[0:k]), descended iteratively: each step's sibling is the next hash up from the leaf.
    while hi - lo > 1:
        # k: the largest power of two smaller than hi - lo, where §2.1.1 splits the tree.
        k = 1 << ((hi - lo - 1).bit_length() - 1)
        if index < lo + k:
            spans.append((lo + k, hi))
            hi = lo + k
        else:
            spans.append((lo, lo + k))
            lo += k
    spans.reverse()
    return spans


def subproof_walk(
    m: int, lo: int, n: int, complete: bool, *, down_to: int = 0
) -> tuple[list[Span], int, int, int, bool]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[lo:lo+n], b) unrolled, while ``m != n`` and the subtree
    is wider than ``down_to`` leaves: the spans it sends (innermost last) and where the walk
    then stands, ``(spans, lo, m, n, b)``; a caller may go on from there."""
    spans: list[Span] = []
    # While m < n, split at k; m <= k recurses left with the right subtree as a proof hash,
    # m > k recurses right (b becomes false) with the left subtree as a hash.
    while m != n and n > down_to:
        k = 1 << ((n - 1).bit_length() - 1)  # the largest power of two smaller than n
        if m <= k:
            spans.append((lo + k, lo + n))
            n = k
        else:
            spans.append((lo, lo + k))
            lo, m, n, complete = lo + k, m - k, n - k, False
    return spans, lo, m, n, complete


def consistency_spans(size1: int, size2: int) -> list[Span]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[n]) as subtree spans, for 0 < m < n."""
    if not 0 < size1 < size2 <= MAX_TREE_SIZE:
        raise ValueError(f"no consistency proof from size {size1} to {size2}")
    spans, lo, _, n, complete = subproof_walk(size1, 0, size2, True)
    # SUBPROOF(m, D[m], false) = {MTH(D[m])}; with b true the old root itself is not sent.
    if not complete:
        spans.append((lo, lo + n))
    spans.reverse()
    return spans


def proof_from_nodes(spans: Iterable[Span], node_hash: Callable[[Node], bytes]) -> list[bytes]:
    """The proof hashes for ``spans``, each folded from its perfect subtrees' hashes."""
    return [fold_nodes([node_hash(n) for n in span_nodes(a, b)]) for a, b in spans]


def nodes_for_spans(spans: Iterable[Span]) -> set[Node]:
    """Every perfect subtree a list of spans needs: what a store must read for a proof."""
    return {node for a, b in spans for node in span_nodes(a, b)}


def root_nodes(size: int) -> list[Node]:
    """The perfect subtrees whose combination is the root hash of a tree of ``size`` leaves."""
    return span_nodes(0, size) if size else []


def root_from_nodes(size: int, hashes: Mapping[Node, bytes]) -> bytes:
    """The root hash of a tree of ``size`` leaves from its :func:`root_nodes` hashes."""
    if size == 0:
        return MERKLE_EMPTY_ROOT
    return fold_nodes([hashes[n] for n in span_nodes(0, size)])


def _check_hashes(proof: Sequence[bytes], code: str) -> None:
    if len(proof) > MAX_PROOF_HASHES:
        raise VerificationError(code, "the proof has too many hashes")
    for h in proof:
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            raise VerificationError(code, "every proof hash must be 32 bytes")


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with ``root``.

    RFC 9162 §2.1.3.2. Returns ``None`` or raises :class:`VerificationError` with the code
    ``proof_out_of_range`` (index not below size) or ``inclusion_proof_invalid``.
    """
    if not (isinstance(index, int) and isinstance(size, int)) or index < 0 or size > MAX_TREE_SIZE:
        raise VerificationError("proof_out_of_range", "index and size must be 64-bit unsigned")
    if not isinstance(leaf_hash, bytes) or len(leaf_hash) != HASH_SIZE:
        raise VerificationError("inclusion_proof_invalid", "the leaf hash must be 32 bytes")
    _check_hashes(proof, "inclusion_proof_invalid")
    # 1. If leaf_index is greater than or equal to tree_size, fail the proof verification.
    if index >= size:
        raise VerificationError("proof_out_of_range", f"leaf {index} is not in a tree of {size}")
    # 2. Set fn to leaf_index and sn to tree_size - 1.
    fn, sn = index, size - 1
    # 3. Set r to hash.
    r = leaf_hash
    # 4. For each value p in the inclusion_path array:
    for p in proof:
        # a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0:
            raise VerificationError("inclusion_proof_invalid", "the proof is too long")
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn & 1 or fn == sn:
            # i. Set r to HASH(0x01 || p || r).
            r = merkle_node_hash(p, r)
            # ii. If LSB(fn) is not set, then right-shift both fn and sn equally until either
            #     LSB(fn) is set or fn is 0.
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        # Otherwise: i. Set r to HASH(0x01 || r || p).
        else:
            r = merkle_node_hash(r, p)
        # c. Finally, right-shift both fn and sn one time.
        fn >>= 1
        sn >>= 1
    # 5. Compare sn to 0. Compare r against the root_hash. If sn is equal to 0 and r and the
    #    root_hash are equal, then the log has proven the inclusion of hash.
    if sn != 0:
        raise VerificationError("inclusion_proof_invalid", "the proof is too short")
    if r != root:
        raise VerificationError("inclusion_proof_invalid", "the proof leads to another root")


def _trivially_consistent(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> bool:
    """The cases §2.1.4.2 leaves out (it needs 0 < size1 < size2); True when consistent."""
    if (
        not (isinstance(size1, int) and isinstance(size2, int))
        or size1 < 0
        or size2 > MAX_TREE_SIZE
    ):
        raise VerificationError("proof_out_of_range", "sizes must be 64-bit unsigned")
    if size1 > size2:
        raise VerificationError("proof_out_of_range", f"size1 {size1} is larger than size2 {size2}")
    if size1 == 0:
        raise VerificationError("consistency_proof_invalid", "nothing is proven from an empty tree")
    if size1 < size2:
        return False
    if proof:
        raise VerificationError("consistency_proof_invalid", "equal sizes need an empty proof")
    if root1 != root2:
        raise VerificationError("consistency_proof_invalid", "two roots for the same size")
    return True


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: list[bytes]
) -> None:
    """Check that the tree of ``size2`` leaves and ``root2`` extends that of ``size1``, ``root1``.

    RFC 9162 §2.1.4.2, which applies to 0 < size1 < size2. Equal sizes are consistent when the
    roots are equal and the proof is empty; size1 = 0 proves nothing and is refused (as in the
    transparency-dev vectors). Raises :class:`VerificationError` with ``proof_out_of_range``
    (size1 > size2) or ``consistency_proof_invalid``.
    """
    if _trivially_consistent(size1, size2, root1, root2, proof):
        return
    _check_hashes(proof, "consistency_proof_invalid")
    # 1. If consistency_path is an empty array, stop and fail the proof verification.
    if not proof:
        raise VerificationError("consistency_proof_invalid", "the proof is empty")
    path = list(proof)
    # 2. If first is an exact power of 2, then prepend first_hash to the consistency_path array.
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    # 3. Set fn to first - 1 and sn to second - 1.
    fn, sn = size1 - 1, size2 - 1
    # 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. Set both fr and sr to the first value in the consistency_path array.
    fr = sr = path[0]
    # 6. For each subsequent value c in the consistency_path array:
    for c in path[1:]:
        # a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0:
            raise VerificationError("consistency_proof_invalid", "the proof is too long")
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn & 1 or fn == sn:
            # i. Set fr to HASH(0x01 || c || fr).
            fr = merkle_node_hash(c, fr)
            # ii. Set sr to HASH(0x01 || c || sr).
            sr = merkle_node_hash(c, sr)
            # iii. If LSB(fn) is not set, then right-shift both fn and sn equally until either
            #      LSB(fn) is set or fn is 0.
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        # Otherwise: i. Set sr to HASH(0x01 || sr || c).
        else:
            sr = merkle_node_hash(sr, c)
        # c. Finally, right-shift both fn and sn one time.
        fn >>= 1
        sn >>= 1
    # 7. Verify that fr equals first_hash, sr equals second_hash, and sn is 0.
    if sn != 0:
        raise VerificationError("consistency_proof_invalid", "the proof is too short")
    if fr != root1:
        raise VerificationError("consistency_proof_invalid", "the proof does not lead to root1")
    if sr != root2:
        raise VerificationError("consistency_proof_invalid", "the proof does not lead to root2")
