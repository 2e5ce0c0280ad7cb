"""Slow clients against ``civic up``'s HTTP layer: /healthz latency and the cost of the limits.

Two servers, one at a time, each ONE uvicorn process serving the same platform app from the same
migrated SQLite data directory with the same options ``civic up`` uses (``api.serve._options``),
differing only in the HTTP protocol:

* ``guarded``: civicstack's :mod:`civicstack.api.http_guard` (httptools with a 16 KiB head cap,
  a 10 s head timeout and a 30 s body idle timeout), what ``civic up`` serves;
* ``plain``: uvicorn's own httptools protocol, no limits (uvicorn's default and fastest parser).

For each, two figures:

1. **/healthz under slow clients**: 300 connections each send a request head one byte a second
   and never finish it (reconnecting when the server closes them); meanwhile one client sends
   ``GET /healthz`` back to back on a fresh connection each time. p50 / p99 / max latency. The
   issue's goal: p99 under 100 ms with 300 slow clients, and no connection cap below that.
2. **The cost**: /healthz requests/s with 16 keep-alive clients and no slow clients
   (``bench/_load.py``), guarded / plain as a ratio.

Usage: ``.venv/bin/python bench/slow_clients.py [--slow 300] [--seconds 10]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._load import Request, drive  # noqa: E402

HOST = "127.0.0.1"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _serve(kind: str, port: int) -> None:
    """The server process: the platform app under uvicorn, guarded or plain."""
    import uvicorn

    from civicstack.api.serve import APP, _options
    from civicstack.platform import Platform
    from civicstack.settings import Settings

    platform = Platform(Settings.from_env())
    platform.migrate()
    platform.close()
    options = _options(HOST, port)
    if kind == "plain":
        options["http"] = "httptools"
    uvicorn.Server(uvicorn.Config(APP, **options)).run()


@contextlib.contextmanager
def server(kind: str, data_dir: Path) -> Iterator[int]:
    """A server process of ``kind`` on a free port; its port once /healthz answers."""
    port = _free_port()
    env = {**os.environ, "CIVIC_DATA_DIR": str(data_dir), "CIVIC_PORT": str(port)}
    env.pop("CIVIC_DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve", kind, "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"{kind} server exited with {proc.returncode}")
            try:
                with socket.create_connection((HOST, port), timeout=1) as sock:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                    if sock.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{kind} server did not become ready")
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(20)


async def _slow_client(port: int, stop: asyncio.Event, opened: list[int]) -> None:
    """Trickles one byte of a head a second, forever; reconnects when the server closes."""
    head = b"GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: " + b"s" * 10_000
    while not stop.is_set():
        try:
            _reader, writer = await asyncio.open_connection(HOST, port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        opened[0] += 1
        try:
            for byte in head:
                if stop.is_set():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(1.0)
        except OSError:
            pass
        finally:
            writer.close()


async def _healthz_latencies(port: int, seconds: float) -> list[float]:
    latencies = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection(HOST, port)
        writer.write(b"GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        await writer.drain()
        answer = await reader.read()
        writer.close()
        if not answer.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"/healthz answered {answer[:40]!r}")
        latencies.append(time.perf_counter() - started)
        await asyncio.sleep(0.01)
    return sorted(latencies)


async def _under_slow_clients(port: int, slow: int, seconds: float) -> tuple[list[float], int]:
    stop = asyncio.Event()
    opened = [0]
    clients = [asyncio.create_task(_slow_client(port, stop, opened)) for _ in range(slow)]
    await asyncio.sleep(2.0)  # every slow client connected and trickling
    try:
        latencies = await _healthz_latencies(port, seconds)
    finally:
        stop.set()
        for task in clients:
            task.cancel()
        await asyncio.gather(*clients, return_exceptions=True)
    return latencies, opened[0]


def _pct(values: list[float], q: float) -> float:
    return values[max(0, int(-(-len(values) * q // 1)) - 1)] if values else 0.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", choices=("guarded", "plain"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--slow", type=int, default=300, help="slow clients (300)")
    parser.add_argument("--seconds", type=float, default=10.0, help="each measurement (10 s)")
    args = parser.parse_args()
    if args.serve:
        _serve(args.serve, args.port)
        return 0

    print(f"slow clients: {args.slow} connections trickling a head at 1 byte/s; /healthz sent")
    print("  one at a time on fresh connections; throughput: 16 keep-alive clients on /healthz")
    print("  both servers: 1 uvicorn process, civic up's options, the same migrated SQLite app,")
    print("  uvloop; guarded = civicstack.api.http_guard (16 KiB head, 10 s head timeout,")
    print("  30 s body idle); plain = uvicorn's httptools protocol with no limits")
    rates = {}
    with tempfile.TemporaryDirectory(prefix="civic-slow-") as scratch:
        for kind in ("guarded", "plain"):
            data_dir = Path(scratch) / kind
            with server(kind, data_dir) as port:
                load = drive(
                    HOST, port, Request("GET", "/healthz"), concurrency=16,
                    seconds=args.seconds, warmup=1.0,
                )  # fmt: skip
                rates[kind] = load.rate
                latencies, opened = asyncio.run(_under_slow_clients(port, args.slow, args.seconds))
                print(
                    f"{kind:>8}: /healthz with {args.slow} slow clients: p50 "
                    f"{_pct(latencies, 0.5) * 1000:.1f} ms, p99 {_pct(latencies, 0.99) * 1000:.1f}"
                    f" ms, max {latencies[-1] * 1000:.1f} ms over {len(latencies)} requests"
                    f" ({opened} slow connections opened); 16 clients: {load.rate:,.0f} req/s,"
                    f" p99 {load.p99 * 1000:.1f} ms, {load.errors} errors"
                )
    print(f"cost of the limits: guarded/plain throughput {rates['guarded'] / rates['plain']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
