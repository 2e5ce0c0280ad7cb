"""The benchmarks' load generator (bench/_load.py) against small local servers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
import uvloop
from bench._load import (
    LoadResult,
    ProtocolError,
    Request,
    drive,
    fixed_server,
    header,
    read_message,
    read_response,
    run_load,
)

REQUEST = Request(
    "POST",
    "/wallet/sd-jwt/verify",
    {"Content-Type": "application/json", "X-Api-Key": "k"},
    b'{"sd_jwt": "a.b.c~"}',
)
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
CLOSE = b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"
CHUNKED = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n"


def ok_response(_: int) -> bytes | None:
    """Every request answered 200."""
    return OK


def plain(status: int, body: bytes = b"") -> bytes:
    """A Content-Length response with this status."""
    return b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (status, len(body), body)


class Server:
    """A local HTTP/1.1 server whose ``respond(n)`` gives the raw answer to request ``n``.

    ``None`` closes the connection without answering; a response carrying
    ``Connection: close`` closes it after answering; ``delay`` holds every answer back.
    """

    def __init__(
        self, respond: Callable[[int], bytes | None], *, delay: float = 0.0, hang: bool = False
    ) -> None:
        self.respond, self.delay, self.hang = respond, delay, hang
        self.requests: list[tuple[bytes, dict[bytes, bytes], bytes]] = []
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                line, *fields = head[:-4].split(b"\r\n")
                headers = dict(f.lower().split(b": ", 1) for f in fields)
                body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
                number = len(self.requests)
                self.requests.append((line, headers, body))
                if self.hang:
                    await asyncio.Event().wait()
                if self.delay:
                    await asyncio.sleep(self.delay)
                response = self.respond(number)
                if response is None:
                    return
                writer.write(response)
                await writer.drain()
                if b"connection: close" in response.lower():
                    return
        finally:
            writer.close()

    async def __aenter__(self) -> Server:
        self._server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()


def load(
    server: Server,
    *,
    concurrency: int = 4,
    seconds: float = 0.3,
    warmup: float = 0.0,
    check: Callable[[bytes], bool] | None = None,
    grace: float = 5.0,
    runner: Callable[[Coroutine[Any, Any, LoadResult]], LoadResult] = asyncio.run,
) -> LoadResult:
    """Run the generator against ``server`` on a fresh event loop."""

    async def scenario() -> LoadResult:
        async with server:
            return await run_load(
                "127.0.0.1",
                server.port,
                REQUEST,
                concurrency=concurrency,
                seconds=seconds,
                warmup=warmup,
                check=check,
                grace=grace,
            )

    return runner(scenario())


@pytest.mark.parametrize("runner", [asyncio.run, uvloop.run], ids=["asyncio", "uvloop"])
def test_counts_every_request_the_server_answered(
    runner: Callable[[Coroutine[Any, Any, LoadResult]], LoadResult],
) -> None:
    """Each answered request is one success with one latency, on asyncio and on uvloop."""
    server = Server(ok_response)
    result = load(server, runner=runner)
    assert result.successes == len(server.requests) > 0
    assert result.errors == 0
    assert result.error_kinds == {}
    assert len(result.latencies) == result.successes
    assert all(latency > 0 for latency in result.latencies)
    assert list(result.latencies) == sorted(result.latencies)
    assert 0 < result.p50 <= result.p99 <= result.latencies[-1]
    assert result.rate == result.successes / result.seconds
    assert result.seconds >= 0.3


def test_keeps_connections_alive_and_sends_the_request_as_given() -> None:
    """One connection per client carries every request, each with the method, path,
    headers and body it was given."""
    server = Server(ok_response)
    result = load(server, concurrency=3)
    assert server.connections == 3
    assert result.successes > 3
    line, headers, body = server.requests[0]
    assert line == b"POST /wallet/sd-jwt/verify HTTP/1.1"
    assert headers[b"host"] == b"127.0.0.1:%d" % server.port
    assert headers[b"content-type"] == b"application/json"
    assert headers[b"x-api-key"] == b"k"
    assert headers[b"content-length"] == b"%d" % len(REQUEST.body)
    assert body == REQUEST.body
    assert all(request == server.requests[0] for request in server.requests)


def test_variants_are_sent_in_turn_by_every_client() -> None:
    """With variants, each client cycles through them: every variant is sent, in turn."""
    variants = [Request("GET", f"/records/k{i}") for i in range(5)]
    server = Server(ok_response)

    async def scenario() -> LoadResult:
        async with server:
            return await run_load(
                "127.0.0.1", server.port, variants[0], concurrency=1, seconds=0.2,
                variants=variants,
            )  # fmt: skip

    result = asyncio.run(scenario())
    lines = [line for line, _, _ in server.requests]
    assert result.successes == len(lines) >= 5
    assert lines[:5] == [b"GET /records/k%d HTTP/1.1" % i for i in range(5)]
    assert lines[5:10] == lines[: len(lines[5:10])]


def test_a_pool_sent_once_is_shared_by_the_clients() -> None:
    """With ``once`` the clients share the variants as a pool, sent in turn: every request
    goes once while the pool lasts."""
    pool = [Request("POST", "/verify", {}, b"%d" % i) for i in range(200_000)]
    server = Server(ok_response)

    async def scenario() -> LoadResult:
        async with server:
            return await run_load(
                "127.0.0.1", server.port, pool[0], concurrency=3, seconds=0.2, variants=pool,
                once=True,
            )  # fmt: skip

    result = asyncio.run(scenario())
    bodies = [body for _, _, body in server.requests]
    assert result.successes == len(bodies) > 3
    assert len(set(bodies)) == len(bodies)
    assert sorted(bodies, key=int) == [b"%d" % i for i in range(len(bodies))]


def test_variants_share_the_request_method() -> None:
    """Variants of another method than the request's are refused."""
    mixed = [Request("GET", "/"), Request("POST", "/")]
    with pytest.raises(ValueError, match="method"):
        asyncio.run(run_load("127.0.0.1", 9, mixed[0], concurrency=1, seconds=0.1, variants=mixed))


def test_client_and_server_errors_are_counted_by_status() -> None:
    """4xx and 5xx answers are errors, counted by status code, with no latency recorded."""
    answers = [plain(200, b"{}"), plain(404), plain(503, b"busy")]
    server = Server(lambda n: answers[n % 3])
    result = load(server, concurrency=1)
    statuses = [answers[n % 3][9:12].decode() for n in range(len(server.requests))]
    assert result.successes == statuses.count("200") > 0
    assert result.error_kinds == {"404": statuses.count("404"), "503": statuses.count("503")}
    assert result.errors == len(server.requests) - result.successes
    assert len(result.latencies) == result.successes


def test_dropped_connections_are_errors_and_clients_reconnect() -> None:
    """A connection closed without an answer is a ``connection`` error; the client reconnects."""
    server = Server(lambda n: None if n % 4 == 3 else OK)
    result = load(server, concurrency=2)
    dropped = sum(1 for n in range(len(server.requests)) if n % 4 == 3)
    assert dropped > 0
    assert result.error_kinds == {"connection": dropped}
    assert result.successes == len(server.requests) - dropped
    assert server.connections >= dropped + 1


def test_connection_close_is_honoured_without_errors() -> None:
    """A server that closes after each answer (``Connection: close``) costs reconnects, not
    errors."""
    server = Server(lambda n: CLOSE)
    result = load(server, concurrency=2)
    assert result.errors == 0
    assert result.successes == len(server.requests) == server.connections


def test_chunked_bodies_are_decoded_for_the_check() -> None:
    """Chunked responses (extensions and trailers included) reach the check decoded."""
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'9;ext=1\r\n{"valid":\r\n5\r\n true\r\n1\r\n}\r\n0\r\nX-Trailer: t\r\n\r\n'
    )
    seen: list[bytes] = []

    def check(body: bytes) -> bool:
        seen.append(body)
        return body == b'{"valid": true}'

    server = Server(lambda n: chunked)
    result = load(server, concurrency=2, check=check)
    assert result.errors == 0
    assert result.successes == len(server.requests) == len(seen) > 0
    assert server.connections == 2  # the chunked body was framed exactly: keep-alive held


def test_a_failed_check_is_an_error() -> None:
    """A 2xx whose body the check refuses counts as a ``check`` error."""
    server = Server(lambda n: plain(200, b'{"valid": false}'))
    result = load(server, concurrency=2, check=lambda body: b'"valid": true' in body)
    assert result.successes == 0
    assert result.error_kinds == {"check": len(server.requests)}


def test_warm_up_requests_are_not_counted() -> None:
    """Requests started during the warm-up are done but left out of every figure."""
    server = Server(ok_response)
    # Windows long enough that even a loaded machine completes requests in both of them.
    result = load(server, concurrency=2, warmup=1.0, seconds=1.0)
    assert result.warmup_requests > 0
    assert result.successes > 0
    assert result.successes + result.warmup_requests == len(server.requests)
    assert len(result.latencies) == result.successes


def test_latency_spans_the_whole_response() -> None:
    """A server that takes 20 ms per answer shows at least that in every latency."""
    server = Server(ok_response, delay=0.02)
    result = load(server, concurrency=2, seconds=0.2)
    assert result.successes > 0
    assert result.latencies[0] >= 0.015
    assert result.rate <= 2 / 0.015


def test_a_hung_server_ends_in_timeouts_within_the_grace() -> None:
    """A server that never answers costs one ``timeout`` per client, and the run still ends."""
    server = Server(ok_response, hang=True)
    result = load(server, concurrency=3, seconds=0.1, grace=0.2)
    assert result.successes == 0
    assert result.error_kinds == {"timeout": 3}
    assert len(server.requests) == 3


def test_a_refused_connection_is_an_error_not_a_crash() -> None:
    """With nothing listening, clients count ``connection`` errors until the window ends."""

    async def scenario() -> LoadResult:
        async with Server(ok_response) as server:
            port = server.port
        return await run_load("127.0.0.1", port, REQUEST, concurrency=2, seconds=0.2)

    result = asyncio.run(scenario())
    assert result.successes == 0
    assert set(result.error_kinds) == {"connection"}
    assert result.errors >= 2


async def _parse(data: bytes, *, head_request: bool = False) -> tuple[int, bytes, bool]:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return await read_response(reader, head_request=head_request)


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        (OK, (200, b"ok", True)),
        (b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n", (201, b"", True)),
        (b"HTTP/1.1 204 No Content\r\n\r\n", (204, b"", True)),
        (b"HTTP/1.1 100 Continue\r\n\r\n" + OK, (200, b"ok", True)),
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", (200, b"ok", False)),
        (
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
            (200, b"ok", True),
        ),
        (CLOSE, (200, b"ok", False)),
        (b"HTTP/1.1 200 OK\r\n\r\nuntil the end", (200, b"until the end", False)),
        (CHUNKED, (200, b"ok", True)),
    ],
)  # fmt: skip
def test_response_framing(wire: bytes, expected: tuple[int, bytes, bool]) -> None:
    """Responses are framed as RFC 9112 §6.3 says: interim 1xx skipped, bodyless statuses,
    chunked, Content-Length, or to the end of the connection."""
    assert asyncio.run(_parse(wire)) == expected


def test_head_responses_have_no_body() -> None:
    """A response to HEAD carries no body whatever its Content-Length says."""
    wire = b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n"
    assert asyncio.run(_parse(wire, head_request=True)) == (200, b"", True)


@pytest.mark.parametrize(
    "wire",
    [
        b"SPDY/3 200 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 099 Low\r\nContent-Length: 0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokXX0\r\n\r\n",
    ],
)
def test_malformed_responses_are_protocol_errors(wire: bytes) -> None:
    """A bad status line, duplicate or negative Content-Length, or bad chunking is refused."""
    with pytest.raises(ProtocolError):
        asyncio.run(_parse(wire))


def test_a_message_keeps_its_head_and_header_values_their_case() -> None:
    """read_message gives the head as sent; header finds a field by its lower-case name and
    returns the value as sent (a code in a Location is case-sensitive), refusing duplicates."""
    wire = (
        b"HTTP/1.1 303 See Other\r\nLocation: https://rp/cb?code=AbC\r\nContent-Length: 0\r\n\r\n"
    )

    async def scenario() -> tuple[int, bytes, bytes, bool]:
        reader = asyncio.StreamReader()
        reader.feed_data(wire)
        reader.feed_eof()
        return await read_message(reader)

    status, head, body, keep = asyncio.run(scenario())
    assert (status, body, keep) == (303, b"", True)
    assert header(head, b"location") == b"https://rp/cb?code=AbC"
    assert header(head, b"set-cookie") is None
    with pytest.raises(ProtocolError):
        header(b"HTTP/1.1 200 OK\r\nA: 1\r\na: 2\r\n\r\n", b"a")


def test_a_truncated_body_is_a_connection_error() -> None:
    """A body cut short by the connection closing raises, never returns a partial body."""
    with pytest.raises(asyncio.IncompleteReadError):
        asyncio.run(_parse(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort"))


def test_the_generator_owns_framing_headers() -> None:
    """Host, Content-Length, Transfer-Encoding and Connection cannot be overridden."""
    with pytest.raises(ValueError, match="content-length"):
        Request("POST", "/", {"Content-Length": "5"}, b"x").encode("h", 1)
    assert (
        Request("GET", "/healthz").encode("h", 8) == b"GET /healthz HTTP/1.1\r\nHost: h:8\r\n\r\n"
    )


def test_the_trivial_server_answers_the_generator() -> None:
    """The ceiling's trivial server (a child process) answers every request, on uvloop."""
    with fixed_server() as port:
        result = drive("127.0.0.1", port, REQUEST, concurrency=4, seconds=0.3)
    assert result.successes > 0
    assert result.errors == 0
    assert result.cpu_seconds > 0
    assert result.cpu_per_request > 0
