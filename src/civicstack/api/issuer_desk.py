"""Applications and the officers' admin API of the issuers, over HTTP.

``POST /issuers/NAME/applications`` takes a citizen's application (multipart/form-data: ``vct``,
``claims`` as a JSON object, up to four ``documents``; the uploaders' file names and declared
types are ignored). Each remote address spends a token of its submission rate first (429 with
``Retry-After`` when it has none), the body is capped at
:attr:`~civicstack.openid4vci.applications.ApplicationLimits.max_body` (the one rule the
documents' allowance and the platform's body cap share) and the documents of pending
applications at their disk quota (507 ``storage_full``).

Under ``/issuers/NAME/admin/`` (admin bearer token, RFC 6750 §2.1): create and list offers,
list issued credentials and revoke, suspend or reinstate them (a status-list bit flip), and
review applications (list, view with document hashes and ``documents_expired_at``, download a
document — 410 ``documents_expired`` once the retention schedule deleted it —, approve, reject
with a reason). Admin bodies are JSON read raw and parsed strictly (no repeated
members), then validated by the models below.
"""

from __future__ import annotations

from typing import Any, Literal, TypeVar

from fastapi import Depends, FastAPI, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from civicstack._crypto import json_object_strict
from civicstack.api._openapi import (
    NO_STORE,
    OBJECT,
    RawBody,
    json_response,
    problems,
    request_body,
)
from civicstack.api.auth import admin_guard
from civicstack.errors import CivicError, InputError
from civicstack.openid4vci.applications import (
    DEFAULT_APPLICATION_LIMITS,
    STATUSES,
    ApplicationLimits,
)
from civicstack.platform import Platform

MAX_ADMIN_BODY = 128 * 1024
#: The default limits' largest application (the platform's limits decide; this is the default).
MAX_APPLICATION_BODY = DEFAULT_APPLICATION_LIMITS.max_body

_admin_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="adminToken",
    description="The platform's admin token (`CIVIC_ADMIN_TOKEN`, or `<data dir>/admin-token`).",
)


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


def add_desk_routes(app: FastAPI, platform: Platform) -> None:
    """Add the application and admin routes to the issuers' app."""
    admin = [Depends(admin_guard(platform)), Security(_admin_bearer)]
    issuer = platform.issuer
    review = platform.review
    limits = review.limits

    # --- citizens' applications ------------------------------------------------------------

    @app.post(
        "/{name}/applications",
        tags=["applications"],
        summary="Apply for a credential, with proof documents (multipart/form-data)",
        status_code=201,
        openapi_extra=request_body(
            {
                "type": "object",
                "properties": {
                    "vct": {"type": "string"},
                    "claims": {"type": "string", "description": "The claims, a JSON object"},
                    "documents": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "maxItems": limits.documents,
                    },
                },
                "required": ["vct", "claims"],
            },
            "multipart/form-data",
        ),
        responses={
            201: json_response(OBJECT, "The application, and the offer the wallet redeems"),
            **problems(400, 404, 413, 415, 429, 507),
        },
    )
    async def apply(name: str, request: Request) -> JSONResponse:
        # the rate is spent first: a refused client costs no parsing, whatever it sent
        await run_in_threadpool(review.admit, request.client.host if request.client else None)
        vct, claims, documents = await _application_form(request, limits)
        application, created = await run_in_threadpool(
            review.apply, name, vct=vct, claims=claims, documents=documents
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
        openapi_extra=request_body(OfferRequest.model_json_schema()),
        responses={201: json_response(OBJECT, "The offer"), **problems(400, 401, 404, 413)},
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
            200: json_response({"type": "array", "items": OBJECT}, "Offers"),
            **problems(401, 404),
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
            200: json_response({"type": "array", "items": OBJECT}, "Credentials"),
            **problems(401, 404),
        },
    )
    def list_credentials(name: str) -> list[dict[str, Any]]:
        return [r.to_json() for r in issuer.credentials(name)]

    @app.post(
        "/{name}/admin/credentials/{credential_id}/status",
        tags=["admin"],
        summary="Revoke, suspend or reinstate an issued credential",
        dependencies=admin,
        openapi_extra=request_body(StatusChange.model_json_schema()),
        responses={200: json_response(OBJECT, "The record"), **problems(400, 401, 404, 409, 413)},
    )
    def set_status(name: str, credential_id: str, body: RawBody) -> dict[str, Any]:
        change = {
            "revoked": issuer.revoke_credential,
            "suspended": issuer.suspend_credential,
            "valid": issuer.reinstate_credential,
        }[_strict(StatusChange, body).status]
        return change(name, credential_id).to_json()

    @app.get(
        "/{name}/admin/applications",
        tags=["admin"],
        summary="The review queue (filter by status)",
        dependencies=admin,
        responses={
            200: json_response({"type": "array", "items": OBJECT}, "Applications"),
            **problems(400, 401, 404),
        },
    )
    def list_applications(
        name: str, status: Literal["pending", "approved", "rejected"] | None = None
    ) -> list[dict[str, Any]]:
        if status is not None and status not in STATUSES:
            raise InputError("invalid_request", f"status is one of {STATUSES}")
        return [a.to_json(with_claims=False) for a in review.applications(name, status)]

    @app.get(
        "/{name}/admin/applications/{application_id}",
        tags=["admin"],
        summary="One application: claims, document hashes, findings",
        dependencies=admin,
        responses={200: json_response(OBJECT, "The application"), **problems(401, 404)},
    )
    def get_application(name: str, application_id: str) -> dict[str, Any]:
        return review.application(name, application_id).to_json()

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
            **problems(400, 401, 404, 410),
        },
    )
    def get_document(name: str, application_id: str, sha256: str) -> Response:
        content, media_type = review.document(name, application_id, sha256)
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
        openapi_extra=request_body(Approval.model_json_schema()),
        responses={
            200: json_response(OBJECT, "The application"),
            **problems(400, 401, 404, 409, 413),
        },
    )
    def approve(name: str, application_id: str, body: RawBody) -> dict[str, Any]:
        decision = _strict(Approval, body)
        return review.approve(name, application_id, reviewer=decision.reviewer).to_json(
            with_claims=False
        )

    @app.post(
        "/{name}/admin/applications/{application_id}/reject",
        tags=["admin"],
        summary="Reject an application, saying why",
        dependencies=admin,
        openapi_extra=request_body(Rejection.model_json_schema()),
        responses={
            200: json_response(OBJECT, "The application"),
            **problems(400, 401, 404, 409, 413),
        },
    )
    def reject(name: str, application_id: str, body: RawBody) -> dict[str, Any]:
        decision = _strict(Rejection, body)
        return review.reject(
            name, application_id, reviewer=decision.reviewer, reason=decision.reason
        ).to_json(with_claims=False)


async def _application_form(
    request: Request, limits: ApplicationLimits
) -> tuple[str, dict[str, Any], list[bytes]]:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "multipart/form-data":
        raise InputError("invalid_request", "an application is multipart/form-data")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_body:
        raise InputError("too_large", f"an application is at most {limits.max_body} bytes")
    async with request.form(
        max_files=limits.documents + 1, max_fields=8, max_part_size=limits.field_bytes
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
        if len(files) > limits.documents:
            raise InputError("too_large", f"at most {limits.documents} documents")
        documents: list[bytes] = []
        for item in files:
            if not isinstance(item, UploadFile):
                raise InputError("invalid_request", "documents are files")
            # The uploader's file name and declared type are ignored: documents are kept by
            # content, and their type is read from their bytes.
            content = await item.read(limits.document_bytes + 1)
            if len(content) > limits.document_bytes:
                cap = limits.document_bytes
                raise InputError("too_large", f"a document is at most {cap} bytes")
            documents.append(content)
    try:
        claims = json_object_strict(claims_text)
    except CivicError as exc:
        raise InputError("invalid_request", f"claims is not a JSON object: {exc.detail}") from exc
    return vct, claims, documents
