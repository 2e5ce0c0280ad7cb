"""Custodian tokens (admin): issue, list, show, revoke, and their audit trail.

Routes under ``/-/`` cannot name a register (a register name starts with a letter), so they never
shadow one. Every answer is ``Cache-Control: no-store``: it is the admin's, and changes.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from civicstack.api.registers._docs import (
    CUSTODIAN_DOC,
    EVENTS_DOC,
    TOKEN_DOC,
    TOKENS_DOC,
    TokenIn,
    admin_responses,
)
from civicstack.api.registers._requests import INT64, Authorization, Name, registers_api

router = APIRouter()

TokenId = Annotated[
    str, Path(max_length=32, description="The token's public id (ct_ and 16 hex digits).")
]


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json",
        headers={"Cache-Control": "no-store"},
    )


@router.get(
    "/-/custodian-tokens",
    summary="List every register's custodian tokens (admin); never their secrets",
    responses=admin_responses(TOKENS_DOC, "The tokens, oldest first."),
)
def list_all(request: Request, authorization: Authorization = None) -> Response:
    """Every custodian token of the platform."""
    api = registers_api(request)
    api.authorise(None, authorization)
    now = api.clock.now()
    return _json({"tokens": [t.to_json(now) for t in api.registers.custodian_tokens()]})


@router.get(
    "/-/custodian-tokens/{token_id}",
    summary="Show a custodian token (admin): its register, label, expiry and revocation",
    responses=admin_responses(CUSTODIAN_DOC, "The token."),
)
def show(request: Request, token_id: TokenId, authorization: Authorization = None) -> Response:
    """One custodian token by its id."""
    api = registers_api(request)
    api.authorise(None, authorization)
    return _json(api.registers.custodian_token(token_id).to_json(api.clock.now()))


@router.post(
    "/-/custodian-tokens/{token_id}/revoke",
    summary="Revoke a custodian token (admin): its next write is refused, in every process",
    responses=admin_responses(CUSTODIAN_DOC, "The revoked token (revoking again changes nothing)."),
)
def revoke(request: Request, token_id: TokenId, authorization: Authorization = None) -> Response:
    """Revoke a custodian token."""
    api = registers_api(request)
    writer = api.authorise(None, authorization)
    now = api.clock.now()
    token = api.registers.revoke_custodian_token(token_id, now=now, actor=writer.actor)
    return _json(token.to_json(now))


@router.get(
    "/-/custodian-events",
    summary="The custodian tokens' audit trail (admin): issued, revoked, refused writes",
    responses=admin_responses(EVENTS_DOC, "Events after the cursor, oldest first."),
)
def audit(
    request: Request,
    *,
    authorization: Authorization = None,
    register: Annotated[
        str | None, Query(max_length=64, description="Only this register's tokens.")
    ] = None,
    token: Annotated[str | None, Query(max_length=32, description="Only this token.")] = None,
    after: Annotated[
        int, Query(ge=0, le=INT64, description="Events after this sequence number.")
    ] = 0,
    page_size: Annotated[
        int, Query(alias="page-size", ge=1, le=1000, description="Events per page (1-1000).")
    ] = 100,
) -> Response:
    """The audit trail of custodian tokens."""
    api = registers_api(request)
    api.authorise(None, authorization)
    events = api.registers.custodian_events(
        register=register, token_id=token, after=after, limit=page_size
    )
    return _json({"events": [e.to_json() for e in events]})


@router.post(
    "/{name}/custodian-tokens",
    summary="Issue a custodian token for the register (admin); the secret is shown once",
    responses=admin_responses(TOKEN_DOC, "The token and its record.", 201),
)
def issue(
    request: Request, name: Name, body: TokenIn, authorization: Authorization = None
) -> Response:
    """Issue a custodian token for the register."""
    api = registers_api(request)
    writer = api.authorise(None, authorization)
    now = api.clock.now()
    secret, token = api.registers.issue_custodian(
        name, label=body.label, now=now, expires_in=body.expires_in, actor=writer.actor
    )
    return _json({**token.to_json(now), "token": secret}, 201)


@router.get(
    "/{name}/custodian-tokens",
    summary="List the register's custodian tokens (admin); never their secrets",
    responses=admin_responses(TOKENS_DOC, "The tokens, oldest first."),
)
def list_register(request: Request, name: Name, authorization: Authorization = None) -> Response:
    """The register's custodian tokens."""
    api = registers_api(request)
    api.authorise(None, authorization)
    now = api.clock.now()
    return _json({"tokens": [t.to_json(now) for t in api.registers.custodian_tokens(name)]})
