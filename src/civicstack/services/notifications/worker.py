"""Delivery workers: the dispatcher every engine shares, and the embedded engine over the
database outbox.

:class:`Dispatcher` makes one attempt: signs the stored body for this attempt (Standard
Webhooks: ``webhook-id`` = the delivery id, a fresh ``webhook-timestamp``, ``v1`` signatures
by the current and, during a rotation, the previous secret, and ``v1a`` when the endpoint has
a key), asks the endpoint's :class:`~civicstack.events.delivery.CircuitBreaker`, POSTs, and
applies :func:`~civicstack.events.delivery.decide` (retry with jittered backoff, ``410``
disables the endpoint, ``429`` honours ``Retry-After``, dead letter after the last attempt).

:class:`EmbeddedWorker` is the default engine (``civic up`` runs one in-process; ``civic
worker`` runs more): it fans the outbox out, claims due deliveries at the head of their lanes
with a lease, delivers them concurrently, and records the outcomes in batches. A worker killed
mid-delivery leaves leased rows that another worker (or itself, restarted) takes again once
the lease expires: every delivery is made at least once, duplicates share their
``webhook-id``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from civicstack.events.deliveries import AttemptResult, Delivery
from civicstack.events.delivery import DEFAULT_SCHEDULE, CircuitBreaker, RetrySchedule, decide
from civicstack.events.endpoints import EndpointUrl, parse_endpoint_url
from civicstack.events.webhooks import sign
from civicstack.services.notifications.sender import WebhookClient
from civicstack.services.notifications.service import Notifications, SigningMaterial

log = logging.getLogger("civicstack.events")


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker works: batch sizes, the lease on claimed rows, polling."""

    batch: int = 500
    lease: float = 30.0
    poll: float = 0.05
    fan_out_batch: int = 200
    keys_refresh: float = 1.0


class Dispatcher:
    """One attempt at a time per call; any number concurrently."""

    def __init__(
        self,
        notifications: Notifications,
        client: WebhookClient,
        *,
        schedule: RetrySchedule = DEFAULT_SCHEDULE,
        rng: random.Random | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.notifications = notifications
        self.client = client
        self.schedule = schedule
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self.now = now
        self.breakers: dict[str, CircuitBreaker] = {}
        self._material: dict[str, SigningMaterial] = {}
        self._endpoints: dict[str, EndpointUrl] = {}
        self._version = -1
        self._checked = 0.0

    def refresh(self, *, every: float = 1.0) -> None:
        """Re-read the subscriptions' keys if they changed (at most every ``every`` seconds)."""
        mono = time.monotonic()
        if mono - self._checked < every and self._version >= 0:
            return
        self._checked = mono
        if self.notifications.store.keys_version() == self._version:
            return
        self._version, self._material = self.notifications.signing_material()
        self._endpoints = {
            sid: parse_endpoint_url(m.subscription.url) for sid, m in self._material.items()
        }

    async def attempt(
        self, seq: int, delivery_id: str, subscription_id: str, body: bytes, attempts: int
    ) -> AttemptResult:
        """Make one attempt at a delivery (``attempts``: how many were made before)."""
        now = self.now()
        material = self._material.get(subscription_id)
        if material is None or material.subscription.disabled_at is not None:
            return AttemptResult(
                seq,
                delivery_id,
                subscription_id,
                "disabled",
                now,
                now,
                None,
                "endpoint disabled or deleted",
                0,
                attempted=False,
            )
        breaker = self.breakers.get(subscription_id, CircuitBreaker())
        admitted, breaker = breaker.admit(now)
        self.breakers[subscription_id] = breaker
        if not admitted:
            return AttemptResult(
                seq,
                delivery_id,
                subscription_id,
                "retrying",
                breaker.retry_at(now),
                now,
                None,
                "circuit open",
                0,
                attempted=False,
            )
        headers = sign(delivery_id, int(now), body, secrets=material.secrets, keys=material.keys)
        outcome, took = await self.client.post(self._endpoints[subscription_id], headers, body)
        done = self.now()
        self.breakers[subscription_id] = self.breakers.get(subscription_id, breaker).record(
            outcome.succeeded, done
        )
        decision = decide(
            outcome, attempts_made=attempts + 1, now=done, schedule=self.schedule, rng=self.rng
        )
        if decision.verdict == "disabled":
            self.notifications.disable(subscription_id, "410 Gone")
            self._version = -1
        state = "retrying" if decision.verdict == "retry" else decision.verdict
        error = outcome.error or ("" if outcome.succeeded else f"HTTP {outcome.status}")
        return AttemptResult(
            seq,
            delivery_id,
            subscription_id,
            state,
            decision.next_at or done,
            done,
            outcome.status,
            error,
            int(took * 1000),
        )

    async def deliver(self, deliveries: Sequence[Delivery]) -> list[AttemptResult]:
        """Attempt each delivery (distinct lanes) concurrently."""
        return list(
            await asyncio.gather(
                *(
                    self.attempt(d.seq, d.id, d.subscription_id, d.body, d.attempts)
                    for d in deliveries
                )
            )
        )


class EmbeddedWorker:
    """The embedded engine: the database outbox, claimed and delivered in-process."""

    def __init__(
        self,
        notifications: Notifications,
        dispatcher: Dispatcher,
        *,
        options: WorkerOptions = WorkerOptions(),
        now: Callable[[], float] = time.time,
    ) -> None:
        self.notifications = notifications
        self.dispatcher = dispatcher
        self.options = options
        self.now = now
        self.delivered = 0

    def _fan_out_and_claim(self) -> list[Delivery]:
        store = self.notifications.store
        self.notifications.fan_out(limit=self.options.fan_out_batch, now=self.now())
        self.dispatcher.refresh(every=self.options.keys_refresh)
        return store.claim(now=self.now(), limit=self.options.batch, lease=self.options.lease)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set."""
        store = self.notifications.store
        pending: asyncio.Task[None] | None = None
        while not stop.is_set():
            try:
                claimed = await asyncio.to_thread(self._fan_out_and_claim)
            except Exception:  # a database hiccup: log, wait, go on
                log.exception("claiming deliveries failed")
                await asyncio.sleep(1.0)
                continue
            if not claimed:
                await _wait(stop, self.options.poll)
                continue
            results = await self.dispatcher.deliver(claimed)
            self.delivered += sum(1 for r in results if r.state == "delivered")
            # Record the previous batch's results while this one is sent: one write at a time.
            if pending is not None:
                await pending
            pending = asyncio.create_task(asyncio.to_thread(store.record, results))
            await pending
            pending = None
        if pending is not None:
            await pending


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
