"""The citizen's web wallet (``civic wallet ui``): the wallet directory as pages on 127.0.0.1.

The same rules as ``civic wallet``, through the same functions of :mod:`civicstack.wallet`:
receiving (:mod:`.receiving`), the consent screen and presenting (:mod:`.presenting`: an
over-asking or unregistered relying party is refused before the question is asked), consents
(:mod:`.consenting`), change reports (:mod:`.reporting`) and the verified access history
(:mod:`.accesses`). Every page works without
JavaScript.

Security model (the keys never leave the device; the app is reachable from this machine only),
implemented in :mod:`.session`:

1. it listens on ``127.0.0.1`` only (:func:`check_bind`) and answers only requests whose
   ``Host`` is its own ``127.0.0.1:PORT`` (a DNS-rebinding page names another host);
2. cookies do not isolate by port, so every local site is same-site with it: every POST must
   carry an ``Origin`` equal to the app's own origin *and* the session's CSRF token (the unlock
   form a double-submit token of its own); anything else is 403 with nothing done;
3. the wallet is unlocked with its passphrase (Argon2id, :meth:`Wallet.open`); the session is a
   random 256-bit id in an ``HttpOnly; SameSite=Strict`` cookie, new at every unlock, kept in
   memory only (a restart locks everything); five wrong passphrases in a row make it wait;
4. it locks after ``idle`` seconds without a request, and ``lifetime`` seconds after unlocking
   unless extended: from ``warn`` seconds before that, every page carries a warning with a
   button that extends it (WCAG 2.2 2.2.1); with JavaScript the warning also appears live;
5. every page is sent with a CSP allowing no inline script (:class:`~civicstack.web.Pages`),
   ``Cache-Control: no-store`` and ``frame-ancestors 'none'``; form bodies and fields are
   capped in size, control characters refused.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import Response

from civicstack.errors import CivicError
from civicstack.types import Clock
from civicstack.wallet import Wallet
from civicstack.wallet.transport import Transport
from civicstack.web.pages import Pages
from civicstack.web.wallet import (
    accesses,
    consenting,
    credentials,
    presenting,
    receiving,
    reporting,
    unlock,
)
from civicstack.web.wallet.session import (
    BodyCap,
    LockedError,
    RefusedError,
    WalletUI,
    WalletUISettings,
    check_bind,
)

__all__ = ["WalletUI", "WalletUISettings", "check_bind", "create_wallet_app"]


def create_wallet_app(
    settings: WalletUISettings,
    *,
    clock: Clock,
    transport: Callable[[], Transport],
    pages: Pages | None = None,
    open_wallet: Callable[[Path, str], Wallet] | None = None,
) -> FastAPI:
    """The web wallet as an ASGI app (``civic wallet ui`` serves it with uvicorn).

    ``transport`` makes the Transport each exchange with an issuer, a verifier or the platform
    goes through (:class:`civicstack.fetch.HttpTransport` in production); ``open_wallet`` opens
    the wallet directory with a passphrase (default :meth:`Wallet.open` on ``clock``).
    """
    pages = pages or Pages()
    ui = WalletUI(settings, clock=clock, pages=pages, transport=transport)
    opener = open_wallet or (lambda path, passphrase: Wallet.open(path, passphrase, clock=clock))
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.state.wallet_ui = ui
    pages.mount_static(app)
    for router in (
        unlock.routes(ui, opener),
        credentials.routes(ui),
        receiving.routes(ui),
        presenting.routes(ui),
        consenting.routes(ui),
        reporting.routes(ui),
        accesses.routes(ui),
    ):
        app.include_router(router)

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], object]) -> Response:
        try:
            ui.check_host(request)
            response: Response = await call_next(request)  # type: ignore[misc]
        except LockedError:
            return ui.locked_redirect(request)
        except RefusedError as refused:
            code = "forbidden" if refused.status == 403 else "invalid_request"
            return ui.render(
                request,
                None,
                "problem.html",
                status_code=refused.status,
                title="This request was refused",
                error=CivicError(code, refused.reason),
            )
        except CivicError as exc:  # one a page did not expect: still a page, with its code
            return ui.problem(request, None, exc, title="Something went wrong")
        except Exception:  # a bug: a page without the traceback
            error = CivicError("internal_error", "the wallet could not do this; nothing was sent")
            return ui.render(
                request,
                None,
                "problem.html",
                status_code=500,
                title="Something went wrong",
                error=error,
            )
        return response

    # Outermost: the body cap counts bytes before anything reads them.
    app.add_middleware(BodyCap)
    return app
