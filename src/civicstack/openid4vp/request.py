"""OpenID4VP 1.0 Authorization Requests: signed Request Objects passed by reference.

How civicstack's verifier asks a wallet for presentations, and how a wallet checks the request:

* §5 and RFC 9101 (JAR): the request is a Request Object, a JWT typed ``oauth-authz-req+jwt``,
  signed by the relying party and fetched by the wallet from ``request_uri`` (served as
  ``application/oauth-authz-req+jwt``); the Authorization Request itself carries only
  ``client_id`` and ``request_uri`` (``openid4vp://?client_id=...&request_uri=...``, §9);
* §5.9.3 ``verifier_attestation`` Client Identifier Prefix and §12 Verifier Attestation JWT: a
  relying party registered in civicstack's trust registry is ``verifier_attestation:<its
  registered identifier>``. Its registrar (the root authority, or an authority accredited to
  register relying parties) signs a short-lived attestation (``typ``
  ``verifier-attestation+jwt``; ``sub`` = the identifier, ``cnf.jwk`` = the key of the
  relying party's registration, ``redirect_uris`` = the response URI), which travels in the
  Request Object's ``jwt`` header; the Request Object is signed with the ``cnf`` key. A wallet
  that trusts only the root's key (configured out of band) can therefore authenticate the
  request from the request alone, as §5.9.3 requires; civicstack's wallet additionally checks
  the relying party's registration, suspension and purpose in the trust registry;
* §5.1/§5.2: ``dcql_query`` (§6), ``nonce`` (fresh, URL-safe), ``state``, ``client_metadata``
  with ``vp_formats_supported`` for ``dc+sd-jwt`` (Appendix B.3.4), ``response_type``
  ``vp_token`` (§5.6), ``response_mode`` ``direct_post`` with ``response_uri`` (§8.2);
* §5.8: ``aud`` is ``https://self-issued.me/v2`` (the wallet is not discovered dynamically);
* §5.11 ``verifier_info``: the relying party's registration statement (``rp-registration+jwt``)
  is attached, for wallets that show the registered purposes;
* extension: ``purpose`` names the registered purpose the request is made for (wallets that do
  not know it ignore it, §5).

:func:`verify_request_object` is the wallet's side, step by step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from civicstack._crypto import PrivateKey, PublicKey, parse_compact, sign_jwt
from civicstack.errors import CivicError, InputError, VerificationError
from civicstack.openid4vp.dcql import FORMAT_SD_JWT_VC, DcqlQuery
from civicstack.openid4vp.limits import DEFAULT_LIMITS, Limits

PREFIX = "verifier_attestation"
REQUEST_TYP = "oauth-authz-req+jwt"
REQUEST_MEDIA_TYPE = "application/oauth-authz-req+jwt"
ATTESTATION_TYP = "verifier-attestation+jwt"
STATIC_AUD = "https://self-issued.me/v2"
SCHEME = "openid4vp"
RESPONSE_TYPE = "vp_token"
RESPONSE_MODE = "direct_post"
REGISTRATION_INFO_FORMAT = "urn:civicstack:rp-registration+jwt"
#: Algorithms of issuer-signed JWTs and KB-JWTs this platform verifies (Appendix B.3.4).
ALGORITHMS = ("ES256", "EdDSA")
MAX_SKEW = 60
# §5.2: nonce and state are ASCII URL-safe characters.
_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+")


def _invalid(detail: str) -> VerificationError:
    return VerificationError("invalid_request_object", detail)


def client_id_for(identifier: str) -> str:
    """The Client Identifier of a registered relying party: ``verifier_attestation:<id>``."""
    return f"{PREFIX}:{identifier}"


def original_client_id(client_id: str) -> str:
    """§5.9.1: the part after the prefix; ``invalid_request_object`` for another prefix."""
    prefix, colon, rest = client_id.partition(":")
    if not colon or prefix != PREFIX or not rest:
        raise _invalid(f"client_id prefix {prefix!r} is not supported (only {PREFIX})")
    return rest


def url_safe(
    value: object,
    what: str,
    *,
    min_chars: int = 1,
    max_chars: int = 256,
    code: str = "invalid_request_object",
) -> str:
    """A nonce or state value (§5.2): URL-safe characters, bounded."""
    if (
        not isinstance(value, str)
        or not min_chars <= len(value) <= max_chars
        or not _URL_SAFE.fullmatch(value)
    ):
        raise VerificationError(code, f"{what} must be {min_chars}-{max_chars} URL-safe characters")
    return value


def client_metadata() -> dict[str, Any]:
    """§5.1 ``client_metadata``: what this verifier accepts (§11.1, Appendix B.3.4)."""
    algs = list(ALGORITHMS)
    return {
        "vp_formats_supported": {
            FORMAT_SD_JWT_VC: {"sd-jwt_alg_values": algs, "kb-jwt_alg_values": algs}
        }
    }


# --- §9: the Authorization Request the wallet is handed ------------------------------------------


def authorization_request_uri(client_id: str, request_uri: str) -> str:
    """``openid4vp://?client_id=...&request_uri=...`` (§9, RFC 9101 §5.2)."""
    return f"{SCHEME}://?" + urlencode({"client_id": client_id, "request_uri": request_uri})


def parse_authorization_request(uri: object, *, limits: Limits = DEFAULT_LIMITS) -> tuple[str, str]:
    """``(client_id, request_uri)`` from an Authorization Request URI, strictly.

    Parameters other than these two are ignored except ``request`` (by value is not supported
    here) and ``request_uri_method``, which must be absent or ``get`` (§5.1).
    """
    if not isinstance(uri, str) or not uri or len(uri) > limits.uri_chars:
        raise InputError(
            "invalid_request", f"an OpenID4VP request is a URI of at most {limits.uri_chars} chars"
        )
    try:
        parts = urlsplit(uri.strip())
        pairs = parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)
    except ValueError as exc:
        raise InputError("invalid_request", "the OpenID4VP request is not a valid URI") from exc
    params: dict[str, str] = {}
    for name, value in pairs:
        if name in params:
            raise InputError("invalid_request", f"{name} appears twice in the request")
        params[name] = value
    if "request" in params:
        raise InputError("unsupported", "request objects by value are not supported")
    method = params.get("request_uri_method", "get")
    if method != "get":
        raise InputError("unsupported", f"request_uri_method {method!r} is not supported")
    client_id, request_uri = params.get("client_id"), params.get("request_uri")
    if not client_id or not request_uri:
        raise InputError("invalid_request", "the request needs client_id and request_uri")
    check_http_url(request_uri, "request_uri", limits=limits)
    return client_id, request_uri


def check_http_url(value: object, what: str, *, limits: Limits = DEFAULT_LIMITS) -> str:
    """An absolute http(s) URL without a fragment, bounded."""
    if not isinstance(value, str) or len(value) > limits.uri_chars:
        raise _invalid(f"{what} must be an http(s) URL")
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise _invalid(f"{what} is not a URL") from exc
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.fragment:
        raise _invalid(f"{what} must be an absolute http(s) URL without a fragment")
    return value


# --- §12: Verifier Attestation JWTs ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifierAttestation:
    """A verified Verifier Attestation JWT (§12)."""

    iss: str
    sub: str
    key: PublicKey  # cnf.jwk: the key the request must be signed with
    iat: int | None
    exp: int
    redirect_uris: tuple[str, ...] | None
    name: str | None
    token: str


def sign_verifier_attestation(
    registrar: PrivateKey,
    *,
    iss: str,
    sub: str,
    key: PublicKey,
    now: int,
    exp: int,
    redirect_uris: Sequence[str] | None = None,
    name: str | None = None,
) -> str:
    """A Verifier Attestation JWT binding ``sub`` (the relying party) to ``key`` (§12)."""
    claims: dict[str, Any] = {
        "iss": iss,
        "sub": sub,
        "iat": now,
        "nbf": now,
        "exp": exp,
        "cnf": {"jwk": key.to_jwk()},
    }
    if redirect_uris is not None:
        claims["redirect_uris"] = list(redirect_uris)
    if name is not None:
        claims["name"] = name
    header = {"typ": ATTESTATION_TYP, "kid": registrar.public_key.thumbprint()}
    return sign_jwt(registrar, claims, header)


#: Resolves the key an attestation issuer signs with: ``(iss, kid, now) -> PublicKey``; raises
#: a CivicError when ``iss`` is not trusted to attest verifiers.
AttestationKeys = Callable[[str, str | None, int], PublicKey]


def read_verifier_attestation(
    token: object, *, issuer_key: AttestationKeys, now: int
) -> VerifierAttestation:
    """Verify a Verifier Attestation JWT (§12; §5.9.3 for the trust in its issuer)."""
    if not isinstance(token, str):
        raise _invalid("the jwt header must hold a Verifier Attestation JWT")
    try:
        jws = parse_compact(token, max_bytes=8 * 1024)
        # 1. explicitly typed verifier-attestation+jwt (§12)
        if jws.header.get("typ") != ATTESTATION_TYP:
            raise _invalid(f"the attestation's typ must be {ATTESTATION_TYP}")
        claims = jws.payload_json()
    except VerificationError:
        raise
    except CivicError as exc:
        raise _invalid(f"verifier attestation: {exc.detail}") from exc
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(iss, str) or not iss or not isinstance(sub, str) or not sub:
        raise _invalid("the attestation needs iss and sub")
    kid = jws.header.get("kid")
    # 2. iss identifies a party the wallet trusts to attest verifiers; its key verifies it
    try:
        key = issuer_key(iss, kid if isinstance(kid, str) else None, now)
    except CivicError as exc:
        raise VerificationError(exc.code, f"verifier attestation from {iss}: {exc.detail}") from exc
    try:
        jws.verify(key)
    except CivicError as exc:
        raise _invalid(f"verifier attestation from {iss}: {exc.detail}") from exc
    # 3. exp is required and not passed; nbf and iat, when present, not in the future
    exp = _time(claims, "exp", required=True)
    assert exp is not None
    if now >= exp + MAX_SKEW:
        raise VerificationError("expired", "the verifier attestation has expired")
    for name in ("nbf", "iat"):
        t = _time(claims, name)
        if t is not None and t > now + MAX_SKEW:
            raise VerificationError("not_yet_valid", f"the verifier attestation's {name} is ahead")
    # 4. cnf.jwk: the key the Request Object must be signed with (RFC 7800 §3.2)
    cnf = claims.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    if not isinstance(jwk, dict) or "d" in jwk:
        raise _invalid("the attestation must carry cnf.jwk, a public key")
    cnf_key = PublicKey.from_jwk(jwk)
    redirect_uris = claims.get("redirect_uris")
    if redirect_uris is not None and (
        not isinstance(redirect_uris, list) or not all(isinstance(u, str) for u in redirect_uris)
    ):
        raise _invalid("redirect_uris must be a list of URIs")
    display = claims.get("name")
    return VerifierAttestation(
        iss=iss,
        sub=sub,
        key=cnf_key,
        iat=_time(claims, "iat"),
        exp=exp,
        redirect_uris=tuple(redirect_uris) if redirect_uris is not None else None,
        name=display if isinstance(display, str) else None,
        token=token,
    )


def _time(claims: Mapping[str, Any], name: str, *, required: bool = False) -> int | None:
    value = claims.get(name)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _invalid(f"{name} must be a NumericDate")
    return value


# --- Request Objects ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestObject:
    """A verified Request Object: everything a wallet needs to answer it."""

    client_id: str
    relying_party: str  # the original client identifier: the registered identifier
    response_uri: str
    nonce: str
    state: str | None
    dcql: DcqlQuery
    purpose: str | None
    client_metadata: Mapping[str, Any]
    verifier_info: tuple[Mapping[str, Any], ...]
    attestation: VerifierAttestation
    exp: int | None


def sign_request_object(
    key: PrivateKey,
    *,
    attestation: str,
    client_id: str,
    response_uri: str,
    nonce: str,
    state: str,
    dcql: DcqlQuery,
    now: int,
    exp: int,
    purpose: str | None = None,
    registration: str | None = None,
) -> str:
    """A signed Request Object (§5, RFC 9101) for ``response_mode=direct_post`` (§8.2)."""
    claims: dict[str, Any] = {
        "client_id": client_id,
        "response_type": RESPONSE_TYPE,
        "response_mode": RESPONSE_MODE,
        "response_uri": response_uri,
        "nonce": nonce,
        "state": state,
        "dcql_query": dcql.to_json(),
        "client_metadata": client_metadata(),
        "aud": STATIC_AUD,
        "iat": now,
        "exp": exp,
    }
    if purpose is not None:
        claims["purpose"] = purpose
    if registration is not None:
        claims["verifier_info"] = [{"format": REGISTRATION_INFO_FORMAT, "data": registration}]
    header = {"typ": REQUEST_TYP, "kid": key.public_key.thumbprint(), "jwt": attestation}
    return sign_jwt(key, claims, header)


def verify_request_object(
    token: object,
    *,
    client_id: str,
    issuer_key: AttestationKeys,
    now: int,
    limits: Limits = DEFAULT_LIMITS,
) -> RequestObject:
    """The wallet's checks of a Request Object fetched from ``request_uri`` (§5, §5.9.3, §12).

    ``client_id`` is the one of the Authorization Request; ``issuer_key`` says which parties
    may attest verifiers. Raises ``invalid_request_object`` (or the trust error met).
    """
    # 1. a signed JWT typed oauth-authz-req+jwt (§5: no typ, no processing)
    if not isinstance(token, str | bytes):
        raise _invalid("the request object is a compact JWS")
    try:
        jws = parse_compact(token, max_bytes=limits.request_object_bytes)
        claims = jws.payload_json()
    except CivicError as exc:
        raise _invalid(f"request object: {exc.detail}") from exc
    if jws.header.get("typ") != REQUEST_TYP:
        raise _invalid(f"the request object's typ must be {REQUEST_TYP}")
    # 2. its client_id is the Authorization Request's, prefix included (§5.10.1)
    if claims.get("client_id") != client_id:
        raise _invalid("the request object names another client_id")
    # 3. the prefix is verifier_attestation: the part after it is the attestation's sub
    relying_party = original_client_id(client_id)
    # 4. the Verifier Attestation JWT in the jwt header, from a trusted issuer (§12)
    attestation = read_verifier_attestation(jws.header.get("jwt"), issuer_key=issuer_key, now=now)
    if attestation.sub != relying_party:
        raise _invalid("the verifier attestation is for another client")
    # 5. the request is signed with the attested key: proof of possession (§5.9.3)
    try:
        jws.verify(attestation.key)
    except CivicError as exc:
        raise _invalid(
            f"the request object is not signed with the attested key: {exc.detail}"
        ) from exc
    # 6. the JWT's own validity (RFC 7519 §4.1.4-6) and audience (§5.8)
    exp = _check_validity(claims, now)
    # 7. response_type vp_token and response_mode direct_post with a response_uri the
    # attestation allows (§5.6, §8.2)
    response_uri = _response_uri(claims, attestation, limits)
    # 8. a fresh nonce (§5.2, §14.1) and an optional state, URL-safe
    nonce = url_safe(claims.get("nonce"), "nonce", min_chars=16)
    state = claims.get("state")
    if state is not None:
        state = url_safe(state, "state")
    # 9. a DCQL query (§6) and what goes with it
    dcql, purpose, metadata, info = _query(claims)
    return RequestObject(
        client_id=client_id,
        relying_party=relying_party,
        response_uri=response_uri,
        nonce=nonce,
        state=state,
        dcql=dcql,
        purpose=purpose,
        client_metadata=metadata,
        verifier_info=info,
        attestation=attestation,
        exp=exp,
    )


def _check_validity(claims: Mapping[str, Any], now: int) -> int | None:
    exp = _time(claims, "exp")
    if exp is not None and now >= exp + MAX_SKEW:
        raise VerificationError("expired", "the request object has expired")
    iat = _time(claims, "iat")
    if iat is not None and iat > now + MAX_SKEW:
        raise _invalid("the request object was issued in the future")
    aud = claims.get("aud")
    if aud is not None and aud not in (STATIC_AUD, [STATIC_AUD]):
        raise _invalid(f"the request object's aud must be {STATIC_AUD}")
    return exp


def _response_uri(
    claims: Mapping[str, Any], attestation: VerifierAttestation, limits: Limits
) -> str:
    if claims.get("response_type") != RESPONSE_TYPE:
        raise _invalid("response_type must be vp_token")
    if claims.get("response_mode") != RESPONSE_MODE:
        raise _invalid("response_mode must be direct_post")
    # §8.2: with response_uri, a redirect_uri must not be present.
    if "redirect_uri" in claims:
        raise _invalid("redirect_uri must not be present with direct_post")
    response_uri = check_http_url(claims.get("response_uri"), "response_uri", limits=limits)
    # §5.9.3: redirect_uris in the attestation bind where the response may go.
    if attestation.redirect_uris is not None and response_uri not in attestation.redirect_uris:
        raise _invalid("the response_uri is not one the attestation allows")
    return response_uri


def _query(
    claims: Mapping[str, Any],
) -> tuple[DcqlQuery, str | None, dict[str, Any], tuple[Mapping[str, Any], ...]]:
    # §5.1: dcql_query, not scope; transaction_data is refused by a wallet without support.
    if "scope" in claims:
        raise _invalid("scope is not supported: send dcql_query")
    if "transaction_data" in claims:
        raise _invalid("transaction_data is not supported")
    try:
        dcql = DcqlQuery.parse(claims.get("dcql_query"))
    except CivicError as exc:
        raise _invalid(exc.detail) from exc
    metadata = claims.get("client_metadata", {})
    if not isinstance(metadata, dict):
        raise _invalid("client_metadata must be an object")
    purpose = claims.get("purpose")
    if purpose is not None and (not isinstance(purpose, str) or not purpose or len(purpose) > 256):
        raise _invalid("purpose must be a short string")
    info = claims.get("verifier_info", [])
    if not isinstance(info, list) or not all(isinstance(i, dict) for i in info):
        raise _invalid("verifier_info must be a list of objects")
    return dcql, purpose, metadata, tuple(info)
