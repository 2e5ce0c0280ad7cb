"""The presentation requests a verifier keeps, and when one may still be answered or read.

A verifier that sends requests by reference (OpenID4VP 1.0 §5, RFC 9101 §5.2) keeps each one:
who asked (the relying party and its ``client_id``), for what (purpose, preset, DCQL query),
the ``nonce`` and ``state`` (§5.2, §14.3.2), the signed Request Object, and its outcome. A
request is ``pending`` until a valid answer makes it ``verified``: it is answered once, and not
after it expires (§14.1: a response is bound to one request).

Anyone holding the link can read ``state`` from the Request Object and post to the Response URI
(§8.2), so a response that does not verify, or an Authorization Error Response (§8.5,
``access_denied`` included), cannot end the request: it is recorded as an :class:`Attempt` (when,
its error code, a short description) and the request stays open for the genuine wallet until it
expires. The relying party reads the attempts with the outcome.

The claims a verified request learnt are personal data: they are sealed at rest, handed to the
relying party once and then deleted, or deleted unread after a short retention
(:data:`DEFAULT_RESULT_RETENTION`); the outcome's metadata (status, times, attempts) stays.

:func:`check_answerable`, :func:`result_expired` and :func:`result_gone` are those rules; the
store applies them inside the transaction that writes (the verifier service checks the first
before it verifies an answer, too).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Literal

from civicstack.errors import CivicError

RequestStatus = Literal["pending", "verified", "failed"]
#: ``failed`` is kept for requests failed before failed answers became attempts.
REQUEST_STATUSES: tuple[RequestStatus, ...] = ("pending", "verified", "failed")
#: How long a verified result waits, sealed, for its relying party (seconds) by default.
DEFAULT_RESULT_RETENTION = 600
#: Attempts kept per request (the count goes on; a flood of posts stores no more than this).
MAX_RECORDED_ATTEMPTS = 20
#: The longest attempt description kept: enough to tell what went wrong, no presentation data.
MAX_ATTEMPT_DETAIL = 200


@dataclass(frozen=True, slots=True)
class Attempt:
    """A response that did not complete its request: when, its error code, a short detail."""

    at: int
    code: str
    detail: str


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """One presentation request as the verifier keeps it.

    ``result_kept`` says whether the sealed result of a verified request is still held;
    ``result_fetched_at`` when its relying party took it. ``attempt_count`` counts every failed
    response; ``attempts`` holds the first :data:`MAX_RECORDED_ATTEMPTS` of them.
    """

    id: str
    relying_party: str
    client_id: str
    purpose: str
    preset: str | None
    dcql_query: str
    nonce: str
    state: str
    request_object: str
    created_at: int
    expires_at: int
    status: RequestStatus
    error_code: str | None = None
    error_detail: str | None = None
    answered_at: int | None = None
    result_kept: bool = False
    result_fetched_at: int | None = None
    attempt_count: int = 0
    attempts: tuple[Attempt, ...] = ()


def derive_result_key(master_key: bytes) -> bytes:
    """The key sealing verified results at rest, derived from the platform's master key (as the
    issuer's is) so that the master key itself seals nothing but signing keys."""
    return hmac.new(master_key, b"civicstack/verifier-results/v1", "sha256").digest()


def check_answerable(status: str, expires_at: int, now: int) -> None:
    """Raise ``request_answered`` unless the request is pending, ``expired`` once it expired."""
    if status != "pending":
        raise CivicError("request_answered", "this request has been answered already")
    if now >= expires_at:
        raise CivicError("expired", "the presentation request has expired")


def result_expired(answered_at: int | None, now: int, retention: int) -> bool:
    """Whether a result answered at ``answered_at`` has outlived its ``retention``."""
    return answered_at is None or now >= answered_at + retention


def result_gone(fetched_at: int | None) -> CivicError:
    """Why a verified request's result is no longer held: ``result_fetched`` once it was handed
    over, ``result_purged`` once it was deleted unread (its retention passed)."""
    if fetched_at is not None:
        return CivicError(
            "result_fetched", "the result was fetched once and then deleted; ask the holder again"
        )
    return CivicError(
        "result_purged", "the result was deleted unread after its retention; ask the holder again"
    )


def attempt_detail(text: str) -> str:
    """A description cut to :data:`MAX_ATTEMPT_DETAIL` characters."""
    return text if len(text) <= MAX_ATTEMPT_DETAIL else text[: MAX_ATTEMPT_DETAIL - 1] + "…"
