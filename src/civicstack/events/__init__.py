"""Tell-us-once events: CloudEvents 1.0 envelopes, Standard Webhooks signatures, the delivery
policy (retries, 410, 429, circuit breaker, dead letters) and notices rendered per organisation.

Pure: no HTTP, SQL or clock of its own. The delivery machinery (outbox, workers, NATS) lives in
:mod:`civicstack.services.notifications` and :mod:`civicstack.stores.events`.
"""

from civicstack.events.cloudevents import MEDIA_TYPE, NO_DATA, CloudEvent, encode, parse
from civicstack.events.delivery import (
    DEFAULT_SCHEDULE,
    DEFAULT_SCHEDULE_TEXT,
    CircuitBreaker,
    Decision,
    Outcome,
    RetrySchedule,
    decide,
    parse_retry_after,
)
from civicstack.events.notices import (
    EVENT_TYPES,
    TEST_EVENT_TYPE,
    Audience,
    Notice,
    check_event_type,
    render,
)
from civicstack.events.webhooks import PublicKey, SigningKey, WebhookSecret, sign, verify

__all__ = [
    "DEFAULT_SCHEDULE",
    "DEFAULT_SCHEDULE_TEXT",
    "EVENT_TYPES",
    "MEDIA_TYPE",
    "NO_DATA",
    "TEST_EVENT_TYPE",
    "Audience",
    "CircuitBreaker",
    "CloudEvent",
    "Decision",
    "Notice",
    "Outcome",
    "PublicKey",
    "RetrySchedule",
    "SigningKey",
    "WebhookSecret",
    "check_event_type",
    "decide",
    "encode",
    "parse",
    "parse_retry_after",
    "render",
    "sign",
    "verify",
]
