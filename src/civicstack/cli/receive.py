"""``civic wallet receive|deferred|apply``: the wallet speaks OpenID4VCI 1.0.

``receive`` takes a Credential Offer (by value or by reference), discovers the issuer, asks the
holder to accept it (``--yes`` for scripts) and for the Transaction Code (``--tx-code``),
redeems the Pre-Authorized Code, proves possession of fresh keys (the wallet signs the key
proofs; the keys never leave it), and stores the credential once its issuer's chain checks out.
It asks for ``--batch`` copies (default: the wallet's ``batch_size`` setting, 5), capped by the
issuer's ``batch_size``: each copy is bound to its own key, so that each relying party can be
shown a copy no other one saw (OpenID4VCI §8.2; see :mod:`civicstack.wallet.holder`).
A deferred issuance is kept (encrypted) in the wallet; ``--wait`` polls until it is decided,
``civic wallet deferred`` collects later. ``apply`` sends a citizen's application with proof
documents to an issuer and prints the offer to receive.

Which root does the wallet trust? The roots it pinned. With none pinned yet, ``--trust-root``
pins the given one (a root ``{"id","name","jwks"}`` or a trust export); otherwise the root the
issuer's JWT VC Issuer Metadata names is pinned on first use, and said so on stderr. Every
later credential must chain to a pinned root.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer
from rich.text import Text

from civicstack._crypto import json_dumps
from civicstack.cli._input import read_bytes, read_json, read_json_object, read_value
from civicstack.cli._local import interactive, passphrase, wallet_dir
from civicstack.cli._output import JsonOption, console, emit, err_console
from civicstack.cli._server import (
    DEFAULT_SERVER,
    ServerOption,
    raise_for_problem,
    unreachable,
)
from civicstack.cli.wallet import shown, type_name
from civicstack.cli.wallet_vp import say_pinned
from civicstack.errors import CivicError, InputError
from civicstack.fetch import HttpTransport
from civicstack.openid4vci.applications import MAX_DOCUMENT_BYTES
from civicstack.openid4vci.offers import DEFAULT_LIMITS as OFFER_LIMITS
from civicstack.openid4vci.offers import LOOPBACK_HTTP, UnsafeAllowHttp
from civicstack.trust import RootAuthority
from civicstack.wallet import StoredCredential, Wallet
from civicstack.wallet.openid4vci import (
    Deferred,
    IssuanceClient,
    Issued,
    PreparedOffer,
    keep_pending,
    store_issued,
)

app = typer.Typer()

WaitOption = Annotated[bool, typer.Option("--wait", help="Poll until a deferred issuance ends.")]
PollOption = Annotated[
    float | None,
    typer.Option("--poll-interval", help="Seconds between polls (default: the issuer's interval)."),
]
TimeoutOption = Annotated[int, typer.Option("--timeout", help="Give up waiting after seconds.")]
TrustRootOption = Annotated[
    str | None,
    typer.Option("--trust-root", help="Pin this root: JSON {id,name,jwks} or a trust export."),
]
AllowHttpOption = Annotated[
    bool, typer.Option("--allow-http", help="Accept http:// issuers beyond this machine.")
]
BatchOption = Annotated[
    int | None,
    typer.Option(
        "--batch",
        help="Copies to ask for, each with its own key (default: the wallet's setting, 5; "
        "at most the issuer's batch_size).",
    ),
]


def _open() -> Wallet:
    return Wallet.open(wallet_dir(), passphrase())


def _client(http: httpx.Client, allow_http: bool) -> IssuanceClient:
    policy = UnsafeAllowHttp() if allow_http else LOOPBACK_HTTP
    return IssuanceClient(HttpTransport(http), http=policy)


def _http() -> httpx.Client:
    # Redirects are not followed: every URL the wallet contacts is one it checked.
    return httpx.Client(timeout=30.0, follow_redirects=False)


# --- trust -------------------------------------------------------------------------------------


def _roots_from(value: Any) -> list[RootAuthority]:
    if isinstance(value, dict) and "roots" in value:
        value = value["roots"]
    items = value if isinstance(value, list) else [value]
    if not items:
        raise InputError("invalid_request", "--trust-root names no root")
    return [RootAuthority.from_json(item) for item in items]


def _store(
    client: IssuanceClient,
    wallet: Wallet,
    issued: Issued,
    *,
    key_ids: tuple[str, ...],
    issuer: str,
    trust_root: str | None,
    access_token: str,
    notification_endpoint: str | None,
) -> list[StoredCredential]:
    pin = _roots_from(read_json(trust_root, "--trust-root")) if trust_root is not None else []
    held, anchoring = store_issued(
        client,
        wallet,
        issued,
        key_ids=key_ids,
        issuer=issuer,
        access_token=access_token,
        notification_endpoint=notification_endpoint,
        pin=pin,
    )
    say_pinned(anchoring, issuer)
    return [held]


def _stored_json(c: StoredCredential) -> dict[str, Any]:
    return {
        "id": c.id,
        "vct": c.vct,
        "iss": c.iss,
        "iat": c.iat,
        "exp": c.exp,
        "copies": len(c.copies),
        "claims": dict(c.claims),
    }


def _show_stored(stored: list[StoredCredential]) -> None:
    for c in stored:
        copies = f" ({len(c.copies)} copies)" if len(c.copies) > 1 else ""
        console.print(Text(f"Stored {type_name(c.vct)} from {c.iss} as {c.id}{copies}"))
        for name, value in c.claims.items():
            console.print(Text(f"  {name}: {shown(value)}"))


# --- receive -----------------------------------------------------------------------------------


def _consent(prepared: PreparedOffer, yes: bool) -> None:
    who = prepared.issuer.display_name or prepared.offer.credential_issuer
    what = type_name(prepared.vct or prepared.configuration_id)
    err_console.print(
        Text.assemble(
            (who, "bold"), f" ({prepared.offer.credential_issuer}) offers you a credential: {what}"
        )
    )
    if yes:
        err_console.print("accepted (--yes)")
        return
    if not interactive():
        raise InputError("invalid_request", "accept the offer with --yes when not on a terminal")
    try:
        accepted = bool(typer.confirm("Accept this credential?", default=False, err=True))
    except typer.Abort:
        accepted = False
    if not accepted:
        raise CivicError("consent_declined", "the offer was declined")


def _tx_code(prepared: PreparedOffer, given: str | None) -> str | None:
    shape = prepared.offer.tx_code
    if shape is None:
        return None
    if given is not None:
        return shape.check(given)
    if not interactive():
        raise InputError("invalid_request", "this offer needs its transaction code: --tx-code")
    if shape.description:
        err_console.print(Text(shape.description))
    try:
        entered = str(typer.prompt("Transaction code", err=True))
    except typer.Abort as exc:
        raise InputError("invalid_request", "no transaction code given") from exc
    return shape.check(entered.strip())


def _wait(
    client: IssuanceClient, deferred: Deferred, poll: float | None, timeout: int
) -> Issued | Deferred:
    deadline = time.monotonic() + timeout
    outcome: Issued | Deferred = deferred
    while isinstance(outcome, Deferred):
        pause = poll if poll is not None else outcome.interval
        if time.monotonic() + pause > deadline:
            return outcome
        time.sleep(max(0.0, pause))
        outcome = client.collect(outcome)
    return outcome


@app.command("receive")
def receive(
    offer: Annotated[str, typer.Argument(help="The credential offer URI, @FILE, or - for stdin.")],
    *,
    tx_code: Annotated[
        str | None, typer.Option("--tx-code", help="The transaction code sent to you.")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Accept without asking (scripts).")] = False,
    wait: WaitOption = False,
    poll_interval: PollOption = None,
    timeout: TimeoutOption = 600,
    trust_root: TrustRootOption = None,
    allow_http: AllowHttpOption = False,
    batch: BatchOption = None,
    as_json: JsonOption = False,
) -> None:
    """Receive a credential over OpenID4VCI from a credential offer, and store it."""
    text = read_value(offer, "the offer", limit=OFFER_LIMITS.offer_bytes)
    wallet = _open()
    wanted = wallet.check_batch_size(batch) if batch is not None else wallet.settings.batch_size
    with _http() as http:
        client = _client(http, allow_http)
        # 1.-2. the offer and the issuer's metadata
        prepared = client.discover(client.resolve(text))
        _consent(prepared, yes)
        # 3.-6. token, nonce, key proofs by the wallet (one fresh key per copy), credentials
        key_ids = wallet.new_copy_keys(min(wanted, prepared.issuer.batch_size))
        try:
            token, outcome = client.receive(
                prepared,
                tx_code=_tx_code(prepared, tx_code),
                sign=lambda aud, nonce: wallet.sign_key_proofs(key_ids, audience=aud, nonce=nonce),
            )
            if isinstance(outcome, Deferred) and wait:
                outcome = _wait(client, outcome, poll_interval, timeout)
        except CivicError:
            wallet.discard_copy_keys(key_ids)
            raise
        if isinstance(outcome, Deferred):
            data = _keep_pending(wallet, outcome, key_ids)
            emit(data, as_json, lambda: _show_pending(data))
            return
        stored = _store(
            client,
            wallet,
            outcome,
            key_ids=key_ids,
            issuer=prepared.offer.credential_issuer,
            trust_root=trust_root,
            access_token=token,
            notification_endpoint=prepared.issuer.notification_endpoint,
        )
    data = {"status": "stored", "credentials": [_stored_json(c) for c in stored]}
    emit(data, as_json, lambda: _show_stored(stored))


def _keep_pending(wallet: Wallet, deferred: Deferred, key_ids: tuple[str, ...]) -> dict[str, Any]:
    # The copy keys wait with the transaction: the credentials will be bound to them.
    pending_id = keep_pending(wallet, deferred, key_ids, now=int(time.time()))
    return {
        "status": "pending",
        "pending_id": pending_id,
        "credential_issuer": deferred.credential_issuer,
        "interval": deferred.interval,
    }


def _pending_keys(record: dict[str, Any]) -> tuple[str, ...]:
    keys = record.get("copy_keys", [])
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
        raise CivicError("wallet_corrupted", "a pending issuance record is damaged")
    return tuple(keys)


def _show_pending(data: dict[str, Any]) -> None:
    console.print(
        Text(
            f"{data['credential_issuer']} is reviewing your application; collect the credential "
            f"later with `civic wallet deferred` (kept as {data['pending_id']})"
        )
    )


@app.command("deferred")
def deferred(
    *,
    wait: WaitOption = False,
    poll_interval: PollOption = None,
    timeout: TimeoutOption = 600,
    trust_root: TrustRootOption = None,
    allow_http: AllowHttpOption = False,
    as_json: JsonOption = False,
) -> None:
    """Collect deferred credentials (OpenID4VCI §9) whose issuers have decided."""
    wallet = _open()
    results: list[dict[str, Any]] = []
    with _http() as http:
        client = _client(http, allow_http)
        for record in wallet.pending():
            pending = Deferred.from_json(record)
            try:
                outcome: Issued | Deferred = client.collect(pending)
                if isinstance(outcome, Deferred) and wait:
                    outcome = _wait(client, outcome, poll_interval, timeout)
            except CivicError as exc:
                if exc.code not in ("credential_request_denied", "invalid_transaction_id"):
                    raise
                wallet.discard_copy_keys(_pending_keys(record))
                wallet.drop_pending(record["id"])
                results.append(
                    {
                        "pending_id": record["id"],
                        "status": "refused",
                        "error": exc.code,
                        "detail": exc.detail,
                    }
                )
                continue
            if isinstance(outcome, Deferred):
                results.append({"pending_id": record["id"], "status": "pending"})
                continue
            stored = _store(
                client,
                wallet,
                outcome,
                key_ids=_pending_keys(record),
                issuer=pending.credential_issuer,
                trust_root=trust_root,
                access_token=pending.access_token,
                notification_endpoint=pending.notification_endpoint,
            )
            wallet.drop_pending(record["id"])
            results.append(
                {
                    "pending_id": record["id"],
                    "status": "stored",
                    "credentials": [_stored_json(c) for c in stored],
                }
            )

    def human() -> None:
        if not results:
            console.print("Nothing is pending.")
        for r in results:
            if r["status"] == "stored":
                console.print(Text(f"{r['pending_id']}: stored"))
                for c in r["credentials"]:
                    console.print(Text(f"  {type_name(c['vct'])} as {c['id']}"))
            elif r["status"] == "refused":
                console.print(Text(f"{r['pending_id']}: refused ({r['detail']})"))
            else:
                console.print(Text(f"{r['pending_id']}: still under review"))

    emit(results, as_json, human)


# --- apply ---------------------------------------------------------------------------------------


@app.command("apply")
def apply(
    *,
    issuer: Annotated[str, typer.Option("--issuer", help="The authority to apply to.")],
    vct: Annotated[str, typer.Option(help="The credential type, e.g. urn:eudi:pid:1.")],
    claims: Annotated[str, typer.Option(help="Your claims: a JSON object, @FILE, or -.")],
    document: Annotated[
        list[Path] | None,
        typer.Option("--document", help="A proof document (PDF, PNG, JPEG); repeat."),
    ] = None,
    server_url: ServerOption = DEFAULT_SERVER,
    as_json: JsonOption = False,
) -> None:
    """Apply to an authority for a credential, with proof documents.

    Prints the application and the offer (with its transaction code) to `receive`.
    """
    given = read_json_object(claims, "--claims")
    # Text fields go as file-less parts, so the body is multipart even without documents.
    parts: list[tuple[str, tuple[str | None, bytes | str]]] = [
        ("vct", (None, vct)),
        ("claims", (None, json_dumps(given).decode())),
    ]
    for path in document or []:
        content = read_bytes(str(path), "--document", limit=MAX_DOCUMENT_BYTES)
        parts.append(("documents", ("document", content)))
    with httpx.Client(base_url=server_url.rstrip("/"), timeout=60.0) as http:
        try:
            response = http.post(f"/issuers/{quote(issuer, safe='')}/applications", files=parts)
        except httpx.TransportError as exc:
            raise unreachable(server_url, exc) from exc
        raise_for_problem(response)
        result: dict[str, Any] = response.json()

    def human() -> None:
        a = result["application"]
        console.print(Text(f"application {a['id']}: {a['status']}"))
        if result["offer"]:
            typer.echo(result["offer"])
            console.print(Text(f"transaction code: {result['tx_code']}"), style="dim")
        elif a.get("reason"):
            console.print(Text(f"reason: {a['reason']}"))

    emit(result, as_json, human)
