"""Verifying an SD-JWT or SD-JWT+KB: RFC 9901 §7.1 and §7.3, in the spec's order."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol

from civicstack._crypto import PublicKey
from civicstack.errors import VerificationError
from civicstack.sdjwt._disclosures import SD_ALG, SHA_256
from civicstack.sdjwt._keybinding import cnf_key, verify_key_binding
from civicstack.sdjwt._processing import DisclosedClaim, process
from civicstack.sdjwt._serialization import IssuerSignature, SdJwt
from civicstack.sdjwt.limits import DEFAULT_LIMITS, Limits

#: Resolves the key that must have made a signature (RFC 9901 §7.1 step 2.3); raises if none.
KeyResolver = Callable[[IssuerSignature], PublicKey]
_log = logging.getLogger(__name__)


class KeyBindingPolicy(Protocol):
    """Whether a presentation must carry a KB-JWT (RFC 9901 §7.3 step 1: the Verifier's
    policy, never the input's)."""

    def missing(self) -> None:
        """Called when the presentation has no KB-JWT: raise to refuse it."""
        ...


class RequireKeyBinding:
    """The default: a presentation without a KB-JWT is refused (``key_binding_required``)."""

    def missing(self) -> None:
        """Refuse."""
        raise VerificationError("key_binding_required", "the presentation has no KB-JWT")


class UnsafeNoKeyBinding:
    """Accept a presentation without a KB-JWT: whoever holds a copy of the credential can
    present it. Every presentation accepted that way is logged as a warning."""

    def missing(self) -> None:
        """Accept, with a warning."""
        _log.warning("UnsafeNoKeyBinding: a presentation without key binding was accepted")


REQUIRE_KEY_BINDING = RequireKeyBinding()


class VerifiedSdJwt(NamedTuple):
    """A verified SD-JWT: the Processed SD-JWT Payload and how it was obtained.

    A NamedTuple, like :class:`~civicstack.sdjwt.Processed`: every verification builds one.
    """

    header: dict[str, Any]
    claims: dict[str, Any]
    disclosed: tuple[DisclosedClaim, ...]
    holder: PublicKey | None  # the cnf key, when a KB-JWT proved possession of it
    key_binding: dict[str, Any] | None


def _numeric_date(claims: dict[str, Any], name: str) -> int | float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise VerificationError("invalid_credential", f"{name} must be a NumericDate")
    return value


#: What parsed JSON gives for a NumericDate, or its absence: these pass without a closer look.
_DATE_TYPES = frozenset({int, float, type(None)})


def check_validity(claims: dict[str, Any], now: int, *, limits: Limits = DEFAULT_LIMITS) -> None:
    """§7.1 step 6 with RFC 7519 §4.1.4/§4.1.5: ``expired`` / ``not_yet_valid`` (an ``iat``
    more than ``limits.clock_skew`` ahead of ``now`` too)."""
    exp, nbf, iat = claims.get("exp"), claims.get("nbf"), claims.get("iat")
    if not _DATE_TYPES.issuperset(map(type, (exp, nbf, iat))):
        exp, nbf, iat = (
            _numeric_date(claims, "exp"),
            _numeric_date(claims, "nbf"),
            _numeric_date(claims, "iat"),
        )
    if exp is not None and now >= exp:
        raise VerificationError("expired", "the credential has expired")
    if nbf is not None and now < nbf:
        raise VerificationError("not_yet_valid", "the credential is not valid yet")
    if iat is not None and iat > now + limits.clock_skew:
        raise VerificationError("not_yet_valid", "the credential was issued in the future")


def _check_signature(parsed: SdJwt, resolve: KeyResolver) -> None:
    # RFC 7515 §7.2.1 leaves it to the application which signatures of a General JWS JSON
    # document must validate ("in some cases, all must"). Here every one must, each under a key
    # the trust policy gives for the issuer: the payload names one issuer, §8.1 takes sd_hash
    # over the first signature and its protected header (typ, kid) is what the verifier reads,
    # so a signature that does not verify is a tampered document (§9.1: reject it).
    for signature in parsed.signatures:
        # 2.3. Validate the Issuer and that the signing key belongs to it (the resolver).
        key = resolve(signature)
        # 2.1/2.2. An allowed algorithm fitting the key (never none), then the signature.
        signature.jws.verify(key)


def verify_sd_jwt(
    parsed: SdJwt,
    resolve: KeyResolver,
    *,
    now: int,
    aud: str,
    nonce: str,
    key_binding: KeyBindingPolicy = REQUIRE_KEY_BINDING,
    limits: Limits = DEFAULT_LIMITS,
) -> VerifiedSdJwt:
    """Verify a parsed presentation (§7.1 and §7.3) and return its processed payload.

    ``parsed`` was read by :func:`parse_sd_jwt`, under the same ``limits`` as a rule; here they
    cap the claims' depth, each Disclosure, the KB-JWT and its age, and the clock skew.
    """
    # 7.3 step 1 is the caller's: key_binding comes from policy, never from the input.
    # 7.3 step 2. Key Binding required but the Holder sent a bare SD-JWT: reject.
    if parsed.kb_jwt is None:
        key_binding.missing()
    # 7.3 step 3 and 7.1 step 1 were done by parse_sd_jwt. 7.3 step 4 is 7.1:
    # 7.1 step 2.1 to 2.3: algorithm, signature, issuer key.
    _check_signature(parsed, resolve)
    # 7.1 step 2.4. _sd_alg understood and secure: only sha-256 (also the default, §4.1.1).
    sd_alg = parsed.payload.get(SD_ALG, SHA_256)
    if sd_alg != SHA_256:
        raise VerificationError("unsupported_algorithm", f"_sd_alg {sd_alg!r} is not sha-256")
    # 7.1 steps 3 to 5: Disclosures, digests, duplicates, unreferenced Disclosures.
    processed = process(parsed.payload, parsed.disclosures, limits=limits)
    # 7.1 step 6. Validity-controlling claims of the processed payload.
    check_validity(processed.claims, now, limits=limits)
    # 7.3 step 5 (also when not required: a KB-JWT that is sent must be valid). The cnf key is
    # only read for that: a credential presented without key binding may carry a key type
    # this verifier does not know.
    holder, kb_claims = None, None
    if parsed.kb_jwt is not None:
        holder = cnf_key(processed.claims)
        if holder is None:
            raise VerificationError("key_binding_failed", "the credential names no holder key")
        kb_claims = verify_key_binding(
            parsed.kb_jwt,
            holder,
            sd_jwt=parsed.sd_jwt,
            aud=aud,
            nonce=nonce,
            now=now,
            limits=limits,
        )
    return VerifiedSdJwt(parsed.header, processed.claims, processed.disclosed, holder, kb_claims)
