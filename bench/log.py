"""Benchmark the Merkle log against pymerkle 7.0.0's SQLite tree, measured in the same run.

    .venv/bin/python bench/log.py                      # appends; proofs at 1M and 10M
    .venv/bin/python bench/log.py --quick              # 100k entries, short windows
    .venv/bin/python bench/log.py --quick --appends-only --shape   # append figures only
    .venv/bin/python bench/log.py --sizes 1000000 --seconds 5

Every comparison gives both sides the same work and conditions, and prints each side's
configuration beside its figure (see bench/README.md, "Merkle log"):

1. single-writer durable appends (the headline): one process, one thread, one entry per
   commit, each commit fsynced before the next begins. SQLite sides all run WAL with
   synchronous=FULL: a bare ``INSERT``+``COMMIT`` loop (the physical limit of this disk),
   pymerkle's ``append_entry`` and civicstack's ``DurableLog.append`` (no checkpoint signed).
   PostgreSQL: a bare psycopg autocommit loop (one round trip per commit) against
   ``DurableLog.append``, both synchronous_commit=on.
   Measured in interleaved rounds, so disk noise hits every side: the median rate is printed,
   and the share of the bare loop is the median of per-round ratios (each side against the
   bare loop of the same round) with their range. ``--shape`` adds civicstack's former
   two-page commit (log row + leaf row) as a bare sqlite3 loop, to show what a second page
   per commit costs. WAL frames written per commit are counted for every SQLite side.
2. concurrent appends, reported separately: 16 writers in one process, in interleaved
   rounds with each side's own single writer (1 thread, ``append``) so that every ratio to it
   is a median of same-round ratios. civicstack twice: 16 threads calling
   ``DurableLog.append`` (group commit: a leader commits what the others queued), and 16
   asyncio tasks on one event loop awaiting ``DurableLog.append_async`` (the appends of a loop
   turn committed together by the log's writer thread), as a server's event loop would write.
   pymerkle has no asynchronous API: 16 threads, its fastest concurrent mode (it serialises
   them on its tree lock). On PostgreSQL also 1, 2 and 4 writer processes appending to one log.
3. bulk appends: one transaction of n entries (pymerkle ``append_entries``) against durable
   batches of 65,536 (``LogStore.append_all``), one thread, same durability.
4. inclusion and consistency proofs at each size, to the full tree's size given explicitly:
   cold — a fresh process, proofs completed in the first second after it opens the tree (the
   opening time printed beside it: pymerkle's open counts its whole leaf table); warm —
   both sides first answer the same set of random queries, then are timed answering that set
   again, so each has cached what those queries touch (pymerkle's subroot cache; our tiles
   and span memo).

Built trees are kept under ``bench/_peers`` (SQLite) and in PostgreSQL databases named
``civic_bench_log_<size>`` so that re-runs skip the builds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa

from civicstack._crypto import PrivateKey
from civicstack.log import DurableLog, NoteSigner, leaf_hash, verify_consistency, verify_inclusion
from civicstack.stores.db import create_engine, normalise_url, upgrade
from civicstack.stores.log import LogStore

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / "_peers"
LOG = "bench"
BATCH = 65_536
PG_DEFAULT = os.environ.get(
    "CIVIC_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)
SQLITE_DURABLE = "WAL, synchronous=FULL"
PYMERKLE = "pymerkle 7.0.0 SqliteTree"


def entries(start: int, stop: int) -> Iterator[bytes]:
    """The benchmark's entries: short distinct byte strings, the same for both sides."""
    return (b"entry-%010d" % i for i in range(start, stop))


def timed_rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` over ``seconds``."""
    n = 0
    start = time.perf_counter()
    while True:
        fn()
        n += 1
        now = time.perf_counter()
        if now - start >= seconds:
            return n / (now - start)


def signer() -> NoteSigner:
    """A fresh log key (the benchmark logs are throwaway)."""
    return NoteSigner("bench.civicstack.example/log", PrivateKey.generate("EdDSA"))


def sqlite_durable(con: sqlite3.Connection) -> None:
    """The durability every SQLite side runs with: WAL, and fsync at each commit."""
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")


def pymerkle_tree(path: Path) -> Any:
    """pymerkle's SqliteTree on WAL with synchronous=FULL (its fastest durable setting)."""
    from pymerkle import SqliteTree

    tree = SqliteTree(str(path))
    sqlite_durable(tree.con)
    return tree


# --- databases -------------------------------------------------------------------------------


def pg_admin(url: str) -> sa.Engine | None:
    """An autocommit engine on the PostgreSQL server, or None when it is unreachable."""
    try:
        engine = sa.create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:  # any driver error means "no PostgreSQL here"
        print(f"  (PostgreSQL at {url} unreachable: {type(exc).__name__}; skipping it)")
        return None
    return engine


def pg_config(admin: sa.Engine) -> str:
    """The PostgreSQL settings that decide what a commit costs."""
    with admin.connect() as conn:
        version = conn.execute(sa.text("SHOW server_version")).scalar_one()
        sync = conn.execute(sa.text("SHOW synchronous_commit")).scalar_one()
        fsync = conn.execute(sa.text("SHOW fsync")).scalar_one()
    return f"PostgreSQL {version.split()[0]}, synchronous_commit={sync}, fsync={fsync}"


def pg_database(admin: sa.Engine, name: str, *, fresh: bool) -> str:
    """The URL of database ``name``, created (or re-created when ``fresh``)."""
    with admin.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
        if exists and fresh:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        if not exists or fresh:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return str(admin.url.set(database=name).render_as_string(hide_password=False))


def built_store(url: str, size: int, label: str) -> None:
    """Make sure log ``bench`` at ``url`` holds ``size`` entries (built now if absent)."""
    engine = create_engine(url)
    upgrade(engine)
    store = LogStore(engine)
    try:
        have = store.head(LOG).size
    except Exception as exc:
        if getattr(exc, "code", None) != "unknown_log":
            raise
        store.create_log(LOG, signer())
        have = 0
    if have not in (0, size):
        raise SystemExit(f"{label}: cached database holds {have:,} entries; delete it")
    if have == 0:
        start = time.perf_counter()
        store.append_all(LOG, entries(0, size), None, batch=BATCH)
        took = time.perf_counter() - start
        print(f"  built {label} with {size:,} entries in {took:.1f} s ({size / took:,.0f}/s)")
    store.close()
    engine.dispose()


def built_pymerkle(path: Path, size: int) -> None:
    """Make sure pymerkle's tree at ``path`` holds ``size`` entries (built if absent)."""
    tree = pymerkle_tree(path)
    have = tree.get_size()
    if have not in (0, size):
        raise SystemExit(f"{path} holds {have} entries, not {size}; delete it")
    if have == 0:
        start = time.perf_counter()
        tree.append_entries(entries(0, size))
        took = time.perf_counter() - start
        print(f"  built pymerkle with {size:,} entries in {took:.1f} s ({size / took:,.0f}/s)")
    tree.close()


# --- appends ---------------------------------------------------------------------------------


class Appender:
    """One side of an append comparison: ``open`` it, then ``one(k)`` appends one entry."""

    def __init__(self, label: str, config: str) -> None:
        self.label, self.config = label, config

    def open(self) -> None:
        """Open the side's database."""

    def one(self, k: int) -> None:
        """Append one entry durably."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the side's database."""

    def connection(self) -> Any:
        """The side's open sqlite3 connection (SQLite sides)."""
        return self.con


class BareSqlite(Appender):
    """The physical limit: one row inserted and committed (fsynced) per call, nothing else."""

    def __init__(self, path: Path) -> None:
        super().__init__("bare SQLite loop", f"sqlite3, {SQLITE_DURABLE}, 1 row per commit")
        self.path = path

    def open(self) -> None:
        self.con = sqlite3.connect(self.path, isolation_level=None)
        sqlite_durable(self.con)
        self.con.execute("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB)")

    def one(self, k: int) -> None:
        self.con.execute("BEGIN IMMEDIATE")
        self.con.execute("INSERT INTO t (v) VALUES (?)", (b"single-%d" % k,))
        self.con.execute("COMMIT")

    def close(self) -> None:
        self.con.close()


class BarePostgres(Appender):
    """PostgreSQL's limit here: one row inserted and committed per call, on psycopg directly,
    in autocommit: one round trip per commit, as ``DurableLog.append`` makes (psycopg's default
    transactions would add a BEGIN and a COMMIT round trip to the bare side only)."""

    def __init__(self, url: str, config: str) -> None:
        super().__init__("bare PG loop", f"psycopg autocommit, {config}, 1 row per commit")
        self.url = url

    def open(self) -> None:
        import psycopg

        url = self.url.replace("postgresql+psycopg", "postgresql")
        self.con = psycopg.connect(url, autocommit=True)
        self.con.execute("CREATE TABLE IF NOT EXISTS t (id BIGSERIAL PRIMARY KEY, v BYTEA)")

    def one(self, k: int) -> None:
        self.con.execute("INSERT INTO t (v) VALUES (%s)", (b"single-%d" % k,))

    def close(self) -> None:
        self.con.close()


class RawShape(Appender):
    """civicstack's former one-entry commit as bare sqlite3 statements: BEGIN IMMEDIATE, the
    guarded head UPDATE of the log row, one leaf row INSERT, COMMIT. What it costs beyond the
    bare loop is a second b-tree page per commit (the library now writes the leaf row alone)."""

    def __init__(self, path: Path) -> None:
        super().__init__("two-page shape", f"sqlite3, {SQLITE_DURABLE}, log row + leaf row")
        self.path = path

    def open(self) -> None:
        self.con = sqlite3.connect(self.path, isolation_level=None)
        sqlite_durable(self.con)
        self.con.execute("CREATE TABLE IF NOT EXISTS logs (id INTEGER PRIMARY KEY, size, root)")
        self.con.execute("INSERT OR IGNORE INTO logs VALUES (1, 0, x'')")
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS leaves (log_id, idx, hash, entry,"
            " PRIMARY KEY (log_id, idx)) WITHOUT ROWID"
        )
        self.size = int(self.con.execute("SELECT size FROM logs").fetchone()[0])

    def one(self, k: int) -> None:
        entry = b"single-%d" % k
        h = leaf_hash(entry)
        self.con.execute("BEGIN IMMEDIATE")
        self.con.execute(
            "UPDATE logs SET size = ?, root = ? WHERE id = 1 AND size = ?",
            (self.size + 1, h, self.size),
        )
        self.con.execute("INSERT INTO leaves VALUES (1, ?, ?, ?)", (self.size, h, entry))
        self.con.execute("COMMIT")
        self.size += 1

    def close(self) -> None:
        self.con.close()


class Pymerkle(Appender):
    """pymerkle's ``append_entry``: one leaf row per transaction."""

    def __init__(self, path: Path) -> None:
        super().__init__("pymerkle", f"{PYMERKLE}, {SQLITE_DURABLE}, append_entry")
        self.path = path

    def open(self) -> None:
        self.tree = pymerkle_tree(self.path)

    def connection(self) -> Any:
        return self.tree.con

    def one(self, k: int) -> None:
        self.tree.append_entry(b"single-%d" % k)

    def close(self) -> None:
        self.tree.close()


class Civic(Appender):
    """civicstack's ``DurableLog.append``: durable on return, no checkpoint signed."""

    def __init__(self, label: str, url: str, config: str) -> None:
        super().__init__(label, f"DurableLog.append, {config}, no signature")
        self.url = url

    def open(self) -> None:
        self.log = DurableLog.open(self.url, LOG)

    def one(self, k: int) -> None:
        self.log.append(b"single-%d" % k)

    def connection(self) -> Any:
        writer = self.log.store._writer  # the group-commit writer's connection
        assert writer is not None
        return writer.connection.dbapi_connection

    def close(self) -> None:
        self.log.close()
        self.log.store.engine.dispose()


def single_writer(
    sides: list[Appender], seconds: float, rounds: int
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Each side's median appends/s over ``rounds`` interleaved windows of ``seconds``, and its
    per-round figures (round ``r`` of every side ran back to back, so disk noise is shared)."""
    got: dict[str, list[float]] = {s.label: [] for s in sides}
    counter = iter(range(10**12))
    for _ in range(rounds):
        for side in sides:
            side.open()
            side.one(next(counter))  # warm: the connection and the log row are open
            got[side.label].append(timed_rate(lambda s=side: s.one(next(counter)), seconds))
            side.close()
    return {label: statistics.median(v) for label, v in got.items()}, got


def wal_frames(side: Appender, wal: Path, count: int = 1024) -> float:
    """WAL frames (pages) one commit of ``side`` writes, on average over ``count`` commits
    (automatic checkpoints off while counting, so the WAL only grows)."""
    side.open()
    side.one(-1)
    con = side.connection()
    con.execute("PRAGMA wal_autocheckpoint=0")
    before = wal.stat().st_size
    for k in range(count):
        side.one(-2 - k)
    grown = wal.stat().st_size - before
    con.execute("PRAGMA wal_autocheckpoint=1000")
    side.close()
    with sqlite3.connect(wal.with_name(wal.name.removesuffix("-wal"))) as own:
        page = int(own.execute("PRAGMA page_size").fetchone()[0])
    return grown / (page + 24) / count  # each frame: a 24-byte header and one page


def paired(ours: list[float], bare: list[float]) -> str:
    """The median of the per-round ratios ``ours / bare`` and their range: pairing each round
    with the bare loop's in the same round cancels the disk's drift between rounds."""
    ratios = sorted(o / b for o, b in zip(ours, bare, strict=True))
    return f"{statistics.median(ratios):.0%} ({ratios[0]:.0%}-{ratios[-1]:.0%})"


class Window(NamedTuple):
    """A measured window: appends/s, and this process's CPU (user + system, every thread) per
    append in microseconds (a PostgreSQL server's CPU is not in it)."""

    rate: float
    cpu_us: float


def windowed(run: Callable[[], int]) -> Window:
    """Time ``run`` (which returns how many appends it made) in wall-clock and CPU time."""
    cpu, start = time.process_time(), time.perf_counter()
    n = run()
    took, used = time.perf_counter() - start, time.process_time() - cpu
    return Window(n / took, used / max(n, 1) * 1e6)


def threaded(side: Appender, threads: int, seconds: float) -> Window:
    """``threads`` threads appending to one side at once (``side.one``)."""
    side.open()
    side.one(-1)  # warm: the connection and the log row are open
    done = [0] * threads

    def run() -> int:
        stop = time.perf_counter() + seconds

        def work(k: int) -> None:
            while time.perf_counter() < stop:
                side.one(k * 10**9 + done[k])
                done[k] += 1

        pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        return sum(done)

    got = windowed(run)
    side.close()
    return got


def tasks(side: Civic, count: int, seconds: float) -> Window:
    """``count`` asyncio tasks on one event loop (``asyncio.run``, the default loop) each
    awaiting ``DurableLog.append_async`` in turn."""
    side.open()
    side.one(-1)

    async def run() -> int:
        done = [0] * count
        stop = time.perf_counter() + seconds

        async def work(k: int) -> None:
            while time.perf_counter() < stop:
                await side.log.append_async(b"task-%d-%d" % (k, done[k]))
                done[k] += 1

        await asyncio.gather(*(work(k) for k in range(count)))
        return sum(done)

    got = windowed(lambda: asyncio.run(run()))
    side.close()
    return got


def one_writer(side: Appender, seconds: float) -> Window:
    """One thread appending to ``side``: its own single-writer figure."""
    side.open()
    side.one(-1)

    def run() -> int:
        n, stop = 0, time.perf_counter() + seconds
        while time.perf_counter() < stop:
            side.one(time.perf_counter_ns())
            n += 1
        return n

    got = windowed(run)
    side.close()
    return got


PROCESS_WRITER = """
import sys, time
from civicstack.log import DurableLog
log = DurableLog.open(sys.argv[1], "bench")
log.append(b"warm %s" % sys.argv[3].encode())  # the connection and the log row are open
print("ready", flush=True)
sys.stdin.readline()  # every writer starts at once
n, stop = 0, time.perf_counter() + float(sys.argv[2])
while time.perf_counter() < stop:
    log.append(b"p%s-%d" % (sys.argv[3].encode(), n))
    n += 1
print(n, flush=True)
"""


def processes(url: str, count: int, seconds: float) -> float:
    """Appends/s of ``count`` writer processes (one thread each) appending to one log."""
    DurableLog.open(url, LOG).close()  # tables and log exist before the writers start
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PROCESS_WRITER, url, str(seconds), str(k)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for k in range(count)
    ]
    for proc in procs:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise SystemExit("a writer process failed to start")
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    total = 0
    for proc in procs:
        out, _ = proc.communicate(timeout=seconds + 120)
        if proc.returncode:
            raise SystemExit(f"a writer process failed ({proc.returncode})")
        total += int(out.strip())
    return total / seconds


def bulk(n: int, pg_url: str | None, pg_cfg: str, tmp: Path) -> list[tuple[str, float, str]]:
    """Durable bulk appends per second, one thread each."""
    rows = []
    tree = pymerkle_tree(tmp / "pymerkle-bulk.db")
    start = time.perf_counter()
    tree.append_entries(entries(0, n))
    rows.append(
        ("pymerkle", n / (time.perf_counter() - start), f"append_entries, {SQLITE_DURABLE}")
    )
    tree.close()
    urls = [("civic sqlite", f"sqlite:///{tmp / 'civic-bulk.db'}", f"SQLite {SQLITE_DURABLE}")]
    if pg_url is not None:
        urls.append(("civic postgres", pg_url, pg_cfg))
    for label, url, cfg in urls:
        log = DurableLog.open(url, LOG)
        start = time.perf_counter()
        log.store.append_all(LOG, entries(0, n), None, batch=BATCH)
        rows.append((label, n / (time.perf_counter() - start), f"append_all in {BATCH:,}s, {cfg}"))
        log.close()
        log.store.engine.dispose()
    return rows


# --- proofs ----------------------------------------------------------------------------------


def queries(kind: str, size: int, count: int, seed: int) -> list[int]:
    """The random leaf indices (inclusion) or old sizes (consistency) both sides answer."""
    rng = random.Random(seed)
    if kind == "inclusion":
        return [rng.randrange(size) for _ in range(count)]
    return [rng.randrange(1, size) for _ in range(count)]


def prover(side: str, where: str, size: int, kind: str) -> Callable[[int], object]:
    """Open ``side``'s tree at ``where``; a function answering one query of ``kind``."""
    if side == "pymerkle":
        tree = pymerkle_tree(Path(where))
        # pymerkle counts leaves from 1.
        if kind == "inclusion":
            return lambda q: tree.prove_inclusion(q + 1, size)
        return lambda q: tree.prove_consistency(q, size)
    store = LogStore(create_engine(where))
    if kind == "inclusion":
        return lambda q: store.inclusion_proof(LOG, q, size)
    return lambda q: store.consistency_proof(LOG, q, size)


def cold_child(argv: list[str]) -> None:
    """In a fresh process: how many proofs a side completes in its first seconds."""
    side, where, size_text, kind, seconds_text, seed = argv
    size, seconds = int(size_text), float(seconds_text)
    qs = queries(kind, size, 1_000_000, int(seed))
    start = time.perf_counter()
    prove = prover(side, where, size, kind)
    opened = time.perf_counter()
    n = 0
    while time.perf_counter() - opened < seconds:
        prove(qs[n])
        n += 1
    now = time.perf_counter()
    print(json.dumps({"rate": n / (now - opened), "open": opened - start}))


def cold(where: tuple[str, str], size: int, kind: str, seconds: float) -> tuple[float, float]:
    """Proofs/s in the first ``seconds`` after a fresh process opens the tree, and the seconds
    the opening took (the OS file cache is shared by both sides)."""
    args = [where[0], where[1], str(size), kind, str(seconds), str(size)]
    done = subprocess.run(
        [sys.executable, __file__, "--cold-child", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    got = json.loads(done.stdout.strip().splitlines()[-1])
    return float(got["rate"]), float(got["open"])


def warm(where: tuple[str, str], size: int, kind: str, args: argparse.Namespace) -> float:
    """Proofs/s answering a set of queries again after answering it once (both sides alike)."""
    prove = prover(where[0], where[1], size, kind)
    qs = queries(kind, size, args.warm_queries, size)
    for q in qs:  # the warm-up: every query of the measured set, once
        prove(q)
    n = 0
    start = time.perf_counter()
    while True:
        prove(qs[n % len(qs)])
        n += 1
        now = time.perf_counter()
        if now - start >= args.seconds and n >= len(qs):
            return n / (now - start)


def check_proofs(url: str, size: int) -> None:
    """A few proofs checked against the root: the benchmark measures real proofs."""
    log = DurableLog.open(url, LOG)
    rng = random.Random(size)
    root = log.root(size)
    for _ in range(5):
        i = rng.randrange(size)
        verify_inclusion(leaf_hash(b"entry-%010d" % i), i, size, log.inclusion_proof(i, size), root)
        old = rng.randrange(1, size)
        verify_consistency(old, size, log.root(old), root, log.consistency_proof(old, size))
    log.close()
    log.store.engine.dispose()


# --- report ----------------------------------------------------------------------------------


def ratio(ours: float, peer: float | None) -> str:
    """``ours / peer`` as ``12.3x``, or a dash without a peer figure."""
    return f"{ours / peer:,.1f}x" if peer else "-"


def fig(value: float) -> str:
    """A rate, with decimals when it is small."""
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def row(label: str, value: float, extra: str, config: str) -> None:
    """One figure, its comparison and the configuration that produced it."""
    print(f"  {label:<16} {fig(value):>10}  {extra:<22} {config}")


def main() -> None:
    """Parse options, run every measurement, print the figures, ratios and configurations."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default="1000000,10000000", help="tree sizes for proofs")
    parser.add_argument("--append", type=int, default=1_000_000, help="entries for bulk appends")
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring window")
    parser.add_argument(
        "--rounds", type=int, default=None, help="interleaved single-writer rounds (default 6)"
    )
    parser.add_argument(
        "--shape",
        action="store_true",
        help="also time civicstack's commit as bare sqlite3 statements (no library)",
    )
    parser.add_argument("--warm-queries", type=int, default=256, help="queries in the warm set")
    parser.add_argument("--cold-seconds", type=float, default=1.0, help="cold window")
    parser.add_argument(
        "--peer-max",
        type=int,
        default=1_000_000,
        help="largest size at which pymerkle is built and measured",
    )
    parser.add_argument("--postgres", default=PG_DEFAULT, help="PostgreSQL URL ('none' to skip)")
    parser.add_argument("--quick", action="store_true", help="100k entries, 1 s windows")
    parser.add_argument("--proofs-only", action="store_true", help="skip the append figures")
    parser.add_argument("--appends-only", action="store_true", help="skip the proof figures")
    parser.add_argument(
        "--concurrent-only", action="store_true", help="only section 2 (16 writers)"
    )
    parser.add_argument("--cold-child", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.cold_child:
        cold_child(args.cold_child)
        return
    if args.quick:
        args.sizes, args.append, args.seconds = "100000", 100_000, 1.0
        args.rounds = args.rounds or 4
        args.warm_queries = 128
    args.rounds = args.rounds or 6
    sizes = [int(s) for s in args.sizes.split(",") if s]

    print(f"civicstack Merkle log vs {PYMERKLE}  (python {sys.version.split()[0]})")
    print(f"  every SQLite side: {SQLITE_DURABLE}; every figure: 1 process, 1 thread unless said")
    print(f"  load average at start: {load()} ({os.cpu_count()} CPUs)")
    admin = None if args.postgres == "none" else pg_admin(args.postgres)
    pg_cfg = pg_config(admin) if admin is not None else ""
    with tempfile.TemporaryDirectory(prefix="civic-bench-log-") as tmpdir:
        if not args.proofs_only:
            appends(args, admin, pg_cfg, Path(tmpdir))
    if not args.appends_only and not args.concurrent_only:
        proofs(args, admin, pg_cfg, sizes)
    print(f"\n  load average at the end: {load()}")


def load() -> str:
    """The 1, 5 and 15-minute load averages (the machine may be shared)."""
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def appends(args: argparse.Namespace, admin: sa.Engine | None, pg_cfg: str, tmp: Path) -> None:
    """Sections 1 to 3: single-writer, concurrent and bulk appends."""
    window = f"{args.rounds} interleaved rounds of {args.seconds:g} s, medians"
    if args.concurrent_only:
        print(f"\n2. concurrent durable appends: 16 writers, 1 process; {window}")
        concurrent(args, admin, pg_cfg, tmp)
        return
    print(f"\n1. single-writer durable appends, one entry per commit ({window}; appends/s)")
    sides: list[Appender] = [
        BareSqlite(tmp / "bare.db"),
        Pymerkle(tmp / "pymerkle-single.db"),
        Civic("civic sqlite", f"sqlite:///{tmp / 'civic-single.db'}", f"SQLite {SQLITE_DURABLE}"),
    ]
    if args.shape:
        sides.append(RawShape(tmp / "raw-shape.db"))
    pg_single = None
    if admin is not None:
        pg_single = pg_database(admin, "civic_bench_log_single", fresh=True)
        bare_pg = pg_database(admin, "civic_bench_log_bare", fresh=True)
        sides += [BarePostgres(bare_pg, pg_cfg), Civic("civic postgres", pg_single, pg_cfg)]
    single, rounds = single_writer(sides, args.seconds, args.rounds)
    peer = single["pymerkle"]
    print("  % of bare: the median of per-round ratios to the bare loop of the same round (range)")
    print(f"  {'':<16} {'appends/s':>10}  {'vs peer; % of bare':<32} configuration")
    for side in sides:
        value = single[side.label]
        if side.label.startswith("bare"):
            extra = "100% (PG limit)" if "PG" in side.label else "100% (SQLite limit)"
        elif "postgres" in side.label:
            extra = paired(rounds[side.label], rounds["bare PG loop"]) + " of bare PG"
        else:
            versus = f"{ratio(value, peer)} pymerkle; " if side.label != "pymerkle" else ""
            extra = versus + paired(rounds[side.label], rounds["bare SQLite loop"])
        print(f"  {side.label:<16} {fig(value):>10}  {extra:<32} {side.config}")
    frames = []
    for side in sides:
        if "postgres" not in side.label and "PG" not in side.label:
            path = getattr(side, "path", None) or Path(side.url.removeprefix("sqlite:///"))
            wal = Path(f"{path}-wal")
            frames.append(f"{side.label} {wal_frames(side, wal):.2f}")
    print("  WAL frames (pages) written per commit, over 1,024 commits: " + "; ".join(frames))

    title = "concurrent durable appends: 16 writers, 1 process (appends/s; not the headline)"
    print(f"\n2. {title}; {window}")
    concurrent(args, admin, pg_cfg, tmp)
    if admin is not None:
        for count in (1, 2, 4):
            url = pg_database(admin, f"civic_bench_log_proc{count}", fresh=True)
            value = processes(url, count, args.seconds)
            cfg = f"{count} processes x 1 thread, one log; DurableLog.append, {pg_cfg}"
            row("civic postgres", value, f"{count} writer process(es)", cfg)

    print(f"\n3. durable bulk append, {args.append:,} entries (entries/s)")
    bulk_url = pg_database(admin, "civic_bench_log_bulk", fresh=True) if admin else None
    rows = bulk(args.append, bulk_url, pg_cfg, tmp)
    for label, value, cfg in rows:
        row(label, value, ratio(value, rows[0][1]) + " pymerkle", cfg)


def concurrent(args: argparse.Namespace, admin: sa.Engine | None, pg_cfg: str, tmp: Path) -> None:
    """Section 2's 16-writer rows: each side's own single writer (1 thread), 16 threads and
    (civicstack) 16 asyncio tasks, measured in interleaved rounds."""
    sides: list[Appender] = [
        Pymerkle(tmp / "pymerkle-16.db"),
        Civic("civic sqlite", f"sqlite:///{tmp / 'civic-16.db'}", f"SQLite {SQLITE_DURABLE}"),
    ]
    if admin is not None:
        url = pg_database(admin, "civic_bench_log_16", fresh=True)
        sides.append(Civic("civic postgres", url, pg_cfg))
    # What each row is: (mode, how the writers append).
    modes = {
        "1 thread": "1 thread calling append: the side's own single-writer figure",
        "16 threads": "16 threads in 1 process, each calling append in turn",
        "16 tasks": "16 asyncio tasks on 1 event loop (asyncio.run, the default loop),"
        " each awaiting append_async in turn",
    }
    got: dict[tuple[str, str], list[Window]] = {}
    for _ in range(args.rounds):
        for side in sides:
            got.setdefault((side.label, "1 thread"), []).append(one_writer(side, args.seconds))
            got.setdefault((side.label, "16 threads"), []).append(threaded(side, 16, args.seconds))
            if isinstance(side, Civic):
                got.setdefault((side.label, "16 tasks"), []).append(tasks(side, 16, args.seconds))
    peer = statistics.median(w.rate for w in got[("pymerkle", "16 threads")])
    print("  own: the median of per-round ratios to the same side's 1-thread figure, same round")
    print("  (range); pymerkle has no asynchronous API: its 16-writer row is 16 threads, its")
    print("  fastest concurrent mode (it serialises them on its tree lock); CPU/append: this")
    print("  process's CPU time (user + system, all threads) per append, median, microseconds")
    head = f"{'appends/s':>10} {'CPU/app':>8}  {'vs own 1 thread; vs peer':<40}"
    print(f"  {'':<26} {head} configuration")
    for side in sides:
        own = [w.rate for w in got[(side.label, "1 thread")]]
        for mode, how in modes.items():
            windows = got.get((side.label, mode))
            if windows is None:
                continue
            rates = [w.rate for w in windows]
            value = statistics.median(rates)
            cpu = statistics.median(w.cpu_us for w in windows)
            if mode == "1 thread":
                extra = "1.0x (own single writer)"
            else:
                extra = f"{own_ratio(rates, own)} own"
                if side.label == "civic sqlite":  # a ratio only to the peer on the same engine
                    extra += f"; {ratio(value, peer)} pymerkle 16 thr"
            cfg = side.config.replace("DurableLog.append", "DurableLog")
            label = f"{side.label}, {mode}"
            print(f"  {label:<26} {fig(value):>10} {cpu:>6.1f}us  {extra:<40} {how}; {cfg}")


def own_ratio(ours: list[float], own: list[float]) -> str:
    """The median of the per-round ratios ``ours / own`` with their range, as ``3.1x (2.9-3.4)``."""
    ratios = sorted(o / b for o, b in zip(ours, own, strict=True))
    return f"{statistics.median(ratios):.1f}x ({ratios[0]:.1f}-{ratios[-1]:.1f})"


def proofs(
    args: argparse.Namespace, admin: sa.Engine | None, pg_cfg: str, sizes: list[int]
) -> None:
    """Section 4: proofs, cold and warm, at each size."""
    CACHE.mkdir(exist_ok=True)
    for size in sizes:
        print(f"\n4. proofs per second at {size:,} entries (to size {size:,}, given explicitly)")
        where: dict[str, tuple[str, str, str]] = {}
        url = f"sqlite:///{CACHE / f'civic-log-{size}.db'}"
        built_store(url, size, f"civic sqlite {size:,}")
        check_proofs(url, size)
        where["civic sqlite"] = ("civic", url, f"LogStore, SQLite {SQLITE_DURABLE}")
        if admin is not None:
            url = pg_database(admin, f"civic_bench_log_{size}", fresh=False)
            built_store(url, size, f"civic postgres {size:,}")
            where["civic postgres"] = ("civic", url, f"LogStore, {pg_cfg}")
        if size <= args.peer_max:
            path = CACHE / f"pymerkle-{size}.db"
            built_pymerkle(path, size)
            where["pymerkle"] = (
                "pymerkle",
                str(path),
                f"{PYMERKLE}, {SQLITE_DURABLE}, subroot cache defaults (threshold 128, 1 GiB)",
            )
        else:
            print(f"  pymerkle not measured at this size (--peer-max {args.peer_max:,})")
        for kind in ("inclusion", "consistency"):
            cold_rates = {
                label: cold((side, w), size, kind, args.cold_seconds)
                for label, (side, w, _) in where.items()
            }
            warm_rates = {
                label: warm((side, w), size, kind, args) for label, (side, w, _) in where.items()
            }
            print(
                f"  {kind}: cold = fresh process, first {args.cold_seconds:g} s after opening;"
                f" warm = the same {args.warm_queries} queries, answered once before timing"
            )
            head = f"{'cold':>10} {'ratio':>8} {'open s':>7} {'warm':>10} {'ratio':>8}"
            print(f"  {'':<16} {head}  configuration")
            pc = cold_rates["pymerkle"][0] if "pymerkle" in cold_rates else None
            pw = warm_rates.get("pymerkle")
            for label, (_, _, cfg) in where.items():
                (c, opening), w = cold_rates[label], warm_rates[label]
                # A ratio only against the peer on the same database engine.
                same = "sqlite" in label or label == "pymerkle"
                print(
                    f"  {label:<16} {fig(c):>10} {ratio(c, pc) if same else '-':>8}"
                    f" {opening:>7.2f} {fig(w):>10} {ratio(w, pw) if same else '-':>8}  {cfg}"
                )


if __name__ == "__main__":
    main()
