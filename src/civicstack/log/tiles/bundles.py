"""tlog-tiles entry bundles (tlog-tiles, "Log entries"): the entries of a level-0 tile, each
prefixed with its length as a big-endian uint16."""

from __future__ import annotations

from collections.abc import Sequence

from civicstack.errors import InputError
from civicstack.log.tiles.tile import TILE_WIDTH

__all__ = ["MAX_ENTRY_BYTES", "decode_bundle", "encode_bundle"]

#: tlog-tiles bundles prefix each entry with a uint16 length.
MAX_ENTRY_BYTES = 0xFFFF


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
