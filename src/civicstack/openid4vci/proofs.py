"""Key proofs of the ``jwt`` proof type (OpenID4VCI 1.0 Appendix F.1, checks of F.4).

A Wallet proves possession of the key a Credential is to be bound to by signing a JWT typed
``openid4vci-proof+jwt`` (RFC 8725 §3.11 explicit typing) with that key, carrying the key in the
``jwk`` header, the Credential Issuer Identifier as ``aud``, the signing time as ``iat`` and the
Credential Issuer's ``c_nonce`` as ``nonce``. civicstack binds Credentials to JWKs only
(``cryptographic_binding_methods_supported: ["jwk"]``): a proof naming its key by ``kid``
(a DID URL), ``x5c`` or a ``trust_chain`` is refused, as are key attestations, which this issuer
does not ask for.

:func:`verify_key_proof` returns the proved key and the nonce it carries, or raises
``invalid_proof``; whether the nonce is still unused is the issuer's store's business (it is
consumed atomically with the access token, see :mod:`civicstack.services.issuer`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from civicstack._crypto import ALGORITHMS, PrivateKey, PublicKey, json_dumps, parse_compact
from civicstack._crypto import sign_compact as _sign_compact
from civicstack.errors import CivicError, ProtocolError

PROOF_TYP = "openid4vci-proof+jwt"
PROOF_TYPE = "jwt"
#: Largest key proof accepted: a header with an EC JWK and four claims fit in well under 2 KiB.
MAX_PROOF_BYTES = 4096
#: How old a proof's ``iat`` may be, and how far ahead of our clock (F.4, §13.4 note).
MAX_PROOF_AGE = 300
PROOF_LEEWAY = 60
#: JWK members that carry private key material (RFC 7517 §9.2; RFC 7518 §6.2.2, §6.3.2, §6.4).
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
#: Header parameters that name the key some other way, or attest it: not supported here.
_OTHER_KEY_HEADERS = ("kid", "x5c", "x5u", "jku", "trust_chain", "key_attestation")


def _invalid(detail: str) -> ProtocolError:
    return ProtocolError("invalid_proof", "invalid_proof", detail)


@dataclass(frozen=True, slots=True)
class KeyProof:
    """A verified key proof: the key to bind the Credential to, and what the proof said."""

    key: PublicKey
    nonce: str | None
    iat: int


def verify_key_proof(
    token: object,
    *,
    audience: str,
    now: int,
    algorithms: tuple[str, ...] = ALGORITHMS,
    max_age: int = MAX_PROOF_AGE,
    leeway: int = PROOF_LEEWAY,
    require_nonce: bool = True,
) -> KeyProof:
    """Check a ``jwt`` key proof (Appendix F.4) for the issuer ``audience`` at time ``now``.

    Raises ``invalid_proof`` (a ProtocolError) whatever the fault.
    """
    if not isinstance(token, str) or not 0 < len(token) <= MAX_PROOF_BYTES:
        raise _invalid(f"a key proof is a compact JWT of at most {MAX_PROOF_BYTES} bytes")
    try:
        # 1. a compact JWS whose header names a registered asymmetric algorithm from our
        #    allowlist: never none, never a MAC (parse_compact refuses anything else)
        jws = parse_compact(token, max_bytes=MAX_PROOF_BYTES)
    except CivicError as exc:
        raise _invalid(f"the key proof is not a usable JWS: {exc.detail}") from exc
    if jws.header["alg"] not in algorithms:
        raise _invalid(f"alg {jws.header['alg']!r} is not accepted for key proofs")
    # 2.-3. explicitly typed, with a public key in the jwk header
    key = _proof_key(jws.header)
    try:
        # 4. the signature verifies with that key (and alg fits the key)
        jws.verify(key, algorithms=algorithms)
        claims = jws.payload_json()
    except CivicError as exc:
        raise _invalid(f"the key proof does not verify: {exc.detail}") from exc
    # 5.-7. audience, freshness, nonce
    nonce, iat = _proof_claims(claims, audience, now, max_age, leeway)
    if require_nonce and nonce is None:
        raise _invalid("the key proof carries no c_nonce")
    return KeyProof(key, nonce, iat)


def _proof_key(header: dict[str, Any]) -> PublicKey:
    # 2. explicitly typed as a key proof
    if header.get("typ") != PROOF_TYP:
        raise _invalid(f"a key proof has typ {PROOF_TYP!r}")
    # 3. the key is in the jwk header, and is a public key only
    for name in _OTHER_KEY_HEADERS:
        if name in header:
            raise _invalid(f"key proofs here carry their key as jwk, not {name}")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise _invalid("the key proof header has no jwk")
    if PRIVATE_MEMBERS.intersection(jwk):
        raise _invalid("the jwk header contains private key material")
    try:
        return PublicKey.from_jwk(jwk)
    except CivicError as exc:
        raise _invalid(f"the jwk header is not a usable key: {exc.detail}") from exc


def _proof_claims(
    claims: dict[str, Any], audience: str, now: int, max_age: int, leeway: int
) -> tuple[str | None, int]:
    # 5. the audience is this Credential Issuer
    aud = claims.get("aud")
    if not isinstance(aud, str):
        raise _invalid("the key proof needs aud, the Credential Issuer Identifier")
    if aud != audience:
        raise _invalid("the key proof is for another Credential Issuer (aud)")
    # 6. it was made recently (iat within the window; an exp, if any, not passed)
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int):
        raise _invalid("the key proof needs iat, an integer")
    if iat < now - max_age:
        raise _invalid("the key proof is too old (iat)")
    if iat > now + leeway:
        raise _invalid("the key proof was issued in the future (iat)")
    exp = claims.get("exp")
    if exp is not None and (isinstance(exp, bool) or not isinstance(exp, int) or exp <= now):
        raise _invalid("the key proof has expired (exp)")
    # 7. it carries a server-provided c_nonce (checked for freshness by the caller)
    nonce = claims.get("nonce")
    if nonce is not None and (not isinstance(nonce, str) or not 0 < len(nonce) <= 512):
        raise _invalid("nonce must be a string")
    return nonce, iat


def create_key_proof(
    key: PrivateKey, *, audience: str, nonce: str | None, now: int, client_id: str | None = None
) -> str:
    """Sign a ``jwt`` key proof with ``key`` (the Wallet side of Appendix F.1).

    ``client_id`` becomes ``iss`` only when the Wallet authenticated at the token endpoint;
    after anonymous Pre-Authorized Code access it MUST be omitted (F.1), the default.
    """
    claims: dict[str, object] = {"aud": audience, "iat": now}
    if nonce is not None:
        claims["nonce"] = nonce
    if client_id is not None:
        claims["iss"] = client_id
    header = {"typ": PROOF_TYP, "jwk": key.public_key.to_jwk()}
    return _sign_compact(key, json_dumps(claims), header)
