"""civicstack.log.DurableLog, the log as a library, on SQLite and PostgreSQL: appends, proofs
that verify with civicstack's and an independent RFC 9162 verifier, checkpoints, many writers."""

from __future__ import annotations

import hashlib
import itertools
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from civicstack._crypto import PrivateKey, b64url_encode
from civicstack.errors import CivicError
from civicstack.log import (
    DurableLog,
    MemoryTiles,
    NoteSigner,
    leaf_hash,
    mth,
    open_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from civicstack.log.tiles import TILE_WIDTH, encode_bundle, grow
from civicstack.stores.db import alembic_config, create_engine
from civicstack.stores.log import LogStore

KEY = PrivateKey.generate("EdDSA")
SIGNER = NoteSigner("civic.example/log/durable", KEY)


# --- an RFC 9162 verifier written from the RFC's text, independent of civicstack.log.tree ------


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def rfc_inclusion_root(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: the root an inclusion proof leads to (raises on a bad proof)."""
    assert index < size
    fn, sn, r = index, size - 1, hashlib.sha256(b"\x00" + leaf).digest()
    for p in proof:
        assert sn != 0
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = _node(r, p)
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0
    return r


def rfc_consistency_roots(
    first: int, second: int, first_hash: bytes, proof: list[bytes]
) -> tuple[bytes, bytes]:
    """RFC 9162 §2.1.4.2: the two roots a consistency proof leads to."""
    assert 0 < first < second
    path = list(proof)
    if first & (first - 1) == 0:  # 1. first is a power of two: prepend first_hash
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1  # 2, 3
    while fn & 1:  # 4. right-shift both until fn's LSB is clear
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]  # 5
    for c in path[1:]:  # 6
        assert sn != 0
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = _node(sr, c)
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0  # 7
    return fr, sr


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def log(database_url: str) -> Iterator[DurableLog]:
    """A new log, opened on a fresh database (tables created by open)."""
    opened = DurableLog.open(database_url, "durable", signer=SIGNER)
    yield opened
    opened.close()
    opened.store.engine.dispose()


def _entries(n: int, tag: str = "e") -> list[bytes]:
    return [f"{tag}{i}".encode() for i in range(n)]


# --- behaviour -----------------------------------------------------------------------------------


def test_importing_the_core_log_package_imports_no_sqlalchemy() -> None:
    """civicstack.log loads the store, and SQLAlchemy, only when DurableLog is asked for."""
    code = (
        "import sys, civicstack.log as log; assert 'sqlalchemy' not in sys.modules;"
        " log.DurableLog; assert 'sqlalchemy' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_open_creates_the_tables_and_appends_are_numbered_in_order(log: DurableLog) -> None:
    """A fresh database gets the log tables; appends return 0, 1, 2, ... and size follows."""
    assert log.size() == 0
    assert [log.append(e) for e in _entries(5)] == list(range(5))
    assert log.append_many(_entries(3, "m")) == [5, 6, 7]
    assert log.size() == 8
    assert log.entries(0, 8) == _entries(5) + _entries(3, "m")
    assert log.root() == mth([leaf_hash(e) for e in log.entries(0, 8)])


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(batches=st.lists(st.integers(1, 300), min_size=1, max_size=6), data=st.data())
def test_proofs_verify_with_civicstack_and_an_independent_rfc_9162_verifier(
    log: DurableLog, batches: list[int], data: st.DataObject
) -> None:
    """Across tile boundaries, every proof checks with verify_* and with the RFC's algorithm."""
    for n in batches:
        start = log.size()
        got = log.append_many(_entries(n, f"b{start}-"))
        assert got == list(range(start, start + n))
    size = log.size()
    leaves = log.entries(0, min(size, 10_000))
    assert log.root() == mth([leaf_hash(e) for e in leaves])
    for _ in range(5):
        # Draws independent of the (growing, shared) log's size keep hypothesis deterministic.
        i = data.draw(st.integers(0, 1 << 20)) % size
        m = i + 1 + data.draw(st.integers(0, 1 << 20)) % (size - i)
        proof = log.inclusion_proof(i, m)
        root = log.root(m)
        verify_inclusion(leaf_hash(leaves[i]), i, m, proof, root)
        assert rfc_inclusion_root(i, m, leaves[i], proof) == root
        old = 1 + data.draw(st.integers(0, 1 << 20)) % size
        cproof = log.consistency_proof(old, size)
        verify_consistency(old, size, log.root(old), log.root(), cproof)
        if old < size:
            roots = rfc_consistency_roots(old, size, log.root(old), cproof)
            assert roots == (log.root(old), log.root())


def test_tiles_and_bundles_match_the_tree_built_in_memory(log: DurableLog) -> None:
    """Full and partial tiles and bundles are the tlog-tiles bytes of the same tree."""
    entries = _entries(600)
    for e in entries[:10]:
        log.append(e)
    log.append_many(entries[10:])
    memory = MemoryTiles()
    memory.append(0, entries)
    assert log.tile(0, 0) == memory.tiles[(0, 0)].hashes
    assert log.tile(0, 2, 88) == memory.tiles[(0, 2)].hashes
    assert log.tile(1, 0, 2) == memory.tiles[(1, 0)].hashes
    assert log.entry_bundle(1) == encode_bundle(entries[256:512])
    assert log.entry_bundle(2, 88) == encode_bundle(entries[512:600])


def test_checkpoints_are_signed_on_request_and_commit_to_the_root(log: DurableLog) -> None:
    """checkpoint() signs the current tree once; the note verifies and names size and root."""
    log.append_many(_entries(300))
    note = log.checkpoint()
    assert log.checkpoint() == note  # nothing appended: the same checkpoint
    cp = open_checkpoint(note, [SIGNER.verifier])
    assert (cp.size, cp.root) == (300, log.root())
    log.append(b"more")
    later = open_checkpoint(log.checkpoint(), [SIGNER.verifier])
    assert later.size == 301
    verify_consistency(300, 301, cp.root, later.root, log.consistency_proof(300, 301))


def test_a_log_opened_without_a_signer_refuses_checkpoints_and_takes_the_first_key(
    database_url: str,
) -> None:
    """No key: proofs work, checkpoint() refuses; a later signer binds its key to the log."""
    unsigned = DurableLog.open(database_url, "keyless")
    unsigned.append(b"a")
    with pytest.raises(CivicError) as err:
        unsigned.checkpoint()
    assert err.value.code == "invalid_request"
    signed = DurableLog.open(database_url, "keyless", signer=SIGNER)
    assert open_checkpoint(signed.checkpoint(), [SIGNER.verifier]).size == 1
    other = DurableLog.open(
        database_url,
        "keyless",
        signer=NoteSigner("civic.example/log/other", PrivateKey.generate("EdDSA")),
    )
    with pytest.raises(CivicError) as err:
        other.checkpoint()
    assert err.value.code == "invalid_key"
    for opened in (unsigned, signed, other):
        opened.close()
        opened.store.engine.dispose()


def test_two_handles_on_one_log_interleave_without_gaps(log: DurableLog, database_url: str) -> None:
    """A second writer (as another process would) makes the first's remembered edge stale."""
    other = DurableLog.open(database_url, "durable")
    got = []
    for k in range(300):
        writer = log if k % 3 else other
        got.append(writer.append(b"x%d" % k))
    assert got == list(range(300))
    assert log.entries(0, 300) == [b"x%d" % k for k in range(300)]
    assert log.root() == mth([leaf_hash(b"x%d" % k) for k in range(300)])
    other.close()
    other.store.engine.dispose()


def test_threads_share_commits_and_get_distinct_indices(log: DurableLog) -> None:
    """Many threads appending at once each get their own index; the tree holds every entry."""
    got: dict[int, bytes] = {}
    lock = threading.Lock()

    def worker(k: int) -> None:
        for j in range(40):
            entry = b"t%d-%d" % (k, j)
            i = log.append(entry)
            with lock:
                got[i] = entry

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(got) == list(range(320))
    assert log.entries(0, 320) == [got[i] for i in range(320)]


WRITER = """
import sys
from civicstack._crypto import PrivateKey
from civicstack.log import DurableLog, NoteSigner
key = PrivateKey.from_jwk({jwk!r})
log = DurableLog.open(sys.argv[1], "durable", signer=NoteSigner("civic.example/log/durable", key))
for j in range(int(sys.argv[3])):
    i = log.append(b"p%s-%d" % (sys.argv[2].encode(), j))
    print(i, flush=True)
    if j % 25 == 0:
        log.checkpoint()
log.close()
"""


def test_processes_appending_at_once_keep_indices_contiguous_and_checkpoints_consistent(
    log: DurableLog, database_url: str, tmp_path: Path
) -> None:
    """Four processes append to one log; every index is used once, every checkpoint verifies
    and is consistent with the one before it."""
    jwk = KEY.public_key.to_jwk()
    jwk["d"] = b64url_encode(KEY._private_bytes())
    script = tmp_path / "writer.py"
    script.write_text(WRITER.replace("{jwk!r}", repr(jwk)))
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), database_url, str(k), "120"],
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(4)
    ]
    seen: dict[int, bytes] = {}
    for k, proc in enumerate(procs):
        out, _ = proc.communicate(timeout=300)
        assert proc.returncode == 0
        for j, line in enumerate(out.split()):
            i = int(line)
            assert i not in seen
            seen[i] = b"p%d-%d" % (k, j)
    assert sorted(seen) == list(range(480))
    assert log.entries(0, 480) == [seen[i] for i in range(480)]
    log.checkpoint()
    with log.store.engine.connect() as conn:
        notes = conn.execute(sa.text("SELECT note FROM log_checkpoints ORDER BY size")).scalars()
        checkpoints = [open_checkpoint(n, [SIGNER.verifier]) for n in notes]
    assert checkpoints[-1].size == 480
    for old, new in itertools.pairwise(checkpoints):
        assert log.root(new.size) == new.root
        if old.size:
            proof = log.consistency_proof(old.size, new.size)
            verify_consistency(old.size, new.size, old.root, new.root, proof)


KILLED = """
import sys
from civicstack.log import DurableLog
log = DurableLog.open(sys.argv[1], "durable")
n = 0
while True:
    i = log.append(b"k-%d" % n)
    print(i, n, flush=True)  # acknowledged: append returned
    n += 1
"""


def test_appends_acknowledged_before_a_kill_9_are_all_there(
    log: DurableLog, database_url: str, tmp_path: Path
) -> None:
    """A writer killed with SIGKILL mid-stream: every append it saw return is in the log at its
    index, and the log is contiguous (across a full tile, 256 entries)."""
    script = tmp_path / "killed.py"
    script.write_text(KILLED)
    proc = subprocess.Popen(
        [sys.executable, str(script), database_url], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    acked: dict[int, bytes] = {}
    for line in proc.stdout:
        i, n = map(int, line.split())
        acked[i] = b"k-%d" % n
        if len(acked) == 300:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    rest = proc.stdout.read().split("\n")  # acknowledged between the kill and its delivery
    for line in filter(None, rest):
        i, n = map(int, line.split())
        acked[i] = b"k-%d" % n
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL
    assert sorted(acked) == list(range(len(acked)))
    again = DurableLog.open(database_url, "durable")
    size = again.size()
    assert size >= len(acked)
    stored = again.entries(0, size)
    assert [stored[i] for i in sorted(acked)] == [acked[i] for i in sorted(acked)]
    assert again.root() == mth([leaf_hash(e) for e in stored])
    assert again.append(b"after") == size
    again.close()
    again.store.engine.dispose()


def test_partial_bundles_written_before_log_0002_are_moved_to_leaves(tmp_path: Path) -> None:
    """A log stored by the log_0001 layout (partial tile and bundle rows) reads and grows on."""
    from alembic import command

    engine = create_engine(f"sqlite:///{tmp_path / 'old.db'}")
    command.upgrade(alembic_config(engine), "log_0001")
    entries = _entries(300, "old")
    tiles = grow(0, {}, [leaf_hash(e) for e in entries])
    root = mth([leaf_hash(e) for e in entries])
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO log_logs (id, name, origin, verifier_key, size, root, checkpoint)"
            " VALUES (1, 'old', ?, ?, 300, ?, '')",
            (SIGNER.name, SIGNER.verifier.vkey, root),
        )
        for t in tiles:
            conn.exec_driver_sql(
                "INSERT INTO log_tiles VALUES (1, ?, ?, ?, ?)",
                (t.level, t.index, t.hashes, t.inner),
            )
        for b in range(2):
            chunk = entries[b * TILE_WIDTH : (b + 1) * TILE_WIDTH]
            conn.exec_driver_sql(
                "INSERT INTO log_bundles VALUES (1, ?, ?)", (b, encode_bundle(chunk))
            )
    old = DurableLog.open("", "old", signer=SIGNER, engine=engine)
    assert old.entries(0, 300) == entries
    assert old.root() == root
    assert old.append(b"new") == 300
    assert old.root() == mth([leaf_hash(e) for e in [*entries, b"new"]])
    proof = old.inclusion_proof(299, 301)
    verify_inclusion(leaf_hash(entries[299]), 299, 301, proof, old.root())
    store = LogStore(engine)
    assert store.head("old").size == 301
    store.close()
    old.close()
    engine.dispose()
