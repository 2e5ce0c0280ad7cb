"""``civic events``: an organisation's webhook subscriptions on the running platform.

Every command calls ``--server``'s ``/events`` API with the admin token, acting for the
organisation named by ``--org``.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from civicstack.cli._output import JsonOption, console, emit
from civicstack.cli._server import DEFAULT_SERVER, ServerOption, raise_for_problem, server
from civicstack.errors import InputError

app = typer.Typer(help="Webhook subscriptions (tell us once): subscribe, list, attempts, replay.")

OrgOption = Annotated[
    str | None, typer.Option("--org", help="The organisation (a registered relying party).")
]


def _json(response: Any) -> Any:
    raise_for_problem(response)
    return response.json()


@app.command("subscribe")
def subscribe(
    *,
    org: Annotated[str, typer.Option("--org", help="The organisation subscribing.")],
    url: Annotated[str, typer.Option("--url", help="The endpoint (http or https).")],
    types: Annotated[str, typer.Option("--types", help="Event types, comma-separated.")],
    server_url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Subscribe an endpoint; prints its id and its whsec_ secret (shown once)."""
    wanted = [t.strip() for t in types.split(",") if t.strip()]
    if not wanted:
        raise InputError("invalid_request", "--types names at least one event type")
    with server(server_url, admin=True) as client:
        made = _json(
            client.post(
                "/events/subscriptions", json={"organisation": org, "url": url, "types": wanted}
            )
        )

    def human() -> None:
        console.print(Text(f"subscribed {made['id']} ({org}) to {', '.join(made['types'])}"))
        console.print(Text(f"secret (shown once): {made['secret']}"))

    emit({"id": made["id"], "secret": made["secret"]}, as_json, human)


@app.command("list")
def listed(
    org: OrgOption = None, server_url: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False
) -> None:
    """List subscriptions (of ``--org``)."""
    params = {"organisation": org} if org else {}
    with server(server_url, admin=True) as client:
        subs = _json(client.get("/events/subscriptions", params=params))

    def human() -> None:
        table = Table("id", "organisation", "url", "types", "state")
        for s in subs:
            state = f"disabled ({s['disabled_reason']})" if s["disabled_at"] else "live"
            table.add_row(s["id"], s["organisation"], Text(s["url"]), ", ".join(s["types"]), state)
        console.print(table)

    emit(subs, as_json, human)


@app.command("attempts")
def attempts(
    subscription: Annotated[
        str | None, typer.Argument(help="A subscription id (default: every one of --org).")
    ] = None,
    org: OrgOption = None,
    limit: Annotated[int, typer.Option(min=1, max=500)] = 50,
    server_url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """The newest delivery attempts."""
    params: dict[str, Any] = {"limit": limit}
    if subscription:
        params["subscription_id"] = subscription
    if org:
        params["organisation"] = org
    with server(server_url, admin=True) as client:
        found = _json(client.get("/events/attempts", params=params))

    def human() -> None:
        table = Table("delivery", "n", "status", "error", "ms")
        for a in found:
            status = "-" if a["status"] is None else str(a["status"])
            table.add_row(
                a["delivery_id"], str(a["number"]), status, Text(a["error"]), str(a["duration_ms"])
            )
        console.print(table)

    emit(found, as_json, human)


@app.command("deliveries")
def deliveries(
    subscription: Annotated[str | None, typer.Argument(help="A subscription id.")] = None,
    org: OrgOption = None,
    state: Annotated[str | None, typer.Option(help="dead: the dead letters.")] = None,
    server_url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """The newest deliveries (``--state dead``: dead letters)."""
    params: dict[str, Any] = {}
    if subscription:
        params["subscription_id"] = subscription
    if org:
        params["organisation"] = org
    if state:
        params["state"] = state
    with server(server_url, admin=True) as client:
        found = _json(client.get("/events/deliveries", params=params))

    def human() -> None:
        table = Table("webhook-id", "type", "state", "attempts", "last")
        for d in found:
            last = d["last_error"] or ("" if d["last_status"] is None else str(d["last_status"]))
            table.add_row(d["id"], d["type"], d["state"], str(d["attempts"]), Text(last))
        console.print(table)

    emit(found, as_json, human)


@app.command("test")
def send_test(
    subscription: Annotated[str, typer.Argument(help="The subscription id.")],
    server_url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Send a test event to one endpoint."""
    with server(server_url, admin=True) as client:
        sent = _json(client.post(f"/events/subscriptions/{subscription}/test"))
    emit(sent, as_json, lambda: console.print(Text(f"test event {sent['event_id']} queued")))


@app.command("replay")
def replay(
    deliveries: Annotated[
        list[str] | None, typer.Argument(help="Dead letters' webhook ids (msg_...).")
    ] = None,
    subscription: Annotated[
        str | None, typer.Option("--subscription", help="Every dead letter of this endpoint.")
    ] = None,
    server_url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Deliver dead letters again."""
    body: dict[str, Any] = {"delivery_ids": list(deliveries or [])}
    if subscription:
        body["subscription_id"] = subscription
    with server(server_url, admin=True) as client:
        done = _json(client.post("/events/replay", json=body))
    emit(done, as_json, lambda: console.print(Text(f"{done['replayed']} dead letters replayed")))


@app.command("rotate-secret")
def rotate_secret(
    subscription: Annotated[str, typer.Argument(help="The subscription id.")],
    server_url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """A new secret (the old one signs beside it for a day)."""
    with server(server_url, admin=True) as client:
        done = _json(client.post(f"/events/subscriptions/{subscription}/rotate-secret"))
    emit(done, as_json, lambda: console.print(Text(f"new secret: {done['secret']}")))


@app.command("signing-key")
def signing_key(
    subscription: Annotated[str, typer.Argument(help="The subscription id.")],
    server_url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Sign with v1a (Ed25519) too; prints the whpk_ public key to verify with."""
    with server(server_url, admin=True) as client:
        done = _json(client.post(f"/events/subscriptions/{subscription}/signing-key"))
    emit(done, as_json, lambda: console.print(Text(f"v1a public key: {done['public_key']}")))
