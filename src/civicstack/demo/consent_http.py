"""The consent and data-exchange part of ``civic demo`` (issue 11), over the platform's HTTP.

Told by :func:`civicstack.demo.http.tell_over_http` while Amara's PID is still valid (her
wallet presents it to the consent service):

1. the insurer asks for her driving record (``POST /consents/requests``); her wallet pulls its
   inbox and gives the consent, signed with her PID's key (:mod:`civicstack.wallet.consents`,
   the code path of ``civic wallet consent give``);
2. the insurer fetches the record through ``/exchange``: the data comes with a C2SP tlog-proof
   receipt, verified here against the access log's verifier key and its latest checkpoint
   (``/access/log/checkpoint``);
3. the council asks for her tax summary; she gives, then withdraws; the council's fetch is
   refused (``consent_not_active``), and the refusal is logged too;
4. she switches GP: gp-newtown registers her (``/gp/registrations``) under her consent and
   takes her record over with a receipt; her mother's and her brother's wallets (PIDs of their
   own, issued over OpenID4VCI into scratch wallets) find the practice's family-history request
   in their own inboxes: the mother gives, the brother refuses, each signing with their own key;
   only the mother's family history is shared;
5. her wallet pulls her access history (``POST /access/history``, the code path of ``civic
   wallet access-history``) and verifies it: every access about her, each with its inclusion
   proof, and the subject map's proof that there is no other (:mod:`civicstack.access.history`).
   The story prints it as its last step.

Amara's wallet keeps the insurer's consent, still given, when the story ends. The pairwise ids
the requesters know her by are the platform's own (its ``CIVIC_PAIRWISE_KEY`` or master key):
``civic demo`` must share ``civic up``'s data directory, as it does for the admin token.
Standards: ISO/IEC TS 27560 consent records with DPV terms; C2SP tlog-proof, tlog-checkpoint.
"""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from civicstack.consent import Decision
from civicstack.credential_types import PID_VCT
from civicstack.demo.story import AMARA, Step, shown
from civicstack.demo.world import DEMO_CITIZENS, GP_PROVIDER, GP_REQUESTER
from civicstack.errors import CivicError
from civicstack.log import NoteVerifier, Receipt, open_checkpoint, verify_receipt
from civicstack.pairwise import Subject
from civicstack.services.gp_registration import FAMILY_CATEGORY, RECORD_CATEGORIES
from civicstack.wallet import Wallet
from civicstack.wallet import openid4vp as protocol
from civicstack.wallet.access_history import pull_access_history
from civicstack.wallet.consents import Post, answer_request, pull_inbox, withdraw_consent
from civicstack.wallet.openid4vci import Issued
from civicstack.wallet.transport import error_from

if TYPE_CHECKING:
    from civicstack.demo.http import _Story

INSURER_CATEGORIES = ("dpv-pd:VehicleLicense", "dpv-pd:VehicleUsage")
COUNCIL_CATEGORIES = ("dpv-pd:Income", "dpv-pd:Tax")
#: Amara's relatives (the other demo citizens), their first names and who answers what.
RELATIVES: tuple[tuple[str, str, Decision], ...] = (
    ("mother", "Grace", "given"),
    ("brother", "Chidi", "refused"),
)


def tell_consents(cast: _Story) -> Step:
    """Steps 1-4 above, each checked, and step 5's verified history (the step to print last);
    ``internal_error`` if the platform misbehaves."""
    with _Exchange(cast) as ex:
        _insurer(ex)
        _council(ex)
        _gp_switch(ex)
        return _access_history(ex)


def _access_history(ex: _Exchange) -> Step:
    """Step 5: Amara's wallet proves it holds every access about her."""
    verified = pull_access_history(ex.cast.wallet, ex.wallet_post(), verifier_key=ex.verifier.vkey)
    expected = {("insurer", "released"), ("council", "refused"), (GP_REQUESTER, "released")}
    if not expected <= {(e.entry.requester, e.entry.outcome) for e in verified.entries}:
        raise CivicError("internal_error", "her access history lacks an access the story made")
    cp = verified.checkpoint
    return Step(
        f"Amara's wallet verifies her complete access history: {len(verified.entries)} "
        "accesses, none missing",
        (
            f"as of checkpoint {cp.size} of {cp.origin}, signed by {ex.verifier.name}",
            "each entry's inclusion proven; her chain of entries unbroken; the subject map "
            "committed in the log proves there is no other",
        ),
        tuple(
            (
                f"{e.entry.requester} <- {e.entry.provider}",
                f"{e.entry.purpose}: {', '.join(e.entry.categories)} — "
                + (e.entry.outcome if e.entry.refusal is None else f"refused ({e.entry.refusal})")
                + (f", consent {e.entry.consent}" if e.entry.consent else ""),
            )
            for e in verified.entries
        ),
    )


class _Exchange:
    """What the consent steps share: the actors' API keys, the access log's key, the wallet's
    ``post`` to the platform, and the pairwise ids requesters know Amara by."""

    def __init__(self, cast: _Story) -> None:
        self.cast = cast
        self.http = cast.http
        self.keys: dict[str, dict[str, str]] = {}
        self.scratch = tempfile.TemporaryDirectory(prefix="civic-demo-relatives-")
        access = self.get("/access")
        self.origin = str(access["origin"])
        self.verifier = NoteVerifier.parse(access["verifier_key"])
        self.ids = _pairwise_ids()

    def __enter__(self) -> _Exchange:
        return self

    def __exit__(self, *_: object) -> None:
        self.scratch.cleanup()

    def get(self, path: str) -> Any:
        return _checked(self.http.get(path))

    def post(self, path: str, body: Any, headers: dict[str, str] | None = None) -> Any:
        return _checked(self.http.post(path, json=body, headers=headers))

    def wallet_post(self) -> Post:
        """How a wallet reaches the consent service (no credentials of the platform's)."""
        return self.post

    def key(self, relying_party: str) -> dict[str, str]:
        """A fresh API key of ``relying_party``'s backend (issued by the admin)."""
        if relying_party not in self.keys:
            issued = self.post(
                f"/verifier/relying-parties/{relying_party}/api-keys",
                None,
                headers=self.cast.admin,
            )
            self.keys[relying_party] = {"Authorization": f"Bearer {issued['api_key']}"}
        return self.keys[relying_party]

    def ask(self, requester: str, provider: str, purpose: str, categories: tuple[str, ...]) -> Any:
        """``requester`` asks Amara (by its pairwise id of her), the admin acting for it."""
        return self.post(
            "/consents/requests",
            {
                "requester": requester,
                "subject": self.ids(requester, AMARA_SUBJECT),
                "provider": provider,
                "purpose": purpose,
                "categories": list(categories),
                "valid_days": 30,
            },
            headers=self.cast.admin,
        )

    def receipt(self, text: str) -> tuple[int, int]:
        """Verify a receipt against the access log's key, and the log's latest checkpoint
        (signed by the same key) covers it: ``(index, checkpoint size)``."""
        verified = verify_receipt(Receipt.parse(text), [self.verifier], origin=self.origin)
        latest = self.http.get("/access/log/checkpoint")
        if not latest.is_success:
            raise CivicError("internal_error", f"no access-log checkpoint: {latest.status_code}")
        head = open_checkpoint(latest.content, [self.verifier], origin=self.origin)
        if head.size <= verified.index or head.size < verified.checkpoint.size:
            raise CivicError("internal_error", "the access log's checkpoint does not cover it")
        return verified.index, head.size


AMARA_SUBJECT = Subject(*DEMO_CITIZENS[0])


def _checked(response: httpx.Response) -> Any:
    """The JSON body of a success; the coded error its problem+json describes otherwise."""
    if not response.is_success:
        raise error_from(response.status_code, response.content, str(response.url.path))
    return response.json()


def _pairwise_ids() -> Callable[[str, Subject], str]:
    """``(sector, subject) -> id`` under the platform's pairwise key, read from the settings
    ``civic up`` uses (the same data directory as its admin token)."""
    from civicstack.platform import Platform
    from civicstack.settings import Settings

    settings = Settings.from_env()
    if not (
        settings.pairwise_key or settings.master_key or (settings.data_dir / "master-key").exists()
    ):
        raise CivicError(
            "unauthorized",
            f"no pairwise key: run the demo with civic up's CIVIC_DATA_DIR ({settings.data_dir})",
        )
    return Platform(settings).pairwise_id


def _give(ex: _Exchange, wallet: Wallet, request: dict[str, Any], who: str) -> dict[str, Any]:
    """``wallet`` pulls its inbox, finds ``request`` there and gives it (screen skipped)."""
    return _answer(ex, wallet, request, who, "given")


def _answer(
    ex: _Exchange, wallet: Wallet, request: dict[str, Any], who: str, decision: Decision
) -> dict[str, Any]:
    """``wallet`` pulls its inbox, finds ``request`` there and answers it with its own key."""
    post = ex.wallet_post()
    pending = {p["id"]: p for p in pull_inbox(wallet, post).get("pending", [])}
    if request["id"] not in pending:
        raise CivicError(
            "internal_error",
            f"the request did not reach {who}'s inbox (does the demo share civic up's "
            "CIVIC_DATA_DIR, for the pairwise key?)",
        )
    record = answer_request(wallet, post, pending[request["id"]], decision)
    if record["state"] != decision:
        raise CivicError("internal_error", f"{who}'s answer was recorded as {record['state']}")
    return record


def _asked_step(ex: _Exchange, request: dict[str, Any], record: dict[str, Any], who: str) -> Step:
    name = ex.cast.names.get(request["requester"], request["requester"])
    return Step(
        f"{name} asks {who} for consent; {who}'s wallet pulls its inbox and "
        f"{'gives' if record['state'] == 'given' else 'refuses'} it",
        (
            f"request {request['id']}: {request['purpose']} from {request['provider']}, "
            f"for {request['valid_days']} days",
            "her wallet presented its PID (personal administrative number and issuing country "
            "only) and signed the answer with the PID's key",
            f"consent {record['id']}: {record['state']} ({record['status_term']})",
        ),
        tuple((c, "asked") for c in request["categories"]),
    )


def _fetch(
    ex: _Exchange, requester: str, consent: str, *, provider: str, service: str, purpose: str
) -> httpx.Response:
    return ex.http.post(
        "/exchange/fetch",
        json={
            "consent": consent,
            "provider": provider,
            "service": service,
            "purpose": purpose,
            "subject": ex.ids(requester, AMARA_SUBJECT),
            "categories": list(
                INSURER_CATEGORIES if requester == "insurer" else COUNCIL_CATEGORIES
            ),
        },
        headers=ex.key(requester),
    )


def _insurer(ex: _Exchange) -> None:
    wallet = ex.cast.wallet
    request = ex.ask("insurer", "dvla", "insurance_quote", INSURER_CATEGORIES)
    record = _give(ex, wallet, request, "Amara")
    ex.cast.step(_asked_step(ex, request, record, "Amara"))
    released = _fetch(
        ex,
        "insurer",
        record["id"],
        provider="dvla",
        service="driving-record",
        purpose="insurance_quote",
    )
    body = _checked(released)
    index, size = ex.receipt(body["receipt"])
    if index != body["log_index"] or set(body["data"]) != set(INSURER_CATEGORIES):
        raise CivicError("internal_error", f"the driving record came wrong: {body}")
    ex.cast.step(
        Step(
            "Civic Mutual Insurance fetches her driving record through the exchange, "
            "with a receipt",
            (
                f"access-log index {index}: released under consent {record['id']}",
                f"receipt verified: signed by {ex.verifier.name}, inclusion proven, "
                f"covered by the latest checkpoint (size {size})",
            ),
            tuple((k, shown(v)) for k, v in sorted(body["data"].items())),
        )
    )


def _council(ex: _Exchange) -> None:
    wallet = ex.cast.wallet
    request = ex.ask("council", "hmrc", "council_tax_reduction", COUNCIL_CATEGORIES)
    record = _give(ex, wallet, request, "Amara")
    ex.cast.step(_asked_step(ex, request, record, "Amara"))
    after = withdraw_consent(wallet, ex.wallet_post(), record)
    if after["state"] != "withdrawn":
        raise CivicError("internal_error", f"the withdrawal was recorded as {after['state']}")
    ex.cast.step(
        Step(
            "Amara withdraws the council's consent from her wallet",
            (
                f"consent {after['id']} version {after['version']}: withdrawn, effective at once",
                "signed with the key she gave it with",
            ),
        )
    )
    refused = _fetch(
        ex,
        "council",
        record["id"],
        provider="hmrc",
        service="tax-summary",
        purpose="council_tax_reduction",
    )
    problem = refused.json() if refused.headers.get("content-type", "").endswith("json") else {}
    if refused.is_success or problem.get("code") != "consent_not_active":
        raise CivicError(
            "internal_error", f"the withdrawn consent was not refused: {refused.status_code}"
        )
    details = [str(problem.get("detail", ""))]
    if problem.get("receipt"):
        index, _ = ex.receipt(problem["receipt"])
        details.append(f"the refusal is logged too: access-log index {index}, receipt verified")
    ex.cast.step(
        Step(
            "Northside Council fetches her tax summary: refused, the consent was withdrawn",
            tuple(details),
            refused="consent_not_active",
        )
    )


def _relative_wallet(ex: _Exchange, relationship: str, name: str, number: str) -> Wallet:
    """A relative's own wallet (in scratch), their PID issued over OpenID4VCI to its key."""
    cast = ex.cast
    wallet = Wallet.create(Path(ex.scratch.name) / relationship, secrets.token_urlsafe(24))
    for anchor in cast.wallet.trust_anchors():
        wallet.pin_trust_anchor(anchor)
    claims = {**AMARA, "given_name": name, "personal_administrative_number": number}
    offer = ex.post(
        "/issuers/passport-office/admin/offers",
        {"vct": PID_VCT, "claims": claims},
        headers=cast.admin,
    )
    prepared = cast.issuance.discover(cast.issuance.resolve(offer["offer"]))
    token, outcome = cast.issuance.receive(
        prepared,
        tx_code=offer["tx_code"],
        sign=lambda aud, nonce: wallet.sign_key_proof(audience=aud, nonce=nonce),
    )
    if not isinstance(outcome, Issued):
        raise CivicError("internal_error", "the story expected the relative's PID at once")
    registry = protocol.registry_from_export(ex.get("/trust/registry"), wallet.trust_anchors())
    for credential in outcome.credentials:
        wallet.add_credential(credential, trust=registry)
    cast.issuance.notify(
        prepared.issuer.notification_endpoint, token, outcome.notification_id, "credential_accepted"
    )
    return wallet


def _gp_switch(ex: _Exchange) -> None:
    cast = ex.cast
    codes = {p["organisation"]: p["ods_code"] for p in ex.get("/gp/practices")}
    request = ex.ask(GP_REQUESTER, GP_PROVIDER, "patient_registration", RECORD_CATEGORIES)
    record = _give(ex, cast.wallet, request, "Amara")
    cast.step(_asked_step(ex, request, record, "Amara"))
    relatives = dict(zip((r for r, _, _ in RELATIVES), DEMO_CITIZENS[1:], strict=True))
    gp = ex.key(GP_REQUESTER)
    registered = ex.post(
        "/gp/registrations",
        {
            "practice": codes[GP_REQUESTER],
            "previous_practice": codes[GP_PROVIDER],
            "subject": ex.ids(GP_REQUESTER, AMARA_SUBJECT),
            "consent": record["id"],
            "relatives": [
                {
                    "issuing_country": country,
                    "personal_administrative_number": number,
                    "relationship": rel,
                    "practice": codes[GP_PROVIDER],
                }
                for rel, (country, number) in relatives.items()
            ],
        },
        headers=gp,
    )
    index, size = ex.receipt(registered["receipt"])
    if index != registered["log_index"] or set(registered["record"]) != set(RECORD_CATEGORIES):
        raise CivicError("internal_error", f"the patient record came wrong: {registered}")
    cast.step(
        Step(
            f"{cast.names.get(GP_REQUESTER, GP_REQUESTER)} registers Amara and takes over her "
            "record from her old practice, with a receipt",
            (
                f"registration {registered['id']} at {registered['ods_code']} "
                f"(from {codes[GP_PROVIDER]}), under consent {record['id']}",
                f"access-log index {index}: receipt verified, covered by the latest checkpoint "
                f"(size {size})",
                *(
                    f"her {a['relationship']} is asked, in their own inbox "
                    f"(request {a['consent_request']})"
                    for a in registered["relatives"]
                ),
            ),
            tuple((k, "moved") for k in sorted(registered["record"])),
        )
    )
    asked = {a["relationship"]: a["consent_request"] for a in registered["relatives"]}
    for rel, name, decision in RELATIVES:
        wallet = _relative_wallet(ex, rel, name, relatives[rel][1])
        answer = _answer(ex, wallet, {"id": asked[rel]}, f"her {rel}", decision)
        cast.step(
            Step(
                f"Her {rel}'s own wallet {'gives' if decision == 'given' else 'refuses'} "
                "the family-history consent",
                (
                    f"{name}'s PID was issued to their own wallet's key over OpenID4VCI; their "
                    "wallet pulled its inbox and signed the answer with that key",
                    f"consent {answer['id']}: {answer['state']}",
                ),
            )
        )
    shared = ex.post(f"/gp/registrations/{registered['id']}/family-history", None, headers=gp)
    by = {s["relationship"]: s for s in shared}
    mother, brother = by["mother"], by["brother"]
    if (
        mother["state"] != "given"
        or set(mother["data"] or {}) != {FAMILY_CATEGORY}
        or brother["state"] != "refused"
        or brother["data"] is not None
    ):
        raise CivicError("internal_error", f"family history shared wrongly: {shared}")
    m_index, _ = ex.receipt(mother["receipt"])
    cast.step(
        Step(
            "Only the consenting relative's family history is shared with the new practice",
            (
                f"mother: given, shared with a receipt (access-log index {m_index}, verified)",
                "brother: refused, nothing fetched",
            ),
            ((FAMILY_CATEGORY, shown(mother["data"][FAMILY_CATEGORY])),),
        )
    )
