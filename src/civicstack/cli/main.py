"""Entry point of ``civic``: composes the command groups and enforces the error contract.

Bad input gives one clear line on stderr (``error [code] detail``) and exit status 1; usage
errors exit 2 (click's convention); nothing prints a traceback.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import typer
from typer.core import TyperGroup, TyperOption

from civicstack import __version__
from civicstack.cli._output import err_console, error_line
from civicstack.errors import CivicError

log = logging.getLogger("civicstack.cli")


def _flags_take_no_value() -> None:
    """Help pages show a value only for options that take one: typer's rich help labels
    every flag ``<bool>`` (``--help <bool>``, ``--json <bool>``), which reads as if the flag
    wanted an argument. Flags get no type label; every other option keeps its own."""
    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_flags_take_no_value()


def _error_line(exc: BaseException) -> CivicError:
    """The coded error a failure is reported as."""
    if isinstance(exc, CivicError):
        return exc
    if isinstance(exc, OSError):
        return CivicError("io_error", f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(exc, SQLAlchemyError):
        return CivicError("database_error", str(exc).splitlines()[0][:300])
    log.debug("unexpected failure", exc_info=exc)
    return CivicError("internal_error", f"{type(exc).__name__}: {exc}")


class _ContractGroup(TyperGroup):
    """The root group: any failure inside a command becomes ``error [code] detail``, exit 1.

    Enforced here rather than only in :func:`run` so that every way of invoking the app (the
    console script, ``python -m``, click's test runner) keeps the contract.
    """

    def invoke(self, ctx: Any) -> Any:  # click's Context (typer vendors click privately)
        try:
            return super().invoke(ctx)
        except (typer.Exit, typer.Abort, typer.TyperException):
            raise  # click's own exits, aborts and usage errors keep their meaning
        except KeyboardInterrupt:
            err_console.print("interrupted")
            raise typer.Exit(130) from None
        except Exception as exc:
            err = _error_line(exc)
            error_line(err.code, err.detail)
            raise typer.Exit(1) from None


app = typer.Typer(
    name="civic",
    cls=_ContractGroup,
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
    from civicstack.cli import (
        authority,
        consent,
        demo,
        events,
        issuance,
        log,
        receive,
        registers,
        sso,
        up,
        verifier,
        verify,
        wallet,
        wallet_access,
        wallet_changes,
        wallet_consents,
        wallet_ui,
        witness,
        worker,
    )

    authority.app.registered_commands += issuance.app.registered_commands
    wallet.app.registered_commands += receive.app.registered_commands
    wallet.app.registered_commands += wallet_consents.app.registered_commands
    wallet.app.registered_commands += wallet_access.app.registered_commands
    wallet.app.add_typer(wallet_consents.consent_app, name="consent")

    app.registered_commands += up.app.registered_commands
    app.add_typer(log.app)
    app.add_typer(wallet.app, name="wallet")
    app.add_typer(authority.app, name="authority")
    app.add_typer(verifier.app, name="verifier")
    app.add_typer(consent.app, name="consent")
    app.registered_commands += verify.app.registered_commands
    app.registered_commands += demo.app.registered_commands
    app.add_typer(registers.app)
    # --- events: tell us once (issue 13) ---
    app.add_typer(events.app, name="events")
    app.registered_commands += worker.app.registered_commands
    app.registered_commands += witness.app.registered_commands
    wallet.app.registered_commands += wallet_changes.app.registered_commands
    wallet.app.add_typer(wallet_changes.electoral_app, name="electoral")
    wallet.app.registered_commands += wallet_ui.app.registered_commands
    # --- one login (issue 14) ---
    app.add_typer(sso.app, name="sso")


_register()


def run() -> None:
    """Console-script entry: run ``civic`` with the error contract."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app(standalone_mode=True)
    except KeyboardInterrupt:
        err_console.print("interrupted")
        sys.exit(130)
    except (CivicError, OSError) as exc:  # raised outside a command (option callbacks)
        err = _error_line(exc)
        error_line(err.code, err.detail)
        sys.exit(1)


if __name__ == "__main__":
    run()
