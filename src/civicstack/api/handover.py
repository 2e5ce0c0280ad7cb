"""Pages an official shows a citizen across a desk, to hand over to the citizen's wallet.

* ``GET /issuers/NAME/offers/ID/page`` — a credential offer made by reference (OpenID4VCI 1.0
  §4.1.3): the ``openid-credential-offer://`` link as a QR code for a phone's wallet, the same
  link into the local web wallet (``CIVIC_WALLET_UI_URL``: ``http://127.0.0.1:8700/offer?...``)
  and as text to paste, and the hint for the transaction code (never the code: it goes by
  another channel). Once the wallet has redeemed it, the page says so. The page shows nothing
  the QR code does not.
* ``GET /verifier/requests/ID/page?key=K`` — a presentation request (OpenID4VP 1.0 §5, by
  reference, RFC 9101): the ``openid4vp://`` link the same three ways while it waits, then
  the verified result for the relying party, once. ``K`` (in the ``page`` the request's
  creation returned) opens it: the request id alone is in the QR code anyone can read.

Server-rendered without JavaScript: "Check again" is a plain link to the same page.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.responses import HTMLResponse

from civicstack.errors import CivicError
from civicstack.platform import Platform
from civicstack.web import Pages, Theme
from civicstack.web.qr import same_device_link
from civicstack.web.wallet.session import type_name

#: Codes of a result that was already handed over: the page says so, with no claim.
_GONE = frozenset({"result_fetched", "result_purged"})


def _pages(platform: Platform) -> Pages:
    return Pages(theme=Theme.from_settings(platform.settings))


def _not_found(pages: Pages, what: str) -> HTMLResponse:
    return pages.render("handover/not_found.html", {"what": what}, status_code=404)


def add_offer_page(app: FastAPI, platform: Platform) -> None:
    """Add ``GET /{name}/offers/{offer_id}/page`` to the issuers' app."""
    pages = _pages(platform)

    @app.get(
        "/{name}/offers/{offer_id}/page",
        tags=["openid4vci"],
        summary="An offer as a page to show the citizen: QR code, same-device link, link",
        response_class=HTMLResponse,
        responses={404: {"description": "No such offer (an HTML page)"}},
    )
    def offer_page(name: str, offer_id: str) -> HTMLResponse:
        try:
            view = platform.issuer.offer_view(name, offer_id)
        except CivicError:
            return _not_found(pages, "offer")
        context: dict[str, Any] = {
            "view": view,
            "record": view.record,
            "credential_name": type_name(view.record.configuration_id),
            "link": view.link,
            "same_device": (
                same_device_link(view.link, "/offer", platform.settings.wallet_ui_url)
                if view.link
                else None
            ),
            "now": platform.clock.now(),
            "again": f"/issuers/{name}/offers/{offer_id}/page",
        }
        return pages.render("handover/offer.html", context)


def add_request_page(app: FastAPI, platform: Platform) -> None:
    """Add ``GET /requests/{request_id}/page`` to the verifier's app."""
    pages = _pages(platform)

    @app.get(
        "/requests/{request_id}/page",
        tags=["relying parties"],
        summary="A request as a page to show the holder, then its result (opened by its key)",
        response_class=HTMLResponse,
        responses={404: {"description": "No such request, or a wrong key (an HTML page)"}},
    )
    def request_page(request_id: str, key: str = "") -> HTMLResponse:
        try:
            view = platform.verifier.desk(request_id, key)
        except CivicError as exc:
            if exc.code in _GONE:
                return pages.render("handover/request_gone.html", {"error": exc})
            return _not_found(pages, "request")
        outcome = view.outcome
        waiting = outcome.status == "pending"
        context: dict[str, Any] = {
            "view": view,
            "outcome": outcome,
            "link": view.link if waiting else None,
            "same_device": (
                same_device_link(view.link, "/request", platform.settings.wallet_ui_url)
                if waiting
                else None
            ),
            "again": f"/verifier/requests/{request_id}/page?key={key}",
        }
        return pages.render("handover/request.html", context)
