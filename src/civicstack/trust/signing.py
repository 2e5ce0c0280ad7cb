"""Signing trust statements (the wire formats are in :mod:`civicstack.trust.statements`).

Each function builds the payload, signs it, and reads it back with the registry's own parser, so
nothing is ever signed that a verifier would refuse. An authority acting under an accreditation
is held to it here as well as at resolution: a sub-accreditation or registration outside its
scope raises ``out_of_scope`` and signs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from civicstack._crypto import PrivateKey, PublicKey, b64url_encode, sign_jwt
from civicstack.errors import InputError, VerificationError
from civicstack.trust.fields import (
    TYP_ACCREDITATION,
    TYP_REGISTRATION,
    TYP_REVOCATION,
    TYP_SUSPENSION,
    KeySet,
    Rng,
    check_authority_id,
    scope_json_in,
)
from civicstack.trust.statements import (
    Accreditation,
    Purpose,
    build_accreditation,
    build_registration,
    build_revocation,
    build_suspension,
)


@dataclass(frozen=True, slots=True)
class Authority:
    """An authority able to sign statements: its identifier, its key, and the accreditation it
    acts under (None for a root). The key never leaves this object except as signatures."""

    id: str
    key: PrivateKey
    accreditation: Accreditation | None = None

    def __post_init__(self) -> None:
        check_authority_id(self.id)
        acc = self.accreditation
        if acc is None:
            return
        if acc.authority != self.id:
            raise InputError("invalid_request", f"that accreditation is for {acc.authority}")
        if acc.keys.find(self.key.public_key.thumbprint()) is None:
            raise InputError("invalid_key", "the signing key is not one its accreditation lists")


def _new_jti(rng: Rng) -> str:
    return b64url_encode(rng(16))


def _sign(by: Authority, typ: str, payload: dict[str, Any]) -> str:
    return sign_jwt(by.key, payload, {"typ": typ, "kid": by.key.public_key.thumbprint()})


def sign_accreditation(
    by: Authority,
    *,
    authority: str,
    name: str,
    keys: Sequence[PublicKey],
    scope: Mapping[str, Iterable[str]],
    now: int,
    exp: int,
    nbf: int | None = None,
    may_accredit: bool = False,
    may_register: bool = False,
    jti: str | None = None,
    rng: Rng = os.urandom,
) -> str:
    """Accredit ``authority`` (its identifier URL is the ``iss`` of its credentials).

    When ``by`` acts under an accreditation, the new one must lie within it (types, claims,
    validity and rights); otherwise this raises ``out_of_scope`` and signs nothing.
    """
    payload = {
        "iss": by.id,
        "sub": authority,
        "jti": jti or _new_jti(rng),
        "iat": now,
        "nbf": now if nbf is None else nbf,
        "exp": exp,
        "name": name,
        "jwks": KeySet.of(keys).to_jwks(),
        "scope": scope_json_in(scope),
        "may_accredit": may_accredit,
        "may_register": may_register,
    }
    token = _sign(by, TYP_ACCREDITATION, payload)
    # Read back what we signed with the parser the registry uses: never sign what it refuses.
    statement = build_accreditation(payload, by.key.public_key.thumbprint(), token)
    if by.accreditation is not None:
        reason = statement.outside(by.accreditation)
        if reason:
            raise VerificationError("out_of_scope", reason)
    return token


def sign_revocation(
    by: Authority,
    accreditation: Accreditation,
    *,
    now: int,
    reason: str | None = None,
    jti: str | None = None,
    rng: Rng = os.urandom,
) -> str:
    """Revoke ``accreditation`` from ``now`` on; ``by`` must be its accreditor or a root."""
    if by.accreditation is not None and accreditation.accreditor != by.id:
        raise VerificationError("forbidden", "only the accreditor or the root may revoke")
    payload: dict[str, Any] = {
        "iss": by.id,
        "sub": accreditation.authority,
        "jti": jti or _new_jti(rng),
        "iat": now,
        "accreditation": accreditation.jti,
    }
    if reason:
        payload["reason"] = reason
    token = _sign(by, TYP_REVOCATION, payload)
    build_revocation(payload, by.key.public_key.thumbprint(), token)
    return token


def sign_registration(
    by: Authority,
    *,
    relying_party: str,
    name: str,
    keys: Sequence[PublicKey],
    purposes: Iterable[Purpose],
    now: int,
    exp: int,
    nbf: int | None = None,
    jti: str | None = None,
    rng: Rng = os.urandom,
) -> str:
    """Register a relying party for ``purposes``; ``by`` is the root or an accredited registrar."""
    payload = {
        "iss": by.id,
        "sub": relying_party,
        "jti": jti or _new_jti(rng),
        "iat": now,
        "nbf": now if nbf is None else nbf,
        "exp": exp,
        "name": name,
        "jwks": KeySet.of(keys).to_jwks(),
        "purposes": [p.to_json() for p in purposes],
    }
    token = _sign(by, TYP_REGISTRATION, payload)
    statement = build_registration(payload, by.key.public_key.thumbprint(), token)
    acc = by.accreditation
    if acc is not None:
        if not acc.may_register:
            raise VerificationError("out_of_scope", f"{by.id} may not register relying parties")
        if statement.nbf < acc.nbf or statement.exp > acc.exp:
            raise VerificationError("out_of_scope", f"validity exceeds {by.id}'s accreditation")
    return token


def sign_suspension(
    by: Authority,
    relying_party: str,
    *,
    now: int,
    suspended: bool = True,
    reason: str | None = None,
    jti: str | None = None,
    rng: Rng = os.urandom,
) -> str:
    """Suspend (or, with ``suspended=False``, reinstate) a relying party from ``now`` on."""
    payload: dict[str, Any] = {
        "iss": by.id,
        "sub": relying_party,
        "jti": jti or _new_jti(rng),
        "iat": now,
        "suspended": suspended,
    }
    if reason:
        payload["reason"] = reason
    token = _sign(by, TYP_SUSPENSION, payload)
    build_suspension(payload, by.key.public_key.thumbprint(), token)
    return token
