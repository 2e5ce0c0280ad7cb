"""Where tiles come from: the :class:`TileSource` seam, tiles in memory, tiles over HTTP."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Protocol

from civicstack._crypto import merkle_leaf_hashes
from civicstack.errors import InputError
from civicstack.log.tiles.growth import grow
from civicstack.log.tiles.tile import Tile, TileRef
from civicstack.log.tree import HASH_SIZE

__all__ = ["FetchedTiles", "MemoryTiles", "TileSource"]


class TileSource(Protocol):
    """Reads tiles: a database, or a tlog-tiles HTTP endpoint."""

    def read_tiles(self, refs: Collection[TileRef]) -> Mapping[tuple[int, int], Tile]:
        """Each wanted tile keyed by ``(level, index)``, at least ``ref.width`` wide."""
        ...


class MemoryTiles:
    """A :class:`TileSource` over tiles held in memory (an append's working set, tests)."""

    def __init__(self, tiles: Iterable[Tile] = ()) -> None:
        self.tiles: dict[tuple[int, int], Tile] = {(t.level, t.index): t for t in tiles}

    def update(self, tiles: Iterable[Tile]) -> None:
        """Add or replace tiles."""
        for t in tiles:
            self.tiles[(t.level, t.index)] = t

    def read_tiles(self, refs: Collection[TileRef]) -> Mapping[tuple[int, int], Tile]:
        """The wanted tiles that are held (missing ones fail later, in :func:`span_hashes`)."""
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
