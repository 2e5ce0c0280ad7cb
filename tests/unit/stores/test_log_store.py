"""The durable log store on SQLite and PostgreSQL: proofs, group commit, atomicity, many logs."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Connection, Engine

from civicstack._crypto import PrivateKey
from civicstack.errors import CivicError, InputError
from civicstack.log import (
    DEFAULT_LIMITS,
    MemoryTiles,
    NoteSigner,
    leaf_hash,
    mth,
    open_checkpoint,
    verify_consistency,
    verify_inclusion,
    verify_receipt,
)
from civicstack.log.tiles import TileRef
from civicstack.stores.db import create_engine, upgrade
from civicstack.stores.log import LogStore

KEY = PrivateKey.generate("EdDSA")
SIGNER = NoteSigner("civic.example/log/test", KEY)
OTHER = NoteSigner("civic.example/log/other", PrivateKey.generate("EdDSA"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated database."""
    eng = create_engine(database_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def store(engine: Engine) -> Iterator[LogStore]:
    """A log store with one empty log named ``test``."""
    s = LogStore(engine)
    s.create_log("test", SIGNER)
    yield s
    s.close()


def _entries(n: int, tag: str = "e") -> list[bytes]:
    return [f"{tag}{i}".encode() for i in range(n)]


def _state(engine: Engine) -> list[tuple[object, ...]]:
    """Every stored row, to compare before and after a failed write."""
    with engine.connect() as conn:
        out: list[tuple[object, ...]] = []
        for table in ("log_logs", "log_tiles", "log_bundles", "log_checkpoints"):
            rows = conn.exec_driver_sql(f"SELECT * FROM {table}").all()
            out += sorted(tuple(r) for r in rows)
        return out


def test_a_new_log_has_a_signed_empty_checkpoint(store: LogStore) -> None:
    """Creating a log signs the size-0 checkpoint with the empty-tree root."""
    head = store.head("test")
    cp = open_checkpoint(head.checkpoint, [SIGNER.verifier], origin="civic.example/log/test")
    assert (cp.size, cp.root, head.size) == (0, mth([]), 0)
    assert head.verifier_key == SIGNER.verifier.vkey


def test_appends_return_consecutive_indices_and_sign_each_batch(store: LogStore) -> None:
    """Each append returns the next indices and leaves a checkpoint that verifies."""
    entries = _entries(700)
    assert store.append("test", entries[:1], SIGNER) == range(0, 1)
    assert store.append("test", entries[1:300], SIGNER) == range(1, 300)
    assert store.append("test", entries[300:], SIGNER) == range(300, 700)
    head = store.head("test")
    cp = open_checkpoint(head.checkpoint, [SIGNER.verifier])
    assert cp.size == 700
    assert cp.root == head.root == mth([leaf_hash(e) for e in entries])
    for size in (0, 1, 300, 700):
        assert open_checkpoint(store.checkpoint("test", size), [SIGNER.verifier]).size == size
    assert store.entries("test", 0, 700) == entries
    assert store.entry("test", 299) == entries[299]


@settings(
    max_examples=25,
    deadline=None,
    # The database fixture is meant to be shared: the log grows from example to example.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(grow=st.integers(1, 600), picks=st.tuples(*[st.integers(0, 1 << 30)] * 3))
def test_proofs_match_a_naive_recomputation(
    store: LogStore, grow: int, picks: tuple[int, int, int]
) -> None:
    """At random sizes, roots and proofs from storage equal an in-memory recomputation."""
    size = store.head("test").size
    store.append("test", _entries(grow, f"x{size}-"), SIGNER)
    total = size + grow
    # The log outgrows one read (DEFAULT_LIMITS.read_entries) over the examples: read it in pages.
    entries = [
        e
        for start in range(0, total, DEFAULT_LIMITS.read_entries)
        for e in store.entries("test", start, min(total, start + DEFAULT_LIMITS.read_entries))
    ]
    leaves = [leaf_hash(e) for e in entries]
    reference = MemoryTiles()
    reference.append(0, entries)
    # The draws do not depend on the log (which grows between examples): scale them to it.
    tree = 1 + picks[0] % total
    index = picks[1] % tree
    old = 1 + picks[2] % tree
    root = mth(leaves[:tree])
    assert store.root("test", tree) == root
    proof = store.inclusion_proof("test", index, tree)
    assert proof == reference_proof(reference, index, tree)
    verify_inclusion(leaves[index], index, tree, proof, root)
    cproof = store.consistency_proof("test", old, tree)
    verify_consistency(old, tree, mth(leaves[:old]), root, cproof)


def reference_proof(tiles: MemoryTiles, index: int, size: int) -> list[bytes]:
    """The inclusion proof computed from tiles held in memory."""
    from civicstack.log import prove_inclusion

    return prove_inclusion(index, size, tiles)


def test_logs_are_independent(store: LogStore) -> None:
    """Interleaved appends to two logs keep separate indices, roots and keys."""
    store.create_log("registers/other", OTHER)
    a, b = _entries(300, "a"), _entries(40, "b")
    for i in range(0, 300, 60):
        store.append("test", a[i : i + 60], SIGNER)
        store.append("registers/other", b[i // 60 * 8 : i // 60 * 8 + 8], OTHER)
    assert store.head("test").root == mth([leaf_hash(e) for e in a])
    assert store.head("registers/other").root == mth([leaf_hash(e) for e in b])
    assert [h.name for h in store.logs()] == ["registers/other", "test"]
    with pytest.raises(CivicError) as err:
        store.append("test", [b"x"], OTHER)
    assert err.value.code == "invalid_key"


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda s: s.append("nope", [b"x"], SIGNER), "unknown_log"),
        (lambda s: s.append("test", [], SIGNER), "invalid_request"),
        (lambda s: s.append("test", ["text"], SIGNER), "invalid_request"),
        (lambda s: s.append("test", [b"x" * 65536], SIGNER), "too_large"),
        (lambda s: s.create_log("test", SIGNER), "log_exists"),
        (lambda s: s.create_log("Bad Name", SIGNER), "invalid_request"),
        (lambda s: s.create_log("a/../b", SIGNER), "invalid_request"),
        (lambda s: s.head("nope"), "unknown_log"),
        (lambda s: s.inclusion_proof("test", 0), "proof_out_of_range"),
        (lambda s: s.inclusion_proof("test", 0, 5), "proof_out_of_range"),
        (lambda s: s.consistency_proof("test", 0, 0), "proof_out_of_range"),
        (lambda s: s.entries("test", 0, 1), "proof_out_of_range"),
        (lambda s: s.entries("test", 0, 20_000), "too_large"),
        (lambda s: s.entries("test", 2, 1), "invalid_request"),
        (lambda s: s.checkpoint("test", 7), "not_found"),
        (lambda s: s.tile("test", 0, 0), "not_found"),
        (lambda s: s.entry_bundle("test", 0), "not_found"),
    ],
)
def test_bad_requests_fail_with_their_code(
    store: LogStore, call: Callable[[LogStore], object], code: str
) -> None:
    """Unknown logs, bad names, empty or oversize appends and out-of-range reads are refused."""
    with pytest.raises(CivicError) as err:
        call(store)
    assert err.value.code == code
    # The store keeps working after a refused request.
    assert store.append("test", [b"ok"], SIGNER) == range(0, 1)


def test_a_failed_batch_leaves_nothing_behind(store: LogStore, engine: Engine) -> None:
    """An error after the writes rolls the whole batch back; the log continues correctly."""
    store.append("test", _entries(300), SIGNER)
    before = _state(engine)

    class Failing(LogStore):
        def _extend(self, conn: Connection, row: Any, entries: list[bytes], signer: Any) -> range:
            super()._extend(conn, row, entries, signer)
            raise RuntimeError("disk on fire")

    failing = Failing(engine)
    with pytest.raises(CivicError) as err:
        failing.append("test", _entries(500, "lost"), SIGNER)
    assert err.value.code == "internal_error"
    failing.close()
    assert _state(engine) == before

    def fail_after_append() -> None:
        with store.transaction() as conn:
            store.append_in(conn, "test", _entries(10, "lost"), SIGNER)
            raise RuntimeError("the caller's own write failed")

    with pytest.raises(RuntimeError):
        fail_after_append()
    assert _state(engine) == before
    entries = store.entries("test", 0, 300) + _entries(5, "after")
    assert store.append("test", entries[300:], SIGNER) == range(300, 305)
    assert store.head("test").root == mth([leaf_hash(e) for e in entries])


def test_append_in_commits_with_the_callers_writes(store: LogStore) -> None:
    """Entries appended inside a caller's transaction appear when it commits."""
    with store.transaction() as conn:
        store.create_log("atomic", OTHER, conn=conn)
        assert store.append_in(conn, "atomic", [b"a", b"b"], OTHER) == range(0, 2)
        assert store.append_in(conn, "atomic", [b"c"], OTHER) == range(2, 3)
    assert store.entries("atomic", 0, 3) == [b"a", b"b", b"c"]

    def fail_after_create() -> None:
        with store.transaction() as conn:
            store.create_log("vanishes", OTHER, conn=conn)
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        fail_after_create()
    with pytest.raises(CivicError) as err:
        store.head("vanishes")
    assert err.value.code == "unknown_log"


CRASHER = """
import os, sys
from civicstack._crypto import PrivateKey
from civicstack.log import NoteSigner
from civicstack.stores.db import create_engine
from civicstack.stores.log import LogStore

class Crashing(LogStore):
    def _extend(self, conn, row, entries, signer, **how):
        super()._extend(conn, row, entries, signer, **how)
        os._exit(3)  # the process dies with the transaction open

key = PrivateKey.from_jwk({jwk!r})
store = Crashing(create_engine(sys.argv[1]))
signer = NoteSigner("civic.example/log/test", key)
store.append("test", [b"never %d" % i for i in range(1000)], signer)
"""


def test_a_crash_mid_batch_loses_the_whole_batch_only(
    store: LogStore, engine: Engine, database_url: str, tmp_path: Path
) -> None:
    """A process killed inside the append transaction leaves the previous state intact."""
    from civicstack._crypto import b64url_encode

    store.append("test", _entries(260), SIGNER)
    before = _state(engine)
    jwk = KEY.public_key.to_jwk()
    jwk["d"] = b64url_encode(KEY._private_bytes())
    script = tmp_path / "crash.py"
    script.write_text(CRASHER.replace("{jwk!r}", repr(jwk)))
    done = subprocess.run([sys.executable, str(script), database_url], check=False, timeout=120)
    assert done.returncode == 3
    assert _state(engine) == before
    assert store.append("test", [b"next"], SIGNER) == range(260, 261)


def test_parallel_appenders_get_distinct_gap_free_indices(store: LogStore, engine: Engine) -> None:
    """Threads appending at once get disjoint ranges covering 0..n, holding their own entries."""
    second = LogStore(engine)  # another store on the same database, like another process
    got: list[tuple[range, list[bytes]]] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        target = second if k % 2 else store
        for j in range(12):
            batch = [f"w{k}-{j}-{m}".encode() for m in range(1 + (j % 3))]
            r = target.append("test", batch, SIGNER)
            with lock:
                got.append((r, batch))

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    second.close()
    indices = sorted(i for r, _ in got for i in r)
    assert indices == list(range(len(indices)))
    stored = store.entries("test", 0, len(indices))
    for r, batch in got:
        assert stored[r.start : r.stop] == batch
    head = store.head("test")
    assert head.root == mth([leaf_hash(e) for e in stored])
    assert open_checkpoint(head.checkpoint, [SIGNER.verifier]).size == len(indices)


def test_successive_checkpoints_are_consistent(store: LogStore) -> None:
    """The consistency proof between any two signed checkpoints verifies."""
    sizes = []
    for n in (1, 255, 1, 256, 3, 700):
        sizes.append(store.append("test", _entries(n, f"s{len(sizes)}-"), SIGNER).stop)
    for a in sizes:
        for b in sizes:
            if a <= b:
                old = open_checkpoint(store.checkpoint("test", a), [SIGNER.verifier])
                new = open_checkpoint(store.checkpoint("test", b), [SIGNER.verifier])
                proof = store.consistency_proof("test", a, b)
                verify_consistency(old.size, new.size, old.root, new.root, proof)


def test_receipts_verify_for_the_logged_entry(store: LogStore) -> None:
    """A receipt from the store proves its entry under the latest or an older checkpoint."""
    entries = _entries(1000)
    store.append("test", entries[:600], SIGNER)
    store.append("test", entries[600:], SIGNER)
    latest = verify_receipt(store.receipt("test", 42).text(), [SIGNER.verifier])
    assert (latest.entry, latest.checkpoint.size) == (entries[42], 1000)
    older = store.receipt("test", 599, size=600, with_entry=False)
    assert older.extra is None
    verified = verify_receipt(older.text(), [SIGNER.verifier], entry=entries[599])
    assert verified.checkpoint.size == 600
    with pytest.raises(CivicError) as err:
        store.receipt("test", 5, size=601)
    assert err.value.code == "not_found"


def test_tiles_and_bundles_are_served_as_tlog_tiles(store: LogStore) -> None:
    """Served tiles and bundles equal an in-memory build, full and partial."""
    entries = _entries(70_000 // 100)
    store.append("test", entries, SIGNER)
    reference = MemoryTiles()
    reference.append(0, entries)
    assert store.tile("test", 0, 0) == reference.tiles[(0, 0)].hashes
    assert store.tile("test", 0, 2, 188) == reference.tiles[(0, 2)].hashes
    assert store.tile("test", 0, 2, 10) == reference.tiles[(0, 2)].hashes[: 10 * 32]
    assert store.tile("test", 1, 0, 2) == reference.tiles[(1, 0)].hashes
    assert TileRef(1, 0, 2).path() == "tile/1/000.p/2"
    bundle = store.entry_bundle("test", 2, 188)
    assert bundle.startswith(len(entries[512]).to_bytes(2, "big") + entries[512])
    for bad in (
        lambda: store.tile("test", 0, 2),
        lambda: store.tile("test", 0, 2, 189),
        lambda: store.tile("test", 0, 3, 1),
        lambda: store.tile("test", 64, 0),
        lambda: store.entry_bundle("test", 2, 189),
        lambda: store.entry_bundle("test", 0, 0),
    ):
        with pytest.raises(CivicError) as err:
            bad()
        assert err.value.code == "not_found"


def test_append_all_streams_in_batches(store: LogStore) -> None:
    """append_all appends a stream in several durable batches, each with its checkpoint."""
    entries = _entries(1000)
    assert store.append_all("test", iter(entries), SIGNER, batch=300) == range(0, 1000)
    for size in (300, 600, 900, 1000):
        assert open_checkpoint(store.checkpoint("test", size), [SIGNER.verifier]).size == size
    assert store.head("test").root == mth([leaf_hash(e) for e in entries])
    with pytest.raises(CivicError):
        store.append_all("test", iter([]), SIGNER)


def test_cached_tiles_follow_appends_made_elsewhere(store: LogStore, engine: Engine) -> None:
    """A store that cached partial tiles still proves correctly after another store appends."""
    entries = _entries(700)
    store.append("test", entries[:300], SIGNER)
    for i in range(0, 300, 7):
        store.inclusion_proof("test", i)  # caches the partial tiles of the tree of 300
    elsewhere = LogStore(engine)
    elsewhere.append("test", entries[300:], SIGNER)
    elsewhere.close()
    leaves = [leaf_hash(e) for e in entries]
    root = mth(leaves)
    assert store.root("test") == root
    for i in (0, 255, 299, 511, 699):
        verify_inclusion(leaves[i], i, 700, store.inclusion_proof("test", i), root)
    verify_consistency(300, 700, mth(leaves[:300]), root, store.consistency_proof("test", 300))


def test_a_rolled_back_append_never_becomes_a_known_size(store: LogStore) -> None:
    """Sizes seen only inside a write that rolled back are refused for proofs afterwards."""
    store.append("test", _entries(300), SIGNER)
    leaves = [leaf_hash(e) for e in _entries(300)]
    verify_consistency(10, 300, mth(leaves[:10]), mth(leaves), store.consistency_proof("test", 10))

    def append_then_fail() -> None:
        with store.transaction() as conn:
            store.append_in(conn, "test", _entries(600, "gone"), SIGNER)
            raise RuntimeError("abort")

    with pytest.raises(RuntimeError):
        append_then_fail()
    for ask in (lambda: store.consistency_proof("test", 10, 900), lambda: store.root("test", 301)):
        with pytest.raises(CivicError) as err:
            ask()
        assert err.value.code == "proof_out_of_range"


def test_remembered_proofs_stay_correct_as_the_log_grows(store: LogStore, engine: Engine) -> None:
    """Proofs to every size seen, asked again from memory as another store appends, verify."""
    entries = _entries(2000)
    leaves = [leaf_hash(e) for e in entries]
    elsewhere = LogStore(engine)
    sizes: list[int] = []
    for start, stop in ((0, 300), (300, 700), (700, 1500), (1500, 2000)):
        elsewhere.append("test", entries[start:stop], SIGNER)
        sizes.append(stop)
        store.root("test")  # the reader learns the new size
        for size2 in sizes:
            root2 = mth(leaves[:size2])
            assert store.root("test", size2) == root2
            for size1 in (1, 255, 256, 257, size2 // 2 or 1, size2):
                proof = store.consistency_proof("test", size1, size2)
                verify_consistency(size1, size2, mth(leaves[:size1]), root2, proof)
            for index in (0, size2 - 1, size2 // 3):
                path = store.inclusion_proof("test", index, size2)
                verify_inclusion(leaves[index], index, size2, path, root2)
    elsewhere.close()


def test_two_stores_taking_turns_never_overwrite_or_skip_an_index(
    store: LogStore, engine: Engine
) -> None:
    """Each store's remembered head goes stale whenever the other appends: its one-statement
    append must then write nothing and fall back to reading the head, signed or not, across a
    full tile (256 entries)."""
    other = LogStore(engine)
    expected: list[bytes] = []
    for k in range(150):
        target = other if k % 3 == 1 else store
        batch = [f"turn{k}-{m}".encode() for m in range(1 + k % 3)]
        signer = SIGNER if k % 2 else None
        got = target.append("test", batch, signer)
        assert got == range(len(expected), len(expected) + len(batch))
        expected += batch
        if signer is not None:
            note = target.checkpoint("test", len(expected))
            cp = open_checkpoint(note, [SIGNER.verifier])
            assert cp.root == mth([leaf_hash(e) for e in expected])
    other.close()
    assert len(expected) > 256
    assert store.entries("test", 0, len(expected)) == expected
    assert store.head("test").size == len(expected)
    assert store.root("test") == mth([leaf_hash(e) for e in expected])


def test_a_wrong_key_on_a_remembered_log_writes_nothing(store: LogStore, engine: Engine) -> None:
    """The one-statement append checks the signer's key like the general one."""
    store.append("test", [b"a"], SIGNER)  # the store now remembers the head
    before = _state(engine)
    with pytest.raises(InputError) as caught:
        store.append("test", [b"b"], OTHER)
    assert caught.value.code == "invalid_key"
    assert _state(engine) == before
    assert store.append("test", [b"c"], None) == range(1, 2)


def test_unsigned_appends_in_a_bundle_write_only_leaves_and_see_every_other_writer(
    store: LogStore, engine: Engine, database_url: str
) -> None:
    """An unsigned append inside the partial bundle writes its leaf rows alone on SQLite (the
    log row keeps its size until the bundle fills); appends made between two of them on other
    connections (another store, a caller's transaction) are seen, so indices stay contiguous,
    and the size and root read back are those of every entry."""
    store.append("test", [b"first"], None)  # the store now remembers the log
    with engine.connect() as conn:
        row_before = conn.exec_driver_sql("SELECT size, root FROM log_logs").one()
    other = LogStore(engine)
    expected = [b"first"]
    for k in range(40):
        if k % 4 == 1:
            got = other.append("test", [f"o{k}".encode()], None)
            expected.append(f"o{k}".encode())
        elif k % 4 == 3:
            with store.transaction() as conn:
                got = store.append_in(conn, "test", [f"t{k}".encode()], SIGNER)
            expected.append(f"t{k}".encode())
        else:
            batch = [f"s{k}-{m}".encode() for m in range(1 + k % 3)]
            got = store.append("test", batch, None)
            expected += batch
        assert got.stop == len(expected)
    other.close()
    assert store.entries("test", 0, len(expected)) == expected
    head = store.head("test")
    assert head.size == len(expected) < 256
    assert head.root == mth([leaf_hash(e) for e in expected])
    fresh = LogStore(engine)
    assert fresh.head("test").size == len(expected)
    assert fresh.append("test", [b"last"], None) == range(len(expected), len(expected) + 1)
    fresh.close()
    if database_url.startswith("sqlite"):
        # The signed appends and the fresh store's first one (it reads and writes the row)
        # moved the log row; a plain append by a store that knows the log does not.
        store.append("test", [b"plain"], None)
        with engine.connect() as conn:
            row = conn.exec_driver_sql("SELECT size, root FROM log_logs").one()
        assert row != row_before
        assert row[0] == len(expected) + 1
        assert store.head("test").size == len(expected) + 2


def test_a_bundle_filled_by_its_writer_holds_what_was_committed(store: LogStore) -> None:
    """The writer fills a bundle from the leaves it remembers committing (bundle 1 here, all
    its own appends): appends rolled back inside a bundle (in a caller's transaction), signed
    ones, and appends by another store (which it must read back) all end up as committed."""
    from civicstack.log.tiles import encode_bundle

    def roll_back() -> None:
        with store.transaction() as conn:
            store.append_in(conn, "test", [b"rolled back"], SIGNER)
            raise RuntimeError("abort")

    expected: list[bytes] = []
    other = LogStore(store.engine)
    for k in range(600):
        if k in (40, 350):
            with pytest.raises(RuntimeError):
                roll_back()
        target = other if k in (100, 101, 530) else store
        entry = b"k%d" % k
        signer = SIGNER if k in (50, 300) else None
        assert target.append("test", [entry], signer).start == len(expected)
        expected.append(entry)
    other.close()
    for b in (0, 1):
        assert store.entry_bundle("test", b) == encode_bundle(expected[b * 256 : (b + 1) * 256])
    assert store.entries("test", 0, 600) == expected
    assert store.root("test") == mth([leaf_hash(e) for e in expected])
    reference = MemoryTiles()
    reference.append(0, expected)
    for (level, index), tile in reference.tiles.items():
        width = None if tile.width == 256 else tile.width
        assert store.tile("test", level, index, width) == tile.hashes


def _log_0002_database(url: str, logs: dict[str, tuple[list[bytes], int]]) -> Engine:
    """A database at log_0002 holding ``logs`` (name -> entries, the log row's size) as that
    layout stored them: full tiles and bundles, partial tiles above level 0, the partial
    bundle's leaves keyed by ``(log_id, idx)``, the row's size behind them (a SQLite append
    inside the partial bundle wrote only its leaf row)."""
    from alembic import command

    from civicstack.log.tiles import TILE_WIDTH, encode_bundle, grow
    from civicstack.stores.db import alembic_config

    engine = create_engine(url)
    command.upgrade(alembic_config(engine), "log_0002")
    with engine.begin() as conn:
        for log_id, (name, (entries, row_size)) in enumerate(logs.items(), start=1):
            leaves = [leaf_hash(e) for e in entries]
            full = len(entries) // TILE_WIDTH * TILE_WIDTH
            rows: list[tuple[str, tuple[object, ...]]] = [
                (
                    "INSERT INTO log_logs (id, name, origin, verifier_key, size, root, checkpoint)"
                    " VALUES (?, ?, ?, ?, ?, ?, '')",
                    (
                        log_id,
                        name,
                        SIGNER.name,
                        SIGNER.verifier.vkey,
                        row_size,
                        mth(leaves[:row_size]),
                    ),
                )
            ]
            for t in grow(0, {}, leaves):
                if t.level or t.width == TILE_WIDTH:
                    rows.append(
                        (
                            "INSERT INTO log_tiles VALUES (?, ?, ?, ?, ?)",
                            (log_id, t.level, t.index, t.hashes, t.inner),
                        )
                    )
            for b in range(full // TILE_WIDTH):
                chunk = entries[b * TILE_WIDTH : (b + 1) * TILE_WIDTH]
                rows.append(
                    ("INSERT INTO log_bundles VALUES (?, ?, ?)", (log_id, b, encode_bundle(chunk)))
                )
            for i in range(full, len(entries)):
                rows.append(
                    (
                        "INSERT INTO log_leaves (log_id, idx, hash, entry) VALUES (?, ?, ?, ?)",
                        (log_id, i, leaves[i], entries[i]),
                    )
                )
            for sql, params in rows:
                conn.exec_driver_sql(
                    sql if url.startswith("sqlite") else sql.replace("?", "%s"), params
                )
    return engine


def _readback(store: LogStore, name: str, entries: list[bytes]) -> None:
    """Every read of log ``name`` equals the in-memory log of ``entries``."""
    from civicstack.log import prove_consistency, prove_inclusion
    from civicstack.log.tiles import TILE_WIDTH, encode_bundle

    size = len(entries)
    leaves = [leaf_hash(e) for e in entries]
    reference = MemoryTiles()
    reference.append(0, entries)
    assert store.head(name).size == size
    assert store.root(name) == mth(leaves)
    assert store.entries(name, 0, size) == entries
    for tree in sorted(t for t in {1, 255, 256, 257, size // 2, size - 1, size} if 0 < t <= size):
        assert store.root(name, tree) == mth(leaves[:tree])
        for index in sorted({0, tree // 3, tree - 1}):
            assert store.inclusion_proof(name, index, tree) == prove_inclusion(
                index, tree, reference
            )
        for old in sorted({1, tree // 2 or 1, tree}):
            assert store.consistency_proof(name, old, tree) == prove_consistency(
                old, tree, reference
            )
    for (level, index), tile in reference.tiles.items():
        width = None if tile.width == TILE_WIDTH else tile.width
        assert store.tile(name, level, index, width) == tile.hashes
    for b in range(-(-size // TILE_WIDTH)):
        chunk = entries[b * TILE_WIDTH : (b + 1) * TILE_WIDTH]
        width = None if len(chunk) == TILE_WIDTH else len(chunk)
        assert store.entry_bundle(name, b, width) == encode_bundle(chunk)


def test_logs_stored_by_log_0002_read_identically_after_log_0003(database_url: str) -> None:
    """Logs stored with leaves keyed by index (log_0002) read the same after the move to slots:
    sizes, roots, proofs, tiles, bundles; they grow on past their bundles; downgrading keeps
    the partial bundles' leaves and drops the stale ones."""
    from alembic import command

    from civicstack.stores.db import alembic_config

    old = _entries(700, "old")
    logs = {
        "partial": (old, 600 if database_url.startswith("sqlite") else 700),
        "full": (old[:512], 512),
        "small": (old[:3], 0 if database_url.startswith("sqlite") else 3),
    }
    engine = _log_0002_database(database_url, logs)
    upgrade(engine)
    with engine.connect() as conn:
        moved = conn.exec_driver_sql("SELECT slot, idx FROM log_leaves").all()
    assert sorted(int(i) for _, i in moved) == [0, 1, 2, *range(512, 700)]
    assert all(int(slot) == int(i) % 256 for slot, i in moved)
    store = LogStore(engine)
    for name, (entries, _) in logs.items():
        _readback(store, name, entries)
    # Grow each log across its next bundle, by one-entry appends (the fast path) and a batch.
    grown = {}
    for name, (entries, _) in logs.items():
        more = _entries(300, f"{name}-new")
        for e in more[:100]:
            store.append(name, [e], None)
        store.append(name, more[100:], SIGNER)
        grown[name] = entries + more
        _readback(store, name, grown[name])
    store.close()
    fresh = LogStore(engine)
    for name, entries in grown.items():
        _readback(fresh, name, entries)
    fresh.close()

    command.downgrade(alembic_config(engine), "log_0002")
    with engine.connect() as conn:
        kept = sorted(
            conn.exec_driver_sql(
                "SELECT name, idx, entry FROM log_leaves JOIN log_logs ON log_logs.id = log_id"
            ).all()
        )
    expected = sorted(
        (name, i, entries[i])
        for name, entries in grown.items()
        for i in range(len(entries) // 256 * 256, len(entries))
    )
    assert [(str(n), int(i), bytes(e)) for n, i, e in kept] == expected
    upgrade(engine)
    again = LogStore(engine)
    for name, entries in grown.items():
        _readback(again, name, entries)
    again.close()
    engine.dispose()
