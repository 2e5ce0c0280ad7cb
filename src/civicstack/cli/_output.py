"""Shared CLI plumbing: consoles, ``--json`` output, and the one-line error contract."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.text import Text

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)

#: Reusable ``--json`` option: machine-readable output on stdout, nothing else printed.
JsonOption = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def emit(data: Any, as_json: bool, human: Callable[[], None] | None = None) -> None:
    """Print ``data`` as JSON when asked, else call ``human`` (or pretty-print ``data``)."""
    if as_json:
        sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")
        sys.stdout.flush()
    elif human is not None:
        human()
    else:
        console.print_json(orjson.dumps(data).decode())


def error_line(code: str, detail: str) -> None:
    """Print ``error [code] detail`` on stderr as one line (no markup, never wrapped)."""
    flat = " ".join(detail.split())
    err_console.print(Text.assemble(("error", "bold red"), f" [{code}] {flat}"), soft_wrap=True)


def fail(code: str, detail: str) -> None:
    """Print the one-line error and exit non-zero."""
    error_line(code, detail)
    raise SystemExit(1)
