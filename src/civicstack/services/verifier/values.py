"""What the verifier's API deals in: presets, callers, requests made and their outcomes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from civicstack.credential_types import PID_VCT, RIGHT_TO_WORK_VCT
from civicstack.demo.world import EMPLOYER_CLAIMS, IDENTITY_CLAIMS
from civicstack.errors import CivicError
from civicstack.openid4vp import DcqlQuery, query_for

#: How long a wallet has to answer a request (its Request Object and attestation expire too).
REQUEST_LIFETIME = 600
#: How old a KB-JWT may be (RFC 9901 §7.3 step 5.5 policy), and the clock skew allowed.
MAX_KB_AGE = 300
MAX_SKEW = 60
#: Largest presentation the direct verify endpoint reads.
MAX_PRESENTATION_BYTES = 256 * 1024
#: API keys read ``cvk.<id>.<secret>``.
API_KEY_PREFIX = "cvk"


@dataclass(frozen=True, slots=True)
class Preset:
    """A ready-made request: its purpose, the relying party that usually makes it, the query."""

    name: str
    description: str
    relying_party: str
    purpose: str
    query: DcqlQuery

    def to_json(self) -> dict[str, Any]:
        """The wire form."""
        return {
            "name": self.name,
            "description": self.description,
            "relying_party": self.relying_party,
            "purpose": self.purpose,
            "dcql_query": self.query.to_json(),
        }


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "right_to_work",
            "Right-to-work check: name, the right to work and until when",
            "employer",
            "right_to_work",
            query_for([("right_to_work", RIGHT_TO_WORK_VCT, EMPLOYER_CLAIMS)]),
        ),
        Preset(
            "age_over_18",
            "Age check: over 18, and nothing else",
            "shop",
            "age_check",
            query_for([("pid", PID_VCT, ("age_over_18",))]),
        ),
        Preset(
            "identity",
            "Identity check: names, birth date and address",
            "landlord",
            "identity",
            query_for([("pid", PID_VCT, IDENTITY_CLAIMS)]),
        ),
    )
}


@dataclass(frozen=True, slots=True)
class Caller:
    """Who calls the relying-party API: the admin (acting for any relying party) or one
    relying party through its API key."""

    relying_party: str | None  # None: the admin

    def acting_for(self, named: str | None) -> str | None:
        """The relying party this call acts for (``forbidden`` for another one's key)."""
        if self.relying_party is None:
            return named
        if named is not None and named != self.relying_party:
            raise CivicError("forbidden", "an API key acts only for its own relying party")
        return self.relying_party


@dataclass(frozen=True, slots=True)
class CreatedRequest:
    """A request just made: what the relying party shows the holder (as a link or QR code)."""

    id: str
    request: str  # openid4vp://?client_id=...&request_uri=...
    client_id: str
    request_uri: str
    relying_party: str
    purpose: str
    preset: str | None
    expires_at: int

    def to_json(self) -> dict[str, Any]:
        """The wire form."""
        return {
            "id": self.id,
            "request": self.request,
            "client_id": self.client_id,
            "request_uri": self.request_uri,
            "relying_party": self.relying_party,
            "purpose": self.purpose,
            "preset": self.preset,
            "expires_at": self.expires_at,
        }


@dataclass(frozen=True, slots=True)
class Outcome:
    """A request as its relying party reads it."""

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

    def to_json(self) -> dict[str, Any]:
        """The wire form: ``{"status", "claims", "error", ...}``."""
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
        }
