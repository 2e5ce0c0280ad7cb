"""The platform app: one process serving every service (``civic up``).

Each service is its own FastAPI sub-application (so it publishes its own OpenAPI 3.1 document at
``/<mount>/openapi.json`` with docs at ``/<mount>/docs``) created by
:func:`~civicstack.api.catalogue.service_app` and listed in the catalogue at ``/``. Routes that
specs pin to the server root (``/.well-known/...``) live on the root app. ``GET /healthz``
answers 200 once every service is ready.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from civicstack import __version__
from civicstack.api.access import access_service
from civicstack.api.catalogue import Service, ServiceFactory, catalogue_page, service_app
from civicstack.api.changes import changes_service
from civicstack.api.consent import consent_service
from civicstack.api.control_characters import ControlCharacters
from civicstack.api.docs import install_docs, mount_docs_assets
from civicstack.api.events import events_service
from civicstack.api.exchange import exchange_service
from civicstack.api.gov_services import gov_service_factories
from civicstack.api.gp import gp_service
from civicstack.api.issuers import issuers_service
from civicstack.api.limits import BodySizeLimit
from civicstack.api.oidc import oidc_service
from civicstack.api.problems import install_problem_handlers, problem
from civicstack.api.registers import registers_service
from civicstack.api.trust import trust_service
from civicstack.api.verifier import verifier_service
from civicstack.platform import Platform
from civicstack.settings import Settings
from civicstack.web import Pages, Theme

__all__ = [
    "Service",
    "ServiceFactory",
    "create_app",
    "create_app_from_env",
    "max_body",
    "service_app",
    "service_factories",
    "wrap",
]


def service_factories() -> list[ServiceFactory]:
    """Every service the platform serves, in catalogue order (components add theirs here)."""
    return [
        issuers_service,
        verifier_service,
        trust_service,
        registers_service,
        consent_service,
        # data exchange and its access log (issue 11)
        exchange_service,
        access_service,
        gp_service,  # GP registration over the exchange (issue 11)
        events_service,  # tell us once (issue 13)
        changes_service,  # tell us once: change reports and the electoral roll (issue 13)
        oidc_service,  # one login: the OpenID Provider (issue 14)
        *gov_service_factories(),  # its demo clients: /services/tax, health, council
    ]


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
    # The pages' environment: routers render with ``request.app.state.pages.render(...)``.
    pages = Pages(theme=Theme.from_settings(platform.settings))
    pages.mount_static(root)
    root.state.pages = pages
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
        return catalogue_page(pages, services)

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
    app = wrap(create_app(platform), max_body=max_body(platform))
    start_access_log_writer(platform)
    return app


def start_access_log_writer(platform: Platform) -> None:
    """Start the access log's writer process now (``CIVIC_ACCESS_LOG_WRITER=process``), so
    that a worker's first fetch does not wait for it to start."""
    from civicstack.services.exchange import AccessLogProcess

    recorder = platform.exchange.access_log
    if isinstance(recorder, AccessLogProcess):
        recorder.start()


def max_body(platform: Platform) -> int:
    """The platform's body cap: the largest request it takes is a citizen's application, so
    the cap is that application's (:attr:`ApplicationLimits.max_body`, the one rule the
    documents' allowance and the cap share). Every route caps its own body lower."""
    return platform.application_limits.max_body
