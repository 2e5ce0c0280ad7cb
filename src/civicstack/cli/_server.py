"""Talking to a running platform from the CLI: ``--server URL`` and the admin token."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any

import httpx
import typer

from civicstack.errors import CODES, CivicError
from civicstack.settings import Settings

DEFAULT_SERVER = "http://127.0.0.1:8000"

#: The one way to name the platform's server: ``--server URL`` or ``CIVIC_SERVER``, on every
#: command that talks to it (default :data:`DEFAULT_SERVER`, where ``civic up`` listens).
ServerOption = Annotated[
    str,
    typer.Option(
        "--server",
        envvar="CIVIC_SERVER",
        help="Base URL of the running platform (CIVIC_SERVER).",
        show_default=True,
    ),
]
#: ``--server`` for a command given a link that names its own server (``wallet present``):
#: only an override.
LinkServerOption = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="CIVIC_SERVER",
        help="Base URL of the platform (CIVIC_SERVER; default: the one the link names).",
    ),
]


def admin_token() -> str:
    """``CIVIC_ADMIN_TOKEN``, else the token ``civic up`` wrote into the data dir."""
    token = os.environ.get("CIVIC_ADMIN_TOKEN")
    if token:
        return token
    path = Settings.from_env().data_dir / "admin-token"
    try:
        return path.read_text().strip()
    except OSError as exc:
        raise CivicError(
            "unauthorized", f"no admin token: set CIVIC_ADMIN_TOKEN or run civic up ({path})"
        ) from exc


@contextmanager
def server(url: str, *, admin: bool = False, timeout: float = 30.0) -> Iterator[httpx.Client]:
    """An HTTP client for the platform at ``url``; connection failures become one coded error."""
    headers = {"Authorization": f"Bearer {admin_token()}"} if admin else {}
    with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout) as client:
        try:
            yield client
        except httpx.TransportError as exc:
            raise unreachable(url, exc) from exc


def unreachable(url: str, exc: Exception) -> CivicError:
    """``server_unreachable``: nothing answers at ``url``, and how to name another."""
    return CivicError(
        "server_unreachable",
        f"nothing answers at {url} ({exc or type(exc).__name__}): start it with `civic up`,"
        " or name the server with --server or CIVIC_SERVER",
    )


def raise_for_problem(response: httpx.Response) -> None:
    """Turn a problem+json (or any error) response into the CivicError it describes."""
    if response.is_success:
        return
    code, detail = "internal_error", f"HTTP {response.status_code}"
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        if body.get("code") in CODES:
            code = str(body["code"])
        detail = str(body.get("detail") or body.get("error_description") or detail)
    elif response.status_code == 404:
        code = "not_found"
    raise CivicError(code, detail)
