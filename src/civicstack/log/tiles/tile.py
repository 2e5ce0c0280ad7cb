"""One tlog-tiles tile: its address, resource path and width, and its hashes with ``inner``.

A tile at level *L*, index *N* holds up to 256 consecutive hashes of the tree level 8L:
``MTH(D[(N*256 + i) * 256**L : (N*256 + i + 1) * 256**L])`` for i in 0..255 (tlog-tiles,
"Merkle Tree"). A full tile is 8,192 bytes; the rightmost tile of each level is partial and
grows as the log grows.

tlog-tiles recomputes the levels inside a tile by hashing (up to 255 hashes a node); to make that
at most one hash, each tile also carries ``inner``: its complete nodes at heights 2, 4 and 6 (a
third more bytes). That column is civicstack's index, not part of tlog-tiles; the tile bytes
themselves are exactly tlog-tiles'.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import NamedTuple

from civicstack._crypto import merkle_node_hash, merkle_parents
from civicstack.errors import CivicError, InputError
from civicstack.log.tree import HASH_SIZE

__all__ = [
    "INNER_HEIGHTS",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "Tile",
    "TileRef",
    "index_path",
    "parse_tile_path",
    "tile_width",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
#: Heights inside a tile whose complete nodes ``inner`` stores, in this order.
INNER_HEIGHTS = (2, 4, 6)


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

    def complete(self) -> bool:
        """Whether ``inner`` holds every complete node of the stored heights (a tile known by
        its hashes alone has an empty ``inner``)."""
        return len(self.inner) == sum(_inner_counts(self.width)) * HASH_SIZE

    def inner_start(self, height: int) -> int:
        """Byte offset in ``inner`` of the first node of stored ``height`` (2, 4 or 6)."""
        return self._starts[height]

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
