"""Tell us once: change reports (:mod:`.service`) and the electoral roll (:mod:`.electoral`)."""

from civicstack.services.changes.electoral import ElectoralRoll
from civicstack.services.changes.service import (
    EXCHANGE_FETCH,
    PID_CLAIMS,
    VALUE_SERVICES,
    ChangeLimits,
    Changes,
    ReportStatus,
)
from civicstack.services.changes.storage import ChangeStorage

__all__ = [
    "EXCHANGE_FETCH",
    "PID_CLAIMS",
    "VALUE_SERVICES",
    "ChangeLimits",
    "ChangeStorage",
    "Changes",
    "ElectoralRoll",
    "ReportStatus",
]
