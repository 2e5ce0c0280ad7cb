"""The subject map: a sparse Merkle tree of blinded subject key -> blinded chain head.

The construction (a 256-bit sparse Merkle tree with single-leaf subtrees collapsed, as in the
CONIKS directory and the Diem/Aptos "Jellyfish" sparse Merkle tree; Trillian's map is the same
tree without collapsing):

1. Keys are 32 bytes (:func:`civicstack.access.subject.map_key`); bit ``i`` of a key is bit
   ``7 - i % 8`` of byte ``i // 8`` (most significant first). A node at depth ``d`` covers
   every key whose first ``d`` bits are its *prefix*; the root (depth 0) covers every key;
   its children at depth ``d + 1`` extend the prefix with bit ``d`` = 0 (left) or 1 (right).
2. The hash of a subtree holding no key is ``E`` = 32 zero bytes, at every depth.
3. The hash of a subtree holding exactly one key ``k`` with value ``v`` is the leaf hash
   ``SHA-256(0x02 || k || v)``, whatever its depth: the leaf sits at the highest node whose
   subtree holds it alone (values are 32 bytes, :func:`~civicstack.access.subject.head_value`).
4. The hash of a subtree holding two keys or more is ``SHA-256(0x03 || left || right)``.
5. The root hash is the hash of the depth-0 subtree (``E`` for an empty map).

The prefixes 0x02 and 0x03 keep map hashes apart from each other and from the log's RFC 9162
hashes (0x00, 0x01). A *proof* for key ``k`` is the list of sibling hashes on ``k``'s path from
the root down to the first node that is not a branch, and what that node is: empty (``k`` is
absent), the leaf of ``k`` (present, with its value) or the leaf of another key sharing the
prefix (``k`` is absent). :func:`verify_map_proof` recomputes the root from it. Two proofs
that disagree about ``k`` under one root would, at the first depth where they part, give one
node two preimages of different forms (leaf, branch, ``E``): a SHA-256 collision.

Writes change only the nodes on the updated keys' paths; :func:`update_map` reads those paths
(and their siblings) from a :class:`MapNodes` source in a few batched reads and returns the
nodes to write, so a store keeps about two nodes per subject and one batch of appends costs
``O(batch x log(subjects))`` hashes. Keys are only ever added or given new values.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

from civicstack._crypto import MAP_EMPTY, map_leaf_hash, map_node_hash
from civicstack.errors import InputError, VerificationError

__all__ = [
    "KEY_BITS",
    "MAP_EMPTY",
    "MapBranch",
    "MapLeaf",
    "MapNode",
    "MapNodes",
    "MapProof",
    "MemoryMapNodes",
    "node_id",
    "prove_map",
    "update_map",
    "verify_map_proof",
]

#: Keys are 256-bit; a node lies at depth 0 (the root) to 256.
KEY_BITS = 256
_KEY_BYTES = 32
#: How many depths one batched read of :func:`update_map` and :func:`prove_map` covers.
_READ_DEPTHS = 12


@dataclass(frozen=True, slots=True)
class MapLeaf:
    """A subtree holding one key (step 3)."""

    key: bytes
    value: bytes

    @property
    def hash(self) -> bytes:
        """Step 3's leaf hash."""
        return map_leaf_hash(self.key, self.value)


@dataclass(frozen=True, slots=True)
class MapBranch:
    """A subtree holding two keys or more (step 4), by its hash."""

    hash: bytes


MapNode = MapLeaf | MapBranch


class MapNodes(Protocol):
    """Where a map's nodes are kept (the access store's SQL table, or memory)."""

    def read_nodes(self, ids: Collection[bytes]) -> Mapping[bytes, MapNode]:
        """The stored nodes among ``ids`` (:func:`node_id`); absent ones are empty subtrees."""
        ...


class MemoryMapNodes:
    """A map held in a dict: for tests, benchmarks and small maps."""

    def __init__(self) -> None:
        self.nodes: dict[bytes, MapNode] = {}

    def read_nodes(self, ids: Collection[bytes]) -> Mapping[bytes, MapNode]:
        """The stored nodes among ``ids``."""
        return {i: self.nodes[i] for i in ids if i in self.nodes}

    def update(self, updates: Mapping[bytes, bytes]) -> bytes:
        """Apply ``updates`` (:func:`update_map`); the new root hash."""
        root, writes = update_map(self, updates)
        self.nodes.update(writes)
        return root


def _check_key(key: object, what: str = "a map key") -> bytes:
    if not isinstance(key, bytes) or len(key) != _KEY_BYTES:
        raise InputError("invalid_request", f"{what} is 32 bytes")
    return key


def _bit(key: bytes, i: int) -> int:
    return (key[i >> 3] >> (7 - (i & 7))) & 1


def node_id(depth: int, key: bytes) -> bytes:
    """The stored id of the depth-``depth`` node on ``key``'s path: the depth (2 bytes,
    big-endian) then the ``depth``-bit prefix of ``key`` (its last byte's unused bits zero)."""
    full, rest = divmod(depth, 8)
    prefix = key[:full]
    if rest:
        prefix += bytes([key[full] & (0xFF << (8 - rest)) & 0xFF])
    return depth.to_bytes(2, "big") + prefix


def _flip(key: bytes, i: int) -> bytes:
    """``key`` with bit ``i`` flipped (a key on the sibling's side of depth ``i + 1``)."""
    out = bytearray(key)
    out[i >> 3] ^= 0x80 >> (i & 7)
    return bytes(out)


def _id(depth: int, prefix: int) -> bytes:
    """:func:`node_id` from the ``depth``-bit prefix as an integer."""
    return depth.to_bytes(2, "big") + (prefix << (-depth % 8)).to_bytes((depth + 7) >> 3, "big")


def _path_ids(key: int, low: int, high: int) -> list[bytes]:
    """The ids of the nodes at depths ``low..high-1`` on the path of ``key`` (as an integer)
    and of their siblings: :func:`node_id` by integer arithmetic, for the write path."""
    out = []
    for depth in range(low, high):
        prefix = key >> (KEY_BITS - depth)
        pad = -depth % 8
        size = (depth + 7) >> 3
        head = depth.to_bytes(2, "big")
        out.append(head + (prefix << pad).to_bytes(size, "big"))
        if depth:
            out.append(head + ((prefix ^ 1) << pad).to_bytes(size, "big"))
    return out


def _read_paths(nodes: MapNodes, keys: Iterable[bytes]) -> dict[bytes, MapNode]:
    """Every stored node on the paths of ``keys`` and the siblings of those paths, read
    :data:`_READ_DEPTHS` depths at a time while some path goes on through a branch."""
    got: dict[bytes, MapNode] = {}
    pending = [(k, int.from_bytes(k, "big")) for k in dict.fromkeys(keys)]
    low = 0
    while pending and low <= KEY_BITS:
        high = min(low + _READ_DEPTHS, KEY_BITS + 1)
        ids: set[bytes] = set()
        for _, number in pending:
            ids.update(_path_ids(number, low, high))
        got.update(nodes.read_nodes(ids))
        pending = [p for p in pending if isinstance(got.get(node_id(high - 1, p[0])), MapBranch)]
        low = high
    return got


def update_map(
    nodes: MapNodes, updates: Mapping[bytes, bytes]
) -> tuple[bytes, dict[bytes, MapNode]]:
    """Set ``key -> value`` for each of ``updates`` (32 bytes each); the new root hash and the
    nodes to write (id -> node), which replace the stored ones with the same ids."""
    for key, value in updates.items():
        _check_key(key)
        _check_key(value, "a map value")
    got = _read_paths(nodes, updates)
    writes: dict[bytes, MapNode] = {}

    def put(depth: int, prefix: int, node: MapNode) -> None:
        nid = _id(depth, prefix)
        got[nid] = writes[nid] = node

    # One key after the other: each walks its path (steps 3 and 4 of the module docstring)
    # and rehashes it, seeing the nodes the keys before it wrote.
    for key, value in sorted(updates.items()):
        k = int.from_bytes(key, "big")
        # 1. Down the path to the first node that is not a branch.
        depth = 0
        node = got.get(_id(0, 0))
        while isinstance(node, MapBranch):
            depth += 1
            node = got.get(_id(depth, k >> (KEY_BITS - depth)))
        # 2. The key's leaf there, or, when another key's leaf is there, both leaves below the
        #    first bit where the keys part, with branches down to it.
        mine = MapLeaf(key, value)
        if isinstance(node, MapLeaf) and node.key != key:
            other = int.from_bytes(node.key, "big")
            split = KEY_BITS - (k ^ other).bit_length()
            below = KEY_BITS - split - 1
            put(split + 1, k >> below, mine)
            put(split + 1, other >> below, node)
            left, right = (mine, node) if not (k >> below) & 1 else (node, mine)
            h = map_node_hash(left.hash, right.hash)
            put(split, k >> (below + 1), MapBranch(h))
            for d in range(split - 1, depth - 1, -1):
                bit = (k >> (KEY_BITS - 1 - d)) & 1
                h = map_node_hash(MAP_EMPTY, h) if bit else map_node_hash(h, MAP_EMPTY)
                put(d, k >> (KEY_BITS - d), MapBranch(h))
        elif node != mine:
            put(depth, k >> (KEY_BITS - depth), mine)
            h = mine.hash
        else:
            continue
        # 3. Up to the root, with each sibling as it stands.
        for d in range(depth - 1, -1, -1):
            prefix = k >> (KEY_BITS - 1 - d)
            sibling = got.get(_id(d + 1, prefix ^ 1))
            other_hash = MAP_EMPTY if sibling is None else sibling.hash
            h = map_node_hash(other_hash, h) if prefix & 1 else map_node_hash(h, other_hash)
            put(d, prefix >> 1, MapBranch(h))
    root_id = _id(0, 0)
    root = got.get(root_id) if updates else nodes.read_nodes([root_id]).get(root_id)
    return (MAP_EMPTY if root is None else root.hash), writes


@dataclass(frozen=True, slots=True)
class MapProof:
    """A subject-map proof for one key (see the module docstring): the sibling hashes from the
    root down, and the node the path ends at (``None``: an empty subtree)."""

    siblings: tuple[bytes, ...]
    leaf: MapLeaf | None

    def __post_init__(self) -> None:
        if len(self.siblings) > KEY_BITS:
            raise InputError("malformed", f"a map proof has at most {KEY_BITS} hashes")
        for h in self.siblings:
            _check_key(h, "a map proof hash")
        if self.leaf is not None:
            _check_key(self.leaf.key, "a map leaf key")
            _check_key(self.leaf.value, "a map leaf value")


def prove_map(nodes: MapNodes, key: bytes) -> tuple[bytes, MapProof]:
    """The map's root hash and the proof for ``key`` (its value, or that it is absent)."""
    _check_key(key)
    got = _read_paths(nodes, [key])
    node = got.get(node_id(0, key))
    root = MAP_EMPTY if node is None else node.hash
    siblings: list[bytes] = []
    depth = 0
    while isinstance(node, MapBranch):
        sibling = got.get(node_id(depth + 1, _flip(key, depth)))
        siblings.append(MAP_EMPTY if sibling is None else sibling.hash)
        depth += 1
        node = got.get(node_id(depth, key))
    return root, MapProof(tuple(siblings), node)


def verify_map_proof(root: bytes, key: bytes, proof: MapProof) -> bytes | None:
    """The value ``proof`` shows for ``key`` under ``root`` (``None``: absent).

    Raises :class:`VerificationError` ``map_proof_invalid`` unless the proof leads to ``root``.
    """
    _check_key(key)
    depth = len(proof.siblings)
    # 1. The node the path ends at: empty, the key's own leaf, or another key's leaf that
    #    shares the path's prefix (step 3 puts it there, alone).
    found: bytes | None = None
    if proof.leaf is None:
        h = MAP_EMPTY
    else:
        if proof.leaf.key == key:
            found = proof.leaf.value
        elif node_id(depth, proof.leaf.key) != node_id(depth, key):
            raise VerificationError("map_proof_invalid", "the proof's leaf is off the key's path")
        h = proof.leaf.hash
    # 2. Up from there, with the sibling on the side the key's bit does not take (step 4).
    for depth_above in range(depth - 1, -1, -1):
        sibling = proof.siblings[depth_above]
        h = map_node_hash(sibling, h) if _bit(key, depth_above) else map_node_hash(h, sibling)
    # 3. The root.
    if h != root:
        raise VerificationError("map_proof_invalid", "the map proof leads to another root")
    return found
