"""``civic worker``: webhook delivery workers (the embedded engine, or NATS JetStream with
``CIVIC_EVENTS_URL``). ``civic up`` runs one embedded worker in-process when no
``CIVIC_EVENTS_URL`` is set (:func:`start_in_process`)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from typing import Annotated

import typer

from civicstack.cli._output import console
from civicstack.events.delivery import RetrySchedule
from civicstack.platform import Platform
from civicstack.settings import Settings

app = typer.Typer()


async def run_worker(
    platform: Platform,
    stop: asyncio.Event,
    *,
    engine: str | None = None,
    relay: bool = True,
    lease: float = 30.0,
) -> None:
    """Deliver webhooks for ``platform`` until ``stop`` is set."""
    from civicstack.services.notifications.sender import WebhookClient
    from civicstack.services.notifications.worker import (
        Dispatcher,
        EmbeddedWorker,
        WorkerOptions,
    )

    settings = platform.settings
    client = WebhookClient(allow_private=settings.events_allow_private)
    dispatcher = Dispatcher(
        platform.notifications,
        client,
        schedule=RetrySchedule.parse(settings.events_retry_schedule),
    )
    try:
        url = settings.events_url if engine != "embedded" else None
        if url:
            from civicstack.services.notifications.nats_engine import Names, NatsEngine

            await NatsEngine(
                platform.notifications,
                dispatcher,
                url,
                relay=relay,
                names=Names(settings.events_namespace),
                options=WorkerOptions(lease=lease),
            ).run(stop)
        else:
            await EmbeddedWorker(
                platform.notifications, dispatcher, options=WorkerOptions(lease=lease)
            ).run(stop)
    finally:
        await client.close()


@app.command("worker")
def worker(
    embedded: Annotated[
        bool,
        typer.Option(
            "--embedded", help="Use the database outbox even when CIVIC_EVENTS_URL is set."
        ),
    ] = False,
    lease: Annotated[
        float,
        typer.Option(
            min=1.0,
            max=3600.0,
            help="Seconds a claimed delivery stays with this worker (embedded engine; "
            "then another worker takes it again).",
        ),
    ] = 30.0,
) -> None:
    """Deliver webhooks (tell us once): any number of these may run side by side."""
    settings = Settings.from_env()
    platform = Platform(settings)
    platform.migrate()
    engine = "embedded" if embedded or not settings.events_url else "nats"
    console.print(f"civic worker: {engine} engine, database {settings.database_url.split('@')[-1]}")

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(platform, stop, engine=engine, lease=lease)

    try:
        asyncio.run(main())
    finally:
        platform.close()


class InProcessWorker:
    """The embedded worker on a thread of ``civic up``'s process."""

    def __init__(self, settings: Settings) -> None:
        self.platform = Platform(settings)
        self.loop = asyncio.new_event_loop()
        self.stop_event: asyncio.Event | None = None
        self.thread = threading.Thread(target=self._run, name="civic-events", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main() -> None:
            self.stop_event = asyncio.Event()
            await run_worker(self.platform, self.stop_event, engine="embedded")

        with contextlib.suppress(Exception):
            self.loop.run_until_complete(main())

    def start(self) -> InProcessWorker:
        """Start delivering."""
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop and wait (a few seconds at most)."""
        if self.stop_event is not None:
            self.loop.call_soon_threadsafe(self.stop_event.set)
        self.thread.join(10)
        self.platform.close()


def start_in_process(settings: Settings) -> InProcessWorker | None:
    """``civic up``'s webhook worker: embedded, unless ``CIVIC_EVENTS_URL`` sends the work to
    ``civic worker`` processes."""
    if settings.events_url:
        return None
    return InProcessWorker(settings).start()
