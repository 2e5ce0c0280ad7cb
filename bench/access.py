"""Access-log benchmark: released data fetches per second over HTTP, logged vs unlogged.

What one fetch is (``POST /exchange/fetch``, the insurer's API key): authenticate the key, read
the body strictly, check the requester's registration (trust registry), the data service and the
consent, read the hosted DVLA record of the citizen, then — in the LOGGED configuration — append
the access to the access log (group commit: one transaction, one fsync and ONE signed checkpoint
per batch of concurrent fetches) and answer with a C2SP tlog-proof receipt (the entry, its RFC
9162 inclusion proof, the batch's checkpoint). The peer, measured in the same run, is the same
fetch with the log switched off (``UnsafeNoAccessLog``, built only by ``bench/_access_server.py``):
everything else identical, no entry, no receipt.

Both sides: one API process (uvicorn, uvloop, httptools, no access log) started fresh on a
fresh database, the same 256 citizens' consents (each fetch about one of them, in turn), 16
keep-alive clients of ``bench/_load.py`` on the same machine, the same warm-up and window.
Configurations alternate (unlogged, logged, unlogged, logged...) so machine noise hits both;
the best round of each is printed, with the ratio logged/unlogged of the best rounds. The load
generator's CPU (share of one core) is printed beside each figure, and the server's, with its
CPU per fetch: what logging costs shows there even where throughput hides it.

The logged side runs the access log's writer as ``civic up`` does (``--writer process``, the
default): in a process of its own beside the API process, so building entries, the subject map,
proofs and the checkpoint signature do not take the API's interpreter lock. Its CPU counts in
the logged server's figure (the server's process tree), so the logged side is seen to use more
of the machine, not hidden. ``--writer thread`` measures the writer as a thread of the API
process (``CIVIC_ACCESS_LOG_WRITER=thread``, the embedded default).

Then (issue 12) a citizen's history: an access log of ``--history-size`` leaves (default 1M)
on SQLite, built fast through the log store's bulk append (``LogStore.append`` of 65,536-entry
chunks, as ``bench/log.py`` builds its big logs) with the citizen's ``--history-entries``
accesses (default 1,000) and ``--history-others`` other citizens' (default 100,000, so the
subject map is realistic) written through the access store's real write path (chain, tags,
subject map, map root leaf, signed checkpoint) spread over it. Figures, medians of 5:

1. the platform reading the history with every proof (``AccessLogStore.subject_history``);
2. the wallet verifying it (``civicstack.access.history.verify_history``: checkpoint signature,
   1,000 inclusion proofs, the chain, the map proof) — goal < 1 s;
3. the peer in the same run: verifying the same entries' tlog-proof receipts one by one
   (``civicstack.log.verify_receipt``), which proves each entry but not that none is missing.

The cost of witnessing one checkpoint is ``bench/witness.py``'s figure (a real ``civic
witness`` process).

Usage: ``.venv/bin/python bench/access.py [--seconds 10] [--rounds 2] [--quick]
[--postgres URL] [--writer process|thread] [--history-size N] [--history-entries N]
[--history-others N] [--history-only | --no-history]`` (PostgreSQL also from
``CIVIC_TEST_POSTGRES_URL``; it creates and drops its own database). Goals: logged >= 2,000
fetches/s and >= 50% of unlogged (issue 11); a 1,000-entry history in a 1M log verified in
< 1 s (issue 12).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

if __name__ == "__main__":
    _here = Path(__file__).resolve().parent
    if sys.path and Path(sys.path[0] or ".").resolve() == _here:
        sys.path[0] = str(_here.parent)

import httpx
from bench._load import LoadResult, Request, drive, event_loop_name, process_tree_cpu

CONCURRENCY = 16


@dataclass(frozen=True)
class Figure:
    """One measured configuration."""

    engine: str
    mode: str
    load: LoadResult
    server_cpu: float  # share of one core

    def line(self) -> str:
        """The figure as printed."""
        lo = self.load
        per_fetch = self.server_cpu / lo.rate * 1e6 if lo.rate else 0.0
        return (
            f"  {self.engine:<10} {self.mode:<8} {lo.rate:8.0f}/s  p50 {lo.p50 * 1000:6.1f} ms"
            f"  p99 {lo.p99 * 1000:6.1f} ms  errors {lo.errors:<5} server CPU"
            f" {self.server_cpu * 100:4.0f}% ({per_fetch:4.0f} us/fetch)"
            f"  load generator CPU {lo.cpu_share * 100:4.0f}%"
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _server(mode: str, database: str | None) -> Iterator[tuple[int, int, dict[str, object]]]:
    """The bench server on a fresh data directory: ``(port, pid, fixture)`` once ready."""
    with tempfile.TemporaryDirectory(prefix="civic-access-bench-") as scratch:
        data, port = Path(scratch), _free_port()
        cmd = [sys.executable, "-m", "bench._access_server", "--data", str(data), "--port",
               str(port), "--mode", mode]  # fmt: skip
        if database:
            cmd += ["--database", database]
        log = (data / "server.log").open("wb")
        root = Path(__file__).resolve().parent.parent
        proc = subprocess.Popen(cmd, cwd=root, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 180
            while True:
                if proc.poll() is not None:
                    raise RuntimeError((data / "server.log").read_text())
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError("the bench server did not start")
                time.sleep(0.2)
            yield port, proc.pid, json.loads((data / "fixture.json").read_text())
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.close()


@contextmanager
def _postgres(url: str) -> Iterator[str]:
    """A fresh PostgreSQL database under ``url``'s server, dropped afterwards."""
    import sqlalchemy as sa

    from civicstack.stores.db import normalise_url

    admin = sa.create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    name = f"civic_access_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield str(
            sa.engine.make_url(normalise_url(url))
            .set(database=name)
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def measure(engine: str, mode: str, database: str | None, seconds: float) -> Figure:
    """One configuration: a fresh server, warm-up, the measured window."""
    with _server(mode, database) as (port, pid, fixture):
        headers = {"Authorization": f"Bearer {fixture['key']}", "Content-Type": "application/json"}
        bodies = fixture["bodies"]
        assert isinstance(bodies, list)
        variants = [
            Request("POST", "/exchange/fetch", headers, json.dumps(b).encode()) for b in bodies
        ]
        want = b'"receipt":"c2sp.org' if mode == "logged" else b'"outcome":"released"'
        cpu_before = process_tree_cpu(pid)
        started = time.perf_counter()
        load = drive(
            "127.0.0.1",
            port,
            variants[0],
            concurrency=CONCURRENCY,
            seconds=seconds,
            warmup=min(3.0, seconds / 2),
            check=lambda body: want in body,
            variants=variants,
        )
        elapsed = time.perf_counter() - started
        server_cpu = (process_tree_cpu(pid) - cpu_before) / elapsed
    return Figure(engine, mode, load, server_cpu)


def _median(fn: Callable[[], object], n: int = 5) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def history(size: int, mine: int, others: int) -> None:
    """Issue 12's figures (see the module docstring)."""
    from civicstack._crypto import PrivateKey
    from civicstack.access import AccessEntry
    from civicstack.access.history import verify_history
    from civicstack.log import NoteSigner, Receipt, verify_receipt
    from civicstack.stores.db import create_engine, upgrade
    from civicstack.stores.exchange import AccessLogStore
    from civicstack.stores.log import LogStore

    def entry(n: int, outcome: str = "released") -> AccessEntry:
        return AccessEntry(
            time=1_767_225_600 + n,
            requester="insurer",
            provider="dvla",
            service="driving-record",
            purpose="insurance_quote",
            categories=("dpv-pd:VehicleLicense", "dpv-pd:VehicleUsage"),
            outcome="released",
            consent=f"consent-{n % 100_000}",
            consent_version=1,
        )

    # Filler: other accesses' canonical bytes (their marks random), made fast from a template.
    template = entry(0).to_bytes().replace(b'"subject":null', b'"subject":{"tag":"%s","link":"%s"}')

    def filler(n: int) -> list[bytes]:
        out = []
        for _ in range(n):
            tag, link = (uuid.uuid4().hex + uuid.uuid4().hex[:11] for _ in range(2))
            out.append(template.replace(b"%s", tag.encode(), 1).replace(b"%s", link.encode(), 1))
        return out

    print(
        f"bench/access.py: a citizen's history, {mine:,} entries in an access log of {size:,}"
        f" leaves with {others:,} other citizens (SQLite, synchronous=FULL)"
    )
    with tempfile.TemporaryDirectory(prefix="civic-history-bench-") as scratch:
        engine = create_engine(f"sqlite:///{scratch}/civic.db")
        upgrade(engine)
        logs = LogStore(engine)
        signer = NoteSigner("bench.civicstack.example/access", PrivateKey.generate("EdDSA"))
        store = AccessLogStore(logs, signer)
        store.ensure()
        citizen = "the-citizen-handle"
        started = time.perf_counter()
        per = 2000
        for b in range(0, others, per):  # other citizens, through the real write path
            n = min(per, others - b)
            store.append_accesses([(entry(b + k), f"other-{b + k}") for k in range(n)])
        written = logs.head(store.name).size
        # Each of the citizen's accesses (and its map root) after an even share of filler,
        # bulk-appended unsigned (the log store's fast path); then the real write path.
        gap = max(0, size - written - 2 * mine) // max(mine, 1)
        for k in range(mine):
            if gap:
                logs.append(store.name, filler(gap), None)
            store.append_accesses([(entry(k), citizen)])
        built = time.perf_counter() - started
        total = logs.head(store.name).size
        print(f"  built: {total:,} leaves in {built:.1f} s")
        got = store.subject_history(citizen)
        read = _median(lambda: store.subject_history(citizen))
        verifier = signer.verifier
        verify = _median(lambda: verify_history(got, [verifier]))
        verified = verify_history(got, [verifier])
        assert len(verified.entries) == mine
        receipts = [Receipt(e.index, e.proof, got.checkpoint, e.data) for e in got.entries]
        peer = _median(lambda: [verify_receipt(r, [verifier]) for r in receipts])
        print(f"  platform: read the history with every proof   {read * 1000:8.1f} ms")
        goal = "met" if verify < 1.0 else "NOT met"
        print(
            f"  wallet:   verify it complete (verify_history)  {verify * 1000:8.1f} ms"
            f"  (goal < 1 s: {goal})"
        )
        print(
            f"  peer:     verify the {mine:,} receipts one by one  {peer * 1000:8.1f} ms"
            f"  (no completeness)  ratio verify_history / receipts = {verify / peer:.2f}"
        )
        print(
            f"  proof depth: inclusion up to {max(len(e.proof) for e in got.entries)} hashes, map"
            f" {len(got.map_proof.siblings)} hashes"
        )
        store.close()
        logs.close()
        engine.dispose()
    print("  witnessing one checkpoint: see bench/witness.py (a real civic witness process)")


def main() -> int:
    """Run the rounds and print the figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="5 s windows, one round")
    parser.add_argument("--postgres", default=os.environ.get("CIVIC_TEST_POSTGRES_URL"))
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--history-size", type=int, default=1_000_000)
    parser.add_argument("--history-entries", type=int, default=1_000)
    parser.add_argument("--history-others", type=int, default=100_000)
    parser.add_argument("--history-only", action="store_true")
    parser.add_argument("--no-history", action="store_true")
    parser.add_argument(
        "--writer",
        choices=("process", "thread"),
        default=os.environ.get("CIVIC_ACCESS_LOG_WRITER", "process"),
        help="the access log's writer, as CIVIC_ACCESS_LOG_WRITER (civic up: process)",
    )
    args = parser.parse_args()
    os.environ["CIVIC_ACCESS_LOG_WRITER"] = args.writer  # the servers inherit it
    if args.history_only:
        history(args.history_size, args.history_entries, args.history_others)
        return 0
    seconds, rounds = (5.0, 1) if args.quick else (args.seconds, args.rounds)
    engines: list[tuple[str, str | None]] = [("SQLite", None)]
    if args.postgres and not args.no_postgres:
        engines.append(("PostgreSQL", args.postgres))
    print(
        f"bench/access.py: POST /exchange/fetch, {CONCURRENCY} keep-alive clients "
        f"({event_loop_name()}), {seconds:.0f} s windows after warm-up, {rounds} round(s)"
    )
    loadavg = Path("/proc/loadavg").read_text().split()[:3]
    print(f"  machine: {os.cpu_count()} CPUs, load average {loadavg}")
    print("  server: one API process, uvicorn + uvloop + httptools, fresh database per run")
    print("  logged:   consent check + access-log append (group commit, one checkpoint per")
    print("            batch, SQLite synchronous=FULL) + C2SP tlog-proof receipt; the writer")
    if args.writer == "process":
        print("            in a process of its own beside the API process, as `civic up` runs it")
        print("            (its CPU counted in the server's)")
    else:
        print("            a thread of the API process (CIVIC_ACCESS_LOG_WRITER=thread)")
    print("  unlogged: the same fetch, UnsafeNoAccessLog (peer; bench only)")
    best: dict[tuple[str, str], Figure] = {}
    for engine, url in engines:
        for _ in range(rounds):
            for mode in ("unlogged", "logged"):
                if url is None:
                    fig = measure(engine, mode, None, seconds)
                else:
                    with _postgres(url) as database:
                        fig = measure(engine, mode, database, seconds)
                print(fig.line(), flush=True)
                key = (engine, mode)
                if key not in best or fig.load.rate > best[key].load.rate:
                    best[key] = fig
    print("best rounds:")
    for engine, _ in engines:
        logged, unlogged = best[(engine, "logged")], best[(engine, "unlogged")]
        print(logged.line())
        print(unlogged.line())
        ratio = logged.load.rate / unlogged.load.rate if unlogged.load.rate else 0.0
        goal = "met" if logged.load.rate >= 2000 and ratio >= 0.5 else "NOT met"
        print(f"  {engine}: logged / unlogged = {ratio:.2f}  (goal >= 2,000/s and >= 0.50: {goal})")
    print(f"  load average after: {Path('/proc/loadavg').read_text().split()[:3]}")
    if not args.no_history:
        history(args.history_size, args.history_entries, args.history_others)
    return 0


if __name__ == "__main__":
    sys.exit(main())
