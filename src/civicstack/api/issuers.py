"""The credential issuers over HTTP: OpenID4VCI 1.0 endpoints and the officers' admin API.

Mounted at ``/issuers``; each hosted authority ``NAME`` serves under ``/issuers/NAME``:

=====================================  =======================================================
``GET  /offers/{id}``                  a Credential Offer by reference (OpenID4VCI §4.1.3)
``POST /token``                        Token Endpoint (§6; RFC 6749 §4.1.3, §5)
``POST /nonce``                        Nonce Endpoint (§7)
``POST /credential``                   Credential Endpoint (§8)
``POST /deferred_credential``          Deferred Credential Endpoint (§9)
``POST /notification``                 Notification Endpoint (§11)
``GET  /status/{list_id}``             Token Status List (draft-ietf-oauth-status-list §8)
``POST /applications``                 a citizen's application (:mod:`.issuer_desk`)
``/admin/...``                         the officers' admin API (:mod:`.issuer_desk`)
=====================================  =======================================================

and the root app serves the metadata where the specs put it for an identifier
``{base}/issuers/NAME``: ``/.well-known/openid-credential-issuer/issuers/NAME`` (§12.2.2),
``/.well-known/oauth-authorization-server/issuers/NAME`` (RFC 8414 §3.1) and
``/.well-known/jwt-vc-issuer/issuers/NAME`` (SD-JWT VC).

Protocol errors carry the OAuth ``error`` and ``error_description`` (RFC 6749 §5.2, RFC 6750
§3, OpenID4VCI §8.3.1) inside problem+json (RFC 9457) with the stable ``code``; token and
credential responses are ``Cache-Control: no-store``. Request bodies are read raw and parsed
strictly here (no repeated form fields or JSON members), so every malformed request is a
coded error and none is a 500.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from civicstack.api._openapi import (
    NO_STORE,
    OBJECT,
    RawBody,
    json_response,
    problems,
    request_body,
)
from civicstack.api.catalogue import Service, service_app
from civicstack.api.handover import add_offer_page
from civicstack.api.issuer_desk import add_desk_routes
from civicstack.api.problems import PROBLEM_SCHEMA
from civicstack.errors import CivicError, ProtocolError
from civicstack.openid4vci.applications import DEFAULT_APPLICATION_LIMITS
from civicstack.openid4vci.offers import form_fields
from civicstack.platform import Platform
from civicstack.services.authorities import STATUS_TTL
from civicstack.services.issuer import CredentialIssuer, IssuerResponse

TITLE = "Credential issuers"
SUMMARY = (
    "OpenID4VCI 1.0 credential issuers for every accredited authority: offers with the "
    "pre-authorized code grant, token, nonce, credential, deferred and notification endpoints, "
    "citizens' applications with proof documents, and the officers' review API."
)
SPECS = ("OpenID4VCI 1.0", "RFC 6749", "RFC 8414", "RFC 9396", "SD-JWT VC", "Token Status List")
FORM = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16 * 1024
MAX_ADMIN_BODY = 128 * 1024
#: The largest application (one rule: ApplicationLimits.max_body).
MAX_APPLICATION_BODY = DEFAULT_APPLICATION_LIMITS.max_body

_access_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="accessToken",
    description="An access token from this issuer's token endpoint (RFC 6750).",
)

_CREDENTIALS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "credentials": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"credential": {"type": "string"}},
                "required": ["credential"],
            },
        },
        "notification_id": {"type": "string"},
    },
    "required": ["credentials"],
}
_TRANSACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"transaction_id": {"type": "string"}, "interval": {"type": "integer"}},
    "required": ["transaction_id", "interval"],
}
_CREDENTIAL_REQUEST: dict[str, Any] = {
    "type": "object",
    "properties": {
        "credential_configuration_id": {"type": "string"},
        "credential_identifier": {"type": "string"},
        "proofs": {
            "type": "object",
            "properties": {"jwt": {"type": "array", "items": {"type": "string"}}},
        },
    },
}


def _protocol(result: IssuerResponse) -> JSONResponse:
    return JSONResponse(result.body, status_code=result.status, headers=NO_STORE)


AccessToken = Annotated[HTTPAuthorizationCredentials | None, Security(_access_bearer)]


def _token_of(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials is not None else None


# --- the service -----------------------------------------------------------------------------


def issuers_service(platform: Platform) -> tuple[Service, FastAPI]:
    """The issuers' sub-application, and the root-level metadata routes."""
    app = service_app(TITLE, SUMMARY)
    issuer: CredentialIssuer = platform.issuer

    @app.get(
        "/",
        tags=["discovery"],
        summary="The credential issuers of this platform",
        responses={200: json_response({"type": "array", "items": OBJECT}, "Issuers")},
    )
    def list_issuers() -> list[dict[str, Any]]:
        out = []
        for hosted in platform.authorities.list("authority"):
            out.append(
                {
                    "name": hosted.name,
                    "display_name": hosted.display_name,
                    "credential_issuer": hosted.identifier,
                    "credential_configurations": [c.id for c in issuer.configurations(hosted)],
                }
            )
        return out

    # --- OpenID4VCI endpoints ---------------------------------------------------------

    @app.get(
        "/{name}/offers/{offer_id}",
        tags=["openid4vci"],
        summary="A Credential Offer by reference (§4.1.3)",
        responses={200: json_response(OBJECT, "The Credential Offer object"), **problems(404)},
    )
    def offer_by_reference(name: str, offer_id: str) -> JSONResponse:
        return JSONResponse(issuer.offer_document(name, offer_id), headers=NO_STORE)

    @app.post(
        "/{name}/token",
        tags=["openid4vci"],
        summary="Token Endpoint: the pre-authorized code grant (§6)",
        openapi_extra=request_body(
            {
                "type": "object",
                "properties": {
                    "grant_type": {
                        "type": "string",
                        "enum": ["urn:ietf:params:oauth:grant-type:pre-authorized_code"],
                    },
                    "pre-authorized_code": {"type": "string"},
                    "tx_code": {"type": "string"},
                    "authorization_details": {"type": "string"},
                },
                "required": ["grant_type", "pre-authorized_code"],
            },
            FORM,
        ),
        responses={
            200: json_response(
                {
                    "type": "object",
                    "properties": {
                        "access_token": {"type": "string"},
                        "token_type": {"type": "string"},
                        "expires_in": {"type": "integer"},
                        "authorization_details": {"type": "array", "items": OBJECT},
                    },
                    "required": ["access_token", "token_type", "expires_in"],
                },
                "An access token",
            ),
            **problems(400, 404, 413),
        },
    )
    def token(name: str, request: Request, body: RawBody) -> JSONResponse:
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != FORM:
            raise ProtocolError("invalid_request", "invalid_request", f"the body must be {FORM}")
        if len(body) > MAX_FORM_BYTES:
            raise ProtocolError(
                "too_large", "invalid_request", f"token requests are at most {MAX_FORM_BYTES} bytes"
            )
        try:
            fields = form_fields(body)
        except CivicError as exc:
            raise ProtocolError("invalid_request", "invalid_request", exc.detail) from exc
        return JSONResponse(issuer.token(name, fields), headers=NO_STORE)

    @app.post(
        "/{name}/nonce",
        tags=["openid4vci"],
        summary="Nonce Endpoint: a fresh c_nonce (§7)",
        responses={
            200: json_response(
                {"type": "object", "properties": {"c_nonce": {"type": "string"}}},
                "A c_nonce",
            ),
            **problems(404),
        },
    )
    def nonce(name: str) -> JSONResponse:
        return JSONResponse({"c_nonce": issuer.nonce(name)}, headers=NO_STORE)

    @app.post(
        "/{name}/credential",
        tags=["openid4vci"],
        summary="Credential Endpoint (§8)",
        openapi_extra=request_body(_CREDENTIAL_REQUEST),
        responses={
            200: json_response(_CREDENTIALS_SCHEMA, "The credentials, one per key proof"),
            202: json_response(_TRANSACTION_SCHEMA, "Deferred: collect later (§9)"),
            **problems(400, 401, 404, 413),
        },
    )
    def credential(name: str, body: RawBody, access: AccessToken) -> JSONResponse:
        return _protocol(issuer.credential(name, _token_of(access), body))

    @app.post(
        "/{name}/deferred_credential",
        tags=["openid4vci"],
        summary="Deferred Credential Endpoint (§9)",
        openapi_extra=request_body(
            {
                "type": "object",
                "properties": {"transaction_id": {"type": "string"}},
                "required": ["transaction_id"],
            }
        ),
        responses={
            200: json_response(_CREDENTIALS_SCHEMA, "The credentials"),
            202: json_response(_TRANSACTION_SCHEMA, "Still under review"),
            **problems(400, 401, 404, 413),
        },
    )
    def deferred_credential(name: str, body: RawBody, access: AccessToken) -> JSONResponse:
        return _protocol(issuer.deferred_credential(name, _token_of(access), body))

    @app.post(
        "/{name}/notification",
        tags=["openid4vci"],
        summary="Notification Endpoint (§11)",
        status_code=204,
        openapi_extra=request_body(
            {
                "type": "object",
                "properties": {
                    "notification_id": {"type": "string"},
                    "event": {
                        "type": "string",
                        "enum": ["credential_accepted", "credential_failure", "credential_deleted"],
                    },
                    "event_description": {"type": "string"},
                },
                "required": ["notification_id", "event"],
            }
        ),
        responses={204: {"description": "Recorded"}, **problems(400, 401, 404, 413)},
    )
    def notification(name: str, body: RawBody, access: AccessToken) -> Response:
        issuer.notification(name, _token_of(access), body)
        return Response(status_code=204)

    @app.get(
        "/{name}/status/{list_id}",
        tags=["status"],
        summary="A status list token (statuslist+jwt)",
        response_class=Response,
        responses={
            200: {
                "description": "The signed Status List Token",
                "content": {"application/statuslist+jwt": {"schema": {"type": "string"}}},
            },
            **problems(404),
        },
    )
    def status_list(name: str, list_id: str) -> Response:
        issuer.issuer(name)
        token = platform.authorities.status_list_token(name, list_id)
        return Response(
            token,
            media_type="application/statuslist+jwt",
            headers={"Cache-Control": f"public, max-age={STATUS_TTL}"},
        )

    add_desk_routes(app, platform)
    add_offer_page(app, platform)
    _problem_for_validation(app)
    service = Service("/issuers", TITLE, SUMMARY, SPECS, routes=well_known_routes(platform))
    return service, app


def _problem_for_validation(app: FastAPI) -> None:
    """Document what the problem handlers really answer: a request that does not match the
    API is a 400 problem (invalid_request), never FastAPI's default 422. FastAPI caches the
    document it builds, so the cached one is corrected in place."""
    spec = app.openapi()
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses.setdefault("400", PROBLEM_SCHEMA)


def well_known_routes(platform: Platform) -> APIRouter:
    """The metadata routes the specs pin to the server root, for identifiers on this server."""
    router = APIRouter(tags=["well-known"])
    issuer = platform.issuer
    base = urlsplit(platform.settings.base_url)
    origin = f"{base.scheme}://{base.netloc}"
    cache = {"Cache-Control": "public, max-age=60"}

    def hosted_for(path: str) -> Any:
        if len(path) > 512:
            raise CivicError("not_found", "no such credential issuer")
        return issuer.by_identifier(f"{origin}/{path}")

    @router.get(
        "/.well-known/openid-credential-issuer/{path:path}",
        summary="Credential Issuer Metadata (OpenID4VCI §12.2)",
        responses={200: json_response(OBJECT, "Credential Issuer Metadata"), **problems(404)},
    )
    def credential_issuer_metadata(path: str) -> JSONResponse:
        return JSONResponse(issuer.issuer_metadata(hosted_for(path)), headers=cache)

    @router.get(
        "/.well-known/oauth-authorization-server/{path:path}",
        summary="Authorization Server Metadata (RFC 8414)",
        responses={200: json_response(OBJECT, "Authorization Server Metadata"), **problems(404)},
    )
    def authorization_server_metadata(path: str) -> JSONResponse:
        return JSONResponse(issuer.authorization_server_metadata(hosted_for(path)), headers=cache)

    @router.get(
        "/.well-known/jwt-vc-issuer/{path:path}",
        summary="JWT VC Issuer Metadata: the issuer's signing keys (SD-JWT VC)",
        responses={200: json_response(OBJECT, "JWT VC Issuer Metadata"), **problems(404)},
    )
    def jwt_vc_issuer_metadata(path: str) -> JSONResponse:
        return JSONResponse(issuer.jwt_vc_issuer_metadata(hosted_for(path)), headers=cache)

    return router
