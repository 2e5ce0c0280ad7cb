"""The webhook HTTP client: HTTP/1.1 POSTs over kept-alive connections, one pool per origin.

Lean on purpose (a delivery is a few hundred bytes and the workers send thousands a second):
asyncio transports, ``httptools`` (llhttp) parsing the responses, no redirects followed
(Standard Webhooks §"Delivery success and failure": a ``3xx`` is a failure), a timeout per
request (§"Request timeouts"), the response body read and dropped up to a cap. The address a
connection goes to is resolved and checked against the SSRF rules
(:func:`civicstack.events.endpoints.check_address`) when the connection is made, and the
connection is made to that checked address, so a name cannot be re-pointed inside.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from dataclasses import dataclass, field
from typing import cast

import httptools

from civicstack.errors import CivicError
from civicstack.events.delivery import REQUEST_TIMEOUT, Outcome
from civicstack.events.endpoints import EndpointUrl, check_address

MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = b"civicstack-webhooks/1"


class _Connection(asyncio.Protocol):
    """One kept-alive HTTP/1.1 connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.waiter: asyncio.Future[Outcome] | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.retry_after: str | None = None
        self.received = 0
        self.closed = False
        self.reusable = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.received += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self._finish(Outcome(None, error="malformed HTTP response"), reusable=False)
        if self.received > MAX_RESPONSE_BYTES and self.waiter is not None:
            self._finish(Outcome(None, error="response too large"), reusable=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._finish(Outcome(None, error="connection closed"), reusable=False)

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"retry-after":
            self.retry_after = value.decode("latin-1")[:64]

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        keep = self.parser.should_keep_alive()
        self._finish(Outcome(status, self.retry_after), reusable=keep)

    def _timed_out(self) -> None:
        self.timer = None
        self._finish(Outcome(None, error="timed out"), reusable=False)
        self.close()

    def _finish(self, outcome: Outcome, *, reusable: bool) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        waiter, self.waiter = self.waiter, None
        self.reusable = self.reusable and reusable
        if waiter is not None and not waiter.done():
            waiter.set_result(outcome)

    def send(self, request: bytes, timeout: float) -> asyncio.Future[Outcome]:
        """Write ``request``; the future holds the outcome (a timeout is one, too). One
        timer per request, cancelled by the answer: cheaper than ``asyncio.wait_for``."""
        assert self.transport is not None
        loop = asyncio.get_running_loop()
        self.parser = httptools.HttpResponseParser(self)
        self.retry_after = None
        self.received = 0
        self.waiter = loop.create_future()
        self.timer = loop.call_later(timeout, self._timed_out)
        self.transport.write(request)
        return self.waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


@dataclass
class _Pool:
    """One origin's kept-alive connections and the requests waiting for one.

    ``busy`` counts connections in use (at most ``per_origin``); a request finding none free
    waits in ``waiting`` and is handed the slot when a request ends. (``asyncio.Semaphore``
    did the same but rescans its waiters on every release: with a thousand requests queued
    at one origin that cost more than the requests.)"""

    limit: int
    idle: deque[_Connection] = field(default_factory=deque)
    addresses: list[str] = field(default_factory=list)
    resolved_at: float = 0.0
    busy: int = 0
    waiting: deque[asyncio.Future[None]] = field(default_factory=deque)
    head: bytes = b""

    async def acquire(self) -> None:
        if self.busy < self.limit and not self.waiting:
            self.busy += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        try:
            await waiter  # the slot is handed over by release()
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot while being cancelled: pass it on
            raise

    def release(self) -> None:
        while self.waiting:
            waiter = self.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)  # busy stays: the slot changes hands
                return
        self.busy -= 1


class WebhookClient:
    """POSTs webhooks; ``per_origin`` connections at most to one origin at once."""

    def __init__(
        self,
        *,
        allow_private: bool,
        timeout: float = REQUEST_TIMEOUT,
        per_origin: int = 32,
        resolve_ttl: float = 60.0,
    ) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.per_origin = per_origin
        self.resolve_ttl = resolve_ttl
        self._pools: dict[tuple[str, str, int], _Pool] = {}
        self._tls = ssl.create_default_context()

    def _pool(self, endpoint: EndpointUrl) -> _Pool:
        key = (endpoint.scheme, endpoint.host, endpoint.port)
        pool = self._pools.get(key)
        if pool is None:
            host = (
                endpoint.host if endpoint.port in (80, 443) else f"{endpoint.host}:{endpoint.port}"
            )
            pool = self._pools[key] = _Pool(
                self.per_origin,
                head=f"Host: {host}\r\n".encode("ascii")
                + b"User-Agent: "
                + USER_AGENT
                + b"\r\nContent-Type: application/cloudevents+json\r\n",
            )
        return pool

    async def _connect(self, endpoint: EndpointUrl, pool: _Pool) -> _Connection:
        loop = asyncio.get_running_loop()
        if not pool.addresses or time.monotonic() - pool.resolved_at > self.resolve_ttl:
            infos = await loop.getaddrinfo(endpoint.host, endpoint.port, type=1)  # SOCK_STREAM
            addresses = sorted({str(i[4][0]) for i in infos})
            for address in addresses:
                check_address(address, allow_private=self.allow_private)
            pool.addresses, pool.resolved_at = addresses, time.monotonic()
        tls = self._tls if endpoint.scheme == "https" else None
        _, conn = await loop.create_connection(
            _Connection,
            host=pool.addresses[0],
            port=endpoint.port,
            ssl=tls,
            server_hostname=endpoint.host if tls else None,
        )
        return conn

    async def post(
        self, endpoint: EndpointUrl, headers: dict[str, str], body: bytes
    ) -> tuple[Outcome, float]:
        """POST ``body``; the outcome and how long it took (seconds). Never raises for the
        network: a refused, reset or timed-out request is an outcome without a status."""
        pool = self._pool(endpoint)
        request = b"".join(
            [
                b"POST ",
                endpoint.target.encode("ascii"),
                b" HTTP/1.1\r\n",
                pool.head,
                b"Content-Length: %d\r\n" % len(body),
                *[f"{k}: {v}\r\n".encode("ascii") for k, v in headers.items()],
                b"\r\n",
                body,
            ]
        )
        started = time.monotonic()
        await pool.acquire()
        conn = None
        try:
            while pool.idle:
                candidate = pool.idle.pop()
                if not candidate.closed:
                    conn = candidate
                    break
            try:
                if conn is None:
                    conn = await asyncio.wait_for(self._connect(endpoint, pool), self.timeout)
                outcome = await conn.send(request, self.timeout)
            except CivicError as exc:
                return Outcome(None, error=exc.detail[:200]), time.monotonic() - started
            except TimeoutError:
                return Outcome(None, error="timed out"), time.monotonic() - started
            except OSError as exc:
                return Outcome(None, error=f"connection failed: {exc.strerror or exc}"[:200]), (
                    time.monotonic() - started
                )
            if conn.reusable and not conn.closed:
                pool.idle.append(conn)
            else:
                conn.close()
            return outcome, time.monotonic() - started
        except BaseException:
            if conn is not None:
                conn.close()  # cancelled mid-request: the connection's state is unknown
            raise
        finally:
            pool.release()

    async def close(self) -> None:
        """Close every kept-alive connection."""
        for pool in self._pools.values():
            while pool.idle:
                pool.idle.pop().close()
        self._pools.clear()
