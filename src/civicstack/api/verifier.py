"""The verifier service for relying parties (``/verifier``): OpenID4VP 1.0 over HTTP.

Two audiences:

* a relying party's backend, authenticated with a bearer token (RFC 6750 §2.1): the admin token
  (acting for any relying party, named in the body) or the relying party's own API key. It
  creates requests from a preset or a DCQL query (``POST /requests``), reads their outcome
  (``GET /requests/{id}``), and verifies presentations it received some other way
  (``POST /verify``, the lean path ``bench/http.py`` drives);
* wallets, unauthenticated as the protocol has it: the Request Object by reference
  (``GET /request-objects/{id}``, RFC 9101 §5.2, ``application/oauth-authz-req+jwt``) and the
  Response URI (``POST /responses``, ``direct_post``, §8.2: ``application/x-www-form-urlencoded``
  with ``vp_token`` and ``state``, or ``error``). Anyone holding the link can post there: an
  answer that fails is refused to its sender and listed to the relying party as an attempt,
  and the request stays open for the holder's wallet until it expires.

A verified result is read once (``GET /requests/{id}``), then deleted: reading it again is
``410 result_fetched``; unread, it goes after ``CIVIC_VERIFIER_RESULT_RETENTION`` seconds
(``410 result_purged``).

Errors are problem+json with civicstack's stable codes; the Response URI also says ``error``
and ``error_description`` as OAuth clients expect (:class:`~civicstack.errors.ProtocolError`).
"""

# No `from __future__ import annotations`: FastAPI resolves the dependencies named in route
# annotations (closures over the platform) at definition time.
import logging
import re
from typing import Annotated, Any, Literal
from urllib.parse import parse_qsl

from fastapi import Depends, FastAPI, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from civicstack._crypto import json_dumps, json_object_strict
from civicstack.api.auth import admin_guard, bearer_token
from civicstack.api.catalogue import Service, service_app
from civicstack.api.handover import add_request_page
from civicstack.api.problems import PROBLEM_SCHEMA, problem
from civicstack.errors import CivicError, InputError, ProtocolError
from civicstack.openid4vp import REQUEST_MEDIA_TYPE, DcqlQuery
from civicstack.openid4vp import Limits as VpLimits
from civicstack.platform import Platform
from civicstack.services.verifier import PRESETS, Caller, Verifier

log = logging.getLogger("civicstack.api")
SUMMARY = (
    "OpenID4VP 1.0 verifier for registered relying parties: DCQL queries, signed request "
    "objects by reference, direct_post responses, results by API."
)
_ID = r"^[A-Za-z0-9_-]{1,32}$"
_SLUG = r"^[a-z0-9][a-z0-9-]{0,62}$"
_FORM = "application/x-www-form-urlencoded"
#: What an Authorization Response form may hold beyond its ``vp_token`` (state, error...).
_FORM_OVERHEAD = 8 * 1024
_FORM_FIELDS = ("vp_token", "state", "error", "error_description")
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: PROBLEM_SCHEMA,
    401: PROBLEM_SCHEMA,
    403: PROBLEM_SCHEMA,
    404: PROBLEM_SCHEMA,
    409: PROBLEM_SCHEMA,
    413: PROBLEM_SCHEMA,
}
_RESULT_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **_PROBLEMS,
    410: {
        **PROBLEM_SCHEMA,
        "description": "result_fetched: the result was read once and deleted; result_purged: "
        "it was deleted unread after its retention (CIVIC_VERIFIER_RESULT_RETENTION).",
    },
}
_bearer = HTTPBearer(auto_error=False, description="The admin token or a relying party's API key")


class CreateRequest(BaseModel):
    """A presentation request to make: a preset, or a DCQL query with its purpose."""

    model_config = ConfigDict(extra="forbid")
    preset: Literal["right_to_work", "age_over_18", "identity"] | None = Field(
        None, description="A ready-made request (see GET /presets)."
    )
    dcql_query: dict[str, Any] | None = Field(
        None, description="A DCQL query (OpenID4VP 1.0 §6), format dc+sd-jwt."
    )
    purpose: str | None = Field(
        None, min_length=1, max_length=256, description="The registered purpose it is for."
    )
    relying_party: str | None = Field(
        None,
        pattern=_SLUG,
        description="The relying party asking (admin token only; an API key acts for its own).",
    )


class CreatedRequestOut(BaseModel):
    """A request made: show ``request`` to the holder (a link or a QR code)."""

    id: str
    request: str = Field(description="openid4vp://?client_id=...&request_uri=...")
    client_id: str
    request_uri: str
    relying_party: str
    purpose: str
    preset: str | None
    expires_at: int
    page: str = Field(
        description="An HTML page to show the holder: the request as a QR code and links, "
        "then its result (it opens with the key it carries; keep it like an API key)"
    )


class ErrorOut(BaseModel):
    """Why a request failed."""

    code: str
    detail: str


class AttemptOut(BaseModel):
    """An answer that did not complete the request (the holder's wallet, or anyone else holding
    the link): when, why (``consent_declined`` for ``access_denied``), a short detail."""

    at: int
    code: str
    detail: str


class OutcomeOut(BaseModel):
    """A request's outcome; a verified one carries its claims this once."""

    id: str
    status: Literal["pending", "verified", "expired", "failed"] = Field(
        description="expired: nothing valid came before the request expired; failed: only "
        "requests failed before failed answers became attempts."
    )
    claims: dict[str, Any] = Field(description="The claims learnt (only those asked for).")
    credentials: dict[str, Any] = Field(description="Per credential query: issuer, type, claims.")
    error: ErrorOut | None
    relying_party: str
    purpose: str
    preset: str | None
    created_at: int
    expires_at: int
    answered_at: int | None
    attempt_count: int = Field(description="Answers that failed (declined ones included).")
    attempts: list[AttemptOut] = Field(description="The first failed answers, oldest first.")


class ResponseAccepted(BaseModel):
    """The Response URI's answer to a processed Authorization Response (§8.2)."""

    status: Literal["verified", "failed"]


class ApiKeyOut(BaseModel):
    """A new API key: the key is shown this once."""

    id: str
    relying_party: str
    api_key: str


class ApiKeyInfo(BaseModel):
    """An API key, without its secret."""

    id: str
    relying_party: str
    created_at: int
    revoked_at: int | None


_VERIFY_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["presentation", "nonce"],
                "additionalProperties": False,
                "properties": {
                    "presentation": {
                        "type": "string",
                        "description": "The SD-JWT+KB the holder presented.",
                    },
                    "nonce": {"type": "string", "description": "The nonce the holder was given."},
                    "aud": {
                        "type": "string",
                        "description": "The KB-JWT audience expected (default: the client_id).",
                    },
                    "relying_party": {
                        "type": "string",
                        "description": "Admin token only: the relying party checking.",
                    },
                    "preset": {"type": "string", "enum": sorted(PRESETS)},
                    "dcql_query": {"type": "object"},
                },
            }
        }
    },
}
_VERIFY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Verified: the issuer, type and claims disclosed.",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["verified", "iss", "vct", "claims"],
                    "properties": {
                        "verified": {"type": "boolean", "const": True},
                        "relying_party": {"type": "string"},
                        "iss": {"type": "string"},
                        "vct": {"type": ["string", "null"]},
                        "claims": {"type": "object"},
                        "disclosed": {"type": "array", "items": {"type": "string"}},
                        "exp": {"type": ["integer", "null"]},
                    },
                }
            }
        },
    },
    **_PROBLEMS,
}
_RESPONSE_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        _FORM: {
            "schema": {
                "type": "object",
                "properties": {
                    "vp_token": {
                        "type": "string",
                        "description": 'JSON: {"<credential query id>": ["<SD-JWT+KB>"]}',
                    },
                    "state": {"type": "string"},
                    "error": {"type": "string"},
                    "error_description": {"type": "string"},
                },
                "required": ["state"],
            }
        }
    },
}


def _read_form(body: bytes, limits: VpLimits) -> dict[str, str | None]:
    """A strict application/x-www-form-urlencoded body: UTF-8, each name once; at most the
    verifier's ``vp_token`` cap plus the other fields'."""
    max_bytes = limits.vp_token_bytes + _FORM_OVERHEAD
    if len(body) > max_bytes:
        raise InputError("too_large", f"responses are at most {max_bytes} bytes")
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError) as exc:
        raise InputError("invalid_request", "the body is not a UTF-8 form") from exc
    form: dict[str, str | None] = {}
    for name, value in pairs:
        if name in form:
            raise InputError("invalid_request", f"{name} appears twice")
        if name in _FORM_FIELDS:
            form[name] = value
    return form


def verifier_service(platform: Platform) -> tuple[Service, FastAPI]:
    """The ``/verifier`` sub-application."""
    app = service_app("Verifier (OpenID4VP 1.0)", SUMMARY)

    def verifier() -> Verifier:
        return platform.verifier

    def caller(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        return verifier().authenticate(bearer_token(request))

    admin = [Depends(admin_guard(platform)), Depends(_bearer)]

    @app.get("/presets", tags=["relying parties"], summary="The ready-made requests")
    def presets() -> list[dict[str, Any]]:
        return [p.to_json() for p in PRESETS.values()]

    @app.post(
        "/requests",
        status_code=201,
        tags=["relying parties"],
        summary="Make a presentation request (from a preset or a DCQL query)",
        responses=_PROBLEMS,
    )
    def create_request(
        body: CreateRequest, who: Annotated[Caller, Depends(caller)]
    ) -> CreatedRequestOut:
        created = verifier().create_request(
            who,
            relying_party=body.relying_party,
            preset=body.preset,
            dcql_query=body.dcql_query,
            purpose=body.purpose,
        )
        return CreatedRequestOut(**created.to_json())

    @app.get(
        "/requests/{request_id}",
        tags=["relying parties"],
        summary="A request's outcome: pending, verified (with the claims, read once) or expired",
        description="A verified result is handed over once, then deleted: a second read is "
        "410 result_fetched. Unread, it is deleted after CIVIC_VERIFIER_RESULT_RETENTION "
        "seconds (410 result_purged). A pending request may be polled; failed answers, from "
        "the holder's wallet or anyone holding the link, are listed as attempts.",
        responses=_RESULT_PROBLEMS,
    )
    def result(
        request_id: Annotated[str, Path(pattern=_ID)], who: Annotated[Caller, Depends(caller)]
    ) -> OutcomeOut:
        return OutcomeOut(**verifier().result(who, request_id).to_json())

    @app.get(
        "/request-objects/{request_id}",
        tags=["wallets"],
        summary="The signed Request Object (RFC 9101 request_uri)",
        response_class=Response,
        responses={
            200: {
                "description": "A JWT typed oauth-authz-req+jwt.",
                "content": {REQUEST_MEDIA_TYPE: {"schema": {"type": "string"}}},
            },
            **_PROBLEMS,
        },
    )
    def request_object(request_id: Annotated[str, Path(pattern=_ID)]) -> Response:
        token = verifier().request_object(request_id)
        return Response(token, media_type=REQUEST_MEDIA_TYPE, headers={"Cache-Control": "no-store"})

    @app.post(
        "/responses",
        tags=["wallets"],
        summary="The Response URI (response_mode=direct_post)",
        openapi_extra={"requestBody": _RESPONSE_BODY},
        responses=_PROBLEMS,
    )
    async def responses(request: Request) -> ResponseAccepted:
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != _FORM:
            raise ProtocolError(
                "invalid_request", "invalid_request", f"send {_FORM} (OpenID4VP §8.2)"
            )
        form = _read_form(await request.body(), verifier().vp_limits)
        try:
            outcome = verifier().respond(form)
        except CivicError as exc:
            if exc.code in ("internal_error", "database_error"):
                raise
            raise ProtocolError(exc.code, "invalid_request", exc.detail) from exc
        status: Literal["verified", "failed"] = (
            "verified" if outcome.status == "verified" else "failed"
        )
        return ResponseAccepted(status=status)

    @app.post(
        "/verify",
        tags=["relying parties"],
        summary="Verify a presentation received elsewhere against its nonce and audience",
        openapi_extra={"requestBody": _VERIFY_BODY},
        responses=_VERIFY_RESPONSES,
        response_class=Response,
    )
    async def verify(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Response:
        # The same function the fast path (FastVerify) calls, so both answer alike.
        answer = await verify_body(verifier(), bearer_token(request), await request.body())
        return Response(answer, media_type="application/json")

    @app.post(
        "/relying-parties/{name}/api-keys",
        status_code=201,
        tags=["admin"],
        summary="Issue an API key for a relying party's backend (shown once)",
        dependencies=admin,
        responses=_PROBLEMS,
    )
    def issue_key(name: Annotated[str, Path(pattern=_SLUG)]) -> ApiKeyOut:
        key_id, key = verifier().issue_api_key(name)
        return ApiKeyOut(id=key_id, relying_party=name, api_key=key)

    @app.get(
        "/relying-parties/{name}/api-keys",
        tags=["admin"],
        summary="A relying party's API keys (without secrets)",
        dependencies=admin,
        responses=_PROBLEMS,
    )
    def list_keys(name: Annotated[str, Path(pattern=_SLUG)]) -> list[ApiKeyInfo]:
        return [
            ApiKeyInfo(
                id=k.id,
                relying_party=k.relying_party,
                created_at=k.created_at,
                revoked_at=k.revoked_at,
            )
            for k in verifier().api_keys(name)
        ]

    @app.delete(
        "/api-keys/{key_id}",
        status_code=204,
        tags=["admin"],
        summary="Revoke an API key",
        dependencies=admin,
        responses=_PROBLEMS,
    )
    def revoke_key(key_id: Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]) -> Response:
        verifier().revoke_api_key(key_id)
        return Response(status_code=204)

    add_request_page(app, platform)
    return (
        Service(
            "/verifier",
            "Verifier",
            SUMMARY,
            ("OpenID4VP 1.0", "DCQL", "RFC 9101", "SD-JWT VC", "Token Status List", "RFC 9457"),
            fast_path=lambda inner: FastVerify(inner, platform),
        ),
        app,
    )


_VERIFY_MEMBERS = frozenset(
    {"presentation", "nonce", "aud", "relying_party", "preset", "dcql_query"}
)


async def verify_body(verifier: Verifier, token: str | None, body: bytes) -> bytes:
    """POST /verifier/verify: authenticate, read the JSON body strictly, verify; the answer.

    Raises a CivicError (the caller makes it problem+json).
    """
    who = verifier.authenticate(token)
    fields = json_object_strict(body)
    unknown = set(fields) - _VERIFY_MEMBERS
    if unknown:
        raise InputError("invalid_request", f"unknown members {sorted(unknown)[:5]}")
    query = _query(fields.get("preset"), fields.get("dcql_query"))
    named = fields.get("relying_party")
    if named is not None and (not isinstance(named, str) or not re.fullmatch(_SLUG, named)):
        raise InputError("invalid_request", "relying_party is a relying party's name")
    result = await verifier.verify_presentation_async(
        who,
        fields.get("presentation"),
        nonce=fields.get("nonce"),
        aud=fields.get("aud"),
        relying_party=named,
        query=query,
    )
    return json_dumps(result)


class FastVerify:
    """ASGI: ``POST /verifier/verify`` answered straight from the server, skipping the routing
    and middleware stacks of the root app and of the mounted service (about half the cost of
    a request on this hot path, measured with py-spy under bench/http.py). It calls the very
    function the documented route calls (:func:`verify_body`), with the same problem+json
    errors; everything else goes to ``app``.
    """

    def __init__(self, app: ASGIApp, platform: Platform, *, path: str = "/verifier/verify") -> None:
        self.app = app
        self.platform = platform
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer the hot path; pass anything else on."""
        if scope["type"] != "http" or scope["path"] != self.path or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        token: str | None = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, credentials = value.decode("latin-1").partition(" ")
                token = credentials.strip() or None if scheme.lower() == "bearer" else None
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        try:
            answer = await verify_body(self.platform.verifier, token, b"".join(chunks))
        except CivicError as exc:
            await problem(exc.code, exc.detail)(scope, receive, send)
            return
        except Exception:  # the same contract as the app: logged, never a traceback
            log.exception("unhandled error on POST %s", self.path)
            await problem("internal_error")(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(answer)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer})


def _query(preset: object, dcql_query: object) -> DcqlQuery | None:
    if preset is not None and dcql_query is not None:
        raise InputError("invalid_request", "give a preset or a dcql_query, not both")
    if preset is not None:
        chosen = PRESETS.get(preset) if isinstance(preset, str) else None
        if chosen is None:
            raise InputError("invalid_request", f"preset is one of {', '.join(PRESETS)}")
        return chosen.query
    if dcql_query is not None:
        return DcqlQuery.parse(dcql_query)
    return None
