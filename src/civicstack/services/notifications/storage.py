"""The storage the notifications service needs (implemented by :mod:`civicstack.stores.events`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from civicstack.events.deliveries import (
    Attempt,
    AttemptResult,
    Delivery,
    DeliveryState,
    Subscription,
)
from civicstack.events.notices import Notice

#: For a notice (and the one endpoint it is meant for, if any): the deliveries to create,
#: ``(delivery id, subscription id, lane, partition, body)``.
FanOutPlan = Callable[[Notice, str | None], Sequence[tuple[str, str, str, int, bytes]]]


class EventStorage(Protocol):
    """Subscriptions, the outbox, deliveries and attempts."""

    def add_subscription(
        self, subscription: Subscription, secrets: dict[str, Any], *, now: int
    ) -> None:
        """Record a subscription and its sealed secrets."""

    def subscription(self, subscription_id: str) -> Subscription | None:
        """One subscription."""

    def subscriptions(self, organisation: str | None = None) -> list[Subscription]:
        """Every subscription (of an organisation)."""

    def keys(self) -> tuple[int, list[tuple[Subscription, dict[str, Any], str | None]]]:
        """Every subscription with its secrets and v1a key, and their version."""

    def keys_version(self) -> int:
        """The version of the subscriptions' keys now."""

    def secrets(self, subscription_id: str) -> dict[str, Any]:
        """A subscription's secrets."""

    def set_secrets(self, subscription_id: str, secrets: dict[str, Any], *, now: int) -> None:
        """Replace a subscription's secrets."""

    def set_signing_key(self, subscription_id: str, key: str, public_key: str, *, now: int) -> None:
        """Set a subscription's v1a key."""

    def disable(self, subscription_id: str, reason: str, *, now: int) -> None:
        """Disable an endpoint."""

    def delete_subscription(self, subscription_id: str) -> None:
        """Delete a subscription."""

    def subscribed(self, event_type: str, only: str | None = None) -> list[Subscription]:
        """Live subscriptions to a type (or one endpoint)."""

    def enqueue(self, notice: Notice, *, only: str | None = None) -> None:
        """A notice and its outbox row, in a transaction of their own."""

    def fan_out(self, plan: FanOutPlan, *, limit: int, now: float) -> int:
        """Outbox rows into deliveries, in one transaction."""

    def claim(
        self,
        *,
        now: float,
        limit: int,
        lease: float,
        states: Sequence[DeliveryState] = ("queued", "retrying"),
        partitions: Iterable[int] | None = None,
    ) -> list[Delivery]:
        """Due deliveries at the head of their lanes, leased."""

    def retrying_lanes(self, partitions: Iterable[int]) -> set[str]:
        """Lanes waiting on a retry."""

    def hold_for_retry(self, seqs: Sequence[int], *, now: float) -> None:
        """Queued deliveries to follow their lane's retry."""

    def record(self, results: Sequence[AttemptResult]) -> None:
        """Attempts and new states, in one transaction."""

    def unpublished(self, limit: int) -> list[Delivery]:
        """Deliveries not yet handed to NATS."""

    def mark_published(self, seqs: Sequence[int]) -> None:
        """Deliveries NATS acknowledged."""

    def deliveries(
        self, *, subscription_ids: Sequence[str], state: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        """Newest deliveries to endpoints."""

    def delivery(self, delivery_id: str) -> Delivery | None:
        """One delivery."""

    def attempts(self, *, subscription_ids: Sequence[str], limit: int = 100) -> list[Attempt]:
        """Newest attempts at endpoints."""

    def replay(self, delivery_ids: Sequence[str], *, now: float) -> int:
        """Dead letters back in line."""

    def state_counts(self) -> dict[str, int]:
        """Deliveries per state."""
