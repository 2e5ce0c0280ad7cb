"""``civic wallet report-change``, ``civic wallet consent invite`` and ``civic wallet electoral``.

Tell us once from the citizen's wallet, the way ``civic wallet consent give`` presents and
signs: the wallet takes a nonce from the change service (``--server``/``CIVIC_SERVER``), shows
the screen (what the report says, what the PID presentation discloses, who will be told),
then presents its PID to the service and signs the change with the key that PID is bound to
(``civicstack-change+jwt``). ``--yes`` skips the question, never the screen; without a
terminal nothing is read from a pipe as consent.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import typer
from rich.text import Text

from civicstack.changes import PROVIDER, parse_change
from civicstack.cli._local import passphrase, wallet_dir
from civicstack.cli._output import JsonOption, console, emit, err_console
from civicstack.cli._server import DEFAULT_SERVER, ServerOption, raise_for_problem, server
from civicstack.cli.wallet_consents import YesOption, _agree, consent_app
from civicstack.consent import CATEGORIES
from civicstack.credential_types import PID_VCT
from civicstack.errors import CivicError
from civicstack.wallet import Wallet
from civicstack.wallet import changes as reporting

app = typer.Typer()
electoral_app = typer.Typer(help="Your standing on the electoral roll; opt out or back in.")
_WHO = ("personal_administrative_number", "issuing_country")


def _json(response: httpx.Response) -> Any:
    raise_for_problem(response)
    return response.json()


def _change(kind: str, **given: str | None) -> dict[str, str]:
    fields = {k: v for k, v in given.items() if v is not None}
    parsed = parse_change({"kind": kind, **fields})  # invalid_change before anything is sent
    return parsed.to_json()


def _screen(change: dict[str, str], disclosed: tuple[str, ...]) -> None:
    """The report screen, on stderr: what the report says and what leaves the device."""
    parsed = parse_change(change)
    err_console.print(Text.assemble(("Report a change", "bold"), f": {parsed.kind}"))
    for name, value in parsed.fields.items():
        err_console.print(Text(f"  {name}: {value}"))
    err_console.print(Text(f"  to: the platform's change service ({PROVIDER}), signed by you"))
    err_console.print(Text("  your PID shows: " + ", ".join(disclosed)))
    if parsed.category is not None:
        shown = CATEGORIES.get(parsed.category, parsed.category)
        err_console.print(
            Text(
                f"  told: the organisations whose consent covers {shown} ({parsed.category}),"
                " and your electoral registration officer unless you opted out"
            )
        )
    else:
        err_console.print(Text("  told: every organisation subscribed (public register data)"))


def _report(change: dict[str, str], url: str, yes: bool, as_json: bool) -> None:
    wallet = Wallet.open(wallet_dir(), passphrase())
    _screen(change, reporting.disclosed_for(change["kind"]))
    if not _agree(yes, "Sign and send this report?"):
        raise CivicError("consent_declined", "nothing was signed or sent")
    with server(url) as client:
        status = reporting.report_change(
            wallet, lambda path, body: _json(client.post(path, json=body)), change
        )
    emit(
        status,
        as_json,
        lambda: console.print(Text(f"change {status['id']}: {status['summary']}", style="bold")),
    )


UrlOption = ServerOption


@app.command("report-change")
def report_change(  # noqa: PLR0917 - typer: one parameter per option
    kind: Annotated[str, typer.Argument(help="address, name, contact or registered-office")],
    uprn: Annotated[str | None, typer.Option(help="The new address's UPRN.")] = None,
    given_name: Annotated[str | None, typer.Option(help="Your new given name.")] = None,
    family_name: Annotated[str | None, typer.Option(help="Your new family name.")] = None,
    email: Annotated[str | None, typer.Option(help="Your new email address.")] = None,
    phone: Annotated[str | None, typer.Option(help="Your new telephone number.")] = None,
    company: Annotated[
        str | None, typer.Option(help="registered-office: the company's number (you an officer).")
    ] = None,
    url: UrlOption = DEFAULT_SERVER,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Tell us once: report a change, signed by your wallet, after the screen."""
    if kind not in ("address", "name", "contact", "registered-office"):
        raise CivicError("invalid_change", "report address, name, contact or registered-office")
    change = _change(
        kind,
        uprn=uprn,
        given_name=given_name,
        family_name=family_name,
        email=email,
        phone=phone,
        company=company,
    )
    _report(change, url, yes, as_json)


@consent_app.command("invite")
def invite(
    requester: Annotated[str, typer.Argument(help="The organisation to ask you (its name).")],
    purpose: Annotated[str, typer.Option(help="Its registered purpose id.")],
    provider: Annotated[str, typer.Option(help="Who holds the data.")] = PROVIDER,
    url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Ask an organisation to ask you for consent (e.g. to tell it of your changes): the
    request lands in your inbox; answer it with `civic wallet consent give ID`."""
    wallet = Wallet.open(wallet_dir(), passphrase())
    with server(url) as client:
        issued = _json(client.post("/consents/nonces"))
        presentation, _ = wallet.prove_and_sign(
            vct=PID_VCT, disclose=_WHO, aud=issued["aud"], nonce=issued["nonce"]
        )
        request: dict[str, Any] = _json(
            client.post(
                "/consents/invitations",
                json={
                    "presentation": presentation,
                    "nonce": issued["nonce"],
                    "requester": requester,
                    "provider": provider,
                    "purpose": purpose,
                },
            )
        )
    emit(
        request,
        as_json,
        lambda: console.print(
            Text(f"request {request['id']} from {requester}: give it with "
                 f"`civic wallet consent give {request['id'][:10]}`")
        ),
    )  # fmt: skip


def _electoral(path: str, url: str, as_json: bool) -> None:
    wallet = Wallet.open(wallet_dir(), passphrase())
    with server(url) as client:
        issued = _json(client.post("/changes/nonces"))
        presentation, _ = wallet.prove_and_sign(
            vct=PID_VCT, disclose=_WHO, aud=issued["aud"], nonce=issued["nonce"]
        )
        standing: dict[str, Any] = _json(
            client.post(
                f"/changes/electoral/{path}",
                json={"presentation": presentation, "nonce": issued["nonce"]},
            )
        )

    def human() -> None:
        where = (
            f"registered to vote in {standing['authority']} (UPRN {standing['uprn']})"
            if standing["registered"]
            else "not on the electoral roll"
        )
        opted = "; you opted out of automatic registration" if standing["opted_out"] else ""
        console.print(Text(where + opted))

    emit(standing, as_json, human)


@electoral_app.command("status")
def electoral_status(url: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False) -> None:
    """Whether you are on the electoral roll, where, and whether you opted out."""
    _electoral("standing", url, as_json)


@electoral_app.command("opt-out")
def electoral_opt_out(
    url: ServerOption = DEFAULT_SERVER, yes: YesOption = False, as_json: JsonOption = False
) -> None:
    """Opt out of automatic voter registration: off the roll at once, kept off when you move."""
    err_console.print(Text("You will be taken off the electoral roll and kept off it."))
    if not _agree(yes, "Opt out?"):
        raise CivicError("consent_declined", "nothing was sent")
    _electoral("opt-out", url, as_json)


@electoral_app.command("opt-in")
def electoral_opt_in(url: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False) -> None:
    """Withdraw your opt-out: back on the roll the opt-out took you off."""
    _electoral("opt-in", url, as_json)
