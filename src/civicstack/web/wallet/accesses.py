"""The verified access history: every access to the holder's data, proven complete, or a page
that says plainly that it could not be proven.

The page pulls and checks the history through :func:`civicstack.wallet.access_history.
pull_access_history`, exactly as ``civic wallet access-history`` does (no rule is repeated
here): the platform's advertised log key (``GET /access``) is used only until the wallet has
pinned one; every entry's inclusion proof, the holder's chain and the subject map's proof that
nothing is missing are checked on this device.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from civicstack._crypto import json_loads_strict
from civicstack.access.history import VerifiedHistory
from civicstack.consent import CATEGORIES, PURPOSES
from civicstack.errors import CivicError
from civicstack.wallet import Wallet
from civicstack.wallet import consents as consenting
from civicstack.wallet import openid4vp as vp
from civicstack.wallet.access_history import pull_access_history
from civicstack.wallet.transport import error_from
from civicstack.web.wallet.session import UPSTREAM, WalletUI, close

#: A history of 10,000 entries with their proofs is about 15 MB; nothing larger is read
#: (the same cap as ``civic wallet access-history``).
HISTORY_BYTES = 32 * 1024 * 1024

#: What a failed check means for the holder, by kind: the page's title, what it means, what
#: to do. Codes are the ones :func:`civicstack.access.history.verify_history` and the wallet
#: raise; any other code is shown as the ``unproven`` kind.
_KINDS: dict[str, tuple[str, str, str]] = {
    "incomplete": (
        "Your access history is incomplete",
        "The platform's log says more happened with your data than the history it sent "
        "shows. Some accesses to your information may be missing from this list, so it "
        "cannot be relied on.",
        "Nothing has changed in your wallet and you do not need to do anything at once. Try "
        "again later. If this keeps happening, report it to the organisation that runs the "
        "platform and to the data protection authority, and keep the error code below.",
    ),
    "unproven": (
        "Your access history could not be verified",
        "Your wallet checks every record against the platform's signed log. The records it "
        "received do not match that log, so your wallet will not show them: they may have "
        "been changed on the way or by the platform.",
        "Your information in this wallet is safe and nothing was shared. Try again later. "
        "If this keeps happening, report it to the organisation that runs the platform and "
        "to the data protection authority, and keep the error code below.",
    ),
    "wrong_subject": (
        "The platform sent someone else's access history",
        "The history the platform sent is not about you, so your wallet will not show it.",
        "Nothing was shared from your wallet. Report this to the organisation that runs the "
        "platform, with the error code below.",
    ),
    "unreachable": (
        "Your access history cannot be fetched right now",
        "Your wallet could not reach the platform's access log.",
        "Check your internet connection and try again in a few minutes.",
    ),
    "no_identity": (
        "Add your identity credential first",
        "Your wallet proves who you are to the access log with your identity credential "
        "(PID), and it holds none.",
        "Add your identity credential, then come back to this page.",
    ),
}

_INCOMPLETE = frozenset(
    {"access_history_incomplete", "access_history_rollback", "map_root_missing"}
)


def kind_of(error: CivicError) -> str:
    """Which of the page's explanations fits ``error``."""
    if error.code in _INCOMPLETE:
        return "incomplete"
    if error.code == "wrong_subject":
        return "wrong_subject"
    if error.code in UPSTREAM:
        return "unreachable"
    if error.code in ("credential_not_found", "no_matching_credential"):
        return "no_identity"
    return "unproven"


def fetch_history(ui: WalletUI, wallet: Wallet) -> VerifiedHistory:
    """The holder's verified history from the platform (``ui.settings.platform``)."""
    base = ui.settings.platform.rstrip("/")
    transport = ui.transport()
    try:
        status, raw = transport.send(
            "GET", base + "/access", max_bytes=64 * 1024, headers={"Accept": "application/json"}
        )
        if not 200 <= status < 300:
            raise error_from(status, raw, base + "/access")
        advertised = json_loads_strict(raw)
        key = advertised.get("verifier_key") if isinstance(advertised, dict) else None
        if not isinstance(key, str):
            raise CivicError("malformed", "the platform's access log names no verifier key")

        def post(path: str, body: Any) -> Any:
            status, raw = transport.send(
                "POST",
                base + path,
                max_bytes=HISTORY_BYTES,
                json=body,
                headers={"Accept": "application/json"},
            )
            if not 200 <= status < 300:
                raise error_from(status, raw, base + path)
            return json_loads_strict(raw)

        return pull_access_history(wallet, post, verifier_key=key)
    finally:
        close(transport)


def organisations(
    ui: WalletUI, wallet: Wallet, verified: VerifiedHistory
) -> dict[tuple[str, str], consenting.RequesterStanding]:
    """How each requester (and provider) of ``verified`` stands in the trust registry the
    wallet rebuilds under its own roots, by ``(organisation, purpose)``: their registered names
    and purposes. Empty when the registry cannot be read (the page then shows the platform's
    own names: the history itself is verified either way)."""
    transport = ui.transport()
    try:
        registry = vp.platform_trust(wallet, transport, ui.settings.platform).registry
    except CivicError:
        return {}
    finally:
        close(transport)
    now = wallet.now()
    asked = {(e.entry.requester, e.entry.purpose) for e in verified.entries}
    asked |= {(e.entry.provider, "") for e in verified.entries}
    return {
        (org, purpose): consenting.requester_standing(registry, org, purpose, now=now)
        for org, purpose in asked
    }


def describe(
    verified: VerifiedHistory,
    standing: Mapping[tuple[str, str], consenting.RequesterStanding] | None = None,
) -> dict[str, Any]:
    """What the page shows of a verified history: the checkpoint, and the entries newest first
    (organisations by their registered names where ``standing`` knows them)."""
    standing = standing or {}

    def name(org: str, purpose: str = "") -> str:
        known = standing.get((org, purpose))
        return ", ".join(known.names) if known and known.names else org

    def why(org: str, purpose: str) -> str:
        known = standing.get((org, purpose))
        if known and known.purpose_description:
            return known.purpose_description
        return PURPOSES.get(purpose, purpose)

    return {
        "size": verified.checkpoint.size,
        "origin": verified.checkpoint.origin,
        "witnesses": [c.witness.name for c in verified.cosignatures],
        "entries": [
            {
                "index": e.index,
                "time": e.entry.time,
                "requester": name(e.entry.requester, e.entry.purpose),
                "provider": name(e.entry.provider),
                "service": e.entry.service,
                "purpose": why(e.entry.requester, e.entry.purpose),
                "categories": [CATEGORIES.get(c, c) for c in e.entry.categories],
                "released": e.entry.outcome == "released",
                "refusal": e.entry.refusal,
                "consent": e.entry.consent,
                "consent_version": e.entry.consent_version,
            }
            for e in sorted(verified.entries, key=lambda e: e.index, reverse=True)
        ],
    }


def routes(ui: WalletUI) -> APIRouter:
    """``/access-history``."""
    router = APIRouter()

    @router.get("/access-history")
    async def access_history(request: Request) -> Response:
        session = ui.require(request)
        try:
            verified = await ui.run(fetch_history, ui, session.wallet)
        except CivicError as exc:
            kind = kind_of(exc)
            title, meaning, action = _KINDS[kind]
            state = await ui.run(session.wallet.access_log_state) or {}
            return ui.render(
                request,
                session,
                "access_history_problem.html",
                status_code=502,
                title=title,
                meaning=meaning,
                action=action,
                kind=kind,
                failure=exc,
                last_size=state.get("size"),
            )
        standing = await ui.run(organisations, ui, session.wallet, verified)
        return ui.render(
            request, session, "access_history.html", history=describe(verified, standing)
        )

    return router
