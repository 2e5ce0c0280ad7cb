"""The one seam through which the wallet reaches issuers and verifiers.

Both protocol clients, :mod:`.openid4vci` (receiving credentials) and :mod:`.openid4vp`
(presenting them), send every request through a :class:`Transport`. Production uses
:class:`civicstack.fetch.HttpTransport` (httpx, a streamed size cap, timeouts); tests pass it an
``httpx.Client`` over a mock or ASGI transport, or an in-memory implementation of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

from civicstack._crypto import json_loads_strict
from civicstack.errors import CODES, CivicError

Method = Literal["GET", "POST"]


class Transport(Protocol):
    """Sends one HTTP request and returns its status and body."""

    def send(
        self,
        method: Method,
        url: str,
        *,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        json: Any = None,
        truncate: bool = False,
    ) -> tuple[int, bytes]:
        """Send ``form`` form-encoded, or ``json``, or nothing; return the status and body.

        A body larger than ``max_bytes`` raises ``fetch_failed`` (with ``truncate``, it is cut
        at the cap instead); a server that cannot be reached raises ``server_unreachable``.
        """
        ...


def error_from(status: int, body: Any, what: str) -> CivicError:
    """The coded error a server's error answer describes, in the server's own words: the
    ``code`` of its problem+json (RFC 9457) or the OAuth ``error`` when civicstack knows it,
    with its ``detail`` or ``error_description``; ``fetch_failed`` naming the status
    otherwise. ``body`` is the parsed JSON, or raw bytes (parsed here when they are JSON)."""
    if isinstance(body, bytes | bytearray):
        try:
            body = json_loads_strict(bytes(body).decode("utf-8"))
        except (CivicError, UnicodeDecodeError):
            body = None
    if isinstance(body, dict):
        code, error = body.get("code"), body.get("error")
        detail = body.get("error_description") or body.get("detail") or f"HTTP {status}"
        detail = f"{what}: {str(detail)[:300]}"
        if isinstance(code, str) and code in CODES:
            return CivicError(code, detail)
        if isinstance(error, str) and error in CODES:
            return CivicError(error, detail)
    return CivicError("fetch_failed", f"{what} answered HTTP {status}")
