"""The events service (``/events``): organisations' webhook subscriptions and their deliveries.

Authenticated with a bearer token (RFC 6750 §2.1): the admin token (acting for any
organisation, named in the body or query) or a relying party's API key (acting for itself).
Webhooks are CloudEvents 1.0 (structured JSON) signed as Standard Webhooks (``v1`` HMAC,
``v1a`` Ed25519); see :mod:`civicstack.events`. Request bodies are capped at 16 KiB.
"""

# No `from __future__ import annotations`: FastAPI resolves the dependencies at definition time.
import time
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from civicstack.api.auth import bearer_token
from civicstack.api.catalogue import Service, service_app
from civicstack.api.problems import PROBLEM_SCHEMA
from civicstack.errors import InputError
from civicstack.events import EVENT_TYPES
from civicstack.platform import Platform
from civicstack.services.notifications import Notifications
from civicstack.services.verifier.api_keys import Caller

SUMMARY = (
    "Tell us once: organisations subscribe webhook endpoints to event types; CloudEvents 1.0 "
    "signed as Standard Webhooks (v1 HMAC, v1a Ed25519), at least once, in order per subject."
)
MAX_BODY = 16 * 1024
_SUB = r"^sub_[0-9a-f]{26}$"
_MSG = r"^msg_[0-9a-f]{26}$"
_SLUG = r"^[a-z0-9][a-z0-9-]{0,62}$"
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: PROBLEM_SCHEMA,
    401: PROBLEM_SCHEMA,
    403: PROBLEM_SCHEMA,
    404: PROBLEM_SCHEMA,
    409: PROBLEM_SCHEMA,
    413: PROBLEM_SCHEMA,
}
_bearer = HTTPBearer(auto_error=False, description="The admin token or a relying party's API key")
State = Literal["queued", "retrying", "inflight", "delivered", "dead", "disabled"]


class SubscribeIn(BaseModel):
    """An endpoint to subscribe."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(min_length=1, max_length=2048, description="http(s) URL of the endpoint.")
    types: list[str] = Field(min_length=1, max_length=32, description="Event types (GET /types).")
    organisation: str | None = Field(
        None, pattern=_SLUG, description="The organisation (admin token only)."
    )


class SubscribedOut(BaseModel):
    """A new subscription: the ``whsec_`` secret is shown this once."""

    id: str
    secret: str
    organisation: str
    url: str
    types: list[str]


class SubscriptionOut(BaseModel):
    """A subscription (no secret); ``metadata.v1a_public_key`` verifies its v1a signatures."""

    id: str
    organisation: str
    url: str
    types: list[str]
    created_at: int
    metadata: dict[str, str | None]
    disabled_at: int | None
    disabled_reason: str | None


class SigningKeyIn(BaseModel):
    """Optionally, the operator's own Ed25519 key (``whsk_``); else one is generated."""

    model_config = ConfigDict(extra="forbid")
    private_key: str | None = Field(None, max_length=200)


class DeliveryOut(BaseModel):
    """One event for one endpoint; ``id`` is the ``webhook-id``."""

    id: str
    event_id: str
    type: str
    subscription_id: str
    state: State
    attempts: int
    next_at: float
    created_at: float
    delivered_at: float | None
    last_status: int | None
    last_error: str | None


class AttemptOut(BaseModel):
    """One delivery attempt."""

    delivery_id: str
    subscription_id: str
    number: int
    at: float
    status: int | None
    error: str
    duration_ms: int


class ReplayIn(BaseModel):
    """Dead letters to deliver again: by id, or every one of an endpoint."""

    model_config = ConfigDict(extra="forbid")
    delivery_ids: list[str] = Field(default_factory=list, max_length=500)
    subscription_id: str | None = Field(None, pattern=_SUB)


async def _capped(request: Request) -> None:
    body = await request.body()
    if len(body) > MAX_BODY:
        raise InputError("too_large", f"request bodies here are at most {MAX_BODY} bytes")


def events_service(platform: Platform) -> tuple[Service, FastAPI]:
    """The ``/events`` sub-application."""
    app = service_app("Events (tell us once)", SUMMARY)

    def events() -> Notifications:
        return platform.notifications

    def caller(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        return events().authenticate(bearer_token(request))

    Who = Annotated[Caller, Depends(caller)]  # noqa: N806 - a type alias, named as one
    SubId = Annotated[str, Path(pattern=_SUB)]  # noqa: N806 - a type alias, named as one
    capped = [Depends(_capped)]

    @app.get("/types", tags=["events"], summary="The event types one may subscribe to")
    def types() -> dict[str, str]:
        return dict(EVENT_TYPES)

    @app.post(
        "/subscriptions",
        status_code=201,
        tags=["subscriptions"],
        summary="Subscribe an endpoint to event types (the secret is shown once)",
        responses=_PROBLEMS,
        dependencies=capped,
    )
    def subscribe(body: SubscribeIn, who: Who) -> SubscribedOut:
        sub, secret = events().subscribe(
            who, organisation=body.organisation, url=body.url, types=body.types
        )
        return SubscribedOut(
            id=sub.id,
            secret=secret,
            organisation=sub.organisation,
            url=sub.url,
            types=list(sub.types),
        )

    @app.get(
        "/subscriptions",
        tags=["subscriptions"],
        summary="The caller's subscriptions",
        responses=_PROBLEMS,
    )
    def listed(
        who: Who, organisation: Annotated[str | None, Query(pattern=_SLUG)] = None
    ) -> list[SubscriptionOut]:
        return [SubscriptionOut(**s.to_json()) for s in events().listed(who, organisation)]  # type: ignore[arg-type]

    @app.get(
        "/subscriptions/{subscription_id}",
        tags=["subscriptions"],
        summary="One subscription",
        responses=_PROBLEMS,
    )
    def one(subscription_id: SubId, who: Who) -> SubscriptionOut:
        return SubscriptionOut(**events().get(who, subscription_id).to_json())  # type: ignore[arg-type]

    @app.delete(
        "/subscriptions/{subscription_id}",
        status_code=204,
        tags=["subscriptions"],
        summary="Delete a subscription",
        responses=_PROBLEMS,
    )
    def delete(subscription_id: SubId, who: Who) -> Response:
        events().delete(who, subscription_id)
        return Response(status_code=204)

    @app.post(
        "/subscriptions/{subscription_id}/rotate-secret",
        tags=["subscriptions"],
        summary="A new secret; the old one keeps signing beside it for a day",
        responses=_PROBLEMS,
        dependencies=capped,
    )
    def rotate(subscription_id: SubId, who: Who) -> dict[str, str]:
        return {"secret": events().rotate(who, subscription_id)}

    @app.post(
        "/subscriptions/{subscription_id}/signing-key",
        tags=["subscriptions"],
        summary="Sign with v1a (Ed25519) too; returns the whpk_ public key",
        responses=_PROBLEMS,
        dependencies=capped,
    )
    def signing_key(
        subscription_id: SubId, who: Who, body: SigningKeyIn | None = None
    ) -> dict[str, str]:
        key = events().set_signing_key(
            who, subscription_id, None if body is None else body.private_key
        )
        return {"public_key": key}

    @app.post(
        "/subscriptions/{subscription_id}/test",
        status_code=202,
        tags=["subscriptions"],
        summary="Send a test event to this endpoint",
        responses=_PROBLEMS,
        dependencies=capped,
    )
    def test(subscription_id: SubId, who: Who) -> dict[str, str]:
        return {"event_id": events().test(who, subscription_id)}

    @app.get(
        "/deliveries",
        tags=["deliveries"],
        summary="The newest deliveries to the caller's endpoints (state=dead: dead letters)",
        responses=_PROBLEMS,
    )
    def deliveries(
        who: Who,
        subscription_id: Annotated[str | None, Query(pattern=_SUB)] = None,
        organisation: Annotated[str | None, Query(pattern=_SLUG)] = None,
        state: State | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[DeliveryOut]:
        found = events().deliveries(
            who,
            subscription_id=subscription_id,
            organisation=organisation,
            state=state,
            limit=limit,
        )
        return [DeliveryOut(**d.summary()) for d in found]  # type: ignore[arg-type]

    @app.get(
        "/attempts",
        tags=["deliveries"],
        summary="The newest delivery attempts",
        responses=_PROBLEMS,
    )
    def attempts(
        who: Who,
        subscription_id: Annotated[str | None, Query(pattern=_SUB)] = None,
        organisation: Annotated[str | None, Query(pattern=_SLUG)] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[AttemptOut]:
        found = events().attempts(
            who, subscription_id=subscription_id, organisation=organisation, limit=limit
        )
        return [AttemptOut(**a.to_json()) for a in found]  # type: ignore[arg-type]

    @app.post(
        "/replay",
        tags=["deliveries"],
        summary="Deliver dead letters again",
        responses=_PROBLEMS,
        dependencies=capped,
    )
    def replay(body: ReplayIn, who: Who) -> dict[str, int]:
        for delivery_id in body.delivery_ids:
            if len(delivery_id) > 40 or not delivery_id.startswith("msg_"):
                raise InputError("invalid_request", "delivery ids are msg_...")
        if not body.delivery_ids and body.subscription_id is None:
            raise InputError("invalid_request", "name delivery_ids or a subscription_id")
        count = events().replay(
            who,
            delivery_ids=body.delivery_ids,
            subscription_id=body.subscription_id,
            now=time.time(),
        )
        return {"replayed": count}

    return (
        Service(
            "/events",
            "Events",
            SUMMARY,
            ("CloudEvents 1.0", "Standard Webhooks 1.0", "OIDC Core §8.1 pairwise", "RFC 9457"),
        ),
        app,
    )
