"""The credential issuers over HTTP: OpenID4VCI 1.0 endpoints and the officers' admin API.

Mounted at ``/issuers``; each hosted authority ``NAME`` serves under ``/issuers/NAME``:

=====================================  =======================================================
``GET  /offers/{id}``                  a Credential Offer by reference (OpenID4VCI §4.1.3)
``POST /token``                        Token Endpoint (§6; RFC 6749 §4.1.3, §5)
``POST /nonce``                        Nonce Endpoint (§7)
``POST /credential``                   Credential Endpoint (§8)
``POST /deferred_credential``          Deferred Credential Endpoint (§9)
``POST /notification``                 Notification Endpoint (§11)
``POST /applications``                 a citizen's application with proof documents
``GET  /status/{list_id}``             Token Status List (draft-ietf-oauth-status-list §8)
``/admin/...``                         offers, applications, credentials (admin bearer token)
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

from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, FastAPI, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from civicstack._crypto import json_object_strict
from civicstack.api.app import Service, service_app
from civicstack.api.auth import admin_guard
from civicstack.api.problems import PROBLEM_SCHEMA
from civicstack.authorities import STATUS_TTL
from civicstack.errors import CivicError, InputError, ProtocolError
from civicstack.issuance.applications import MAX_DOCUMENT_BYTES, MAX_DOCUMENTS, STATUSES
from civicstack.issuance.offers import form_fields
from civicstack.issuer import CredentialIssuer, IssuerResponse
from civicstack.platform import Platform

TITLE = "Credential issuers"
SUMMARY = (
    "OpenID4VCI 1.0 credential issuers for every accredited authority: offers with the "
    "pre-authorized code grant, token, nonce, credential, deferred and notification endpoints, "
    "citizens' applications with proof documents, and the officers' review API."
)
SPECS = ("OpenID4VCI 1.0", "RFC 6749", "RFC 8414", "RFC 9396", "SD-JWT VC", "Token Status List")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
FORM = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16 * 1024
MAX_ADMIN_BODY = 128 * 1024
MAX_APPLICATION_BODY = MAX_DOCUMENTS * MAX_DOCUMENT_BYTES + 128 * 1024

_admin_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="adminToken",
    description="The platform's admin token (`CIVIC_ADMIN_TOKEN`, or `<data dir>/admin-token`).",
)
_access_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="accessToken",
    description="An access token from this issuer's token endpoint (RFC 6750).",
)

# --- OpenAPI descriptions -------------------------------------------------------------------------

_OBJECT: dict[str, Any] = {"type": "object"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return dict.fromkeys(statuses, PROBLEM_SCHEMA)


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


def _body(schema: dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {media_type: {"schema": schema}}}}


# --- admin request models ---------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class OfferRequest(_Strict):
    """A credential to offer."""

    vct: str = Field(min_length=1, max_length=256, description="The credential type.")
    claims: dict[str, Any] = Field(description="The claims of the credential.")
    tx_code: bool = Field(True, description="Require a transaction code (recommended).")
    tx_code_length: int = Field(6, ge=4, le=12)
    tx_code_description: str | None = Field(None, min_length=1, max_length=300)
    by_reference: bool = Field(False, description="Offer by reference (credential_offer_uri).")
    expires_in: int = Field(900, ge=60, le=7 * 86_400, description="Seconds until it expires.")


class StatusChange(_Strict):
    """A new status for an issued credential."""

    status: Literal["valid", "revoked", "suspended"]


class Approval(_Strict):
    """An officer's approval."""

    reviewer: str = Field(min_length=1, max_length=256)


class Rejection(_Strict):
    """An officer's rejection, with the reason the citizen will be given."""

    reviewer: str = Field(min_length=1, max_length=256)
    reason: str = Field(min_length=1, max_length=1000)


async def _raw_body(request: Request) -> bytes:
    return await request.body()


M = TypeVar("M", bound=_Strict)


def _strict(model: type[M], body: bytes) -> M:
    if len(body) > MAX_ADMIN_BODY:
        raise InputError("too_large", f"admin requests are at most {MAX_ADMIN_BODY} bytes")
    try:
        return model.model_validate(json_object_strict(body))
    except ValidationError as exc:
        errors = exc.errors()
        where = ".".join(str(p) for p in errors[0]["loc"]) if errors else ""
        said = errors[0]["msg"] if errors else "invalid"
        raise InputError("invalid_request", f"{where}: {said}") from exc
    except CivicError as exc:
        raise InputError("invalid_request", f"the body is not a JSON object: {exc.detail}") from exc


def _protocol(result: IssuerResponse) -> JSONResponse:
    return JSONResponse(result.body, status_code=result.status, headers=NO_STORE)


RawBody = Annotated[bytes, Depends(_raw_body)]
AccessToken = Annotated[HTTPAuthorizationCredentials | None, Security(_access_bearer)]


def _token_of(credentials: HTTPAuthorizationCredentials | None) -> str | None:
    return credentials.credentials if credentials is not None else None


# --- the service -----------------------------------------------------------------------------


def issuers_service(platform: Platform) -> tuple[Service, FastAPI]:
    """The issuers' sub-application, and the root-level metadata routes."""
    app = service_app(TITLE, SUMMARY)
    guard = admin_guard(platform)
    admin = [Depends(guard), Security(_admin_bearer)]
    issuer: CredentialIssuer = platform.issuer

    @app.get(
        "/",
        tags=["discovery"],
        summary="The credential issuers of this platform",
        responses={200: _json({"type": "array", "items": _OBJECT}, "Issuers")},
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
        responses={200: _json(_OBJECT, "The Credential Offer object"), **_problems(404)},
    )
    def offer_by_reference(name: str, offer_id: str) -> JSONResponse:
        return JSONResponse(issuer.offer_document(name, offer_id), headers=NO_STORE)

    @app.post(
        "/{name}/token",
        tags=["openid4vci"],
        summary="Token Endpoint: the pre-authorized code grant (§6)",
        openapi_extra=_body(
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
            200: _json(
                {
                    "type": "object",
                    "properties": {
                        "access_token": {"type": "string"},
                        "token_type": {"type": "string"},
                        "expires_in": {"type": "integer"},
                        "authorization_details": {"type": "array", "items": _OBJECT},
                    },
                    "required": ["access_token", "token_type", "expires_in"],
                },
                "An access token",
            ),
            **_problems(400, 404, 413),
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
            200: _json(
                {"type": "object", "properties": {"c_nonce": {"type": "string"}}},
                "A c_nonce",
            ),
            **_problems(404),
        },
    )
    def nonce(name: str) -> JSONResponse:
        return JSONResponse({"c_nonce": issuer.nonce(name)}, headers=NO_STORE)

    @app.post(
        "/{name}/credential",
        tags=["openid4vci"],
        summary="Credential Endpoint (§8)",
        openapi_extra=_body(_CREDENTIAL_REQUEST),
        responses={
            200: _json(_CREDENTIALS_SCHEMA, "The credentials, one per key proof"),
            202: _json(_TRANSACTION_SCHEMA, "Deferred: collect later (§9)"),
            **_problems(400, 401, 404, 413),
        },
    )
    def credential(name: str, body: RawBody, access: AccessToken) -> JSONResponse:
        return _protocol(issuer.credential(name, _token_of(access), body))

    @app.post(
        "/{name}/deferred_credential",
        tags=["openid4vci"],
        summary="Deferred Credential Endpoint (§9)",
        openapi_extra=_body(
            {
                "type": "object",
                "properties": {"transaction_id": {"type": "string"}},
                "required": ["transaction_id"],
            }
        ),
        responses={
            200: _json(_CREDENTIALS_SCHEMA, "The credentials"),
            202: _json(_TRANSACTION_SCHEMA, "Still under review"),
            **_problems(400, 401, 404, 413),
        },
    )
    def deferred_credential(name: str, body: RawBody, access: AccessToken) -> JSONResponse:
        return _protocol(issuer.deferred_credential(name, _token_of(access), body))

    @app.post(
        "/{name}/notification",
        tags=["openid4vci"],
        summary="Notification Endpoint (§11)",
        status_code=204,
        openapi_extra=_body(
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
        responses={204: {"description": "Recorded"}, **_problems(400, 401, 404, 413)},
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
            **_problems(404),
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

    # --- citizens' applications ------------------------------------------------------------

    @app.post(
        "/{name}/applications",
        tags=["applications"],
        summary="Apply for a credential, with proof documents (multipart/form-data)",
        status_code=201,
        openapi_extra=_body(
            {
                "type": "object",
                "properties": {
                    "vct": {"type": "string"},
                    "claims": {"type": "string", "description": "The claims, a JSON object"},
                    "documents": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "maxItems": MAX_DOCUMENTS,
                    },
                },
                "required": ["vct", "claims"],
            },
            "multipart/form-data",
        ),
        responses={
            201: _json(_OBJECT, "The application, and the offer the wallet redeems"),
            **_problems(400, 404, 413, 415),
        },
    )
    async def apply(name: str, request: Request) -> JSONResponse:
        vct, claims, documents = await _application_form(request)
        application, created = await run_in_threadpool(
            issuer.apply, name, vct=vct, claims=claims, documents=documents
        )
        return JSONResponse(
            {
                "application": application.to_json(with_claims=False),
                "offer": created.uri if created else None,
                "tx_code": created.tx_code if created else None,
            },
            status_code=201,
            headers=NO_STORE,
        )

    # --- admin: offers, applications, credentials --------------------------------------------

    @app.post(
        "/{name}/admin/offers",
        tags=["admin"],
        summary="Create a credential offer",
        dependencies=admin,
        status_code=201,
        openapi_extra=_body(OfferRequest.model_json_schema()),
        responses={201: _json(_OBJECT, "The offer"), **_problems(400, 401, 404, 413)},
    )
    def create_offer(name: str, body: RawBody) -> JSONResponse:
        asked = _strict(OfferRequest, body)
        created = issuer.create_offer(
            name,
            vct=asked.vct,
            claims=asked.claims,
            tx_code=asked.tx_code,
            tx_code_length=asked.tx_code_length,
            tx_code_description=asked.tx_code_description,
            by_reference=asked.by_reference,
            expires_in=asked.expires_in,
        )
        return JSONResponse(created.to_json(), status_code=201, headers=NO_STORE)

    @app.get(
        "/{name}/admin/offers",
        tags=["admin"],
        summary="List offers (newest first; never their claims)",
        dependencies=admin,
        responses={
            200: _json({"type": "array", "items": _OBJECT}, "Offers"),
            **_problems(401, 404),
        },
    )
    def list_offers(name: str) -> list[dict[str, Any]]:
        return [o.to_json() for o in issuer.offers(name)]

    @app.get(
        "/{name}/admin/credentials",
        tags=["admin"],
        summary="List issued credentials (never their claims)",
        dependencies=admin,
        responses={
            200: _json({"type": "array", "items": _OBJECT}, "Credentials"),
            **_problems(401, 404),
        },
    )
    def list_credentials(name: str) -> list[dict[str, Any]]:
        return [r.to_json() for r in issuer.credentials(name)]

    @app.post(
        "/{name}/admin/credentials/{credential_id}/status",
        tags=["admin"],
        summary="Revoke, suspend or reinstate an issued credential",
        dependencies=admin,
        openapi_extra=_body(StatusChange.model_json_schema()),
        responses={200: _json(_OBJECT, "The record"), **_problems(400, 401, 404, 409, 413)},
    )
    def set_status(name: str, credential_id: str, body: RawBody) -> dict[str, Any]:
        change = _strict(StatusChange, body)
        return issuer.set_status(name, credential_id, change.status).to_json()

    @app.get(
        "/{name}/admin/applications",
        tags=["admin"],
        summary="The review queue (filter by status)",
        dependencies=admin,
        responses={
            200: _json({"type": "array", "items": _OBJECT}, "Applications"),
            **_problems(400, 401, 404),
        },
    )
    def list_applications(
        name: str, status: Literal["pending", "approved", "rejected"] | None = None
    ) -> list[dict[str, Any]]:
        if status is not None and status not in STATUSES:
            raise InputError("invalid_request", f"status is one of {STATUSES}")
        return [a.to_json(with_claims=False) for a in issuer.applications(name, status)]

    @app.get(
        "/{name}/admin/applications/{application_id}",
        tags=["admin"],
        summary="One application: claims, document hashes, findings",
        dependencies=admin,
        responses={200: _json(_OBJECT, "The application"), **_problems(401, 404)},
    )
    def get_application(name: str, application_id: str) -> dict[str, Any]:
        return issuer.application(name, application_id).to_json()

    @app.get(
        "/{name}/admin/applications/{application_id}/documents/{sha256}",
        tags=["admin"],
        summary="Download a proof document (by its SHA-256)",
        dependencies=admin,
        response_class=Response,
        responses={
            200: {
                "description": "The document",
                "content": {
                    t: {"schema": {"type": "string", "format": "binary"}}
                    for t in ("application/pdf", "image/png", "image/jpeg")
                },
            },
            **_problems(400, 401, 404),
        },
    )
    def get_document(name: str, application_id: str, sha256: str) -> Response:
        content, media_type = issuer.document(name, application_id, sha256)
        return Response(
            content,
            media_type=media_type,
            headers={
                "Content-Disposition": f'attachment; filename="{sha256}"',
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
            },
        )

    @app.post(
        "/{name}/admin/applications/{application_id}/approve",
        tags=["admin"],
        summary="Approve an application",
        dependencies=admin,
        openapi_extra=_body(Approval.model_json_schema()),
        responses={200: _json(_OBJECT, "The application"), **_problems(400, 401, 404, 409, 413)},
    )
    def approve(name: str, application_id: str, body: RawBody) -> dict[str, Any]:
        decision = _strict(Approval, body)
        return issuer.approve(name, application_id, reviewer=decision.reviewer).to_json(
            with_claims=False
        )

    @app.post(
        "/{name}/admin/applications/{application_id}/reject",
        tags=["admin"],
        summary="Reject an application, saying why",
        dependencies=admin,
        openapi_extra=_body(Rejection.model_json_schema()),
        responses={200: _json(_OBJECT, "The application"), **_problems(400, 401, 404, 409, 413)},
    )
    def reject(name: str, application_id: str, body: RawBody) -> dict[str, Any]:
        decision = _strict(Rejection, body)
        return issuer.reject(
            name, application_id, reviewer=decision.reviewer, reason=decision.reason
        ).to_json(with_claims=False)

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


async def _application_form(request: Request) -> tuple[str, dict[str, Any], list[bytes]]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "multipart/form-data":
        raise InputError("invalid_request", "an application is multipart/form-data")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_APPLICATION_BODY:
        raise InputError("too_large", f"an application is at most {MAX_APPLICATION_BODY} bytes")
    async with request.form(
        max_files=MAX_DOCUMENTS + 1, max_fields=8, max_part_size=64 * 1024
    ) as form:
        names = list(form.keys())
        unknown = set(names) - {"vct", "claims", "documents"}
        if unknown:
            raise InputError("invalid_request", f"unexpected fields {sorted(unknown)}")
        vcts, claim_texts = form.getlist("vct"), form.getlist("claims")
        if len(vcts) != 1 or len(claim_texts) != 1:
            raise InputError("invalid_request", "give vct and claims exactly once")
        vct, claims_text = vcts[0], claim_texts[0]
        if not isinstance(vct, str) or not isinstance(claims_text, str):
            raise InputError("invalid_request", "vct and claims are text fields")
        files = form.getlist("documents")
        if len(files) > MAX_DOCUMENTS:
            raise InputError("too_large", f"at most {MAX_DOCUMENTS} documents")
        documents: list[bytes] = []
        for item in files:
            if not isinstance(item, UploadFile):
                raise InputError("invalid_request", "documents are files")
            # The uploader's file name and declared type are ignored: documents are kept by
            # content, and their type is read from their bytes.
            content = await item.read(MAX_DOCUMENT_BYTES + 1)
            if len(content) > MAX_DOCUMENT_BYTES:
                raise InputError("too_large", f"a document is at most {MAX_DOCUMENT_BYTES} bytes")
            documents.append(content)
    try:
        claims = json_object_strict(claims_text)
    except CivicError as exc:
        raise InputError("invalid_request", f"claims is not a JSON object: {exc.detail}") from exc
    return vct, claims, documents


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
        responses={200: _json(_OBJECT, "Credential Issuer Metadata"), **_problems(404)},
    )
    def credential_issuer_metadata(path: str) -> JSONResponse:
        return JSONResponse(issuer.issuer_metadata(hosted_for(path)), headers=cache)

    @router.get(
        "/.well-known/oauth-authorization-server/{path:path}",
        summary="Authorization Server Metadata (RFC 8414)",
        responses={200: _json(_OBJECT, "Authorization Server Metadata"), **_problems(404)},
    )
    def authorization_server_metadata(path: str) -> JSONResponse:
        return JSONResponse(issuer.authorization_server_metadata(hosted_for(path)), headers=cache)

    @router.get(
        "/.well-known/jwt-vc-issuer/{path:path}",
        summary="JWT VC Issuer Metadata: the issuer's signing keys (SD-JWT VC)",
        responses={200: _json(_OBJECT, "JWT VC Issuer Metadata"), **_problems(404)},
    )
    def jwt_vc_issuer_metadata(path: str) -> JSONResponse:
        return JSONResponse(issuer.jwt_vc_issuer_metadata(hosted_for(path)), headers=cache)

    return router
