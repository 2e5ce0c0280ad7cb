"""``civic authority offer|offers|applications|application|document|approve|reject``.

Officers' commands against a running platform (``--server``, default http://127.0.0.1:8000),
authenticated with the admin token (``CIVIC_ADMIN_TOKEN`` or the token ``civic up`` wrote into
the data directory). Each is a thin call to the issuers' admin API
(:mod:`civicstack.api.issuers`); the output is the API's JSON with ``--json``.
"""

from __future__ import annotations

import getpass
import hashlib
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table
from rich.text import Text

from civicstack.cli._input import read_json_object
from civicstack.cli._output import JsonOption, console, emit
from civicstack.cli._server import DEFAULT_SERVER, ServerOption, raise_for_problem, server
from civicstack.cli.wallet import shown, type_name, when
from civicstack.errors import CivicError, InputError

app = typer.Typer()

IssuerOption = Annotated[str, typer.Option("--issuer", help="The issuing authority's name.")]


def _path(*parts: str) -> str:
    return "/issuers/" + "/".join(quote(p, safe="") for p in parts)


def _reviewer(given: str | None) -> str:
    if given:
        return given
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in this environment
        return "officer"


@app.command("offer")
def offer(
    *,
    issuer: IssuerOption,
    vct: Annotated[str, typer.Option(help="The credential type, e.g. urn:eudi:pid:1.")],
    claims: Annotated[str, typer.Option(help="The claims: a JSON object, @FILE, or -.")],
    no_tx_code: Annotated[
        bool, typer.Option("--no-tx-code", help="Offer without a transaction code.")
    ] = False,
    by_reference: Annotated[
        bool, typer.Option("--by-reference", help="Offer by reference (credential_offer_uri).")
    ] = False,
    expires_in: Annotated[
        int, typer.Option("--expires-in", help="Seconds until the offer expires.")
    ] = 900,
    server_url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Create an OpenID4VCI credential offer; prints the offer URI and the transaction code.

    With --json, prints exactly {"offer": "openid-credential-offer://?...", "tx_code": ...}.
    With --by-reference it also prints the page to show the citizen (a QR code and links).
    """
    body = {
        "vct": vct,
        "claims": read_json_object(claims, "--claims"),
        "tx_code": not no_tx_code,
        "by_reference": by_reference,
        "expires_in": expires_in,
    }
    with server(server_url, admin=True) as client:
        response = client.post(_path(issuer, "admin", "offers"), json=body)
        raise_for_problem(response)
        created = response.json()
    data = {"offer": created["offer"], "tx_code": created["tx_code"]}

    def human() -> None:
        typer.echo(created["offer"])
        if created["tx_code"]:
            console.print(
                Text(f"transaction code: {created['tx_code']} (send it through another channel)"),
                style="dim",
            )
        if created.get("page"):
            console.print(Text(f"page to show the citizen: {created['page']}"), style="dim")

    emit(data, as_json, human)


@app.command("offers")
def offers(
    issuer: IssuerOption, server_url: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False
) -> None:
    """List an issuer's offers and what became of them."""
    with server(server_url, admin=True) as client:
        response = client.get(_path(issuer, "admin", "offers"))
        raise_for_problem(response)
        listed: list[dict[str, Any]] = response.json()

    def human() -> None:
        table = Table("id", "type", "state", "created", "expires", "credentials")
        for o in listed:
            table.add_row(
                o["id"],
                type_name(o["credential_configuration_id"]),
                o["state"],
                when(o["created_at"]),
                when(o["expires_at"]),
                ", ".join(o["credential_ids"]) or "-",
            )
        console.print(table)

    emit(listed, as_json, human)


@app.command("applications")
def applications(
    issuer: IssuerOption,
    status: Annotated[
        str | None, typer.Option(help="Only pending, approved or rejected ones.")
    ] = "pending",
    all_: Annotated[bool, typer.Option("--all", help="Every application.")] = False,
    server_url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """The review queue: citizens' applications (pending ones by default)."""
    params = {} if all_ or status is None else {"status": status}
    with server(server_url, admin=True) as client:
        response = client.get(_path(issuer, "admin", "applications"), params=params)
        raise_for_problem(response)
        listed: list[dict[str, Any]] = response.json()

    def human() -> None:
        if not listed:
            console.print("No applications.")
            return
        table = Table("id", "type", "status", "submitted", "documents", "findings")
        for a in listed:
            table.add_row(
                a["id"],
                type_name(a["vct"]),
                a["status"],
                when(a["submitted_at"]),
                str(len(a["documents"])),
                Text("; ".join(f"{f['outcome']}: {f['detail']}" for f in a["findings"]) or "-"),
            )
        console.print(table)

    emit(listed, as_json, human)


def _show_application(a: dict[str, Any]) -> None:
    console.print(Text(f"{type_name(a['vct'])} application {a['id']}: {a['status']}"))
    console.print(Text(f"submitted {when(a['submitted_at'])}"))
    if a.get("reviewer"):
        console.print(Text(f"decided by {a['reviewer']} at {when(a.get('decided_at'))}"))
    if a.get("reason"):
        console.print(Text(f"reason: {a['reason']}"))
    if "claims" in a:
        table = Table("claim", "value")
        for name, value in a["claims"].items():
            table.add_row(Text(name), Text(shown(value)))
        console.print(table)
    for d in a["documents"]:
        console.print(Text(f"document {d['sha256']} ({d['media_type']}, {d['size']} bytes)"))
    for f in a["findings"]:
        console.print(Text(f"check {f['check']}: {f['outcome']} - {f['detail']}"))


@app.command("application")
def application(
    application_id: Annotated[str, typer.Argument(help="The application's id.")],
    issuer: IssuerOption,
    server_url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Show one application: its claims, its documents' hashes, the automatic checks."""
    with server(server_url, admin=True) as client:
        response = client.get(_path(issuer, "admin", "applications", application_id))
        raise_for_problem(response)
        shown_app: dict[str, Any] = response.json()
    emit(shown_app, as_json, lambda: _show_application(shown_app))


@app.command("document")
def document(
    application_id: Annotated[str, typer.Argument(help="The application's id.")],
    sha256: Annotated[str, typer.Argument(help="The document's SHA-256 (hex).")],
    *,
    issuer: IssuerOption,
    out: Annotated[Path, typer.Option("--out", help="Where to write the document.")],
    server_url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Download a proof document of an application (checked against its hash)."""
    with server(server_url, admin=True) as client:
        response = client.get(
            _path(issuer, "admin", "applications", application_id, "documents", sha256)
        )
        raise_for_problem(response)
        content = response.content
    if hashlib.sha256(content).hexdigest() != sha256:
        raise CivicError("invalid_document", "the downloaded document does not match its hash")
    if out.exists():
        raise InputError("conflict", f"{out} exists already")
    out.write_bytes(content)
    data = {"path": str(out), "sha256": sha256, "size": len(content)}
    emit(data, as_json, lambda: console.print(Text(f"wrote {out} ({len(content)} bytes)")))


@app.command("approve")
def approve(
    application_id: Annotated[str, typer.Argument(help="The application's id.")],
    issuer: IssuerOption,
    reviewer: Annotated[str | None, typer.Option(help="Who approves (default: you).")] = None,
    server_url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Approve an application: the citizen's wallet then collects the credential."""
    with server(server_url, admin=True) as client:
        response = client.post(
            _path(issuer, "admin", "applications", application_id, "approve"),
            json={"reviewer": _reviewer(reviewer)},
        )
        raise_for_problem(response)
        decided: dict[str, Any] = response.json()
    emit(decided, as_json, lambda: console.print(Text(f"approved {decided['id']}")))


@app.command("reject")
def reject(
    application_id: Annotated[str, typer.Argument(help="The application's id.")],
    *,
    issuer: IssuerOption,
    reason: Annotated[str, typer.Option(help="Why (the citizen is told).")],
    reviewer: Annotated[str | None, typer.Option(help="Who rejects (default: you).")] = None,
    server_url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Reject an application, saying why: the citizen's wallet is refused the credential."""
    with server(server_url, admin=True) as client:
        response = client.post(
            _path(issuer, "admin", "applications", application_id, "reject"),
            json={"reviewer": _reviewer(reviewer), "reason": reason},
        )
        raise_for_problem(response)
        decided: dict[str, Any] = response.json()
    emit(decided, as_json, lambda: console.print(Text(f"rejected {decided['id']}")))
