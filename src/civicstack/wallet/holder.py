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

Copies (unlinkable presentations). One holder key for every credential would let relying
parties link every presentation of the same person. So the wallet asks an issuer for a batch
of copies of each credential (OpenID4VCI 1.0 §8.2, at most the issuer's ``batch_size``,
§12.2.4), each bound to a fresh key of its own (:meth:`Wallet.new_copy_keys`, kept wrapped in
the vault), and stores them as one credential (:meth:`Wallet.add_copies`). The copy policy, in
step 2:

* a relying party (by ``aud``, its OpenID4VP ``client_id``) that was shown a copy before is
  shown the same copy again: it learns nothing new, and the copies last longer;
* any other relying party gets a copy never shown to anyone, so no two relying parties hold a
  common key, salt, digest, signature or status index;
* when none is left the wallet refuses (``no_unused_copy``) unless the holder explicitly allows
  reuse (:class:`UnsafeReuseCopies`, which logs a warning; the copy shown to the fewest relying
  parties is reused);
* when unused copies fall to the wallet's threshold (:attr:`WalletSettings.low_copies`, 1 by
  default) the :class:`Presentation` carries a :class:`LowCopies` warning: ask the issuer for a
  new offer, which re-issues.

Which copy went to which relying party is kept in the credential's record and in the history
(:attr:`ConsentItem.copy`). A credential bound to the wallet's own holder key (added before
batches, or by :meth:`Wallet.add_credential`) has one copy that every relying party sees: such a
credential was linkable from the start, and it is presented as before.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from civicstack._crypto import Alg, PrivateKey, PublicKey, sha256_b64url, sign_jwt
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
from civicstack.wallet.presentation import (
    CredentialQuery,
    LowCopies,
    Presentation,
    PresentationRequest,
)
from civicstack.wallet.vault import Rng, Vault, check_name

_log = logging.getLogger(__name__)

_CREDENTIALS = "credentials"
_META = "meta"
_ANCHOR = "anchor-"
_PENDING = "pending-"
_SETTINGS = "settings"
_CONSENTS = "consents"
#: Refusals worth remembering: the relying party asked and was turned away.
_RECORDED_REFUSALS = frozenset(
    {
        "unregistered_relying_party",
        "relying_party_suspended",
        "overasking",
        "no_matching_credential",
        "no_unused_copy",
    }
)
#: Copies asked of an issuer per credential unless the holder says otherwise.
DEFAULT_BATCH_SIZE = 5
#: Unused copies at (or below) which a presentation warns.
DEFAULT_LOW_COPIES = 1


@dataclass(frozen=True, slots=True)
class WalletSettings:
    """The holder's preferences, kept (encrypted) in the wallet.

    ``batch_size``  copies asked of an issuer per credential (each with its own key; the issuer's
                    ``batch_size`` caps it), 1 to :attr:`Limits.copies`
    ``low_copies``  warn when a credential's unused copies fall to this many
    """

    batch_size: int = DEFAULT_BATCH_SIZE
    low_copies: int = DEFAULT_LOW_COPIES

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"batch_size": self.batch_size, "low_copies": self.low_copies}


class UnsafeReuseCopies:
    """Allow a presentation to reuse a copy already shown to another relying party when no
    unused copy is left: those relying parties can then link the two presentations. Logs a
    warning each time it is used."""

    def reuse(self, credential_id: str, relying_party: str) -> None:
        """Note (as a warning) that a shown copy of ``credential_id`` goes to ``relying_party``."""
        _log.warning(
            "no unused copy of credential %s is left: reusing one for %s, which makes the "
            "presentations linkable",
            credential_id,
            relying_party,
        )


@dataclass(frozen=True, slots=True)
class CredentialCopy:
    """One copy of a stored credential: its SD-JWT, the wallet key it is bound to (None: the
    wallet's holder key) and the relying parties (``aud``) it was shown to."""

    index: int
    key: str | None
    sd_jwt: str = field(repr=False)
    presented_to: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The stored form."""
        return {"sd_jwt": self.sd_jwt, "key": self.key, "presented_to": list(self.presented_to)}


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
    sd_jwt: str = field(repr=False)  # the first copy's
    copies: tuple[CredentialCopy, ...] = field(default=(), repr=False)

    def valid_at(self, now: int) -> bool:
        """Whether the credential's own validity period includes ``now``."""
        return (self.nbf is None or self.nbf <= now) and (self.exp is None or now < self.exp)

    @property
    def own_keys(self) -> bool:
        """Whether its copies are bound to keys of their own (batch issuance), rather than to
        the wallet's holder key."""
        return any(c.key is not None for c in self.copies)

    @property
    def unused_copies(self) -> int:
        """How many copies no relying party has seen yet."""
        return sum(1 for c in self.copies if not c.presented_to)

    def copy_for(self, relying_party: str) -> CredentialCopy | None:
        """The copy to show ``relying_party`` without linking it to any other: the one it saw
        before, else an unused one; None when neither exists (see the module doc)."""
        for copy in self.copies:
            if relying_party in copy.presented_to:
                return copy
        if not self.own_keys:
            return self.copies[0] if self.copies else None
        return next((c for c in self.copies if not c.presented_to), None)


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
        """Store an issued SD-JWT VC bound to this wallet's holder key, or to one of its copy
        keys (a credential of one copy).

        With ``trust``, the issuer's signature and accreditation are verified first (as a
        verifier would, without key binding). Raises ``invalid_credential`` for a credential of
        another holder or without ``vct``; ``conflict`` if it is already stored.
        """
        return self.add_copies([sd_jwt], trust=trust)

    def add_copies(
        self, sd_jwts: Sequence[str], *, trust: IssuerTrust | None = None
    ) -> StoredCredential:
        """Store the copies of one credential an issuer sent as a batch (OpenID4VCI §8.2): the
        same issuer, type, claims and validity, each copy bound to a different key of this
        wallet (from :meth:`new_copy_keys`). Checked as :meth:`add_credential` checks one;
        ``invalid_credential`` when the copies differ or share a key."""
        if not isinstance(sd_jwts, Sequence) or isinstance(sd_jwts, str) or not sd_jwts:
            raise InputError("malformed", "copies come as a non-empty list of SD-JWTs")
        if len(sd_jwts) > self.limits.copies:
            raise InputError("too_large", f"at most {self.limits.copies} copies of a credential")
        now = self._clock.now()
        keys = self._copy_keys_by_thumbprint()
        copies: list[CredentialCopy] = []
        first: Any = None
        for sd_jwt in sd_jwts:
            held, key = self._bound_copy(sd_jwt, keys)
            if any(c.key == key for c in copies):
                raise VerificationError("invalid_credential", "two copies are bound to one key")
            if first is None:
                first = held
            elif (held.iss, held.vct, held.claims, held.iat, held.nbf, held.exp) != (
                first.iss,
                first.vct,
                first.claims,
                first.iat,
                first.nbf,
                first.exp,
            ):
                raise VerificationError(
                    "invalid_credential", "the copies are not copies of one credential"
                )
            if trust is not None:
                verify_issued(sd_jwt, trust=trust, now=now)
            copies.append(CredentialCopy(len(copies), key, sd_jwt))
        held_now = {c.sd_jwt for stored in self.credentials() for c in stored.copies}
        if any(c.sd_jwt in held_now for c in copies):
            raise CivicError("conflict", "this credential is already in the wallet")
        # Hex, not base64url: an id starting with "-" would read as an option on the CLI.
        credential_id = self._rng(9).hex()
        record = {"received_at": now, "copies": [c.to_json() for c in copies]}
        self._vault.put(_CREDENTIALS, credential_id, record)
        return self.credential(credential_id)

    def _bound_copy(self, sd_jwt: object, keys: Mapping[str, str]) -> tuple[Any, str | None]:
        """A received copy, read, and the wallet key it is bound to (None: the holder key)."""
        if not isinstance(sd_jwt, str):
            raise InputError("malformed", "a credential is an SD-JWT string")
        if len(sd_jwt) > self.limits.credential_bytes:
            raise InputError("too_large", "credential too large")
        held = inspect(sd_jwt)
        if not held.iss or not held.vct:
            raise VerificationError("invalid_credential", "an SD-JWT VC names its iss and vct")
        if held.holder_jwk is None:
            raise VerificationError("invalid_credential", "the credential is not holder-bound")
        bound = PublicKey.from_jwk(held.holder_jwk)
        if bound == self.holder_key:
            return held, None
        if bound.thumbprint() in keys:
            return held, keys[bound.thumbprint()]
        raise VerificationError("invalid_credential", "the credential is bound to another key")

    def credentials(self) -> tuple[StoredCredential, ...]:
        """Every stored credential, oldest first."""
        stored = [self.credential(name) for name in self._vault.names(_CREDENTIALS)]
        return tuple(sorted(stored, key=lambda c: (c.received_at, c.id)))

    def credential(self, credential_id: str) -> StoredCredential:
        """One stored credential by id; ``not_found`` if absent."""
        check_name(credential_id)
        record = self._vault.get(_CREDENTIALS, credential_id)
        received_at = record.get("received_at")
        copies = _read_copies(record)
        if not copies or not isinstance(received_at, int) or isinstance(received_at, bool):
            raise CivicError("wallet_corrupted", f"credential {credential_id} is damaged")
        try:
            held = inspect(copies[0].sd_jwt)
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
            sd_jwt=copies[0].sd_jwt,
            copies=copies,
        )

    def remove_credential(self, credential_id: str) -> None:
        """Delete a stored credential, and destroy the keys of its copies; ``not_found`` if
        absent."""
        stored = self.credential(check_name(credential_id))
        self._vault.delete(_CREDENTIALS, credential_id)
        self.discard_copy_keys([c.key for c in stored.copies if c.key is not None])

    # --- settings ------------------------------------------------------------------------

    @property
    def settings(self) -> WalletSettings:
        """The holder's preferences (defaults until changed)."""
        try:
            record = self._vault.get(_META, _SETTINGS)
        except CivicError as exc:
            if exc.code != "not_found":
                raise
            return WalletSettings()
        batch, low = record.get("batch_size"), record.get("low_copies")
        if not isinstance(batch, int) or not isinstance(low, int) or not _count(batch):
            raise CivicError("wallet_corrupted", "the wallet's settings are damaged")
        if not _count(low):
            raise CivicError("wallet_corrupted", "the wallet's settings are damaged")
        return WalletSettings(batch_size=batch, low_copies=low)

    def change_settings(
        self, *, batch_size: int | None = None, low_copies: int | None = None
    ) -> WalletSettings:
        """Change the holder's preferences; ``invalid_request`` for a value out of range."""
        current = self.settings
        if batch_size is not None:
            current = replace(current, batch_size=self.check_batch_size(batch_size))
        if low_copies is not None:
            if not _count(low_copies) or low_copies > self.limits.copies:
                raise InputError(
                    "invalid_request", f"the low-copies threshold is 0 to {self.limits.copies}"
                )
            current = replace(current, low_copies=low_copies)
        self._vault.put(_META, _SETTINGS, current.to_json(), replace=True)
        return current

    def check_batch_size(self, size: int) -> int:
        """``size`` if it is a number of copies this wallet may ask for; ``invalid_request``
        otherwise."""
        if not _count(size) or not 1 <= size <= self.limits.copies:
            raise InputError(
                "invalid_request", f"a batch is 1 to {self.limits.copies} copies of a credential"
            )
        return size

    # --- presentation --------------------------------------------------------------------

    def preview(
        self,
        request: PresentationRequest,
        *,
        trust: RelyingPartyTrust,
        reuse: UnsafeReuseCopies | None = None,
    ) -> ConsentSummary:
        """Steps 1-3 of :meth:`present`: what the holder would be asked to share, with nothing
        sent, marked or recorded — except a refusal (over-asking, a suspended or unregistered
        relying party), which is refused and recorded here as :meth:`present` would."""
        return self._prepare(request, trust, reuse)[3]

    def present(
        self,
        request: PresentationRequest,
        *,
        trust: RelyingPartyTrust,
        consent: ConsentPrompt,
        reuse: UnsafeReuseCopies | None = None,
    ) -> Presentation:
        """Answer ``request`` after the checks and the holder's consent (see the module doc).

        Each credential is presented from the copy the copy policy picks; with no unused copy
        left this raises ``no_unused_copy`` unless ``reuse`` allows showing one again.
        """
        now, chosen, tokens, summary = self._prepare(request, trust, reuse)
        # 4. the holder decides
        if consent(summary) is not True:
            self._record(request, now, "declined", summary=summary)
            raise CivicError(
                "consent_declined", f"declined to share with {summary.relying_party_name}"
            )
        later = self._clock.now()
        if later != now:
            # The holder took time: bind the presentations to the moment they are sent, with
            # the very same disclosures that were shown.
            fresh, _ = self._build(request, chosen, later)
            if any(_without_kb(fresh[k]) != _without_kb(tokens[k]) for k in tokens):
                raise CivicError("internal_error", "the disclosures changed after consent")
            tokens = fresh
        # 5. the copies now shown to this relying party, and the history
        low = self._mark_presented(request.aud, chosen)
        record = self._record(request, later, "presented", summary=summary)
        return Presentation(tokens=tokens, summary=summary, record=record, low_copies=low)

    def _prepare(
        self,
        request: PresentationRequest,
        trust: RelyingPartyTrust,
        reuse: UnsafeReuseCopies | None,
    ) -> tuple[
        int,
        list[tuple[CredentialQuery, StoredCredential, CredentialCopy]],
        dict[str, str],
        ConsentSummary,
    ]:
        """Steps 1-3: the registration check, the credentials chosen, what they reveal."""
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
            chosen = [(q, *self._choose(q, request.aud, now, reuse)) for q in request.queries]
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
        return now, chosen, tokens, summary

    def _choose(
        self,
        query: CredentialQuery,
        relying_party: str,
        now: int,
        reuse: UnsafeReuseCopies | None,
    ) -> tuple[StoredCredential, CredentialCopy]:
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
        # The newest credential with a copy this relying party may see without linking it to
        # another; failing that, with explicit leave, the newest one's least shown copy.
        newest_first = sorted(matches, key=lambda c: (c.iat or 0, c.received_at), reverse=True)
        for credential in newest_first:
            copy = credential.copy_for(relying_party)
            if copy is not None:
                return credential, copy
        credential = newest_first[0]
        if reuse is None:
            raise CivicError(
                "no_unused_copy",
                f"every copy of your {query.vct} credential was shown to another relying party; "
                "ask the issuer for a new offer, or allow reuse explicitly",
            )
        reuse.reuse(credential.id, relying_party)
        return credential, min(credential.copies, key=lambda c: (len(c.presented_to), c.index))

    def _mark_presented(
        self,
        relying_party: str,
        chosen: list[tuple[CredentialQuery, StoredCredential, CredentialCopy]],
    ) -> tuple[LowCopies, ...]:
        """Record that each chosen copy went to ``relying_party``; the low-copies warnings."""
        threshold = self.settings.low_copies
        low: list[LowCopies] = []
        for credential_id in dict.fromkeys(c.id for _, c, _ in chosen):
            current = self.credential(credential_id)
            shown = {copy.index for _, c, copy in chosen if c.id == credential_id}
            copies = [
                replace(c, presented_to=(*c.presented_to, relying_party))
                if c.index in shown and relying_party not in c.presented_to
                else c
                for c in current.copies
            ]
            record = {"received_at": current.received_at, "copies": [c.to_json() for c in copies]}
            self._vault.put(_CREDENTIALS, credential_id, record, replace=True)
            updated = replace(current, copies=tuple(copies))
            if updated.own_keys and updated.unused_copies <= threshold:
                low.append(LowCopies(updated.id, updated.vct, updated.iss, updated.unused_copies))
        return tuple(low)

    def _build(
        self,
        request: PresentationRequest,
        chosen: list[tuple[CredentialQuery, StoredCredential, CredentialCopy]],
        now: int,
    ) -> tuple[dict[str, str], tuple[ConsentItem, ...]]:
        tokens: dict[str, str] = {}
        items: list[ConsentItem] = []
        for query, credential, copy in chosen:
            disclose = [p for p in query.claims if p not in ALWAYS_VISIBLE_CLAIMS]
            token = present_credential(
                copy.sd_jwt,
                disclose=disclose,
                holder=self._copy_signer(copy),
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
                    copy=copy.index if credential.own_keys else None,
                )
            )
        return tokens, tuple(items)

    def _copy_signer(self, copy: CredentialCopy) -> PrivateKey:
        return self._vault.holder if copy.key is None else self._vault.copy_key(copy.key)

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

    def new_copy_keys(self, count: int) -> tuple[str, ...]:
        """Make ``count`` fresh keys (the holder key's algorithm), one per copy of a credential
        to ask for, kept wrapped in the vault; their ids. Destroy them with
        :meth:`discard_copy_keys` if no credential comes."""
        self.check_batch_size(count)
        ids: list[str] = []
        for _ in range(count):
            key_id = self._rng(9).hex()
            self._vault.add_copy_key(PrivateKey.generate(self.holder_key.alg), key_id)
            ids.append(key_id)
        return tuple(ids)

    def sign_key_proofs(
        self, key_ids: Sequence[str], *, audience: str, nonce: str | None
    ) -> list[str]:
        """One key proof per copy key (OpenID4VCI §8.2 ``proofs.jwt``, Appendix F.1), each
        signed by its key: the issuer binds one copy to each. The keys never leave the wallet."""
        if not isinstance(audience, str) or not 0 < len(audience) <= 2048:
            raise InputError("invalid_request", "the audience is the Credential Issuer's URL")
        now = self._clock.now()
        return [
            create_key_proof(self._vault.copy_key(k), audience=audience, nonce=nonce, now=now)
            for k in key_ids
        ]

    def discard_copy_keys(self, key_ids: Iterable[str]) -> None:
        """Destroy copy keys no credential is bound to (a refused or abandoned issuance)."""
        for key_id in key_ids:
            try:
                self._vault.delete_copy_key(key_id)
            except CivicError as exc:
                if exc.code != "not_found":
                    raise

    def _copy_keys_by_thumbprint(self) -> dict[str, str]:
        return {
            self._vault.copy_key(k).public_key.thumbprint(): k for k in self._vault.copy_key_ids()
        }

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

    # --- consents for data exchange (civicstack.consent) ----------------------------------

    def prove_and_sign(
        self,
        *,
        vct: str,
        disclose: Sequence[str],
        aud: str,
        nonce: str,
        payloads: Sequence[tuple[str, Mapping[str, Any]]] = (),
    ) -> tuple[str, tuple[str, ...]]:
        """Present ``disclose`` of the newest valid ``vct`` credential to ``aud`` with
        ``nonce`` (SD-JWT+KB), and sign each ``(typ, payload)`` as a JWS with the very key that
        copy is bound to, so that the presentation binds the signatures to its subject.

        The copy is the one shown to ``aud`` before if any (one service, one copy). This is for
        the platform's own services (the consent service), not for relying parties: it makes no
        trust-registry check and records nothing in the presentation history.
        """
        now = self._clock.now()
        query = CredentialQuery(vct, vct, tuple(disclose))
        credential, copy = self._choose(query, aud, now, None)
        key = self._copy_signer(copy)
        presentation = present_credential(
            copy.sd_jwt,
            disclose=[p for p in disclose if p not in ALWAYS_VISIBLE_CLAIMS],
            holder=key,
            aud=aud,
            nonce=nonce,
            now=now,
        )
        self._mark_presented(aud, [(query, credential, copy)])
        signed = tuple(sign_jwt(key, dict(p), {"typ": typ}) for typ, p in payloads)
        return presentation, signed

    def sign_with_key_of(self, thumbprint: str, typ: str, payload: Mapping[str, Any]) -> str:
        """Sign ``payload`` (a JWS typed ``typ``) with the wallet key whose RFC 7638
        thumbprint is ``thumbprint``: the holder key or a copy key (``not_found`` if the wallet
        no longer holds it)."""
        if self._vault.holder.public_key.thumbprint() == thumbprint:
            key = self._vault.holder
        else:
            key_id = self._copy_keys_by_thumbprint().get(thumbprint)
            if key_id is None:
                raise CivicError("not_found", "the wallet no longer holds that key")
            key = self._vault.copy_key(key_id)
        return sign_jwt(key, dict(payload), {"typ": typ})

    def keep_consent(self, record: Mapping[str, Any]) -> None:
        """Keep (or update) the wallet's own copy of a consent it signed."""
        # Wallets made before consents have no such directory yet.
        try:
            (self._vault.path / _CONSENTS).mkdir(mode=0o700, exist_ok=True)
        except OSError as exc:
            raise CivicError("io_error", f"cannot create the consents directory: {exc}") from exc
        self._vault.put(
            _CONSENTS, check_name(str(record.get("id", ""))), dict(record), replace=True
        )

    def consents(self) -> tuple[dict[str, Any], ...]:
        """The wallet's copies of the consents it signed, oldest first."""
        if not (self._vault.path / _CONSENTS).is_dir():
            return ()
        kept = [self._vault.get(_CONSENTS, name) for name in self._vault.names(_CONSENTS)]
        return tuple(sorted(kept, key=lambda r: (r.get("created_at", 0), r.get("id", ""))))

    # --- documents -----------------------------------------------------------------------

    def sign_document(self, content: bytes) -> DocumentSignature:
        """Sign ``content`` with the holder key (a detached JWS; see :mod:`.documents`)."""
        return sign_document(self._vault.holder, content, now=self._clock.now(), limits=self.limits)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _read_copies(record: Mapping[str, Any]) -> tuple[CredentialCopy, ...]:
    """The copies of a credential record; a record written before batches holds one SD-JWT
    bound to the holder key. Empty when the record is damaged."""
    if "copies" not in record:
        sd_jwt = record.get("sd_jwt")
        return (CredentialCopy(0, None, sd_jwt),) if isinstance(sd_jwt, str) else ()
    items = record.get("copies")
    if not isinstance(items, list):
        return ()
    out: list[CredentialCopy] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            return ()
        sd_jwt, key, shown = item.get("sd_jwt"), item.get("key"), item.get("presented_to")
        if (
            not isinstance(sd_jwt, str)
            or (key is not None and not isinstance(key, str))
            or not isinstance(shown, list)
            or not all(isinstance(s, str) for s in shown)
        ):
            return ()
        out.append(CredentialCopy(index, key, sd_jwt, tuple(shown)))
    return tuple(out)


def _without_kb(presentation: str) -> str:
    """The SD-JWT part of an SD-JWT+KB: everything up to the last ``~`` (RFC 9901 §4)."""
    return presentation[: presentation.rindex("~") + 1]
