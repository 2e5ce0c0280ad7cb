"""Single sign-on sessions and what a sign-in releases.

A session starts when the citizen presents a PID from their wallet (the login page's OpenID4VP
request, asked for the claims :func:`login_claims` picks from the client organisation's
registration). It lasts :data:`SESSION_LIFETIME` seconds, or until logout; the provider keeps
the list of clients it signed the citizen in to, so that logout reaches each of them
(Back-Channel Logout 1.0 §2.1). The session cookie holds a 256-bit secret; only its hash is
stored, and the public ``sid`` (OIDC Core §2, Back-Channel Logout §2.4) is another random value.

The citizen's sessions are listed under a *handle*: their pairwise id for the provider's own
sector (:data:`SSO_SECTOR`), never the PID's number.

What a client learns (OIDC Core §5.4): the pairwise ``sub`` always; ``given_name``,
``family_name`` and ``birthdate`` with scope ``profile``; ``address`` with scope ``address``
(§5.1.1 shape) -- each only if the organisation's registration allows that claim and the
presentation disclosed it. The PID's identifiers (``personal_administrative_number``,
``document_number``) are never released: they would link the citizen across organisations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from civicstack.credential_types import PID_VCT
from civicstack.errors import CivicError
from civicstack.pairwise import Subject
from civicstack.sso.authorization import AuthorizationRequest
from civicstack.trust import RelyingPartyRegistration

__all__ = [
    "IDENTIFYING_CLAIMS",
    "LOGIN_PURPOSE",
    "SCOPE_CLAIMS",
    "SESSION_LIFETIME",
    "SSO_SECTOR",
    "Login",
    "SsoSession",
    "login_claims",
    "released_claims",
]

#: How long a sign-in lasts without presenting again (8 hours).
SESSION_LIFETIME = 8 * 3600
#: The sector of the handle the provider files a citizen's sessions under.
SSO_SECTOR = "civicstack:sso"
#: The purpose an organisation registers to sign citizens in with the wallet.
LOGIN_PURPOSE = "sign_in"
#: The PID claims that name the citizen (the pairwise sub is computed from them).
IDENTIFYING_CLAIMS = ("issuing_country", "personal_administrative_number")
SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": ("given_name", "family_name", "birthdate"),
    "address": ("address",),
}


@dataclass(frozen=True, slots=True)
class SsoSession:
    """A signed-in citizen on one browser."""

    id: str  # the hash of the cookie's secret
    sid: str
    handle: str
    subject: Subject
    claims: dict[str, Any] = field(hash=False)
    auth_time: int
    expires_at: int
    clients: tuple[str, ...] = ()
    ended_at: int | None = None

    def active(self, now: int) -> bool:
        """Neither ended nor expired at ``now``."""
        return self.ended_at is None and now < self.expires_at


def login_claims(registrations: Iterable[RelyingPartyRegistration]) -> tuple[str, ...]:
    """The PID claims to ask for when signing in to a client of this organisation: those its
    :data:`LOGIN_PURPOSE` registration allows; the identifying claims must be among them."""
    allowed: set[str] = set()
    for registration in registrations:
        purpose = registration.purposes.get(LOGIN_PURPOSE)
        if purpose is not None:
            allowed.update(purpose.claims.get(PID_VCT, ()))
    if not set(IDENTIFYING_CLAIMS) <= allowed:
        raise CivicError(
            "unregistered_relying_party",
            f"the organisation is not registered for {LOGIN_PURPOSE!r} with the PID's "
            "issuing_country and personal_administrative_number",
        )
    return tuple(sorted(allowed))


def released_claims(
    scope: Iterable[str], presented: Mapping[str, Any], allowed: Iterable[str]
) -> dict[str, Any]:
    """The claims a client with ``scope`` learns (see the module docstring)."""
    permitted = set(allowed).difference(IDENTIFYING_CLAIMS, ("document_number",))
    out: dict[str, Any] = {}
    for name in scope:
        for claim in SCOPE_CLAIMS.get(name, ()):
            if claim in permitted and claim in presented:
                out[claim] = presented[claim]
    return out


@dataclass(frozen=True, slots=True)
class Login:
    """A sign-in under way: the authorization request waiting for the wallet's presentation
    (the verifier's request ``vp_request``), bound to the browser that started it."""

    id: str
    browser_hash: str
    request: AuthorizationRequest
    organisation: str
    vp_request: str
    link: str
    claims: tuple[str, ...]
    expires_at: int
    done: bool = False
