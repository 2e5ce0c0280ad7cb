"""Unlocking, locking and extending the web wallet's session (WCAG 2.2 2.2.1: warned first)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from civicstack.errors import CivicError
from civicstack.wallet import Wallet
from civicstack.web.wallet.session import (
    SESSION_COOKIE,
    UNLOCK_COOKIE,
    LockedError,
    WalletUI,
    local_path,
)


def routes(ui: WalletUI, opener: Callable[[Path, str], Wallet]) -> APIRouter:
    """``/``, ``/unlock``, ``/lock`` and ``/session/extend``."""
    router = APIRouter()

    def unlock_page(
        request: Request, *, next_path: str, error: str | None = None, status_code: int = 200
    ) -> Response:
        # A double-submit token: the form's hidden field must match this path-scoped cookie.
        unlock_token = secrets.token_urlsafe(32)
        response = ui.render(
            request,
            None,
            "unlock.html",
            status_code=status_code,
            unlock_token=unlock_token,
            error=error,
            next_path=next_path,
            locked=request.query_params.get("locked"),
            wallet_dir=str(ui.settings.wallet_dir),
        )
        response.set_cookie(
            UNLOCK_COOKIE, unlock_token, httponly=True, samesite="strict", path="/unlock"
        )
        return response

    @router.get("/")
    async def home(request: Request) -> Response:
        target = "/credentials" if ui.session(request) else "/unlock"
        return RedirectResponse(target, status_code=303)

    @router.get("/unlock")
    async def unlock_form(request: Request) -> Response:
        next_path = local_path(request.query_params.get("next"), "")
        if ui.session(request) is not None:
            return RedirectResponse(next_path or "/credentials", status_code=303)
        return unlock_page(request, next_path=next_path)

    @router.post("/unlock")
    async def unlock(request: Request) -> Response:
        form = await ui.form(request)
        ui.check_post(request, form, request.cookies.get(UNLOCK_COOKIE, ""))
        next_path = local_path(form.get("next"), "")
        now = ui.clock.now()
        if now < ui.wait_until:
            return unlock_page(
                request,
                next_path=next_path,
                error=f"Too many wrong passphrases. Wait {ui.wait_until - now} seconds, "
                "then try again",
                status_code=429,
            )
        passphrase = form.get("passphrase", "")
        if not passphrase:
            return unlock_page(
                request, next_path=next_path, error="Enter your wallet passphrase", status_code=400
            )
        try:
            wallet = await ui.run(opener, ui.settings.wallet_dir, passphrase)
        except CivicError as exc:
            if exc.code != "wrong_passphrase":
                return ui.problem(request, None, exc, title="The wallet could not be opened")
            ui.failures += 1
            if ui.failures >= ui.settings.unlock_attempts:
                ui.failures = 0
                ui.wait_until = now + ui.settings.unlock_wait
            return unlock_page(
                request,
                next_path=next_path,
                error="The passphrase is not right. Check it and try again",
                status_code=400,
            )
        ui.failures = 0
        response = RedirectResponse(next_path or "/credentials", status_code=303)
        # A new random id at every unlock: no session fixation.
        response.set_cookie(
            SESSION_COOKIE, ui.start(wallet), httponly=True, samesite="strict", path="/"
        )
        response.delete_cookie(UNLOCK_COOKIE, path="/unlock")
        return response

    @router.post("/lock")
    async def lock(request: Request) -> Response:
        try:
            await ui.require_post(request)
        except LockedError:
            pass
        else:
            ui.end(request)
        response = RedirectResponse("/unlock?locked=you", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @router.post("/session/extend")
    async def extend(request: Request) -> Response:
        session, form = await ui.require_post(request)
        now = ui.clock.now()
        session.extended_at = now
        session.last_seen = now
        return RedirectResponse(local_path(form.get("return_to")), status_code=303)

    return router
