"""Ready-made requests: the right-to-work check, the age check and the identity check.

Each preset asks for the claims :mod:`civicstack.credential_types` names for its check, so a
relying party registered for that check's purpose is never refused as over-asking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from civicstack.credential_types import (
    AGE_CHECK_CLAIMS,
    IDENTITY_CHECK_CLAIMS,
    PID_VCT,
    RIGHT_TO_WORK_CHECK_CLAIMS,
    RIGHT_TO_WORK_VCT,
)
from civicstack.openid4vp import DcqlQuery, query_for


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
            query_for([("right_to_work", RIGHT_TO_WORK_VCT, RIGHT_TO_WORK_CHECK_CLAIMS)]),
        ),
        Preset(
            "age_over_18",
            "Age check: over 18, and nothing else",
            "shop",
            "age_check",
            query_for([("pid", PID_VCT, AGE_CHECK_CLAIMS)]),
        ),
        Preset(
            "identity",
            "Identity check: names, birth date and address",
            "landlord",
            "identity",
            query_for([("pid", PID_VCT, IDENTITY_CHECK_CLAIMS)]),
        ),
    )
}
