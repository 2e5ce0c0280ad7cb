"""GP registration and switching over the data exchange and the consent service."""

from civicstack.services.gp_registration.service import (
    FAMILY_CATEGORY,
    FAMILY_PURPOSE,
    MAX_RELATIVES,
    PATIENT_RECORD,
    RECORD_CATEGORIES,
    REGISTRATION_PURPOSE,
    GpRegistrations,
    Practice,
    RelativeShared,
)
from civicstack.services.gp_registration.storage import (
    GpStorage,
    PracticeLink,
    Registration,
    RelativeAsked,
)

__all__ = [
    "FAMILY_CATEGORY",
    "FAMILY_PURPOSE",
    "MAX_RELATIVES",
    "PATIENT_RECORD",
    "RECORD_CATEGORIES",
    "REGISTRATION_PURPOSE",
    "GpRegistrations",
    "GpStorage",
    "Practice",
    "PracticeLink",
    "Registration",
    "RelativeAsked",
    "RelativeShared",
]
