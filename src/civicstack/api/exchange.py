"""The data exchange (``/exchange``): data services published through the platform, and fetches
released only once the access log holds them.

Organisations authenticate with their relying party's API key (``Authorization: Bearer
cvk.<id>.<secret>``, :mod:`civicstack.services.verifier.api_keys`); the admin token acts for
any provider when publishing.

- ``GET /exchange/services`` — every published data service (provider, name, categories, kind);
- ``POST /exchange/services`` — a provider publishes a data service: hosted (its records are
  written into the platform) or remote (the platform asks its HTTPS ``url``);
- ``PUT /exchange/services/{provider}/{service}/records`` — a provider writes hosted records,
  keyed by its pairwise id of each citizen (at most 256 a call, all or nothing);
- ``POST /exchange/fetch`` — a requester asks for categories of a data service about a citizen
  (by its pairwise id) under a consent: 200 with the data and a C2SP tlog-proof ``receipt``
  once the access is durably in the access log; a refusal is a problem (RFC 9457) with a stable
  code, logged too, carrying the ``receipt`` of its log entry; 503 ``access_log_unavailable``
  when the log cannot be written (nothing released).

``POST /exchange/fetch`` is also answered ahead of routing (:class:`FastFetch`) by the very
function its documented route calls.
"""

# No `from __future__ import annotations`: FastAPI resolves the dependencies named in route
# annotations (closures over the platform) at definition time.
import logging
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import ASGIApp, Receive, Scope, Send

from civicstack._crypto import json_dumps
from civicstack.access import MAX_CATEGORIES
from civicstack.api.auth import bearer_token
from civicstack.api.catalogue import Service, service_app
from civicstack.api.problems import PROBLEM_SCHEMA, problem
from civicstack.errors import CivicError
from civicstack.platform import Platform
from civicstack.services.exchange import MAX_FETCH_BODY, AccessRefusedError, FetchRequest
from civicstack.services.verifier import Caller

log = logging.getLogger("civicstack.api")
SUMMARY = (
    "Data exchange between organisations under the citizen's consent (X-Road's model over "
    "HTTPS): data services, hosted records, fetches released only once in the access log."
)
_SLUG = r"^[a-z0-9][a-z0-9-]{0,62}$"
_CATEGORY = r"^[a-z][a-z0-9-]{0,15}:[A-Za-z][A-Za-z0-9]{0,47}$"
_PROBLEMS: dict[int | str, dict[str, Any]] = dict.fromkeys(
    (400, 401, 403, 404, 413), PROBLEM_SCHEMA
)
_FETCH_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **_PROBLEMS,
    502: PROBLEM_SCHEMA,
    503: {
        **PROBLEM_SCHEMA,
        "description": "access_log_unavailable: the access could not be logged; nothing left.",
    },
}
_bearer = HTTPBearer(auto_error=False, description="A relying party's API key (or the admin)")


class PublishIn(BaseModel):
    """A data service to publish."""

    model_config = ConfigDict(extra="forbid")
    provider: str | None = Field(
        None, pattern=_SLUG, description="The provider (admin token only; a key acts for its own)."
    )
    name: str = Field(pattern=_SLUG, description="The service's name, e.g. driving-record.")
    title: str = Field(min_length=1, max_length=200)
    categories: list[Annotated[str, Field(pattern=_CATEGORY)]] = Field(
        min_length=1, max_length=MAX_CATEGORIES, description="DPV personal-data categories."
    )
    kind: Literal["hosted", "remote"]
    url: str | None = Field(None, max_length=500, description="A remote service's HTTPS URL.")


class ServiceOut(BaseModel):
    """A published data service."""

    provider: str
    name: str
    title: str
    categories: list[str]
    kind: str
    vct: str = Field(description="What a requester registers for: urn:civicstack:data:P:S.")


class RecordIn(BaseModel):
    """One hosted record."""

    model_config = ConfigDict(extra="forbid")
    subject: str = Field(
        min_length=43, max_length=43, description="The provider's pairwise id of the citizen."
    )
    record: dict[str, Any] = Field(description="Values by data category.")


class RecordsIn(BaseModel):
    """Hosted records to write."""

    model_config = ConfigDict(extra="forbid")
    records: list[RecordIn] = Field(min_length=1, max_length=256)


class WrittenOut(BaseModel):
    """How many records were written."""

    written: int


_FETCH_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["consent", "provider", "service", "purpose", "subject", "categories"],
    "properties": {
        "consent": {"type": "string", "description": "The consent's id."},
        "provider": {"type": "string", "pattern": _SLUG},
        "service": {"type": "string", "pattern": _SLUG},
        "purpose": {"type": "string", "description": "The requester's registered purpose."},
        "subject": {"type": "string", "description": "The requester's pairwise id of the citizen."},
        "categories": {
            "type": "array",
            "items": {"type": "string", "pattern": _CATEGORY},
            "minItems": 1,
            "maxItems": MAX_CATEGORIES,
        },
    },
}
_RELEASED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["outcome", "provider", "service", "categories", "data", "log_index", "receipt"],
    "properties": {
        "outcome": {"const": "released"},
        "provider": {"type": "string"},
        "service": {"type": "string"},
        "categories": {"type": "array", "items": {"type": "string"}},
        "data": {"type": "object"},
        "log_index": {"type": "integer"},
        "receipt": {"type": ["string", "null"], "description": "A C2SP tlog-proof."},
    },
}


async def fetch_answer(platform: Platform, token: str | None, body: bytes) -> bytes:
    """POST /exchange/fetch: authenticate, read the body strictly, fetch; the answer's JSON.

    Raises a CivicError (an :class:`AccessRefusedError` carries its receipt).
    """
    exchange = platform.exchange
    who = platform.verifier.authenticate(token)
    request = FetchRequest.parse(body)
    released = await exchange.fetch_async(who, request)
    return json_dumps(released.to_json())


def refusal(exc: CivicError) -> JSONResponse:
    """A refusal as problem+json; a logged one carries its log entry's receipt."""
    if isinstance(exc, AccessRefusedError) and exc.receipt is not None:
        return problem(exc.code, exc.detail, receipt=exc.receipt.text())
    return problem(exc.code, exc.detail)


def exchange_service(platform: Platform) -> tuple[Service, FastAPI]:
    """The ``/exchange`` sub-application."""
    app = service_app("Data exchange", SUMMARY)

    def caller(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        return platform.verifier.authenticate(bearer_token(request))

    @app.get("/services", tags=["data services"], summary="Every published data service")
    def services() -> list[ServiceOut]:
        return [
            ServiceOut(
                provider=s.provider,
                name=s.name,
                title=s.title,
                categories=list(s.categories),
                kind=s.kind,
                vct=s.vct,
            )
            for s in platform.exchange.listed()
        ]

    @app.post(
        "/services",
        status_code=201,
        tags=["data services"],
        summary="Publish a data service (hosted or remote)",
        responses=_PROBLEMS,
    )
    def publish(body: PublishIn, who: Annotated[Caller, Depends(caller)]) -> ServiceOut:
        s = platform.exchange.publish(
            who,
            provider=body.provider,
            name=body.name,
            title=body.title,
            categories=body.categories,
            kind=body.kind,
            url=body.url,
        )
        return ServiceOut(
            provider=s.provider,
            name=s.name,
            title=s.title,
            categories=list(s.categories),
            kind=s.kind,
            vct=s.vct,
        )

    @app.put(
        "/services/{provider}/{service}/records",
        tags=["data services"],
        summary="Write hosted records (by the provider's pairwise ids)",
        responses=_PROBLEMS,
    )
    def put_records(
        provider: Annotated[str, Path(pattern=_SLUG)],
        service: Annotated[str, Path(pattern=_SLUG)],
        body: RecordsIn,
        who: Annotated[Caller, Depends(caller)],
    ) -> WrittenOut:
        written = platform.exchange.put_records(
            who, provider, service, [(r.subject, r.record) for r in body.records]
        )
        return WrittenOut(written=written)

    @app.post(
        "/fetch",
        tags=["requesters"],
        summary="Fetch data about a citizen under their consent (logged before release)",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _FETCH_SCHEMA}},
            }
        },
        responses={
            200: {
                "description": "Released: the data and the access's receipt.",
                "content": {"application/json": {"schema": _RELEASED_SCHEMA}},
            },
            **_FETCH_PROBLEMS,
        },
    )
    async def fetch(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Response:
        body = await request.body()
        try:
            answer = await fetch_answer(platform, bearer_token(request), body)
        except CivicError as exc:
            return refusal(exc)
        return Response(answer, media_type="application/json")

    @app.get(
        "/current/{provider}/{category}/{subject}",
        tags=["requesters"],
        summary="The current value of one category about a citizen (a thin event's link)",
        description=(
            "What a thin tell-us-once event links to, and usable for any provider: the caller's "
            "registered purpose naming this provider and category, and the citizen's consent "
            "under it, are found for the caller; then the access is checked and logged before "
            "release, as `POST /exchange/fetch` does."
        ),
        responses={
            200: {
                "description": "Released: the data and the access's receipt.",
                "content": {"application/json": {"schema": _RELEASED_SCHEMA}},
            },
            **_FETCH_PROBLEMS,
        },
    )
    async def current(
        provider: Annotated[str, Path(pattern=_SLUG)],
        category: Annotated[str, Path(max_length=80)],
        subject: Annotated[str, Path(max_length=128)],
        who: Annotated[Caller, Depends(caller)],
    ) -> Response:
        try:
            released = await platform.exchange.current_async(who, provider, category, subject)
        except CivicError as exc:
            return refusal(exc)
        return Response(json_dumps(released.to_json()), media_type="application/json")

    return (
        Service(
            "/exchange",
            "Data exchange",
            "Consented data exchange between organisations; every access logged before release.",
            ("X-Road model", "W3C DPV", "RFC 9162", "C2SP tlog-proof", "RFC 9457"),
            fast_path=lambda inner: FastFetch(inner, platform),
        ),
        app,
    )


class FastFetch:
    """ASGI: ``POST /exchange/fetch`` answered straight from the server, skipping the routing
    and middleware stacks (as :class:`civicstack.api.verifier.FastVerify` does for its hot
    path): the same function as the documented route, the same problem+json."""

    def __init__(self, app: ASGIApp, platform: Platform, *, path: str = "/exchange/fetch") -> None:
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
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_FETCH_BODY:
                await problem("too_large", f"at most {MAX_FETCH_BODY} bytes")(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        try:
            answer = await fetch_answer(self.platform, token, b"".join(chunks))
        except CivicError as exc:
            await refusal(exc)(scope, receive, send)
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


__all__ = ["FastFetch", "exchange_service", "fetch_answer", "refusal"]
