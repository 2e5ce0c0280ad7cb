"""Problem Details for HTTP APIs (RFC 9457) carrying civicstack's stable error codes.

Every error response is ``application/problem+json`` with ``type`` =
``urn:civicstack:error:<code>`` (RFC 9457 §3.1.1 allows a URN), ``title``, ``status``, ``detail``
and the extension member ``code`` (§3.2). No handler lets an exception become a bare 500 with a
traceback: unexpected exceptions are logged and answered with ``internal_error``.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from civicstack.errors import CODES, CivicError, ProtocolError, RetryLaterError

log = logging.getLogger("civicstack.api")

PROBLEM_JSON = "application/problem+json"

_STATUS_CODES = {
    400: "invalid_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "invalid_request",
    409: "conflict",
    413: "too_large",
    415: "invalid_request",
    429: "rate_limited",
    422: "invalid_request",
}


def problem(
    code: str, detail: str = "", *, status: int | None = None, **extra: Any
) -> JSONResponse:
    """A problem+json response for ``code``."""
    http_status, title = CODES[code]
    body: dict[str, Any] = {
        "type": f"urn:civicstack:error:{code}",
        "title": title,
        "status": status or http_status,
        "detail": detail or title,
        "code": code,
        **extra,
    }
    headers = {"WWW-Authenticate": 'Bearer realm="civicstack"'} if code == "unauthorized" else None
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


#: OpenAPI description of the problem body, for ``responses=`` on routes.
PROBLEM_SCHEMA: dict[str, Any] = {
    "content": {
        PROBLEM_JSON: {
            "schema": {
                "type": "object",
                "required": ["type", "title", "status", "code"],
                "properties": {
                    "type": {"type": "string"},
                    "title": {"type": "string"},
                    "status": {"type": "integer"},
                    "detail": {"type": "string"},
                    "code": {"type": "string", "enum": sorted(CODES)},
                },
            }
        }
    },
    "description": "Problem Details (RFC 9457) with a stable `code`.",
}


def install_problem_handlers(app: FastAPI) -> None:
    """Route every error an app can raise through :func:`problem`."""

    async def civic_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, CivicError)
        if isinstance(exc, ProtocolError):
            response = problem(
                exc.code, exc.detail, error=exc.oauth_error, error_description=exc.detail
            )
            response.headers["Cache-Control"] = "no-store"
            if response.status_code == 401:  # RFC 6750 §3: the challenge names the error
                response.headers["WWW-Authenticate"] = f'Bearer error="{exc.oauth_error}"'
            return response
        response = problem(exc.code, exc.detail)
        if isinstance(exc, RetryLaterError):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()[:20]
        ]
        return problem("invalid_request", "the request does not match the API", errors=errors)

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = _STATUS_CODES.get(exc.status_code, "invalid_request")
        detail = exc.detail if isinstance(exc.detail, str) else ""
        return problem(code, detail, status=exc.status_code)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem("internal_error")

    app.add_exception_handler(CivicError, civic_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(Exception, unexpected)
