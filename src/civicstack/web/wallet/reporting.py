"""Report a change (tell us once): what changed, the screen, then signed and sent.

The report is checked by :func:`civicstack.changes.parse_change` before the screen shows it,
and signed and sent by :func:`civicstack.wallet.changes.report_change`, as ``civic wallet
report-change`` does.
"""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from civicstack.changes import PROVIDER, parse_change
from civicstack.consent import CATEGORIES
from civicstack.errors import CivicError, InputError
from civicstack.wallet import changes as reporting
from civicstack.web.wallet.session import WalletUI, hold

#: The changes a citizen reports from the web wallet, and the fields each takes.
KIND_FIELDS = {
    "address": ("uprn",),
    "name": ("given_name", "family_name"),
    "contact": ("email", "phone"),
}


def routes(ui: WalletUI) -> APIRouter:
    """``/changes`` and ``/changes/{handle}``."""
    router = APIRouter()

    @router.get("/changes")
    async def change_form(request: Request) -> Response:
        session = ui.require(request)
        return ui.render(request, session, "change.html", values={}, error=None)

    @router.post("/changes")
    async def change_check(request: Request) -> Response:
        session, form = await ui.require_post(request)
        values = {k: v.strip() for k, v in form.items() if k != "csrf"}
        fields = KIND_FIELDS.get(values.get("kind", ""))
        try:
            if fields is None:
                raise InputError("invalid_change", "Choose what has changed")
            given = {name: values[name] for name in fields if values.get(name)}
            change = parse_change({"kind": values["kind"], **given}).to_json()
        except CivicError as exc:
            return ui.render(
                request, session, "change.html", status_code=400, values=values, error=exc
            )
        handle = hold(session.changes, change)
        return RedirectResponse(f"/changes/{handle}", status_code=303)

    @router.get("/changes/{handle}")
    async def change_screen(request: Request, handle: str) -> Response:
        session = ui.require(request)
        change = session.changes.get(handle)
        if change is None:
            return RedirectResponse("/changes", status_code=303)
        parsed = parse_change(change)
        category = CATEGORIES.get(parsed.category, parsed.category) if parsed.category else None
        return ui.render(
            request,
            session,
            "change_confirm.html",
            handle=handle,
            change=parsed,
            disclosed=reporting.disclosed_for(parsed.kind),
            category=category,
            provider=PROVIDER,
        )

    @router.post("/changes/{handle}")
    async def change_send(request: Request, handle: str) -> Response:
        session, form = await ui.require_post(request)
        change = session.changes.pop(handle, None)
        if change is None:
            return RedirectResponse("/changes", status_code=303)
        if form.get("decision") != "send":
            return RedirectResponse("/credentials?notice=change-cancelled", status_code=303)
        try:
            status = await ui.run(reporting.report_change, session.wallet, ui.post_json, change)
        except CivicError as exc:
            return ui.problem(request, session, exc, title="Your change was not reported")
        return ui.render(request, session, "change_sent.html", status=status)

    return router
