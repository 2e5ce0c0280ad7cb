"""Entry point of ``civic``: composes the command groups and enforces the error contract.

Bad input gives one clear line on stderr (``error [code] detail``) and exit status 1; usage
errors exit 2 (click's convention); nothing prints a traceback.
"""

from __future__ import annotations

import logging
import sys

import typer
from rich.markup import escape

from civicstack import __version__
from civicstack.cli._output import err_console
from civicstack.errors import CivicError

app = typer.Typer(
    name="civic",
    help="civicstack: eID wallet, authorities, verifiers, registers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"civic {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """civicstack: government as a platform."""


def _register() -> None:
    """Attach the command groups (each module owns its ``typer.Typer``)."""
    # Command groups register here, one line each.
    from civicstack.cli import log, registers, up

    app.registered_commands += up.app.registered_commands
    app.add_typer(log.app)
    app.add_typer(registers.app)


_register()


def run() -> None:
    """Console-script entry: run ``civic`` with the error contract."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app(standalone_mode=True)
    except CivicError as exc:
        err_console.print(
            f"[bold red]error[/] {escape(f'[{exc.code}] {exc.detail}')}", highlight=False
        )
        sys.exit(1)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except OSError as exc:
        err = CivicError("io_error", f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        err_console.print(
            f"[bold red]error[/] {escape(f'[{err.code}] {err.detail}')}", highlight=False
        )
        sys.exit(1)


if __name__ == "__main__":
    run()
