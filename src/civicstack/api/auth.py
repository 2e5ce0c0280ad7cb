"""Authentication for admin endpoints: ``Authorization: Bearer <admin token>`` (RFC 6750 §2.1)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Request

from civicstack.platform import Platform


def bearer_token(request: Request) -> str | None:
    """The bearer token of the request, if it carries one."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def admin_guard(platform: Platform) -> Callable[[Request], None]:
    """A FastAPI dependency that raises ``unauthorized`` unless the admin token is presented.

    Use as ``dependencies=[Depends(admin_guard(platform))]`` on admin routes; document the
    ``bearerAuth`` security scheme on the service so its OpenAPI says so.
    """

    def guard(request: Request) -> None:
        platform.check_admin(bearer_token(request))

    return guard
