"""The state on this machine the CLI acts on: the local platform and the holder's wallet.

The platform lives in ``CIVIC_DATA_DIR`` (``CIVIC_DATABASE_URL``); the wallet in
``CIVIC_WALLET_DIR`` (default ``<data dir>/wallet``), opened with ``CIVIC_WALLET_PASSPHRASE``
or a passphrase asked for at the terminal.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import typer

from civicstack.cli._output import err_console
from civicstack.errors import InputError
from civicstack.platform import Platform
from civicstack.settings import Settings
from civicstack.types import Clock

PASSPHRASE_ENV = "CIVIC_WALLET_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret


def settings() -> Settings:
    """Settings from the environment (``CIVIC_*``)."""
    return Settings.from_env()


def say_where(chosen: Settings) -> None:
    """Name the data directory a local command works on when nobody chose it (no
    ``CIVIC_DATA_DIR`` nor ``CIVIC_DATABASE_URL``): a new user learns where their state went."""
    if not os.environ.get("CIVIC_DATA_DIR") and not os.environ.get("CIVIC_DATABASE_URL"):
        err_console.print(
            f"using {chosen.data_dir} (CIVIC_DATA_DIR chooses another)", soft_wrap=True
        )


@contextmanager
def local_platform(clock: Clock | None = None) -> Iterator[Platform]:
    """The platform in ``CIVIC_DATA_DIR``/``CIVIC_DATABASE_URL``, migrated, closed after use."""
    chosen = settings()
    say_where(chosen)
    platform = Platform(chosen, clock=clock)
    try:
        platform.migrate()
        yield platform
    finally:
        platform.close()


def passphrase(*, confirm: bool = False) -> str:
    """The wallet passphrase: ``CIVIC_WALLET_PASSPHRASE``, else a hidden prompt on the
    terminal (asked twice when ``confirm``)."""
    given = os.environ.get(PASSPHRASE_ENV)
    if given:
        return given
    if not interactive():
        # Never read a secret from a pipe: it may be the data a command reads (``-``), and
        # getpass would fall back to echoing it.
        raise InputError(
            "invalid_request", f"no passphrase: set {PASSPHRASE_ENV} or run in a terminal"
        )
    try:
        entered = typer.prompt(
            "Wallet passphrase",
            hide_input=True,
            confirmation_prompt=confirm,
            err=True,
        )
    except typer.Abort as exc:
        raise InputError(
            "invalid_request", f"no passphrase: set {PASSPHRASE_ENV} or run in a terminal"
        ) from exc
    return str(entered)


def interactive() -> bool:
    """Whether a person can answer prompts (standard input is a terminal)."""
    return sys.stdin.isatty()


def wallet_dir() -> Path:
    """Where the local wallet lives (``CIVIC_WALLET_DIR``, default ``<data dir>/wallet``)."""
    chosen = settings()
    if chosen.wallet_dir is not None:
        return chosen.wallet_dir
    say_where(chosen)
    return chosen.data_dir / "wallet"
