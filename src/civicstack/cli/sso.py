"""``civic sso``: the one-login provider's operator commands, on the local platform.

``civic sso initial-access-token --org NAME`` mints a registration token (RFC 7591 §3) for one
registered organisation: its developers then register their clients at
``POST /oidc/register`` with ``Authorization: Bearer <token>``, and every client they register
belongs to that organisation (the sector of its pairwise subs).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from civicstack.cli._local import local_platform
from civicstack.cli._output import JsonOption, console, emit
from civicstack.services.sso import INITIAL_ACCESS_TOKEN_LIFETIME

app = typer.Typer(help="One login: the OpenID Provider's operator commands.")


@app.command("initial-access-token")
def initial_access_token(
    *,
    org: Annotated[
        str, typer.Option("--org", help="The registered organisation (relying party) it is for.")
    ],
    lifetime: Annotated[
        int, typer.Option(min=60, max=30 * 86_400, help="Seconds the token is valid.")
    ] = INITIAL_ACCESS_TOKEN_LIFETIME,
    as_json: JsonOption = False,
) -> None:
    """Mint a registration token for one organisation (shown once)."""
    with local_platform() as platform:
        token = platform.sso.mint_initial_access_token(org, lifetime=lifetime)
    emit(
        {"token": token},
        as_json,
        lambda: console.print(
            Text.assemble(f"registration token for {org} (valid {lifetime}s): ", (token, "bold"))
        ),
    )
