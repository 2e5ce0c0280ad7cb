"""Serving the platform's ASGI app with uvicorn: one process, or N workers on one port.

With several workers, uvicorn alone binds one listening socket that every worker accepts
from. Whichever worker's event loop wakes first accepts everything already queued, so a burst
of keep-alive connections (a reverse proxy's upstream pool, a relying party's connection pool,
a load generator) can land on one worker while the others sit idle, for as long as those
connections live. Here each worker gets a listening socket of its own on the same port
(``SO_REUSEPORT``, which balances this way on Linux >= 3.9): the kernel spreads new
connections across the sockets by a hash of their addresses, so no worker takes another's
share.

All sockets are bound and listening before any worker starts, so a connection that arrives
while a worker is still starting waits in that worker's queue instead of going astray; and a
worker that dies is restarted on the same socket, so what was queued for it is not lost. A
probe bind without ``SO_REUSEPORT`` comes first: another program (or another ``civic up``)
already on the port makes this fail loudly, instead of silently sharing the port with it.
"""

from __future__ import annotations

import contextlib
import functools
import multiprocessing
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.context import SpawnProcess
from types import FrameType
from typing import Any

import uvicorn

from civicstack.api.http_guard import guarded_protocol

__all__ = ["listen", "serve"]

#: The app every process serves: built in the worker from the environment ``civic up`` set.
APP = "civicstack.api.app:create_app_from_env"
#: A worker that exits with an error sooner than this after starting failed to start (an
#: import or startup error): restarting it would only loop, so the whole server stops with
#: its exit code. One killed by a signal (the OOM killer, an operator) is always restarted.
STARTUP_GRACE = 10.0
#: How long a worker may take to finish its in-flight requests once asked to stop.
STOP_TIMEOUT = 15.0
BACKLOG = 2048

_spawn = multiprocessing.get_context("spawn")
multiprocessing.allow_connection_pickling()  # sockets travel to spawned workers


def _options(host: str, port: int, access_log: bool = False) -> dict[str, Any]:
    """uvicorn's settings, the same for every process; ``access_log`` logs each request (at
    info level, which uvicorn's access logger needs)."""
    return {
        "factory": True,
        "host": host,
        "port": port,
        "log_level": "info" if access_log else "warning",
        "access_log": access_log,
        # URLs come from CIVIC_BASE_URL, never from forwarded headers: no proxy-header layer
        # on every request. No Server header either (nothing to fingerprint).
        "proxy_headers": False,
        "server_header": False,
        "backlog": BACKLOG,
        # httptools with a header cap and timeouts for slow requests (api/http_guard.py)
        "http": guarded_protocol(),
    }


def listen(host: str, port: int, workers: int) -> list[socket.socket]:
    """The listening sockets, one a worker, bound now: ``civic up`` calls this before its
    migrations and seeding, so a taken port fails at once (OSError) and a client that connects
    while the platform starts waits instead of being refused.

    Elsewhere than Linux, SO_REUSEPORT does not spread connections (on macOS and most BSDs the
    last socket bound takes them all), so there several workers get no sockets from here and
    uvicorn binds its own shared one.
    """
    if workers > 1 and not sys.platform.startswith("linux"):
        return []
    if workers > 1:
        _probe(host, port)
    sockets: list[socket.socket] = []
    try:
        for _ in range(workers):
            sockets.append(_bind(host, port, reuse_port=workers > 1))
    except OSError:
        _close(sockets)
        raise
    return sockets


def serve(
    host: str,
    port: int,
    workers: int,
    sockets: list[socket.socket],
    *,
    say: Callable[[str], None] = print,
    access_log: bool = False,
) -> int:
    """Serve on ``sockets`` (from :func:`listen`) until interrupted; the exit status (0, or
    the code of a worker that failed to start). The sockets are closed on return.
    ``access_log`` logs every request (uvicorn's access log)."""
    try:
        if not sockets:
            uvicorn.run(APP, workers=workers, **_options(host, port, access_log))
            return 0
        if len(sockets) == 1:
            _worker(host, port, sockets[0], access_log)
            return 0
        worker = functools.partial(_worker, access_log=access_log)
        return _Supervisor(host, port, sockets, say, target=worker).run()
    finally:
        _close(sockets)


def _close(sockets: list[socket.socket]) -> None:
    for sock in sockets:
        sock.close()


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _probe(host: str, port: int) -> None:
    """Raise OSError (address in use) when anything already listens on the port, even with
    SO_REUSEPORT set (a stale ``civic up``), which the workers' own binds would join."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))


def _bind(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
        sock.listen(BACKLOG)
    except OSError:
        sock.close()
        raise
    return sock


def _worker(host: str, port: int, sock: socket.socket, access_log: bool = False) -> None:
    """One server process on its own listening socket (uvicorn handles its signals)."""
    # Ctrl-C reaches the whole process group: the worker stops quietly, the parent reports.
    with contextlib.suppress(KeyboardInterrupt):
        config = uvicorn.Config(APP, **_options(host, port, access_log))
        uvicorn.Server(config).run(sockets=[sock])


@dataclass
class _Slot:
    sock: socket.socket
    process: SpawnProcess | None = None
    started: float = 0.0


@dataclass
class _Supervisor:
    host: str
    port: int
    sockets: list[socket.socket]
    say: Callable[[str], None]
    target: Callable[[str, int, socket.socket], None] = _worker
    slots: list[_Slot] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def run(self) -> int:
        """1. start every worker; 2. restart one that dies after it had started; 3. stop all
        on SIGINT/SIGTERM, or when a worker fails to start (its exit code is returned)."""
        previous = {
            sig: signal.signal(sig, self._on_signal) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        status = 0
        try:
            self.slots = [_Slot(sock) for sock in self.sockets]
            for slot in self.slots:
                self._start(slot)
            while not self.stopping.wait(0.5):
                failed = self._reap()
                if failed is not None:
                    status = failed
                    break
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return status

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self.stopping.set()

    def _start(self, slot: _Slot) -> None:
        process = _spawn.Process(
            target=self.target, args=(self.host, self.port, slot.sock), name="civic-worker"
        )
        process.start()
        slot.process, slot.started = process, time.monotonic()

    def _reap(self) -> int | None:
        """Restart dead workers; a worker's exit code when it failed to start."""
        for slot in self.slots:
            process = slot.process
            if process is None or process.is_alive():
                continue
            code, pid = process.exitcode or 0, process.pid
            process.close()
            if code > 0 and time.monotonic() - slot.started < STARTUP_GRACE:
                self.say(f"a worker exited with code {code} while starting; stopping")
                slot.process = None
                return code
            self.say(f"worker [{pid}] exited with code {code}; restarting it")
            self._start(slot)
        return None

    def _stop_all(self) -> None:
        running = [s.process for s in self.slots if s.process is not None and s.process.is_alive()]
        for process in running:
            process.terminate()  # SIGTERM: uvicorn finishes in-flight requests, then exits
        deadline = time.monotonic() + STOP_TIMEOUT
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                process.kill()
                process.join()
