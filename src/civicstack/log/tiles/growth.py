"""How a tree's tiles grow: the partial tiles an append reads, and the tiles it writes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from civicstack.errors import CivicError
from civicstack.log.tiles.tile import TILE_HEIGHT, TILE_WIDTH, Tile, TileRef, _pyramid
from civicstack.log.tree import HASH_SIZE

__all__ = ["grow", "right_edge"]


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
