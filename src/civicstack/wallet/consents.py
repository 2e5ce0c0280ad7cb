"""The wallet's side of the consent service (issue 11): pull the inbox, answer, withdraw.

The wallet pulls its inbox by presenting its PID (disclosing only the personal administrative
number and the issuing country) with a nonce the service hands out; it answers a request by
signing a ``civicstack-consent+jwt`` with the key its PID is bound to (the same presentation
proves who answers), and withdraws with the key it gave the consent with. It keeps its own copy
of every consent record it signed. ``civic wallet consent give|refuse|withdraw`` and ``civic
demo`` both answer through these functions; ``post`` sends one JSON body to a path of the
platform (``/consents/...``) and returns the parsed success, raising the problem's
:class:`~civicstack.errors.CivicError` otherwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from civicstack._crypto import PublicKey
from civicstack.consent import CONSENT_TYP, WITHDRAWAL_TYP, ConsentRequest, Decision, consent_claims
from civicstack.credential_types import PID_VCT
from civicstack.errors import CivicError
from civicstack.trust import TrustRegistry
from civicstack.wallet.holder import Wallet

#: POST ``path`` with a JSON body (or none); the success's parsed JSON.
Post = Callable[[str, Any], Any]
#: What the PID discloses to the consent service: who the citizen is, nothing else.
PID_CLAIMS = ("personal_administrative_number", "issuing_country")


def pull_inbox(wallet: Wallet, post: Post) -> dict[str, Any]:
    """The inbox: pending requests and the citizen's consents, PID-authenticated (the wallet
    keeps the consents it lists)."""
    issued = post("/consents/nonces", None)
    presentation, _ = wallet.prove_and_sign(
        vct=PID_VCT, disclose=PID_CLAIMS, aud=issued["aud"], nonce=issued["nonce"]
    )
    inbox: dict[str, Any] = post(
        "/consents/inbox", {"presentation": presentation, "nonce": issued["nonce"]}
    )
    for record in inbox.get("consents", []):
        wallet.keep_consent(record)
    return inbox


def answer_request(
    wallet: Wallet, post: Post, pending: dict[str, Any], decision: Decision
) -> dict[str, Any]:
    """Sign ``decision`` on the pending request (as the inbox listed it) with the PID's key,
    send it, keep the recorded consent; the record."""
    request = ConsentRequest.from_json(pending)
    issued = post("/consents/nonces", None)
    claims = consent_claims(
        request, decision, aud=issued["aud"], nonce=issued["nonce"], iat=wallet.now()
    )
    presentation, (signed,) = wallet.prove_and_sign(
        vct=PID_VCT,
        disclose=PID_CLAIMS,
        aud=issued["aud"],
        nonce=issued["nonce"],
        payloads=[(CONSENT_TYP, claims)],
    )
    record: dict[str, Any] = post(
        f"/consents/requests/{request.id}/answer",
        {"presentation": presentation, "nonce": issued["nonce"], "consent": signed},
    )
    wallet.keep_consent(record)
    return record


def withdraw_consent(wallet: Wallet, post: Post, record: dict[str, Any]) -> dict[str, Any]:
    """Withdraw a kept consent, signed with the key it was given with; the new version."""
    issued = post("/consents/nonces", None)  # its aud names the service
    claims = {
        "aud": issued["aud"],
        "iat": wallet.now(),
        "decision": "withdrawn",
        "consent": record["id"],
        "version": record["version"],
        "requester": record["requester"],
        "provider": record["provider"],
    }
    # The key the consent was given with (the PID copy's key), still in the wallet.
    thumbprint = PublicKey.from_jwk(holder_jwk(record)).thumbprint()
    signed = wallet.sign_with_key_of(thumbprint, WITHDRAWAL_TYP, claims)
    after: dict[str, Any] = post(
        f"/consents/records/{record['id']}/withdraw", {"withdrawal": signed}
    )
    wallet.keep_consent(after)
    return after


def holder_jwk(record: dict[str, Any]) -> dict[str, Any]:
    """The key the consent was signed with, read from its signed presentation's ``cnf``."""
    from civicstack.credentials import inspect

    sd_jwt = str(record["presentation"]).rsplit("~", 1)[0] + "~"
    cnf = inspect(sd_jwt).payload.get("cnf")
    if not isinstance(cnf, dict) or not isinstance(cnf.get("jwk"), dict):
        raise CivicError("wallet_corrupted", "the kept consent has no bound key")
    return dict(cnf["jwk"])


@dataclass(frozen=True, slots=True)
class RequesterStanding:
    """Whether the organisation asking for consent is a registered relying party now, as the
    trust registry the wallet rebuilt under its own roots says; and its registered purpose."""

    identifier: str | None  # its relying-party identifier (``.../verifiers/<name>``), if any
    names: tuple[str, ...] = ()
    refusal: CivicError | None = None  # suspended, expired...: why it may not ask now
    purpose_description: str | None = None

    @property
    def registered(self) -> bool:
        """Registered and allowed to ask now."""
        return self.identifier is not None and self.refusal is None

    def describe(self) -> str:
        """One line for the consent screen."""
        if self.identifier is None:
            return "NOT REGISTERED"
        if self.refusal is not None:
            return f"REFUSED [{self.refusal.code}] {self.refusal.detail}"
        return f"registered ({', '.join(self.names)}, {self.identifier})"


def requester_standing(
    registry: TrustRegistry, requester: str, purpose: str, *, now: int
) -> RequesterStanding:
    """How ``requester`` (an organisation's name on the platform) stands in ``registry``."""
    registrations = [
        r
        for r in registry.registrations
        if r.relying_party.rstrip("/").endswith(f"/verifiers/{requester}")
    ]
    if not registrations:
        return RequesterStanding(None)
    identifier = registrations[0].relying_party
    description = next(
        (r.purposes[purpose].description for r in registrations if purpose in r.purposes), None
    )
    try:
        current = registry.relying_party(identifier, now)
    except CivicError as exc:
        return RequesterStanding(identifier, refusal=exc, purpose_description=description)
    names = tuple(sorted({r.name for r in current}))
    return RequesterStanding(identifier, names, purpose_description=description)
