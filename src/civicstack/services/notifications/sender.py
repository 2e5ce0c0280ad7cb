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
        self.parser = httptools.HttpResponseParser(self)
        self.retry_after: str | None = None
        self.received = 0
        self.closed = False
        self.reusable = True

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

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

    def _finish(self, outcome: Outcome, *, reusable: bool) -> None:
        waiter, self.waiter = self.waiter, None
        self.reusable = self.reusable and reusable
        if waiter is not None and not waiter.done():
            waiter.set_result(outcome)

    def send(self, request: bytes) -> asyncio.Future[Outcome]:
        assert self.transport is not None
        self.parser = httptools.HttpResponseParser(self)
        self.retry_after = None
        self.received = 0
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self.waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()


@dataclass
class _Pool:
    idle: deque[_Connection] = field(default_factory=deque)
    addresses: list[str] = field(default_factory=list)
    resolved_at: float = 0.0
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(32))


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
            pool = self._pools[key] = _Pool(slots=asyncio.Semaphore(self.per_origin))
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
        host = endpoint.host if endpoint.port in (80, 443) else f"{endpoint.host}:{endpoint.port}"
        head = [
            f"POST {endpoint.target} HTTP/1.1\r\nHost: {host}\r\n".encode("ascii"),
            b"User-Agent: " + USER_AGENT + b"\r\n",
            b"Content-Type: application/cloudevents+json\r\n",
            f"Content-Length: {len(body)}\r\n".encode("ascii"),
        ]
        head += [f"{k}: {v}\r\n".encode("ascii") for k, v in headers.items()]
        request = b"".join(head) + b"\r\n" + body
        started = time.monotonic()
        async with pool.slots:
            conn = None
            while pool.idle:
                candidate = pool.idle.pop()
                if not candidate.closed:
                    conn = candidate
                    break
            try:
                if conn is None:
                    conn = await asyncio.wait_for(self._connect(endpoint, pool), self.timeout)
                outcome = await asyncio.wait_for(conn.send(request), self.timeout)
            except CivicError as exc:
                return Outcome(None, error=exc.detail[:200]), time.monotonic() - started
            except TimeoutError:
                if conn is not None:
                    conn.close()
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

    async def close(self) -> None:
        """Close every kept-alive connection."""
        for pool in self._pools.values():
            while pool.idle:
                pool.idle.pop().close()
        self._pools.clear()
