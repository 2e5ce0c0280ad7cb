"""Fetching remote documents (status lists, issuer metadata): the HTTP :class:`Fetcher`.

This is an adapter: the core asks a :class:`civicstack.types.Fetcher` for bytes and never
imports this module. The :func:`civicstack.credentials.verify` front door needs a default
status checker; it names :func:`default_status_checker` and resolves it once, on first use,
so the core never imports httpx. :class:`HttpFetcher` refuses anything but ``http``/``https``
(also after redirects), bounds every phase with a timeout, follows at most a few redirects
(Token Status List §11.4 warns about redirect loops) and stops reading as soon as the body
passes the cap, so neither a huge nor a compressed bomb of a response is ever held in memory.
Every failure is ``fetch_failed``. For tests, :class:`civicstack.testing.InMemoryFetcher`
serves a dict.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from civicstack.errors import CivicError
from civicstack.status import StatusListClient
from civicstack.types import StatusChecker

DEFAULT_TIMEOUT = 5.0
DEFAULT_MAX_REDIRECTS = 3
_SCHEMES = ("http", "https")


def _check_scheme(url: httpx.URL) -> None:
    if url.scheme not in _SCHEMES:
        raise CivicError(
            "fetch_failed", f"only http and https URLs are fetched, not {url.scheme!r}"
        )


class HttpFetcher:
    """A :class:`civicstack.types.Fetcher` over httpx with timeouts and a streamed size cap."""

    def __init__(
        self,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_redirects: int = DEFAULT_MAX_REDIRECTS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._options: dict[str, Any] = {
            "timeout": httpx.Timeout(timeout),
            "follow_redirects": True,
            "max_redirects": max_redirects,
            "transport": transport,
            "event_hooks": {"request": [lambda request: _check_scheme(request.url)]},
        }
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()  # one fetcher may serve many threads (the shared default)

    @property
    def client(self) -> httpx.Client:
        """The connection pool, made on first use (building its TLS context takes a while)."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(**self._options)
                client = self._client
        return client

    def fetch(self, url: str, *, accept: str, max_bytes: int) -> bytes:
        """GET ``url`` and return the (decoded) body; ``fetch_failed`` on any failure."""
        try:
            _check_scheme(httpx.URL(url))
            with self.client.stream("GET", url, headers={"Accept": accept}) as response:
                if not response.is_success:
                    raise CivicError("fetch_failed", f"{url} answered {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise CivicError("fetch_failed", f"{url} is larger than {max_bytes} bytes")
                body = bytearray()
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise CivicError("fetch_failed", f"{url} is larger than {max_bytes} bytes")
                return bytes(body)
        except CivicError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            raise CivicError("fetch_failed", f"{url}: {type(exc).__name__}") from exc

    def close(self) -> None:
        """Release the connection pool, if one was made."""
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def default_status_checker() -> StatusChecker:
    """The status checker of :func:`civicstack.credentials.verify`: Token Status Lists over HTTP.

    Built once per process and shared (its connection pool is reused); it keeps no list
    between calls (``max_entries=0``), so each call sees the list as published right then,
    as that front door always has. A verifier that wants ``ttl`` caching builds its own
    :class:`~civicstack.status.StatusListClient`.
    """
    return StatusListClient(HttpFetcher(), max_entries=0)
