"""Receiving a credential (OpenID4VCI 1.0): paste an offer link or open a same-device one, see
who offers what, give the transaction code, accept or decline.

The protocol is :class:`civicstack.wallet.openid4vci.IssuanceClient`'s, and keeping what was
issued :func:`~civicstack.wallet.openid4vci.store_issued`'s — the same as ``civic wallet
receive``: the credential is kept only once its issuer's chain ends in a root the wallet trusts.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from civicstack.errors import CivicError, InputError
from civicstack.wallet import Wallet
from civicstack.wallet.openid4vci import (
    Deferred,
    IssuanceClient,
    PreparedOffer,
    keep_pending,
    store_issued,
)
from civicstack.wallet.openid4vp import registrar_name
from civicstack.web.wallet.session import (
    FIELD_CHARS,
    UPSTREAM,
    Session,
    WalletUI,
    close,
    hold,
)

OFFER_SCHEME = "openid-credential-offer://"


def _prepare(ui: WalletUI, link: str) -> PreparedOffer:
    # 1.-2. the offer (fetched when by reference) and the issuer's metadata
    transport = ui.transport()
    try:
        client = IssuanceClient(transport)
        return client.discover(client.resolve(link))
    finally:
        close(transport)


def _accept(
    ui: WalletUI, wallet: Wallet, prepared: PreparedOffer, tx_code: str | None
) -> dict[str, Any]:
    # 3.-6. token, nonce, key proofs (one fresh key per copy), credentials; then kept
    transport = ui.transport()
    try:
        client = IssuanceClient(transport)
        key_ids = wallet.new_copy_keys(min(wallet.settings.batch_size, prepared.issuer.batch_size))
        try:
            access_token, outcome = client.receive(
                prepared,
                tx_code=tx_code,
                sign=lambda aud, nonce: wallet.sign_key_proofs(key_ids, audience=aud, nonce=nonce),
            )
        except CivicError:
            wallet.discard_copy_keys(key_ids)
            raise
        if isinstance(outcome, Deferred):
            pending_id = keep_pending(wallet, outcome, key_ids, now=wallet.now())
            who = prepared.issuer.display_name or outcome.credential_issuer
            return {"pending": pending_id, "issuer": who}
        held, anchoring = store_issued(
            client,
            wallet,
            outcome,
            key_ids=key_ids,
            issuer=prepared.offer.credential_issuer,
            access_token=access_token,
            notification_endpoint=prepared.issuer.notification_endpoint,
        )
        named = registrar_name(anchoring.registry, held.iss) or prepared.issuer.display_name
        return {"stored": held, "first_use": anchoring.first_use, "issuer": named or held.iss}
    finally:
        close(transport)


def routes(ui: WalletUI) -> APIRouter:
    """``/receive``, ``/offer`` (same-device links) and ``/receive/{token}``."""
    router = APIRouter()

    async def open_offer(request: Request, session: Session, link: str) -> Response:
        try:
            prepared = await ui.run(_prepare, ui, link)
        except CivicError as exc:
            return ui.render(
                request,
                session,
                "receive.html",
                status_code=502 if exc.code in UPSTREAM else 400,
                link=link,
                error=exc,
            )
        handle = hold(session.offers, prepared)
        return RedirectResponse(f"/receive/{handle}", status_code=303)

    @router.get("/receive")
    async def receive_form(request: Request) -> Response:
        session = ui.require(request)
        return ui.render(request, session, "receive.html", link="", error=None)

    @router.post("/receive")
    async def receive_link(request: Request) -> Response:
        session, form = await ui.require_post(request)
        link = form.get("link", "").strip()
        if not link:
            error = InputError("invalid_offer", "Paste the link of the credential offer")
            return ui.render(
                request, session, "receive.html", status_code=400, link="", error=error
            )
        return await open_offer(request, session, link)

    @router.get("/offer")
    async def offer_same_device(request: Request) -> Response:
        """``/offer?credential_offer=...``: a same-device offer link opens here."""
        session = ui.require(request)
        query = request.url.query
        if not query or len(query) > FIELD_CHARS:
            return RedirectResponse("/receive", status_code=303)
        return await open_offer(request, session, f"{OFFER_SCHEME}?{query}")

    @router.get("/receive/{handle}")
    async def offer_page(request: Request, handle: str) -> Response:
        session = ui.require(request)
        prepared = session.offers.get(handle)
        if prepared is None:
            return RedirectResponse("/receive", status_code=303)
        return ui.render(
            request, session, "offer.html", prepared=prepared, handle=handle, error=None
        )

    @router.post("/receive/{handle}")
    async def offer_answer(request: Request, handle: str) -> Response:
        session, form = await ui.require_post(request)
        prepared = session.offers.get(handle)
        if prepared is None:
            return RedirectResponse("/receive", status_code=303)
        if form.get("decision") != "accept":
            del session.offers[handle]
            return RedirectResponse("/credentials?notice=offer-declined", status_code=303)
        tx_code: str | None = None
        if prepared.offer.tx_code is not None:
            try:
                tx_code = prepared.offer.tx_code.check(form.get("tx_code", "").strip())
            except CivicError as exc:
                return ui.render(
                    request,
                    session,
                    "offer.html",
                    status_code=400,
                    prepared=prepared,
                    handle=handle,
                    error=exc,
                )
        del session.offers[handle]  # a pre-authorized code is redeemed once
        try:
            result = await ui.run(_accept, ui, session.wallet, prepared, tx_code)
        except CivicError as exc:
            return ui.problem(request, session, exc, title="The credential was not added")
        return ui.render(request, session, "received.html", **result)

    return router
