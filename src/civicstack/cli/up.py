"""``civic up``: every service in one process (or N worker processes) on the embedded default."""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING, Annotated, Any

import typer

from civicstack.cli._output import console, err_console
from civicstack.cli._server import DEFAULT_SERVER
from civicstack.demo.world import (
    seed_demo_world,
    seed_exchange_world,
    seed_gov_services,
    seed_gp_practices,
)
from civicstack.errors import CivicError
from civicstack.platform import Platform
from civicstack.services.review import SWEEP_INTERVAL, Sweeper, SweepReport
from civicstack.settings import Settings

if TYPE_CHECKING:
    from civicstack.services.witnessing import WitnessPusher

app = typer.Typer()


@app.command("up")
def up(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="Worker processes.")] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request (uvicorn's access log).")
    ] = False,
) -> None:
    """Start every service (issuers, verifier, trust registry, registers) with a demo world."""
    from civicstack.api.serve import listen, serve

    # A server runs the access log's writer in a process of its own (beside each worker), so
    # that its CPU is not taken under the API's interpreter lock; CIVIC_ACCESS_LOG_WRITER=thread
    # keeps it in each worker.
    os.environ.setdefault("CIVIC_ACCESS_LOG_WRITER", "process")
    settings = Settings.from_env(host=host, port=port, workers=workers)
    sockets = _listen(listen, settings)
    platform = Platform(settings)
    # Migrations and seeding run once here, before any worker starts, so workers never race.
    platform.migrate()
    if seed_demo_world(platform):
        console.print("seeded the demo world: HM Government, two authorities, four relying parties")
    _seed_registers(platform)
    if seed_exchange_world(platform):
        console.print("seeded the data exchange: DVLA, HMRC, Home Office and two GP practices")
    seed_gp_practices(platform)  # GP registration: the two practices tied to register keys
    try:
        if seed_gov_services(platform):
            console.print("seeded one login's demo services: /services/tax, health, council")
    except CivicError as exc:  # e.g. a plain-http CIVIC_BASE_URL off the loopback
        err_console.print(f"one login's demo services not registered: {exc.detail}")
    token = platform.admin_token
    from civicstack.api.app import create_app

    services = create_app(platform).state.services
    platform.close()
    # Workers rebuild the same settings from the environment.
    os.environ.update(
        {
            "CIVIC_DATA_DIR": str(settings.data_dir),
            "CIVIC_DATABASE_URL": settings.database_url,
            "CIVIC_BASE_URL": settings.base_url,
            "CIVIC_HOST": settings.host,
            "CIVIC_PORT": str(settings.port),
            "CIVIC_ADMIN_TOKEN": token,
        }
    )
    console.print(f"[bold]civicstack[/] on {settings.base_url}  (data: {settings.data_dir})")
    console.print(f"  catalogue  {settings.base_url}/")
    for service in services:
        console.print(f"  {service.title:<24} {settings.base_url}{service.mount}/docs")
    console.print(f"  admin token in {settings.data_dir / 'admin-token'} or CIVIC_ADMIN_TOKEN")
    console.print()
    console.print("Next:")
    console.print(f"  open {settings.base_url}/ for the catalogue of services and registers")
    server = "" if settings.base_url == DEFAULT_SERVER else f" --server {settings.base_url}"
    console.print(f"  run `civic demo{server}` in another terminal to watch the whole story")
    console.print("  press Ctrl-C here to stop")
    # One sweeper for the whole server, in this process: workers never sweep.
    sweeper = start_sweeper(settings)
    # Webhook delivery (tell us once): in-process unless CIVIC_EVENTS_URL names NATS.
    from civicstack.cli.worker import start_in_process

    events = start_in_process(settings)
    pusher = start_witnessing(settings)
    try:
        status = serve(
            settings.host,
            settings.port,
            settings.workers,
            sockets,
            say=console.print,
            access_log=access_log,
        )
    finally:
        sweeper.stop()
        if events is not None:
            events.stop()
        if pusher is not None:
            pusher.stop()
    if status:
        raise typer.Exit(status)


def _listen(listen: Any, settings: Settings) -> Any:
    """The listening sockets; a taken port is one line naming it and what to do."""
    try:
        return listen(settings.host, settings.port, settings.workers)
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise CivicError(
            "io_error",
            f"port {settings.port} on {settings.host} is taken (another civic up?): stop it,"
            f" or choose another port with --port or CIVIC_PORT",
        ) from exc


def start_sweeper(settings: Settings, *, platform: Platform | None = None) -> Sweeper:
    """Start the background sweeper ``civic up`` runs beside its workers: at once and every
    ``CIVIC_SWEEP_INTERVAL`` seconds, the retention schedule, documents no application refers
    to, full rate buckets (:meth:`civicstack.services.review.ApplicationDesk.sweep`). It uses a
    platform of its own (closed when it stops) unless given one."""
    own = platform is None
    swept_by = Platform(settings) if platform is None else platform

    def sweep() -> SweepReport:
        done = swept_by.review.sweep()
        # Tell us once: registered births whose 18th birthday has come join the roll.
        placed = swept_by.electoral.coming_of_age(now=swept_by.clock.now())
        if placed:
            console.print(f"electoral roll: {placed} registered births turned 18 and joined it")
        return done

    def report(done: SweepReport) -> None:
        if done:
            console.print(
                f"swept uploaded documents: {done.expired} past the retention schedule,"
                f" {done.orphans} no application refers to"
            )

    return Sweeper(
        sweep,
        interval=settings.sweep_interval or SWEEP_INTERVAL,
        report=report,
        on_stop=swept_by.close if own else None,
    ).start()


def start_witnessing(settings: Settings) -> WitnessPusher | None:
    """With ``CIVIC_WITNESSES`` set, start submitting every log's new checkpoints to the
    witnesses every ``CIVIC_WITNESS_INTERVAL`` seconds, in a thread of this process (workers
    never do), on a platform of its own; ``None`` without witnesses."""
    from civicstack.services.witnessing import WitnessPusher

    if not settings.witnesses:
        return None
    pushing = Platform(settings)
    count, every = len(pushing.witnessing.witnesses), settings.witness_interval
    console.print(f"  witnesses  {count}, submitting new checkpoints every {every} s")
    return WitnessPusher(
        pushing.witnessing.push, interval=settings.witness_interval, on_stop=pushing.close
    ).start()


def _seed_registers(platform: Platform) -> None:
    """The archived GOV.UK registers and the synthetic ones, at the first start only, with a
    progress bar on stderr while they are written."""
    import time

    from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn

    from civicstack.services.registers import default_archive, seed_registers

    archive = platform.settings.registers_archive or default_archive()
    labels = {
        "archive": "importing the archived GOV.UK registers",
        "synthetic": "creating the synthetic registers",
    }
    progress = Progress(
        TextColumn("  {task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        console=err_console,
        transient=True,
    )
    tasks: dict[str, TaskID] = {}

    def tell(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(labels.get(stage, stage), total=total)
        progress.update(tasks[stage], completed=done, total=total)

    with progress:
        report = seed_registers(
            platform.registers, archive=archive, now=int(time.time()), progress=tell
        )
    if report.imported or report.created:
        dangling = sum(report.dangling_links.values())
        console.print(
            f"  registers  seeded {len(report.imported)} archived GOV.UK registers"
            f" ({dangling} historic dangling links recorded) and"
            f" {len(report.created)} synthetic ones"
        )
    for name in report.extended:
        console.print(f"  registers  extended {name} through its own log")
