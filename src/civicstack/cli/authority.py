"""``civic authority``: the platform's root, authorities and relying parties, and what they sign.

Acts on the local platform (``CIVIC_DATA_DIR``, ``CIVIC_DATABASE_URL``); every command is a thin
call into :class:`civicstack.services.authorities.Authorities`.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Column, Table
from rich.text import Text

from civicstack._crypto import PublicKey
from civicstack.cli._input import read_json, read_json_object, unique_prefix
from civicstack.cli._local import local_platform, passphrase, wallet_dir
from civicstack.cli._output import JsonOption, console, emit
from civicstack.cli.wallet import type_name, when
from civicstack.credential_types import CREDENTIAL_TYPES
from civicstack.errors import CivicError, InputError
from civicstack.status import IssuedRecord
from civicstack.trust import Accreditation, Purpose, RelyingPartyRegistration
from civicstack.trust.parties import HostedAuthority
from civicstack.wallet import Wallet

app = typer.Typer(help="Root, authorities and relying parties: accredit, register, issue, revoke.")

ByOption = Annotated[
    str | None, typer.Option("--by", help="Who signs (an accredited authority; default: the root).")
]
DaysOption = Annotated[int, typer.Option("--days", help="Validity in days.")]
AlgOption = Annotated[str, typer.Option(help="Key algorithm for a new party: ES256 or EdDSA.")]


def _alg(alg: str) -> Any:
    if alg not in ("ES256", "EdDSA"):
        raise InputError("unsupported_algorithm", "keys are ES256 or EdDSA")
    return alg


def _party_json(h: HostedAuthority) -> dict[str, Any]:
    return h.to_json()


def _accreditation_json(acc: Accreditation) -> dict[str, Any]:
    return {
        "jti": acc.jti,
        "accreditor": acc.accreditor,
        "authority": acc.authority,
        "name": acc.name,
        "scope": {vct: sorted(claims) for vct, claims in acc.scope.items()},
        "may_accredit": acc.may_accredit,
        "may_register": acc.may_register,
        "nbf": acc.nbf,
        "exp": acc.exp,
        "kids": sorted(acc.keys.thumbprints()),
    }


def _registration_json(reg: RelyingPartyRegistration) -> dict[str, Any]:
    return {
        "jti": reg.jti,
        "registrar": reg.registrar,
        "relying_party": reg.relying_party,
        "name": reg.name,
        "purposes": [p.to_json() for p in reg.purposes.values()],
        "nbf": reg.nbf,
        "exp": reg.exp,
    }


@app.command("init")
def init(
    name: Annotated[str, typer.Option(help="The root's short name.")] = "root",
    display_name: Annotated[
        str, typer.Option("--display-name", help="Who the root is.")
    ] = "Root authority",
    identifier: Annotated[
        str | None, typer.Option("--id", help="Its identifier URL (default {base}/trust/NAME).")
    ] = None,
    alg: AlgOption = "EdDSA",
    as_json: JsonOption = False,
) -> None:
    """Create the root authority: the trust anchor every chain ends at."""
    with local_platform() as platform:
        root = platform.authorities.init_root(
            name, display_name, identifier=identifier, alg=_alg(alg)
        )
    emit(
        _party_json(root),
        as_json,
        lambda: console.print(
            Text(f"Root {root.display_name} ({root.identifier}), key {root.active_key.kid}")
        ),
    )


def _scope(vcts: list[str], scope: str | None) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for vct in vcts:
        known = CREDENTIAL_TYPES.get(vct)
        if known is None:
            raise InputError(
                "invalid_request", f"unknown credential type {vct!r}: give its claims with --scope"
            )
        out[vct] = sorted(known.claim_names)
    if scope is not None:
        given = read_json_object(scope, "--scope")
        for vct, claims in given.items():
            if not isinstance(claims, list) or not all(isinstance(c, str) for c in claims):
                raise InputError("malformed", "--scope maps each vct to a list of claim names")
            out[vct] = sorted({*out.get(vct, []), *claims})
    return out


@app.command("accredit")
def accredit(
    name: Annotated[str, typer.Argument(help="The authority's short name (created if new).")],
    *,
    vct: Annotated[
        list[str] | None,
        typer.Option("--vct", help="A known credential type it may issue, with all its claims."),
    ] = None,
    scope: Annotated[
        str | None, typer.Option(help='Exact scope: {"vct": ["claim", ...]} (JSON or @FILE).')
    ] = None,
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="Its name as people read it.")
    ] = None,
    by: ByOption = None,
    may_accredit: Annotated[
        bool, typer.Option("--may-accredit", help="It may accredit sub-authorities.")
    ] = False,
    may_register: Annotated[
        bool, typer.Option("--may-register", help="It may register relying parties.")
    ] = False,
    days: DaysOption = 365,
    identifier: Annotated[
        str | None, typer.Option("--id", help="Identifier URL (default {base}/issuers/NAME).")
    ] = None,
    alg: AlgOption = "ES256",
    as_json: JsonOption = False,
) -> None:
    """Accredit an identity authority for credential types and claims."""
    claims = _scope(vct or [], scope)
    if not claims and not (may_accredit or may_register):
        raise InputError("invalid_request", "say what it may issue: --vct or --scope")
    with local_platform() as platform:
        acc = platform.authorities.accredit(
            name,
            scope=claims,
            by=by,
            display_name=display_name,
            may_accredit=may_accredit,
            may_register=may_register,
            valid_days=days,
            identifier=identifier,
            alg=_alg(alg),
        )
    emit(
        _accreditation_json(acc),
        as_json,
        lambda: console.print(
            Text(
                f"Accredited {acc.name} ({acc.authority}) for "
                f"{', '.join(type_name(v) for v in acc.scope) or 'no credential type'} "
                f"until {when(acc.exp)}"
            )
        ),
    )


@app.command("revoke-accreditation")
def revoke_accreditation(
    name: Annotated[str, typer.Argument(help="The authority whose accreditation ends.")],
    by: ByOption = None,
    reason: Annotated[str | None, typer.Option(help="Why (published).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Withdraw an authority's accreditation: its credentials stop verifying."""
    with local_platform() as platform:
        revoked = platform.authorities.revoke_accreditation(name, by=by, reason=reason)
    data = [{"jti": r.jti, "accreditation": r.accreditation, "iat": r.iat} for r in revoked]
    emit(data, as_json, lambda: console.print(f"Revoked {len(revoked)} accreditation(s) of {name}"))


def _claims_map(value: object) -> dict[str, list[str]]:
    if not isinstance(value, dict) or not all(
        isinstance(v, list) and all(isinstance(c, str) for c in v) for v in value.values()
    ):
        raise InputError("malformed", "claims map each vct to a list of claim names")
    return value


def _purposes(
    purpose: str | None, description: str | None, claims: str | None, purposes: str | None
) -> list[Purpose]:
    out: list[Purpose] = []
    if purposes is not None:
        listed = read_json(purposes, "--purposes")
        if not isinstance(listed, list) or not all(isinstance(p, dict) for p in listed):
            raise InputError("malformed", "--purposes is a JSON list of purpose objects")
        for item in listed:
            out.append(
                Purpose.create(
                    item.get("id"), item.get("description"), _claims_map(item.get("claims"))
                )
            )
    if purpose is not None:
        if claims is None:
            raise InputError("invalid_request", "--purpose needs --claims")
        asked = _claims_map(read_json_object(claims, "--claims"))
        out.append(Purpose.create(purpose, description or purpose, asked))
    elif claims is not None or description is not None:
        raise InputError("invalid_request", "--claims and --description go with --purpose")
    if not out:
        raise InputError("invalid_request", "name at least one purpose: --purpose or --purposes")
    return out


@app.command("register")
def register(
    name: Annotated[str, typer.Argument(help="The relying party's short name (created if new).")],
    *,
    purpose: Annotated[str | None, typer.Option(help="A purpose id, e.g. age_check.")] = None,
    description: Annotated[
        str | None, typer.Option(help="What the purpose is, as the holder reads it.")
    ] = None,
    claims: Annotated[
        str | None,
        typer.Option(help='Claims it may ask for it: {"vct": ["claim", ...]} (JSON or @FILE).'),
    ] = None,
    purposes: Annotated[
        str | None,
        typer.Option(help='Several: [{"id", "description", "claims"}, ...] (JSON or @FILE).'),
    ] = None,
    display_name: Annotated[
        str | None, typer.Option("--display-name", help="Its name as people read it.")
    ] = None,
    by: ByOption = None,
    days: DaysOption = 365,
    identifier: Annotated[
        str | None, typer.Option("--id", help="Its client_id (default {base}/verifiers/NAME).")
    ] = None,
    alg: AlgOption = "ES256",
    as_json: JsonOption = False,
) -> None:
    """Register a relying party for purposes, each with the claims it may request."""
    chosen = _purposes(purpose, description, claims, purposes)
    with local_platform() as platform:
        reg = platform.authorities.register(
            name,
            purposes=chosen,
            by=by,
            display_name=display_name,
            valid_days=days,
            identifier=identifier,
            alg=_alg(alg),
        )
    emit(
        _registration_json(reg),
        as_json,
        lambda: console.print(
            Text(
                f"Registered {reg.name} ({reg.relying_party}) for "
                f"{', '.join(reg.purposes)} until {when(reg.exp)}"
            )
        ),
    )


@app.command("suspend")
def suspend(
    name: Annotated[str, typer.Argument(help="The relying party.")],
    reinstate: Annotated[bool, typer.Option("--reinstate", help="Lift the suspension.")] = False,
    reason: Annotated[str | None, typer.Option(help="Why (published).")] = None,
    by: ByOption = None,
    as_json: JsonOption = False,
) -> None:
    """Suspend a relying party everywhere (or reinstate it)."""
    with local_platform() as platform:
        s = platform.authorities.suspend(name, by=by, reason=reason, suspended=not reinstate)
    data = {"jti": s.jti, "relying_party": s.relying_party, "suspended": s.suspended, "iat": s.iat}
    verb = "Suspended" if s.suspended else "Reinstated"
    emit(data, as_json, lambda: console.print(Text(f"{verb} {s.relying_party}")))


def _holder(holder_jwk: str | None, to_wallet: bool) -> tuple[PublicKey | None, Wallet | None]:
    if holder_jwk is not None and to_wallet:
        raise InputError("invalid_request", "give --holder-jwk or --to-wallet, not both")
    if holder_jwk is not None:
        jwk = read_json_object(holder_jwk, "--holder-jwk")
        if "d" in jwk:
            raise InputError("invalid_key", "--holder-jwk must be a public key")
        return PublicKey.from_jwk(jwk), None
    if to_wallet:
        wallet = Wallet.open(wallet_dir(), passphrase())
        return wallet.holder_key, wallet
    raise InputError("invalid_request", "bind it to a holder: --holder-jwk JWK or --to-wallet")


@app.command("issue")
def issue(
    *,
    issuer: Annotated[str, typer.Option(help="The issuing authority's name.")],
    vct: Annotated[str, typer.Option(help="The credential type, e.g. urn:eudi:pid:1.")],
    claims: Annotated[str, typer.Option(help="The claims: a JSON object, @FILE, or -.")],
    holder_jwk: Annotated[
        str | None, typer.Option("--holder-jwk", help="The holder's public JWK (JSON or @FILE).")
    ] = None,
    to_wallet: Annotated[
        bool, typer.Option("--to-wallet", help="Bind to the local wallet and store it there.")
    ] = False,
    days: DaysOption = 365,
    as_json: JsonOption = False,
) -> None:
    """Issue an SD-JWT VC with a status-list entry; prints the credential (JSON with --json)."""
    given = read_json_object(claims, "--claims")
    holder, wallet = _holder(holder_jwk, to_wallet)
    with local_platform() as platform:
        issued = platform.authorities.issue(
            issuer, vct=vct, claims=given, holder=holder, valid_days=days
        )
        stored = (
            wallet.add_credential(issued.credential, trust=platform.trust_registry())
            if wallet is not None
            else None
        )
    data = issued.to_json()
    if stored is not None:
        data["wallet_id"] = stored.id

    def human() -> None:
        if stored is None:
            typer.echo(issued.credential)
            return
        console.print(
            Text(
                f"Issued {type_name(vct)} {issued.record.id} into the wallet as {stored.id} "
                f"(status {issued.status_uri} #{issued.record.idx})"
            )
        )

    emit(data, as_json, human)


def _record_line(r: IssuedRecord) -> str:
    return f"{r.id} is {r.state} ({r.authority} list {r.list_id} #{r.idx})"


@app.command("revoke")
def revoke(
    credential_id: Annotated[
        str, typer.Argument(help="The id `issue` or `credentials` printed (or its unique start).")
    ],
    suspend_: Annotated[
        bool, typer.Option("--suspend", help="Suspend instead (reversible).")
    ] = False,
    reinstate: Annotated[bool, typer.Option("--reinstate", help="Lift a suspension.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Revoke an issued credential (final), or suspend / reinstate it: flips its status bits."""
    if suspend_ and reinstate:
        raise InputError("invalid_request", "--suspend or --reinstate, not both")
    with local_platform() as platform:
        authorities = platform.authorities
        change = (
            authorities.suspend_credential
            if suspend_
            else authorities.reinstate_credential
            if reinstate
            else authorities.revoke_credential
        )
        known = (r.id for r in authorities.credentials(None))
        record = change(unique_prefix(credential_id, known, "credential"))
    emit(record.to_json(), as_json, lambda: console.print(_record_line(record)))


@app.command("credentials")
def credentials(
    issuer: Annotated[str | None, typer.Option(help="Only this authority's.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List issued credentials (what the platform keeps: never their claims)."""
    with local_platform() as platform:
        records = platform.authorities.credentials(issuer)

    def human() -> None:
        # The id is never wrapped or cut: it is what `revoke` is given.
        width = max((len(r.id) for r in records), default=2)
        table = Table(
            Column("id", no_wrap=True, min_width=width),
            "issuer",
            "type",
            "state",
            "list",
            "idx",
            "issued",
            "expires",
        )
        for r in records:
            table.add_row(
                r.id,
                r.authority,
                type_name(r.vct),
                r.state,
                r.list_id,
                str(r.idx),
                when(r.iat),
                when(r.exp),
            )
        console.print(table)

    emit([r.to_json() for r in records], as_json, human)


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """List the root, authorities and relying parties, and whether each is in good standing."""
    with local_platform() as platform:
        parties = platform.authorities.list()
        now = platform.clock.now()
        standing: dict[str, str] = {}
        if parties:
            try:
                registry = platform.trust_registry()
            except CivicError as exc:
                registry, standing = None, {p.name: exc.code for p in parties}
            for p in parties if registry is not None else ():
                standing[p.name] = _standing(registry, p, now)
    data = [{**p.to_json(), "standing": standing.get(p.name)} for p in parties]

    def human() -> None:
        table = Table("name", "role", "display name", "identifier", "standing")
        for p in parties:
            table.add_row(
                p.name,
                p.role.replace("_", " "),
                Text(p.display_name),
                Text(p.identifier),
                standing.get(p.name, "-"),
            )
        console.print(table)

    emit(data, as_json, human)


def _standing(registry: Any, party: HostedAuthority, now: int) -> str:
    try:
        if party.role == "root":
            return "trust anchor"
        if party.role == "authority":
            registry.valid_accreditations(party.identifier, now)
            return "accredited"
        registry.relying_party(party.identifier, now)
        return "registered"
    except CivicError as exc:
        return exc.code


@app.command("status-list")
def status_list(
    name: Annotated[str, typer.Argument(help="The authority.")],
    list_id: Annotated[str, typer.Option("--list", help="Which list.")] = "1",
    as_json: JsonOption = False,
) -> None:
    """Print an authority's signed status list token (statuslist+jwt), as published."""
    with local_platform() as platform:
        token = platform.authorities.status_list_token(name, list_id)
        uri = platform.authorities.status_uri(platform.authorities.get(name), list_id)
    emit({"uri": uri, "token": token}, as_json, lambda: typer.echo(token))


@app.command("export")
def export(as_json: JsonOption = False) -> None:
    """Print the trust anchors and every signed statement (what verifiers load)."""
    with local_platform() as platform:
        data = platform.authorities.export()
    emit(data, as_json)
