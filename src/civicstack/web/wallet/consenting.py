"""Consents: the ones given (withdraw at once) and the requests waiting (give or refuse).

The wallet pulls its inbox from the platform's consent service by presenting its PID, shows the
consent screen (who asks, whether they are a registered relying party now, the purpose they
registered, the provider, exactly which data, for how long, how often) and signs the answer
with the key its PID is bound to — all through :mod:`civicstack.wallet.consents`, as ``civic
wallet consent give|refuse|withdraw`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from civicstack.consent import CATEGORIES, PURPOSES, ConsentRequest
from civicstack.errors import CivicError
from civicstack.wallet import Wallet
from civicstack.wallet import consents as consenting
from civicstack.wallet import openid4vp as vp
from civicstack.web.wallet.session import WalletUI, close


def routes(ui: WalletUI) -> APIRouter:
    """``/consents``, ``/consents/requests/{id}``, ``/consents/{id}/withdraw``."""
    router = APIRouter()

    def standing(wallet: Wallet, item: Mapping[str, Any]) -> consenting.RequesterStanding:
        transport = ui.transport()
        try:
            anchoring = vp.platform_trust(wallet, transport, ui.settings.platform)
        finally:
            close(transport)
        return consenting.requester_standing(
            anchoring.registry, str(item["requester"]), str(item["purpose"]), now=wallet.now()
        )

    def kept(wallet: Wallet, consent_id: str) -> dict[str, Any] | None:
        return next((r for r in wallet.consents() if r.get("id") == consent_id), None)

    @router.get("/consents")
    async def consents(request: Request) -> Response:
        session = ui.require(request)
        error: CivicError | None = None
        pending: list[dict[str, Any]] = []
        try:
            inbox = await ui.run(consenting.pull_inbox, session.wallet, ui.post_json)
            pending = [p for p in inbox.get("pending", []) if isinstance(p, dict)]
        except CivicError as exc:
            error = exc
        session.consent_requests = {str(p.get("id")): p for p in pending}
        given = await ui.run(session.wallet.consents)
        return ui.render(
            request,
            session,
            "consents.html",
            given=given,
            pending=pending,
            error=error,
            categories=CATEGORIES,
            notice=request.query_params.get("notice"),
        )

    @router.get("/consents/requests/{request_id}")
    async def consent_request(request: Request, request_id: str) -> Response:
        session = ui.require(request)
        item = session.consent_requests.get(request_id)
        if item is None:
            return RedirectResponse("/consents", status_code=303)
        try:
            ConsentRequest.from_json(item)  # parsed strictly before the screen shows it
            requester = await ui.run(standing, session.wallet, item)
        except CivicError as exc:
            return ui.problem(request, session, exc, title="This request cannot be shown")
        return ui.render(
            request,
            session,
            "consent_request.html",
            item=item,
            standing=requester,
            categories=CATEGORIES,
            purposes=PURPOSES,
        )

    @router.post("/consents/requests/{request_id}")
    async def consent_request_answer(request: Request, request_id: str) -> Response:
        session, form = await ui.require_post(request)
        item = session.consent_requests.get(request_id)
        decision = form.get("decision")
        if item is None or decision not in ("given", "refused"):
            return RedirectResponse("/consents", status_code=303)
        try:
            await ui.run(consenting.answer_request, session.wallet, ui.post_json, item, decision)
        except CivicError as exc:
            return ui.problem(request, session, exc, title="Your answer was not recorded")
        session.consent_requests.pop(request_id, None)
        return RedirectResponse(f"/consents?notice={decision}", status_code=303)

    @router.get("/consents/{consent_id}/withdraw")
    async def withdraw_screen(request: Request, consent_id: str) -> Response:
        session = ui.require(request)
        record = await ui.run(kept, session.wallet, consent_id)
        if record is None:
            return RedirectResponse("/consents", status_code=303)
        return ui.render(request, session, "withdraw.html", item=record, categories=CATEGORIES)

    @router.post("/consents/{consent_id}/withdraw")
    async def withdraw(request: Request, consent_id: str) -> Response:
        session, _ = await ui.require_post(request)
        record = await ui.run(kept, session.wallet, consent_id)
        if record is None:
            return RedirectResponse("/consents", status_code=303)
        try:
            await ui.run(consenting.withdraw_consent, session.wallet, ui.post_json, record)
        except CivicError as exc:
            return ui.problem(request, session, exc, title="The consent was not withdrawn")
        return RedirectResponse("/consents?notice=withdrawn", status_code=303)

    return router
