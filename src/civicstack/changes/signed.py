"""The signed change report: a JWS typed ``civicstack-change+jwt`` (RFC 7515, RFC 8725 §3.11).

Two signers, one type, two shapes of payload:

* **the citizen's wallet** signs with the key its PID is bound to (``cnf``, RFC 7800), in the
  same moment as it presents that PID to the change service with a nonce the service handed out
  — exactly as a consent answer is bound (:mod:`civicstack.consent.signed`). Payload:
  ``{"aud", "nonce", "iat", "change"}`` (:func:`citizen_claims`);
* **a registrar** (an authority the trust registry accredits for ``urn:civicstack:change:<kind>``)
  signs births and deaths with its accredited key, named by the header's ``kid``. Payload:
  ``{"iss", "iat", "jti", "vct", "change"}`` (:func:`registrar_claims`).

Verification (:func:`read_change`): 1. size cap and compact form; 2. ``typ``; 3. signature with
the key the caller resolved (allowlisted algorithms); 4. the payload has exactly the shape's
members, and the change parses (:func:`civicstack.changes.reports.parse_change`); 5. ``iat``
within the freshness window. The caller checks what the payload binds (nonce, audience,
issuer's scope) against what it expects.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from civicstack._crypto import CompactJWS, PublicKey, parse_compact
from civicstack.changes.reports import Change, change_vct, parse_change
from civicstack.errors import InputError, VerificationError

__all__ = [
    "CHANGE_TYP",
    "SignedChange",
    "citizen_claims",
    "read_change",
    "registrar_claims",
    "unverified_header",
]

CHANGE_TYP: Final = "civicstack-change+jwt"
_CITIZEN_MEMBERS: Final = frozenset({"aud", "nonce", "iat", "change"})
_REGISTRAR_MEMBERS: Final = frozenset({"iss", "iat", "jti", "vct", "change"})
#: How far a signature's ``iat`` may lie in the future (clock skew).
_SKEW: Final = 60


def citizen_claims(change: Change, *, aud: str, nonce: str, iat: int) -> dict[str, Any]:
    """The payload a wallet signs to report ``change``."""
    return {"aud": aud, "nonce": nonce, "iat": iat, "change": change.to_json()}


def registrar_claims(change: Change, *, iss: str, jti: str, iat: int) -> dict[str, Any]:
    """The payload a registrar signs to register ``change`` (a birth or a death)."""
    return {
        "iss": iss,
        "iat": iat,
        "jti": jti,
        "vct": change_vct(change.kind),
        "change": change.to_json(),
    }


@dataclass(frozen=True)
class SignedChange:
    """A verified change report: the change and the payload that carried it."""

    change: Change
    payload: Mapping[str, Any]


def _parse(token: object, max_bytes: int) -> CompactJWS:
    # 1. the compact form, capped
    if not isinstance(token, str) or not token:
        raise VerificationError("invalid_change", "the change report is a compact JWS")
    if len(token) > max_bytes:
        raise InputError("too_large", f"a change report is at most {max_bytes} bytes")
    try:
        jws = parse_compact(token, max_bytes=max_bytes)
    except InputError as exc:
        raise VerificationError("invalid_change", f"not a compact JWS: {exc.detail}") from exc
    # 2. its type
    if jws.header.get("typ") != CHANGE_TYP:
        raise VerificationError("invalid_change", f"the JWS is not typed {CHANGE_TYP}")
    return jws


def unverified_header(token: object, *, max_bytes: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and payload of a change report before its signature is checked, to find the
    key (a registrar's ``iss`` and ``kid``). Nothing read here is trusted until
    :func:`read_change` verified the signature."""
    jws = _parse(token, max_bytes)
    try:
        return dict(jws.header), jws.payload_json()
    except InputError as exc:
        raise VerificationError("invalid_change", "the payload is not a JSON object") from exc


def read_change(
    token: object,
    key: PublicKey,
    *,
    registrar: bool,
    now: int,
    max_age: int,
    max_bytes: int,
    expect: Callable[[Mapping[str, Any]], None] = lambda _: None,
) -> SignedChange:
    """The verified report (steps in the module docstring); ``registrar`` selects the payload's
    shape, ``expect`` checks what it binds. Raises ``invalid_change``, ``invalid_signature``
    or ``too_large``."""
    jws = _parse(token, max_bytes)
    # 3. signed by the key the caller resolved
    jws.verify(key)
    try:
        payload = jws.payload_json()
    except InputError as exc:
        raise VerificationError("invalid_change", "the payload is not a JSON object") from exc
    # 4. exactly the shape's members, and a change that parses
    members = _REGISTRAR_MEMBERS if registrar else _CITIZEN_MEMBERS
    if set(payload) != members:
        raise VerificationError(
            "invalid_change", f"the payload has exactly {', '.join(sorted(members))}"
        )
    change = parse_change(payload["change"])
    if registrar and payload["vct"] != change_vct(change.kind):
        raise VerificationError("invalid_change", "vct does not name the change's kind")
    expect(payload)
    # 5. fresh
    iat = payload.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool) or not now - max_age <= iat <= now + _SKEW:
        raise VerificationError("invalid_change", "the change report is stale or from the future")
    return SignedChange(change, payload)
