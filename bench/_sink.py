"""A fast local webhook sink: one asyncio HTTP/1.1 server answering any path.

Used by the tests (deliveries recorded in memory, or appended to a file by a sink in another
process) and by ``bench/events.py`` (one process answering 1,000 endpoint paths). Behaviour
by path: ``/gone/...`` answers 410, ``/busy/...`` 429 with ``Retry-After: 7``, ``/fail/...``
500, ``/flaky/...`` 500 the first time it sees a ``webhook-id`` and 204 after, ``/slow/...``
answers after ``slow`` seconds; anything else 204.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from dataclasses import dataclass, field

import httptools


@dataclass
class Received:
    """One request the sink answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Sink:
    """The sink's state: what it received (``keep``), counters, an optional record file."""

    keep: bool = True
    slow: float = 0.0
    record: str | None = None
    received: list[Received] = field(default_factory=list)
    count: int = 0
    flaky_seen: set[str] = field(default_factory=set)
    _file: object = None

    @property
    def lean(self) -> bool:
        """Nothing is kept or recorded: requests are only counted (the benchmark's sink)."""
        return not self.keep and self._file is None

    def note(self, item: Received) -> None:
        self.count += 1
        if self.keep:
            self.received.append(item)
        if self._file is not None:
            wid = item.headers.get("webhook-id", "-")
            self._file.write(f"{item.at:.6f} {item.path} {wid}\n")  # type: ignore[attr-defined]
            self._file.flush()  # type: ignore[attr-defined]


class _Protocol(asyncio.Protocol):
    def __init__(self, sink: Sink) -> None:
        self.sink = sink
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.url = b""
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.lean = sink.lean

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            assert self.transport is not None
            self.transport.close()

    def on_message_begin(self) -> None:
        self.url, self.headers, self.body = b"", {}, []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        if not self.lean:
            self.headers[name.decode("latin-1").lower()] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        if not self.lean:
            self.body.append(body)

    def on_message_complete(self) -> None:
        path = self.url.decode("latin-1")
        if self.lean:  # the benchmark's peer: answer, count, keep nothing
            self.sink.count += 1
        else:
            self.sink.note(Received(path, self.headers, b"".join(self.body), time.time()))
        if path.startswith("/gone/"):
            answer = b"HTTP/1.1 410 Gone\r\nContent-Length: 0\r\n\r\n"
        elif path.startswith("/busy/"):
            answer = (
                b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n"
            )
        elif path.startswith("/fail/") or (
            path.startswith("/flaky/") and self._first_sight(self.headers.get("webhook-id", ""))
        ):
            answer = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n"
        else:
            answer = b"HTTP/1.1 204 No Content\r\n\r\n"
        assert self.transport is not None
        if path.startswith("/slow/") and self.sink.slow:
            transport = self.transport
            asyncio.get_running_loop().call_later(self.sink.slow, _write, transport, answer)
        else:
            self.transport.write(answer)

    def _first_sight(self, webhook_id: str) -> bool:
        seen = self.sink.flaky_seen
        if webhook_id in seen:
            return False
        seen.add(webhook_id)
        return True


def _write(transport: asyncio.Transport, data: bytes) -> None:
    if not transport.is_closing():
        transport.write(data)


class ThreadedSink:
    """A sink on 127.0.0.1 in a thread of this process (for tests)."""

    def __init__(self, *, slow: float = 0.0) -> None:
        self.sink = Sink(slow=slow)
        self.loop = asyncio.new_event_loop()
        self.port = 0
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            server = self.loop.run_until_complete(
                self.loop.create_server(lambda: _Protocol(self.sink), "127.0.0.1", 0)
            )
            self.port = server.sockets[0].getsockname()[1]
            self._server = server
            ready.set()
            self.loop.run_forever()
            server.close()
            self.loop.run_until_complete(server.wait_closed())
            self.loop.close()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        ready.wait(5)

    @property
    def url(self) -> str:
        """Its base URL."""
        return f"http://127.0.0.1:{self.port}"

    def received(self) -> list[Received]:
        """A copy of what it received so far."""
        return list(self.sink.received)

    def close(self) -> None:
        """Stop it."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


async def serve(port: int, sink: Sink, ready: asyncio.Event | None = None) -> None:
    """Serve until cancelled."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: _Protocol(sink), "127.0.0.1", port, reuse_port=True, backlog=4096
    )
    if ready is not None:
        ready.set()
    async with server:
        await server.serve_forever()


def main() -> None:
    """``python bench/_sink.py --port P [--record FILE]``: prints ``ready`` when listening."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record")
    parser.add_argument("--slow", type=float, default=0.0)
    args = parser.parse_args()
    sink = Sink(keep=False, slow=args.slow, record=args.record)
    if args.record:
        sink._file = open(args.record, "a")  # noqa: SIM115 - lives as long as the process
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass

    async def run() -> None:
        ready = asyncio.Event()
        task = asyncio.create_task(serve(args.port, sink, ready))
        await ready.wait()
        print("ready", os.getpid(), flush=True)
        await task

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
