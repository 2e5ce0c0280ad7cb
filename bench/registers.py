"""Benchmark the registers API against Datasette serving the same records, in the same run.

    .venv/bin/python bench/registers.py                 # 20,000 addresses, 10 s per measurement
    .venv/bin/python bench/registers.py --quick         # 5,000 addresses, 3 s
    .venv/bin/python bench/registers.py --records 100000 --seconds 20 --concurrency 32

Every server runs as one process on this machine, on uvicorn with uvloop and httptools:
``civic up --workers 1`` over the seeded platform (SQLite), and Datasette 0.65.5 (installed
into its own virtual environment under ``bench/_peers``, never into our dependencies, with
uvloop and httptools, which its uvicorn picks up by itself as ours does) over a SQLite file
holding the ``address`` register's records as a table keyed by UPRN. Datasette is measured in
both its modes: as a mutable database (``datasette serve bench.db``, the default) and as an
immutable one (``datasette serve -i bench.db``, its fastest read mode: no change detection,
the file opened read-only and immutable). The headline ratio is against the faster of the
two; both are printed. The same load generator drives all three (bench/_load.py:
``--concurrency`` closed-loop keep-alive HTTP/1.1 clients cycling through pre-built requests
for random keys, after the same warm-up window), and each server's CPU time per request is
read from /proc, a figure that holds up on a shared machine better than the rate does.

Measured, requests per second with p50/p99 latency and the error count:

1. record lookups: a random existing key each time
   (``/registers/address/records/{key}`` against Datasette's ``/bench/address/{key}.json``);
2. record pages: 100 records after a random key, keyset-paginated
   (``/registers/address/records?after=K&page-size=100`` against Datasette's
   ``/bench/address.json?_next=K&_size=100``, with ``_nocount=1`` and facet suggestions off,
   Datasette's fastest settings for this).

Target (issue 4): HTTP record lookups >= Datasette. The platform's data directory and the
Datasette file are cached under ``bench/_peers/registers-<N>`` so that re-runs skip seeding.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "__main__":
    # Run as a script: import bench._load from the repository root, and do not let bench/http.py
    # stand in for the standard library's http package.
    _here = Path(__file__).resolve().parent
    if sys.path and Path(sys.path[0] or ".").resolve() == _here:
        sys.path[0] = str(_here.parent)

import argparse
import os
import random
import socket
import sqlite3
import subprocess
import time
import venv
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from bench._load import LoadResult

ROOT = Path(__file__).resolve().parent
PEERS = ROOT / "_peers"
DATASETTE_VENV = PEERS / "datasette-venv"
DATASETTE_VERSION = "0.65.5"
PROJECT = ROOT.parent
COLUMNS = (
    "street-address",
    "post-town",
    "postcode",
    "local-authority-eng",
    "location",
    "start-date",
)


# --- the data --------------------------------------------------------------------------------


def seeded_platform(records: int) -> Path:
    """A data directory whose platform holds the seeded registers, ``records`` addresses."""
    from civicstack.platform import Platform
    from civicstack.registers.synthetic import SyntheticSizes
    from civicstack.services.registers import default_archive, seed_registers
    from civicstack.settings import Settings

    data = PEERS / f"registers-{records}"
    marker = data / "seeded"
    if marker.exists():
        return data
    platform = Platform(Settings.from_env({"CIVIC_DATA_DIR": str(data)}))
    platform.migrate()
    start = time.perf_counter()
    sizes = SyntheticSizes(addresses=records)
    seed_registers(platform.registers, archive=default_archive(), now=int(time.time()), sizes=sizes)
    print(
        f"  seeded the platform with {records:,} addresses in {time.perf_counter() - start:.1f} s"
    )
    platform.close()
    marker.touch()
    return data


def datasette_file(data: Path) -> tuple[Path, list[str]]:
    """The address records as a SQLite table for Datasette (built once), and every key."""
    from civicstack.platform import Platform
    from civicstack.settings import Settings

    path = data / "bench.db"
    platform = Platform(Settings.from_env({"CIVIC_DATA_DIR": str(data)}))
    store = platform.registers
    head = store.head("address")
    keys: list[str] = []
    rows = []
    after: str | None = None
    while page := store.records(head, after=after, limit=1000):
        for row in page:
            item = row.record().item
            keys.append(row.entry.key)
            rows.append((row.entry.key, *(item.get(c) for c in COLUMNS)))
        after = page[-1].entry.key
    platform.close()
    if not path.exists():
        db = sqlite3.connect(path)
        columns = ", ".join(f'"{c}" TEXT' for c in COLUMNS)
        db.execute(f'CREATE TABLE address ("address" TEXT PRIMARY KEY, {columns})')
        marks = ", ".join("?" * (len(COLUMNS) + 1))
        db.executemany(f"INSERT INTO address VALUES ({marks})", rows)
        db.commit()
        db.close()
    return path, keys


def datasette_binary() -> Path:
    """Datasette in its own virtual environment under bench/_peers (created on first use)."""
    binary = DATASETTE_VENV / "bin" / "datasette"
    if not binary.exists():
        print(f"  installing datasette {DATASETTE_VERSION} into {DATASETTE_VENV}")
        venv.create(DATASETTE_VENV, with_pip=True)
        done = subprocess.run(
            [
                str(DATASETTE_VENV / "bin" / "pip"),
                "install",
                "--quiet",
                "--disable-pip-version-check",
                f"datasette=={DATASETTE_VERSION}",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        # pip's chatter (index warnings) would bury the figures; show it only on failure.
        if done.returncode != 0:
            raise SystemExit(f"installing datasette failed:\n{done.stdout}{done.stderr}")
    python = str(DATASETTE_VENV / "bin" / "python")
    probe = subprocess.run(
        [python, "-c", "import uvloop, httptools"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        # uvicorn[standard]'s speedups, as civicstack's uvicorn has them: the same HTTP stack.
        print(f"  installing uvloop and httptools into {DATASETTE_VENV}")
        done = subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
             "uvloop", "httptools"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise SystemExit(f"installing uvloop/httptools failed:\n{done.stdout}{done.stderr}")
    return binary


# --- the servers -----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(
    argv: list[str], ready: str, env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server process until the block ends; wait until ``ready`` answers 200."""
    log = open(PEERS / "server.log", "ab")  # noqa: SIM115 - closed below, after the process
    proc = subprocess.Popen(argv, env={**os.environ, **(env or {})}, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"{argv[0]} exited with {proc.returncode}; see {log.name}")
            try:
                if httpx.get(ready, timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{argv[0]} did not become ready")
            time.sleep(0.2)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# --- report ----------------------------------------------------------------------------------


def line(label: str, run: LoadResult, peers: dict[str, LoadResult], shape: str) -> str:
    """One row of the report: the rate, its ratio to each peer, latency, CPU, errors, shape."""
    ratios = " ".join(
        f"{run.rate / peer.rate:5.2f}x vs {name}" if peer.rate else f"  n/a vs {name}"
        for name, peer in peers.items()
    )
    kinds = f" {dict(run.error_kinds)}" if run.errors else ""
    server = run.metered / max(1, run.successes) * 1e6 if run.metered is not None else 0.0
    return (
        f"  {label:<14} {run.rate:>9,.0f}/s   p50 {run.p50 * 1000:6.2f} ms"
        f"   p99 {run.p99 * 1000:6.2f} ms   server {server:6.0f} µs/req"
        f"   errors {run.errors}{kinds}   [{shape}]   {ratios}"
    )


def main() -> None:
    """Prepare the data, start each server in turn, measure, print the figures and ratios."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--records", type=int, default=20_000, help="address records")
    parser.add_argument("--seconds", type=float, default=10.0, help="measuring window")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up before each window")
    parser.add_argument("--concurrency", type=int, default=16, help="keep-alive clients")
    parser.add_argument("--quick", action="store_true", help="5,000 records, 3 s windows")
    args = parser.parse_args()
    if args.quick:
        args.records, args.seconds, args.warmup = 5_000, 3.0, 1.0
    PEERS.mkdir(exist_ok=True)
    from bench._load import event_loop_name

    print(
        f"civicstack registers API vs Datasette {DATASETTE_VERSION}  (python"
        f" {sys.version.split()[0]}; one server process each; bench/_load.py on"
        f" {event_loop_name()}, {args.concurrency} keep-alive clients)"
    )
    data = seeded_platform(args.records)
    db, keys = datasette_file(data)
    rng = random.Random(args.records)
    binary = str(datasette_binary())
    ports = {label: free_port() for label in ("civicstack", "datasette", "datasette -i")}
    civic = [
        sys.executable, "-m", "civicstack.cli.main", "up",
        "--port", str(ports["civicstack"]), "--workers", "1",
    ]  # fmt: skip
    settings = ["--setting", "suggest_facets", "off", "--setting", "default_page_size", "100"]
    datasette = [binary, "serve", str(db), "--port", str(ports["datasette"]), *settings]
    immutable = [binary, "serve", "-i", str(db), "--port", str(ports["datasette -i"]), *settings]

    from bench._load import Request, drive, process_tree_cpu, server_shape

    # The same random keys for all, each request built once; pages start far enough from the
    # end to be full (keys come in key order).
    lookups = [rng.choice(keys) for _ in range(20_000)]
    afters = [rng.choice(keys[:-100]) for _ in range(5_000)]
    civic_requests = (
        [Request("GET", f"/registers/address/records/{k}") for k in lookups],
        [Request("GET", f"/registers/address/records?after={k}&page-size=100") for k in afters],
    )
    datasette_requests = (
        [Request("GET", f"/bench/address/{k}.json?_shape=objects") for k in lookups],
        [
            Request(
                "GET",
                f"/bench/address.json?_next={k}&_size=100&_shape=objects&_nocount=1&_nofacet=1",
            )
            for k in afters
        ],
    )
    servers = {
        "civicstack": (civic, "/healthz", {"CIVIC_DATA_DIR": str(data)}, civic_requests),
        "datasette": (datasette, "/-/versions.json", None, datasette_requests),
        "datasette -i": (immutable, "/-/versions.json", None, datasette_requests),
    }
    results: dict[str, dict[str, LoadResult]] = {}
    shapes: dict[str, str] = {}
    for label, (argv, ready, env, (lookup, page)) in servers.items():
        port = ports[label]
        with serving(argv, f"http://127.0.0.1:{port}{ready}", env) as proc:
            # A response is counted only if it is the data asked for (a record, a page of 100).
            sample = httpx.get(f"http://127.0.0.1:{port}{lookup[0].path}").json()
            assert sample, f"{label} returned no record"
            results[label] = {}
            for name, requests, check in (
                (
                    "lookups",
                    lookup,
                    lambda body: body.startswith(b"{") and b"street-address" in body,
                ),
                ("pages", page, lambda body: body.count(b'"street-address"') >= 100),
            ):
                results[label][name] = drive(
                    "127.0.0.1",
                    port,
                    requests[0],
                    variants=requests,
                    concurrency=args.concurrency,
                    seconds=args.seconds,
                    warmup=args.warmup,
                    check=check,
                    meter=lambda pid=proc.pid: process_tree_cpu(pid),
                )
            shapes[label] = server_shape(proc.pid)
    print(
        "  civicstack: civic up --workers 1 (SQLite, the seeded platform)\n"
        "  datasette: datasette serve bench.db (mutable, its default)\n"
        "  datasette -i: datasette serve -i bench.db (immutable, its fastest read mode)\n"
        "  all three: --setting suggest_facets off, default_page_size 100 for Datasette; the\n"
        f"  same {args.warmup:g} s warm-up before each window; one process each (read from /proc)"
    )
    for name, title in (("lookups", "record lookups"), ("pages", "record pages (100 each)")):
        print(f"\n{title}, {args.seconds:g} s, {len(keys):,} records")
        peers = {label: results[label][name] for label in ("datasette -i", "datasette")}
        for label in servers:
            others = {} if label.startswith("datasette") else peers
            print(line(label, results[label][name], others, shapes[label]))
        fastest = max(peers, key=lambda label: peers[label].rate)
        ours = results["civicstack"][name]
        ratio = ours.rate / peers[fastest].rate
        cpu = ""
        theirs = peers[fastest]
        if ours.metered and theirs.metered:
            # Server CPU per request holds up on a busy machine better than the rate does.
            mine = ours.metered / max(1, ours.successes)
            other = theirs.metered / max(1, theirs.successes)
            cpu = f"; by server CPU per request {other / mine:.2f}x"
        print(f"  headline: civicstack / {fastest} (the faster Datasette mode): {ratio:.2f}x{cpu}")


if __name__ == "__main__":
    main()
