"""Scale-out on PostgreSQL: two ``civic up`` nodes on different ports share one database and
append to one register's log at once (issue 10).

Every write either node acknowledged is in the log exactly once, at the index it was told; the
log's indices are contiguous (its entry bundles hold exactly ``size`` leaves, none missing or
repeated); every checkpoint a node handed out verifies under the register's key (C2SP
tlog-checkpoint) and matches the log's tiles; and each checkpoint is consistent with the one
before it (RFC 9162 §2.1.4, proofs built from the served C2SP tlog-tiles).
"""

from __future__ import annotations

import itertools
import json
import secrets
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from civicstack._crypto import b64url_encode
from civicstack.log import (
    Checkpoint,
    NoteVerifier,
    TileRef,
    leaf_hash,
    mth,
    open_checkpoint,
    prove_consistency,
    verify_consistency,
)
from civicstack.log.tiles import TILE_WIDTH, FetchedTiles, decode_bundle, index_path
from tests.conftest import _postgres_database
from tests.e2e.server import running_platform

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REGISTER = "depot"
THREADS_PER_NODE = 3
WRITES_PER_THREAD = 50  # 300 writes: the log crosses a full tile (256 entries)


@pytest.fixture
def shared_database() -> Iterator[str]:
    """A fresh PostgreSQL database (fails in CI, skips elsewhere, when it is unreachable)."""
    yield from _postgres_database()


def _write_all(
    base: str, node: int, thread: int, headers: dict[str, str], out: list[dict[str, object]]
) -> None:
    with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
        for n in range(WRITES_PER_THREAD):
            key = f"n{node}-t{thread}-{n}"
            body = {"entries": [{"key": key, "item": {REGISTER: key}}]}
            r = client.post(f"/registers/{REGISTER}/entries", json=body)
            assert r.status_code == 201, r.text
            out.append({"key": key, **r.json()})


def _log_leaves(base: str, size: int) -> list[bytes]:
    """The log's first ``size`` leaves, from its entry bundles (C2SP tlog-tiles)."""
    leaves: list[bytes] = []
    for index in range(-(-size // TILE_WIDTH)):
        width = min(TILE_WIDTH, size - index * TILE_WIDTH)
        path = f"tile/entries/{index_path(index)}" + ("" if width == TILE_WIDTH else f".p/{width}")
        r = httpx.get(f"{base}/registers/{REGISTER}/log/{path}", timeout=30)
        assert r.status_code == 200, (path, r.text)
        bundle = decode_bundle(r.content)
        assert len(bundle) == width
        leaves += bundle
    return leaves


def test_two_nodes_append_to_one_log_contiguously_with_consistent_checkpoints(
    tmp_path: Path, shared_database: str
) -> None:
    """Two nodes, three writer threads each, 300 concurrent single-record writes."""
    archive = tmp_path / "no-archive"
    archive.mkdir()
    token = secrets.token_urlsafe(24)
    env = {
        "CIVIC_DATABASE_URL": shared_database,
        # Both nodes hold the same key-encryption key, so both can sign with the register's
        # sealed key, and accept the same admin token.
        "CIVIC_MASTER_KEY": b64url_encode(secrets.token_bytes(32)),
        "CIVIC_ADMIN_TOKEN": token,
        "CIVIC_REGISTERS_ARCHIVE": str(archive),
    }
    admin = {"Authorization": f"Bearer {token}"}
    # The first node migrates and seeds; the second starts on a seeded database.
    with running_platform(tmp_path / "node-a", env=env) as node_a:
        body = {"name": REGISTER, "fields": [{"field": REGISTER, "datatype": "string"}]}
        created = httpx.post(f"{node_a}/registers/", json=body, headers=admin, timeout=30)
        assert created.status_code == 201, created.text
        with running_platform(tmp_path / "node-b", env=env) as node_b:
            nodes = [node_a, node_b]
            results: list[dict[str, object]] = []
            errors: list[BaseException] = []

            def work(node: int, thread: int) -> None:
                try:
                    _write_all(nodes[node], node, thread, admin, results)
                except BaseException as exc:  # reported below, from the main thread
                    errors.append(exc)

            writers = [
                threading.Thread(target=work, args=(node, thread))
                for node in range(2)
                for thread in range(THREADS_PER_NODE)
            ]
            for w in writers:
                w.start()
            for w in writers:
                w.join()
            assert not errors, errors
            assert len(results) == 2 * THREADS_PER_NODE * WRITES_PER_THREAD

            summary = httpx.get(f"{node_b}/registers/{REGISTER}", timeout=30).json()
            verifier = NoteVerifier.parse(summary["log"]["verifier-key"])
            final = open_checkpoint(
                httpx.get(f"{node_b}/registers/{REGISTER}/log/checkpoint", timeout=30).content,
                [verifier],
            )
            # Both nodes serve the same log.
            other = httpx.get(f"{node_a}/registers/{REGISTER}/log/checkpoint", timeout=30)
            assert open_checkpoint(other.content, [verifier]) == final
            leaves = _log_leaves(node_a, final.size)
            hashes = [leaf_hash(leaf) for leaf in leaves]

            # Every acknowledged write is in the log once, at the index it was given.
            by_key: dict[str, list[int]] = {}
            for index, leaf in enumerate(leaves):
                by_key.setdefault(str(json.loads(leaf)["key"]), []).append(index)
            for got in results:
                entries = got["entries"]
                assert isinstance(entries, list)
                assert len(entries) == 1
                assert by_key[str(got["key"])] == [entries[0]["log-index"]]
            written = {str(got["key"]) for got in results}
            assert written <= by_key.keys()
            assert all(len(v) == 1 for k, v in by_key.items() if k in written)

            # Every checkpoint handed out verifies, matches the log, and extends the one before.
            tiles = FetchedTiles(
                lambda path: _get(f"{node_b}/registers/{REGISTER}/log/{path}"),
            )
            seen = {final.size: final}
            for got in results:
                cp = open_checkpoint(str(got["checkpoint"]), [verifier])
                assert cp.origin == final.origin
                assert cp.size == got["tree-size"]
                seen[cp.size] = cp
            ordered: list[Checkpoint] = [seen[s] for s in sorted(seen)]
            for cp in ordered:
                assert cp.root == mth(hashes[: cp.size])
            for before, after in itertools.pairwise(ordered):
                proof = prove_consistency(before.size, after.size, tiles)
                verify_consistency(before.size, after.size, before.root, after.root, proof)
            # The served tiles are those of the leaves (level 0 at the final size).
            last = TileRef(0, (final.size - 1) // TILE_WIDTH, (final.size - 1) % TILE_WIDTH + 1)
            assert _get(f"{node_a}/registers/{REGISTER}/log/{last.path()}") == b"".join(
                hashes[last.idx * TILE_WIDTH : final.size]
            )


def _get(url: str) -> bytes:
    r = httpx.get(url, timeout=30)
    assert r.status_code == 200, (url, r.text)
    return r.content
