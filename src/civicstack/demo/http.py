"""The story of ``civic demo``, told against the running platform over its published protocols.

The same story as :mod:`civicstack.demo.local`, but every party reaches the others the way it would
in production, through ``civic up``'s HTTP services:

* the trust registry publishes its root and statements (``/trust``); Amara's wallet pins the
  root on first use and rebuilds the registry from the statements itself;
* the passport office and the Home Office offer credentials with the OpenID4VCI 1.0
  pre-authorized code flow and a transaction code (``/issuers``, their admin API for the
  officer's offer); her wallet redeems each offer with a key proof and stores the credential
  after checking its issuer's accreditation;
* the employer and the shop ask with OpenID4VP 1.0 (``/verifier``: a preset, a signed request
  object by reference, ``direct_post``); her wallet authenticates each request against the
  registry, asks her (the story consents and shows exactly what leaves the device), answers,
  and the relying party's backend reads the outcome by API;
* an over-asking request is refused before anyone is asked; the passport office revokes her
  PID through its admin API and the shop's next check is refused (this platform re-reads its
  own status lists every second, so the story waits a second and a half, not five minutes).

:func:`tell_over_http` checks that each step went as told and raises ``internal_error``
otherwise, so ``civic demo`` exits non-zero when the platform misbehaves.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from civicstack.credential_types import PID_VCT, RIGHT_TO_WORK_CHECK_CLAIMS, RIGHT_TO_WORK_VCT
from civicstack.demo.consent_http import tell_consents
from civicstack.demo.story import (
    AMARA,
    AMARA_RIGHT_TO_WORK,
    Step,
    Story,
    consent_step,
    expect_refusal,
    history_step,
    shown,
)
from civicstack.errors import CODES, CivicError
from civicstack.fetch import HttpTransport
from civicstack.trust import RootAuthority, TrustRegistry
from civicstack.wallet import ConsentSummary, Wallet
from civicstack.wallet import openid4vp as protocol
from civicstack.wallet.openid4vci import IssuanceClient, Issued

#: This platform re-reads its own status lists each second (verifier.FreshLocalStatus).
STATUS_REFRESH = 1.5


def _checked(response: httpx.Response) -> Any:
    """The JSON body of a success; the coded error a problem+json describes otherwise."""
    if response.is_success:
        return response.json()
    code, detail = "internal_error", f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        if body.get("code") in CODES:
            code = str(body["code"])
        detail = str(body.get("detail") or body.get("error_description") or detail)
    raise CivicError(str(code), detail)


class _Story:
    """The actors: the platform's admin (for the officers and relying parties' backends),
    Amara's wallet and its transports."""

    def __init__(
        self, http: httpx.Client, admin_token: str, wallet: Wallet, step: Callable[[Step], None]
    ) -> None:
        self.http = http
        self.admin = {"Authorization": f"Bearer {admin_token}"}
        self.wallet = wallet
        self.step = step
        self.transport = HttpTransport()
        self.issuance = IssuanceClient(HttpTransport(http))
        self.names: dict[str, str] = {}

    def registry(self) -> TrustRegistry:
        """The registry as Amara's wallet rebuilds it, under the root it pinned."""
        export = _checked(self.http.get("/trust/registry"))
        return protocol.registry_from_export(export, self.wallet.trust_anchors())

    def consent(self, summary: ConsentSummary) -> bool:
        """Amara reads what would leave her device, and agrees."""
        self.step(consent_step(summary, self.names.get(summary.registrar, summary.registrar)))
        return True


def tell_over_http(
    server: str,
    admin_token: str,
    wallet_path: Path,
    passphrase: str | None,
    report: Callable[[Step], None],
) -> Story:
    """Run the story against the platform at ``server``, reporting each step; Amara's wallet
    is created in ``wallet_path`` under ``passphrase`` (a random one when None)."""
    story = Story()

    def step(s: Step) -> None:
        story.steps.append(s)
        report(s)

    with httpx.Client(base_url=server.rstrip("/"), timeout=30) as http:
        try:
            _checked(http.get("/healthz"))
        except httpx.TransportError as exc:
            raise CivicError(
                "server_unreachable",
                f"{server}: {exc} (start it with `civic up`, or run `civic demo --local`)",
            ) from exc
        cast = _Story(http, admin_token, _wallet(wallet_path, passphrase), step)
        try:
            _platform(cast)
            pid_id = _issue(cast, "passport-office", PID_VCT, AMARA)
            _issue(cast, "home-office", RIGHT_TO_WORK_VCT, AMARA_RIGHT_TO_WORK)
            story.employer_learned = _ask(
                cast, "right_to_work", expect=set(RIGHT_TO_WORK_CHECK_CLAIMS)
            )
            story.shop_learned = _ask(cast, "age_over_18", expect={"age_over_18"})
            move_house(cast)
            _overasking(cast)
            # consent and data exchange, while her PID is still valid
            access_history = tell_consents(cast)
            _revocation(cast, pid_id)
            _history(cast)
            cast.step(access_history)  # the story ends with her verified access history
        finally:
            cast.transport.close()
    return story


def _wallet(path: Path, passphrase: str | None) -> Wallet:
    return Wallet.create(path, passphrase or secrets.token_urlsafe(24))


def _platform(cast: _Story) -> None:
    services = _checked(cast.http.get("/services"))
    mounts = {s["mount"] for s in services}
    missing = {"/issuers", "/verifier", "/trust"} - mounts
    if missing:
        raise CivicError("internal_error", f"the platform serves no {', '.join(sorted(missing))}")
    cast.step(
        Step(
            f"The platform at {cast.http.base_url} serves {len(services)} services",
            tuple(f"{s['title']}: {s['mount']}/docs" for s in services),
        )
    )
    root = RootAuthority.from_json(_checked(cast.http.get("/trust/root")))
    cast.wallet.pin_trust_anchor(root)
    cast.names[root.id] = root.name
    authorities = _checked(cast.http.get("/trust/authorities"))
    parties = _checked(cast.http.get("/trust/relying-parties"))
    for a in authorities:
        cast.names[a["identifier"]] = a["display_name"] or a["identifier"]
    for p in parties:
        cast.names[p["name"] or p["identifier"]] = p["display_name"] or p["identifier"]
    cast.step(
        Step(
            f"The trust registry publishes its root, {root.name}: Amara's wallet pins it",
            (
                f"root {root.id}, keys {', '.join(sorted(root.keys.thumbprints()))}",
                *(f"accredited: {a['display_name']} ({a['standing']})" for a in authorities),
                *(f"registered: {p['display_name']} ({p['standing']})" for p in parties),
                f"holder key {cast.wallet.holder_key.alg} {cast.wallet.holder_key.thumbprint()}",
            ),
        )
    )


def _issue(cast: _Story, issuer: str, vct: str, claims: dict[str, Any]) -> str:
    """An officer offers, Amara's wallet redeems over OpenID4VCI; the issued record's id."""
    offer = _checked(
        cast.http.post(
            f"/issuers/{issuer}/admin/offers",
            json={"vct": vct, "claims": claims},
            headers=cast.admin,
        )
    )
    prepared = cast.issuance.discover(cast.issuance.resolve(offer["offer"]))
    token, outcome = cast.issuance.receive(
        prepared,
        tx_code=offer["tx_code"],
        sign=lambda aud, nonce: cast.wallet.sign_key_proof(audience=aud, nonce=nonce),
    )
    if not isinstance(outcome, Issued):
        raise CivicError("internal_error", "the story expected the credential at once")
    registry = cast.registry()
    stored = [cast.wallet.add_credential(c, trust=registry) for c in outcome.credentials]
    cast.issuance.notify(
        prepared.issuer.notification_endpoint, token, outcome.notification_id, "credential_accepted"
    )
    held = stored[0]
    rows = tuple(
        (k, shown(held.claims[k]))
        for k in sorted(held.claims, key=lambda k: (len(k), k))
        if k.startswith("age_over_") or vct != PID_VCT
    )
    cast.step(
        Step(
            f"{prepared.issuer.display_name or issuer} issues Amara's "
            f"{'PID' if vct == PID_VCT else 'right to work'} over OpenID4VCI",
            (
                f"offer {offer['id']} with a transaction code, redeemed with a key proof",
                "her wallet checked the issuer's accreditation up to the pinned root first",
            ),
            rows,
        )
    )
    records = _checked(cast.http.get(f"/issuers/{issuer}/admin/credentials", headers=cast.admin))
    mine = [
        r
        for r in records
        if r.get("holder_thumbprint") == cast.wallet.holder_key.thumbprint() and r["vct"] == vct
    ]
    if not mine:
        raise CivicError("internal_error", f"{issuer} keeps no record of the credential")
    return str(mine[0]["id"])


def _request(cast: _Story, preset: str, relying_party: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"preset": preset}
    if relying_party is not None:
        body["relying_party"] = relying_party
    created: dict[str, Any] = _checked(
        cast.http.post("/verifier/requests", json=body, headers=cast.admin)
    )
    return created


def _present(cast: _Story, created: dict[str, Any]) -> protocol.Answer:
    registry = cast.registry()
    received = protocol.receive(
        created["request"], transport=cast.transport, registry=registry, now=cast.wallet.now()
    )
    return protocol.answer(
        cast.wallet,
        received,
        registry=registry,
        consent=cast.consent,
        transport=cast.transport,
    )


def _outcome(cast: _Story, created: dict[str, Any]) -> dict[str, Any]:
    outcome: dict[str, Any] = _checked(
        cast.http.get(f"/verifier/requests/{quote(created['id'], safe='')}", headers=cast.admin)
    )
    return outcome


def _ask(cast: _Story, preset: str, *, expect: set[str]) -> dict[str, Any]:
    created = _request(cast, preset)
    answer = _present(cast, created)
    if answer.status != 200:
        raise CivicError("internal_error", f"the verifier refused the answer: {answer.body!r}")
    outcome = _outcome(cast, created)
    if outcome["status"] != "verified" or set(outcome["claims"]) != expect:
        raise CivicError("internal_error", f"the {preset} check learnt {outcome}")
    (credential,) = next(iter(outcome["credentials"].values()))
    cast.step(
        Step(
            f"{cast.names.get(created['relying_party'], created['relying_party'])}'s backend "
            f"reads the verified result ({preset})",
            (
                f"request {created['id']}: client_id {created['client_id']}",
                f"issued by {credential['iss']}; signature, key binding, accreditation chain, "
                "status and single use all checked by the verifier",
            ),
            tuple((k, shown(v)) for k, v in outcome["claims"].items()),
        )
    )
    claims: dict[str, Any] = outcome["claims"]
    return claims


def _overasking(cast: _Story) -> None:
    asked = len(cast.wallet.history())
    refusal = expect_refusal("overasking", lambda: _request(cast, "identity", relying_party="shop"))
    if len(cast.wallet.history()) != asked:
        raise CivicError("internal_error", "Amara was asked about an over-asking request")
    cast.step(
        Step(
            "Corner Shop asks for her identity: the verifier refuses before anyone is asked",
            (refusal.detail,),
            refused=refusal.code,
        )
    )


def _revocation(cast: _Story, pid_id: str) -> None:
    _checked(
        cast.http.post(
            f"/issuers/passport-office/admin/credentials/{quote(pid_id, safe='')}/status",
            json={"status": "revoked"},
            headers=cast.admin,
        )
    )
    cast.step(
        Step(
            "HM Passport Office revokes Amara's PID (her passport was reported stolen)",
            (f"credential {pid_id}: its status list entry now says INVALID",),
        )
    )
    time.sleep(STATUS_REFRESH)
    created = _request(cast, "age_over_18")
    answer = _present(cast, created)
    outcome = _outcome(cast, created)
    # A refused answer is an attempt: the request stays open for a valid one until it expires.
    error = (outcome.get("attempts") or [{}])[-1]
    if answer.status == 200 or outcome["status"] != "pending" or error.get("code") != "revoked":
        raise CivicError("internal_error", f"the revoked PID was not refused: {outcome}")
    cast.step(
        Step(
            "The shop checks again: the revoked PID is refused",
            (f"request {created['id']} refused an answer: {error.get('detail')}",),
            refused="revoked",
        )
    )


def _history(cast: _Story) -> None:
    cast.step(history_step(cast.wallet))


# --- tell us once (issue 13): Amara moves house ------------------------------------------------

_TELL = {"council": "change_of_address", "gp-newtown": "change_notices"}
_ADDRESS_CHANGED = "uk.civicstack.address.changed"
_WHO = ("personal_administrative_number", "issuing_country")
#: How long the story waits for the in-process worker to deliver (seconds).
DELIVERY_WAIT = 20.0


class _Sink:
    """The organisations' webhook endpoints, played by one local HTTP server that keeps what
    it receives (each organisation at its own path)."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        received: list[tuple[str, dict[str, str], bytes]] = []
        self.received = received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = min(int(self.headers.get("content-length") or 0), 1 << 20)
                received.append((self.path, dict(self.headers.items()), self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _two_addresses(cast: _Story) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two current addresses of the ``address`` register in different local authorities."""
    records = _checked(cast.http.get("/registers/address/records", params={"page-size": 200}))
    items = []
    for record in records.values():
        item = record["item"][0] if isinstance(record["item"], list) else record["item"]
        if item.get("local-authority-eng") and not item.get("end-date"):
            items.append(item)
    for first in items:
        for second in items:
            if second["local-authority-eng"] != first["local-authority-eng"]:
                return first, second
    raise CivicError(
        "internal_error", "the address register has no two authorities to move between"
    )


def _consent_to_tell(cast: _Story, requester: str, purpose: str) -> dict[str, Any]:
    """Amara asks ``requester`` to ask her (its tell-us-once purpose) and gives that consent."""
    from civicstack.consent import CONSENT_TYP, ConsentRequest, consent_claims

    issued = _checked(cast.http.post("/consents/nonces"))
    presentation, _ = cast.wallet.prove_and_sign(
        vct=PID_VCT, disclose=_WHO, aud=issued["aud"], nonce=issued["nonce"]
    )
    request = _checked(
        cast.http.post(
            "/consents/invitations",
            json={
                "presentation": presentation,
                "nonce": issued["nonce"],
                "requester": requester,
                "provider": "tell-us-once",
                "purpose": purpose,
            },
        )
    )
    issued = _checked(cast.http.post("/consents/nonces"))
    claims = consent_claims(
        ConsentRequest.from_json(request),
        "given",
        aud=issued["aud"],
        nonce=issued["nonce"],
        iat=cast.wallet.now(),
    )
    presentation, (signed,) = cast.wallet.prove_and_sign(
        vct=PID_VCT,
        disclose=_WHO,
        aud=issued["aud"],
        nonce=issued["nonce"],
        payloads=[(CONSENT_TYP, claims)],
    )
    record: dict[str, Any] = _checked(
        cast.http.post(
            f"/consents/requests/{request['id']}/answer",
            json={"presentation": presentation, "nonce": issued["nonce"], "consent": signed},
        )
    )
    return record


def _report_move(cast: _Story, uprn: str) -> dict[str, Any]:
    """Amara's wallet signs the change with her PID's key and reports it."""
    from civicstack.changes import CHANGE_TYP, citizen_claims, parse_change

    issued = _checked(cast.http.post("/changes/nonces"))
    claims = citizen_claims(
        parse_change({"kind": "address", "uprn": uprn}),
        aud=issued["aud"],
        nonce=issued["nonce"],
        iat=cast.wallet.now(),
    )
    presentation, (signed,) = cast.wallet.prove_and_sign(
        vct=PID_VCT,
        disclose=(*_WHO, "age_over_18"),
        aud=issued["aud"],
        nonce=issued["nonce"],
        payloads=[(CHANGE_TYP, claims)],
    )
    status: dict[str, Any] = _checked(
        cast.http.post(
            "/changes",
            json={"report": signed, "presentation": presentation, "nonce": issued["nonce"]},
        )
    )
    return status


def move_house(cast: _Story) -> None:
    """Tell us once: Amara consents to tell her council and GP practice, moves house once, and
    the council (the new address), the GP practice (a link to fetch it), both registration
    officers are told, and she is registered to vote where she now lives."""
    from civicstack.changes import ero_name

    old, new = _two_addresses(cast)
    old_la, new_la = old["local-authority-eng"], new["local-authority-eng"]
    for code in (old_la, new_la):
        _checked(cast.http.post(f"/changes/electoral/{code}/officer", headers=cast.admin))
    for requester, purpose in _TELL.items():
        record = _consent_to_tell(cast, requester, purpose)
        cast.step(
            Step(
                f"Amara asks {cast.names.get(requester, requester)} to ask her, and consents: "
                "tell it when she moves",
                (
                    f"consent {record['id']}: provider tell-us-once, purpose {purpose}",
                    "categories: " + ", ".join(record["categories"]),
                ),
            )
        )
    sink = _Sink()
    subscribers = [*_TELL, ero_name(old_la), ero_name(new_la)]
    secrets_by_org: dict[str, str] = {}
    try:
        refused = None
        for org in subscribers:
            response = cast.http.post(
                "/events/subscriptions",
                json={"organisation": org, "url": f"{sink.url}/{org}", "types": [_ADDRESS_CHANGED]},
                headers=cast.admin,
            )
            if response.status_code == 403 and "CIVIC_EVENTS_ALLOW_PRIVATE" in response.text:
                refused = response.json().get("detail")
                break
            secrets_by_org[org] = _checked(response)["secret"]
        # Amara lives at the old address first (her registration), then moves.
        _report_move(cast, old["address"])
        status = _report_move(cast, new["address"])
        cast.step(
            Step(
                "Amara moves house and reports it once, from her wallet",
                (
                    f"from {old['street-address']}, {old['post-town']} ({old_la}) to "
                    f"{new['street-address']}, {new['post-town']} ({new_la}), UPRN "
                    f"{new['address']} checked against the address register",
                    "signed (civicstack-change+jwt) by the key her PID is bound to, with a PID "
                    "presentation disclosing only her identifier and age_over_18",
                    f"report {status['id']}: {status['summary']}",
                ),
            )
        )
        if refused is None:
            _wait_delivered(cast, status["id"], sink, secrets_by_org)
        else:
            cast.step(
                Step(
                    "The platform refuses the demo's local webhook endpoints",
                    (
                        str(refused),
                        "start civic up with CIVIC_EVENTS_ALLOW_PRIVATE=1 to watch the deliveries",
                    ),
                )
            )
    finally:
        sink.close()
    roll = _checked(
        cast.http.get(
            f"/changes/electoral/{new_la}/roll", params={"limit": 1000}, headers=cast.admin
        )
    )
    issued = _checked(cast.http.post("/changes/nonces"))
    presentation, _ = cast.wallet.prove_and_sign(
        vct=PID_VCT, disclose=_WHO, aud=issued["aud"], nonce=issued["nonce"]
    )
    standing = _checked(
        cast.http.post(
            "/changes/electoral/standing",
            json={"presentation": presentation, "nonce": issued["nonce"]},
        )
    )
    if not standing["registered"] or standing["authority"] != new_la:
        raise CivicError(
            "internal_error", f"Amara is not registered to vote in {new_la}: {standing}"
        )
    cast.step(
        Step(
            f"Amara is registered to vote in {new_la}, where she now lives",
            (
                f"off the roll of {old_la}, onto the roll of {new_la} "
                f"({len(roll)} electors there), in the same transaction as her report",
                "automatic voter registration: she can opt out with "
                "`civic wallet electoral opt-out`",
            ),
            (("authority", new_la), ("UPRN", str(standing["uprn"]))),
        )
    )


def _wait_delivered(
    cast: _Story, report_id: str, sink: _Sink, secrets_by_org: dict[str, str]
) -> None:
    """Wait for the in-process worker to deliver the move, check each webhook's signature."""
    from civicstack.events.webhooks import WebhookSecret, verify

    deadline = time.monotonic() + DELIVERY_WAIT
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = _checked(cast.http.get(f"/changes/{report_id}"))
        if status["status"] == "delivered":
            break
        time.sleep(0.25)
    else:
        raise CivicError("internal_error", f"the move was not delivered in time: {status}")
    rows = []
    for path, headers, body in sink.received:
        org = path.strip("/")
        event = json.loads(body)
        if event.get("data", {}).get("report") != report_id:
            continue
        verify(
            body,
            {k.lower(): v for k, v in headers.items()},
            now=cast.wallet.now(),
            secrets=[WebhookSecret.parse(secrets_by_org[org])],
        )
        data = event["data"]
        what = (
            f"full: UPRN {data['value']['uprn']}"
            if data["representation"] == "full"
            else f"thin: {data.get('href')}"
        )
        rows.append((cast.names.get(org, org), f"subject {event['subject'][:12]}... {what}"))
    told = {r[0] for r in rows}
    if len(told) < 3:
        raise CivicError("internal_error", f"too few organisations were told: {sorted(told)}")
    cast.step(
        Step(
            f"Told once, each its own way: {status['summary']}",
            (
                "signed CloudEvents (Standard Webhooks v1), each naming Amara by that "
                "organisation's own pairwise id; checked against each endpoint's secret",
            ),
            tuple(sorted(rows)),
        )
    )
