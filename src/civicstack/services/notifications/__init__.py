"""Tell-us-once notifications: subscriptions, the transactional outbox, delivery workers.

See :mod:`.service` (use cases), :mod:`.audience` (the consent seam), :mod:`.worker` (the
embedded engine), :mod:`.nats_engine` (JetStream at scale) and :mod:`.sender` (the HTTP client).
"""

from civicstack.services.notifications.audience import (
    AnyOf,
    ConsentedAudience,
    EventAudience,
    EventConsents,
    NoConsents,
)
from civicstack.services.notifications.service import (
    ROTATION_OVERLAP,
    Notifications,
    SigningMaterial,
    new_id,
)
from civicstack.services.notifications.storage import EventStorage

__all__ = [
    "ROTATION_OVERLAP",
    "AnyOf",
    "ConsentedAudience",
    "EventAudience",
    "EventConsents",
    "EventStorage",
    "NoConsents",
    "Notifications",
    "SigningMaterial",
    "new_id",
]
