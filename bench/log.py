"""Benchmark the Merkle log against pymerkle 7.0.0's SQLite tree, measured in the same run.

    .venv/bin/python bench/log.py                      # sizes 1M and 10M (cached builds)
    .venv/bin/python bench/log.py --quick              # 100k entries, short windows
    .venv/bin/python bench/log.py --sizes 1000000 --seconds 5

Measures, for civicstack on SQLite and PostgreSQL and for pymerkle's ``SqliteTree``:

1. durable bulk appends per second: ours in signed, committed batches of 65,536
   (synchronous=FULL on SQLite) against pymerkle's ``append_entries`` in one transaction;
2. durable single appends per second: 16 threads calling ``append`` (group commit) against
   pymerkle's ``append_entry`` (one transaction each);
3. inclusion and consistency proofs per second at each size (random index / random old size,
   to the full tree's size given explicitly), after the same warm-up for both (pymerkle caches
   subroots in up to 1 GiB; ours caches 4,096 tiles, about 45 MB, and span hashes of 256
   leaves or more, about 1.5 MB at 1M entries).

Built databases are kept under ``bench/_peers`` (SQLite) and in PostgreSQL databases named
``civic_bench_log_<size>`` so that re-runs skip the builds. Targets (issue 4): proofs at least
30x pymerkle's SQLite tree at 1M entries, appends at least pymerkle's bulk rate.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from civicstack._crypto import PrivateKey
from civicstack.log import NoteSigner, leaf_hash, verify_consistency, verify_inclusion
from civicstack.stores.db import create_engine, normalise_url, upgrade
from civicstack.stores.log import LogStore

ROOT = Path(__file__).resolve().parent
CACHE = ROOT / "_peers"
LOG = "bench"
BATCH = 65_536
PG_DEFAULT = os.environ.get(
    "CIVIC_TEST_POSTGRES_URL", "postgresql+psycopg://root@127.0.0.1:5432/test"
)


def entries(start: int, stop: int) -> Iterator[bytes]:
    """The benchmark's entries: short distinct byte strings, the same for both sides."""
    return (b"entry-%010d" % i for i in range(start, stop))


def rate(fn: Callable[[], object], seconds: float, warmup: float) -> float:
    """Calls per second of ``fn`` over ``seconds``, after ``warmup`` seconds of calls."""
    end = time.perf_counter() + warmup
    while time.perf_counter() < end:
        fn()
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


def open_store(url: str) -> tuple[sa.Engine, LogStore]:
    """A migrated engine and its log store."""
    engine = create_engine(url)
    upgrade(engine)
    return engine, LogStore(engine)


def built_store(url: str, size: int, label: str) -> tuple[sa.Engine, LogStore, float | None]:
    """A store whose log ``bench`` holds ``size`` entries, built now unless it already does."""
    engine, store = open_store(url)
    try:
        if store.head(LOG).size == size:
            return engine, store, None
        raise SystemExit(f"{label}: cached database holds another size; delete it")
    except Exception as exc:
        if getattr(exc, "code", None) != "unknown_log":
            raise
    key = signer()
    store.create_log(LOG, key)
    start = time.perf_counter()
    store.append_all(LOG, entries(0, size), key, batch=BATCH)
    took = time.perf_counter() - start
    print(f"  built {label} with {size:,} entries in {took:.1f} s ({size / took:,.0f}/s)")
    return engine, store, took


def pymerkle_tree(path: Path, size: int) -> tuple[Any, float | None]:
    """pymerkle's SqliteTree at ``path`` holding ``size`` entries (built if absent)."""
    from pymerkle import SqliteTree

    tree = SqliteTree(str(path))
    have = tree.get_size()
    if have == size:
        return tree, None
    if have:
        raise SystemExit(f"{path} holds {have} entries, not {size}; delete it")
    start = time.perf_counter()
    tree.append_entries(entries(0, size))
    took = time.perf_counter() - start
    print(f"  built pymerkle with {size:,} entries in {took:.1f} s ({size / took:,.0f}/s)")
    return tree, took


# --- measurements ----------------------------------------------------------------------------


def bench_bulk_append(n: int, pg: sa.Engine | None, tmp: Path) -> dict[str, float]:
    """Durable bulk appends per second."""
    from pymerkle import SqliteTree

    out: dict[str, float] = {}
    tree = SqliteTree(str(tmp / "pymerkle-append.db"))
    start = time.perf_counter()
    tree.append_entries(entries(0, n))
    out["pymerkle"] = n / (time.perf_counter() - start)
    tree.close()
    urls = {"civic sqlite": f"sqlite:///{tmp / 'civic-append.db'}"}
    if pg is not None:
        urls["civic postgres"] = pg_database(pg, "civic_bench_log_append", fresh=True)
    for label, url in urls.items():
        engine, store = open_store(url)
        key = signer()
        store.create_log(LOG, key)
        start = time.perf_counter()
        store.append_all(LOG, entries(0, n), key, batch=BATCH)
        out[label] = n / (time.perf_counter() - start)
        store.close()
        engine.dispose()
    return out


def bench_single_appends(seconds: float, pg: sa.Engine | None, tmp: Path) -> dict[str, float]:
    """Durable one-entry appends per second: 16 threads with group commit, pymerkle serial."""
    from pymerkle import SqliteTree

    out: dict[str, float] = {}
    tree = SqliteTree(str(tmp / "pymerkle-single.db"))
    counter = iter(range(10**12))
    out["pymerkle"] = rate(lambda: tree.append_entry(b"single-%d" % next(counter)), seconds, 0)
    tree.close()
    urls = {"civic sqlite": f"sqlite:///{tmp / 'civic-single.db'}"}
    if pg is not None:
        urls["civic postgres"] = pg_database(pg, "civic_bench_log_single", fresh=True)
    for label, url in urls.items():
        engine, store = open_store(url)
        key = signer()
        store.create_log(LOG, key)
        done = [0] * 16
        stop = time.perf_counter() + seconds
        start = time.perf_counter()
        threads = [
            threading.Thread(target=_appender, args=(store, key, k, done, stop)) for k in range(16)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out[label] = sum(done) / (time.perf_counter() - start)
        # Every commit signs one checkpoint; the log's creation signed the first.
        out[label + " batch"] = sum(done) / max(1, _checkpoint_count(engine) - 1)
        store.close()
        engine.dispose()
    return out


def _appender(store: LogStore, key: NoteSigner, k: int, done: list[int], stop: float) -> None:
    """One client appending single entries until ``stop``."""
    while time.perf_counter() < stop:
        store.append(LOG, [b"single-%d-%d" % (k, done[k])], key)
        done[k] += 1


def _checkpoint_count(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM log_checkpoints")).scalar_one())


def bench_proofs(
    size: int, args: argparse.Namespace, pg: sa.Engine | None
) -> dict[str, dict[str, float]]:
    """Inclusion and consistency proofs per second at ``size`` entries, for each store."""
    rng = random.Random(size)
    results: dict[str, dict[str, float]] = {}
    CACHE.mkdir(exist_ok=True)

    stores: dict[str, tuple[sa.Engine, LogStore]] = {}
    engine, store, _ = built_store(
        f"sqlite:///{CACHE / f'civic-log-{size}.db'}", size, f"civic sqlite {size:,}"
    )
    stores["civic sqlite"] = (engine, store)
    if pg is not None:
        url = pg_database(pg, f"civic_bench_log_{size}", fresh=False)
        engine, store, _ = built_store(url, size, f"civic postgres {size:,}")
        stores["civic postgres"] = (engine, store)

    for label, (engine, store) in stores.items():
        head = store.head(LOG)
        # A few proofs checked against the signed root: the benchmark measures real proofs.
        for _ in range(5):
            i = rng.randrange(size)
            leaf = leaf_hash(b"entry-%010d" % i)
            verify_inclusion(leaf, i, size, store.inclusion_proof(LOG, i), head.root)
            old = rng.randrange(1, size)
            verify_consistency(
                old, size, store.root(LOG, old), head.root, store.consistency_proof(LOG, old)
            )
        # Both sides are asked for proofs to an explicit tree size, as a client holding a
        # checkpoint does (and as pymerkle's API requires).
        results[label] = {
            "inclusion": rate(
                lambda s=store: s.inclusion_proof(LOG, rng.randrange(size), size),
                args.seconds,
                args.warmup,
            ),
            "consistency": rate(
                lambda s=store: s.consistency_proof(LOG, rng.randrange(1, size), size),
                args.seconds,
                args.warmup,
            ),
        }
        store.close()
        engine.dispose()

    if size <= args.peer_max:
        tree, _ = pymerkle_tree(CACHE / f"pymerkle-{size}.db", size)
        # pymerkle counts leaves from 1.
        results["pymerkle"] = {
            "inclusion": rate(
                lambda: tree.prove_inclusion(rng.randint(1, size), size),
                args.seconds,
                args.warmup,
            ),
            "consistency": rate(
                lambda: tree.prove_consistency(rng.randint(1, size - 1), size),
                args.seconds,
                args.warmup,
            ),
        }
        tree.close()
    return results


# --- report ----------------------------------------------------------------------------------


def ratio(ours: float, peer: float | None) -> str:
    """``ours / peer`` as ``12.3x``, or a dash without a peer figure."""
    return f"{ours / peer:,.1f}x" if peer else "-"


def fig(value: float) -> str:
    """A rate, with decimals when it is small (pymerkle at 10M manages a fraction a second)."""
    return f"{value:,.0f}" if value >= 100 else f"{value:,.2f}"


def main() -> None:
    """Parse options, run every measurement, print the figures and ratios."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--sizes", default="1000000,10000000", help="tree sizes for proofs")
    parser.add_argument("--append", type=int, default=1_000_000, help="entries for bulk appends")
    parser.add_argument("--seconds", type=float, default=3.0, help="measuring window")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up before each window")
    parser.add_argument(
        "--peer-max",
        type=int,
        default=10_000_000,
        help="largest size at which pymerkle is built and measured",
    )
    parser.add_argument("--postgres", default=PG_DEFAULT, help="PostgreSQL URL ('none' to skip)")
    parser.add_argument("--quick", action="store_true", help="100k entries, 1 s windows")
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.append, args.seconds, args.warmup = "100000", 100_000, 1.0, 1.0
    sizes = [int(s) for s in args.sizes.split(",") if s]

    print(f"civicstack Merkle log vs pymerkle 7.0.0 SqliteTree  (python {sys.version.split()[0]})")
    pg = None if args.postgres == "none" else pg_admin(args.postgres)
    with tempfile.TemporaryDirectory(prefix="civic-bench-log-") as tmpdir:
        tmp = Path(tmpdir)
        print(f"\n1. durable bulk append, {args.append:,} entries (entries/s)")
        bulk = bench_bulk_append(args.append, pg, tmp)
        for label, value in bulk.items():
            print(f"  {label:<16} {fig(value):>12}   {ratio(value, bulk['pymerkle'])}")

        print(f"\n2. durable single-entry appends, {args.seconds:g} s (appends/s)")
        single = bench_single_appends(args.seconds, pg, tmp)
        for label, value in single.items():
            if label.endswith(" batch"):
                continue
            extra = ""
            if label + " batch" in single:
                extra = f"  (16 threads, {single[label + ' batch']:.1f} entries per commit)"
            print(f"  {label:<16} {fig(value):>12}   {ratio(value, single['pymerkle'])}{extra}")

    for size in sizes:
        window = f"warm-up {args.warmup:g} s, window {args.seconds:g} s"
        print(f"\n3. proofs per second at {size:,} entries ({window})")
        res = bench_proofs(size, args, pg)
        peer = res.get("pymerkle")
        if peer is None:
            print(f"  pymerkle not measured at this size (--peer-max {args.peer_max:,})")
        print(f"  {'':<16} {'inclusion':>12} {'ratio':>10} {'consistency':>12} {'ratio':>10}")
        for label, r in res.items():
            inc = ratio(r["inclusion"], peer and peer["inclusion"])
            con = ratio(r["consistency"], peer and peer["consistency"])
            print(
                f"  {label:<16} {fig(r['inclusion']):>12} {inc:>10}"
                f" {fig(r['consistency']):>12} {con:>10}"
            )


if __name__ == "__main__":
    main()
