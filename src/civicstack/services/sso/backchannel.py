"""Back-channel logout delivery over HTTP (OpenID Connect Back-Channel Logout 1.0 §2.5).

The provider POSTs ``logout_token=<JWT>`` as ``application/x-www-form-urlencoded`` to the
client's ``backchannel_logout_uri``; the client answers 200 (or 204) when it has logged the
session out, 400 otherwise (§2.8). Redirects are not followed (§2.5), and the wait is short so
a slow client cannot hold logout up for the others.
"""

from __future__ import annotations

import httpx

from civicstack.errors import CivicError

__all__ = ["HttpLogoutDelivery"]


class HttpLogoutDelivery:
    """:class:`~civicstack.services.sso.provider.LogoutDelivery` over httpx (a client may be
    given, e.g. one over a test transport)."""

    def __init__(self, client: httpx.Client | None = None, *, timeout: float = 5.0) -> None:
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def deliver(self, uri: str, logout_token: str) -> None:
        """POST the token; ``fetch_failed`` unless the client answers 200 or 204."""
        try:
            response = self._client.post(
                uri,
                data={"logout_token": logout_token},
                headers={"Cache-Control": "no-store"},
            )
        except httpx.HTTPError as exc:
            raise CivicError("fetch_failed", f"{uri}: {type(exc).__name__}") from exc
        if response.status_code not in (200, 204):
            raise CivicError("fetch_failed", f"{uri} answered {response.status_code}")

    def close(self) -> None:
        """Close the HTTP client."""
        self._client.close()
