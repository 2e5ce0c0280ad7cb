"""The one seam through which the wallet reaches issuers and verifiers.

Both protocol clients, :mod:`.openid4vci` (receiving credentials) and :mod:`.openid4vp`
(presenting them), send every request through a :class:`Transport`. Production uses
:class:`civicstack.fetch.HttpTransport` (httpx, a streamed size cap, timeouts); tests pass it an
``httpx.Client`` over a mock or ASGI transport, or an in-memory implementation of their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol

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
