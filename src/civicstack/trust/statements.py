"""The signed statements of the trust registry, their wire format, and how they are signed.

Every statement is a JWT (RFC 7519) in a compact JWS (RFC 7515), explicitly typed (RFC 8725
§3.11: a token of one kind can never be passed off as another) and naming its signing key in
``kid`` (an RFC 7638 thumbprint). The shapes follow OpenID Federation 1.0 subordinate statements
(``iss`` the superior, ``sub`` the subject, the subject's keys as ``jwks``) and, for relying
parties, the EU ARF's registration certificates (ETSI TS 119 475: a name, an identifier and the
intended uses with the attributes each may request):

``accreditation+jwt`` (issued by the root or an authority that may accredit)::

    {"iss": accreditor, "sub": authority (the iss of its credentials), "jti", "iat", "nbf", "exp",
     "name": display name, "jwks": {"keys": [...]}, "scope": {vct: [claim path, ...]},
     "may_accredit": bool, "may_register": bool}

``accreditation-revocation+jwt`` (by the accreditor or the root)::

    {"iss": revoker, "sub": the authority, "jti", "iat" (effective from), "accreditation": jti,
     "reason"?}

``rp-registration+jwt`` (by the root or an accredited registrar)::

    {"iss": registrar, "sub": relying party id (its OpenID4VP client_id), "jti", "iat", "nbf",
     "exp", "name", "jwks", "purposes": [{"id", "description", "claims": {vct: [path, ...]}}]}

``rp-suspension+jwt`` (by the root or a registrar of that relying party)::

    {"iss", "sub": relying party id, "jti", "iat" (effective from), "suspended": bool, "reason"?}

Claim paths are dotted (``address.locality``, ``nationalities.0``); allowing a path allows
everything beneath it. Validity is ``nbf <= now < exp`` (RFC 7519 §4.1.4-5).

This module only reads and writes statements; :mod:`civicstack.trust.registry` decides trust.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from civicstack._crypto import CompactJWS, PublicKey, parse_compact
from civicstack.errors import VerificationError
from civicstack.trust.fields import (
    ALWAYS_VISIBLE_CLAIMS,
    MAX_ID_CHARS,
    MAX_NAME_CHARS,
    STATEMENT_TYPES,
    STRUCTURAL_CLAIMS,
    TYP_ACCREDITATION,
    TYP_REGISTRATION,
    TYP_REVOCATION,
    TYP_SUSPENSION,
    KeySet,
    Scope,
    check_authority_id,
    check_identifier,
    claim_covered,
    malformed,
    read_flag,
    read_scope,
    read_text,
    read_time,
    scope_json,
    scope_json_in,
)
from civicstack.trust.limits import DEFAULT_LIMITS, Limits


@dataclass(frozen=True, slots=True)
class RootAuthority:
    """A trust anchor: the sovereign authority every chain must reach, configured out of band."""

    id: str
    name: str
    keys: KeySet

    @classmethod
    def create(cls, id: str, name: str, keys: Iterable[PublicKey]) -> RootAuthority:
        """A root with these public keys."""
        check_authority_id(id, "the root's identifier")
        if not isinstance(name, str) or not name or len(name) > MAX_NAME_CHARS:
            raise malformed("the root needs a display name")
        return cls(id, name, KeySet.of(keys))

    @classmethod
    def from_json(cls, value: object, *, limits: Limits = DEFAULT_LIMITS) -> RootAuthority:
        """Read ``{"id", "name", "jwks"}`` (the form :meth:`to_json` writes)."""
        if not isinstance(value, dict):
            raise malformed("a root authority is a JSON object")
        root_id = check_authority_id(value.get("id"), "the root's identifier")
        name = read_text(value, "name", MAX_NAME_CHARS)
        return cls(root_id, name, KeySet.from_jwks(value.get("jwks"), limits=limits))

    def to_json(self) -> dict[str, Any]:
        """``{"id", "name", "jwks"}``: what a verifier configures as its trust anchor."""
        return {"id": self.id, "name": self.name, "jwks": self.keys.to_jwks()}


@dataclass(frozen=True, slots=True)
class Accreditation:
    """A signed statement that ``accreditor`` vouches for ``authority`` within ``scope``."""

    jti: str
    accreditor: str
    authority: str
    name: str
    keys: KeySet
    scope: Scope
    may_accredit: bool
    may_register: bool
    iat: int
    nbf: int
    exp: int
    signed_by: str  # thumbprint of the accreditor's key that signed it
    token: str = field(repr=False, compare=False)

    def valid_at(self, now: int) -> bool:
        """Whether ``now`` lies in the validity period."""
        return self.nbf <= now < self.exp

    def uncovered(self, vct: str, claim_names: Iterable[str]) -> list[str] | None:
        """Claims this accreditation does not cover for ``vct`` (None: the vct is outside)."""
        allowed = self.scope.get(vct)
        if allowed is None:
            return None
        return sorted(
            c for c in claim_names if c not in STRUCTURAL_CLAIMS and not claim_covered(allowed, c)
        )

    def outside(self, parent: Accreditation) -> str | None:
        """Why this accreditation exceeds ``parent`` (its accreditor's), or None if within it."""
        if not parent.may_accredit:
            return f"{parent.authority} is not accredited to accredit others"
        if self.may_register and not parent.may_register:
            return f"{parent.authority} may not pass on the right to register relying parties"
        for vct, claims in self.scope.items():
            missing = parent.uncovered(vct, claims)
            if missing is None:
                return f"credential type {vct!r} is outside {parent.authority}'s scope"
            if missing:
                return f"claims {missing} of {vct!r} are outside {parent.authority}'s scope"
        if self.nbf < parent.nbf or self.exp > parent.exp:
            return f"the validity period exceeds {parent.authority}'s own"
        return None


@dataclass(frozen=True, slots=True)
class AccreditationRevocation:
    """A signed statement withdrawing an accreditation from ``iat`` on."""

    jti: str
    revoker: str
    authority: str
    accreditation: str  # the jti revoked
    iat: int
    reason: str
    signed_by: str
    token: str = field(repr=False, compare=False)


@dataclass(frozen=True, slots=True)
class Purpose:
    """One intended use of a relying party, and the claims it may request for it, per vct."""

    id: str
    description: str
    claims: Scope

    @classmethod
    def create(cls, id: str, description: str, claims: Mapping[str, Iterable[str]]) -> Purpose:
        """A purpose; claim paths are validated."""
        return _purpose({"id": id, "description": description, "claims": scope_json_in(claims)})

    def to_json(self) -> dict[str, Any]:
        """The wire form."""
        return {"id": self.id, "description": self.description, "claims": scope_json(self.claims)}


def _purpose(value: object, limits: Limits = DEFAULT_LIMITS) -> Purpose:
    if not isinstance(value, dict):
        raise malformed("a purpose is a JSON object")
    purpose_id = check_identifier(value.get("id"), "a purpose id")
    if len(purpose_id) > MAX_NAME_CHARS:
        raise malformed("purpose id too long")
    description = read_text(value, "description", limits.text_chars)
    claims = read_scope(value.get("claims"), "purpose claims", limits=limits)
    return Purpose(purpose_id, description, claims)


@dataclass(frozen=True, slots=True)
class RelyingPartyRegistration:
    """A signed statement that ``relying_party`` may request these claims for these purposes."""

    jti: str
    registrar: str
    relying_party: str
    name: str
    keys: KeySet
    purposes: Mapping[str, Purpose]
    iat: int
    nbf: int
    exp: int
    signed_by: str
    token: str = field(repr=False, compare=False)

    def valid_at(self, now: int) -> bool:
        """Whether ``now`` lies in the validity period."""
        return self.nbf <= now < self.exp

    def check(self, purpose: str, claims: Mapping[str, Iterable[str]]) -> Purpose:
        """Return the purpose if the request stays within it; raise ``overasking`` otherwise."""
        registered = self.purposes.get(purpose)
        if registered is None:
            raise VerificationError(
                "overasking", f"{self.relying_party} is not registered for purpose {purpose!r}"
            )
        excess: list[str] = []
        for vct, paths in claims.items():
            allowed = registered.claims.get(vct)
            if allowed is None:
                excess.append(f"any claim of {vct!r}")
                continue
            excess.extend(
                f"{vct!r}: {p}"
                for p in paths
                if p not in ALWAYS_VISIBLE_CLAIMS and not claim_covered(allowed, p)
            )
        if excess:
            raise VerificationError(
                "overasking",
                f"{self.relying_party} asks for more than registered for {purpose!r}: "
                + ", ".join(excess[:20]),
            )
        return registered


@dataclass(frozen=True, slots=True)
class Suspension:
    """A signed statement suspending (or reinstating) a relying party from ``iat`` on."""

    jti: str
    by: str
    relying_party: str
    suspended: bool
    iat: int
    reason: str
    signed_by: str
    token: str = field(repr=False, compare=False)


Statement = Accreditation | AccreditationRevocation | RelyingPartyRegistration | Suspension


@dataclass(frozen=True, slots=True)
class UnverifiedStatement:
    """A statement parsed far enough to find its signer's key; not yet trusted."""

    typ: str
    iss: str
    kid: str
    jws: CompactJWS
    payload: dict[str, Any]
    token: str
    limits: Limits = DEFAULT_LIMITS

    def build(self, key: PublicKey) -> Statement:
        """Check the signature with ``key`` and read the whole statement (within ``limits``)."""
        self.jws.verify(key)
        thumb = key.thumbprint()
        return _BUILDERS[self.typ](self.payload, thumb, self.token, self.limits)


def read_statement(token: object, *, limits: Limits = DEFAULT_LIMITS) -> UnverifiedStatement:
    """Parse a statement's envelope: size, JWS, explicit ``typ``, ``iss`` and ``kid``."""
    if not isinstance(token, str):
        raise malformed("a statement is a compact JWS string")
    jws = parse_compact(token, max_bytes=limits.statement_bytes)
    typ = jws.header.get("typ")
    if typ not in STATEMENT_TYPES:
        raise malformed(f"not a trust statement (typ {typ!r})")
    kid = jws.header.get("kid")
    if not isinstance(kid, str) or not kid or len(kid) > MAX_NAME_CHARS:
        raise malformed("a trust statement must name its signing key in kid")
    payload = jws.payload_json()
    iss = read_text(payload, "iss", MAX_ID_CHARS)
    return UnverifiedStatement(str(typ), iss, kid, jws, payload, token, limits)


def _common(payload: Mapping[str, Any]) -> tuple[str, str, int]:
    jti = read_text(payload, "jti", MAX_NAME_CHARS)
    return jti, check_authority_id(payload.get("iss"), "iss"), read_time(payload, "iat")


def _validity(payload: Mapping[str, Any]) -> tuple[int, int]:
    nbf, exp = read_time(payload, "nbf"), read_time(payload, "exp")
    if exp <= nbf:
        raise malformed("exp must come after nbf")
    return nbf, exp


def build_accreditation(
    payload: dict[str, Any], signed_by: str, token: str, limits: Limits = DEFAULT_LIMITS
) -> Accreditation:
    jti, iss, iat = _common(payload)
    sub = check_authority_id(payload.get("sub"), "sub")
    if sub == iss:
        raise malformed("an authority cannot accredit itself")
    nbf, exp = _validity(payload)
    return Accreditation(
        jti=jti,
        accreditor=iss,
        authority=sub,
        name=read_text(payload, "name", MAX_NAME_CHARS),
        keys=KeySet.from_jwks(payload.get("jwks"), limits=limits),
        scope=read_scope(payload.get("scope"), "scope", limits=limits),
        may_accredit=read_flag(payload, "may_accredit"),
        may_register=read_flag(payload, "may_register"),
        iat=iat,
        nbf=nbf,
        exp=exp,
        signed_by=signed_by,
        token=token,
    )


def build_revocation(
    payload: dict[str, Any], signed_by: str, token: str, limits: Limits = DEFAULT_LIMITS
) -> AccreditationRevocation:
    jti, iss, iat = _common(payload)
    return AccreditationRevocation(
        jti=jti,
        revoker=iss,
        authority=check_authority_id(payload.get("sub"), "sub"),
        accreditation=read_text(payload, "accreditation", MAX_NAME_CHARS),
        iat=iat,
        reason=read_text(payload, "reason", limits.text_chars, optional=True),
        signed_by=signed_by,
        token=token,
    )


def build_registration(
    payload: dict[str, Any], signed_by: str, token: str, limits: Limits = DEFAULT_LIMITS
) -> RelyingPartyRegistration:
    jti, iss, iat = _common(payload)
    nbf, exp = _validity(payload)
    purposes_in = payload.get("purposes")
    if not isinstance(purposes_in, list) or not 1 <= len(purposes_in) <= limits.purposes:
        raise malformed(f"purposes must be a list of 1 to {limits.purposes} purposes")
    purposes: dict[str, Purpose] = {}
    for item in purposes_in:
        purpose = _purpose(item, limits)
        if purpose.id in purposes:
            raise malformed(f"purpose {purpose.id!r} is listed twice")
        purposes[purpose.id] = purpose
    return RelyingPartyRegistration(
        jti=jti,
        registrar=iss,
        relying_party=check_identifier(payload.get("sub"), "sub"),
        name=read_text(payload, "name", MAX_NAME_CHARS),
        keys=KeySet.from_jwks(payload.get("jwks"), limits=limits),
        purposes=MappingProxyType(purposes),
        iat=iat,
        nbf=nbf,
        exp=exp,
        signed_by=signed_by,
        token=token,
    )


def build_suspension(
    payload: dict[str, Any], signed_by: str, token: str, limits: Limits = DEFAULT_LIMITS
) -> Suspension:
    jti, iss, iat = _common(payload)
    suspended = payload.get("suspended")
    if not isinstance(suspended, bool):
        raise malformed("'suspended' must be true or false")
    return Suspension(
        jti=jti,
        by=iss,
        relying_party=check_identifier(payload.get("sub"), "sub"),
        suspended=suspended,
        iat=iat,
        reason=read_text(payload, "reason", limits.text_chars, optional=True),
        signed_by=signed_by,
        token=token,
    )


_BUILDERS: dict[str, Callable[[dict[str, Any], str, str, Limits], Statement]] = {
    TYP_ACCREDITATION: build_accreditation,
    TYP_REVOCATION: build_revocation,
    TYP_REGISTRATION: build_registration,
    TYP_SUSPENSION: build_suspension,
}
