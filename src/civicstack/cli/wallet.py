"""``civic wallet``: the citizen's wallet on this device (``CIVIC_WALLET_DIR``).

The passphrase comes from ``CIVIC_WALLET_PASSPHRASE`` or a hidden prompt. Given a link
(``present <openid4vp request>``, ``receive <offer>``) the wallet follows the URLs in it and
checks them against that platform's trust registry; without one (``add``, ``present --rp``)
it checks against the local platform's (``CIVIC_DATA_DIR``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.table import Column, Table
from rich.text import Text

from civicstack._crypto import PublicKey, json_dumps
from civicstack.cli import _local
from civicstack.cli._input import (
    read_bytes,
    read_json,
    read_json_object,
    read_value,
    unique_prefix,
)
from civicstack.cli._local import local_platform, passphrase, wallet_dir
from civicstack.cli._output import JsonOption, console, emit, err_console
from civicstack.cli._server import LinkServerOption
from civicstack.cli.wallet_vp import present_request, warn_low_copies
from civicstack.credential_types import CREDENTIAL_TYPES
from civicstack.errors import InputError
from civicstack.wallet import (
    ConsentSummary,
    CredentialQuery,
    PresentationRecord,
    PresentationRequest,
    StoredCredential,
    UnsafeReuseCopies,
    Wallet,
    verify_document,
)
from civicstack.wallet.limits import DEFAULT_LIMITS as WALLET_LIMITS

app = typer.Typer(help="The holder wallet: keys, credentials, consent, history, signatures.")


def _open() -> Wallet:
    return Wallet.open(wallet_dir(), passphrase())


def when(ts: int | None) -> str:
    """A Unix time as an ISO 8601 UTC timestamp ('-' when absent)."""
    if ts is None:
        return "-"
    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def shown(value: Any) -> str:
    """A claim value as the holder reads it."""
    return value if isinstance(value, str) else json_dumps(value).decode()


def type_name(vct: str) -> str:
    """A credential type's display name, or its vct."""
    known = CREDENTIAL_TYPES.get(vct)
    return known.name if known is not None else vct


def _credential_json(c: StoredCredential, *, full: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": c.id,
        "vct": c.vct,
        "iss": c.iss,
        "received_at": c.received_at,
        "iat": c.iat,
        "exp": c.exp,
        "copies": len(c.copies),
        "unused_copies": c.unused_copies if c.own_keys else None,
    }
    if full:
        out["claims"] = dict(c.claims)
        out["disclosable"] = list(c.disclosable)
    return out


@app.command("init")
def init(
    alg: Annotated[str, typer.Option(help="Holder key algorithm: ES256 or EdDSA.")] = "ES256",
    as_json: JsonOption = False,
) -> None:
    """Create the wallet with a new holder key, sealed under a passphrase."""
    if alg not in ("ES256", "EdDSA"):
        raise InputError("unsupported_algorithm", "the holder key is ES256 or EdDSA")
    path = wallet_dir()
    wallet = Wallet.create(
        path, passphrase(confirm=True), alg="EdDSA" if alg == "EdDSA" else "ES256"
    )
    key = wallet.holder_key
    data = {"path": str(path), "alg": key.alg, "kid": key.thumbprint(), "jwk": key.to_jwk()}
    emit(
        data,
        as_json,
        lambda: console.print(f"Wallet created in {path}\nHolder key {key.alg} {key.thumbprint()}"),
    )


@app.command("key")
def key(as_json: JsonOption = False) -> None:
    """Show the holder's public key (issuers bind credentials to it)."""
    public = _open().holder_key
    data = {"alg": public.alg, "kid": public.thumbprint(), "jwk": public.to_jwk()}
    emit(data, as_json, lambda: console.print_json(json_dumps(public.to_jwk()).decode()))


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """List the credentials in the wallet."""
    credentials = _open().credentials()

    def human() -> None:
        if not credentials:
            console.print("The wallet holds no credentials yet.")
            return
        # The id is never wrapped or cut: it is what `show` and `remove` are given.
        width = max(len(c.id) for c in credentials)
        table = Table(
            Column("id", no_wrap=True, min_width=width), "type", "issuer", "received", "expires"
        )
        for c in credentials:
            table.add_row(c.id, type_name(c.vct), Text(c.iss), when(c.received_at), when(c.exp))
        console.print(table)

    emit([_credential_json(c) for c in credentials], as_json, human)


def _credential_id(wallet: Wallet, given: str) -> str:
    return unique_prefix(given, (c.id for c in wallet.credentials()), "credential")


@app.command("show")
def show(credential_id: str, as_json: JsonOption = False) -> None:
    """Show one credential: every claim it holds and what can be disclosed on its own."""
    wallet = _open()
    c = wallet.credential(_credential_id(wallet, credential_id))

    def human() -> None:
        console.print(f"[bold]{type_name(c.vct)}[/] ({c.vct})", highlight=False)
        console.print(Text(f"issued by {c.iss} at {when(c.iat)}, expires {when(c.exp)}"))
        table = Table("claim", "value")
        for name, value in c.claims.items():
            table.add_row(Text(name), Text(shown(value)))
        console.print(table)
        console.print(Text("disclosable one by one: " + ", ".join(c.disclosable)))

    emit(_credential_json(c, full=True), as_json, human)


@app.command("add")
def add(
    credential: Annotated[str, typer.Argument(help="The SD-JWT VC, @FILE, or - for stdin.")],
    as_json: JsonOption = False,
) -> None:
    """Store a credential issued to this wallet, after checking its issuer's accreditation."""
    text = read_value(credential, "the credential")
    wallet = _open()
    with local_platform() as platform:
        stored = wallet.add_credential(text, trust=platform.trust_registry())
    emit(
        _credential_json(stored),
        as_json,
        lambda: console.print(
            Text(f"Stored {type_name(stored.vct)} {stored.id} from {stored.iss}")
        ),
    )


@app.command("settings")
def settings(
    batch: Annotated[
        int | None,
        typer.Option("--batch", help="Copies to ask an issuer for, each with its own key."),
    ] = None,
    low_copies: Annotated[
        int | None,
        typer.Option("--low-copies", help="Warn when a credential's unused copies fall to this."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show (or change) the wallet's settings: how many copies of each credential to ask for,
    and when to warn that they run low."""
    wallet = _open()
    if batch is not None or low_copies is not None:
        chosen = wallet.change_settings(batch_size=batch, low_copies=low_copies)
    else:
        chosen = wallet.settings
    data = chosen.to_json()
    emit(
        data,
        as_json,
        lambda: console.print(
            f"batch size {chosen.batch_size} copies; warn at {chosen.low_copies} unused"
        ),
    )


@app.command("remove")
def remove(credential_id: str, as_json: JsonOption = False) -> None:
    """Delete a credential from the wallet."""
    wallet = _open()
    credential_id = _credential_id(wallet, credential_id)
    wallet.remove_credential(credential_id)
    emit({"removed": credential_id}, as_json, lambda: console.print(f"Removed {credential_id}"))


def render_consent(summary: ConsentSummary, registrar_name: str | None = None) -> None:
    """Show the holder who asks, under which registration and purpose, and exactly which
    claims and values would leave the device (on stderr, so stdout stays the presentation)."""
    err_console.print(
        Text.assemble(
            (summary.relying_party_name, "bold"),
            f" ({summary.relying_party}) asks for your data",
        )
    )
    registrar = f"{registrar_name} ({summary.registrar})" if registrar_name else summary.registrar
    err_console.print(Text(f"  registered by {registrar}, registration {summary.registration}"))
    err_console.print(
        Text(f"  purpose: {summary.purpose} - {summary.purpose_description}"),
    )
    err_console.print(Text(f"  sent to: {summary.aud}"))
    for item in summary.items:
        table = Table(
            "claim",
            "value",
            title=f"from your {type_name(item.vct)} issued by {item.issuer}",
            title_justify="left",
        )
        for claim in item.claims:
            table.add_row(Text(claim.path), Text(shown(claim.value)))
        for meta in item.metadata:
            table.add_row(
                Text(meta.path, style="dim"), Text(shown(meta.value) + "  (always sent)", "dim")
            )
        err_console.print(table)


def consent_answer(yes: bool, decline: bool) -> Callable[[], bool]:
    """The holder's answer to a consent screen: ``--yes``, ``--decline``, or asked at the
    terminal. Without a terminal and without either flag this refuses at once, before any
    request is read: end-of-input is never taken for an answer (it would spend the request)."""
    if yes and decline:
        raise InputError("invalid_request", "give --yes or --decline, not both")
    if not (yes or decline or _local.interactive()):
        raise InputError("invalid_request", "answer with --yes or --decline when not on a terminal")

    def answer() -> bool:
        if yes:
            err_console.print("consent given (--yes)")
            return True
        if decline:
            err_console.print("declined (--decline)")
            return False
        try:
            return bool(typer.confirm("Share exactly this?", default=False, err=True))
        except typer.Abort:
            return False

    return answer


def _queries(claims: str | None, vct: str | None, disclose: list[str]) -> Any:
    if claims is not None:
        if vct is not None or disclose:
            raise InputError("invalid_request", "give --claims, or --vct with --disclose")
        asked = read_json(claims, "--claims")
        if not isinstance(asked, dict) or not all(isinstance(v, list) for v in asked.values()):
            raise InputError("malformed", "--claims maps credential types to lists of claims")
        return asked
    if vct is None or not disclose:
        raise InputError("invalid_request", "say what to share: --claims, or --vct with --disclose")
    paths = [p.strip() for item in disclose for p in item.split(",") if p.strip()]
    return [CredentialQuery(vct, vct, tuple(paths))]


@app.command("present")
def present(
    request: Annotated[
        str | None,
        typer.Argument(help="An OpenID4VP request (openid4vp://?client_id=...&request_uri=...)."),
    ] = None,
    *,
    rp: Annotated[str | None, typer.Option("--rp", help="The relying party's identifier.")] = None,
    purpose: Annotated[
        str | None, typer.Option(help="The purpose the relying party registered.")
    ] = None,
    nonce: Annotated[str | None, typer.Option(help="The verifier's nonce.")] = None,
    aud: Annotated[str | None, typer.Option(help="Audience (default: the relying party).")] = None,
    claims: Annotated[
        str | None, typer.Option(help='What to share: {"vct": ["claim", ...]} (JSON, @FILE).')
    ] = None,
    vct: Annotated[str | None, typer.Option(help="The credential type to present.")] = None,
    disclose: Annotated[
        list[str] | None, typer.Option(help="Claims to disclose (repeat or comma-separate).")
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", help="Consent without asking (scripts).")] = False,
    decline: Annotated[
        bool, typer.Option("--decline", help="Decline without asking (scripts).")
    ] = False,
    url: LinkServerOption = None,
    trust_root: Annotated[
        str | None,
        typer.Option("--trust-root", help="Pin this root: JSON {id,name,jwks} or @FILE."),
    ] = None,
    reuse_copies: Annotated[
        bool,
        typer.Option(
            "--reuse-copies",
            help="With no unused copy left, show one another relying party saw "
            "(they can then link the two presentations).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Present credentials to a relying party, after checking its registration and asking you.

    Each relying party is shown a copy of the credential no other one saw (the same copy as
    before when it saw one); with none left this fails with no_unused_copy unless
    --reuse-copies.

    With an OpenID4VP request: fetch it, authenticate it against the trust registry of the
    platform the link names (or --server), ask, and send the presentation to the verifier.
    Without one (--rp, --purpose, --nonce), against the local platform: print the SD-JWT+KB
    presentation (one per credential; JSON with --json). Not on a terminal, --yes or
    --decline is the answer: nothing is read as one.
    """
    answer = consent_answer(yes, decline)
    reuse = UnsafeReuseCopies() if reuse_copies else None
    if request is not None:
        if rp is not None or purpose is not None or nonce is not None:
            raise InputError("invalid_request", "an OpenID4VP request says who, why and the nonce")
        present_request(
            _open(),
            request,
            url=url,
            trust_root=trust_root,
            answer=answer,
            as_json=as_json,
            render=render_consent,
            reuse=reuse,
        )
        return
    if rp is None or purpose is None or nonce is None:
        raise InputError(
            "invalid_request", "give an OpenID4VP request, or --rp, --purpose, --nonce"
        )
    local = PresentationRequest.create(
        rp, purpose, _queries(claims, vct, disclose or []), nonce=nonce, aud=aud
    )
    wallet = _open()
    with local_platform() as platform:

        def consent(summary: ConsentSummary) -> bool:
            registrar = platform.authority_store.by_identifier(summary.registrar)
            render_consent(summary, registrar.display_name if registrar is not None else None)
            return answer()

        result = wallet.present(
            local, trust=platform.trust_registry(), consent=consent, reuse=reuse
        )
    tokens = dict(result.tokens)
    warnings = warn_low_copies(result.low_copies)

    def human() -> None:
        for token in tokens.values():
            typer.echo(token)

    emit(
        {"presentations": tokens, "history": result.record.seq, "warnings": warnings},
        as_json,
        human,
    )


def _record_json(r: PresentationRecord) -> dict[str, Any]:
    return {
        "seq": r.seq,
        "at": r.at,
        "outcome": r.outcome,
        "relying_party": r.relying_party,
        "relying_party_name": r.relying_party_name,
        "registrar": r.registrar,
        "registration": r.registration,
        "purpose": r.purpose,
        "purpose_description": r.purpose_description,
        "aud": r.aud,
        "claims": {i.query: {c.path: c.value for c in i.claims} for i in r.items},
        "error": r.error or None,
    }


@app.command("history")
def history(as_json: JsonOption = False) -> None:
    """Every presentation, decline and refusal: who, when, which claims, why."""
    records = _open().history()

    def human() -> None:
        if not records:
            console.print("Nothing has been presented yet.")
            return
        table = Table("#", "when", "outcome", "relying party", "purpose", "claims shared")
        for r in records:
            shared = ", ".join(c.path for i in r.items for c in i.claims)
            outcome = r.outcome if not r.error else f"{r.outcome} ({r.error})"
            table.add_row(
                str(r.seq),
                when(r.at),
                outcome,
                Text(r.relying_party_name or r.relying_party),
                Text(r.purpose),
                Text(shared if r.outcome == "presented" else "-"),
            )
        console.print(table)

    emit([_record_json(r) for r in records], as_json, human)


@app.command("sign")
def sign(
    document: Annotated[str, typer.Argument(help="The file to sign, or - for stdin.")],
    as_json: JsonOption = False,
) -> None:
    """Sign a document with the holder key: prints a detached JWS (header..signature)."""
    content = read_bytes(document, "the document", limit=WALLET_LIMITS.document_bytes)
    wallet = _open()
    signature = wallet.sign_document(content)
    data = {
        "signature": signature.signature,
        "alg": signature.alg,
        "kid": signature.kid,
        "signed_at": signature.signed_at,
        "digest": signature.digest,
        "jwk": wallet.holder_key.to_jwk(),
    }
    emit(data, as_json, lambda: typer.echo(signature.signature))


@app.command("verify-signature")
def verify_signature(
    document: Annotated[str, typer.Argument(help="The signed file, or - for stdin.")],
    signature: Annotated[str, typer.Option(help="The detached JWS, or @FILE.")],
    jwk: Annotated[
        str | None, typer.Option(help="The signer's public JWK (JSON or @FILE); default: mine.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check a detached document signature against the signer's public key."""
    content = read_bytes(document, "the document", limit=WALLET_LIMITS.document_bytes)
    jws = read_value(signature, "--signature", limit=16 * 1024)
    key = (
        PublicKey.from_jwk(read_json_object(jwk, "--jwk"))
        if jwk is not None
        else _open().holder_key
    )
    checked = verify_document(jws, content, key)
    data = {
        "valid": True,
        "alg": checked.alg,
        "kid": checked.kid,
        "signed_at": checked.signed_at,
        "digest": checked.digest,
    }
    emit(
        data,
        as_json,
        lambda: console.print(
            f"valid signature by {checked.kid} ({checked.alg}) made {when(checked.signed_at)}"
        ),
    )
