"""``civic wallet ui``: the web wallet on http://127.0.0.1:PORT (:mod:`civicstack.web.wallet`).

A thin wrapper: it checks the bind address (127.0.0.1 only), builds the app over the wallet
directory (``CIVIC_WALLET_DIR``) with the real clock and HTTP transport, and serves it with
uvicorn until Ctrl+C. The passphrase is asked for in the browser, never on the command line.
"""

from __future__ import annotations

from typing import Annotated

import typer

from civicstack.cli._local import wallet_dir
from civicstack.cli._output import console
from civicstack.cli._server import DEFAULT_SERVER, ServerOption
from civicstack.errors import InputError
from civicstack.types import SystemClock

app = typer.Typer()

DEFAULT_PORT = 8700


@app.command("ui")
def ui(
    host: Annotated[
        str, typer.Option(help="The address to listen on: 127.0.0.1, and nothing else.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="The port to listen on.")] = DEFAULT_PORT,
    url: ServerOption = DEFAULT_SERVER,
    idle: Annotated[int, typer.Option(help="Lock after this many seconds without use.")] = 300,
    lifetime: Annotated[
        int, typer.Option(help="Lock this many seconds after unlocking, unless extended.")
    ] = 1800,
) -> None:
    """The web wallet: your credentials, offers, the consent screen, consents, history and
    change reports as pages on http://127.0.0.1:PORT, reachable from this machine only."""
    import uvicorn

    from civicstack.fetch import HttpTransport
    from civicstack.web.wallet import WalletUISettings, check_bind, create_wallet_app

    bind = check_bind(host)
    if not 0 < port < 65536:
        raise InputError("invalid_request", "--port is 1 to 65535")
    if not (60 <= idle <= 86400 and 60 <= lifetime <= 86400):
        raise InputError("invalid_request", "--idle and --lifetime are 60 to 86400 seconds")
    settings = WalletUISettings(
        wallet_dir=wallet_dir(),
        port=port,
        platform=url,
        idle=idle,
        lifetime=lifetime,
        warn=min(120, lifetime // 2),
    )
    web = create_wallet_app(settings, clock=SystemClock(), transport=HttpTransport)
    console.print(f"Your wallet: {settings.origin}/ (this machine only; Ctrl+C to stop)")
    uvicorn.run(web, host=bind, port=port, log_level="warning", lifespan="off")
