"""``civic up``: every service in one process (or N worker processes) on the embedded default."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from civicstack.cli._output import console
from civicstack.demo.world import seed_demo_world
from civicstack.platform import Platform
from civicstack.services.review import SWEEP_INTERVAL, Sweeper, SweepReport
from civicstack.settings import Settings

app = typer.Typer()


@app.command("up")
def up(
    host: Annotated[str | None, typer.Option(help="Interface to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="TCP port.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="Worker processes.")] = None,
) -> None:
    """Start every service (issuers, verifier, trust registry, registers) with a demo world."""
    from civicstack.api.serve import listen, serve

    settings = Settings.from_env(host=host, port=port, workers=workers)
    sockets = listen(settings.host, settings.port, settings.workers)
    platform = Platform(settings)
    # Migrations and seeding run once here, before any worker starts, so workers never race.
    platform.migrate()
    if seed_demo_world(platform):
        console.print("seeded the demo world: HM Government, two authorities, four relying parties")
    _seed_registers(platform)
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
    # One sweeper for the whole server, in this process: workers never sweep.
    sweeper = start_sweeper(settings)
    try:
        status = serve(settings.host, settings.port, settings.workers, sockets, say=console.print)
    finally:
        sweeper.stop()
    if status:
        raise typer.Exit(status)


def start_sweeper(settings: Settings, *, platform: Platform | None = None) -> Sweeper:
    """Start the background sweeper ``civic up`` runs beside its workers: at once and every
    ``CIVIC_SWEEP_INTERVAL`` seconds, the retention schedule, documents no application refers
    to, full rate buckets (:meth:`civicstack.services.review.ApplicationDesk.sweep`). It uses a
    platform of its own (closed when it stops) unless given one."""
    own = platform is None
    swept_by = Platform(settings) if platform is None else platform

    def report(done: SweepReport) -> None:
        if done:
            console.print(
                f"swept uploaded documents: {done.expired} past the retention schedule,"
                f" {done.orphans} no application refers to"
            )

    return Sweeper(
        swept_by.review.sweep,
        interval=settings.sweep_interval or SWEEP_INTERVAL,
        report=report,
        on_stop=swept_by.close if own else None,
    ).start()


def _seed_registers(platform: Platform) -> None:
    """The archived GOV.UK registers and the synthetic ones, at the first start only."""
    import time

    from civicstack.services.registers import default_archive, seed_registers

    archive = platform.settings.registers_archive or default_archive()
    report = seed_registers(platform.registers, archive=archive, now=int(time.time()))
    if report.imported or report.created:
        dangling = sum(report.dangling_links.values())
        console.print(
            f"  registers  seeded {len(report.imported)} archived GOV.UK registers"
            f" ({dangling} historic dangling links recorded) and"
            f" {len(report.created)} synthetic ones"
        )
