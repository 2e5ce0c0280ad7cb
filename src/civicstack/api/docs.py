"""API documentation pages (Swagger UI, ReDoc) that work offline.

FastAPI's default docs pages load Swagger UI, ReDoc, a favicon and Google Fonts from outside
hosts, so an air-gapped deployment saw white pages. Here the assets come from the
``fastapi-offline`` package (Swagger UI and ReDoc bundles, maintained on PyPI) and are served by
the platform itself at :data:`ASSETS_MOUNT`; no page refers to another host.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

__all__ = ["ASSETS_MOUNT", "install_docs", "mount_docs_assets"]

#: Where the root app serves the documentation assets.
ASSETS_MOUNT = "/_assets/api-docs"


def _assets_directory() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def mount_docs_assets(root: FastAPI) -> None:
    """Serve Swagger UI's and ReDoc's files from the package at :data:`ASSETS_MOUNT`."""
    root.mount(ASSETS_MOUNT, StaticFiles(directory=_assets_directory()), name="api-docs-assets")


def install_docs(app: FastAPI) -> None:
    """``/docs`` (Swagger UI) and ``/redoc`` on ``app`` (created with ``docs_url=None,
    redoc_url=None``), loading only this server's assets; works mounted under a prefix."""
    title = app.title

    @app.get("/docs", include_in_schema=False)
    def swagger_ui(request: Request) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=_openapi_url(app, request),
            title=f"{title} — API",
            swagger_js_url=f"{ASSETS_MOUNT}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_MOUNT}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_MOUNT}/favicon.png",
            # no call to the public validator service either
            swagger_ui_parameters={"validatorUrl": None},
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc(request: Request) -> HTMLResponse:
        return get_redoc_html(
            openapi_url=_openapi_url(app, request),
            title=f"{title} — API",
            redoc_js_url=f"{ASSETS_MOUNT}/redoc.standalone.js",
            redoc_favicon_url=f"{ASSETS_MOUNT}/favicon.png",
            with_google_fonts=False,
        )


def _openapi_url(app: FastAPI, request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/") + (app.openapi_url or "")
