"""Committed tiles kept in memory, shared by every log of a store (about 11 KB a full tile)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from contextlib import suppress

from civicstack.log.tiles import Tile, TilePeek

__all__ = ["TileCache"]


class TileCache:
    """Tiles by ``(log id, level, index)``; the least recently used go first past ``size``.

    Fill it from committed rows only (see :meth:`LogDatabase._read_tiles`).
    """

    def __init__(self, size: int) -> None:
        self._tiles: OrderedDict[tuple[int, int, int], Tile] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: tuple[int, int, int]) -> Tile | None:
        """The cached tile at ``key``, if any."""
        with self._lock:
            tile = self._tiles.get(key)
            if tile is not None:
                self._tiles.move_to_end(key)
            return tile

    def peek(self, log_id: int) -> TilePeek:
        """A tile lookup in the cache only, for proofs of committed sizes."""
        cache = self._tiles

        def peek(level: int, index: int, width: int) -> Tile | None:
            # No lock: OrderedDict's C methods are atomic under the GIL; a tile evicted by
            # another thread between the two calls is simply a miss.
            key = (log_id, level, index)
            tile = cache.get(key)
            if tile is None or tile.width < width:
                return None
            with suppress(KeyError):
                cache.move_to_end(key)
            return tile

        return peek

    def put(self, key: tuple[int, int, int], tile: Tile) -> None:
        """Cache ``tile`` unless a wider one is held already."""
        with self._lock:
            held = self._tiles.get(key)
            if held is not None and held.width > tile.width:
                return
            self._tiles[key] = tile
            while len(self._tiles) > self._size:
                self._tiles.popitem(last=False)
