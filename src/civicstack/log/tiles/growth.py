"""How a tree's tiles grow: the partial tiles an append reads, the tiles it writes, and the
frontier (right edge) a writer keeps to compute each new root in O(1) hashes per leaf."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from civicstack._crypto import MERKLE_EMPTY_ROOT, merkle_node_hash
from civicstack.errors import CivicError
from civicstack.log.tiles.tile import (
    INNER_HEIGHTS,
    TILE_HEIGHT,
    TILE_WIDTH,
    Tile,
    TileRef,
    _pyramid,
)
from civicstack.log.tree import (
    HASH_SIZE,
    Node,
    fold_nodes,
    inclusion_spans,
    proof_from_nodes,
    root_nodes,
)

__all__ = [
    "Frontier",
    "extend_frontier",
    "frontier_root",
    "grow",
    "prove_appended",
    "right_edge",
]


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
        promoted: list[bytes] = []
        pos = 0
        if old is not None and old.complete():
            # The partial tile grows from its stored nodes: only the new ones are hashed.
            pos = TILE_WIDTH - old.width
            tile, top = _extended(old, incoming[:pos])
            changed.append(tile)
            if top is not None:
                promoted.append(top)
            index += 1
            head = b""
        else:  # a fresh tile, or a partial one known by its hashes alone: hashed whole
            head = old.hashes if old is not None else b""
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


def _extended(old: Tile, more: Sequence[bytes]) -> tuple[Tile, bytes | None]:
    """Partial tile ``old`` with hashes ``more`` appended (at most up to full), and its root
    when it fills: the same tile as :meth:`Tile.build` makes, hashing only the nodes that
    ``more`` completes (about one per hash) and at most one of ``old``'s per height.
    """
    width = old.width + len(more)
    hashes = old.hashes + b"".join(more)
    memo: dict[tuple[int, int], bytes] = {}

    def node(height: int, i: int) -> bytes:
        # The complete node over hashes [i << height, (i + 1) << height) of the grown tile.
        if (i + 1) << height <= old.width:
            return old.subtree(i << height, height)
        if not height:
            return hashes[i * HASH_SIZE : (i + 1) * HASH_SIZE]
        found = memo.get((height, i))
        if found is None:
            found = merkle_node_hash(node(height - 1, 2 * i), node(height - 1, 2 * i + 1))
            memo[(height, i)] = found
        return found

    parts = []
    for h in INNER_HEIGHTS:
        start = old.inner_start(h)
        kept = old.width >> h
        parts.append(old.inner[start : start + kept * HASH_SIZE])
        parts += [node(h, i) for i in range(kept, width >> h)]
    top = node(TILE_HEIGHT, 0) if width == TILE_WIDTH else None
    return Tile(old.level, old.index, hashes, b"".join(parts)), top


#: The right edge of a tree as its perfect subtrees, largest first: ``(level, MTH)`` for each
#: node of :func:`~civicstack.log.tree.root_nodes` (a "compact range" over ``[0, size)``).
Frontier = list[tuple[int, bytes]]


def extend_frontier(frontier: Frontier, leaf_hashes: Sequence[bytes]) -> Frontier:
    """The frontier after appending ``leaf_hashes``: equal neighbours merge (RFC 9162 §2.1.1).

    O(1) hashes per leaf amortised, so a writer keeps its tree's root without reading tiles.
    """
    out = list(frontier)
    for leaf in leaf_hashes:
        level, node = 0, leaf
        while out and out[-1][0] == level:
            node = merkle_node_hash(out.pop()[1], node)
            level += 1
        out.append((level, node))
    return out


def frontier_root(frontier: Frontier) -> bytes:
    """MTH of the tree whose right edge is ``frontier`` (folded right to left)."""
    if not frontier:
        return MERKLE_EMPTY_ROOT
    return fold_nodes([h for _, h in frontier])


def prove_appended(
    frontier: Frontier, start: int, leaf_hashes: Sequence[bytes]
) -> list[list[bytes]]:
    """RFC 9162 §2.1.3.1 inclusion proofs of the leaves just appended at ``start`` (whose hashes
    are ``leaf_hashes``), in the tree of ``start + len(leaf_hashes)``, from memory alone:
    ``frontier`` is the tree's right edge at ``start`` (:func:`extend_frontier`).

    Every node a proof names lies either wholly before ``start`` (then, being the left sibling
    of a node that reaches past ``start``, it is one of the frontier's perfect subtrees), wholly
    in the appended leaves, or across ``start`` (then it is folded from those two kinds).
    """
    size = start + len(leaf_hashes)
    if [level for level, _ in frontier] != [level for level, _ in root_nodes(start)]:
        raise CivicError("internal_error", f"that frontier is not one of a tree of {start}")
    old = {node: h for node, (_, h) in zip(root_nodes(start), frontier, strict=True)}
    memo: dict[Node, bytes] = {}

    def node_hash(node: Node) -> bytes:
        level, index = node
        if level == 0 and index >= start:
            return leaf_hashes[index - start]
        if (index + 1) << level <= start:
            return old[node]
        found = memo.get(node)
        if found is None:
            found = merkle_node_hash(
                node_hash((level - 1, index * 2)), node_hash((level - 1, index * 2 + 1))
            )
            memo[node] = found
        return found

    return [proof_from_nodes(inclusion_spans(i, size), node_hash) for i in range(start, size)]
