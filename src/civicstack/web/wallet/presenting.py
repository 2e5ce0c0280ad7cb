"""Sharing with a service (OpenID4VP 1.0): the consent screen, and the history of presentations.

A pasted ``openid4vp://`` link, or a same-device ``/request?client_id=...&request_uri=...``,
is authenticated against the platform's trust registry under the wallet's roots
(:func:`civicstack.wallet.openid4vp.platform_trust`), then previewed
(:func:`~civicstack.wallet.openid4vp.preview`): an over-asking, suspended or unregistered
relying party is refused there, before any question, and the refusal is in the history. The
screen shows who asks, their registration and registered purpose, exactly which claims leave
(with their values) and which stay. "Share" presents through
:func:`~civicstack.wallet.openid4vp.answer` with a consent that holds only if what would leave
is still exactly what was shown.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from civicstack.errors import CivicError, InputError
from civicstack.openid4vp import parse_authorization_request
from civicstack.wallet import ConsentSummary, Wallet
from civicstack.wallet import openid4vp as vp
from civicstack.wallet.consent import METADATA_CLAIMS, revealed_claims
from civicstack.wallet.transport import error_from
from civicstack.web.wallet.session import (
    FIELD_CHARS,
    UPSTREAM,
    PendingPresentation,
    Session,
    WalletUI,
    claim_order,
    close,
    hold,
)

REQUEST_SCHEME = "openid4vp://"
#: Refusals of the relying party itself: shown as such, never as the holder's mistake.
REFUSALS = frozenset({"overasking", "relying_party_suspended", "unregistered_relying_party"})


def staying(summary: ConsentSummary, wallet: Wallet) -> dict[str, list[str]]:
    """For each credential of a presentation (by query id): the claims it holds that stay."""
    out: dict[str, list[str]] = {}
    for item in summary.items:
        try:
            credential = wallet.credential(item.credential)
        except CivicError:
            continue
        leaving = {c.path for c in item.claims} | {m.path for m in item.metadata}
        out[item.query] = sorted(
            (
                c.path
                for c in revealed_claims(credential.claims)
                if c.path not in leaving and c.path.split(".")[0] not in METADATA_CLAIMS
            ),
            key=claim_order,
        )
    return out


def _open_request(ui: WalletUI, wallet: Wallet, link: str) -> PendingPresentation:
    # 1. a malformed link is refused before any network
    _, request_uri = parse_authorization_request(link)
    transport = ui.transport()
    try:
        # 2. the platform's registry under the wallet's roots; the request authenticated
        anchoring = vp.platform_trust(wallet, transport, vp.platform_of(request_uri))
        received = vp.receive(
            link, transport=transport, registry=anchoring.registry, now=wallet.now()
        )
        # 3. over-asking, suspended or unregistered: refused before any question
        summary = vp.preview(wallet, received, registry=anchoring.registry)
    finally:
        close(transport)
    return PendingPresentation(received, anchoring.registry, summary)


def _reply(ui: WalletUI, wallet: Wallet, pending: PendingPresentation, share: bool) -> vp.Answer:
    transport = ui.transport()
    try:
        return vp.answer(
            wallet,
            pending.received,
            registry=pending.registry,
            # What leaves is exactly what the holder was shown, or nothing does.
            consent=lambda summary: share and summary == pending.summary,
            transport=transport,
        )
    finally:
        close(transport)


def routes(ui: WalletUI) -> APIRouter:
    """``/present``, ``/request`` (same-device links), ``/present/{handle}``, ``/history``."""
    router = APIRouter()

    async def screen(request: Request, session: Session, link: str) -> Response:
        try:
            pending = await ui.run(_open_request, ui, session.wallet, link)
        except CivicError as exc:
            if exc.code in REFUSALS:
                return ui.render(request, session, "refused.html", status_code=403, refusal=exc)
            status = 502 if exc.code in UPSTREAM else 400
            return ui.render(
                request, session, "present.html", status_code=status, link=link, error=exc
            )
        handle = hold(session.presentations, pending)
        return RedirectResponse(f"/present/{handle}", status_code=303)

    @router.get("/present")
    async def present_form(request: Request) -> Response:
        session = ui.require(request)
        return ui.render(request, session, "present.html", link="", error=None)

    @router.post("/present")
    async def present_link(request: Request) -> Response:
        session, form = await ui.require_post(request)
        link = form.get("link", "").strip()
        if not link:
            error = InputError("invalid_request", "Paste the link of the request")
            return ui.render(
                request, session, "present.html", status_code=400, link="", error=error
            )
        return await screen(request, session, link)

    @router.get("/request")
    async def request_same_device(request: Request) -> Response:
        """``/request?client_id=...&request_uri=...``: a same-device request opens here."""
        session = ui.require(request)
        query = request.url.query
        if not query or len(query) > FIELD_CHARS:
            return RedirectResponse("/present", status_code=303)
        return await screen(request, session, f"{REQUEST_SCHEME}?{query}")

    @router.get("/present/{handle}")
    async def consent_page(request: Request, handle: str) -> Response:
        session = ui.require(request)
        pending = session.presentations.get(handle)
        if pending is None:
            return RedirectResponse("/present", status_code=303)
        return ui.render(
            request,
            session,
            "consent.html",
            handle=handle,
            summary=pending.summary,
            registration=pending.received.registration,
            registrar=vp.registrar_name(pending.registry, pending.summary.registrar),
            issuers={
                item.issuer: vp.registrar_name(pending.registry, item.issuer)
                for item in pending.summary.items
            },
            stays=staying(pending.summary, session.wallet),
        )

    @router.post("/present/{handle}")
    async def consent_answer(request: Request, handle: str) -> Response:
        session, form = await ui.require_post(request)
        pending = session.presentations.pop(handle, None)
        if pending is None:
            return RedirectResponse("/present", status_code=303)
        share = form.get("decision") == "share"
        try:
            answered = await ui.run(_reply, ui, session.wallet, pending, share)
        except CivicError as exc:
            if exc.code == "consent_declined" and not share:
                return ui.render(request, session, "declined.html", summary=pending.summary)
            return ui.problem(request, session, exc, title="Nothing was shared")
        if answered.status != 200:
            error = error_from(answered.status, answered.body, pending.summary.relying_party_name)
            return ui.problem(request, session, error, title="The service refused the answer")
        return ui.render(
            request,
            session,
            "presented.html",
            summary=pending.summary,
            low=answered.presentation.low_copies,
        )

    @router.get("/history")
    async def history(request: Request) -> Response:
        session = ui.require(request)
        records = await ui.run(session.wallet.history)
        return ui.render(request, session, "history.html", records=list(reversed(records)))

    return router
