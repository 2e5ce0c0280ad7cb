"""``civic wallet consents`` and ``civic wallet consent give|refuse|withdraw ID``.

The wallet talks to the platform's consent service (``--server``/``CIVIC_SERVER``): it pulls
its inbox by presenting its PID (disclosing only the personal administrative number and the
issuing country) with a nonce the service hands out, shows the consent screen (who asks, their
registered purpose and whether they are registered, the provider, exactly which data, for how
long, how often), and signs the answer with the key its PID is bound to. It keeps its own copy
of every consent it signed.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import httpx
import typer
from rich.text import Text

from civicstack.cli import _local
from civicstack.cli._input import unique_prefix
from civicstack.cli._local import passphrase, wallet_dir
from civicstack.cli._output import JsonOption, console, emit, err_console
from civicstack.cli._server import DEFAULT_SERVER, ServerOption, raise_for_problem, server
from civicstack.cli.wallet_vp import trusted_registry
from civicstack.consent import CATEGORIES, PURPOSES, ConsentRequest, Decision
from civicstack.errors import CivicError, InputError
from civicstack.wallet import Wallet
from civicstack.wallet.consents import (
    Post,
    answer_request,
    pull_inbox,
    requester_standing,
    withdraw_consent,
)

app = typer.Typer()
consent_app = typer.Typer(help="Give, refuse or withdraw a consent to share your data.")


def _json(response: httpx.Response) -> Any:
    raise_for_problem(response)
    return response.json()


def _post(client: httpx.Client) -> Post:
    """POST a JSON body (or none) to the platform; the success's JSON."""
    return lambda path, body: _json(client.post(path, json=body))


def _pull(wallet: Wallet, client: httpx.Client) -> dict[str, Any]:
    """The inbox: pending requests and the citizen's consents, PID-authenticated."""
    return pull_inbox(wallet, _post(client))


def _day(ts: int) -> str:
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d")


def _summary(item: dict[str, Any]) -> dict[str, Any]:
    return {
        k: item.get(k)
        for k in (
            "id",
            "requester",
            "provider",
            "purpose",
            "categories",
            "frequency",
            "valid_days",
            "valid_until",
            "state",
            "created_at",
        )
        if k in item
    }


@app.command("consents")
def consents(url: ServerOption = DEFAULT_SERVER, as_json: JsonOption = False) -> None:
    """Your consents and the requests waiting for your answer (pulled from the platform)."""
    wallet = Wallet.open(wallet_dir(), passphrase())
    with server(url) as client:
        inbox = _pull(wallet, client)
    given = [_summary(r) for r in wallet.consents()]
    pending = [_summary(r) for r in inbox.get("pending", [])]

    def human() -> None:
        console.print(Text("Consents you gave", style="bold"))
        for c in given:
            console.print(
                Text(
                    f"  {c['id'][:10]}  {c['state']:<9} {c['requester']} <- {c['provider']}"
                    f"  {c['purpose']}"
                )
            )
        console.print(Text("Waiting for your answer", style="bold"))
        for p in pending:
            console.print(
                Text(
                    f"  {p['id'][:10]}  {p['requester']} asks {p['provider']} for "
                    + ", ".join(p["categories"])
                )
            )
        if pending:
            console.print(Text("answer with `civic wallet consent give|refuse ID`"))

    emit({"given": given, "pending": pending}, as_json, human)


def _screen(item: dict[str, Any], status: str, action: str, registered_purpose: str | None) -> None:
    """The consent screen, on stderr."""
    err_console.print(Text.assemble((item["requester"], "bold"), f" asks to {action} your data"))
    err_console.print(Text(f"  registration: {status}"))
    err_console.print(
        Text(
            f"  purpose: {item['purpose']}"
            + (f" - {registered_purpose}" if registered_purpose else "")
        )
    )
    if item.get("dpv_purpose"):
        err_console.print(
            Text(f"  ({item['dpv_purpose']}: {PURPOSES.get(item['dpv_purpose'], '')})")
        )
    err_console.print(Text(f"  from: {item['provider']}"))
    err_console.print(Text("  exactly this data:"))
    for category in item["categories"]:
        err_console.print(Text(f"    - {CATEGORIES.get(category, category)} ({category})"))
    if "valid_days" in item:
        err_console.print(Text(f"  for: {item['valid_days']} days"))
    else:
        err_console.print(Text(f"  valid until: {_day(int(item['valid_until']))}"))
    how = "once (one access)" if item["frequency"] == "once" else "until you withdraw it"
    err_console.print(Text(f"  how often: {how}"))


def _purpose_text(wallet: Wallet, url: str, item: dict[str, Any]) -> tuple[str, str | None]:
    """Whether the requester is registered now, checked against the platform's trust registry
    under the wallet's own trust anchor; and the registered purpose's description."""
    registry = trusted_registry(wallet, url, None)
    standing = requester_standing(registry, item["requester"], item["purpose"], now=wallet.now())
    return standing.describe(), standing.purpose_description


def _agree(yes: bool, question: str) -> bool:
    if yes:
        err_console.print("confirmed (--yes)")
        return True
    if not _local.interactive():
        raise InputError("invalid_request", "answer with --yes when not on a terminal")
    try:
        return bool(typer.confirm(question, default=False, err=True))
    except typer.Abort:
        return False


def _answer(decision: Decision, request_id: str, url: str, yes: bool, as_json: bool) -> None:
    wallet = Wallet.open(wallet_dir(), passphrase())
    with server(url) as client:
        inbox = _pull(wallet, client)
        pending = {r["id"]: r for r in inbox.get("pending", [])}
        key = unique_prefix(request_id, pending, "consent request")
        if key not in pending:
            raise CivicError("not_found", f"no pending consent request {request_id!r}")
        chosen = pending[key]
        ConsentRequest.from_json(chosen)  # parsed strictly before the screen shows it
        status, description = _purpose_text(wallet, url, chosen)
        _screen(
            chosen, status, "fetch" if decision == "given" else "fetch (you refuse)", description
        )
        question = "Give this consent?" if decision == "given" else "Refuse this request?"
        if not _agree(yes, question):
            raise CivicError("consent_declined", "nothing was signed or sent")
        record = answer_request(wallet, _post(client), chosen, decision)

    def human() -> None:
        console.print(Text(f"consent {record['id']}: {record['state']}", style="bold"))

    emit(_summary(record), as_json, human)


YesOption = Annotated[bool, typer.Option("--yes", help="Skip the prompt (the screen is shown).")]


@consent_app.command("give")
def give(
    request_id: Annotated[str, typer.Argument(help="The request's id (or its unique start).")],
    url: ServerOption = DEFAULT_SERVER,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Give the consent a request asks for, after the consent screen."""
    _answer("given", request_id, url, yes, as_json)


@consent_app.command("refuse")
def refuse(
    request_id: Annotated[str, typer.Argument(help="The request's id (or its unique start).")],
    url: ServerOption = DEFAULT_SERVER,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Refuse a request, after the consent screen (the refusal is recorded, signed)."""
    _answer("refused", request_id, url, yes, as_json)


@consent_app.command("withdraw")
def withdraw(
    consent_id: Annotated[str, typer.Argument(help="The consent's id (or its unique start).")],
    url: ServerOption = DEFAULT_SERVER,
    yes: YesOption = False,
    as_json: JsonOption = False,
) -> None:
    """Withdraw a consent you gave, effective at once (signed by the key you gave it with)."""
    wallet = Wallet.open(wallet_dir(), passphrase())
    kept = {r["id"]: r for r in wallet.consents()}
    key = unique_prefix(consent_id, kept, "consent")
    if key not in kept:
        raise CivicError("consent_not_found", f"the wallet keeps no consent {consent_id!r}")
    record = kept[key]
    _screen(record, "-", "stop fetching", None)
    if not _agree(yes, "Withdraw this consent?"):
        raise CivicError("consent_declined", "nothing was signed or sent")
    with server(url) as client:
        after = withdraw_consent(wallet, _post(client), record)
    emit(
        _summary(after),
        as_json,
        lambda: console.print(Text(f"consent {after['id']}: {after['state']}", style="bold")),
    )
