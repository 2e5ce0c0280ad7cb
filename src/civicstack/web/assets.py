"""The built CSS and JavaScript shipped inside the package, served with year-long caching.

``make assets`` compiles GOV.UK Frontend with civicstack's theme (``assets/civic.scss``) into
``static/``; the files are committed, so running civicstack needs Python only. Pages link to
them with a content hash in the query string (:meth:`StaticAssets.fingerprint`), so a file can
be cached as immutable and a new release is fetched at once.
"""

from __future__ import annotations

import hashlib
from functools import cache
from importlib import resources
from pathlib import Path

from starlette.staticfiles import StaticFiles
from starlette.types import Message, Receive, Scope, Send

_YEAR = 365 * 24 * 3600


def static_directory() -> Path:
    """Where the package keeps its built assets."""
    return Path(str(resources.files("civicstack.web") / "static"))


@cache
def _fingerprint(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


class StaticAssets(StaticFiles):
    """Starlette's static files over the package's ``static/``, cached for a year."""

    def __init__(self) -> None:
        super().__init__(directory=static_directory())

    def fingerprint(self, name: str) -> str:
        """The first 16 hex digits of the SHA-256 of asset ``name``."""
        return _fingerprint(static_directory() / name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the file, adding the long cache header to successful responses."""

        async def send_cached(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] in (200, 304):
                headers = list(message.get("headers", []))
                headers.append((b"cache-control", f"public, max-age={_YEAR}, immutable".encode()))
                headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await super().__call__(scope, receive, send_cached)
