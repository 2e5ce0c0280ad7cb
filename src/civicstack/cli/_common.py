"""What the command groups share: the local platform, hostile-input readers, the wallet.

Values given on the command line (``--claims``, ``--scope``, a presentation...) may be literal,
``@path`` to read a file, or ``-`` to read standard input; each is size-capped and parsed
strictly (duplicate JSON keys are refused), and a failure names the option it came from.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer

from civicstack._crypto import json_loads_strict
from civicstack.errors import CivicError, InputError
from civicstack.platform import Platform
from civicstack.settings import Settings
from civicstack.types import Clock

#: Largest value read from an argument, a file or standard input.
MAX_INPUT_BYTES = 1024 * 1024
PASSPHRASE_ENV = "CIVIC_WALLET_PASSPHRASE"  # noqa: S105 - the variable's name, not a secret


def settings() -> Settings:
    """Settings from the environment (``CIVIC_*``)."""
    return Settings.from_env()


@contextmanager
def local_platform(clock: Clock | None = None) -> Iterator[Platform]:
    """The platform in ``CIVIC_DATA_DIR``/``CIVIC_DATABASE_URL``, migrated, closed after use."""
    platform = Platform(settings(), clock=clock)
    try:
        platform.migrate()
        yield platform
    finally:
        platform.close()


def read_value(value: str, what: str, *, limit: int = MAX_INPUT_BYTES) -> str:
    """``value`` itself, the contents of ``@path``, or standard input for ``-``."""
    if value == "-":
        data = sys.stdin.buffer.read(limit + 1)
        source = "standard input"
    elif value.startswith("@"):
        path = Path(value[1:]).expanduser()
        try:
            with path.open("rb") as fh:
                data = fh.read(limit + 1)
        except FileNotFoundError as exc:
            raise InputError("invalid_request", f"{what}: no file {path}") from exc
        except OSError as exc:
            raise CivicError("io_error", f"{what}: cannot read {path}: {exc.strerror}") from exc
        source = str(path)
    else:
        data = value.encode()
        source = what
    if len(data) > limit:
        raise InputError("too_large", f"{what}: {source} is larger than {limit} bytes")
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise InputError("malformed", f"{what}: {source} is not UTF-8 text") from exc


def read_bytes(value: str, what: str, *, limit: int) -> bytes:
    """A file's bytes (``-`` for standard input), capped at ``limit``."""
    if value == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        path = Path(value).expanduser()
        try:
            with path.open("rb") as fh:
                data = fh.read(limit + 1)
        except FileNotFoundError as exc:
            raise InputError("invalid_request", f"{what}: no file {path}") from exc
        except OSError as exc:
            raise CivicError("io_error", f"{what}: cannot read {path}: {exc.strerror}") from exc
    if len(data) > limit:
        raise InputError("too_large", f"{what} is larger than {limit} bytes")
    return data


def read_json(value: str, what: str, *, limit: int = 64 * 1024) -> Any:
    """Parse ``value`` (literal, ``@path`` or ``-``) as strict JSON."""
    text = read_value(value, what, limit=limit)
    try:
        return json_loads_strict(text)
    except CivicError as exc:
        raise InputError("malformed", f"{what} is not valid JSON: {exc.detail}") from exc


def read_json_object(value: str, what: str, *, limit: int = 64 * 1024) -> dict[str, Any]:
    """Parse ``value`` as a strict JSON object."""
    parsed = read_json(value, what, limit=limit)
    if not isinstance(parsed, dict):
        raise InputError("malformed", f"{what} must be a JSON object")
    return parsed


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
    return chosen.wallet_dir or chosen.data_dir / "wallet"
