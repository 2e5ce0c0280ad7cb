"""Access-log entries for tests: the insurer's released fetch of a DVLA driving record."""

from __future__ import annotations

from civicstack.access import AccessEntry


def insurer_access(n: int) -> AccessEntry:
    """A released access, its time and consent varying with ``n`` (distinct entries)."""
    return AccessEntry(
        time=1_767_225_600 + n,
        requester="insurer",
        provider="dvla",
        service="driving-record",
        purpose="insurance_quote",
        categories=("dpv-pd:VehicleLicense",),
        outcome="released",
        consent=f"consent-{n}",
        consent_version=1,
    )
