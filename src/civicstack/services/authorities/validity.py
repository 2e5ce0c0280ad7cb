"""How long what the authorities sign stays valid: accreditations, registrations, credentials."""

from __future__ import annotations

from civicstack.errors import InputError

DAY = 86_400
DEFAULT_VALIDITY_DAYS = 365
MAX_VALIDITY_DAYS = 20 * 366


def validity_seconds(days: int) -> int:
    """``days`` (1 to :data:`MAX_VALIDITY_DAYS`) in seconds; ``invalid_request`` otherwise."""
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_VALIDITY_DAYS:
        raise InputError("invalid_request", f"validity is 1 to {MAX_VALIDITY_DAYS} days")
    return days * DAY
