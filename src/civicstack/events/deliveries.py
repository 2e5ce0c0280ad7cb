"""Subscriptions, deliveries and attempts as values, and the lanes that keep them in order.

A *delivery* is one event for one endpoint: its id is the ``webhook-id`` (Standard Webhooks
§"Webhook metadata": the same on every retry and every duplicate), its body the rendered
CloudEvent, fixed at fan-out so that a retry or a duplicate carries the very same bytes.

Order: deliveries of the same subject to the same endpoint form a *lane* and are attempted one
at a time in the order their events were published; a lane maps to one of
:data:`PARTITIONS` partitions (a stable hash), and one worker at a time owns a partition.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Final, Literal

PARTITIONS: Final = 16

DeliveryState = Literal["queued", "retrying", "inflight", "delivered", "dead", "disabled"]
#: States in which a delivery still waits to be made (and holds its lane).
OPEN_STATES: Final = ("queued", "retrying", "inflight")


def lane_of(subscription_id: str, subject: str | None) -> str:
    """The ordering lane of a subject at an endpoint (events about no subject: the endpoint)."""
    return f"{subscription_id}/{subject or '-'}"


def partition_of(lane: str, partitions: int = PARTITIONS) -> int:
    """A lane's partition: CRC-32 of its name modulo the partition count (stable everywhere)."""
    return zlib.crc32(lane.encode()) % partitions


@dataclass(frozen=True)
class Subscription:
    """An organisation's endpoint and the event types it wants (no secrets in here)."""

    id: str
    organisation: str
    url: str
    types: tuple[str, ...]
    created_at: int
    public_key: str | None = None
    disabled_at: int | None = None
    disabled_reason: str | None = None
    secret_rotated_at: int | None = None

    def to_json(self) -> dict[str, object]:
        """The subscription as its organisation sees it."""
        return {
            "id": self.id,
            "organisation": self.organisation,
            "url": self.url,
            "types": list(self.types),
            "created_at": self.created_at,
            "metadata": {"v1a_public_key": self.public_key},
            "disabled_at": self.disabled_at,
            "disabled_reason": self.disabled_reason,
        }


@dataclass(frozen=True)
class Delivery:
    """One event for one endpoint, as stored."""

    seq: int
    id: str
    event_id: str
    event_type: str
    subscription_id: str
    lane: str
    partition: int
    body: bytes
    state: DeliveryState
    attempts: int
    next_at: float
    created_at: float
    delivered_at: float | None = None
    last_status: int | None = None
    last_error: str | None = None

    def summary(self) -> dict[str, object]:
        """The delivery as its organisation sees it (without the body)."""
        return {
            "id": self.id,
            "event_id": self.event_id,
            "type": self.event_type,
            "subscription_id": self.subscription_id,
            "state": self.state,
            "attempts": self.attempts,
            "next_at": self.next_at,
            "created_at": self.created_at,
            "delivered_at": self.delivered_at,
            "last_status": self.last_status,
            "last_error": self.last_error,
        }


@dataclass(frozen=True)
class Attempt:
    """One attempt to deliver: when, what came back, how long it took."""

    delivery_id: str
    subscription_id: str
    number: int
    at: float
    status: int | None
    error: str
    duration_ms: int

    def to_json(self) -> dict[str, object]:
        """The attempt as its organisation sees it."""
        return {
            "delivery_id": self.delivery_id,
            "subscription_id": self.subscription_id,
            "number": self.number,
            "at": self.at,
            "status": self.status,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }


@dataclass(frozen=True)
class AttemptResult:
    """What a worker reports after an attempt, for the store to write: the attempt, and the
    delivery's new state (``retrying`` with ``next_at``, ``delivered``, ``dead``,
    ``disabled``), or ``held`` when the circuit breaker held it back without an attempt."""

    seq: int
    delivery_id: str
    subscription_id: str
    state: DeliveryState
    next_at: float
    at: float
    status: int | None
    error: str
    duration_ms: int
    attempted: bool = True
