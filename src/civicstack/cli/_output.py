"""Shared CLI plumbing: consoles, ``--json`` output, and the one-line error contract."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape

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


def fail(code: str, detail: str) -> None:
    """Print the one-line error and exit non-zero."""
    # The code and detail are data: escaped, "[code]" is not taken for a style tag.
    err_console.print(f"[bold red]error[/] {escape(f'[{code}] {detail}')}", highlight=False)
    raise SystemExit(1)
