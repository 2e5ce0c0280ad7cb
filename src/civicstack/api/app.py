"""The platform app: one process serving every service (``civic up``).

Each service is its own FastAPI sub-application (so it publishes its own OpenAPI 3.1 document at
``/<mount>/openapi.json`` with docs at ``/<mount>/docs``) created by :func:`service_app` and
listed in the catalogue at ``/``. Routes that specs pin to the server root (``/.well-known/...``)
live on the root app. ``GET /healthz`` answers 200 once every service is ready.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from civicstack import __version__
from civicstack.api.control_characters import ControlCharacters
from civicstack.api.docs import install_docs, mount_docs_assets
from civicstack.api.limits import BodySizeLimit
from civicstack.api.problems import install_problem_handlers, problem
from civicstack.platform import Platform
from civicstack.settings import Settings


@dataclass(frozen=True)
class Service:
    """A mounted service, as the catalogue lists it."""

    mount: str
    title: str
    summary: str
    specs: tuple[str, ...] = ()
    #: Routes the service needs at the server root (``/.well-known/...``), if any.
    routes: APIRouter | None = None
    #: Wraps the served app to answer a hot path ahead of routing (see :func:`wrap`), if any.
    fast_path: Callable[[ASGIApp], ASGIApp] | None = None


#: A service factory builds its sub-app for a platform and says how to list it.
ServiceFactory = Callable[[Platform], tuple[Service, FastAPI]]


def service_app(title: str, summary: str, *, version: str = __version__) -> FastAPI:
    """A sub-application with problem+json handlers and OpenAPI 3.1 metadata."""
    app = FastAPI(title=title, description=summary, version=version, docs_url=None, redoc_url=None)
    install_problem_handlers(app)
    install_docs(app)
    return app


def service_factories() -> list[ServiceFactory]:
    """Every service the platform serves, in catalogue order (components add theirs here)."""
    from civicstack.api.issuers import issuers_service
    from civicstack.api.registers import registers_service
    from civicstack.api.trust import trust_service
    from civicstack.api.verifier import verifier_service

    return [issuers_service, verifier_service, trust_service, registers_service]


def create_app(platform: Platform, factories: list[ServiceFactory] | None = None) -> FastAPI:
    """The root app with every service mounted."""
    root = FastAPI(
        title="civicstack",
        description="Government as a platform: every service, one process.",
        version=__version__,
        docs_url=None,
        redoc_url=None,
    )
    install_problem_handlers(root)
    install_docs(root)
    mount_docs_assets(root)
    root.state.platform = platform
    services: list[Service] = []
    for factory in service_factories() if factories is None else factories:
        service, sub = factory(platform)
        root.mount(service.mount, sub)
        # The mount point itself (``/registers``) is the service's root, not a redirect to it.
        root.router.routes.append(Route(service.mount, _ServiceRoot(sub), include_in_schema=False))
        if service.routes is not None:
            root.include_router(service.routes)
        services.append(service)
    root.state.services = services

    @root.get("/healthz", tags=["platform"], summary="Readiness: 200 once every service is ready")
    def healthz() -> JSONResponse:
        try:
            platform.ping()
        except Exception:  # any database failure means "not ready"
            return problem("internal_error", "the database is not reachable", status=503)
        return JSONResponse({"status": "ok", "services": [s.mount for s in services]})

    @root.get("/", response_class=HTMLResponse, tags=["platform"], summary="Service catalogue")
    def catalogue() -> HTMLResponse:
        return HTMLResponse(_catalogue_html(services))

    @root.get("/services", tags=["platform"], summary="Service catalogue as JSON")
    def services_json() -> list[dict[str, object]]:
        return [
            {
                "mount": s.mount,
                "title": s.title,
                "summary": s.summary,
                "openapi": f"{s.mount}/openapi.json",
                "docs": f"{s.mount}/docs",
                "specs": list(s.specs),
            }
            for s in services
        ]

    return root


class _ServiceRoot:
    """Serves a mounted sub-app's ``/`` at the bare mount path (ASGI)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        mount = scope.get("root_path", "") + scope["path"]
        await self.app(
            {**scope, "root_path": mount, "path": mount + "/", "raw_path": None}, receive, send
        )


def _catalogue_html(services: list[Service]) -> str:
    rows = "\n".join(
        f"<tr><td><a href='{html.escape(s.mount)}/docs'>{html.escape(s.title)}</a></td>"
        f"<td>{html.escape(s.summary)}</td><td>{html.escape(', '.join(s.specs))}</td>"
        f"<td><a href='{html.escape(s.mount)}/openapi.json'>OpenAPI 3.1</a></td></tr>"
        for s in services
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>civicstack services</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ccc;padding:.5rem;
text-align:left;vertical-align:top}}</style></head>
<body><h1>civicstack</h1>
<p>Every service of this platform publishes its API as OpenAPI 3.1. Errors are
<code>application/problem+json</code> (RFC 9457) with a stable <code>code</code>.</p>
<table><thead><tr><th>Service</th><th>What it does</th><th>Standards</th><th>API</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<p><a href="/healthz">/healthz</a> · civicstack {__version__}</p></body></html>"""


def wrap(app: FastAPI, max_body: int) -> BodySizeLimit:
    """The ASGI app as served: the root app, the services' fast paths, control characters
    refused (api/control_characters.py), the body size cap."""
    served: ASGIApp = app
    for service in app.state.services:
        if service.fast_path is not None:
            served = service.fast_path(served)
    return BodySizeLimit(ControlCharacters(served), max_body)


def create_app_from_env() -> BodySizeLimit:
    """Uvicorn factory for worker processes: settings from the environment ``civic up`` set."""
    platform = Platform(Settings.from_env())
    return wrap(create_app(platform), max_body=10 * 1024 * 1024)
