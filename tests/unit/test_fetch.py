"""HttpFetcher over httpx's MockTransport (no network), and the in-memory test fetcher."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from civicstack.errors import CivicError
from civicstack.fetch import HttpFetcher, HttpTransport, Limits, read_capped
from civicstack.testing import InMemoryFetcher

URL = "https://status.example.gov/lists/1"


def _fetcher(handler: httpx.MockTransport) -> HttpFetcher:
    return HttpFetcher(transport=handler)


def _fails(fetcher: HttpFetcher | InMemoryFetcher, url: str = URL, max_bytes: int = 1000) -> str:
    with pytest.raises(CivicError) as err:
        fetcher.fetch(url, accept="application/statuslist+jwt", max_bytes=max_bytes)
    return err.value.code


def test_fetch_returns_the_body_and_sends_accept() -> None:
    """A 200 answer's body comes back; the Accept header is the one asked for."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["accept"])
        return httpx.Response(200, content=b"token")

    body = _fetcher(httpx.MockTransport(handler)).fetch(URL, accept="application/x", max_bytes=10)
    assert body == b"token"
    assert seen == ["application/x"]


@pytest.mark.parametrize("status", [404, 500, 302])
def test_non_success_is_fetch_failed(status: int) -> None:
    """Errors (and a redirect without a Location) are fetch_failed."""
    transport = httpx.MockTransport(lambda request: httpx.Response(status))
    assert _fails(_fetcher(transport)) == "fetch_failed"


def test_declared_length_over_the_cap_is_refused() -> None:
    """A Content-Length above the cap fails before the body is read."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"x" * 2000))
    assert _fails(_fetcher(transport)) == "fetch_failed"


def test_streamed_body_is_cut_at_the_cap() -> None:
    """Without a Content-Length the body is read chunk by chunk and abandoned past the cap."""
    produced: list[int] = []

    def chunks() -> Iterator[bytes]:
        for i in range(1000):
            produced.append(i)
            yield b"x" * 100

    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=chunks()))
    assert _fails(_fetcher(transport), max_bytes=1000) == "fetch_failed"
    assert len(produced) < 20


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/x", "not a url", ""])
def test_only_http_and_https(url: str) -> None:
    """Other schemes are refused before anything is sent."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"x"))
    assert _fails(_fetcher(transport), url=url) == "fetch_failed"


def test_redirects_are_followed_within_limits() -> None:
    """A redirect is followed; a loop or a redirect to another scheme fails."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old":
            return httpx.Response(301, headers={"location": URL})
        if request.url.path == "/loop":
            return httpx.Response(302, headers={"location": "https://status.example.gov/loop"})
        if request.url.path == "/away":
            return httpx.Response(302, headers={"location": "file:///etc/passwd"})
        return httpx.Response(200, content=b"moved")

    fetcher = _fetcher(httpx.MockTransport(handler))
    assert fetcher.fetch("https://status.example.gov/old", accept="a", max_bytes=10) == b"moved"
    assert _fails(fetcher, url="https://status.example.gov/loop") == "fetch_failed"
    assert _fails(fetcher, url="https://status.example.gov/away") == "fetch_failed"


def test_transport_errors_are_fetch_failed() -> None:
    """Timeouts and connection errors become fetch_failed, never an httpx exception."""

    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("slow", request=request)

    assert _fails(_fetcher(httpx.MockTransport(handler))) == "fetch_failed"


def test_in_memory_fetcher_keeps_the_contract() -> None:
    """The test fetcher serves its documents, records requests, and fails like the real one."""
    fetcher = InMemoryFetcher({URL: "abc"})
    assert fetcher.fetch(URL, accept="a/b", max_bytes=3) == b"abc"
    assert _fails(fetcher, max_bytes=2) == "fetch_failed"
    assert _fails(fetcher, url="https://elsewhere") == "fetch_failed"
    assert fetcher.requests[0] == (URL, "a/b")


def test_lowered_redirect_limit_is_enforced() -> None:
    """With Limits(redirects=0) a redirect the default follows is fetch_failed."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/old":
            return httpx.Response(301, headers={"location": URL})
        return httpx.Response(200, content=b"moved")

    old = "https://status.example.gov/old"
    assert _fetcher(httpx.MockTransport(handler)).fetch(old, accept="a", max_bytes=10) == b"moved"
    strict = HttpFetcher(limits=Limits(redirects=0), transport=httpx.MockTransport(handler))
    assert _fails(strict, url=old) == "fetch_failed"


def test_read_capped_refuses_or_truncates() -> None:
    """The one capped read: over the cap is fetch_failed, or cut at the cap when asked."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=b"x" * 50))
    with httpx.Client(transport=transport) as client:
        with client.stream("GET", URL) as response, pytest.raises(CivicError) as err:
            read_capped(response, 10, what=URL)
        assert err.value.code == "fetch_failed"
        with client.stream("GET", URL) as response:
            assert read_capped(response, 10, what=URL, truncate=True) == b"x" * 10


def test_wallet_transport_codes() -> None:
    """HttpTransport answers with status and body; no answer is server_unreachable and a body
    over the cap fetch_failed."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/down":
            raise httpx.ConnectError("down", request=request)
        return httpx.Response(201, content=request.content)

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        transport = HttpTransport(client)
        assert transport.send("POST", URL, max_bytes=100, form={"a": "b"}) == (201, b"a=b")
        with pytest.raises(CivicError) as err:
            transport.send("POST", URL, max_bytes=2, form={"a": "b"})
        assert err.value.code == "fetch_failed"
        with pytest.raises(CivicError) as err:
            transport.send("GET", "https://status.example.gov/down", max_bytes=2)
        assert err.value.code == "server_unreachable"
