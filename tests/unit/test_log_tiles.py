"""C2SP tlog-tiles layout: paths, widths, growth in any chunking, entry bundles."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicstack.errors import CivicError, InputError
from civicstack.log import MemoryTiles, leaf_hash, mth
from civicstack.log.tiles import (
    Tile,
    TileRef,
    decode_bundle,
    encode_bundle,
    grow,
    index_path,
    parse_tile_path,
    right_edge,
    tile_width,
)


def test_index_paths_follow_the_spec_example() -> None:
    """Tile index 1234067 is written x001/x234/067; small indices are padded to three digits."""
    assert index_path(1234067) == "x001/x234/067"
    assert index_path(5) == "005"
    assert index_path(1000) == "x001/000"
    assert TileRef(1, 5, 17).path() == "tile/1/005.p/17"
    assert TileRef(0, 1234067).path() == "tile/0/x001/x234/067"


def test_tile_widths_of_the_spec_example_tree() -> None:
    """A tree of 70,000 has 273 full level-0 tiles, a level-0 tile of 112, and so on (spec)."""
    size = 70_000
    assert all(tile_width(0, n, size) == 256 for n in range(273))
    assert tile_width(0, 273, size) == 112
    assert tile_width(0, 274, size) == 0
    assert tile_width(1, 0, size) == 256
    assert tile_width(1, 1, size) == 17
    assert tile_width(2, 0, size) == 1
    assert right_edge(size) == [TileRef(0, 273, 112), TileRef(1, 1, 17), TileRef(2, 0, 1)]
    # "A tree of size 256 will be represented by a full level 0 tile and a partial level 1 tile".
    assert right_edge(256) == [TileRef(1, 0, 1)]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 1200),
    cuts=st.lists(st.integers(1, 1199), max_size=6),
)
def test_growth_is_independent_of_batching(n: int, cuts: list[int]) -> None:
    """Appending the same entries in any batches gives byte-identical tiles."""
    entries = [b"%d" % i for i in range(n)]
    whole = MemoryTiles()
    whole.append(0, entries)
    parts = MemoryTiles()
    size = 0
    for a, b in zip([0, *sorted(cuts)], [*sorted(cuts), n], strict=True):
        if a < b <= n:
            size = parts.append(size, entries[a:b])
    if size < n:
        size = parts.append(size, entries[size:])
    assert size == n
    assert parts.tiles == whole.tiles


def test_full_level0_tile_holds_leaf_hashes_and_feeds_level1() -> None:
    """A full level-0 tile is 8,192 bytes of leaf hashes; its MTH is the first level-1 hash."""
    entries = [b"%d" % i for i in range(256)]
    tiles = MemoryTiles()
    tiles.append(0, entries)
    t0 = tiles.tiles[(0, 0)]
    assert len(t0.hashes) == 8192
    assert t0.hashes[:32] == leaf_hash(b"0")
    assert tiles.tiles[(1, 0)].hashes == mth([leaf_hash(e) for e in entries])
    assert len(t0.inner) == (64 + 16 + 4) * 32
    assert t0.subtree(4, 2) == mth([leaf_hash(e) for e in entries[4:8]])
    assert t0.subtree(32, 5) == mth([leaf_hash(e) for e in entries[32:64]])


def test_grow_refuses_a_damaged_right_edge() -> None:
    """Growing from a partial tile of the wrong width is a storage fault, not a silent fork."""
    t = Tile.build(0, 0, leaf_hash(b"a") * 3)
    with pytest.raises(CivicError) as err:
        grow(2, {(0, 0): t}, [leaf_hash(b"x")])
    assert err.value.code == "internal_error"
    with pytest.raises(CivicError):
        Tile(0, 0, b"\x00" * 33, b"").check()


def test_entry_bundles_round_trip_and_reject_damage() -> None:
    """Bundles are uint16-length-prefixed entries; truncation and overflow are refused."""
    entries = [b"", b"a", b"x" * 300, bytes(range(256))]
    data = encode_bundle(entries)
    assert data[:2] == b"\x00\x00"
    assert decode_bundle(data) == entries
    for bad in (data[:-1], data + b"\x00", b"\x00\x05abc"):
        with pytest.raises(InputError):
            decode_bundle(bad)
    with pytest.raises(InputError):
        decode_bundle(encode_bundle([b"a"] * 3), limit=2)
    with pytest.raises(InputError) as err:
        encode_bundle([b"x" * 65536])
    assert err.value.code == "too_large"


def test_tile_paths_parse_back_and_non_canonical_ones_are_refused() -> None:
    """parse_tile_path reads what TileRef.path writes and refuses other spellings."""
    for ref in (TileRef(0, 0), TileRef(1, 1234067, 5), TileRef(63, 1000, 255)):
        assert parse_tile_path(ref.path()) == (ref.level, ref.idx, ref.width)
    assert parse_tile_path("tile/entries/x001/002.p/7") == (None, 1002, 7)
    for bad in (
        "tile/0/0000",
        "tile/0/x000/001",
        "tile/0/001.p/256",
        "tile/0/001.p/0",
        "tile/0/001.p/07",
        "tile/64/000",
        "tile/01/000",
        "tile/0/../000",
        "tile/-1/000",
    ):
        with pytest.raises(InputError) as err:
            parse_tile_path(bad)
        assert err.value.code == "not_found"
