"""The consent service (``/consents``): requests, the wallet's inbox and answers, withdrawal,
coverage.

* Requesters (registered relying parties) authenticate with their verifier API key
  (``Authorization: Bearer cvk...``) or the admin token acting for one (``requester`` in the
  body or query): ``POST /requests``, ``GET /requests``, ``GET /requests/{id}``,
  ``GET /records``, ``GET /records/{id}``.
* The citizen's wallet authenticates each call with a PID presentation (SD-JWT VC + KB-JWT,
  ``aud`` = this service's URL, a nonce from ``POST /nonces``): ``POST /inbox``,
  ``POST /requests/{id}/answer`` (with the signed consent, ``civicstack-consent+jwt``),
  ``POST /records/{id}/withdraw`` (a ``civicstack-consent-withdrawal+jwt`` signed by the key
  the consent was given with, or by a fresh PID presentation's key).
* Providers (the admin token, or an API key acting for the provider) ask
  ``POST /check``: would this access be covered now?

Errors are problem+json (RFC 9457) with civicstack's stable codes.
"""

# No `from __future__ import annotations`: FastAPI resolves the dependencies named in route
# annotations (closures over the platform) at definition time.
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from civicstack.api.auth import bearer_token
from civicstack.api.catalogue import Service, service_app
from civicstack.api.limits import BodySizeLimit
from civicstack.api.problems import PROBLEM_SCHEMA
from civicstack.consent import CATEGORIES, PURPOSES, ConsentRecord, ConsentRequest
from civicstack.platform import Platform
from civicstack.services.consent import Consents
from civicstack.services.verifier import Caller

SUMMARY = (
    "Consent for data exchange: requests from registered relying parties, the citizen's inbox "
    "and signed answers (PID-bound JWS), withdrawal at once, coverage checks for providers."
)
#: Every body this service takes fits well inside this (a PID presentation and a JWS).
MAX_BODY = 96 * 1024
_ID = r"^[A-Za-z0-9_-]{1,32}$"
_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_PAIRWISE = r"^[A-Za-z0-9_-]{43}$"
_BIG = 128 * 1024  # strings are capped by the service (too_large), not by the schema
_PROBLEMS: dict[int | str, dict[str, Any]] = dict.fromkeys(
    (400, 401, 403, 404, 409, 413, 429), PROBLEM_SCHEMA
)
Id = Annotated[str, Path(pattern=_ID)]
_bearer = HTTPBearer(
    auto_error=False, description="A relying party's API key (verifier) or the admin token"
)


class CreateRequest(BaseModel):
    """A request for consent about a citizen the requester knows by its pairwise id."""

    model_config = ConfigDict(extra="forbid")
    subject: str = Field(pattern=_PAIRWISE, description="The citizen's pairwise id at you.")
    provider: str = Field(pattern=_NAME, description="The organisation holding the data.")
    purpose: str = Field(pattern=_NAME, description="Your registered purpose id.")
    categories: list[str] = Field(
        min_length=1, max_length=64, description="DPV-PD categories (see GET /vocabulary)."
    )
    once: bool = Field(False, description="Frequency: one access, or until withdrawn.")
    valid_days: int = Field(365, ge=1, le=100_000, description="How long the consent lasts.")
    dpv_purpose: str | None = Field(None, max_length=64, description="A DPV purpose term.")
    requester: str | None = Field(
        None, pattern=_NAME, description="Admin token only: the requester acting."
    )


class RequestOut(BaseModel):
    """A consent request."""

    id: str
    requester: str
    provider: str
    purpose: str
    dpv_purpose: str
    categories: list[str]
    subject: str
    frequency: Literal["once", "until_withdrawn"]
    valid_days: int
    created_at: int
    expires_at: int
    state: Literal["pending", "given", "refused", "expired"]
    answered_at: int | None
    consent_id: str | None


class SubjectsOut(BaseModel):
    """The citizen's pairwise ids the record names."""

    requester: str
    provider: str
    access_log: str


class RecordOut(BaseModel):
    """One version of a consent record (ISO/IEC TS 27560 fields with DPV terms)."""

    id: str
    version: int
    state: Literal["given", "refused", "withdrawn", "expired"]
    status_term: str
    requester: str
    provider: str
    purpose: str
    dpv_purpose: str
    categories: list[str]
    legal_basis: str
    subjects: SubjectsOut
    valid_from: int
    valid_until: int
    frequency: Literal["once", "until_withdrawn"]
    used_at: int | None
    request_id: str
    created_at: int
    signature: str = Field(description="The citizen's decision, JWS civicstack-consent+jwt.")
    presentation: str = Field(description="The PID presentation that bound the signing key.")
    withdrawal: str | None


class VersionsOut(BaseModel):
    """Every version of a consent record, oldest first."""

    id: str
    versions: list[RecordOut]


class NonceOut(BaseModel):
    """A nonce for one PID presentation to ``aud``."""

    nonce: str
    aud: str
    expires_at: int


class PidProof(BaseModel):
    """A PID presentation (disclosing personal_administrative_number and issuing_country)
    to this service, with a nonce it handed out."""

    model_config = ConfigDict(extra="forbid")
    presentation: str = Field(max_length=_BIG, description="SD-JWT VC + KB-JWT.")
    nonce: str = Field(max_length=64)


class InboxOut(BaseModel):
    """The citizen's pending requests and their consents."""

    pending: list[RequestOut]
    consents: list[RecordOut]


class Answer(PidProof):
    """The citizen's answer: the PID presentation and the consent it signed with its key."""

    consent: str = Field(max_length=_BIG, description="JWS civicstack-consent+jwt.")


class Invitation(PidProof):
    """The citizen asks a requester to ask them, for one of its registered purposes."""

    requester: str = Field(pattern=_NAME, description="The organisation to ask you.")
    provider: str = Field(pattern=_NAME, description="The organisation holding the data.")
    purpose: str = Field(pattern=_NAME, description="The requester's registered purpose id.")
    valid_days: int = Field(365, ge=1, le=100_000, description="How long the consent lasts.")


class Withdrawal(BaseModel):
    """A withdrawal, signed by the consent's key, or by a fresh PID presentation's key."""

    model_config = ConfigDict(extra="forbid")
    withdrawal: str = Field(max_length=_BIG, description="JWS civicstack-consent-withdrawal+jwt.")
    presentation: str | None = Field(None, max_length=_BIG)
    nonce: str | None = Field(None, max_length=64)


class CoverageQuestion(BaseModel):
    """Would this access be covered now?"""

    model_config = ConfigDict(extra="forbid")
    consent_id: str = Field(pattern=_ID)
    requester: str = Field(pattern=_NAME)
    requester_subject: str = Field(pattern=_PAIRWISE)
    provider: str = Field(pattern=_NAME)
    purpose: str = Field(pattern=_NAME)
    categories: list[str] = Field(min_length=1, max_length=64)


class CoveredOut(BaseModel):
    """A covered access: the pairwise ids the provider and the access log need."""

    covered: Literal[True]
    consent_id: str
    consent_version: int
    requester: str
    provider: str
    purpose: str
    categories: list[str]
    requester_subject: str
    provider_subject: str
    log_subject: str
    once: bool


def _request(r: ConsentRequest, now: int) -> RequestOut:
    return RequestOut(**r.to_json(now))


def _record(r: ConsentRecord, now: int) -> RecordOut:
    return RecordOut(**r.to_json(now))


def consent_service(platform: Platform) -> tuple[Service, FastAPI]:
    """The ``/consents`` sub-application."""
    app = service_app("Consent", SUMMARY)
    app.add_middleware(BodySizeLimit, max_body=MAX_BODY)

    def consents() -> Consents:
        return platform.consents

    def now() -> int:
        return platform.clock.now()

    def caller(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        return consents().authenticate(bearer_token(request))

    Who = Annotated[Caller, Depends(caller)]  # noqa: N806 - a type alias over this app's caller

    @app.get("/vocabulary", tags=["everyone"], summary="The DPV terms requests may use")
    def vocabulary() -> dict[str, dict[str, str]]:
        return {"categories": dict(CATEGORIES), "purposes": dict(PURPOSES)}

    @app.post(
        "/requests",
        status_code=201,
        tags=["requesters"],
        summary="Ask a citizen (by your pairwise id for them) for consent",
        responses=_PROBLEMS,
    )
    def create_request(body: CreateRequest, who: Who) -> RequestOut:
        made = consents().create_request(
            who,
            subject=body.subject,
            provider=body.provider,
            purpose=body.purpose,
            categories=body.categories,
            once=body.once,
            valid_days=body.valid_days,
            dpv_purpose=body.dpv_purpose,
            requester=body.requester,
        )
        return _request(made, now())

    @app.get(
        "/requests",
        tags=["requesters"],
        summary="Your consent requests, newest first (a page)",
        responses=_PROBLEMS,
    )
    def list_requests(
        who: Who,
        requester: Annotated[str | None, Query(pattern=_NAME)] = None,
        before: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    ) -> list[RequestOut]:
        at = now()
        return [
            _request(r, at) for r in consents().requests(who, requester=requester, before=before)
        ]

    @app.get(
        "/requests/{request_id}",
        tags=["requesters"],
        summary="One of your consent requests",
        responses=_PROBLEMS,
    )
    def get_request(request_id: Id, who: Who) -> RequestOut:
        return _request(consents().request(who, request_id), now())

    @app.post(
        "/nonces",
        status_code=201,
        tags=["wallets"],
        summary="A nonce for the wallet's next PID presentation to this service",
        responses=_PROBLEMS,
    )
    def nonce() -> NonceOut:
        issued = consents().nonce()
        return NonceOut(nonce=issued.nonce, aud=issued.aud, expires_at=issued.expires_at)

    @app.post(
        "/inbox",
        tags=["wallets"],
        summary="The citizen's pending requests and consents (PID-authenticated)",
        responses=_PROBLEMS,
    )
    def inbox(body: PidProof) -> InboxOut:
        pending, given = consents().inbox(body.presentation, body.nonce)
        at = now()
        return InboxOut(
            pending=[_request(r, at) for r in pending], consents=[_record(r, at) for r in given]
        )

    @app.post(
        "/invitations",
        status_code=201,
        tags=["wallets"],
        summary="Ask a requester to ask you (PID-authenticated): a request in your inbox",
        responses=_PROBLEMS,
    )
    def invite(body: Invitation) -> RequestOut:
        made = consents().invite(
            body.requester,
            provider=body.provider,
            purpose=body.purpose,
            presentation=body.presentation,
            nonce=body.nonce,
            valid_days=body.valid_days,
        )
        return _request(made, now())

    @app.post(
        "/requests/{request_id}/answer",
        status_code=201,
        tags=["wallets"],
        summary="Give or refuse consent: the signed decision, bound to a PID presentation",
        responses=_PROBLEMS,
    )
    def answer(request_id: Id, body: Answer) -> RecordOut:
        record = consents().answer(
            request_id, presentation=body.presentation, nonce=body.nonce, signed=body.consent
        )
        return _record(record, now())

    @app.post(
        "/records/{consent_id}/withdraw",
        tags=["wallets"],
        summary="Withdraw a consent, effective at once",
        responses=_PROBLEMS,
    )
    def withdraw(consent_id: Id, body: Withdrawal) -> RecordOut:
        record = consents().withdraw(
            consent_id, signed=body.withdrawal, presentation=body.presentation, nonce=body.nonce
        )
        return _record(record, now())

    @app.get(
        "/records",
        tags=["requesters"],
        summary="The consents you hold (current versions), newest first",
        responses=_PROBLEMS,
    )
    def list_records(
        who: Who,
        requester: Annotated[str | None, Query(pattern=_NAME)] = None,
        before: Annotated[int | None, Query(ge=0, le=2**53)] = None,
    ) -> list[RecordOut]:
        at = now()
        return [
            _record(r, at) for r in consents().consents(who, requester=requester, before=before)
        ]

    @app.get(
        "/records/{consent_id}",
        tags=["requesters"],
        summary="Every version of one of your consents",
        responses=_PROBLEMS,
    )
    def get_record(consent_id: Id, who: Who) -> VersionsOut:
        at = now()
        versions = consents().record(who, consent_id)
        return VersionsOut(id=consent_id, versions=[_record(r, at) for r in versions])

    @app.post(
        "/check",
        tags=["providers"],
        summary="Would this access be covered now? (uses nothing up)",
        responses=_PROBLEMS,
    )
    def check(body: CoverageQuestion, who: Who) -> CoveredOut:
        covered = consents().covers(
            who,
            body.consent_id,
            requester=body.requester,
            requester_subject=body.requester_subject,
            provider=body.provider,
            purpose=body.purpose,
            categories=body.categories,
        )
        return CoveredOut(
            covered=True,
            consent_id=covered.consent_id,
            consent_version=covered.consent_version,
            requester=covered.requester,
            provider=covered.provider,
            purpose=covered.purpose,
            categories=list(covered.categories),
            requester_subject=covered.requester_subject,
            provider_subject=covered.provider_subject,
            log_subject=covered.log_subject,
            once=covered.once,
        )

    return (
        Service(
            "/consents",
            "Consent",
            SUMMARY,
            ("ISO/IEC TS 27560", "W3C DPV 2.0", "SD-JWT VC", "RFC 7515", "RFC 9457"),
        ),
        app,
    )
