"""A wallet's answer: its presentations checked (OpenID4VP 1.0 §8.6), and the outcome read back.

An answer is either an Authorization Error Response (§8.5), recorded as an attempt with the
wallet's error, or a VP Token whose presentations are verified one by one and then as a set
against the request's DCQL query. What a relying party reads is the stored request as a
:class:`VerificationOutcome`: its status, the attempts that failed, and (once) the claims learnt.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from civicstack.credentials import VerifiedCredential, verify_presentation
from civicstack.openid4vp import DcqlQuery
from civicstack.openid4vp.verifier_requests import Attempt, StoredRequest
from civicstack.services.verifier.limits import DEFAULT_LIMITS, Limits
from civicstack.services.verifier.replay import kb_digest
from civicstack.trust import TrustRegistry
from civicstack.types import StatusChecker

#: Wallet errors (§8.5) as the attempt a relying party reads: ``access_denied`` is the holder,
#: or someone else holding the link, declining.
WALLET_ERRORS = {"access_denied": "consent_declined"}


@dataclass(frozen=True, slots=True)
class VerificationOutcome:
    """A request as its relying party reads it: pending, verified (with the claims learnt, the
    one time they are read), expired (nothing valid came in time), or failed (requests failed
    before failed answers became attempts); with the failed attempts, however it ended."""

    id: str
    status: str
    relying_party: str
    purpose: str
    preset: str | None
    created_at: int
    expires_at: int
    answered_at: int | None
    claims: dict[str, Any] = field(default_factory=dict)
    credentials: dict[str, Any] = field(default_factory=dict)
    error: dict[str, str] | None = None
    attempt_count: int = 0
    attempts: tuple[Attempt, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The wire form: ``{"status", "claims", "error", "attempts", ...}``."""
        return {
            "id": self.id,
            "status": self.status,
            "claims": self.claims,
            "credentials": self.credentials,
            "error": self.error,
            "relying_party": self.relying_party,
            "purpose": self.purpose,
            "preset": self.preset,
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "answered_at": self.answered_at,
            "attempt_count": self.attempt_count,
            "attempts": [{"at": a.at, "code": a.code, "detail": a.detail} for a in self.attempts],
        }


def verify_vp_token(
    query: DcqlQuery,
    vp_token: Mapping[str, tuple[str, ...]],
    *,
    registry: TrustRegistry,
    status: StatusChecker,
    client_id: str,
    nonce: str,
    now: int,
    limits: Limits = DEFAULT_LIMITS,
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Verify a VP Token answering ``query``: the credentials by query id, the claims asked
    for, and the Key Binding JWT digests for the replay guard."""
    by_id = query.by_id()
    credentials: dict[str, Any] = {}
    claims: dict[str, Any] = {}
    digests: list[str] = []
    # §8.6 step 1: the format of the VP Token was read strictly; step 3 first for the
    # ids, so an unknown id is refused before any signature work.
    query.check_presented(vp_token)
    for query_id, presentations in vp_token.items():
        wanted = by_id[query_id]
        for presentation in presentations:
            # §8.6 step 2.a, 2.c, 2.d, 2.e: integrity and authenticity, holder binding to
            # this client_id and nonce (§14.1), the chain to the root and status
            verified = verify_presentation(
                presentation,
                trust=registry,
                aud=client_id,
                nonce=nonce,
                now=now,
                status=status,
                max_kb_age=limits.kb_age,
            )
            # §8.6 step 2.b: it answers its Credential Query
            wanted.check(verified.vct, verified.payload)
            credentials.setdefault(query_id, []).append(credential_json(verified))
            asked = {p.split(".")[0] for p in wanted.requested_paths()}
            for name, value in verified.claims.items():
                if name in asked:  # keep only what was asked for
                    claims.setdefault(name, value)
            digests.append(kb_digest(presentation))
    return credentials, claims, digests


def credential_json(verified: VerifiedCredential) -> dict[str, Any]:
    """A verified credential as a relying party reads it."""
    return {
        "iss": verified.iss,
        "vct": verified.vct,
        "claims": verified.claims,
        "disclosed": list(verified.disclosed),
        "exp": verified.exp,
    }


def outcome_of(
    row: StoredRequest, now: int, result: Mapping[str, Any] | None = None
) -> VerificationOutcome:
    """A stored request as its relying party reads it, with ``result`` (the claims and
    credentials learnt) when it was just taken; pending past its expiry reads ``expired``."""
    status: str = row.status
    error = None
    claims: dict[str, Any] = {}
    credentials: dict[str, Any] = {}
    if row.status == "pending" and now >= row.expires_at:
        status = "expired"
        tried = f" after {row.attempt_count} failed attempt(s)" if row.attempt_count else ""
        error = {"code": "expired", "detail": f"the presentation request expired unanswered{tried}"}
    elif row.status == "failed":
        error = {"code": row.error_code or "internal_error", "detail": row.error_detail or ""}
    elif row.status == "verified" and result is not None:
        claims, credentials = dict(result["claims"]), dict(result["credentials"])
    return VerificationOutcome(
        id=row.id,
        status=status,
        relying_party=row.relying_party,
        purpose=row.purpose,
        preset=row.preset,
        created_at=row.created_at,
        expires_at=row.expires_at,
        answered_at=row.answered_at,
        claims=claims,
        credentials=credentials,
        error=error,
        attempt_count=row.attempt_count,
        attempts=row.attempts,
    )
