"""A lean HTTP/1.1 load generator for the benchmarks: closed-loop keep-alive clients.

``N`` clients each hold one keep-alive connection (RFC 9112 §9.3: HTTP/1.1 connections persist
unless either side says ``Connection: close``) and send the same request back to back for ``D``
seconds after a warm-up, reading every response in full. It runs on the benchmark machine beside
the server under test, so every request costs it as little CPU as it can: the request bytes are
built once, and responses are read with plain asyncio streams (uvloop when installed) and framed
by hand, never through an HTTP client library.

Response framing follows RFC 9112 §6.3, in its order (the steps that apply to a client):

1. a response to HEAD, a 1xx, 204 or 304 has no body (a 1xx is interim: the real response
   follows it);
3. ``Transfer-Encoding`` ending in ``chunked``: the chunked coding (§7.1), extensions ignored,
   trailer fields read and dropped; another final coding: the body runs to the close;
5. otherwise ``Content-Length`` gives the body's length (a malformed or repeated value is a
   protocol error, never a guess);
7. otherwise the body runs to the end of the connection, which then cannot be reused.

``variants`` makes the clients cycle through several requests (each built once, too) instead of
repeating one: lookups of random keys, say, where one key would only measure a cache. With
``once``, the variants are a pool the clients share, sent in turn, each request once while the
pool lasts: for servers that accept a request only once (a verifier refusing a replayed
presentation).

What counts: a request *started* inside the measured window is counted, and a client finishes
the request it has in flight when the window closes, so every counted request has a result.
A success is a 2xx whose body passes the optional ``check``; anything else is an error, by kind:
the status code, ``check``, ``connection`` (refused, reset or closed mid-response: the client
reconnects), ``protocol`` (an unparseable response) or ``timeout`` (still unanswered ``grace``
seconds after the window closed). Latencies are kept for successes only.

``python -m bench._load serve`` runs the trivial server the benchmarks measure the generator's
own ceiling against (see :func:`measure_ceiling`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

MAX_HEAD = 64 * 1024  # a response head larger than this is a protocol error
MAX_BODY = 16 * 1024 * 1024  # and so is a larger body
_BODYLESS = frozenset({204, 304})

Check = Callable[[bytes], bool]
T = TypeVar("T")


class ProtocolError(Exception):
    """The server's response is not HTTP/1.1 this client can frame."""


@dataclass(frozen=True)
class Request:
    """One HTTP request, sent identically by every client."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def encode(self, host: str, port: int) -> bytes:
        """The request's bytes on the wire, Host and Content-Length included."""
        lines = [f"{self.method} {self.path} HTTP/1.1", f"Host: {host}:{port}"]
        names = {name.lower() for name in self.headers}
        for name in ("host", "content-length", "transfer-encoding", "connection"):
            if name in names:
                raise ValueError(f"{name} is set by the load generator")
        lines += [f"{name}: {value}" for name, value in self.headers.items()]
        if self.body or self.method not in ("GET", "HEAD"):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + self.body


@dataclass(frozen=True)
class LoadResult:
    """What a load run measured: counts, latencies and the generator's own CPU time."""

    concurrency: int
    seconds: float  # the measured window: from its start to the last counted response
    successes: int
    errors: int
    error_kinds: Mapping[str, int]
    latencies: tuple[float, ...]  # seconds, successes only, sorted
    warmup_requests: int  # requests completed (or failed) before the window, not counted
    cpu_seconds: float  # this process's CPU time over the window
    metered: float | None = None  # the ``meter`` callable's increase over the window

    @property
    def requests(self) -> int:
        """Counted requests: successes and errors."""
        return self.successes + self.errors

    @property
    def rate(self) -> float:
        """Successful requests per second over the window."""
        return self.successes / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float:
        """Latency at quantile ``q`` (0 < q <= 1) by the nearest-rank method; 0.0 if none."""
        if not self.latencies:
            return 0.0
        rank = max(1, -(-len(self.latencies) * q // 1))  # ceil(n * q), at least 1
        return self.latencies[int(rank) - 1]

    @property
    def p50(self) -> float:
        """Median latency of successes, in seconds."""
        return self.percentile(0.50)

    @property
    def p99(self) -> float:
        """99th percentile latency of successes, in seconds."""
        return self.percentile(0.99)

    @property
    def cpu_share(self) -> float:
        """The generator's CPU time as a fraction of one core over the window."""
        return self.cpu_seconds / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_per_request(self) -> float:
        """The generator's CPU seconds per counted request."""
        return self.cpu_seconds / self.requests if self.requests else 0.0


def _header(head_lower: bytes, name: bytes) -> bytes | None:
    """The value of header ``name`` in a lower-cased response head; duplicates are refused."""
    key = b"\r\n" + name + b":"
    at = head_lower.find(key)
    if at < 0:
        return None
    if head_lower.find(key, at + 1) >= 0:
        raise ProtocolError(f"{name.decode()} appears twice")
    start = at + len(key)
    return head_lower[start : head_lower.index(b"\r\n", start)].strip()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    """The body in the chunked transfer coding (RFC 9112 §7.1), decoded."""
    parts: list[bytes] = []
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size {size_text[:20]!r}") from None
        if size < 0 or size_text.startswith((b"-", b"+", b"0x", b"0X")):
            raise ProtocolError("bad chunk size")
        if size == 0:
            # §7.1.2: trailer fields up to an empty line; nothing here needs them.
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return b"".join(parts)
        total += size
        if total > MAX_BODY:
            raise ProtocolError("chunked body too large")
        chunk = await reader.readexactly(size + 2)
        if chunk[-2:] != b"\r\n":
            raise ProtocolError("chunk not followed by CRLF")
        parts.append(chunk[:-2])


async def read_response(
    reader: asyncio.StreamReader, *, head_request: bool = False
) -> tuple[int, bytes, bool]:
    """Read one response: (status, body, whether the connection may carry another request)."""
    status, _, body, keep = await read_message(reader, head_request=head_request)
    return status, body, keep


def header(head: bytes, name: bytes) -> bytes | None:
    """The value of header ``name`` (lower case) in a response head as sent, its case kept;
    duplicates are refused."""
    lower = head.lower()
    value = _header(lower, name)
    if value is None:
        return None
    start = lower.find(b"\r\n" + name + b":") + len(name) + 3
    return head[start : head.index(b"\r\n", start)].strip()


async def read_message(
    reader: asyncio.StreamReader, *, head_request: bool = False
) -> tuple[int, bytes, bytes, bool]:
    """Read one response: (status, its head as sent, body, whether the connection may carry
    another request)."""
    while True:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.LimitOverrunError:
            raise ProtocolError("response head too large") from None
        # Status line, RFC 9112 §4: HTTP-version SP 3DIGIT SP [reason-phrase]
        if len(head) < 16 or head[:5] != b"HTTP/" or head[8:9] != b" " or head[12:13] not in b" \r":
            raise ProtocolError(f"bad status line {head[:40]!r}")
        code = head[9:12]
        if not code.isdigit():
            raise ProtocolError(f"bad status code {code!r}")
        status = int(code)
        if status < 100:
            raise ProtocolError(f"bad status code {status}")
        if status >= 200:
            break  # 1xx responses are interim; the final one follows on the same connection
    lower = head.lower()
    # RFC 9112 §9.3: HTTP/1.1 persists unless "close"; HTTP/1.0 only with "keep-alive".
    connection = _header(lower, b"connection") or b""
    keep = b"close" not in connection and (head[5:8] == b"1.1" or b"keep-alive" in connection)
    # RFC 9112 §6.3, message body length:
    # 1. HEAD, 1xx (skipped above), 204 and 304 responses end at the head.
    if head_request or status in _BODYLESS:
        return status, head, b"", keep
    # 3. Transfer-Encoding overrides Content-Length: chunked when it is the final coding,
    #    otherwise the body runs until the server closes.
    coding = _header(lower, b"transfer-encoding")
    if coding is not None:
        if not coding.endswith(b"chunked"):
            return status, head, await _read_to_eof(reader), False
        return status, head, await _read_chunked(reader), keep
    # 5./7. A valid Content-Length is the length; without one, the body runs to the close.
    length = _header(lower, b"content-length")
    if length is None:
        return status, head, await _read_to_eof(reader), False
    if not length.isdigit():
        raise ProtocolError(f"bad Content-Length {length[:20]!r}")
    size = int(length)
    if size > MAX_BODY:
        raise ProtocolError("body too large")
    return status, head, await reader.readexactly(size), keep


async def _read_to_eof(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    total = 0
    while chunk := await reader.read(65536):
        total += len(chunk)
        if total > MAX_BODY:
            raise ProtocolError("body too large")
        parts.append(chunk)
    return b"".join(parts)


class _Tally:
    """One run's target and shared counters (one event loop, so no locking)."""

    def __init__(
        self, host: str, port: int, request: Request, *, check: Check | None, warmup: float,
        seconds: float, variants: Sequence[Request] = (), once: bool = False,
    ) -> None:  # fmt: skip
        self.host, self.port, self.check = host, port, check
        self.wire = request.encode(host, port)
        self.wires = [r.encode(host, port) for r in variants] or [self.wire]
        if any(r.method != request.method for r in variants):
            raise ValueError("the variants share the request's method")
        self.once = once
        self.sent = 0  # with ``once``: the pool's next request, shared by every client
        self.head_request = request.method == "HEAD"
        start = time.perf_counter()
        measure_from, end = start + warmup, start + warmup + seconds
        self.measure_from = measure_from
        self.end = end
        self.successes = 0
        self.errors: dict[str, int] = {}
        self.latencies: list[float] = []
        self.warmup = 0
        self.last_done = end
        self.in_flight: dict[int, bool] = {}  # client -> its current request is counted

    def error(self, kind: str, counted: bool) -> None:
        if counted:
            self.errors[kind] = self.errors.get(kind, 0) + 1
        else:
            self.warmup += 1


async def _client(number: int, tally: _Tally) -> None:
    """One closed-loop client: send, read the whole response, repeat until the window ends."""
    perf = time.perf_counter
    host, port, check = tally.host, tally.port, tally.check
    wires, turn = tally.wires, number
    head_request = tally.head_request
    end, measure_from = tally.end, tally.measure_from
    latencies, in_flight = tally.latencies, tally.in_flight
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    try:
        while True:
            start = perf()
            if start >= end:
                return
            counted = start >= measure_from
            if writer is None:
                # A request that needs a new connection pays for it in its latency.
                try:
                    reader, writer = await asyncio.open_connection(host, port, limit=MAX_HEAD)
                except OSError:
                    tally.error("connection", counted)
                    await asyncio.sleep(0.05)  # a refused connect must not spin the CPU
                    continue
            assert reader is not None
            in_flight[number] = counted
            if tally.once:
                writer.write(wires[tally.sent % len(wires)])
                tally.sent += 1
            else:
                writer.write(wires[turn % len(wires)])
                turn += 1
            try:
                status, body, keep = await read_response(reader, head_request=head_request)
            except (asyncio.IncompleteReadError, ConnectionError):
                tally.error("connection", counted)
                keep, status = False, 0
            except (ProtocolError, asyncio.LimitOverrunError, ValueError):
                tally.error("protocol", counted)
                keep, status = False, 0
            else:
                done = perf()
                if not counted:
                    tally.warmup += 1
                elif 200 <= status < 300 and (check is None or check(body)):
                    tally.successes += 1
                    latencies.append(done - start)
                    tally.last_done = max(tally.last_done, done)
                else:
                    tally.error(str(status) if not 200 <= status < 300 else "check", True)
                    tally.last_done = max(tally.last_done, done)
            del in_flight[number]
            if not keep:
                writer.close()
                writer = None
    finally:
        if writer is not None:
            writer.close()


async def run_load(
    host: str,
    port: int,
    request: Request,
    *,
    concurrency: int,
    seconds: float,
    warmup: float = 0.0,
    check: Check | None = None,
    grace: float = 5.0,
    meter: Callable[[], float] | None = None,
    variants: Sequence[Request] = (),
    once: bool = False,
) -> LoadResult:
    """Drive ``concurrency`` keep-alive clients for ``warmup`` + ``seconds``; see the module doc.

    Returns within ``warmup + seconds + grace`` whatever the server does: a client still
    waiting then is cancelled and its request counted as a ``timeout`` error. ``meter`` (say,
    the server's CPU seconds) is read when the window opens and when the last client is done.
    """
    if concurrency < 1 or seconds <= 0 or warmup < 0 or grace < 0:
        raise ValueError("concurrency >= 1, seconds > 0, warmup >= 0 and grace >= 0")
    tally = _Tally(
        host, port, request, check=check, warmup=warmup, seconds=seconds, variants=variants,
        once=once,
    )  # fmt: skip
    tasks = [asyncio.create_task(_client(n, tally)) for n in range(concurrency)]
    if warmup:
        await asyncio.sleep(max(0.0, tally.measure_from - time.perf_counter()))
    cpu_from = time.process_time()
    meter_from = meter() if meter is not None else 0.0
    _, pending = await asyncio.wait(tasks, timeout=tally.end + grace - time.perf_counter())
    cpu_seconds = time.process_time() - cpu_from
    metered = meter() - meter_from if meter is not None else None
    for task in pending:
        task.cancel()
    for number, counted in list(tally.in_flight.items()):
        tally.error("timeout", counted)
        del tally.in_flight[number]
    if pending:
        tally.last_done = time.perf_counter()
        await asyncio.wait(pending)
    for task in tasks:  # surface a bug in the client loop rather than under-count silently
        if not task.cancelled() and task.exception() is not None:
            raise RuntimeError("a load client failed") from task.exception()
    window = max(tally.last_done, tally.end) - tally.measure_from
    return LoadResult(
        concurrency=concurrency,
        seconds=window,
        successes=tally.successes,
        errors=sum(tally.errors.values()),
        error_kinds=dict(sorted(tally.errors.items())),
        latencies=tuple(sorted(tally.latencies)),
        warmup_requests=tally.warmup,
        cpu_seconds=cpu_seconds,
        metered=metered,
    )


def event_loop_name() -> str:
    """``uvloop`` when it is installed (the generator then runs on it), else ``asyncio``."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine on uvloop when installed (less CPU per request), else on asyncio."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    result: T = uvloop.run(main)
    return result


def drive(
    host: str,
    port: int,
    request: Request,
    *,
    concurrency: int,
    seconds: float,
    warmup: float = 0.0,
    check: Check | None = None,
    grace: float = 5.0,
    meter: Callable[[], float] | None = None,
    variants: Sequence[Request] = (),
    once: bool = False,
) -> LoadResult:
    """:func:`run_load` from synchronous code, on its own event loop."""
    return run(
        run_load(
            host,
            port,
            request,
            concurrency=concurrency,
            seconds=seconds,
            warmup=warmup,
            check=check,
            grace=grace,
            meter=meter,
            variants=variants,
            once=once,
        )
    )


def _process_tree(pid: int) -> dict[int, float]:
    """Process ``pid`` and its live descendants, each with its CPU seconds so far."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone since the listing
        fields = stat.rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
        parents[int(entry.name)] = int(fields[1])
        times[int(entry.name)] = int(fields[11]) + int(fields[12])
    if pid not in times:
        raise ProcessLookupError(pid)
    tree, frontier = {pid}, [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    tick = os.sysconf("SC_CLK_TCK")
    return {p: times[p] / tick for p in tree}


def process_tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) used so far by process ``pid`` and its live descendants.

    Read from Linux's /proc, so a server with worker processes (``civic up --workers 2``) is
    measured whole.
    """
    return sum(_process_tree(pid).values())


def server_shape(pid: int) -> str:
    """How a running server is made, read from /proc: its processes and their event loop.

    ``"1 process, uvloop"``. The processes counted are those holding a listening TCP socket (a
    supervisor that hands its sockets to workers counts as one); the others of the tree, which
    serve no request (``civic up``'s access-log writer, multiprocessing's resource tracker), are
    named as helpers: ``"1 process (+2 helpers), uvloop"``. Every one's CPU is metered all the
    same (:func:`process_tree_cpu`).
    """
    tree = _process_tree(pid)
    listening = _listening_inodes()
    loops = set()
    serving = 0
    for member in tree:
        try:
            maps = Path(f"/proc/{member}/maps").read_text()
        except OSError:
            continue
        if _holds_any(member, listening):
            serving += 1
            loops.add("uvloop" if "uvloop" in maps else "asyncio")
    count = serving or len(tree)  # nothing listening (yet): count the whole tree
    helpers = len(tree) - serving if serving else 0
    loop = "/".join(sorted(loops)) or "?"
    extra = f" (+{helpers} helper{'s' if helpers > 1 else ''})" if helpers else ""
    return f"{count} process{'es' if count > 1 else ''}{extra}, {loop}"


def _listening_inodes() -> set[str]:
    """The socket inodes of every listening TCP socket (state 0A in /proc/net/tcp{,6})."""
    out = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if len(fields) > 9 and fields[3] == "0A":
                out.add(fields[9])
    return out


def _holds_any(pid: int, inodes: set[str]) -> bool:
    """Whether process ``pid`` has a descriptor on one of the sockets ``inodes``."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


# --- the trivial server for the generator's own ceiling ---------------------------------------

_FIXED_BODY = b'{"valid":true}'
_FIXED_RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(_FIXED_BODY)).encode()
    + b"\r\n\r\n"
    + _FIXED_BODY
)


class _FixedResponder(asyncio.Protocol):
    """Answers every request with the same small 200, framing requests by Content-Length."""

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, but they are one.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer + data
        answers = 0
        while (end := buffer.find(b"\r\n\r\n")) >= 0:
            length = _header(buffer[: end + 2].lower(), b"content-length")
            size = int(length) if length else 0
            if len(buffer) < end + 4 + size:
                break
            buffer = buffer[end + 4 + size :]
            answers += 1
        self.buffer = buffer
        if answers and self.transport is not None:
            self.transport.write(_FIXED_RESPONSE * answers)


async def _serve_fixed() -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_FixedResponder, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(port, flush=True)
    # Serve until the parent closes our stdin (or dies): the server never outlives its run.
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


@contextlib.contextmanager
def fixed_server() -> Iterator[int]:
    """A trivial HTTP server in a child process; yields its port."""
    root = Path(__file__).resolve().parent.parent
    with subprocess.Popen(
        [sys.executable, "-m", "bench._load", "serve"],
        cwd=root,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(root)},
    ) as proc:
        assert proc.stdin is not None
        assert proc.stdout is not None
        try:
            line = proc.stdout.readline()
            if not line.strip().isdigit():
                raise RuntimeError("the trivial server did not start")
            yield int(line)
        finally:
            proc.stdin.close()  # the server's cue to stop
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()


def measure_ceiling(request: Request, *, concurrency: int, seconds: float) -> LoadResult:
    """Drive the trivial server (its own process, answering a fixed 200) as hard as possible.

    The rate is a lower bound on what the generator can drive with this request on this
    machine (the server shares the cores); ``cpu_per_request`` is the generator's own cost,
    which is what it takes away from a server under test at a given rate.
    """
    with fixed_server() as port:
        return drive(
            "127.0.0.1", port, request, concurrency=concurrency, seconds=seconds, warmup=0.5
        )


if __name__ == "__main__":
    if sys.argv[1:] != ["serve"]:
        sys.exit("usage: python -m bench._load serve")
    run(_serve_fixed())
