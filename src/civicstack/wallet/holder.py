"""The holder's wallet: credentials, consent before every presentation, history, signatures.

Presenting follows the EU ARF's order for a wallet unit answering a relying party (user approval
only after relying-party authentication and the over-asking check) on top of RFC 9901 §7.2
(the Holder's selection of Disclosures and the Key Binding JWT):

1. check the request against the relying party's registration in the trust registry: a
   suspended, unregistered or over-asking relying party is refused before the holder is asked;
2. pick, for each credential query, the most recent valid stored credential of that type that
   holds every requested claim (``no_matching_credential`` otherwise);
3. build the presentations (SD-JWT+KB bound to ``aud`` and ``nonce``) and read back, from the
   presentations themselves, every claim and value a verifier would see;
4. ask the holder, showing who asks, under which registration and purpose, and exactly what
   leaves the device; declining sends nothing (``consent_declined``);
5. record the outcome in the append-only history (refusals and declines too).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from civicstack._crypto import Alg, PublicKey, sha256_b64url
from civicstack.credentials import inspect, present_credential, verify_issued
from civicstack.errors import CivicError, InputError, VerificationError
from civicstack.openid4vci.proofs import create_key_proof
from civicstack.trust import ALWAYS_VISIBLE_CLAIMS, RelyingPartyRegistration, RootAuthority
from civicstack.types import Clock, IssuerTrust, SystemClock
from civicstack.wallet.consent import (
    METADATA_CLAIMS,
    ConsentItem,
    ConsentPrompt,
    ConsentSummary,
    DisclosedClaim,
    revealed_claims,
)
from civicstack.wallet.documents import DocumentSignature, sign_document
from civicstack.wallet.history import History, PresentationOutcome, PresentationRecord
from civicstack.wallet.limits import DEFAULT_LIMITS, Limits
from civicstack.wallet.presentation import CredentialQuery, Presentation, PresentationRequest
from civicstack.wallet.vault import Rng, Vault, check_name

_CREDENTIALS = "credentials"
_META = "meta"
_ANCHOR = "anchor-"
_PENDING = "pending-"
#: Refusals worth remembering: the relying party asked and was turned away.
_RECORDED_REFUSALS = frozenset(
    {
        "unregistered_relying_party",
        "relying_party_suspended",
        "overasking",
        "no_matching_credential",
    }
)


class RelyingPartyTrust(Protocol):
    """What the wallet asks the trust registry (:class:`civicstack.trust.TrustRegistry`)."""

    def check_request(
        self,
        relying_party: str,
        purpose: str,
        claims: Mapping[str, Iterable[str]],
        now: int,
    ) -> RelyingPartyRegistration:
        """The registration allowing this request; raise if there is none."""
        ...


@dataclass(frozen=True, slots=True)
class StoredCredential:
    """A credential in the wallet, with what the holder can read of it."""

    id: str
    iss: str
    vct: str
    received_at: int
    iat: int | None
    nbf: int | None
    exp: int | None
    claims: Mapping[str, Any]
    disclosable: tuple[str, ...]
    sd_jwt: str = field(repr=False)

    def valid_at(self, now: int) -> bool:
        """Whether the credential's own validity period includes ``now``."""
        return (self.nbf is None or self.nbf <= now) and (self.exp is None or now < self.exp)


def _has_claim(claims: Mapping[str, Any], path: str) -> bool:
    node: Any = claims
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


class Wallet:
    """A holder wallet in a directory, opened with its passphrase. Returns values; never prints."""

    def __init__(
        self,
        vault: Vault,
        *,
        clock: Clock | None = None,
        rng: Rng = os.urandom,
        limits: Limits = DEFAULT_LIMITS,
    ) -> None:
        self._vault = vault
        self._history = History(vault)
        self._clock: Clock = clock or SystemClock()
        self._rng = rng
        self.limits = limits

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        passphrase: str,
        *,
        alg: Alg = "ES256",
        clock: Clock | None = None,
        rng: Rng = os.urandom,
        kdf: dict[str, Any] | None = None,
        limits: Limits = DEFAULT_LIMITS,
    ) -> Wallet:
        """Create a wallet in ``path`` with a new holder key (``ES256`` or ``EdDSA``)."""
        vault = Vault.create(path, passphrase, alg=alg, kdf=kdf, rng=rng, limits=limits)
        return cls(vault, clock=clock, rng=rng, limits=limits)

    @classmethod
    def open(
        cls,
        path: str | os.PathLike[str],
        passphrase: str,
        *,
        clock: Clock | None = None,
        rng: Rng = os.urandom,
        limits: Limits = DEFAULT_LIMITS,
    ) -> Wallet:
        """Open the wallet in ``path``.

        Raises ``no_wallet``, ``wrong_passphrase`` or ``wallet_corrupted``.
        """
        return cls(Vault.open(path, passphrase, limits=limits), clock=clock, rng=rng, limits=limits)

    @property
    def path(self) -> str:
        """The wallet's directory."""
        return str(self._vault.path)

    def now(self) -> int:
        """The time on the wallet's clock."""
        return self._clock.now()

    @property
    def holder_key(self) -> PublicKey:
        """The public half of the holder key (credentials are bound to it; signatures check
        against it)."""
        return self._vault.holder.public_key

    def change_passphrase(self, new_passphrase: str, *, kdf: dict[str, Any] | None = None) -> None:
        """Re-seal the wallet's keys under a new passphrase."""
        self._vault.change_passphrase(new_passphrase, kdf=kdf)

    # --- credentials ---------------------------------------------------------------------

    def add_credential(self, sd_jwt: str, *, trust: IssuerTrust | None = None) -> StoredCredential:
        """Store an issued SD-JWT VC bound to this wallet's holder key.

        With ``trust``, the issuer's signature and accreditation are verified first (as a
        verifier would, without key binding). Raises ``invalid_credential`` for a credential of
        another holder or without ``vct``; ``conflict`` if it is already stored.
        """
        if not isinstance(sd_jwt, str):
            raise InputError("malformed", "a credential is an SD-JWT string")
        if len(sd_jwt) > self.limits.credential_bytes:
            raise InputError("too_large", "credential too large")
        now = self._clock.now()
        held = inspect(sd_jwt)
        if not held.iss or not held.vct:
            raise VerificationError("invalid_credential", "an SD-JWT VC names its iss and vct")
        if held.holder_jwk is None:
            raise VerificationError("invalid_credential", "the credential is not holder-bound")
        if PublicKey.from_jwk(held.holder_jwk) != self.holder_key:
            raise VerificationError("invalid_credential", "the credential is bound to another key")
        if trust is not None:
            verify_issued(sd_jwt, trust=trust, now=now)
        if any(c.sd_jwt == sd_jwt for c in self.credentials()):
            raise CivicError("conflict", "this credential is already in the wallet")
        # Hex, not base64url: an id starting with "-" would read as an option on the CLI.
        credential_id = self._rng(9).hex()
        self._vault.put(_CREDENTIALS, credential_id, {"sd_jwt": sd_jwt, "received_at": now})
        return self.credential(credential_id)

    def credentials(self) -> tuple[StoredCredential, ...]:
        """Every stored credential, oldest first."""
        stored = [self.credential(name) for name in self._vault.names(_CREDENTIALS)]
        return tuple(sorted(stored, key=lambda c: (c.received_at, c.id)))

    def credential(self, credential_id: str) -> StoredCredential:
        """One stored credential by id; ``not_found`` if absent."""
        check_name(credential_id)
        record = self._vault.get(_CREDENTIALS, credential_id)
        sd_jwt, received_at = record.get("sd_jwt"), record.get("received_at")
        if not isinstance(sd_jwt, str) or not isinstance(received_at, int):
            raise CivicError("wallet_corrupted", f"credential {credential_id} is damaged")
        try:
            held = inspect(sd_jwt)
        except CivicError as exc:
            raise CivicError(
                "wallet_corrupted", f"credential {credential_id}: {exc.detail}"
            ) from exc
        return StoredCredential(
            id=credential_id,
            iss=held.iss,
            vct=held.vct or "",
            received_at=received_at,
            iat=held.iat,
            nbf=held.nbf,
            exp=held.exp,
            claims=held.claims,
            disclosable=held.disclosable,
            sd_jwt=sd_jwt,
        )

    def remove_credential(self, credential_id: str) -> None:
        """Delete a stored credential; ``not_found`` if absent."""
        self._vault.delete(_CREDENTIALS, check_name(credential_id))

    # --- presentation --------------------------------------------------------------------

    def present(
        self,
        request: PresentationRequest,
        *,
        trust: RelyingPartyTrust,
        consent: ConsentPrompt,
    ) -> Presentation:
        """Answer ``request`` after the checks and the holder's consent (see the module doc)."""
        now = self._clock.now()
        # 1. the relying party's registration allows this request
        try:
            registration = trust.check_request(
                request.relying_party, request.purpose, request.claims_by_vct(), now
            )
            purpose = registration.purposes.get(request.purpose)
            if purpose is None:
                raise VerificationError("overasking", f"no purpose {request.purpose!r}")
            # 2. a credential for each query
            chosen = [(q, self._choose(q, now)) for q in request.queries]
        except CivicError as exc:
            if exc.code in _RECORDED_REFUSALS:
                self._record(request, now, "refused", error=exc.code)
            raise
        # 3. the presentations, and what they reveal, read back from them
        tokens, items = self._build(request, chosen, now)
        summary = ConsentSummary(
            relying_party=request.relying_party,
            relying_party_name=registration.name,
            registrar=registration.registrar,
            registration=registration.jti,
            purpose=request.purpose,
            purpose_description=purpose.description,
            aud=request.aud,
            nonce=request.nonce,
            items=items,
        )
        # 4. the holder decides
        if consent(summary) is not True:
            self._record(request, now, "declined", summary=summary)
            raise CivicError("consent_declined", f"declined to share with {registration.name}")
        later = self._clock.now()
        if later != now:
            # The holder took time: bind the presentations to the moment they are sent, with
            # the very same disclosures that were shown.
            fresh, _ = self._build(request, chosen, later)
            if any(_without_kb(fresh[k]) != _without_kb(tokens[k]) for k in tokens):
                raise CivicError("internal_error", "the disclosures changed after consent")
            tokens = fresh
        # 5. the history
        record = self._record(request, later, "presented", summary=summary)
        return Presentation(tokens=tokens, summary=summary, record=record)

    def _choose(self, query: CredentialQuery, now: int) -> StoredCredential:
        wanted = [p for p in query.claims if p not in METADATA_CLAIMS]
        matches = [
            c
            for c in self.credentials()
            if c.vct == query.vct
            and c.valid_at(now)
            and all(_has_claim(c.claims, p) for p in wanted)
        ]
        if not matches:
            raise CivicError(
                "no_matching_credential",
                f"no valid {query.vct} credential holding {', '.join(query.claims)}",
            )
        return max(matches, key=lambda c: (c.iat or 0, c.received_at))

    def _build(
        self,
        request: PresentationRequest,
        chosen: list[tuple[CredentialQuery, StoredCredential]],
        now: int,
    ) -> tuple[dict[str, str], tuple[ConsentItem, ...]]:
        tokens: dict[str, str] = {}
        items: list[ConsentItem] = []
        for query, credential in chosen:
            disclose = [p for p in query.claims if p not in ALWAYS_VISIBLE_CLAIMS]
            token = present_credential(
                credential.sd_jwt,
                disclose=disclose,
                holder=self._vault.holder,
                aud=request.aud,
                nonce=request.nonce,
                now=now,
            )
            revealed = inspect(_without_kb(token))
            metadata = [
                DisclosedClaim(name, revealed.payload[name])
                for name in METADATA_CLAIMS
                if name in revealed.payload
            ]
            tokens[query.id] = token
            items.append(
                ConsentItem(
                    query=query.id,
                    credential=credential.id,
                    vct=credential.vct,
                    issuer=credential.iss,
                    claims=tuple(sorted(revealed_claims(revealed.claims), key=lambda c: c.path)),
                    metadata=tuple(metadata),
                )
            )
        return tokens, tuple(items)

    def _record(
        self,
        request: PresentationRequest,
        at: int,
        outcome: PresentationOutcome,
        *,
        summary: ConsentSummary | None = None,
        error: str = "",
    ) -> PresentationRecord:
        record = PresentationRecord(
            seq=0,
            at=at,
            outcome=outcome,
            relying_party=request.relying_party,
            purpose=request.purpose,
            aud=request.aud,
            nonce=request.nonce,
            relying_party_name=summary.relying_party_name if summary else "",
            registrar=summary.registrar if summary else "",
            registration=summary.registration if summary else "",
            purpose_description=summary.purpose_description if summary else "",
            items=summary.items if summary else (),
            error=error,
        )
        seq = self._history.append(record.to_json())
        return PresentationRecord.from_json(seq, record.to_json())

    def history(self) -> tuple[PresentationRecord, ...]:
        """Every presentation, decline and refusal, oldest first (the chain is checked)."""
        return self._history.records()

    # --- receiving credentials (OpenID4VCI) -------------------------------------------------

    def sign_key_proof(self, *, audience: str, nonce: str | None) -> str:
        """A key proof for a Credential Request (OpenID4VCI Appendix F.1), signed by the holder
        key: ``typ`` ``openid4vci-proof+jwt``, the public key as ``jwk``, ``aud`` the Credential
        Issuer, ``iat`` now and the issuer's ``c_nonce``. The key never leaves the wallet."""
        if not isinstance(audience, str) or not 0 < len(audience) <= 2048:
            raise InputError("invalid_request", "the audience is the Credential Issuer's URL")
        return create_key_proof(
            self._vault.holder, audience=audience, nonce=nonce, now=self._clock.now()
        )

    def trust_anchors(self) -> tuple[RootAuthority, ...]:
        """The roots this wallet trusts issuers under (pinned on first use or by the holder)."""
        out = []
        for name in self._vault.names(_META):
            if name.startswith(_ANCHOR):
                try:
                    out.append(RootAuthority.from_json(self._vault.get(_META, name)))
                except CivicError as exc:
                    raise CivicError(
                        "wallet_corrupted", f"trust anchor {name}: {exc.detail}"
                    ) from exc
        return tuple(out)

    def pin_trust_anchor(self, root: RootAuthority) -> bool:
        """Trust ``root`` from now on; False if it was pinned already (same id and keys)."""
        name = _ANCHOR + sha256_b64url(root.id.encode())[:32]
        try:
            current = RootAuthority.from_json(self._vault.get(_META, name))
        except CivicError as exc:
            if exc.code != "not_found":
                raise
        else:
            if current.keys.thumbprints() == root.keys.thumbprints():
                return False
        self._vault.put(_META, name, root.to_json(), replace=True)
        return True

    def save_pending(self, record: Mapping[str, Any]) -> str:
        """Keep a deferred issuance (its transaction id and access token, encrypted at rest as
        OpenID4VCI §13.6 asks) until it is collected; returns its local id."""
        pending_id = self._rng(9).hex()
        self._vault.put(_META, _PENDING + pending_id, {**record, "id": pending_id})
        return pending_id

    def pending(self) -> tuple[dict[str, Any], ...]:
        """Deferred issuances still to collect, oldest first."""
        records = [
            self._vault.get(_META, name)
            for name in self._vault.names(_META)
            if name.startswith(_PENDING)
        ]
        return tuple(sorted(records, key=lambda r: (r.get("created_at", 0), r.get("id", ""))))

    def drop_pending(self, pending_id: str) -> None:
        """Forget a deferred issuance (collected, or refused by the issuer)."""
        self._vault.delete(_META, _PENDING + check_name(pending_id))

    # --- documents -----------------------------------------------------------------------

    def sign_document(self, content: bytes) -> DocumentSignature:
        """Sign ``content`` with the holder key (a detached JWS; see :mod:`.documents`)."""
        return sign_document(self._vault.holder, content, now=self._clock.now(), limits=self.limits)


def _without_kb(presentation: str) -> str:
    """The SD-JWT part of an SD-JWT+KB: everything up to the last ``~`` (RFC 9901 §4)."""
    return presentation[: presentation.rindex("~") + 1]
