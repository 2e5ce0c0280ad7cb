"""Credential recipes: issue, present, inspect and verify SD-JWT VCs.

Follows draft-ietf-oauth-sd-jwt-vc (SD-JWT-based Verifiable Credentials) on top of RFC 9901:

* §3.2.1: the issuer-signed JWT is explicitly typed ``dc+sd-jwt`` (``vc+sd-jwt`` is still
  accepted on input for the transition the draft recommends); any other ``typ``, or none, is
  refused (``invalid_credential``) unless the verifier passes :class:`UnsafeAcceptPlainSdJwt`;
* §3.2.2.2: ``iss``, ``nbf``, ``exp``, ``cnf``, ``vct``, ``vct#integrity`` and ``status`` are
  never selectively disclosable; ``sub`` and ``iat`` may be (this issuer keeps ``iat`` plain);
* §3.4: verification is RFC 9901 §7 with the issuer's key resolved by an :class:`IssuerTrust`
  (the "Issuer Signature Mechanism" permitted by policy), the KB-JWT checked against ``cnf``,
  and ``status`` checked by a :class:`StatusChecker` (Token Status List) when present.

Claim paths are dotted text: ``address.locality`` is a member of an object, ``nationalities.0``
an array element. The recipes take parsed keys; :func:`issue`, :func:`present` and
:func:`verify` are the JWK-dict front doors.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from civicstack import sdjwt
from civicstack._crypto import PrivateKey, PublicKey, json_dumps, sign_compact
from civicstack.errors import InputError, UnreadableInputError, VerificationError
from civicstack.types import IssuerTrust, StatusChecker, resolve_now

if TYPE_CHECKING:
    from civicstack.sdjwt import Rng

VC_TYP = "dc+sd-jwt"
VC_TYPS = frozenset({VC_TYP, "vc+sd-jwt"})
#: SD-JWT VC §3.2.2.2: registered claims that MUST NOT be selectively disclosed.
NEVER_DISCLOSED = frozenset({"iss", "nbf", "exp", "cnf", "vct", "vct#integrity", "status"})
#: Claims the recipes set themselves; callers pass them as arguments, not inside ``claims``.
REGISTERED = NEVER_DISCLOSED | {"iat"}
DEFAULT_DECOYS = 3
# A typ naming another specific kind of JWT (kb+jwt, statuslist+jwt...); +sd-jwt and JWT pass.
_OTHER_JWT = re.compile(r"\+jwt$", re.IGNORECASE)
_log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_DECOYS",
    "NEVER_DISCLOSED",
    "REFUSE_PLAIN_SD_JWT",
    "REGISTERED",
    "VC_TYP",
    "VC_TYPS",
    "HeldCredential",
    "PlainSdJwtPolicy",
    "RefusePlainSdJwt",
    "StaticIssuer",
    "UnsafeAcceptPlainSdJwt",
    "UnsafeSkipStatus",
    "VerifiedCredential",
    "inspect",
    "issue",
    "issue_credential",
    "present",
    "present_credential",
    "verify",
    "verify_issued",
    "verify_presentation",
]
# Members of a public JWK whose parsed key verify() may keep (anything else is parsed anew).
_PUBLIC_JWK_MEMBERS = frozenset({"kty", "crv", "x", "y", "kid", "alg", "use"})
# The types of kty, crv, x and y for which the parsed key is kept (absent, or a string).
_KEPT_MEMBER_TYPES = frozenset({str, type(None)})


# --- issuance ----------------------------------------------------------------------------------


def _check_status(status: Mapping[str, Any]) -> dict[str, Any]:
    reference = status.get("status_list")
    if reference is not None:
        idx = reference.get("idx") if isinstance(reference, Mapping) else None
        uri = reference.get("uri") if isinstance(reference, Mapping) else None
        if isinstance(idx, bool) or not isinstance(idx, int) or idx < 0 or not isinstance(uri, str):
            raise InputError("invalid_request", "status.status_list needs idx >= 0 and a uri")
    return dict(status)


def issue_credential(
    issuer: PrivateKey,
    *,
    iss: str,
    vct: str,
    claims: Mapping[str, Any],
    holder: PublicKey | None,
    disclosable: Iterable[str] | None = None,
    status: Mapping[str, Any] | None = None,
    iat: int,
    exp: int | None = None,
    nbf: int | None = None,
    kid: str | None = None,
    decoys: int = DEFAULT_DECOYS,
    rng: Rng | None = None,
) -> str:
    """Sign an SD-JWT VC and return it with all its Disclosures, ending in ``~``.

    ``disclosable`` lists claim paths (``None``: every top-level claim). ``holder`` becomes
    ``cnf.jwk`` so presentations can prove possession; ``status`` is a Token Status List
    reference (``{"status_list": {"idx": n, "uri": ...}}``).
    """
    if not isinstance(iss, str) or not iss or not isinstance(vct, str) or not vct:
        raise InputError("invalid_request", "iss and vct must be non-empty strings")
    taken = REGISTERED.intersection(claims)
    if taken:
        raise InputError("invalid_request", f"pass {sorted(taken)} as arguments, not as claims")
    if exp is not None and exp <= iat:
        raise InputError("invalid_request", "exp must be after iat")
    if not 0 <= decoys <= 64:
        raise InputError("invalid_request", "decoys must be between 0 and 64")
    if disclosable is None:
        paths: list[sdjwt.Path] = [(name,) for name in claims]
    else:
        paths = [sdjwt.parse_path(name, claims) for name in disclosable]
    concealed = sdjwt.conceal(claims, paths, rng=rng or os.urandom, decoys=decoys)
    payload: dict[str, Any] = {"iss": iss, "iat": iat}
    if nbf is not None:
        payload["nbf"] = nbf
    if exp is not None:
        payload["exp"] = exp
    payload["vct"] = vct
    if status is not None:
        payload["status"] = _check_status(status)
    if holder is not None:
        payload["cnf"] = {"jwk": holder.to_jwk()}
    payload.update(concealed.payload)
    payload[sdjwt.SD_ALG] = sdjwt.SHA_256
    header = {"typ": VC_TYP} if kid is None else {"typ": VC_TYP, "kid": kid}
    try:
        encoded = json_dumps(payload)
    except TypeError as exc:  # orjson's JSONEncodeError: something in status is not JSON
        raise InputError("invalid_request", "status must be a JSON object") from exc
    jwt = sign_compact(issuer, encoded, header)
    return jwt + "~" + "".join(d.encoded + "~" for d in concealed.disclosures)


# --- the holder's view ---------------------------------------------------------------------------


def _subject_claims(payload: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in payload.items() if name not in REGISTERED}


def _number(payload: Mapping[str, Any], name: str) -> int | None:
    value = payload.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass(frozen=True, slots=True)
class HeldCredential:
    """The holder's unverified view of a stored credential, with everything disclosed."""

    iss: str
    vct: str | None
    iat: int | None
    exp: int | None
    nbf: int | None
    status: Mapping[str, Any] | None
    holder_jwk: dict[str, Any] | None
    claims: dict[str, Any]
    disclosable: tuple[str, ...]
    payload: dict[str, Any] = field(repr=False)
    typ: str | None = None
    kid: str | None = None

    @property
    def holder(self) -> PublicKey | None:
        """The key the credential is bound to (``cnf.jwk``), parsed."""
        return sdjwt.cnf_key(self.payload)


def _held(
    sd_jwt: str, limits: sdjwt.Limits = sdjwt.DEFAULT_LIMITS
) -> tuple[sdjwt.SdJwt, sdjwt.Processed]:
    parsed = sdjwt.parse_sd_jwt(sd_jwt, limits=limits)
    # RFC 9901 §7.2: what an Issuer hands over is an SD-JWT, never an SD-JWT+KB.
    if parsed.kb_jwt is not None:
        raise InputError("invalid_credential", "this is a presentation, not an issued credential")
    if parsed.payload.get(sdjwt.SD_ALG, sdjwt.SHA_256) != sdjwt.SHA_256:
        raise VerificationError("unsupported_algorithm", "_sd_alg is not sha-256")
    return parsed, sdjwt.process(parsed.payload, parsed.disclosures, limits=limits)


def inspect(sd_jwt: str, *, limits: sdjwt.Limits = sdjwt.DEFAULT_LIMITS) -> HeldCredential:
    """Read a stored credential (RFC 9901 §7.2 step 1, without the issuer's signature).

    All structural checks of §7.1 apply, under ``limits``, so a damaged credential is refused
    here already.
    """
    parsed, processed = _held(sd_jwt, limits)
    payload = processed.claims
    cnf = payload.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    status = payload.get("status")
    iss, vct, typ = payload.get("iss"), payload.get("vct"), parsed.header.get("typ")
    return HeldCredential(
        iss=iss if isinstance(iss, str) else "",
        vct=vct if isinstance(vct, str) else None,
        iat=_number(payload, "iat"),
        exp=_number(payload, "exp"),
        nbf=_number(payload, "nbf"),
        status=status if isinstance(status, dict) else None,
        holder_jwk=dict(jwk) if isinstance(jwk, dict) else None,
        claims=_subject_claims(payload),
        disclosable=tuple(sdjwt.format_path(entry.path) for entry in processed.disclosed),
        payload=payload,
        typ=typ if isinstance(typ, str) else None,
        kid=parsed.signatures[0].kid,
    )


def present_credential(
    sd_jwt: str,
    *,
    disclose: Iterable[str],
    holder: PrivateKey,
    aud: str,
    nonce: str,
    now: int,
) -> str:
    """Make an SD-JWT+KB revealing only the claims at ``disclose`` (RFC 9901 §7.2).

    Disclosing a path discloses the whole claim there, and every Disclosure it sits in.
    A path that names no claim raises ``undisclosable_claim``; one that is always visible is
    accepted and adds nothing.
    """
    parsed, processed = _held(sd_jwt)
    bound = sdjwt.cnf_key(processed.claims)
    if bound is None:
        raise VerificationError("key_binding_failed", "the credential names no holder key (cnf)")
    if bound != holder.public_key:
        raise VerificationError("key_binding_failed", "the credential is bound to another key")
    paths = [sdjwt.parse_path(path, processed.claims) for path in disclose]
    chosen = sdjwt.select_disclosures(processed, paths)
    presented = parsed.issuer_jwt + "~" + "".join(d + "~" for d in chosen)
    return presented + sdjwt.create_key_binding(holder, presented, aud=aud, nonce=nonce, iat=now)


# --- verification --------------------------------------------------------------------------------


class VerifiedCredential(NamedTuple):
    """What a verifier learns from a valid presentation.

    ``claims`` are the subject's claims (the registered ones are fields of their own);
    ``disclosed`` lists the paths revealed by Disclosures, indexing arrays as in ``claims``;
    ``payload`` is the whole Processed SD-JWT Payload (left out of ``repr``).

    An immutable NamedTuple rather than a frozen dataclass, like the SD-JWT values it is made
    from: a frozen dataclass sets each of these fourteen fields with an object.__setattr__
    call, which cost a verifier about 2 us per presentation.
    """

    iss: str
    vct: str | None
    claims: dict[str, Any]
    disclosed: tuple[str, ...]
    holder: PublicKey | None  # set when a KB-JWT proved possession of the cnf key
    holder_jwk: dict[str, Any] | None
    status: Mapping[str, Any] | None
    iat: int | None
    exp: int | None
    nbf: int | None
    key_bound: bool
    payload: dict[str, Any]
    typ: str | None = None
    kid: str | None = None

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in _VERIFIED_REPR)
        return f"VerifiedCredential({shown})"


_VERIFIED_REPR = tuple(name for name in VerifiedCredential._fields if name != "payload")


class StaticIssuer:
    """An :class:`IssuerTrust` for one known issuer key and no scope limits.

    With ``iss`` given, only credentials naming that issuer are accepted; without it the key
    alone is trusted, whatever ``iss`` the credential claims.
    """

    def __init__(self, key: PublicKey | Mapping[str, Any], *, iss: str | None = None) -> None:
        self.key = key if isinstance(key, PublicKey) else PublicKey.from_jwk(dict(key))
        self.iss = iss

    def issuer_key(self, iss: str, kid: str | None, now: int) -> PublicKey:
        """The configured key, if ``iss`` is the configured issuer (or none was configured)."""
        if self.iss is not None and iss != self.iss:
            raise VerificationError("untrusted_issuer", f"{iss!r} is not the trusted issuer")
        return self.key

    def check_scope(self, iss: str, vct: str | None, claim_names: Set[str], now: int) -> None:
        """Every type and claim is in scope."""


def _check_vc_rules(
    payload: Mapping[str, Any], disclosed: tuple[sdjwt.DisclosedClaim, ...]
) -> None:
    # SD-JWT VC §3.2.2.1: vct is required and is a string.
    if not isinstance(payload.get("vct"), str) or not payload["vct"]:
        raise VerificationError("invalid_credential", "an SD-JWT VC needs a vct")
    # §3.2.2.2: iss (we resolve keys by issuer name; x5c is not supported) and the registered
    # claims that must never come from a Disclosure.
    if not isinstance(payload.get("iss"), str):
        raise VerificationError("invalid_credential", "an SD-JWT VC needs an iss")
    for entry in disclosed:
        if len(entry.path) == 1 and entry.path[0] in NEVER_DISCLOSED:
            raise VerificationError(
                "invalid_credential", f"{entry.path[0]} must not be selectively disclosed"
            )


class UnsafeSkipStatus:
    """Do not check a credential's ``status`` (Token Status List): a revoked or suspended
    credential passes. Every status left unchecked is logged as a warning."""

    def skip(self, iss: str) -> None:
        """Check nothing, with a warning."""
        _log.warning("UnsafeSkipStatus: the status of a credential from %s was not checked", iss)


class PlainSdJwtPolicy(Protocol):
    """What an SD-JWT VC verifier does with an issuer JWT typed neither ``dc+sd-jwt`` nor
    ``vc+sd-jwt`` (SD-JWT VC §3.2.1): the verifier's policy, never the input's."""

    def accept(self, typ: str | None) -> None:
        """Called with the issuer JWT's ``typ``: raise to refuse it."""
        ...


class RefusePlainSdJwt:
    """The default: only an SD-JWT VC passes (``invalid_credential`` otherwise)."""

    def accept(self, typ: str | None) -> None:
        """Refuse."""
        raise VerificationError(
            "invalid_credential", f"typ {typ!r} is not an SD-JWT VC (dc+sd-jwt or vc+sd-jwt)"
        )


class UnsafeAcceptPlainSdJwt:
    """Accept any RFC 9901 SD-JWT, typed otherwise or not at all: its claims carry no SD-JWT VC
    semantics (no vct or iss required, registered claims may have been disclosed). Every one
    accepted that way is logged as a warning. A JWT typed as another kind (``kb+jwt``,
    ``statuslist+jwt``...) is refused all the same."""

    def accept(self, typ: str | None) -> None:
        """Accept, with a warning."""
        _log.warning("UnsafeAcceptPlainSdJwt: an SD-JWT typed %r was accepted", typ)


REFUSE_PLAIN_SD_JWT = RefusePlainSdJwt()


class _NotPresentedYet:
    """An issued credential, as its Holder receives it, carries no KB-JWT (RFC 9901 §7.2):
    key binding is checked when it is presented, not before."""

    def missing(self) -> None:
        return None


class _CheckedWhenPresented(UnsafeSkipStatus):
    """An issued credential's status is every verifier's to check when it is presented."""

    def skip(self, iss: str) -> None:
        return None


def verify_presentation(
    presentation: str,
    *,
    trust: IssuerTrust,
    aud: str,
    nonce: str,
    now: int,
    status: StatusChecker | UnsafeSkipStatus,
    max_kb_age: int | None = None,
    key_binding: sdjwt.KeyBindingPolicy = sdjwt.REQUIRE_KEY_BINDING,
    plain_sd_jwt: PlainSdJwtPolicy = REFUSE_PLAIN_SD_JWT,
    limits: sdjwt.Limits = sdjwt.DEFAULT_LIMITS,
) -> VerifiedCredential:
    """Verify an SD-JWT(+KB) presentation: RFC 9901 §7.1/§7.3, SD-JWT VC §3.4, then trust.

    A ``status`` claim is checked after every other check passed (Token Status List §8.3
    first validates the Referenced Token itself), unless ``status`` is
    :class:`UnsafeSkipStatus`; a presentation without a KB-JWT is refused unless
    ``key_binding`` is :class:`civicstack.sdjwt.UnsafeNoKeyBinding`; an issuer JWT not typed
    ``dc+sd-jwt`` (or ``vc+sd-jwt``) is refused unless ``plain_sd_jwt`` is
    :class:`UnsafeAcceptPlainSdJwt`. Every refusal is a :class:`VerificationError`.

    The presentation is read and checked under ``limits`` (:class:`civicstack.sdjwt.Limits`);
    ``max_kb_age``, when given, takes the place of ``limits.kb_jwt_age`` (seconds).
    """
    # Every refusal is a VerificationError: one that could not even be read (an InputError)
    # becomes an UnreadableInputError, keeping its code. An except clause here rather than a
    # decorator: repacking its keyword arguments as **kwargs cost more than the typ checks.
    try:
        return _verify_presentation(
            presentation,
            trust=trust,
            aud=aud,
            nonce=nonce,
            now=now,
            status=status,
            max_kb_age=max_kb_age,
            key_binding=key_binding,
            plain_sd_jwt=plain_sd_jwt,
            limits=limits,
        )
    except InputError as exc:
        if isinstance(exc, VerificationError):
            raise
        raise UnreadableInputError(exc.code, exc.detail) from exc


def _verify_presentation(
    presentation: str,
    *,
    trust: IssuerTrust,
    aud: str,
    nonce: str,
    now: int,
    status: StatusChecker | UnsafeSkipStatus,
    max_kb_age: int | None,
    key_binding: sdjwt.KeyBindingPolicy,
    plain_sd_jwt: PlainSdJwtPolicy,
    limits: sdjwt.Limits,
) -> VerifiedCredential:
    if max_kb_age is not None and max_kb_age != limits.kb_jwt_age:
        limits = replace(limits, kb_jwt_age=max_kb_age)
    parsed = sdjwt.parse_sd_jwt(presentation, limits=limits)
    typ = parsed.header.get("typ")
    vc_typed = type(typ) is str and typ in VC_TYPS  # no +jwt suffix: the next check passes
    if not vc_typed:
        # RFC 8725 §3.11: a JWT explicitly typed as another kind (a KB-JWT, a status list
        # token, a key proof, all signed by keys a verifier knows) is never a credential.
        if typ is not None and (not isinstance(typ, str) or _OTHER_JWT.search(typ)):
            raise VerificationError("invalid_credential", f"typ {typ!r} is not an SD-JWT type")
        # SD-JWT VC §3.2.1: typ is dc+sd-jwt; a plain SD-JWT only by the verifier's explicit
        # policy.
        plain_sd_jwt.accept(typ)
    # A General JWS JSON document (RFC 9901 §8.3): every signature types the same credential,
    # or what typ means would depend on which signature comes first.
    others = parsed.signatures[1:]
    if others and any(signature.jws.header.get("typ") != typ for signature in others):
        raise VerificationError("invalid_credential", "the signatures disagree on typ")
    iss_claim = parsed.payload.get("iss")
    iss = iss_claim if isinstance(iss_claim, str) else ""

    def resolve(signature: sdjwt.IssuerSignature) -> PublicKey:
        return trust.issuer_key(iss, signature.kid, now)

    verified = sdjwt.verify_sd_jwt(
        parsed,
        resolve,
        now=now,
        aud=aud,
        nonce=nonce,
        key_binding=key_binding,
        limits=limits,
    )
    payload = verified.claims
    vct = payload.get("vct")
    if vc_typed:
        _check_vc_rules(payload, verified.disclosed)
    claims = _subject_claims(payload)
    trust.check_scope(iss, vct if isinstance(vct, str) else None, frozenset(claims), now)
    status_claim = payload.get("status")
    if status_claim is not None:
        if isinstance(status, UnsafeSkipStatus):
            status.skip(iss)
        else:
            if not isinstance(status_claim, dict):
                raise VerificationError("invalid_credential", "status must be a JSON object")
            status.check(status_claim, iss, trust, now)
    holder = verified.holder
    cnf = payload.get("cnf")
    jwk = cnf.get("jwk") if isinstance(cnf, dict) else None
    return VerifiedCredential(
        iss=iss,
        vct=vct if isinstance(vct, str) else None,
        claims=claims,
        disclosed=tuple(sdjwt.format_path(entry.path) for entry in verified.disclosed),
        holder=holder,
        holder_jwk=dict(jwk) if isinstance(jwk, dict) else None,
        status=status_claim if isinstance(status_claim, dict) else None,
        iat=_number(payload, "iat"),
        exp=_number(payload, "exp"),
        nbf=_number(payload, "nbf"),
        key_bound=verified.key_binding is not None,
        payload=payload,
        typ=typ if isinstance(typ, str) else None,
        kid=parsed.signatures[0].kid,
    )


def verify_issued(
    sd_jwt: str,
    *,
    trust: IssuerTrust,
    now: int,
    limits: sdjwt.Limits = sdjwt.DEFAULT_LIMITS,
) -> VerifiedCredential:
    """What a Holder checks of a credential it receives: the issuer's signature and key, its
    accreditation and scope, the SD-JWT's structure and validity (RFC 9901 §7.1), as a verifier
    would. Key binding and status are left to each verifier at presentation: an issued SD-JWT
    has no KB-JWT yet, and a status answers for the moment it is presented.
    """
    return verify_presentation(
        sd_jwt,
        trust=trust,
        aud="",
        nonce="",
        now=now,
        status=_CheckedWhenPresented(),
        key_binding=_NotPresentedYet(),
        limits=limits,
    )


# --- the JWK-dict front doors ------------------------------------------------------------------


def issue(
    issuer_jwk: dict[str, Any],
    *,
    iss: str,
    vct: str,
    claims: dict[str, Any],
    holder_jwk: dict[str, Any],
    disclosable: list[str] | None = None,
    now: int | None = None,
) -> str:
    """Issue an SD-JWT VC with a private issuer JWK, bound to ``holder_jwk``'s public key."""
    return issue_credential(
        PrivateKey.from_jwk(issuer_jwk),
        iss=iss,
        vct=vct,
        claims=claims,
        holder=PublicKey.from_jwk(holder_jwk),
        disclosable=disclosable,
        iat=resolve_now(now),
    )


def present(
    sd_jwt: str,
    *,
    disclose: list[str],
    holder_jwk: dict[str, Any],
    aud: str,
    nonce: str,
    now: int | None = None,
) -> str:
    """Present ``disclose`` with key binding, signed by the private ``holder_jwk``."""
    return present_credential(
        sd_jwt,
        disclose=disclose,
        holder=PrivateKey.from_jwk(holder_jwk),
        aud=aud,
        nonce=nonce,
        now=resolve_now(now),
    )


#: Where :func:`verify` finds its default status checker: named, not imported, so this pure
#: module never loads the HTTP adapter until a caller of that front door needs it.
DEFAULT_STATUS_CHECKER = "civicstack.fetch:default_status_checker"
_status_lock = threading.Lock()
_default_status: StatusChecker | None = None


def set_default_status_checker(checker: StatusChecker | None) -> None:
    """Make :func:`verify` check ``status`` claims with ``checker`` (``None``: the HTTP default).

    For adapters that already hold a status checker (with their fetcher and cache) and for
    tests; the recipes themselves always take their checker as an argument.
    """
    global _default_status  # noqa: PLW0603 - the one process-wide default, set by adapters
    with _status_lock:
        _default_status = checker


def _status_checker() -> StatusChecker:
    global _default_status  # noqa: PLW0603 - resolved once, then shared by every call
    checker = _default_status
    if checker is None:
        with _status_lock:
            if _default_status is None:
                module, _, name = DEFAULT_STATUS_CHECKER.partition(":")
                _default_status = getattr(importlib.import_module(module), name)()
            checker = _default_status
    return checker


@lru_cache(maxsize=64)
def _issuer_key(kty: object, crv: object, x: object, y: object) -> StaticIssuer:
    jwk = {"kty": kty, "crv": crv, "x": x}
    if y is not None:
        jwk["y"] = y
    return StaticIssuer(jwk)


def _static_issuer(issuer_jwk: dict[str, Any]) -> StaticIssuer:
    # A verifier checks against a handful of issuer keys again and again (unlike holder keys,
    # met about once each), so the parsed issuer key is kept, as StaticIssuer callers keep it.
    if not isinstance(issuer_jwk, dict) or not issuer_jwk.keys() <= _PUBLIC_JWK_MEMBERS:
        return StaticIssuer(issuer_jwk)
    get = issuer_jwk.get
    kty, crv, x, y = get("kty"), get("crv"), get("x"), get("y")
    # One C-level check, no generator: this runs on every call of the front door.
    if not _KEPT_MEMBER_TYPES.issuperset(map(type, (kty, crv, x, y))):
        return StaticIssuer(issuer_jwk)
    return _issuer_key(kty, crv, x, y)


def verify(
    presentation: str,
    *,
    issuer_jwk: dict[str, Any],
    aud: str,
    nonce: str,
    now: int | None = None,
    plain_sd_jwt: PlainSdJwtPolicy = REFUSE_PLAIN_SD_JWT,
    limits: sdjwt.Limits = sdjwt.DEFAULT_LIMITS,
) -> dict[str, Any]:
    """Verify an SD-JWT VC presentation (with key binding) against one issuer key; return the
    processed payload. Compact or JWS JSON serialization (RFC 9901 §4, §8).

    The issuer JWT must be typed ``dc+sd-jwt`` (or ``vc+sd-jwt``); any other RFC 9901 SD-JWT
    passes only with ``plain_sd_jwt=UnsafeAcceptPlainSdJwt()``. A ``status`` claim is always
    checked with the default status checker: the Token Status List fetched over HTTP on each
    call (:data:`DEFAULT_STATUS_CHECKER`, built once per process), or the one an adapter set
    with :func:`set_default_status_checker`. Every refusal of the presentation raises a
    :class:`VerificationError` with its stable code. ``limits`` caps what is read
    (:class:`civicstack.sdjwt.Limits`; :data:`civicstack.sdjwt.DEFAULT_LIMITS` unless given).
    """
    result = verify_presentation(
        presentation,
        trust=_static_issuer(issuer_jwk),
        aud=aud,
        nonce=nonce,
        now=resolve_now(now),
        status=_status_checker(),
        plain_sd_jwt=plain_sd_jwt,
        limits=limits,
    )
    return dict(result.payload)
