"""The tree as C2SP tlog-tiles (https://c2sp.org/tlog-tiles): what the log stores and serves.

A tile at level *L*, index *N* holds up to 256 consecutive hashes of the tree level 8L:
``MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) * 256**L])`` for i in 0..255 (tlog-tiles,
"Merkle Tree"). A full tile is 8,192 bytes; the rightmost tile of each level is partial and
grows as the log grows. Entry bundles hold the entries of a level-0 tile, each prefixed with its
length as a big-endian uint16 (tlog-tiles, "Log entries").

Every perfect subtree ``(level, index)`` of the tree (:data:`~civicstack.log.tree.Node`) lies in
exactly one tile, so a proof needs one tile per tile level it touches: O(log n) reads, never the
leaves. tlog-tiles recomputes the levels inside a tile by hashing (up to 255 hashes a node); to
make that at most one hash, each tile also carries ``inner``: its complete nodes at heights 2, 4
and 6 (a third more bytes). That column is civicstack's index, not part of tlog-tiles; the tile
bytes themselves are exactly tlog-tiles'.

A span's hash ``MTH(D[start:end])`` depends only on those leaves, and a log never changes a
committed leaf: so a reader may remember span hashes for ever (a :class:`ProofMemo`), which
proofs against the same tree keep asking for (every consistency proof to size n folds the same
right-edge spans, and the upper perfect subtrees are shared by all). Only spans of at least
:data:`MEMO_MIN_WIDTH` leaves are remembered: below that one tile answers with at most a few
hashes, and there are too many of them to keep. A consistency proof's part above 256 leaves is
remembered whole (see :func:`_fast_consistency`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

from civicstack._crypto import (
    MERKLE_EMPTY_ROOT,
    merkle_leaf_hashes,
    merkle_node_hash,
    merkle_parents,
)
from civicstack.errors import CivicError, InputError
from civicstack.log.tree import (
    HASH_SIZE,
    MAX_TREE_SIZE,
    Span,
    consistency_spans,
    fold_nodes,
    inclusion_spans,
    span_nodes,
)

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
#: Heights inside a tile whose complete nodes ``inner`` stores, in this order.
INNER_HEIGHTS = (2, 4, 6)
#: tlog-tiles bundles prefix each entry with a uint16 length.
MAX_ENTRY_BYTES = 0xFFFF
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


__all__ = [
    "MAX_ENTRY_BYTES",
    "MEMO_MIN_WIDTH",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "ProofMemo",
    "SpanMemo",
    "Tile",
    "TilePeek",
    "TileRef",
    "TileSource",
    "decode_bundle",
    "encode_bundle",
    "grow",
    "prove_consistency",
    "prove_inclusion",
    "right_edge",
    "root_at",
    "tile_width",
]


class TileRef(NamedTuple):
    """Tile ``idx`` of ``level``, needed at least ``width`` hashes wide (1..256)."""

    level: int
    idx: int
    width: int = TILE_WIDTH

    def path(self) -> str:
        """The tlog-tiles resource path, e.g. ``tile/0/x001/x234/067.p/5``."""
        return f"tile/{self.level}/{index_path(self.idx)}{_partial(self.width)}"


def index_path(index: int) -> str:
    """tlog-tiles ``<N>``: zero-padded 3-digit elements, all but the last prefixed with ``x``."""
    digits = str(index)
    digits = digits.rjust(-(-len(digits) // 3) * 3, "0")
    parts = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return "/".join(["x" + p for p in parts[:-1]] + parts[-1:])


_TILE_PATH = re.compile(
    r"tile/(?P<level>0|[1-9][0-9]?|entries)/(?P<n>(?:x[0-9]{3}/)*[0-9]{3})(?:\.p/(?P<w>[1-9][0-9]{0,2}))?"
)


def parse_tile_path(path: str) -> tuple[int | None, int, int]:
    """Read a tlog-tiles path: ``(level, index, width)``; level is ``None`` for entry bundles.

    Raises ``not_found`` for anything that is not a canonical tile or bundle path.
    """
    m = _TILE_PATH.fullmatch(path)
    if m is None or (m["level"] != "entries" and int(m["level"]) > 63):
        raise InputError("not_found", "not a tlog-tiles path")
    # A partial tile is 1..255 wide; a full one has no width suffix.
    width = int(m["w"]) if m["w"] else TILE_WIDTH
    if m["w"] and width >= TILE_WIDTH:
        raise InputError("not_found", "a partial tile is narrower than 256")
    index = int(m["n"].replace("x", "").replace("/", ""))
    if index_path(index) != m["n"]:
        raise InputError("not_found", "not a canonical tile index")
    level = None if m["level"] == "entries" else int(m["level"])
    return level, index, width


def _partial(width: int) -> str:
    return "" if width == TILE_WIDTH else f".p/{width}"


def _pyramid(hashes: bytes) -> list[list[bytes]]:
    """Every complete node of a tile, by height: ``[hashes, height 1, ..., height 8]``."""
    level = [hashes[i : i + HASH_SIZE] for i in range(0, len(hashes), HASH_SIZE)]
    levels = [level]
    for _ in range(TILE_HEIGHT):
        level = merkle_parents(level[: len(level) & ~1])
        levels.append(level)
    return levels


def _inner_counts(width: int) -> tuple[int, ...]:
    return tuple(width >> h for h in INNER_HEIGHTS)


@dataclass(frozen=True)
class Tile:
    """The hashes of one tile (tlog-tiles bytes) and its ``inner`` node hashes."""

    level: int
    index: int
    hashes: bytes
    inner: bytes
    #: How many hashes the tile holds (256 when full).
    width: int = field(init=False, repr=False, compare=False)
    #: Byte offset in ``inner`` of the first hash of each stored height.
    _starts: dict[int, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Plain attributes: proofs read them a dozen times each, cached_property would lock.
        width = len(self.hashes) // HASH_SIZE
        starts, pos = {}, 0
        for h in INNER_HEIGHTS:
            starts[h] = pos
            pos += (width >> h) * HASH_SIZE
        object.__setattr__(self, "width", width)
        object.__setattr__(self, "_starts", starts)

    @classmethod
    def build(cls, level: int, index: int, hashes: bytes) -> Tile:
        """A tile from its hashes, computing ``inner``."""
        return cls._from_pyramid(level, index, hashes, _pyramid(hashes))

    @classmethod
    def _from_pyramid(
        cls, level: int, index: int, hashes: bytes, pyramid: list[list[bytes]]
    ) -> Tile:
        inner = b"".join(b"".join(pyramid[h]) for h in INNER_HEIGHTS)
        return cls(level, index, hashes, inner)

    def check(self) -> None:
        """Raise if the stored bytes do not have a tile's shape (storage corruption)."""
        w = self.width
        if (
            len(self.hashes) % HASH_SIZE
            or not 0 < w <= TILE_WIDTH
            or len(self.inner) != sum(_inner_counts(w)) * HASH_SIZE
        ):
            raise CivicError("internal_error", f"log tile {self.level}/{self.index} is damaged")

    def subtree(self, offset: int, height: int) -> bytes:
        """MTH of the perfect subtree over hashes ``[offset, offset + 2**height)`` of this tile.

        ``offset`` is a multiple of ``2**height`` and height is 0..7; at most one hash is
        computed (odd heights join two stored children).
        """
        # A stored node is a tile hash (height 0) or an ``inner`` hash (heights 2, 4, 6).
        if height & 1:
            # The two children are neighbours in storage, at the stored height below.
            half = height - 1
            if half:
                data, pos = self.inner, self._starts[half] + (offset >> half) * HASH_SIZE
            else:
                data, pos = self.hashes, offset * HASH_SIZE
            mid = pos + HASH_SIZE
            return merkle_node_hash(data[pos:mid], data[mid : mid + HASH_SIZE])
        if height:
            pos = self._starts[height] + (offset >> height) * HASH_SIZE
            return self.inner[pos : pos + HASH_SIZE]
        pos = offset * HASH_SIZE
        return self.hashes[pos : pos + HASH_SIZE]


def tile_width(level: int, index: int, size: int) -> int:
    """Width of tile ``(level, index)`` in a tree of ``size`` leaves (0: no such tile)."""
    return max(0, min(TILE_WIDTH, (size >> (TILE_HEIGHT * level)) - index * TILE_WIDTH))


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


def right_edge(size: int) -> list[TileRef]:
    """The partial tiles of a tree of ``size`` leaves: all an append needs to read."""
    refs = []
    level = 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        if count % TILE_WIDTH:
            refs.append(TileRef(level, count // TILE_WIDTH, count % TILE_WIDTH))
        level += 1
    return refs


class TileSource(Protocol):
    """Reads tiles: a database, or a tlog-tiles HTTP endpoint."""

    def read_tiles(self, refs: Collection[TileRef]) -> Mapping[tuple[int, int], Tile]:
        """Each wanted tile keyed by ``(level, index)``, at least ``ref.width`` wide."""
        ...


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
        spans: list[Span] = []
        m, lo, n, complete = size1, 0, size2, True
        while m != n and n > TILE_WIDTH:
            k = 1 << ((n - 1).bit_length() - 1)
            if m <= k:
                spans.append((lo + k, lo + n))
                n = k
            else:
                spans.append((lo, lo + k))
                lo, m, n, complete = lo + k, m - k, n - k, False
        hashes = _fast_span_hashes(spans, memo.spans, peek)
        hashes.reverse()
        top = (tuple(hashes), lo, n, complete)
        memo.tops[key] = top
    upper, lo, n, complete = top
    m = size1 - lo
    below: list[Span] = []
    while m != n:
        k = 1 << ((n - 1).bit_length() - 1)
        if m <= k:
            below.append((lo + k, lo + n))
            n = k
        else:
            below.append((lo, lo + k))
            lo, m, n, complete = lo + k, m - k, n - k, False
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


def grow(
    size: int, edge: Mapping[tuple[int, int], Tile], leaf_hashes: Sequence[bytes]
) -> list[Tile]:
    """The tiles that change when ``leaf_hashes`` are appended to a tree of ``size`` leaves.

    ``edge`` holds the tree's partial tiles (:func:`right_edge`). Returns every new or extended
    tile, each with its full new content; a tile that fills up is hashed into the level above.
    """
    changed: list[Tile] = []
    incoming = list(leaf_hashes)
    level = 0
    while incoming:
        count = size >> (TILE_HEIGHT * level)
        index = count // TILE_WIDTH
        old = edge.get((level, index)) if count % TILE_WIDTH else None
        if count % TILE_WIDTH and (old is None or old.width != count % TILE_WIDTH):
            raise CivicError("internal_error", f"log tile {level}/{index} is missing or damaged")
        head = old.hashes if old is not None else b""
        promoted: list[bytes] = []
        pos = 0
        while pos < len(incoming):
            take = TILE_WIDTH - len(head) // HASH_SIZE
            hashes = head + b"".join(incoming[pos : pos + take])
            pos += take
            pyramid = _pyramid(hashes)
            changed.append(Tile._from_pyramid(level, index, hashes, pyramid))
            if pyramid[TILE_HEIGHT]:
                promoted.append(pyramid[TILE_HEIGHT][0])
            head = b""
            index += 1
        incoming = promoted
        level += 1
    return changed


class MemoryTiles:
    """A :class:`TileSource` over tiles held in memory (an append's working set, tests)."""

    def __init__(self, tiles: Iterable[Tile] = ()) -> None:
        self.tiles: dict[tuple[int, int], Tile] = {(t.level, t.index): t for t in tiles}

    def update(self, tiles: Iterable[Tile]) -> None:
        """Add or replace tiles."""
        for t in tiles:
            self.tiles[(t.level, t.index)] = t

    def read_tiles(self, refs: Collection[TileRef]) -> Mapping[tuple[int, int], Tile]:
        """The wanted tiles that are held (missing ones fail later, in :func:`node_hashes`)."""
        return {
            (r.level, r.idx): self.tiles[(r.level, r.idx)]
            for r in refs
            if (r.level, r.idx) in self.tiles
        }

    def append(self, size: int, entries: Sequence[bytes]) -> int:
        """Append ``entries`` to a tree of ``size`` leaves held here; return the new size."""
        self.update(grow(size, self.tiles, merkle_leaf_hashes(entries)))
        return size + len(entries)


class FetchedTiles:
    """A :class:`TileSource` reading a tlog-tiles log over HTTP (a monitor's view of a log).

    ``fetch(path)`` returns the bytes at ``<prefix>/<path>``. Tiles are untrusted: a proof built
    from them is only as good as its verification against signed checkpoints.
    """

    def __init__(self, fetch: Callable[[str], bytes]) -> None:
        self._fetch = fetch

    def read_tiles(self, refs: Collection[TileRef]) -> Mapping[tuple[int, int], Tile]:
        """Fetch each tile at the width the tree size needs."""
        out = {}
        for ref in refs:
            data = self._fetch(ref.path())
            if len(data) != ref.width * HASH_SIZE:
                raise InputError("fetch_failed", f"{ref.path()} is not {ref.width} hashes")
            out[(ref.level, ref.idx)] = Tile.build(ref.level, ref.idx, data)
        return out


def encode_bundle(entries: Sequence[bytes]) -> bytes:
    """tlog-tiles entry bundle bytes: each entry as a big-endian uint16 length and the entry."""
    if entries and max(map(len, entries)) > MAX_ENTRY_BYTES:
        raise InputError("too_large", f"a log entry is at most {MAX_ENTRY_BYTES} bytes")
    return b"".join([part for e in entries for part in (len(e).to_bytes(2, "big"), e)])


def decode_bundle(data: bytes, limit: int = TILE_WIDTH) -> list[bytes]:
    """Split an entry bundle; raise ``invalid_request`` if it is truncated or holds too many."""
    entries: list[bytes] = []
    pos = 0
    view = memoryview(data)
    while pos < len(data):
        if pos + 2 > len(data) or len(entries) >= limit:
            raise InputError("invalid_request", "malformed entry bundle")
        n = int.from_bytes(view[pos : pos + 2], "big")
        end = pos + 2 + n
        if end > len(data):
            raise InputError("invalid_request", "malformed entry bundle")
        entries.append(bytes(view[pos + 2 : end]))
        pos = end
    return entries
