"""``civic demo``: the whole story, step by step.

By default against the running platform (``--server``, as ``civic up`` serves it) over its
published protocols (:mod:`civicstack.demo.http`); ``--local`` tells the same story in one
process on a scratch database, no server needed (:mod:`civicstack.demo.local`).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from civicstack.cli._local import PASSPHRASE_ENV
from civicstack.cli._output import JsonOption, console, emit
from civicstack.cli._server import DEFAULT_SERVER, ServerOption, admin_token, server
from civicstack.demo.http import tell_over_http
from civicstack.demo.local import ShiftedClock, tell
from civicstack.demo.story import Step, Story
from civicstack.errors import CivicError
from civicstack.platform import Platform
from civicstack.settings import Settings

app = typer.Typer()


def _show(step: Step, number: int) -> None:
    mark = ("ok", "green") if step.refused is None else (f"refused [{step.refused}]", "yellow")
    console.print()
    console.print(Text.assemble((f"{number:>2}. ", "bold"), (step.title, "bold"), " ", mark))
    for line in step.details:
        console.print(Text("    " + line))
    if step.rows:
        table = Table("claim", "value", box=None, padding=(0, 2), show_header=False)
        for name, value in step.rows:
            table.add_row(Text("    " + name, "cyan"), Text(value))
        console.print(table)


@app.command("demo")
def demo(
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="An empty directory to keep the wallet in (and, with --local, the database).",
        ),
    ] = None,
    local: Annotated[
        bool, typer.Option("--local", help="Tell the story in this process, without a server.")
    ] = False,
    url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Run the whole story: authorities, a wallet, relying parties, consent, revocation."""
    with tempfile.TemporaryDirectory(prefix="civic-demo-") as scratch:
        where = (data_dir or Path(scratch)).expanduser()
        if where.exists() and any(where.iterdir()):
            raise CivicError("conflict", f"{where} is not empty: the demo needs an empty directory")
        count = 0

        def report(step: Step) -> None:
            nonlocal count
            count += 1
            if not as_json:
                _show(step, count)

        if local:
            story = _local(where, report, as_json)
        else:
            if not as_json:
                console.print(f"[bold]civicstack demo[/] against {url} (wallet in {where})")
            try:
                with server(url) as client:
                    client.get("/healthz")  # nothing answering says so, before the token
            except CivicError as exc:
                raise CivicError(
                    exc.code, f"{exc.detail}; or tell the story without one: civic demo --local"
                ) from exc
            story = tell_over_http(url, admin_token(), *_amaras_wallet(where), report)
    emit(
        {"data_dir": str(where), "steps": [s.to_json() for s in story.steps]},
        as_json,
        lambda: console.print("\n[bold green]The story ran as told.[/]"),
    )


def _amaras_wallet(where: Path) -> tuple[Path, str | None]:
    """Against a server, Amara's wallet stays in ``CIVIC_WALLET_DIR`` when it is set (under
    ``CIVIC_WALLET_PASSPHRASE`` if set), so ``civic wallet consents`` can read what the story
    left there (the insurer's consent); else in the demo's own directory."""
    chosen = Settings.from_env().wallet_dir
    return (chosen or where / "wallet"), os.environ.get(PASSPHRASE_ENV) or None


def _local(where: Path, report: Callable[[Step], None], as_json: bool) -> Story:
    # The local demo keeps its own database and wallet: it never touches CIVIC_DATA_DIR's.
    settings = Settings.from_env(
        data_dir=where,
        database_url=f"sqlite:///{where / 'civic.db'}",
        wallet_dir=where / "wallet",
    )
    clock = ShiftedClock()
    platform = Platform(settings, clock=clock)
    try:
        platform.migrate()
        if not as_json:
            console.print(f"[bold]civicstack demo[/] in {where} (in process)")
        return tell(platform, where / "wallet", clock, report)
    finally:
        platform.close()
