"""``civic consent``: a requester (a registered relying party) asks citizens for consent.

With ``--server URL`` (or ``CIVIC_SERVER``) the command calls the platform's ``/consents`` API
with the admin token acting for ``--as``; without, it acts on the local platform
(``CIVIC_DATA_DIR``).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.text import Text

from civicstack.cli._local import local_platform
from civicstack.cli._output import JsonOption, console, emit
from civicstack.cli._server import raise_for_problem, server
from civicstack.consent import CATEGORIES
from civicstack.services.verifier import Caller

app = typer.Typer(help="Ask citizens for consent to fetch their data from another organisation.")

OptionalServer = Annotated[
    str | None,
    typer.Option(
        "--server",
        envvar="CIVIC_SERVER",
        help="Base URL of the running platform (CIVIC_SERVER); without it, the local platform.",
    ),
]


@app.command("request")
def request(
    *,
    as_: Annotated[str, typer.Option("--as", help="The requester: a registered relying party.")],
    subject: Annotated[str, typer.Option(help="The citizen's pairwise id at the requester.")],
    provider: Annotated[str, typer.Option(help="The organisation holding the data.")],
    purpose: Annotated[str, typer.Option(help="The requester's registered purpose id.")],
    categories: Annotated[
        str, typer.Option(help="DPV-PD categories, comma-separated (dpv-pd:Income,...).")
    ],
    once: Annotated[bool, typer.Option("--once", help="For one access only.")] = False,
    valid_days: Annotated[int, typer.Option(help="How long the consent lasts.")] = 365,
    url: OptionalServer = None,
    as_json: JsonOption = False,
) -> None:
    """Put a consent request in the citizen's inbox; their wallet pulls it."""
    wanted = [c.strip() for c in categories.split(",") if c.strip()]
    body: dict[str, Any] = {
        "requester": as_,
        "subject": subject,
        "provider": provider,
        "purpose": purpose,
        "categories": wanted,
        "once": once,
        "valid_days": valid_days,
    }
    if url is not None:
        with server(url, admin=True) as client:
            response = client.post("/consents/requests", json=body)
            raise_for_problem(response)
            made: dict[str, Any] = response.json()
    else:
        with local_platform() as platform:
            requester = body.pop("requester")
            consents = platform.consents
            created = consents.create_request(Caller(None), requester=requester, **body)
            made = created.to_json(platform.clock.now())

    def human() -> None:
        console.print(Text(f"consent request {made['id']} ({made['state']})", style="bold"))
        console.print(Text(f"  {made['requester']} asks to fetch from {made['provider']}"))
        console.print(
            Text(
                f"  for {made['purpose']}: "
                + ", ".join(CATEGORIES.get(c, c) for c in made["categories"])
            )
        )
        console.print(Text("  it waits in the citizen's wallet inbox (`civic wallet consents`)"))

    emit(made, as_json, human)
