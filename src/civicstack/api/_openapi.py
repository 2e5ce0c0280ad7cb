"""OpenAPI descriptions and request plumbing shared by the issuers' HTTP modules."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from civicstack.api.problems import PROBLEM_SCHEMA

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
OBJECT: dict[str, Any] = {"type": "object"}


def json_response(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A documented JSON response."""
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """Documented problem+json responses: ``statuses``, and those any route can meet (a
    malformed path 400, an unknown issuer 404, a body over the cap 413)."""
    return dict.fromkeys(sorted({400, 404, 413, *statuses}), PROBLEM_SCHEMA)


def request_body(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    """``openapi_extra`` documenting a body the route reads raw and parses itself."""
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}


async def _raw_body(request: Request) -> bytes:
    return await request.body()


#: The request body, read before a (sync) route runs in the thread pool.
RawBody = Annotated[bytes, Depends(_raw_body)]
