"""Roots and RFC 9162 proofs from tiles, and what a reader remembers between proofs.

Every perfect subtree ``(level, index)`` of the tree (:data:`~civicstack.log.tree.Node`) lies in
exactly one tile, so a proof needs one tile per tile level it touches: O(log n) reads, never the
leaves.

A span's hash ``MTH(D[start:end])`` depends only on those leaves, and a log never changes a
committed leaf: so a reader may remember span hashes for ever (a :class:`ProofMemo`), which
proofs against the same tree keep asking for (every consistency proof to size n folds the same
right-edge spans, and the upper perfect subtrees are shared by all). Only spans of at least
:data:`MEMO_MIN_WIDTH` leaves are remembered: below that one tile answers with at most a few
hashes, and there are too many of them to keep. A consistency proof's part above 256 leaves is
remembered whole (see :func:`_fast_consistency`).
"""

from __future__ import annotations

from collections.abc import Callable, MutableMapping, Sequence

from civicstack._crypto import MERKLE_EMPTY_ROOT
from civicstack.errors import CivicError, InputError
from civicstack.log.tiles.sources import TileSource
from civicstack.log.tiles.tile import TILE_HEIGHT, TILE_WIDTH, Tile, TileRef, tile_width
from civicstack.log.tree import (
    MAX_TREE_SIZE,
    Span,
    consistency_spans,
    fold_nodes,
    inclusion_spans,
    span_nodes,
    subproof_walk,
)

__all__ = [
    "MEMO_MIN_WIDTH",
    "ProofMemo",
    "SpanMemo",
    "TilePeek",
    "prove_consistency",
    "prove_inclusion",
    "root_at",
    "span_hashes",
]

#: Spans narrower than this are not remembered in a :data:`SpanMemo`.
MEMO_MIN_WIDTH = 256

#: Span hashes already computed for one log, by ``(start, end)``: valid for ever, because the
#: leaves of a committed span never change. Only fill it from committed state.
SpanMemo = MutableMapping[Span, bytes]


class ProofMemo:
    """What a reader of one log remembers between proofs (fill it from committed state only).

    ``spans``: span hashes (:data:`SpanMemo`); ``tops``: the upper parts of consistency proofs,
    by ``(size2, (size1 - 1) // 256, size1 % 256 == 0)``. Each starts afresh past
    ``max_entries`` (memory stays bounded; the cost is warming up again).
    """

    def __init__(self, max_entries: int = 1 << 17) -> None:
        self.spans: dict[Span, bytes] = {}
        self.tops: dict[tuple[int, int, bool], tuple[tuple[bytes, ...], int, int, bool]] = {}
        self.max_entries = max_entries

    def trim(self) -> None:
        """Forget everything once past the bound (about 200 bytes a span, 1 kB a top)."""
        if len(self.spans) > self.max_entries:
            self.spans = {}
        if len(self.tops) > self.max_entries // 8:
            self.tops = {}


#: ``peek(level, index, width)``: tile ``(level, index)`` if it is at hand at least ``width``
#: hashes wide, else ``None`` (a reader's cache of committed tiles).
TilePeek = Callable[[int, int, int], "Tile | None"]


def span_hashes(
    spans: Sequence[Span], size: int, source: TileSource, memo: SpanMemo | None = None
) -> list[bytes]:
    """MTH of each span of a tree of ``size`` leaves, reading each needed tile once.

    Each span is split into perfect subtrees (:func:`~civicstack.log.tree.span_nodes`); each
    subtree lies in one tile (its level // 8) at a known offset and height inside it. Spans found
    in ``memo`` need no tile; wide spans computed here are added to it.
    """
    # Two passes so that every tile a proof needs is read at once: plan, read, then hash.
    plan: list[bytes | list[tuple[tuple[int, int], int, int]]] = []
    wanted: dict[tuple[int, int], int] = {}
    remember = memo is not None
    known_spans: SpanMemo = memo if memo is not None else {}
    for start, end in spans:
        width = end - start
        if remember and width >= MEMO_MIN_WIDTH:
            known = known_spans.get((start, end))
            if known is not None:
                plan.append(known)
                continue
        # Most proof spans are one perfect subtree; only those on the right edge split.
        if width & (width - 1) == 0 and width:
            height = width.bit_length() - 1
            nodes = [(height, start >> height)]
        else:
            nodes = span_nodes(start, end)
        located = []
        for level, index in nodes:
            height = level & 7
            base = index << height
            key = (level >> 3, base >> TILE_HEIGHT)
            if key not in wanted:
                wanted[key] = tile_width(key[0], key[1], size)
            located.append((key, base & (TILE_WIDTH - 1), height))
        plan.append(located)
    tiles = (
        source.read_tiles([TileRef(lv, ix, w) for (lv, ix), w in wanted.items()]) if wanted else {}
    )
    out = []
    for (start, end), step in zip(spans, plan, strict=True):
        if isinstance(step, bytes):
            out.append(step)
            continue
        hashes = []
        for key, offset, height in step:
            tile = tiles.get(key)
            if tile is None or tile.width < offset + (1 << height):
                raise CivicError("internal_error", f"log tile {key[0]}/{key[1]} is missing")
            hashes.append(tile.subtree(offset, height))
        computed = hashes[0] if len(hashes) == 1 else fold_nodes(hashes)
        if remember and end - start >= MEMO_MIN_WIDTH:
            known_spans[(start, end)] = computed
        out.append(computed)
    return out


class _NotAtHandError(Exception):
    """A tile the fast path needs is not cached: fall back to reading tiles."""


def _fast_span_hashes(spans: Sequence[Span], memo: SpanMemo, peek: TilePeek) -> list[bytes]:
    """:func:`span_hashes` from ``memo`` and cached tiles alone; raises :class:`_NotAtHandError`.

    Below the memo's width a proof's spans are perfect subtrees that mostly share one tile, so
    the last tile is kept at hand; a right-edge span that narrow is left to the slow path.
    """
    out: list[bytes] = []
    held: Tile | None = None
    held_key = (-1, -1)
    for start, end in spans:
        width = end - start
        if width >= MEMO_MIN_WIDTH:
            known = memo.get((start, end))
            if known is not None:
                out.append(known)
                continue
        if width & (width - 1):
            raise _NotAtHandError
        level = width.bit_length() - 1
        height = level & 7
        base = (start >> level) << height
        offset = base & (TILE_WIDTH - 1)
        key = (level >> 3, base >> TILE_HEIGHT)
        if key != held_key or held is None or held.width < offset + (1 << height):
            held = peek(key[0], key[1], offset + (1 << height))
            if held is None:
                raise _NotAtHandError
            held_key = key
        computed = held.subtree(offset, height)
        if width >= MEMO_MIN_WIDTH:
            memo[(start, end)] = computed
        out.append(computed)
    return out


def _check_size(size: int) -> None:
    if not 0 <= size <= MAX_TREE_SIZE:
        raise InputError("proof_out_of_range", f"tree size {size} is out of range")


def _fast_consistency(size1: int, size2: int, memo: ProofMemo, peek: TilePeek) -> list[bytes]:
    """A consistency proof from ``memo`` and cached tiles; raises :class:`_NotAtHandError`.

    The walk of :func:`~civicstack.log.tree.consistency_spans` splits at ``lo + k`` with ``lo``
    a sum of earlier splits; while the subtree left is wider than 256 leaves, ``k`` is a power
    of two of at least 256, so every split falls on a multiple of 256. Which way the walk goes
    there (``size1 <= lo + k``, and whether it stops at ``size1 == lo + n``) therefore depends
    only on ``(size1 - 1) // 256`` and on whether 256 divides ``size1``: that part of the proof,
    and where the walk stands after it, is remembered under those two and ``size2``. The rest
    lies within 256 leaves, mostly in one tile.
    """
    key = (size2, (size1 - 1) >> TILE_HEIGHT, not size1 & (TILE_WIDTH - 1))
    top = memo.tops.get(key)
    if top is None:
        spans, lo, _, n, complete = subproof_walk(size1, 0, size2, True, down_to=TILE_WIDTH)
        hashes = _fast_span_hashes(spans, memo.spans, peek)
        hashes.reverse()
        top = (tuple(hashes), lo, n, complete)
        memo.tops[key] = top
    upper, lo, n, complete = top
    below, lo, _, n, complete = subproof_walk(size1 - lo, lo, n, complete)
    if not complete:
        below.append((lo, lo + n))
    proof = _fast_span_hashes(below, memo.spans, peek)
    proof.reverse()
    proof += upper
    return proof


def root_at(size: int, source: TileSource, memo: ProofMemo | None = None) -> bytes:
    """The root hash of the first ``size`` leaves, from O(log n) tiles."""
    _check_size(size)
    if size == 0:
        return MERKLE_EMPTY_ROOT
    return span_hashes([(0, size)], size, source, memo.spans if memo else None)[0]


def _proof_hashes(
    spans: Sequence[Span],
    size: int,
    source: TileSource,
    memo: ProofMemo | None,
    peek: TilePeek | None,
) -> list[bytes]:
    if memo is not None and peek is not None:
        try:
            return _fast_span_hashes(spans, memo.spans, peek)
        except _NotAtHandError:
            pass  # some tile is not cached: read the tiles the proof needs, all at once
    return span_hashes(spans, size, source, memo.spans if memo else None)


def prove_inclusion(
    index: int,
    size: int,
    source: TileSource,
    memo: ProofMemo | None = None,
    peek: TilePeek | None = None,
) -> list[bytes]:
    """RFC 9162 §2.1.3.1 inclusion proof of leaf ``index`` in the tree of ``size`` leaves.

    With a ``memo`` and a ``peek`` at cached tiles, the proof is first tried from those alone.
    """
    _check_size(size)
    if not 0 <= index < size:
        raise InputError("proof_out_of_range", f"leaf {index} is not in a tree of {size}")
    return _proof_hashes(inclusion_spans(index, size), size, source, memo, peek)


def prove_consistency(
    size1: int,
    size2: int,
    source: TileSource,
    memo: ProofMemo | None = None,
    peek: TilePeek | None = None,
) -> list[bytes]:
    """RFC 9162 §2.1.4.1 consistency proof between the trees of ``size1`` and ``size2`` leaves.

    Equal sizes give the empty proof; ``size1`` must be positive (nothing is proven from an
    empty tree, see :func:`~civicstack.log.tree.verify_consistency`). With a ``memo`` and a
    ``peek`` at cached tiles, the proof is first tried from those alone.
    """
    _check_size(size2)
    if not 0 < size1 <= size2:
        raise InputError("proof_out_of_range", f"no consistency proof from {size1} to {size2}")
    if size1 == size2:
        return []
    if memo is not None and peek is not None:
        try:
            return _fast_consistency(size1, size2, memo, peek)
        except _NotAtHandError:
            pass  # some tile is not cached: read the tiles the proof needs, all at once
    return span_hashes(consistency_spans(size1, size2), size2, source, memo.spans if memo else None)
