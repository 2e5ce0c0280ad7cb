"""Key Binding: the KB-JWT of RFC 9901 §4.3 and its verification (§7.3 step 5).

The KB-JWT proves that the presenter holds the private key named by the credential's ``cnf``
(RFC 7800 §3.2, ``jwk`` confirmation), and binds the presentation to one verifier (``aud``),
one transaction (``nonce``), one moment (``iat``) and one exact set of Disclosures
(``sd_hash`` over the SD-JWT as presented, §4.3.1).
"""

from __future__ import annotations

from typing import Any

from civicstack._crypto import (
    ALGORITHMS,
    PrivateKey,
    PublicKey,
    json_dumps,
    parse_compact,
    sha256_b64url,
    sign_compact,
)
from civicstack.errors import CivicError, VerificationError
from civicstack.sdjwt.limits import DEFAULT_LIMITS, Limits

KB_TYP = "kb+jwt"


def sd_hash(sd_jwt: str) -> str:
    """§4.3.1: base64url SHA-256 over the ASCII of ``<JWT>~<D1>~...~<DN>~``."""
    return sha256_b64url(sd_jwt.encode("ascii"))


def create_key_binding(holder: PrivateKey, sd_jwt: str, *, aud: str, nonce: str, iat: int) -> str:
    """A KB-JWT (§4.3) over ``sd_jwt``, the SD-JWT as it will be presented (ending in ``~``)."""
    payload = {"iat": iat, "aud": aud, "nonce": nonce, "sd_hash": sd_hash(sd_jwt)}
    return sign_compact(holder, json_dumps(payload), {"typ": KB_TYP})


def cnf_key(payload: dict[str, Any]) -> PublicKey | None:
    """The holder's key from ``cnf.jwk`` (§4.1.2), or None when the payload has no ``cnf``.

    Imported afresh every time: a verifier meets each wallet about once, so a cache keyed by
    the holder's key would only ever pay off in a benchmark that presents from one wallet.
    """
    cnf = payload.get("cnf")
    if cnf is None:
        return None
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(jwk, dict):
        raise VerificationError("key_binding_failed", "cnf carries no jwk confirmation key")
    try:
        return PublicKey.from_jwk(jwk)
    except CivicError as exc:
        raise VerificationError("key_binding_failed", f"cnf key: {exc.detail}") from exc


def _numeric(payload: dict[str, Any], name: str) -> int | float | None:
    value = payload.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise VerificationError("key_binding_failed", f"KB-JWT {name} must be a number")
    return value


def verify_key_binding(
    kb_jwt: str,
    holder: PublicKey,
    *,
    sd_jwt: str,
    aud: str,
    nonce: str,
    now: int,
    limits: Limits = DEFAULT_LIMITS,
) -> dict[str, Any]:
    """§7.3 step 5: check the KB-JWT against the holder key and this transaction.

    Returns the KB-JWT's claims. Raises ``key_binding_failed`` (signature, typ, sd_hash,
    shape, longer than ``limits.kb_jwt_bytes``), ``wrong_audience``, ``wrong_nonce`` or
    ``stale_key_binding`` (older than ``limits.kb_jwt_age``, or issued more than
    ``limits.clock_skew`` ahead of ``now``).
    """
    try:
        jws = parse_compact(kb_jwt, max_bytes=limits.kb_jwt_bytes)
        # 5.2. A signing algorithm deemed secure (never none): the allowlist in parse/verify.
        # 5.3. Validate the signature with the holder's key from cnf (5.1).
        jws.verify(holder, algorithms=ALGORITHMS)
        payload = jws.payload_json()
    except CivicError as exc:
        raise VerificationError("key_binding_failed", f"KB-JWT: {exc.detail}") from exc
    # 5.4. The typ of the KB-JWT is kb+jwt.
    if jws.header.get("typ") != KB_TYP:
        raise VerificationError("key_binding_failed", "KB-JWT typ must be kb+jwt")
    # 5.5. The creation time (iat) is within an acceptable window.
    iat = _numeric(payload, "iat")
    if iat is None:
        raise VerificationError("key_binding_failed", "KB-JWT has no iat")
    if iat > now + limits.clock_skew:
        raise VerificationError("stale_key_binding", "KB-JWT issued in the future")
    max_age = limits.kb_jwt_age
    if now - iat > max_age:
        raise VerificationError("stale_key_binding", f"KB-JWT older than {max_age} s")
    # 5.6. Bound to this transaction and this verifier: nonce and aud (a single string, §4.3).
    if not isinstance(payload.get("aud"), str):
        raise VerificationError("key_binding_failed", "KB-JWT aud must be a single string")
    if payload["aud"] != aud:
        raise VerificationError("wrong_audience", "KB-JWT was made for another verifier")
    if not isinstance(payload.get("nonce"), str):
        raise VerificationError("key_binding_failed", "KB-JWT nonce must be a string")
    if payload["nonce"] != nonce:
        raise VerificationError("wrong_nonce", "KB-JWT carries another nonce")
    # 5.7. sd_hash over the Issuer-signed JWT and the Disclosures as presented.
    if payload.get("sd_hash") != sd_hash(sd_jwt):
        raise VerificationError("key_binding_failed", "sd_hash does not match the presentation")
    # 5.8. A valid JWT in all other respects (RFC 7519 §7.2): exp and nbf, when present.
    exp, nbf = _numeric(payload, "exp"), _numeric(payload, "nbf")
    if exp is not None and now >= exp:
        raise VerificationError("stale_key_binding", "KB-JWT has expired")
    if nbf is not None and now < nbf:
        raise VerificationError("stale_key_binding", "KB-JWT is not valid yet")
    return payload
