"""What the provider hands out and how it is checked: authorization codes, access tokens,
ID tokens (OpenID Connect Core 1.0 §2, §3.1.3.3, §3.1.3.6) and logout tokens (OpenID Connect
Back-Channel Logout 1.0 §2.4).

An authorization code (RFC 6749 §4.1.2, §10.5) is 256 random bits, lives
:data:`CODE_LIFETIME` seconds, is used once, and is bound to the client, the ``redirect_uri``,
the PKCE challenge and the ``nonce`` of its request. :func:`check_redemption` is the token
endpoint's §3.1.3.2 check of a code (the store decides "used once" in its transaction; a second
use revokes the tokens issued from the first, RFC 6749 §4.1.2).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from civicstack._crypto import b64url_encode
from civicstack.errors import ProtocolError
from civicstack.sso.authorization import verify_pkce

__all__ = [
    "ACCESS_TOKEN_LIFETIME",
    "BACKCHANNEL_LOGOUT_EVENT",
    "CODE_LIFETIME",
    "ID_TOKEN_LIFETIME",
    "LOGOUT_TOKEN_LIFETIME",
    "LOGOUT_TYP",
    "AccessGrant",
    "CodeGrant",
    "at_hash",
    "check_redemption",
    "id_token_claims",
    "logout_token_claims",
    "new_secret",
    "secret_hash",
]

CODE_LIFETIME = 60
ACCESS_TOKEN_LIFETIME = 600
ID_TOKEN_LIFETIME = 600
LOGOUT_TOKEN_LIFETIME = 120
LOGOUT_TYP = "logout+jwt"
BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
#: Authentication context: a presentation of a PID from a wallet, key-bound (ISO 29115 LoA 3).
ACR_WALLET = "urn:civicstack:acr:wallet-pid"
AMR_WALLET = ("hwk", "user")


def new_secret() -> str:
    """256 random bits, base64url: codes, access tokens, session cookies, client secrets."""
    return secrets.token_urlsafe(32)


def secret_hash(value: str) -> str:
    """How a bearer secret is stored and looked up (SHA-256, hex)."""
    return hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True, slots=True)
class CodeGrant:
    """What an authorization code stands for."""

    client_id: str
    redirect_uri: str
    code_challenge: str
    nonce: str | None
    scope: tuple[str, ...]
    sub: str
    sid: str
    auth_time: int
    claims: dict[str, Any] = field(hash=False)
    expires_at: int

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "code_challenge": self.code_challenge,
            "nonce": self.nonce,
            "scope": list(self.scope),
            "sub": self.sub,
            "sid": self.sid,
            "auth_time": self.auth_time,
            "claims": self.claims,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CodeGrant:
        """Read :meth:`to_json` back."""
        return cls(**{**data, "scope": tuple(data["scope"])})


def check_redemption(
    grant: CodeGrant, *, client_id: str, redirect_uri: object, code_verifier: object, now: int
) -> None:
    """OIDC Core §3.1.3.2 and RFC 7636 §4.6 for a code not used before (``invalid_grant``)."""
    # 1. issued to the authenticated client (RFC 6749 §4.1.3)
    if grant.client_id != client_id:
        raise ProtocolError(
            "invalid_grant", "invalid_grant", "the code was issued to another client"
        )
    # 2. not expired
    if now >= grant.expires_at:
        raise ProtocolError("invalid_grant", "invalid_grant", "the code has expired")
    # 3. the same redirect_uri as the authorization request
    if redirect_uri != grant.redirect_uri:
        raise ProtocolError("invalid_grant", "invalid_grant", "redirect_uri differs")
    # 4. PKCE
    verify_pkce(code_verifier, grant.code_challenge)


@dataclass(frozen=True, slots=True)
class AccessGrant:
    """What an access token stands for (for UserInfo)."""

    client_id: str
    sub: str
    scope: tuple[str, ...]
    claims: dict[str, Any] = field(hash=False)
    expires_at: int

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {
            "client_id": self.client_id,
            "sub": self.sub,
            "scope": list(self.scope),
            "claims": self.claims,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AccessGrant:
        """Read :meth:`to_json` back."""
        return cls(**{**data, "scope": tuple(data["scope"])})


def at_hash(access_token: str) -> str:
    """§3.1.3.6: the left half of the SHA-256 of the token (ES256 and RS256 both hash with it)."""
    return b64url_encode(hashlib.sha256(access_token.encode("ascii")).digest()[:16])


def id_token_claims(
    *,
    issuer: str,
    grant: CodeGrant,
    access_token: str,
    now: int,
    lifetime: int = ID_TOKEN_LIFETIME,
) -> dict[str, Any]:
    """The ID Token's claims (§2): who, for whom, when, how, and the request's ``nonce``."""
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": grant.sub,
        "aud": grant.client_id,
        "exp": now + lifetime,
        "iat": now,
        "auth_time": grant.auth_time,
        "acr": ACR_WALLET,
        "amr": list(AMR_WALLET),
        "sid": grant.sid,
        "at_hash": at_hash(access_token),
    }
    if grant.nonce is not None:
        claims["nonce"] = grant.nonce
    return claims


def logout_token_claims(
    *, issuer: str, client_id: str, sub: str, sid: str, now: int
) -> dict[str, Any]:
    """A Logout Token's claims (Back-Channel Logout 1.0 §2.4): never a ``nonce``."""
    return {
        "iss": issuer,
        "sub": sub,
        "aud": client_id,
        "iat": now,
        "exp": now + LOGOUT_TOKEN_LIFETIME,
        "jti": new_secret(),
        "sid": sid,
        "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
    }
