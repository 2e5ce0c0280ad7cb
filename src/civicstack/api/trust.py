"""The trust registry service (``/trust``): what anyone needs to decide whom to trust.

Public, for wallets, verifiers and auditors:

* the root authority (the trust anchor: identifier, name, keys) at ``/root``, for wallets to
  pin and verifiers to configure;
* every signed statement (accreditations, revocations, relying-party registrations,
  suspensions), one by one and all together at ``/registry`` in the order that re-verifies:
  ``TrustRegistry.from_json(statements, roots)`` rebuilds and checks it from the root's keys
  alone, so nobody needs to trust this server's word;
* the accredited authorities and the registered relying parties with their current standing,
  and links to every issuer's status lists (Token Status List §8) and metadata.

Admin (``Authorization: Bearer <admin token>``): accredit authorities, register relying
parties, suspend and reinstate them, revoke accreditations. Every change is a statement signed
by the root (or the accredited authority named in ``by``) and verified again before it is kept.

Statement formats and trust decisions: :mod:`civicstack.trust` (OpenID Federation 1.0 §3 and
§10.2 in spirit; ETSI TS 119 475 registrations with intended uses).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from civicstack.api.auth import admin_guard
from civicstack.api.catalogue import Service, service_app
from civicstack.api.problems import PROBLEM_SCHEMA
from civicstack.errors import CivicError, VerificationError
from civicstack.openid4vp import client_id_for
from civicstack.platform import Platform
from civicstack.services.authorities import MAX_VALIDITY_DAYS
from civicstack.trust import (
    Accreditation,
    AccreditationRevocation,
    Purpose,
    RelyingPartyRegistration,
    Statement,
    Suspension,
    TrustRegistry,
)
from civicstack.trust.fields import scope_json
from civicstack.trust.parties import HostedAuthority

SUMMARY = (
    "The trust registry: the root, accredited authorities, relying-party registrations, "
    "revocations and suspensions as signed statements anyone can re-verify; admin API."
)
_SLUG = r"^[a-z0-9][a-z0-9-]{0,62}$"
_JTI = r"^[A-Za-z0-9_-]{1,64}$"
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    400: PROBLEM_SCHEMA,
    401: PROBLEM_SCHEMA,
    403: PROBLEM_SCHEMA,
    404: PROBLEM_SCHEMA,
    409: PROBLEM_SCHEMA,
}
StatementType = Literal["accreditation", "revocation", "registration", "suspension"]


# --- statements as JSON ----------------------------------------------------------------------


def statement_json(statement: Statement) -> dict[str, Any]:
    """A statement's fields, with the signed token itself (``token``) to check them against."""
    if isinstance(statement, Accreditation):
        return {
            "type": "accreditation",
            "jti": statement.jti,
            "iss": statement.accreditor,
            "sub": statement.authority,
            "name": statement.name,
            "jwks": statement.keys.to_jwks(),
            "scope": scope_json(statement.scope),
            "may_accredit": statement.may_accredit,
            "may_register": statement.may_register,
            "iat": statement.iat,
            "nbf": statement.nbf,
            "exp": statement.exp,
            "token": statement.token,
        }
    if isinstance(statement, AccreditationRevocation):
        return {
            "type": "revocation",
            "jti": statement.jti,
            "iss": statement.revoker,
            "sub": statement.authority,
            "accreditation": statement.accreditation,
            "iat": statement.iat,
            "reason": statement.reason,
            "token": statement.token,
        }
    if isinstance(statement, RelyingPartyRegistration):
        return {
            "type": "registration",
            "jti": statement.jti,
            "iss": statement.registrar,
            "sub": statement.relying_party,
            "name": statement.name,
            "jwks": statement.keys.to_jwks(),
            "purposes": [p.to_json() for p in statement.purposes.values()],
            "iat": statement.iat,
            "nbf": statement.nbf,
            "exp": statement.exp,
            "token": statement.token,
        }
    return {
        "type": "suspension",
        "jti": statement.jti,
        "iss": statement.by,
        "sub": statement.relying_party,
        "suspended": statement.suspended,
        "iat": statement.iat,
        "reason": statement.reason,
        "token": statement.token,
    }


def _standing(check: Any) -> str:
    try:
        check()
    except VerificationError as exc:
        return exc.code
    return "valid"


class _View:
    """One consistent reading of the registry, with the hosted parties' names and lists."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.registry: TrustRegistry = platform.trust_registry()
        self.now = platform.clock.now()
        self.hosted = {h.identifier: h for h in platform.authority_store.list()}

    def name(self, identifier: str) -> str | None:
        hosted = self.hosted.get(identifier)
        return hosted.name if hosted is not None else None

    def authority(self, identifier: str) -> dict[str, Any]:
        accreditations = [a for a in self.registry.accreditations if a.authority == identifier]
        revoked = {
            s.accreditation
            for s in self.registry.recorded
            if isinstance(s, AccreditationRevocation) and s.authority == identifier
        }
        hosted = self.hosted.get(identifier)
        base = self.platform.settings.base_url
        path = identifier[len(base) :] if identifier.startswith(base + "/") else None
        return {
            "identifier": identifier,
            "name": hosted.name if hosted is not None else None,
            "display_name": accreditations[-1].name if accreditations else None,
            "standing": _standing(lambda: self.registry.valid_accreditations(identifier, self.now)),
            "accreditations": [
                {**statement_json(a), "revoked": a.jti in revoked} for a in accreditations
            ],
            "status_lists": self.status_lists(hosted),
            "metadata": None
            if path is None
            else {
                "openid_credential_issuer": f"{base}/.well-known/openid-credential-issuer{path}",
                "jwt_vc_issuer": f"{base}/.well-known/jwt-vc-issuer{path}",
            },
        }

    def status_lists(self, hosted: HostedAuthority | None) -> list[str]:
        if hosted is None or hosted.role != "authority":
            return []
        lists = self.platform.status_lists.lists(hosted.name)
        return [self.platform.authorities.status_uri(hosted, list_id) for list_id in lists]

    def relying_party(self, identifier: str) -> dict[str, Any]:
        registrations = [r for r in self.registry.registrations if r.relying_party == identifier]
        suspensions = [
            statement_json(s)
            for s in self.registry.recorded
            if isinstance(s, Suspension) and s.relying_party == identifier
        ]
        return {
            "identifier": identifier,
            "client_id": client_id_for(identifier),
            "name": self.name(identifier),
            "display_name": registrations[-1].name if registrations else None,
            "standing": _standing(lambda: self.registry.relying_party(identifier, self.now)),
            "registrations": [statement_json(r) for r in registrations],
            "suspensions": suspensions,
        }

    def authorities(self) -> list[dict[str, Any]]:
        subjects = dict.fromkeys(a.authority for a in self.registry.accreditations)
        return [self.authority(identifier) for identifier in subjects]

    def relying_parties(self) -> list[dict[str, Any]]:
        subjects = dict.fromkeys(r.relying_party for r in self.registry.registrations)
        return [self.relying_party(identifier) for identifier in subjects]

    def by_name(self, name: str, role: str) -> str:
        hosted = self.platform.authorities.get(name)
        if hosted.role != role:
            raise CivicError("not_found", f"{name} is not a {role.replace('_', ' ')}")
        return hosted.identifier


# --- admin bodies ----------------------------------------------------------------------------


class _Admin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    by: str | None = Field(
        None, pattern=_SLUG, description="The signer (default: the root authority)."
    )


class AccreditIn(_Admin):
    """Accredit an authority (created with a fresh key if new)."""

    name: str = Field(pattern=_SLUG)
    scope: dict[str, list[str]] = Field(description="{vct: [claim path, ...]} it may attest.")
    display_name: str | None = Field(None, min_length=1, max_length=256)
    may_accredit: bool = False
    may_register: bool = False
    valid_days: int = Field(365, ge=1, le=MAX_VALIDITY_DAYS)


class PurposeIn(BaseModel):
    """One purpose of a relying party, with the claims it may request per type."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=256)
    description: str = Field(min_length=1, max_length=1024)
    claims: dict[str, list[str]]


class RegisterIn(_Admin):
    """Register a relying party (created with a fresh key if new) for its purposes."""

    name: str = Field(pattern=_SLUG)
    purposes: list[PurposeIn] = Field(min_length=1, max_length=32)
    display_name: str | None = Field(None, min_length=1, max_length=256)
    valid_days: int = Field(365, ge=1, le=MAX_VALIDITY_DAYS)


class ReasonIn(_Admin):
    """Why (recorded in the signed statement)."""

    reason: str | None = Field(None, min_length=1, max_length=1024)


def trust_service(platform: Platform) -> tuple[Service, FastAPI]:
    """The ``/trust`` sub-application."""
    app = service_app("Trust registry", SUMMARY)
    admin = [
        Depends(admin_guard(platform)),
        Depends(HTTPBearer(auto_error=False, description="The admin token")),
    ]

    @app.get("/root", tags=["registry"], summary="The root authority: the trust anchor to pin")
    def root() -> dict[str, Any]:
        roots = platform.trust.roots()
        if not roots:
            raise CivicError("no_root_authority", "this platform has no root authority yet")
        return roots[0].to_json()

    @app.get("/roots", tags=["registry"], summary="Every trust anchor")
    def roots() -> list[dict[str, Any]]:
        return [r.to_json() for r in platform.trust.roots()]

    @app.get(
        "/registry",
        tags=["registry"],
        summary="Every signed statement, in the order that re-verifies against the roots",
    )
    def registry() -> dict[str, Any]:
        return platform.authorities.export()

    @app.get("/statements", tags=["registry"], summary="The statements, decoded, with tokens")
    def statements(
        kind: Annotated[
            StatementType | None, Query(alias="type", description="Only this kind.")
        ] = None,
        sub: Annotated[
            str | None, Query(max_length=2048, description="Only about this subject.")
        ] = None,
    ) -> list[dict[str, Any]]:
        out = [statement_json(s) for s in platform.trust_registry().recorded]
        return [
            s
            for s in out
            if (kind is None or s["type"] == kind) and (sub is None or s["sub"] == sub)
        ]

    @app.get("/statements/{jti}", tags=["registry"], summary="One statement", responses=_PROBLEMS)
    def statement(jti: Annotated[str, Path(pattern=_JTI)]) -> dict[str, Any]:
        for s in platform.trust_registry().recorded:
            if s.jti == jti:
                return statement_json(s)
        raise CivicError("not_found", f"no statement {jti}")

    @app.get("/authorities", tags=["registry"], summary="Accredited authorities and standing")
    def authorities() -> list[dict[str, Any]]:
        return _View(platform).authorities()

    @app.get("/authorities/{name}", tags=["registry"], summary="One authority", responses=_PROBLEMS)
    def authority(name: Annotated[str, Path(pattern=_SLUG)]) -> dict[str, Any]:
        view = _View(platform)
        return view.authority(view.by_name(name, "authority"))

    @app.get(
        "/relying-parties", tags=["registry"], summary="Registered relying parties and standing"
    )
    def relying_parties() -> list[dict[str, Any]]:
        return _View(platform).relying_parties()

    @app.get(
        "/relying-parties/{name}",
        tags=["registry"],
        summary="One relying party",
        responses=_PROBLEMS,
    )
    def relying_party(name: Annotated[str, Path(pattern=_SLUG)]) -> dict[str, Any]:
        view = _View(platform)
        return view.relying_party(view.by_name(name, "relying_party"))

    @app.get(
        "/status-lists",
        tags=["registry"],
        summary="Every issuer's status lists (Token Status List)",
    )
    def status_lists() -> list[dict[str, Any]]:
        view = _View(platform)
        return [
            {"issuer": h.identifier, "name": h.name, "status_lists": view.status_lists(h)}
            for h in view.hosted.values()
            if h.role == "authority"
        ]

    @app.post(
        "/accreditations",
        status_code=201,
        tags=["admin"],
        summary="Accredit an authority",
        dependencies=admin,
        responses=_PROBLEMS,
    )
    def accredit(body: AccreditIn) -> dict[str, Any]:
        acc = platform.authorities.accredit(
            body.name,
            scope=body.scope,
            by=body.by,
            display_name=body.display_name,
            may_accredit=body.may_accredit,
            may_register=body.may_register,
            valid_days=body.valid_days,
        )
        return statement_json(acc)

    @app.post(
        "/registrations",
        status_code=201,
        tags=["admin"],
        summary="Register a relying party for its purposes",
        dependencies=admin,
        responses=_PROBLEMS,
    )
    def register(body: RegisterIn) -> dict[str, Any]:
        purposes = [Purpose.create(p.id, p.description, p.claims) for p in body.purposes]
        reg = platform.authorities.register(
            body.name,
            purposes=purposes,
            by=body.by,
            display_name=body.display_name,
            valid_days=body.valid_days,
        )
        return statement_json(reg)

    @app.post(
        "/relying-parties/{name}/suspension",
        status_code=201,
        tags=["admin"],
        summary="Suspend a relying party (refused everywhere until reinstated)",
        dependencies=admin,
        responses=_PROBLEMS,
    )
    def suspend(name: Annotated[str, Path(pattern=_SLUG)], body: ReasonIn) -> dict[str, Any]:
        return statement_json(platform.authorities.suspend(name, by=body.by, reason=body.reason))

    @app.post(
        "/relying-parties/{name}/reinstatement",
        status_code=201,
        tags=["admin"],
        summary="Lift a relying party's suspension",
        dependencies=admin,
        responses=_PROBLEMS,
    )
    def reinstate(name: Annotated[str, Path(pattern=_SLUG)], body: ReasonIn) -> dict[str, Any]:
        return statement_json(
            platform.authorities.suspend(name, by=body.by, reason=body.reason, suspended=False)
        )

    @app.post(
        "/authorities/{name}/revocation",
        status_code=201,
        tags=["admin"],
        summary="Revoke an authority's accreditations",
        dependencies=admin,
        responses=_PROBLEMS,
    )
    def revoke(name: Annotated[str, Path(pattern=_SLUG)], body: ReasonIn) -> list[dict[str, Any]]:
        revocations = platform.authorities.revoke_accreditation(
            name, by=body.by, reason=body.reason
        )
        return [statement_json(r) for r in revocations]

    return (
        Service(
            "/trust",
            "Trust registry",
            SUMMARY,
            ("JWT/JWS (RFC 7519, 7515)", "RFC 8725", "OpenID Federation 1.0", "Token Status List"),
        ),
        app,
    )
