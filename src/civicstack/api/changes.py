"""The change service (``/changes``): tell us once, and the electoral roll.

* Citizens' wallets: ``POST /nonces``, then ``POST /`` with a PID presentation to this service
  (``aud`` = this service's URL) and the change signed by the PID's key
  (``civicstack-change+jwt``); a company's officer the same, disclosing their name and birth
  date. ``POST /electoral/opt-out``, ``/opt-in``, ``/standing`` (PID-authenticated).
* Registrars: ``POST /`` with a registrar-signed report (births, deaths); the admin acting for a
  registrar hosted here: ``POST /registrations``.
* Anyone holding a report's id: ``GET /{id}`` (published, delivered to N of M).
* Registration officers (their API key, ``ero-<code>``, or the admin):
  ``GET /electoral/{authority}/roll``; the admin runs the check at 18,
  ``POST /electoral/coming-of-age``.

Errors are problem+json (RFC 9457) with civicstack's stable codes.
"""

# No `from __future__ import annotations`: FastAPI resolves the dependencies named in route
# annotations (closures over the platform) at definition time.
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from civicstack.api.auth import admin_guard, bearer_token
from civicstack.api.catalogue import Service, service_app
from civicstack.api.limits import BodySizeLimit
from civicstack.api.problems import PROBLEM_SCHEMA
from civicstack.changes import EVENT_CATEGORY, EVENT_TYPE, KINDS, RollEntry, ero_name
from civicstack.platform import Platform
from civicstack.services.changes import Changes, ElectoralRoll
from civicstack.services.verifier import Caller

SUMMARY = (
    "Tell us once: change reports signed by the citizen's wallet (PID-bound JWS) or an "
    "accredited registrar, checked against the registers and published to every consented "
    "organisation; the electoral roll kept by automatic voter registration."
)
MAX_BODY = 64 * 1024
_ID = r"^[A-Za-z0-9_-]{1,32}$"
_NAME = r"^[a-z0-9][a-z0-9_-]{0,63}$"
_AUTHORITY = r"^[A-Za-z0-9-]{1,16}$"
_BIG = 64 * 1024
_PROBLEMS: dict[int | str, dict[str, Any]] = dict.fromkeys(
    (400, 401, 403, 404, 409, 413, 429), PROBLEM_SCHEMA
)
_bearer = HTTPBearer(auto_error=False, description="An officer's API key or the admin token")


class NonceOut(BaseModel):
    """A nonce for one PID presentation to ``aud``."""

    nonce: str
    aud: str
    expires_at: int


class Report(BaseModel):
    """A signed change report: a wallet's (with its PID presentation and nonce) or a
    registrar's (alone)."""

    model_config = ConfigDict(extra="forbid")
    report: str = Field(max_length=_BIG, description="JWS civicstack-change+jwt.")
    presentation: str | None = Field(None, max_length=_BIG, description="SD-JWT VC + KB-JWT.")
    nonce: str | None = Field(None, max_length=64)


class Registration(BaseModel):
    """A birth or death the admin registers for a registrar hosted here (signed by it)."""

    model_config = ConfigDict(extra="forbid")
    registrar: str = Field(pattern=_NAME)
    change: dict[str, Any] = Field(description='{"kind": "birth"|"death", fields...}')


class PidProof(BaseModel):
    """A PID presentation to this service with a nonce it handed out."""

    model_config = ConfigDict(extra="forbid")
    presentation: str = Field(max_length=_BIG)
    nonce: str = Field(max_length=64)


class EventOut(BaseModel):
    """The event a report published."""

    id: str
    type: str


class StatusOut(BaseModel):
    """A report and how far its event went."""

    id: str
    kind: str
    event: EventOut
    created_at: int
    status: str = Field(description="published, or delivered (to every endpoint told)")
    fanned_out: bool
    delivered: int
    endpoints: int
    deliveries: dict[str, int]
    summary: str


class ElectorOut(BaseModel):
    """One elector on a roll, as its registration officer knows them."""

    seq: int
    subject: str = Field(description="The elector's pairwise id at this officer.")
    uprn: str
    registered_at: int


class StandingOut(BaseModel):
    """The citizen's own standing on the electoral roll."""

    registered: bool
    authority: str | None
    uprn: str | None
    opted_out: bool


def _standing(entry: RollEntry | None, opted_out: bool) -> StandingOut:
    return StandingOut(
        registered=entry is not None,
        authority=None if entry is None else entry.authority,
        uprn=None if entry is None else entry.uprn,
        opted_out=opted_out,
    )


def changes_service(platform: Platform) -> tuple[Service, FastAPI]:
    """The ``/changes`` sub-application."""
    app = service_app("Tell us once", SUMMARY)
    app.add_middleware(BodySizeLimit, max_body=MAX_BODY)
    admin = [Depends(admin_guard(platform))]

    def changes() -> Changes:
        return platform.changes

    def electoral() -> ElectoralRoll:
        return platform.electoral

    def caller(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        return electoral().authenticate(bearer_token(request))

    Who = Annotated[Caller, Depends(caller)]  # noqa: N806 - a type alias over this app's caller

    @app.get("/kinds", tags=["everyone"], summary="The kinds of change, their events, categories")
    def kinds() -> dict[str, dict[str, str | None]]:
        return {
            k: {"event_type": EVENT_TYPE[k], "category": EVENT_CATEGORY.get(EVENT_TYPE[k])}
            for k in KINDS
        }

    @app.post(
        "/nonces",
        status_code=201,
        tags=["wallets"],
        summary="A nonce for the wallet's next PID presentation to this service",
        responses=_PROBLEMS,
    )
    def nonce() -> NonceOut:
        issued = changes().nonce()
        return NonceOut(nonce=issued.nonce, aud=issued.aud, expires_at=issued.expires_at)

    @app.post(
        "/",
        status_code=201,
        tags=["wallets", "registrars"],
        summary="Report a change: a wallet's (PID-bound) or a registrar's signed report",
        responses=_PROBLEMS,
    )
    def report(body: Report) -> StatusOut:
        if body.presentation is None and body.nonce is None:
            stored = changes().register(body.report)
        else:
            stored = changes().report(
                signed=body.report, presentation=body.presentation, nonce=body.nonce
            )
        return StatusOut(**changes().status(stored.id).to_json())

    @app.post(
        "/registrations",
        status_code=201,
        tags=["registrars"],
        summary="Register a birth or death for a registrar hosted here (admin token)",
        responses=_PROBLEMS,
        dependencies=admin,
    )
    def registration(body: Registration) -> StatusOut:
        stored = changes().register_as(body.registrar, body.change)
        return StatusOut(**changes().status(stored.id).to_json())

    @app.get(
        "/electoral/{authority}/roll",
        tags=["registration officers"],
        summary="An authority's current electors (its officer's API key, or the admin)",
        responses=_PROBLEMS,
    )
    def roll(
        authority: Annotated[str, Path(pattern=_AUTHORITY)],
        who: Who,
        # The roll's sequence is a 32-bit column: a larger cursor is refused, not sent to SQL
        # (PostgreSQL answered "integer out of range" with a 500).
        after: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[ElectorOut]:
        return [
            ElectorOut(seq=seq, subject=e.subject, uprn=e.uprn, registered_at=e.registered_at)
            for seq, e in electoral().roll(who, authority, after=after, limit=limit)
        ]

    @app.post(
        "/electoral/{authority}/officer",
        tags=["registration officers"],
        summary="Enrol an authority's registration officer, ero-<code> (admin token)",
        responses=_PROBLEMS,
        dependencies=admin,
    )
    def enrol(authority: Annotated[str, Path(pattern=_AUTHORITY)]) -> dict[str, Any]:
        made = electoral().enrol_officer(authority)
        return {"officer": ero_name(authority.upper()), "enrolled": made}

    @app.post(
        "/electoral/opt-out",
        tags=["wallets"],
        summary="Opt out of automatic voter registration (off the roll at once)",
        responses=_PROBLEMS,
    )
    def opt_out(body: PidProof) -> StandingOut:
        electoral().opt_out(body.presentation, body.nonce)
        return _standing(None, True)

    @app.post(
        "/electoral/opt-in",
        tags=["wallets"],
        summary="Withdraw an opt-out (back on the roll it took you off)",
        responses=_PROBLEMS,
    )
    def opt_in(body: PidProof) -> StandingOut:
        return _standing(electoral().opt_in(body.presentation, body.nonce), False)

    @app.post(
        "/electoral/standing",
        tags=["wallets"],
        summary="Your own standing on the electoral roll",
        responses=_PROBLEMS,
    )
    def standing(body: PidProof) -> StandingOut:
        return _standing(*electoral().standing(body.presentation, body.nonce))

    @app.post(
        "/electoral/coming-of-age",
        tags=["registration officers"],
        summary="Run the check at 18 now (admin token; civic up's sweeper runs it too)",
        responses=_PROBLEMS,
        dependencies=admin,
    )
    def coming_of_age() -> dict[str, int]:
        return {"placed": electoral().coming_of_age(now=platform.clock.now())}

    @app.get(
        "/{report_id}",
        tags=["wallets", "registrars"],
        summary="A report's status: published, delivered to N of M",
        responses=_PROBLEMS,
    )
    def status(report_id: Annotated[str, Path(pattern=_ID)]) -> StatusOut:
        return StatusOut(**changes().status(report_id).to_json())

    return (
        Service(
            "/changes",
            "Tell us once",
            SUMMARY,
            ("CloudEvents 1.0", "Standard Webhooks", "SD-JWT VC", "RFC 7515", "RFC 9457"),
        ),
        app,
    )
