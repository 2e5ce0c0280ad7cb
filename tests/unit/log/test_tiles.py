"""C2SP tlog-tiles layout: paths, widths, growth in any chunking, entry bundles."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from civicstack.errors import CivicError, InputError
from civicstack.log import MemoryTiles, leaf_hash, mth, verify_consistency, verify_inclusion
from civicstack.log.tiles import (
    ProofMemo,
    Tile,
    TileRef,
    decode_bundle,
    encode_bundle,
    extend_frontier,
    grow,
    index_path,
    parse_tile_path,
    prove_appended,
    prove_consistency,
    prove_inclusion,
    right_edge,
    root_at,
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


@settings(max_examples=60, deadline=None)
@given(
    bundles=st.integers(0, 300),
    width=st.integers(0, 255),
    added=st.integers(1, 600),
    hashes_only=st.booleans(),
)
def test_partial_tiles_grow_to_the_tiles_built_from_scratch(
    bundles: int, width: int, added: int, hashes_only: bool
) -> None:
    """Partial tiles extended from their stored nodes (or, at level 0, from their hashes
    alone) equal the tiles of the whole tree hashed from scratch, at every level."""
    size = bundles * 256 + width
    leaves = [leaf_hash(b"%d" % i) for i in range(size + added)]
    before = {(t.level, t.index): t for t in grow(0, {}, leaves[:size])}
    edge = {(r.level, r.idx): before[(r.level, r.idx)] for r in right_edge(size)}
    if hashes_only and (0, bundles) in edge:
        edge[(0, bundles)] = Tile(0, bundles, edge[(0, bundles)].hashes, b"")
    grown = {(t.level, t.index): t for t in grow(size, edge, leaves[size:])}
    whole = {(t.level, t.index): t for t in grow(0, {}, leaves)}
    assert grown == {key: whole[key] for key in grown}
    # Every tile the new leaves touch was written, and nothing else.
    assert set(grown) == {key for key, t in whole.items() if before.get(key) != t}


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


def _remembering_reader(
    tiles: MemoryTiles,
) -> tuple[ProofMemo, Callable[[int, int, int], Tile | None]]:
    memo = ProofMemo()

    def peek(level: int, index: int, width: int) -> Tile | None:
        tile = tiles.tiles.get((level, index))
        return tile if tile is not None and tile.width >= width else None

    return memo, peek


@pytest.fixture(scope="module")
def tree_70k() -> tuple[MemoryTiles, list[bytes]]:
    """The spec's example size: three tile levels, partial tiles on every one."""
    entries = [b"leaf %d" % i for i in range(70_000)]
    tiles = MemoryTiles()
    tiles.append(0, entries)
    return tiles, [leaf_hash(e) for e in entries]


@settings(max_examples=80, deadline=None)
@given(data=st.data())
def test_remembered_proofs_equal_proofs_read_from_tiles(
    tree_70k: tuple[MemoryTiles, list[bytes]], data: st.DataObject
) -> None:
    """Proofs served from a memo and cached tiles are the proofs read from tiles, and verify."""
    tiles, leaves = tree_70k
    memo, peek = _remembering_reader(tiles)
    boundary = st.sampled_from([1, 255, 256, 257, 511, 512, 65_535, 65_536, 65_537, 69_999])
    for _ in range(3):
        size2 = data.draw(st.one_of(boundary, st.integers(2, 70_000)) | st.just(70_000))
        size1 = min(size2, data.draw(st.one_of(boundary, st.integers(1, size2))))
        index = data.draw(st.integers(0, size2 - 1))
        for _again in range(2):  # the second time comes from what the first remembered
            proof = prove_consistency(size1, size2, tiles, memo, peek)
            assert proof == prove_consistency(size1, size2, tiles)
            # Roots read from tiles without a memo (checked against MTH in test_stores_log).
            root1, root2 = root_at(size1, tiles), root_at(size2, tiles)
            verify_consistency(size1, size2, root1, root2, proof)
            path = prove_inclusion(index, size2, tiles, memo, peek)
            assert path == prove_inclusion(index, size2, tiles)
            verify_inclusion(leaves[index], index, size2, path, root2)
            assert root_at(size2, tiles, memo) == root2


def test_a_proof_needing_an_uncached_tile_falls_back_to_reading_it(
    tree_70k: tuple[MemoryTiles, list[bytes]],
) -> None:
    """When peek lacks a tile the proof is still complete (read through the tile source)."""
    tiles, leaves = tree_70k
    memo = ProofMemo()
    proof = prove_consistency(1000, 70_000, tiles, memo, lambda level, index, width: None)
    verify_consistency(1000, 70_000, mth(leaves[:1000]), mth(leaves), proof)
    assert memo.spans  # the wide spans read from tiles were remembered


def test_a_full_memo_starts_afresh() -> None:
    """Past its bound a memo forgets everything rather than grow."""
    memo = ProofMemo(max_entries=2)
    memo.spans.update({(0, 256): b"a" * 32, (256, 512): b"b" * 32, (0, 512): b"c" * 32})
    memo.trim()
    assert memo.spans == {}


@given(start=st.integers(0, 600), added=st.integers(1, 300))
@settings(max_examples=60, deadline=None)
def test_proofs_of_appended_leaves_from_memory_match_the_tree(start: int, added: int) -> None:
    """Inclusion proofs made from the frontier at the old size and the new leaves' hashes are
    the RFC 9162 proofs of the grown tree (each verifies, and equals the tiles' proof)."""
    hashes = [leaf_hash(n.to_bytes(4, "big")) for n in range(start + added)]
    frontier = extend_frontier([], hashes[:start])
    proofs = prove_appended(frontier, start, hashes[start:])
    size = start + added
    tiles = MemoryTiles()
    tiles.append(0, [n.to_bytes(4, "big") for n in range(size)])
    root = mth(hashes)
    assert len(proofs) == added
    for k, proof in enumerate(proofs):
        verify_inclusion(hashes[start + k], start + k, size, proof, root)
        assert proof == prove_inclusion(start + k, size, tiles)


def test_proofs_of_appended_leaves_refuse_a_wrong_frontier() -> None:
    """A frontier that is not of a tree of the stated size is refused, not trusted."""
    hashes = [leaf_hash(bytes([n])) for n in range(5)]
    with pytest.raises(CivicError):
        prove_appended(extend_frontier([], hashes[:3]), 4, hashes[4:])
