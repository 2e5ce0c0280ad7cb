"""Helpers for the events tests: a local sink, running a delivery engine until a condition."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from civicstack.events import RetrySchedule
from civicstack.platform import Platform
from civicstack.services.notifications.sender import WebhookClient
from civicstack.services.notifications.worker import Dispatcher, EmbeddedWorker, WorkerOptions


def deliver_until(
    platform: Platform,
    done: Callable[[], bool],
    *,
    timeout: float = 15.0,
    keys_refresh: float = 0,
    before: Callable[[], None] | None = None,
) -> None:
    """Run the embedded engine until ``done()`` holds (or fail after ``timeout``); ``before``
    runs once the worker has read its subscriptions."""

    async def main() -> None:
        client = WebhookClient(allow_private=True, timeout=5.0)
        dispatcher = Dispatcher(
            platform.notifications,
            client,
            schedule=RetrySchedule.parse(platform.settings.events_retry_schedule),
        )
        worker = EmbeddedWorker(
            platform.notifications,
            dispatcher,
            options=WorkerOptions(poll=0.01, keys_refresh=keys_refresh),
        )
        stop = asyncio.Event()
        task = asyncio.create_task(worker.run(stop))
        if before is not None:
            await asyncio.sleep(0.1)
            before()
        deadline = time.monotonic() + timeout
        try:
            while not done():
                assert time.monotonic() < deadline, "the deliveries did not happen in time"
                assert not task.done(), task.exception()
                await asyncio.sleep(0.02)
        finally:
            stop.set()
            await task
            await client.close()

    asyncio.run(main())
