"""Access-log benchmark: released data fetches per second over HTTP, logged vs unlogged.

What one fetch is (``POST /exchange/fetch``, the insurer's API key): authenticate the key, read
the body strictly, check the requester's registration (trust registry), the data service and the
consent, read the hosted DVLA record of the citizen, then — in the LOGGED configuration — append
the access to the access log (group commit: one transaction, one fsync and ONE signed checkpoint
per batch of concurrent fetches) and answer with a C2SP tlog-proof receipt (the entry, its RFC
9162 inclusion proof, the batch's checkpoint). The peer, measured in the same run, is the same
fetch with the log switched off (``UnsafeNoAccessLog``, built only by ``bench/_access_server.py``):
everything else identical, no entry, no receipt.

Both sides: one server process (uvicorn, uvloop, httptools, no access log) started fresh on a
fresh database, the same 256 citizens' consents (each fetch about one of them, in turn), 16
keep-alive clients of ``bench/_load.py`` on the same machine, the same warm-up and window.
Configurations alternate (unlogged, logged, unlogged, logged...) so machine noise hits both;
the best round of each is printed, with the ratio logged/unlogged of the best rounds. The load
generator's CPU (share of one core) is printed beside each figure, and the server's.

Usage: ``.venv/bin/python bench/access.py [--seconds 10] [--rounds 2] [--quick]
[--postgres URL]`` (PostgreSQL also from ``CIVIC_TEST_POSTGRES_URL``; it creates and drops its
own database). Goal (issue 11): logged >= 2,000 fetches/s and >= 50% of unlogged.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
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
        return (
            f"  {self.engine:<10} {self.mode:<8} {lo.rate:8.0f}/s  p50 {lo.p50 * 1000:6.1f} ms"
            f"  p99 {lo.p99 * 1000:6.1f} ms  errors {lo.errors:<5} server CPU"
            f" {self.server_cpu * 100:4.0f}%  load generator CPU {lo.cpu_share * 100:4.0f}%"
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


def main() -> int:
    """Run the rounds and print the figures and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="5 s windows, one round")
    parser.add_argument("--postgres", default=os.environ.get("CIVIC_TEST_POSTGRES_URL"))
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
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
    print("  server: one process, uvicorn + uvloop + httptools, fresh database per run")
    print("  logged:   consent check + access-log append (group commit, one checkpoint per")
    print("            batch, SQLite synchronous=FULL) + C2SP tlog-proof receipt")
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
