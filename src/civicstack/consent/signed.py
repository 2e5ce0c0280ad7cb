"""The signed consent: the citizen's decision as a JWS their wallet signs (RFC 7515, RFC 8725).

The wallet signs with the key its PID is bound to (the SD-JWT VC's ``cnf``, RFC 7800), in the
same moment as it presents that PID to the consent service with a nonce the service handed out
(SD-JWT VC + KB-JWT, RFC 9901 §4.3, disclosing only ``personal_administrative_number`` and
``issuing_country``). Anyone holding the record and the presentation can check the binding:
the presentation's ``cnf`` key verifies the consent JWS, and both carry the same nonce.

Two explicit types (RFC 8725 §3.11), so that neither is ever taken for the other or for any
other JWT the wallet signs:

* ``civicstack-consent+jwt``: the answer to a consent request, every field of the request
  repeated so that the citizen signs exactly what the screen showed (:func:`consent_claims`);
* ``civicstack-consent-withdrawal+jwt``: the withdrawal of one version of a consent
  (:func:`withdrawal_claims`).

Verification (:func:`read_signed`): 1. size cap and compact form; 2. ``typ``; 3. signature with
the bound key (allowlisted algorithms); 4. the payload equals the expected claims; 5. ``iat``
within the freshness window.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from civicstack._crypto import PublicKey, parse_compact
from civicstack.consent.records import ConsentRecord, ConsentRequest, Decision
from civicstack.errors import InputError, VerificationError

__all__ = [
    "CONSENT_TYP",
    "WITHDRAWAL_TYP",
    "consent_claims",
    "read_signed",
    "withdrawal_claims",
]

CONSENT_TYP = "civicstack-consent+jwt"
WITHDRAWAL_TYP = "civicstack-consent-withdrawal+jwt"
#: How far a signature's ``iat`` may lie in the future (clock skew).
_SKEW = 60


def consent_claims(
    request: ConsentRequest, decision: Decision, *, aud: str, nonce: str, iat: int
) -> dict[str, Any]:
    """The payload of the citizen's answer to ``request``."""
    return {
        "aud": aud,
        "nonce": nonce,
        "iat": iat,
        "decision": decision,
        "consent_request": request.id,
        "requester": request.requester,
        "provider": request.provider,
        "subject": request.subject,
        "purpose": request.purpose,
        "dpv_purpose": request.dpv_purpose,
        "categories": list(request.categories),
        "frequency": "once" if request.once else "until_withdrawn",
        "valid_days": request.valid_days,
    }


def withdrawal_claims(record: ConsentRecord, *, aud: str, iat: int) -> dict[str, Any]:
    """The payload of the withdrawal of ``record`` (its current version)."""
    return {
        "aud": aud,
        "iat": iat,
        "decision": "withdrawn",
        "consent": record.id,
        "version": record.version,
        "requester": record.requester,
        "provider": record.provider,
    }


def read_signed(
    token: object,
    key: PublicKey,
    *,
    typ: str,
    expected: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    now: int,
    max_age: int,
    max_bytes: int,
) -> dict[str, Any]:
    """The verified payload of a signed consent or withdrawal (steps in the module docstring);
    ``expected`` builds the claims the payload must equal from the payload itself (its ``iat``,
    ``decision``). Raises ``invalid_consent``, ``invalid_signature`` or ``too_large``."""
    # 1. the compact form, capped
    if not isinstance(token, str) or not token:
        raise VerificationError("invalid_consent", "the signed consent is a compact JWS")
    if len(token) > max_bytes:
        raise InputError("too_large", f"a signed consent is at most {max_bytes} bytes")
    try:
        jws = parse_compact(token, max_bytes=max_bytes)
    except InputError as exc:
        raise VerificationError("invalid_consent", f"not a compact JWS: {exc.detail}") from exc
    # 2. its type
    if jws.header.get("typ") != typ:
        raise VerificationError("invalid_consent", f"the JWS is not typed {typ}")
    # 3. signed by the bound key
    jws.verify(key)
    try:
        payload = jws.payload_json()
    except InputError as exc:
        raise VerificationError("invalid_consent", "the payload is not a JSON object") from exc
    # 4. exactly what was asked
    if payload != dict(expected(payload)):
        raise VerificationError(
            "invalid_consent", "the signed consent does not match what it answers"
        )
    # 5. fresh
    iat = payload.get("iat")
    if not isinstance(iat, int) or isinstance(iat, bool) or not now - max_age <= iat <= now + _SKEW:
        raise VerificationError("invalid_consent", "the signed consent is stale or from the future")
    return payload
