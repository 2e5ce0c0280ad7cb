"""What the wallet holds: each credential, what it says, who issued it, and its status."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from civicstack.wallet import StoredCredential
from civicstack.wallet.consent import revealed_claims
from civicstack.web.wallet.session import WalletUI, shown, type_name


def describe(credential: StoredCredential, now: int) -> dict[str, Any]:
    """What the credentials page says about one credential."""
    if credential.nbf is not None and now < credential.nbf:
        status, colour = "Not valid yet", "govuk-tag--yellow"
    elif credential.exp is not None and now >= credential.exp:
        status, colour = "Expired", "govuk-tag--red"
    else:
        status, colour = "Valid", "govuk-tag--green"
    return {
        "credential": credential,
        "name": type_name(credential.vct),
        "status": status,
        "status_class": colour,
        "claims": [(c.path, shown(c.value)) for c in revealed_claims(credential.claims)],
    }


def routes(ui: WalletUI) -> APIRouter:
    """``/credentials``."""
    router = APIRouter()

    @router.get("/credentials")
    async def credentials(request: Request) -> Response:
        session = ui.require(request)
        held = await ui.run(session.wallet.credentials)
        now = ui.clock.now()
        return ui.render(
            request,
            session,
            "credentials.html",
            credentials=[describe(c, now) for c in held],
            notice=request.query_params.get("notice"),
        )

    return router
