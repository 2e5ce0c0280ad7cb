"""The platform app: one process serving every service (``civic up``).

Each service is its own FastAPI sub-application (so it publishes its own OpenAPI 3.1 document at
``/<mount>/openapi.json`` with docs at ``/<mount>/docs``) created by :func:`service_app`, and
listed in the catalogue at ``/``. Routes that specs pin to the server root (``/.well-known/...``)
live on the root app.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import FastAPI

from civicstack import __version__
from civicstack.api.problems import install_problem_handlers


@dataclass(frozen=True)
class Service:
    """A mounted service, as the catalogue lists it."""

    mount: str
    title: str
    summary: str
    specs: tuple[str, ...] = field(default_factory=tuple)


def service_app(title: str, summary: str, *, version: str = __version__) -> FastAPI:
    """A sub-application with problem+json handlers and OpenAPI 3.1 metadata."""
    app = FastAPI(title=title, description=summary, version=version)
    install_problem_handlers(app)
    return app
