"""The services' catalogue: what a mounted service is, how its sub-app is made, the page at ``/``.

Each router module (:mod:`civicstack.api.issuers`, :mod:`civicstack.api.verifier`, ...) builds
its sub-application with :func:`service_app` and describes it as a :class:`Service`;
:mod:`civicstack.api.app` mounts them and serves :func:`catalogue_page` (``web/templates/
catalogue.html`` on the pages' layout).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp

from civicstack import __version__
from civicstack.api.docs import install_docs
from civicstack.api.problems import install_problem_handlers
from civicstack.platform import Platform
from civicstack.web import Pages


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


def catalogue_page(pages: Pages, services: list[Service]) -> HTMLResponse:
    """The catalogue page: every service with its docs, standards and OpenAPI document."""
    return pages.render("catalogue.html", {"services": services, "version": __version__})
