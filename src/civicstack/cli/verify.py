"""``civic verify``: check a presentation the way a relying party does."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from civicstack.cli._input import read_value
from civicstack.cli._local import local_platform
from civicstack.cli._output import JsonOption, console, emit
from civicstack.cli.wallet import shown, type_name, when
from civicstack.errors import CivicError
from civicstack.sdjwt import DEFAULT_LIMITS

app = typer.Typer()


@app.command("verify")
def verify(
    presentation: Annotated[str, typer.Argument(help="The SD-JWT+KB, @FILE, or - for stdin.")],
    aud: Annotated[str, typer.Option(help="Who it must be for (the relying party).")],
    nonce: Annotated[str, typer.Option(help="The nonce the verifier gave.")],
    as_json: JsonOption = False,
) -> None:
    """Verify a presentation: signatures, key binding, the chain to the root, scope, status.

    Prints the verified claims, or `error [code] ...` and exits 1.
    """
    text = read_value(presentation, "the presentation", limit=DEFAULT_LIMITS.sd_jwt_bytes)
    with local_platform() as platform:
        result = platform.verify(text, aud=aud, nonce=nonce)
        issuer_name = _issuer_name(platform, result.iss)
    data: dict[str, Any] = {
        "iss": result.iss,
        "issuer_name": issuer_name,
        "vct": result.vct,
        "claims": result.claims,
        "disclosed": list(result.disclosed),
        "key_bound": result.key_bound,
        "status": "valid" if result.status is not None else None,
        "iat": result.iat,
        "exp": result.exp,
    }

    def human() -> None:
        console.print(
            Text.assemble(
                ("verified ", "bold green"),
                f"{type_name(result.vct or '')} from {issuer_name or result.iss}",
            )
        )
        console.print(
            Text(
                f"issued {when(result.iat)}, expires {when(result.exp)}, "
                f"holder key proven: {'yes' if result.key_bound else 'no'}, "
                f"status: {'valid' if result.status is not None else 'not given'}"
            )
        )
        table = Table("claim", "value")
        for name, value in result.claims.items():
            table.add_row(Text(name), Text(shown(value)))
        console.print(table)

    emit(data, as_json, human)


def _issuer_name(platform: Any, iss: str) -> str | None:
    try:
        accreditations = platform.trust_registry().valid_accreditations(iss, platform.clock.now())
    except CivicError:
        return None
    return str(accreditations[0].name) if accreditations else None
