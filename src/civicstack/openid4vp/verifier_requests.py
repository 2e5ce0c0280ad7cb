"""The presentation requests a verifier keeps, and when one may still be answered.

A verifier that sends requests by reference (OpenID4VP 1.0 §5, RFC 9101 §5.2) keeps each one:
who asked (the relying party and its ``client_id``), for what (purpose, preset, DCQL query),
the ``nonce`` and ``state`` (§5.2, §14.3.2), the signed Request Object, and its outcome. A
request is ``pending`` until answered, then ``verified`` or ``failed``: it is answered once,
and not after it expires (§14.1: a response is bound to one request).

:func:`check_answerable` is that rule; the verifier service checks it before verifying an answer,
and the store checks it again inside the transaction that writes the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from civicstack.errors import CivicError

RequestStatus = Literal["pending", "verified", "failed"]
REQUEST_STATUSES: tuple[RequestStatus, ...] = ("pending", "verified", "failed")


@dataclass(frozen=True, slots=True)
class StoredRequest:
    """One presentation request as the verifier keeps it (``result`` is the JSON of the claims
    and credentials learnt, once verified)."""

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
    result: str | None = None
    error_code: str | None = None
    error_detail: str | None = None
    answered_at: int | None = None


def check_answerable(status: str, expires_at: int, now: int) -> None:
    """Raise ``request_answered`` unless the request is pending, ``expired`` once it expired."""
    if status != "pending":
        raise CivicError("request_answered", "this request has been answered already")
    if now >= expires_at:
        raise CivicError("expired", "the presentation request has expired")
