"""What the provider hands out and how it is checked: authorization codes, access tokens,
ID tokens (OpenID Connect Core 1.0 §2, §3.1.3.3, §3.1.3.6) and logout tokens (OpenID Connect
Back-Channel Logout 1.0 §2.4).

An authorization code (RFC 6749 §4.1.2, §10.5) lives :data:`CODE_LIFETIME` seconds, is used
once, and is bound to the client, the ``redirect_uri``, the PKCE challenge and the ``nonce`` of
its request. It is its own record (:func:`seal_code`): what it stands for, sealed with
AES-256-GCM under a key only the provider holds, so that issuing one writes nothing; RFC 6749
§10.10 asks only that a code cannot be guessed or forged, and a sealed code is 128 random bits
of salt and a 128-bit tag. :func:`check_redemption` is the token endpoint's §3.1.3.2 check of a
code; "used once" is the store's, which records each redemption (by the code's SHA-256) with
the access token it gave, in one transaction; a second use revokes that token (RFC 6749
§4.1.2).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

from civicstack._crypto import (
    aead_decrypt,
    aead_encrypt,
    b64url_decode,
    b64url_encode,
    hmac_sha256,
    json_dumps,
    json_loads_strict,
    sha256_b64url,
)
from civicstack.errors import CivicError, ProtocolError
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
    "Redemption",
    "at_hash",
    "check_redemption",
    "id_token_claims",
    "logout_token_claims",
    "new_secret",
    "open_code",
    "redirect_uri_hash",
    "seal_code",
    "secret_hash",
]

CODE_LIFETIME = 60
#: The longest code :func:`seal_code` makes is about 1,500 characters (a 512-character nonce,
#: the released claims); longer is not one of ours.
MAX_CODE = 2048
_CODE_LABEL = b"civicstack/sso/code/v1"
_CODE_SALT = 16
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
    #: :func:`redirect_uri_hash` of the request's ``redirect_uri`` (all a code needs to be
    #: bound to it, and shorter than a URI of up to 512 characters)
    redirect_uri_hash: str
    code_challenge: str
    nonce: str | None
    scope: tuple[str, ...]
    sub: str
    sid: str
    auth_time: int
    claims: dict[str, Any] = field(hash=False)
    expires_at: int

    def to_json(self) -> list[Any]:
        """The sealed form (a list: the code travels in a URL, so every byte counts)."""
        return [
            self.client_id,
            self.redirect_uri_hash,
            self.code_challenge,
            self.nonce,
            list(self.scope),
            self.sub,
            self.sid,
            self.auth_time,
            self.claims,
            self.expires_at,
        ]

    @classmethod
    def from_json(cls, data: list[Any]) -> CodeGrant:
        """Read :meth:`to_json` back (from a code that opened: our own)."""
        client_id, uri_hash, challenge, nonce, scope, sub, sid, auth_time, claims, expires = data
        return cls(
            client_id, uri_hash, challenge, nonce, tuple(scope), sub, sid, auth_time, claims,
            expires,
        )  # fmt: skip


def redirect_uri_hash(redirect_uri: str) -> str:
    """What a code keeps of its ``redirect_uri``: SHA-256, base64url."""
    return sha256_b64url(redirect_uri.encode("utf-8", "replace"))


def _code_key(key: bytes, salt: bytes) -> bytes:
    # One key per code, derived from its random salt: AES-GCM's random 96-bit nonces allow
    # 2**32 messages per key (SP 800-38D §8.3), which a provider's codes would reach.
    return hmac_sha256(key, _CODE_LABEL + salt)


def seal_code(key: bytes, grant: CodeGrant, *, salt: bytes) -> str:
    """An authorization code standing for ``grant``: ``salt`` (16 random bytes) followed by
    ``grant`` sealed with AES-256-GCM under ``HMAC-SHA256(key, label || salt)``, base64url."""
    if len(salt) != _CODE_SALT:
        raise ValueError(f"salt is {_CODE_SALT} random bytes")
    sealed = aead_encrypt(_code_key(key, salt), json_dumps(grant.to_json()), _CODE_LABEL)
    return b64url_encode(salt + sealed)


def open_code(key: bytes, code: object) -> CodeGrant:
    """The grant a code of :func:`seal_code` under ``key`` stands for (expired or not);
    ``invalid_grant`` for anything else.

    base64url is decoded canonically (one string per code), so the code's SHA-256 names its
    one redemption."""
    if not isinstance(code, str) or not 0 < len(code) <= MAX_CODE:
        raise ProtocolError("invalid_grant", "invalid_grant", "code missing or malformed")
    try:
        raw = b64url_decode(code)
        plain = aead_decrypt(_code_key(key, raw[:_CODE_SALT]), raw[_CODE_SALT:], _CODE_LABEL)
        return CodeGrant.from_json(json_loads_strict(plain))
    except (CivicError, TypeError, ValueError) as exc:
        raise ProtocolError("invalid_grant", "invalid_grant", "unknown code") from exc


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
    if (
        not isinstance(redirect_uri, str)
        or redirect_uri_hash(redirect_uri) != grant.redirect_uri_hash
    ):
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


@dataclass(frozen=True, slots=True)
class Redemption:
    """A code redeemed: its SHA-256, and the access token it gave (by hash) with its grant."""

    code_hash: str
    token_hash: str
    access: AccessGrant


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
