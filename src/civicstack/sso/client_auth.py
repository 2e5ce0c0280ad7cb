"""Client authentication at the token endpoint (OpenID Connect Core 1.0 §9).

* ``client_secret_basic`` (RFC 6749 §2.3.1): HTTP Basic with the form-urlencoded client id and
  secret; the secret is 256 random bits, so its SHA-256 is what is stored and compared.
* ``private_key_jwt`` (RFC 7523 §2.2, §3; OIDC Core §9): a JWT signed with one of the client's
  registered keys, ``iss`` = ``sub`` = ``client_id``, ``aud`` the token endpoint or the issuer,
  ``exp`` in the future (and not too far), ``jti`` used once (the caller remembers it until
  ``exp``; :func:`verify_client_assertion` returns it).

Every failure is ``invalid_client`` (RFC 6749 §5.2), whatever went wrong, so a caller learns
nothing about which part failed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from urllib.parse import unquote_plus

from civicstack._crypto import constant_time_equal, parse_compact
from civicstack.errors import CivicError, ProtocolError
from civicstack.sso.clients import AUTH_METHODS, Client

__all__ = [
    "ASSERTION_TYPE",
    "MAX_ASSERTION_LIFETIME",
    "AssertionUse",
    "hash_secret",
    "read_basic",
    "verify_client_assertion",
    "verify_client_secret",
]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#: A client assertion may live at most this long (its jti is remembered that long).
MAX_ASSERTION_LIFETIME = 600
MAX_ASSERTION_BYTES = 8 * 1024
_SKEW = 60
_BASIC, _KEY_JWT = AUTH_METHODS


def invalid_client(detail: str) -> ProtocolError:
    """The one error of client authentication."""
    return ProtocolError("invalid_client", "invalid_client", detail)


def hash_secret(secret: str) -> str:
    """The stored form of a client secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def read_basic(header: str | None) -> tuple[str, str] | None:
    """``(client_id, secret)`` of an ``Authorization: Basic`` header, if it is one."""
    if header is None:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise invalid_client("the Basic credentials are not base64") from exc
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise invalid_client("the Basic credentials have no ':'")
    # RFC 6749 §2.3.1: both are application/x-www-form-urlencoded before the Basic encoding
    return unquote_plus(client_id), unquote_plus(secret)


def verify_client_secret(client: Client, secret: str) -> None:
    """Return if ``secret`` is ``client``'s secret, else raise ``invalid_client``."""
    if client.metadata.token_endpoint_auth_method != _BASIC:
        raise invalid_client("the client is registered for private_key_jwt")
    if client.secret_hash is None or not constant_time_equal(
        hash_secret(secret).encode(), client.secret_hash.encode()
    ):
        raise invalid_client("wrong client secret")


@dataclass(frozen=True, slots=True)
class AssertionUse:
    """A verified client assertion's ``jti`` and how long to remember it."""

    jti: str
    until: int


def verify_client_assertion(  # noqa: PLR0912 -- RFC 7523 §3's list, item by item
    client: Client, assertion: object, *, audiences: tuple[str, ...], now: int
) -> AssertionUse:
    """Verify a ``private_key_jwt`` assertion for ``client`` (RFC 7523 §3, numbered below)."""
    if client.metadata.token_endpoint_auth_method != _KEY_JWT:
        raise invalid_client("the client is registered for client_secret_basic")
    if not isinstance(assertion, str) or len(assertion) > MAX_ASSERTION_BYTES:
        raise invalid_client("client_assertion missing or too long")
    try:
        jws = parse_compact(assertion, max_bytes=MAX_ASSERTION_BYTES)
        # 1. signed by one of the client's registered keys (its kid if it names one)
        kid = jws.header.get("kid")
        keys = [k for k in client.metadata.jwks if kid is None or k.thumbprint() == kid]
        keys = keys or list(client.metadata.jwks)
        for key in keys:
            try:
                jws.verify(key, algorithms=("ES256", "RS256"))
                break
            except CivicError:
                continue
        else:
            raise invalid_client("the client assertion's signature does not verify")
        claims = jws.payload_json()
    except ProtocolError:
        raise
    except CivicError as exc:
        raise invalid_client(f"the client assertion is malformed: {exc.detail}") from exc
    # 2. iss and sub are the client_id (RFC 7523 §3 items 1-2)
    if claims.get("iss") != client.client_id or claims.get("sub") != client.client_id:
        raise invalid_client("iss and sub must both be the client_id")
    # 3. aud names this token endpoint or the issuer (§3 item 3; OIDC Core §9)
    aud = claims.get("aud")
    auds = aud if isinstance(aud, list) else [aud]
    if not any(a in audiences for a in auds if isinstance(a, str)):
        raise invalid_client("aud must be the token endpoint or the issuer")
    # 4. exp in the future, and not further than MAX_ASSERTION_LIFETIME (§3 item 4)
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool) or exp <= now - _SKEW:
        raise invalid_client("the client assertion has expired (or has no exp)")
    if exp > now + MAX_ASSERTION_LIFETIME:
        raise invalid_client(f"exp is more than {MAX_ASSERTION_LIFETIME} seconds away")
    iat = claims.get("iat")
    if iat is not None and (not isinstance(iat, int) or iat > now + _SKEW):
        raise invalid_client("iat is in the future")
    # 5. a jti to be used once (§3 item 7); the caller refuses a replay
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 0 < len(jti) <= 128:
        raise invalid_client("the client assertion needs a jti")
    return AssertionUse(jti=jti, until=exp + _SKEW)
