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
_CLOSED = CircuitBreaker()


@dataclass(frozen=True)
class WorkerOptions:
    """How a worker works: batch sizes, attempts in flight, the lease on claimed rows,
    polling.

    ``concurrency`` bounds the attempts a worker has in flight; it claims again as soon as
    a quarter of them have finished (never waiting for a batch's slowest endpoint), and
    records outcomes in batches of up to ``batch`` while others are in flight."""

    batch: int = 500
    lease: float = 30.0
    poll: float = 0.05
    fan_out_batch: int = 200
    keys_refresh: float = 1.0
    concurrency: int = 512


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
        if material is None:
            # A delivery for a subscription made since the last read (its fan-out committed
            # after it): read again now rather than take it for a deleted endpoint.
            self.refresh(every=0.0)
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
        breaker = self.breakers.get(subscription_id, _CLOSED)
        admitted, admitted_breaker = breaker.admit(now)
        if admitted_breaker is not breaker:
            self.breakers[subscription_id] = breaker = admitted_breaker
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
        before = self.breakers.get(subscription_id, breaker)
        after = before.record(outcome.succeeded, done)
        if after is not before:
            self.breakers[subscription_id] = after
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

    def _fan_out_and_claim(self, limit: int) -> list[Delivery]:
        store = self.notifications.store
        self.notifications.fan_out(limit=self.options.fan_out_batch, now=self.now())
        self.dispatcher.refresh(every=self.options.keys_refresh)
        return store.claim(now=self.now(), limit=limit, lease=self.options.lease)

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set.

        A pipeline: the claimer keeps up to ``concurrency`` attempts in flight, claiming
        again whenever a quarter of the slots are free; each attempt's outcome joins a
        buffer that the recorder writes in one transaction per batch. A claimed delivery's
        lane stays blocked (``inflight``) until its outcome is written, so order within a
        lane holds however many attempts are in flight."""
        self._inflight: set[asyncio.Task[None]] = set()
        self._outcomes: list[AttemptResult] = []
        self._wake_recorder = asyncio.Event()
        self._slots_free = asyncio.Event()
        self._claiming_done = asyncio.Event()
        await asyncio.gather(self._claimer(stop), self._recorder(stop))

    async def _attempt(self, d: Delivery) -> None:
        try:
            result = await self.dispatcher.attempt(
                d.seq, d.id, d.subscription_id, d.body, d.attempts
            )
        except Exception:  # never lose the slot; the lease brings the delivery back
            log.exception("an attempt failed unexpectedly")
            return
        self._outcomes.append(result)
        if len(self._outcomes) >= self.options.batch:
            self._wake_recorder.set()

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._wake_recorder.set()
        if len(self._inflight) <= self.options.concurrency * 3 // 4:
            self._slots_free.set()

    async def _claimer(self, stop: asyncio.Event) -> None:
        options = self.options
        while not stop.is_set():
            room = options.concurrency - len(self._inflight)
            if room < max(1, options.concurrency // 4):
                self._slots_free.clear()
                await _first(stop, self._slots_free, options.poll)
                continue
            try:
                claimed = await asyncio.to_thread(self._fan_out_and_claim, min(room, options.batch))
            except Exception:  # a database hiccup: log, wait, go on
                log.exception("claiming deliveries failed")
                await _wait(stop, 1.0)
                continue
            for d in claimed:
                task = asyncio.create_task(self._attempt(d))
                self._inflight.add(task)
                task.add_done_callback(self._finished)
            if not claimed:
                await _wait(stop, options.poll)
        self._claiming_done.set()

    async def _recorder(self, stop: asyncio.Event) -> None:
        outcomes = self._outcomes
        batch_size = self.options.batch
        while True:
            if not outcomes:
                if self._claiming_done.is_set() and not self._inflight:
                    return
                self._wake_recorder.clear()
                with contextlib.suppress(TimeoutError):  # woken by each finished attempt
                    await asyncio.wait_for(self._wake_recorder.wait(), self.options.poll)
                continue
            batch = outcomes[:batch_size]
            del outcomes[:batch_size]
            try:
                await asyncio.to_thread(self.notifications.store.record, batch)
            except Exception:  # kept: written with the next batch (or taken again later)
                log.exception("recording outcomes failed")
                outcomes[:0] = batch
                await _wait(stop, 1.0)
                if stop.is_set() and self._claiming_done.is_set() and not self._inflight:
                    return
                continue
            self.delivered += sum(1 for r in batch if r.state == "delivered")


async def _first(stop: asyncio.Event, event: asyncio.Event, seconds: float) -> None:
    """Wait until ``event`` or ``stop`` is set, or ``seconds`` pass."""
    if event.is_set() or stop.is_set():
        return
    waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()


async def _wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
