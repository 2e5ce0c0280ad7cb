"""The services' catalogue: what a mounted service is, how its sub-app is made, the page at ``/``.

Each router module (:mod:`civicstack.api.issuers`, :mod:`civicstack.api.verifier`, ...) builds
its sub-application with :func:`service_app` and describes it as a :class:`Service`;
:mod:`civicstack.api.app` mounts them and serves :func:`catalogue_html`.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp

from civicstack import __version__
from civicstack.api.docs import install_docs
from civicstack.api.problems import install_problem_handlers
from civicstack.platform import Platform


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


def catalogue_html(services: list[Service]) -> str:
    """The catalogue page: every service with its docs, standards and OpenAPI document."""
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
