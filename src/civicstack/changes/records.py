"""The change service's records: a published report, its progress, a roll change, a birth.

Values a service and its store both build (the store keeps them, the service decides), kept
beside the rules about them (:mod:`.electoral`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from civicstack.changes.electoral import Placement, Reason

__all__ = ["Birth", "ChangedValue", "ReportProgress", "RollChange", "StoredReport"]


@dataclass(frozen=True)
class StoredReport:
    """A published change report, as kept."""

    id: str
    kind: str
    signer: str
    jti: str | None
    event_id: str
    event_type: str
    signed: str
    presentation: str | None
    created_at: int


@dataclass(frozen=True)
class ChangedValue:
    """The new value a report sets, kept for the exchange: what a thin event's link fetches.

    ``subject`` is the change service's own pairwise id of the citizen (the sector
    :data:`civicstack.changes.PROVIDER`), as the exchange resolves it from a consent;
    ``category`` the report's DPV-PD category; ``value`` the event's value."""

    subject: str
    category: str
    value: Mapping[str, Any]


@dataclass(frozen=True)
class ReportProgress:
    """How far a report's event has gone: fanned out yet, and its deliveries by state."""

    fanned_out: bool
    deliveries: dict[str, int]


@dataclass(frozen=True)
class RollChange:
    """Where a change places a citizen, for the roll (decided in the report's transaction)."""

    placement: Placement
    reason: Reason
    adult: bool | None = None  # None: a registered birth decides (no birth: not known adult)


@dataclass(frozen=True)
class Birth:
    """A registered birth, for the check at 18."""

    elector: str
    country: str
    number: str
    birthdate: str
    adult_at: int
    uprn: str | None
