"""``civic witness``: run a C2SP tlog-witness for the logs it is given.

The witness is its own party: its key and state live in ``--dir`` (``CIVIC_WITNESS_DIR``,
default ``<data dir>/witness``; :mod:`civicstack.stores.witness`), never in the platform's
database. The logs it witnesses are named by their verifier keys (the key name is the log's
origin): ``--log VKEY`` (repeatable), ``CIVIC_WITNESS_LOGS`` (vkeys separated by spaces or
newlines), or ``--config FILE`` with C2SP tlog-policy ``log <vkey> [<url>]`` lines (other lines
of a policy file, comments and blank lines are ignored). At start it prints its verifier key
(a C2SP vkey of signature type 0x04), which logs and clients configure.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from civicstack.cli._output import console
from civicstack.errors import InputError

if TYPE_CHECKING:
    from civicstack.log.witness import Witness

app = typer.Typer()

DEFAULT_PORT = 8380
#: A policy file is small; anything larger is refused unread.
MAX_CONFIG_BYTES = 1024 * 1024


def _config_logs(path: Path) -> list[str]:
    """The ``log <vkey> [<url>]`` lines of a tlog-policy file."""
    if path.stat().st_size > MAX_CONFIG_BYTES:
        raise InputError("too_large", f"{path} is larger than {MAX_CONFIG_BYTES} bytes")
    vkeys = []
    for line in path.read_text(encoding="utf-8").splitlines():
        words = line.split()
        if words and words[0] == "log":
            if len(words) not in (2, 3):
                raise InputError("invalid_setting", f"{path}: 'log <vkey> [<url>]', not {line!r}")
            vkeys.append(words[1])
    return vkeys


def _default_dir() -> Path:
    from civicstack.settings import Settings

    return Settings.from_env().data_dir / "witness"


@app.command("witness")
def witness(
    *,
    log: Annotated[
        list[str] | None,
        typer.Option("--log", help="Verifier key of a log to witness (repeatable)."),
    ] = None,
    logs_env: Annotated[
        str | None,
        typer.Option(
            "--logs",
            envvar="CIVIC_WITNESS_LOGS",
            help="Verifier keys of logs to witness, separated by spaces (CIVIC_WITNESS_LOGS).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", help="A tlog-policy file: its 'log <vkey>' lines are witnessed."),
    ] = None,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            envvar="CIVIC_WITNESS_DIR",
            help="Key and state directory (CIVIC_WITNESS_DIR; default <data dir>/witness).",
        ),
    ] = None,
    name: Annotated[
        str | None,
        typer.Option(
            "--name",
            envvar="CIVIC_WITNESS_NAME",
            help="The witness's key name, fixed at the first start (a schema-less URL).",
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = DEFAULT_PORT,
    show_key: Annotated[
        bool, typer.Option("--show-key", help="Print the verifier key (creating it) and exit.")
    ] = False,
) -> None:
    """Run a C2SP tlog-witness: cosign the given logs' checkpoints once they are consistent."""
    from civicstack.log.witness import Witness, WitnessedLog
    from civicstack.stores.witness import WitnessDirectory
    from civicstack.types import SystemClock

    vkeys = [*(log or []), *(logs_env or "").split(), *(_config_logs(config) if config else [])]
    state = WitnessDirectory(directory or _default_dir())
    try:
        if name is None and not state.has_key:
            import socket

            name = f"{socket.gethostname()}.invalid/witness"
        cosigner = state.cosigner(name)
        if show_key:
            print(cosigner.verifier.vkey)
            return
        logs = [WitnessedLog.of(v) for v in vkeys]
        if not logs:
            raise InputError(
                "invalid_request", "give the logs to witness: --log VKEY, --logs or --config"
            )
        if len({w.origin for w in logs}) != len(logs):
            raise InputError("invalid_setting", "a log's origin is listed twice")
        serve(Witness(cosigner, logs, state, SystemClock()), host, port, state.path)
    finally:
        state.close()


def serve(witness: Witness, host: str, port: int, where: Path) -> None:
    """Print the verifier key and the logs, then serve until interrupted."""
    import uvicorn

    from civicstack.api.http_guard import guarded_protocol
    from civicstack.api.witness import witness_app

    console.print(f"witness {witness.cosigner.verifier.vkey}", markup=False, soft_wrap=True)
    for origin in sorted(witness.logs):
        console.print(f"  witnessing {origin}", markup=False, soft_wrap=True)
    console.print(f"  state in {where}", markup=False, soft_wrap=True)
    url = f"http://{host}:{port}/add-checkpoint"
    console.print(f"  listening on {url}", markup=False, soft_wrap=True)
    uvicorn.run(
        witness_app(witness),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        http=guarded_protocol(),
    )
