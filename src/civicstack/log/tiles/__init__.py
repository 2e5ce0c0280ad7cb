"""The tree as C2SP tlog-tiles (https://c2sp.org/tlog-tiles): what the log stores and serves.

A tile at level *L*, index *N* holds up to 256 consecutive hashes of the tree level 8L:
``MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) * 256**L])`` for i in 0..255 (tlog-tiles,
"Merkle Tree"). A full tile is 8,192 bytes; the rightmost tile of each level is partial and
grows as the log grows. Entry bundles hold the entries of a level-0 tile, each prefixed with its
length as a big-endian uint16 (tlog-tiles, "Log entries").

Every perfect subtree ``(level, index)`` of the tree (:data:`~civicstack.log.tree.Node`) lies in
exactly one tile, so a proof needs one tile per tile level it touches: O(log n) reads, never the
leaves. Each tile also carries ``inner``, civicstack's index of its inner nodes (:mod:`.tile`).

- :mod:`.tile` — a tile's address, path and width; :class:`Tile` and its ``inner`` hashes;
- :mod:`.bundles` — entry bundles;
- :mod:`.growth` — the tiles an append reads and writes (:func:`right_edge`, :func:`grow`) and
  a writer's :data:`Frontier`;
- :mod:`.sources` — :class:`TileSource`: tiles in memory, tiles fetched over HTTP;
- :mod:`.proofs` — roots and RFC 9162 proofs from tiles, and the :class:`ProofMemo` of a reader.
"""

from civicstack.log.tiles.bundles import MAX_ENTRY_BYTES, decode_bundle, encode_bundle
from civicstack.log.tiles.growth import (
    Frontier,
    extend_frontier,
    frontier_root,
    grow,
    prove_appended,
    right_edge,
)
from civicstack.log.tiles.proofs import (
    MEMO_MIN_WIDTH,
    ProofMemo,
    SpanMemo,
    TilePeek,
    prove_consistency,
    prove_inclusion,
    root_at,
    span_hashes,
)
from civicstack.log.tiles.sources import FetchedTiles, MemoryTiles, TileSource
from civicstack.log.tiles.tile import (
    INNER_HEIGHTS,
    TILE_HEIGHT,
    TILE_WIDTH,
    Tile,
    TileRef,
    index_path,
    parse_tile_path,
    tile_width,
)

__all__ = [
    "INNER_HEIGHTS",
    "MAX_ENTRY_BYTES",
    "MEMO_MIN_WIDTH",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "FetchedTiles",
    "Frontier",
    "MemoryTiles",
    "ProofMemo",
    "SpanMemo",
    "Tile",
    "TilePeek",
    "TileRef",
    "TileSource",
    "decode_bundle",
    "encode_bundle",
    "extend_frontier",
    "frontier_root",
    "grow",
    "index_path",
    "parse_tile_path",
    "prove_appended",
    "prove_consistency",
    "prove_inclusion",
    "right_edge",
    "root_at",
    "span_hashes",
    "tile_width",
]
