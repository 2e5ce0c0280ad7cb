"""HTTP for the core's :class:`~civicstack.types.Fetcher` and the wallet's transport.

This is an adapter: the core asks a :class:`civicstack.types.Fetcher` for bytes and never
imports this module (:func:`civicstack.credentials.verify` names :func:`default_status_checker`
and resolves it once, on first use, so the core never imports httpx); the wallet's protocol
clients talk through :class:`civicstack.wallet.transport.Transport`, which
:class:`HttpTransport` implements here.

* :func:`read_capped` is the one capped read of a streamed response: it stops reading as soon as
  the body passes the cap (or refuses a larger ``Content-Length`` before reading at all), so
  neither a huge nor a compressed bomb of a response is ever held in memory (``fetch_failed``);
* :class:`HttpFetcher` refuses anything but ``http``/``https`` (also after redirects), bounds
  every phase with a timeout and follows at most a few redirects (Token Status List §11.4 warns
  about redirect loops). Every failure is ``fetch_failed``. For tests,
  :class:`civicstack.testing.InMemoryFetcher` serves a dict;
* :class:`HttpTransport` sends the wallet's requests over an httpx client (the fetcher's, or one
  the caller configured); tests pass an ``httpx.Client`` over a mock or ASGI transport, or any
  other implementation of the Protocol.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from civicstack.errors import CivicError
from civicstack.status import Limits as StatusLimits
from civicstack.status import StatusListClient
from civicstack.types import StatusChecker

_SCHEMES = ("http", "https")


@dataclass(frozen=True, slots=True)
class Limits:
    """What an HTTP client built here allows a remote server.

    ``redirects``  redirects followed for one request (default 3)
    ``timeout``    seconds for each phase: connect, write, read, pool (default 5.0)
    """

    redirects: int = 3
    timeout: float = 5.0


DEFAULT_LIMITS = Limits()


def read_capped(
    response: httpx.Response, max_bytes: int, *, what: str, truncate: bool = False
) -> bytes:
    """The body of a streamed ``response``, of which no more than ``max_bytes`` is ever held.

    A body declared (``Content-Length``) or found larger than ``max_bytes`` is refused with
    ``fetch_failed``; with ``truncate`` it is cut at the cap instead (for an answer that is
    only shown, never parsed).
    """
    if not truncate:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise CivicError("fetch_failed", f"{what} is larger than {max_bytes} bytes")
    body = bytearray()
    for chunk in response.iter_bytes():
        body += chunk
        if len(body) > max_bytes:
            if truncate:
                break
            raise CivicError("fetch_failed", f"{what} is larger than {max_bytes} bytes")
    return bytes(body[:max_bytes])


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
        limits: Limits = DEFAULT_LIMITS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._options: dict[str, Any] = {
            "timeout": httpx.Timeout(limits.timeout),
            "follow_redirects": True,
            "max_redirects": limits.redirects,
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
                return read_capped(response, max_bytes, what=url)
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


class HttpTransport:
    """The wallet's :class:`~civicstack.wallet.transport.Transport` over httpx.

    Without ``client`` it uses an :class:`HttpFetcher`'s pool (scheme check after every
    redirect, few redirects, timeouts) and closes it in :meth:`close`; a given ``client`` is the
    caller's to configure and close. Nothing about the wallet is sent beyond what HTTP needs
    (OpenID4VP §15.8).
    """

    def __init__(self, client: httpx.Client | None = None, *, limits: Limits = DEFAULT_LIMITS):
        self._fetcher = HttpFetcher(limits=limits) if client is None else None
        self._client = client

    @property
    def client(self) -> httpx.Client:
        """The httpx client requests go through."""
        if self._client is not None:
            return self._client
        assert self._fetcher is not None
        return self._fetcher.client

    def send(
        self,
        method: Literal["GET", "POST"],
        url: str,
        *,
        max_bytes: int,
        headers: Mapping[str, str] | None = None,
        form: Mapping[str, str] | None = None,
        json: Any = None,
        truncate: bool = False,
    ) -> tuple[int, bytes]:
        """Send one request; the status and the body read by :func:`read_capped`.

        ``server_unreachable`` when no answer comes (network, timeout, a bad URL).
        """
        try:
            with self.client.stream(
                method,
                url,
                headers=dict(headers or {}),
                data=None if form is None else dict(form),
                json=json,
            ) as response:
                body = read_capped(response, max_bytes, what=url, truncate=truncate)
                return response.status_code, body
        except CivicError:
            raise
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise CivicError("server_unreachable", f"{url}: {type(exc).__name__}") from exc

    def close(self) -> None:
        """Release the connection pool this transport made (never a client it was given)."""
        if self._fetcher is not None:
            self._fetcher.close()


def default_status_checker() -> StatusChecker:
    """The status checker of :func:`civicstack.credentials.verify`: Token Status Lists over HTTP.

    Built once per process and shared (its connection pool is reused); it keeps no list
    between calls (``cache_entries=0``), so each call sees the list as published right then,
    as that front door always has. A verifier that wants ``ttl`` caching builds its own
    :class:`~civicstack.status.StatusListClient`.
    """
    return StatusListClient(HttpFetcher(), limits=StatusLimits(cache_entries=0))


# --- remote data services of the exchange (civicstack.services.exchange.RemoteRecords) -------


class HttpRemoteRecords:
    """Asks a remote data service for a record: ``POST <url>`` with ``{"subject": <the
    provider's pairwise id>, "categories": [...]}``; 200 with a JSON object is the record, 404
    is "no record". Anything else — another status, a redirect (never followed), a timeout
    (``timeout`` seconds for each phase), a body over the cap (:func:`read_capped`) — is
    ``provider_unavailable``: the exchange then logs a refusal and releases nothing."""

    def __init__(self, *, timeout: float = 2.0, transport: httpx.BaseTransport | None = None):
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout), follow_redirects=False, transport=transport
        )

    def fetch_record(
        self, url: str, *, subject: str, categories: Sequence[str], max_bytes: int
    ) -> bytes | None:
        """The record, None for 404, else ``provider_unavailable``."""
        body = {"subject": subject, "categories": list(categories)}
        try:
            _check_scheme(httpx.URL(url))
            with self._client.stream(
                "POST", url, json=body, headers={"Accept": "application/json"}
            ) as response:
                if response.status_code == 404:
                    return None
                if response.status_code != 200:
                    raise CivicError(
                        "provider_unavailable", f"the provider answered {response.status_code}"
                    )
                return read_capped(response, max_bytes, what="the provider's record")
        except CivicError as exc:
            if exc.code == "provider_unavailable":
                raise
            raise CivicError("provider_unavailable", exc.detail) from exc
        except httpx.HTTPError as exc:
            raise CivicError(
                "provider_unavailable", f"the provider did not answer: {type(exc).__name__}"
            ) from exc

    def close(self) -> None:
        """Close the connection pool."""
        self._client.close()
