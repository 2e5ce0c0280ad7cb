"""``civic verifier``: a relying party's backend talking to the running platform's verifier.

Every command calls the HTTP API of ``--server`` (default ``http://127.0.0.1:8000``) with the
admin token (``CIVIC_ADMIN_TOKEN`` or the one ``civic up`` wrote), acting for the relying party
named by ``--rp`` (default: the preset's).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table
from rich.text import Text

from civicstack.cli._input import read_json, read_value
from civicstack.cli._output import JsonOption, console, emit
from civicstack.cli._server import DEFAULT_SERVER, ServerOption, raise_for_problem, server
from civicstack.errors import InputError

app = typer.Typer(help="Ask for presentations over OpenID4VP and read the results.")

RpOption = Annotated[
    str | None, typer.Option("--rp", help="The relying party asking (default: the preset's).")
]


def _json(response: Any) -> Any:
    raise_for_problem(response)
    return response.json()


@app.command("request")
def request(
    *,
    preset: Annotated[
        str | None,
        typer.Option(help="age_over_18, right_to_work or identity (see `civic verifier presets`)."),
    ] = None,
    dcql: Annotated[
        str | None, typer.Option(help="A DCQL query instead of a preset (JSON, @FILE or -).")
    ] = None,
    purpose: Annotated[str | None, typer.Option(help="The registered purpose.")] = None,
    rp: RpOption = None,
    url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Make a presentation request; prints the openid4vp:// link to hand the holder."""
    body: dict[str, Any] = {}
    if preset is not None:
        body["preset"] = preset
    if dcql is not None:
        body["dcql_query"] = read_json(dcql, "--dcql")
    if (preset is None) == (dcql is None):
        raise InputError("invalid_request", "give --preset or --dcql")
    if purpose is not None:
        body["purpose"] = purpose
    if rp is not None:
        body["relying_party"] = rp
    with server(url, admin=True) as client:
        created = _json(client.post("/verifier/requests", json=body))

    def human() -> None:
        who, why = created["relying_party"], created["purpose"]
        console.print(Text(f"{who} asks for {why} (request {created['id']})"))
        console.print(Text("Hand this to the holder's wallet (`civic wallet present`):"))
        console.print(Text(created["request"]), soft_wrap=True)

    emit({"id": created["id"], "request": created["request"]}, as_json, human)


@app.command("result")
def result(
    request_id: Annotated[str, typer.Argument(help="The request's id.")],
    url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Show a request's outcome: pending, verified (with the claims learnt: shown once, then
    deleted) or expired; and the answers that failed."""
    with server(url, admin=True) as client:
        outcome = _json(client.get(f"/verifier/requests/{quote(request_id, safe='')}"))
    attempts = outcome.get("attempts", [])
    data = {
        "status": outcome["status"],
        "claims": outcome["claims"],
        "error": outcome["error"],
        "attempt_count": outcome.get("attempt_count", 0),
        "attempts": attempts,
    }

    def human() -> None:
        console.print(Text(f"{outcome['id']}: {outcome['status']}", style="bold"))
        if outcome["error"]:
            console.print(Text(f"[{outcome['error']['code']}] {outcome['error']['detail']}"))
        if data["attempt_count"]:
            declined = sum(1 for a in attempts if a["code"] == "consent_declined")
            codes = sorted({a["code"] for a in attempts})
            console.print(Text(f"failed attempts: {data['attempt_count']} ({', '.join(codes)})"))
            if declined:
                console.print(
                    Text(f"declined attempts: {declined} (the holder, or someone with the link)")
                )
        if outcome["claims"]:
            table = Table("claim", "value")
            for name, value in outcome["claims"].items():
                table.add_row(Text(name), Text(str(value)))
            console.print(table)

    emit(data, as_json, human)


@app.command("presets")
def presets(url: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False) -> None:
    """List the ready-made requests."""
    with server(url) as client:
        listed = _json(client.get("/verifier/presets"))

    def human() -> None:
        table = Table("preset", "relying party", "purpose", "what")
        for p in listed:
            table.add_row(p["name"], p["relying_party"], p["purpose"], Text(p["description"]))
        console.print(table)

    emit(listed, as_json, human)


@app.command("verify")
def verify(
    presentation: Annotated[str, typer.Argument(help="The SD-JWT+KB, @FILE, or - for stdin.")],
    *,
    nonce: Annotated[str, typer.Option(help="The nonce the holder was given.")],
    rp: Annotated[str, typer.Option("--rp", help="The relying party checking.")],
    aud: Annotated[
        str | None, typer.Option(help="Expected audience (default: its client_id).")
    ] = None,
    preset: Annotated[str | None, typer.Option(help="Check it answers this preset.")] = None,
    url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Verify a presentation received elsewhere (refused if it was accepted before)."""
    body: dict[str, Any] = {
        "presentation": read_value(presentation, "the presentation"),
        "nonce": nonce,
        "relying_party": rp,
    }
    if aud is not None:
        body["aud"] = aud
    if preset is not None:
        body["preset"] = preset
    with server(url, admin=True) as client:
        verified = _json(client.post("/verifier/verify", json=body))

    def human() -> None:
        console.print(Text(f"verified: {verified['vct']} from {verified['iss']}", style="bold"))
        for name, value in verified["claims"].items():
            console.print(Text(f"  {name}: {value}"))

    emit(verified, as_json, human)


@app.command("api-key")
def api_key(
    rp: Annotated[str, typer.Argument(help="The relying party whose backend gets the key.")],
    url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Issue an API key for a relying party's backend (printed once; keep it secret)."""
    with server(url, admin=True) as client:
        issued = _json(client.post(f"/verifier/relying-parties/{quote(rp, safe='')}/api-keys"))
    emit(issued, as_json, lambda: typer.echo(issued["api_key"]))
