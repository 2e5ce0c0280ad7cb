"""How long citizens' proof documents are kept: the retention schedule.

Proof documents are personal data, kept only as long as the review needs them (UK GDPR Art.
5(1)(e), storage limitation). The schedule, counted on the platform's clock:

* an application decided (approved or rejected, by an officer or by the automatic checks):
  its documents' files are deleted ``decided_days`` after the decision (default 30, the time a
  deferred credential stays collectable, long enough for a complaint about the decision);
* an application abandoned, still pending ``abandoned_days`` after it was submitted with no
  decision (default 90): its documents' files are deleted then. The application stays pending;
  an officer can still decide it, from the claims and findings.

Either way the application keeps its documents' SHA-256 hashes, sizes and types and records
when the files were deleted (``documents_expired_at``), which the officers' desk shows; asking
for such a document answers ``documents_expired`` (410). A file is deleted only when no
application whose documents are still kept refers to the same bytes.

The sweeper (:class:`civicstack.services.review.Sweeper`) applies the schedule periodically
while ``civic up`` runs.
"""

from __future__ import annotations

from dataclasses import dataclass

from civicstack.errors import InputError

DAY = 86_400


@dataclass(frozen=True, slots=True)
class RetentionSchedule:
    """Days the documents of decided and of abandoned applications are kept."""

    decided_days: int = 30
    abandoned_days: int = 90

    def __post_init__(self) -> None:
        if self.decided_days < 0 or self.abandoned_days < 1:
            raise InputError(
                "invalid_request", "retention is >= 0 days after a decision, >= 1 day pending"
            )

    def decided_before(self, now: int) -> int:
        """Applications decided before this time have their documents deleted."""
        return now - self.decided_days * DAY

    def submitted_before(self, now: int) -> int:
        """Pending applications submitted before this time are abandoned: their documents are
        deleted."""
        return now - self.abandoned_days * DAY
