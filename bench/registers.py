"""Benchmark the registers API against Datasette serving the same records, in the same run.

    .venv/bin/python bench/registers.py                 # 20,000 addresses, 10 s per measurement
    .venv/bin/python bench/registers.py --quick         # 5,000 addresses, 3 s
    .venv/bin/python bench/registers.py --records 100000 --seconds 20 --concurrency 32

Both servers run as one process on this machine: ``civic up --workers 1`` over the seeded
platform (SQLite), and Datasette 0.65.5 (installed into its own virtual environment under
``bench/_peers``, never into our dependencies) over a SQLite file holding the ``address``
register's records as a table keyed by UPRN. The same load generator drives both: an asyncio
HTTP/1.1 client written here (keep-alive connections, ``--concurrency`` of them, each sending
its next request when the last answer is read), so neither side gets a faster client.

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

import argparse
import asyncio
import os
import random
import socket
import sqlite3
import subprocess
import sys
import time
import venv
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

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
    from civicstack.settings import Settings
    from civicstack.stores.registers_seed import default_archive, seed_registers

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
        subprocess.run(
            [
                str(DATASETTE_VENV / "bin" / "pip"),
                "install",
                "--quiet",
                f"datasette=={DATASETTE_VERSION}",
            ],
            check=True,
        )
    return binary


# --- the servers -----------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(argv: list[str], ready: str, env: dict[str, str] | None = None) -> Iterator[None]:
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
        yield
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


# --- the load generator ----------------------------------------------------------------------


@dataclass
class Run:
    """One measurement: completed requests, errors, latencies."""

    seconds: float
    done: int
    errors: int
    latencies: list[float]
    #: Errors by HTTP status (200 for a body that was not the data asked for).
    failures: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.done / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1000 if ordered else 0.0


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One HTTP/1.1 response: status and body (Content-Length or chunked)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    if b"content-length" in headers:
        return status, await reader.readexactly(int(headers[b"content-length"]))
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                return status, bytes(body)
            body += await reader.readexactly(size)
            await reader.readexactly(2)
    return status, b""


async def _client(
    port: int, path: Callable[[], str], stop: float, run: Run, check: Callable[[bytes], bool]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while (now := time.perf_counter()) < stop:
            request = f"GET {path()} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n"
            writer.write(request.encode())
            status, body = await _read_response(reader)
            took = time.perf_counter() - now
            if status == 200 and check(body):
                run.done += 1
                run.latencies.append(took)
            else:
                run.errors += 1
                run.failures[status] = run.failures.get(status, 0) + 1
    finally:
        writer.close()


def load(
    port: int,
    path: Callable[[], str],
    seconds: float,
    concurrency: int,
    check: Callable[[bytes], bool],
) -> Run:
    """``concurrency`` keep-alive clients requesting ``path()`` for ``seconds``."""

    async def main() -> Run:
        run = Run(seconds, 0, 0, [])
        start = time.perf_counter()
        stop = start + seconds
        await asyncio.gather(*(_client(port, path, stop, run, check) for _ in range(concurrency)))
        run.seconds = time.perf_counter() - start
        return run

    return asyncio.run(main())


# --- report ----------------------------------------------------------------------------------


def line(label: str, run: Run, peer: Run | None) -> str:
    """One row of the report."""
    ratio = f"{run.rate / peer.rate:,.2f}x" if peer and peer.rate else "1.00x"
    errors = f"{run.errors}" + (f" {dict(sorted(run.failures.items()))}" if run.failures else "")
    return (
        f"  {label:<12} {run.rate:>10,.0f}/s   p50 {run.percentile(0.5):6.2f} ms"
        f"   p99 {run.percentile(0.99):6.2f} ms   {ratio:>7}   errors {errors}"
    )


def main() -> None:
    """Prepare the data, start both servers in turn, measure, print the figures and ratios."""
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
    print(
        f"civicstack registers API vs Datasette {DATASETTE_VERSION}"
        f"  (python {sys.version.split()[0]}, {args.concurrency} clients, one server process)"
    )
    data = seeded_platform(args.records)
    db, keys = datasette_file(data)
    rng = random.Random(args.records)
    civic_port, datasette_port = free_port(), free_port()
    civic = [
        sys.executable, "-m", "civicstack.cli.main", "up",
        "--port", str(civic_port), "--workers", "1",
    ]  # fmt: skip
    datasette = [
        str(datasette_binary()), "serve", str(db), "--port", str(datasette_port),
        "--setting", "suggest_facets", "off", "--setting", "default_page_size", "100",
    ]  # fmt: skip

    def key() -> str:
        return rng.choice(keys)

    # Pages start far enough from the end to be full (keys come in key order).
    firsts = keys[:-100]

    def after() -> str:
        return rng.choice(firsts)

    suites = {
        "civicstack": (
            civic_port,
            lambda: f"/registers/address/records/{key()}",
            lambda: f"/registers/address/records?after={after()}&page-size=100",
        ),
        "datasette": (
            datasette_port,
            lambda: f"/bench/address/{key()}.json?_shape=objects",
            lambda: (
                f"/bench/address.json?_next={after()}&_size=100&_shape=objects&_nocount=1&_nofacet=1"
            ),
        ),
    }
    results: dict[str, dict[str, Run]] = {}
    servers = {
        "civicstack": (
            civic,
            f"http://127.0.0.1:{civic_port}/healthz",
            {"CIVIC_DATA_DIR": str(data)},
        ),
        "datasette": (datasette, f"http://127.0.0.1:{datasette_port}/-/versions.json", None),
    }
    for label, (argv, ready, env) in servers.items():
        port, lookup, page = suites[label]
        with serving(argv, ready, env):
            # A response is counted only if it is the data asked for (a record, a page of 100).
            sample = httpx.get(f"http://127.0.0.1:{port}{lookup()}").json()
            assert sample, f"{label} returned no record"
            results[label] = {}
            for name, path, check in (
                (
                    "lookups",
                    lookup,
                    lambda body: body.startswith(b"{") and b"street-address" in body,
                ),
                ("pages", page, lambda body: body.count(b'"street-address"') >= 100),
            ):
                load(port, path, args.warmup, args.concurrency, check)
                results[label][name] = load(port, path, args.seconds, args.concurrency, check)
    for name, title in (("lookups", "record lookups"), ("pages", "record pages (100 each)")):
        print(f"\n{title}, {args.seconds:g} s, {len(keys):,} records")
        peer = results["datasette"][name]
        for label in ("civicstack", "datasette"):
            print(line(label, results[label][name], peer if label != "datasette" else None))


if __name__ == "__main__":
    main()
