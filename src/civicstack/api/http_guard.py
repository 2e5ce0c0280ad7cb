"""HTTP/1.1 limits that uvicorn's httptools parser does not keep: header size and slow requests.

uvicorn's default parser (httptools over llhttp) accepts a header block of any size, buffering
it all, and waits for the rest of a request for as long as the client likes: one 64 MB header
was answered after 6.7 s, and 300 half-sent requests stayed open indefinitely. This protocol is
uvicorn's own httptools protocol with three limits added, so the fast parser stays:

1. **Header block size.** RFC 9110 §15.5.20 (431 Request Header Fields Too Large) and RFC 9112
   §2.3 leave the limit to the server; like nginx's ``large_client_header_buffers`` we cap the
   request line plus header fields at :attr:`ServerLimits.max_head_bytes` (16 KiB). The cap is
   checked while the bytes arrive, so an oversized block is never buffered whole, and exactly
   once the block is parsed. The answer is a 431 problem (RFC 9457), and the connection closes.
2. **Header timeout.** A request's head must arrive within :attr:`ServerLimits.head_timeout`
   of the connection opening (or of the previous response on a kept-alive connection), else
   the server answers 408 (RFC 9110 §15.5.9) and closes.
3. **Body idle timeout.** Once the head is in, a body that stops arriving for
   :attr:`ServerLimits.body_idle_timeout` closes the connection; a slow but steady upload is
   not cut off.

There is no cap on the number of connections: 300 slow clients cost a few kilobytes each and
are timed out, while ``/healthz`` keeps answering (``bench/slow_clients.py`` measures it).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["DEFAULT_SERVER_LIMITS", "GuardedHttpToolsProtocol", "ServerLimits", "guarded_protocol"]


@dataclass(frozen=True, slots=True)
class ServerLimits:
    """What a client may send and how slowly.

    - ``max_head_bytes`` (16,384): request line plus header fields, per request;
    - ``head_timeout`` (10 s): from connection (or previous response) to the end of the head;
    - ``body_idle_timeout`` (30 s): the longest pause while a body arrives.
    """

    max_head_bytes: int = 16 * 1024
    head_timeout: float = 10.0
    body_idle_timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.max_head_bytes < 1024 or self.head_timeout <= 0 or self.body_idle_timeout <= 0:
            raise ValueError("server limits must be positive (max_head_bytes >= 1024)")


DEFAULT_SERVER_LIMITS = ServerLimits()


def _problem(status: int, reason: bytes, code: str, detail: str) -> bytes:
    """A complete HTTP/1.1 response carrying an RFC 9457 problem, closing the connection."""
    body = json.dumps(
        {
            "type": "about:blank",
            "title": reason.decode(),
            "status": status,
            "code": code,
            "detail": detail,
        }
    ).encode()
    head = (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/problem+json\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n" % (status, reason, len(body))
    )
    return head + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with :class:`ServerLimits` kept (see the module)."""

    limits: ServerLimits = DEFAULT_SERVER_LIMITS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._timer: asyncio.TimerHandle | None = None

    # -- the connection ----------------------------------------------------------------------

    # uvicorn narrows asyncio.Protocol's BaseTransport to Transport the same way (and ignores it)
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._await_head()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            # 1. count while the head arrives, so an oversized one is never buffered whole
            self._head_bytes += len(data)
        elif self.limits.body_idle_timeout:
            self._set_timer(self.limits.body_idle_timeout, self._body_stalled)
        super().data_received(data)
        if self._in_head and self._head_bytes > self.limits.max_head_bytes:
            self._refuse_head()

    # -- parser callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if not self._in_head:  # a pipelined request: its head starts somewhere in this read
            self._in_head = True
            self._head_bytes = 0

    def on_headers_complete(self) -> None:
        self._in_head = False
        # 1. the exact size of what was parsed (a pipelined head may start mid-read)
        size = len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)
        if size > self.limits.max_head_bytes:
            self._refuse_head()
            return
        # 3. from here on, the body may pause only so long
        self._set_timer(self.limits.body_idle_timeout, self._body_stalled)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._cancel_timer()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._await_head()

    # -- the limits --------------------------------------------------------------------------

    def _await_head(self) -> None:
        """2. the next head must arrive within ``head_timeout``."""
        self._in_head = True
        self._head_bytes = 0
        self._set_timer(self.limits.head_timeout, self._head_too_slow)

    def _set_timer(self, delay: float, callback: Any) -> None:
        self._cancel_timer()
        self._timer = self.loop.call_later(delay, callback)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _close_with(self, response: bytes) -> None:
        self._cancel_timer()
        if not self.transport.is_closing():
            self.transport.write(response)
            self.transport.close()

    def _refuse_head(self) -> None:
        self._close_with(
            _problem(
                431,
                b"Request Header Fields Too Large",
                "header_too_large",
                f"the request line and headers must fit in {self.limits.max_head_bytes} bytes",
            )
        )

    def _head_too_slow(self) -> None:
        self._timer = None
        if self.cycle is not None and not self.cycle.response_complete:
            return  # a response is under way (pipelined head): the app's own timing applies
        detail = f"the request's headers did not arrive within {self.limits.head_timeout:g} s"
        if self._head_bytes:
            self._close_with(_problem(408, b"Request Timeout", "request_timeout", detail))
        elif not self.transport.is_closing():
            self.transport.close()  # an idle connection gets no response (RFC 9112 §9.5)

    def _body_stalled(self) -> None:
        self._timer = None
        if self.flow.read_paused:  # we stopped reading (the app is behind), not the client
            self._set_timer(self.limits.body_idle_timeout, self._body_stalled)
            return
        if self.cycle is not None and not self.cycle.response_complete and self.cycle.more_body:
            self.cycle.disconnected = True
            self.cycle.message_event.set()
            self.transport.close()


def guarded_protocol(limits: ServerLimits = DEFAULT_SERVER_LIMITS) -> type[HttpToolsProtocol]:
    """The protocol class for uvicorn's ``http=`` setting, keeping ``limits``."""
    if limits == DEFAULT_SERVER_LIMITS:
        return GuardedHttpToolsProtocol
    return type("GuardedHttpToolsProtocol", (GuardedHttpToolsProtocol,), {"limits": limits})
