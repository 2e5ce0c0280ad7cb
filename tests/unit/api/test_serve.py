"""The worker supervisor of ``civic up`` (civicstack.api.serve), with stand-in workers.

The real workers (uvicorn serving the platform) are exercised end to end in
tests/e2e/test_up.py; here the supervisor's own decisions are checked with workers that fail
to start or never end.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from civicstack.api.serve import _Supervisor, listen
from tests.e2e.server import free_port

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="per-worker sockets are used on Linux only"
)


def fail_to_start(host: str, port: int, sock: socket.socket) -> None:
    """A worker whose app cannot load: uvicorn's startup-failure exit code."""
    sys.exit(3)


def serve_forever(host: str, port: int, sock: socket.socket) -> None:
    """A worker that runs until it is told to stop."""
    time.sleep(120)


@pytest.fixture
def two_sockets() -> Iterator[list[socket.socket]]:
    """Two workers' listening sockets on a free port, closed after the test."""
    sockets = listen("127.0.0.1", free_port(), 2)
    yield sockets
    for sock in sockets:
        sock.close()


def test_listen_binds_one_reuse_port_socket_a_worker() -> None:
    port = free_port()
    sockets = listen("127.0.0.1", port, 3)
    try:
        assert len(sockets) == 3
        for sock in sockets:
            assert sock.getsockname() == ("127.0.0.1", port)
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
        # A second civic up on the same port is refused.
        with pytest.raises(OSError, match="in use"):
            listen("127.0.0.1", port, 2)
    finally:
        for sock in sockets:
            sock.close()


def test_one_worker_gets_one_plain_socket() -> None:
    (sock,) = listen("127.0.0.1", free_port(), 1)
    with sock:
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0


def test_a_worker_that_fails_to_start_stops_the_server_with_its_code(
    two_sockets: list[socket.socket],
) -> None:
    said: list[str] = []
    supervisor = _Supervisor("127.0.0.1", 0, two_sockets, said.append, target=fail_to_start)
    assert supervisor.run() == 3
    assert len(said) == 1
    assert "exited with code 3 while starting" in said[0]
    assert not any(s.process is not None and s.process.is_alive() for s in supervisor.slots)


def test_sigterm_stops_every_worker(two_sockets: list[socket.socket]) -> None:
    said: list[str] = []
    supervisor = _Supervisor("127.0.0.1", 0, two_sockets, said.append, target=serve_forever)
    timer = threading.Timer(2.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    started = time.monotonic()
    try:
        assert supervisor.run() == 0
    finally:
        timer.cancel()
    assert time.monotonic() - started < 15  # not the workers' 120 s
    assert said == []
    assert [s.process.exitcode for s in supervisor.slots if s.process is not None] == [
        -signal.SIGTERM,
        -signal.SIGTERM,
    ]
