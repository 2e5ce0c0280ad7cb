"""GP registration (``/gp``): practices from the ``gp-practice`` register, a patient's
registration with one (the record taken over from the previous practice through the data
exchange, logged with a receipt) and the relatives' family health history, shared only under
each relative's own consent.

Practices authenticate with their relying party's API key; the admin ties organisations to
register keys (ODS codes).

- ``GET /gp/practices`` — the practices on the platform, open and accepting as the register says;
- ``PUT /gp/practices/{ods_code}`` — the admin ties a registered organisation to a practice;
- ``POST /gp/registrations`` — the chosen practice registers a patient under their consent and
  asks the named relatives for consent;
- ``GET /gp/registrations/{id}`` — a registration and the relatives' requests;
- ``POST /gp/registrations/{id}/family-history`` — each relative's family health history, when
  they consented (nothing of a relative who refused or has not answered).
"""

# No `from __future__ import annotations`: FastAPI resolves the dependencies named in route
# annotations (closures over the platform) at definition time.
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from civicstack.api.auth import bearer_token
from civicstack.api.catalogue import Service, service_app
from civicstack.api.exchange import refusal
from civicstack.api.problems import PROBLEM_SCHEMA
from civicstack.errors import CivicError
from civicstack.platform import Platform
from civicstack.services.gp_registration import MAX_RELATIVES, Practice, Registration
from civicstack.services.verifier import Caller

SUMMARY = (
    "GP switching: register with a practice chosen from the gp-practice register; the record "
    "moves under the patient's consent, relatives' family history only under theirs."
)
_ODS = r"^[A-Z0-9]{3,10}$"
_SLUG = r"^[a-z0-9][a-z0-9-]{0,62}$"
_ID = r"^[0-9a-f]{24}$"
_PROBLEMS: dict[int | str, dict[str, Any]] = dict.fromkeys(
    (400, 401, 403, 404, 409, 413), PROBLEM_SCHEMA
)
_FETCHING: dict[int | str, dict[str, Any]] = {**_PROBLEMS, 502: PROBLEM_SCHEMA, 503: PROBLEM_SCHEMA}
_bearer = HTTPBearer(auto_error=False, description="A practice's API key (or the admin)")


class PracticeOut(BaseModel):
    """A practice as the register describes it."""

    ods_code: str
    name: str
    open: bool
    accepting_new_patients: bool
    organisation: str | None


class LinkIn(BaseModel):
    """The organisation that acts as a practice."""

    model_config = ConfigDict(extra="forbid")
    organisation: str = Field(pattern=_SLUG)


class RelativeIn(BaseModel):
    """A relative the patient names: who they are, and the practice holding their record."""

    model_config = ConfigDict(extra="forbid")
    issuing_country: str = Field(pattern=r"^[A-Z]{2}$")
    personal_administrative_number: str = Field(pattern=r"^[A-Za-z0-9]{1,32}$")
    relationship: str = Field(pattern=r"^[a-z][a-z-]{0,31}$", description="e.g. mother")
    practice: str = Field(pattern=_ODS, description="Their practice's ODS code.")


class RegistrationIn(BaseModel):
    """A patient registering with the calling practice."""

    model_config = ConfigDict(extra="forbid")
    practice: str = Field(pattern=_ODS, description="The chosen practice's ODS code.")
    previous_practice: str = Field(pattern=_ODS, description="The practice holding the record.")
    subject: str = Field(
        min_length=43, max_length=43, description="The practice's pairwise id of the patient."
    )
    consent: str = Field(
        pattern=r"^[A-Za-z0-9_-][A-Za-z0-9._:-]{0,63}$",
        description="The patient's consent to fetch their record from the previous practice.",
    )
    relatives: list[RelativeIn] = Field(default_factory=list, max_length=MAX_RELATIVES)


class RelativeAskedOut(BaseModel):
    """A relative asked for consent."""

    relationship: str
    practice: str
    consent_request: str


class RegistrationOut(BaseModel):
    """A registration."""

    id: str
    practice: str
    ods_code: str
    previous_practice: str
    subject: str
    consent: str
    log_index: int
    created_at: int
    relatives: list[RelativeAskedOut]


class RegisteredOut(RegistrationOut):
    """A new registration with the record taken over and its access's receipt."""

    record: dict[str, Any]
    receipt: str | None = Field(description="The C2SP tlog-proof of the record's fetch.")


class RelativeSharedOut(BaseModel):
    """What one relative's consent let through."""

    relationship: str
    state: str = Field(description="The consent request's state: pending, given or refused.")
    data: dict[str, Any] | None = None
    receipt: str | None = None
    refusal: str | None = None


def _practice(p: Practice) -> PracticeOut:
    return PracticeOut(
        ods_code=p.ods_code,
        name=p.name,
        open=p.open,
        accepting_new_patients=p.accepting,
        organisation=p.organisation,
    )


def _registration(r: Registration) -> dict[str, Any]:
    return {
        "id": r.id,
        "practice": r.practice,
        "ods_code": r.ods_code,
        "previous_practice": r.previous,
        "subject": r.subject,
        "consent": r.consent,
        "log_index": r.log_index,
        "created_at": r.created_at,
        "relatives": [
            {"relationship": a.relationship, "practice": a.practice, "consent_request": a.request}
            for a in r.relatives
        ],
    }


def gp_service(platform: Platform) -> tuple[Service, FastAPI]:
    """The ``/gp`` sub-application."""
    app = service_app("GP registration", SUMMARY)

    def caller(
        request: Request,
        _: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> Caller:
        return platform.verifier.authenticate(bearer_token(request))

    @app.get("/practices", tags=["practices"], summary="The practices on the platform")
    def practices() -> list[PracticeOut]:
        return [_practice(p) for p in platform.gp_registrations.practices()]

    @app.put(
        "/practices/{ods_code}",
        tags=["practices"],
        summary="Tie a registered organisation to a gp-practice register key (admin)",
        responses=_PROBLEMS,
    )
    def link(
        ods_code: Annotated[str, Path(pattern=_ODS)],
        body: LinkIn,
        who: Annotated[Caller, Depends(caller)],
    ) -> PracticeOut:
        return _practice(platform.gp_registrations.link(who, body.organisation, ods_code))

    @app.post(
        "/registrations",
        status_code=201,
        tags=["registrations"],
        summary="Register a patient: take over their record under consent, ask relatives",
        response_model=RegisteredOut,
        responses=_FETCHING,
    )
    def register(body: RegistrationIn, who: Annotated[Caller, Depends(caller)]) -> Any:
        try:
            registration, released = platform.gp_registrations.register(
                who,
                practice=body.practice,
                previous=body.previous_practice,
                subject=body.subject,
                consent=body.consent,
                relatives=[r.model_dump() for r in body.relatives],
            )
        except CivicError as exc:
            return refusal(exc)
        receipt = released.recorded.receipt
        return RegisteredOut(
            **_registration(registration),
            record=released.data,
            receipt=None if receipt is None else receipt.text(),
        )

    @app.get(
        "/registrations/{registration_id}",
        tags=["registrations"],
        summary="A registration and its relatives' consent requests",
        responses=_PROBLEMS,
    )
    def registration(
        registration_id: Annotated[str, Path(pattern=_ID)],
        who: Annotated[Caller, Depends(caller)],
    ) -> RegistrationOut:
        found = platform.gp_registrations.registration(who, registration_id)
        return RegistrationOut(**_registration(found))

    @app.post(
        "/registrations/{registration_id}/family-history",
        tags=["registrations"],
        summary="Each relative's family health history, only under their consent",
        responses=_FETCHING,
    )
    def family_history(
        registration_id: Annotated[str, Path(pattern=_ID)],
        who: Annotated[Caller, Depends(caller)],
    ) -> list[RelativeSharedOut]:
        shared = platform.gp_registrations.family_history(who, registration_id)
        return [
            RelativeSharedOut(
                relationship=s.relationship,
                state=s.state,
                data=None if s.data is None else dict(s.data),
                receipt=s.receipt,
                refusal=s.refusal,
            )
            for s in shared
        ]

    service = Service(
        "/gp",
        "GP registration",
        SUMMARY,
        ("NHS GP registration and GP2GP (model)", "C2SP tlog-proof", "W3C DPV"),
    )
    return service, app
