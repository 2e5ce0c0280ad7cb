"""The header cap and slow-request timeouts of ``civic up``'s HTTP protocol (api/http_guard.py).

A real uvicorn server runs in a thread with the guarded protocol and short timeouts; raw sockets
play the clients, since an HTTP client library would never send what an attacker sends.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from civicstack.api.http_guard import DEFAULT_SERVER_LIMITS, ServerLimits, guarded_protocol
from civicstack.api.serve import _options
from tests.e2e.server import free_port

LIMITS = ServerLimits(max_head_bytes=4096, head_timeout=0.5, body_idle_timeout=0.5)


async def echo_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers with the size of the request body it read."""
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = json.dumps({"received": size}).encode()
    headers = [(b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def server() -> Iterator[int]:
    """A guarded uvicorn server on a free port, stopped after the test."""
    port = free_port()
    config = uvicorn.Config(
        echo_app, host="127.0.0.1", port=port, log_level="error", http=guarded_protocol(LIMITS)
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not srv.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    yield port
    srv.should_exit = True
    thread.join(10)


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def test_default_limits_are_what_the_issue_states() -> None:
    """16 KiB of head at most; incomplete requests time out (the defaults civic up serves)."""
    assert DEFAULT_SERVER_LIMITS.max_head_bytes == 16 * 1024
    assert DEFAULT_SERVER_LIMITS.head_timeout <= 10
    assert _options("127.0.0.1", 8000)["http"] is guarded_protocol()


def test_a_head_within_the_cap_is_served(server: int) -> None:
    """Headers totalling less than the cap reach the app."""
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nx-pad: " + b"a" * 3000 + b"\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")


def test_an_oversized_header_in_one_send_gets_431_and_a_close(server: int) -> None:
    """A header past the cap is refused with a 431 problem, and the connection closes."""
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nx-pad: " + b"a" * 8000 + b"\r\n\r\n")
        answer = read_all(sock)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431")
    assert b"application/problem+json" in head
    assert json.loads(body)["code"] == "header_too_large"


def test_a_header_that_never_ends_is_cut_off_before_it_is_buffered(server: int) -> None:
    """A streamed header of 1 MiB is refused once the cap is passed, not after it is whole."""
    sent = 0
    refused = b""
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nx-pad: ")
        try:
            for _ in range(256):
                sock.sendall(b"a" * 4096)
                sent += 4096
                time.sleep(0.002)
        except OSError:  # broken pipe or reset: the server has closed
            pass
        refused = read_all(sock)
    assert sent < 1024 * 1024
    assert refused == b"" or refused.startswith(b"HTTP/1.1 431")


def test_many_small_headers_count_toward_the_cap(server: int) -> None:
    """The cap is on the whole head, not on each header line."""
    lines = b"".join(b"x-h%d: %s\r\n" % (i, b"v" * 60) for i in range(100))
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n" + lines + b"\r\n")
        assert read_all(sock).startswith(b"HTTP/1.1 431")


def test_a_half_sent_request_times_out_with_408(server: int) -> None:
    """A head that stops arriving gets 408 and a close after the head timeout."""
    with connect(server) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 408")
    assert json.loads(answer.partition(b"\r\n\r\n")[2])["code"] == "request_timeout"


def test_a_connection_that_sends_nothing_is_closed(server: int) -> None:
    """An idle new connection is closed without a response once the head timeout passes."""
    with connect(server) as sock:
        assert read_all(sock) == b""


def test_a_stalled_body_closes_the_connection(server: int) -> None:
    """A body that stops arriving is cut off after the idle timeout; nothing is answered."""
    with connect(server) as sock:
        sock.sendall(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n" + b"a" * 10)
        assert read_all(sock) == b""


def test_a_slow_but_steady_body_is_received_whole(server: int) -> None:
    """Pauses shorter than the idle timeout do not cut an upload off, however long it takes."""
    with connect(server) as sock:
        sock.sendall(
            b"POST / HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-length: 8\r\n\r\n"
        )
        for _ in range(8):
            time.sleep(0.15)  # 1.2 s in all: longer than both timeouts, no pause past either
            sock.sendall(b"a")
        answer = read_all(sock)
    assert answer.startswith(b"HTTP/1.1 200")
    assert json.loads(answer.partition(b"\r\n\r\n")[2]) == {"received": 8}


def test_keep_alive_requests_each_get_the_full_cap(server: int) -> None:
    """The count starts again for each request on a kept-alive connection."""
    request = b"GET / HTTP/1.1\r\nhost: x\r\nx-pad: " + b"a" * 3000 + b"\r\n\r\n"
    with connect(server) as sock:
        for _ in range(3):
            sock.sendall(request)
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")


def test_hundreds_of_slow_clients_do_not_block_a_real_request(server: int) -> None:
    """300 half-sent requests hang on while an ordinary request is still answered."""
    slow = []
    try:
        for _ in range(300):
            sock = connect(server)
            sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\nx-a: ")
            slow.append(sock)
        with connect(server) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
            assert sock.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        for sock in slow:
            sock.close()


def test_limits_must_be_positive() -> None:
    """A misconfigured limit fails when it is made, not at the first request."""
    with pytest.raises(ValueError, match="positive"):
        ServerLimits(head_timeout=0)
