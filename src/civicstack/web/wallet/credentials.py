"""What the wallet holds: each credential, what it says, who issued it, and its status.

Its status is checked as a verifier would at the moment the page is made: the credential's
validity period, then its Token Status List entry (revoked, suspended), fetched through the
wallet's transport and verified with the issuer's key under the roots the wallet trusts (never
pinning a new one here). A list that cannot be fetched or checked says so; it is not taken for
"valid".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from civicstack.credentials import inspect
from civicstack.errors import CivicError
from civicstack.status import Limits as StatusLimits
from civicstack.status import StatusListClient
from civicstack.trust import TrustRegistry
from civicstack.wallet import StoredCredential, Wallet
from civicstack.wallet.anchors import anchor
from civicstack.wallet.consent import revealed_claims
from civicstack.wallet.openid4vci import IssuanceClient
from civicstack.wallet.openid4vp import registrar_name
from civicstack.wallet.transport import Transport
from civicstack.web.wallet.session import WalletUI, claim_order, close, shown, type_name


class TransportFetcher:
    """A :class:`civicstack.types.Fetcher` over the wallet's Transport (for status lists)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport

    def fetch(self, url: str, *, accept: str, max_bytes: int) -> bytes:
        """The body at ``url``; ``fetch_failed`` for no answer, an error status or a body over
        the cap."""
        try:
            status, body = self.transport.send(
                "GET", url, max_bytes=max_bytes, headers={"Accept": accept}
            )
        except CivicError as exc:
            raise CivicError("fetch_failed", exc.detail) from exc
        if not 200 <= status < 300:
            raise CivicError("fetch_failed", f"{url} answered HTTP {status}")
        return body


#: What the page says for each outcome of a status check: its words, its tag's colour.
_CHECKED = {
    "valid": ("Valid", "govuk-tag--green"),
    "revoked": ("Revoked by the issuer", "govuk-tag--red"),
    "suspended": ("Suspended by the issuer", "govuk-tag--yellow"),
    "unchecked": ("Status not checked", "govuk-tag--grey"),
}


class Checked(NamedTuple):
    """A credential as checked when the page is made: its status list's answer, why it was not
    checked, and its issuer's name as the trust registry has it (None when not known)."""

    state: str
    why: str = ""
    issuer_name: str | None = None


def statuses(ui: WalletUI, wallet: Wallet, held: Sequence[StoredCredential]) -> dict[str, Checked]:
    """Each credential's status, by id: ``valid``, ``revoked``, ``suspended`` or ``unchecked``
    with why (its own validity period is :func:`describe`'s); and its issuer's display name
    from the accreditation the registry (rebuilt under the wallet's own roots) holds for it."""
    out: dict[str, Checked] = {}
    transport = ui.transport()
    try:
        client = IssuanceClient(transport)
        checker = StatusListClient(
            TransportFetcher(transport), clock=ui.clock, limits=StatusLimits(cache_entries=0)
        )
        registries: dict[str, TrustRegistry | CivicError] = {}
        for credential in held:
            if credential.iss not in registries:
                try:
                    bundle = client.issuer_trust(credential.iss)
                    # offered=(): the roots are the ones the wallet already trusts, or none
                    registries[credential.iss] = anchor(
                        wallet, offered=(), statements=bundle.statements, source=credential.iss
                    ).registry
                except CivicError as exc:
                    registries[credential.iss] = exc
            registry = registries[credential.iss]
            name = (
                registrar_name(registry, credential.iss)
                if isinstance(registry, TrustRegistry)
                else None
            )
            reference = inspect(credential.sd_jwt).payload.get("status")
            if not isinstance(reference, dict):
                why = "it has no status list: the issuer cannot revoke it"
                out[credential.id] = Checked("valid", why, name)
                continue
            try:
                if isinstance(registry, CivicError):
                    raise registry
                checker.check(reference, credential.iss, registry, ui.clock.now())
            except CivicError as exc:
                state = exc.code if exc.code in ("revoked", "suspended") else "unchecked"
                out[credential.id] = Checked(state, exc.detail, name)
            else:
                out[credential.id] = Checked("valid", "", name)
    finally:
        close(transport)
    return out


def describe(
    credential: StoredCredential, now: int, checked: Checked | None = None
) -> dict[str, Any]:
    """What the credentials page says about one credential (``checked``: its status list's
    answer and its issuer's name from :func:`statuses`)."""
    state, why, issuer_name = checked or Checked("unchecked")
    if credential.nbf is not None and now < credential.nbf:
        status, colour = "Not valid yet", "govuk-tag--yellow"
    elif credential.exp is not None and now >= credential.exp:
        status, colour = "Expired", "govuk-tag--red"
    else:
        status, colour = _CHECKED[state]
    return {
        "why": why if state != "valid" else "",
        "credential": credential,
        "name": type_name(credential.vct),
        "issuer_name": issuer_name,
        "status": status,
        "status_class": colour,
        "claims": [
            (c.path, shown(c.value))
            for c in sorted(revealed_claims(credential.claims), key=lambda c: claim_order(c.path))
        ],
    }


def routes(ui: WalletUI) -> APIRouter:
    """``/credentials``."""
    router = APIRouter()

    @router.get("/credentials")
    async def credentials(request: Request) -> Response:
        session = ui.require(request)
        held = await ui.run(session.wallet.credentials)
        checked = await ui.run(statuses, ui, session.wallet, held)
        now = ui.clock.now()
        return ui.render(
            request,
            session,
            "credentials.html",
            credentials=[describe(c, now, checked.get(c.id)) for c in held],
            notice=request.query_params.get("notice"),
        )

    return router
