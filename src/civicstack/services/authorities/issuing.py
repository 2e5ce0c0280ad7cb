"""Issuing credentials as a hosted authority, each with a status-list entry.

Two safety checks happen before an authority signs a credential: its signing key must resolve
through the trust registry to the root (``untrusted_issuer``, ``accreditation_revoked``...) and
the credential type and claims must lie within its accreditation (``out_of_scope``): the platform
never issues what a verifier would refuse.

A credential may be issued as a batch of copies (OpenID4VCI 1.0 §8.2, one per holder key the
Wallet proved), so that a holder can show each relying party a different copy and no two relying
parties can link what they were shown. The copies therefore share nothing a verifier sees except
the claims themselves and what every credential of the day shares: each is signed separately with
fresh salts and decoy digests, bound to its own key, with its own status-list index; no ``jti``
or other per-credential identifier is set; ``iat`` is truncated to the start of its UTC day
(:func:`coarse_iat`, for single credentials too, so a copy's ``iat`` says no more than "issued
that day") and ``exp`` is that ``iat`` plus the validity, the same for every copy (``nbf`` is
not used). The platform keeps the copies under one credential id: revoking, suspending or
reinstating it changes every copy's status.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from civicstack._crypto import PublicKey, json_dumps
from civicstack.credential_types import (
    AGE_THRESHOLDS,
    CREDENTIAL_TYPES,
    PID_VCT,
    age_predicates,
    pid_disclosable,
)
from civicstack.credentials import issue_credential
from civicstack.errors import InputError
from civicstack.services.authorities.status_lists import StatusListPublishing
from civicstack.services.authorities.storage import TrustStatements
from civicstack.status import CredentialState, IssuedRecord, status_reference
from civicstack.trust.parties import (
    DAY,
    DEFAULT_VALIDITY_DAYS,
    HostedAuthority,
    validity_seconds,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

MAX_CLAIMS_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class IssuedCredential:
    """A credential just issued: the SD-JWT VC, and what the platform keeps of it."""

    record: IssuedRecord
    credential: str
    status_uri: str

    def to_json(self) -> dict[str, Any]:
        """The record, the status reference and the credential."""
        return {
            **self.record.to_json(),
            "status": status_reference(self.status_uri, self.record.idx),
            "credential": self.credential,
        }


class CredentialIssuing(StatusListPublishing):
    """How :class:`~civicstack.services.authorities.Authorities` issues credentials and changes
    their status; ``trust`` and the stores are the service's own."""

    trust: TrustStatements

    def issue(
        self,
        name: str,
        *,
        vct: str,
        claims: Mapping[str, Any],
        holder: PublicKey | None,
        valid_days: int = DEFAULT_VALIDITY_DAYS,
        disclosable: Sequence[str] | None = None,
        conn: Connection | None = None,
    ) -> IssuedCredential:
        """Issue an SD-JWT VC from ``name`` with a status-list entry, bound to ``holder``.

        The one-copy case of :meth:`issue_copies`, which says more.
        """
        (issued,) = self.issue_copies(
            name,
            vct=vct,
            claims=claims,
            holders=[holder],
            valid_days=valid_days,
            disclosable=disclosable,
            conn=conn,
        )
        return issued

    def issue_copies(
        self,
        name: str,
        *,
        vct: str,
        claims: Mapping[str, Any],
        holders: Sequence[PublicKey | None],
        valid_days: int = DEFAULT_VALIDITY_DAYS,
        disclosable: Sequence[str] | None = None,
        conn: Connection | None = None,
    ) -> list[IssuedCredential]:
        """Issue one SD-JWT VC from ``name`` as one copy per key of ``holders`` (a batch): each
        copy signed on its own (fresh salts and decoys), with its own status-list entry, and
        all recorded under one credential id (the records returned all carry it).

        A PID gets its ``age_over_*`` predicates from ``birthdate`` and ``issuing_authority``
        from the authority's name when absent, and discloses address members and nationalities
        one by one; other types disclose each top-level claim (unless ``disclosable`` says
        otherwise). With ``conn``, the credential is recorded inside the caller's write
        transaction (it commits or rolls back with the caller's other writes).
        """
        if not holders:
            raise InputError("invalid_request", "a credential is issued as at least one copy")
        now = self.clock.now()
        iat = coarse_iat(now)
        lifetime = validity_seconds(valid_days)
        hosted, key = self.store.signing_key(name)
        if hosted.role == "relying_party":
            raise InputError("invalid_request", f"{name} is a relying party: it issues nothing")
        full = _complete_claims(vct, claims, hosted, now)
        registry = self.trust.registry()
        kid = key.public_key.thumbprint()
        # Never issue what a verifier would refuse: the chain and the scope first.
        registry.issuer_key(hosted.identifier, kid, now)
        registry.check_scope(hosted.identifier, vct, frozenset(full), now)
        paths = list(disclosable) if disclosable is not None else None
        if paths is None and vct == PID_VCT:
            paths = pid_disclosable(full)

        def sign(copy: int, list_id: str, idx: int) -> tuple[str, str, int]:
            credential = issue_credential(
                key,
                iss=hosted.identifier,
                vct=vct,
                claims=full,
                holder=holders[copy],
                disclosable=paths,
                status=status_reference(self.status_uri(hosted, list_id), idx),
                iat=iat,
                exp=iat + lifetime,
                kid=kid,
            )
            return credential, list_id, idx

        # The record keeps the real time of issue (the platform's own books, ordered by it);
        # only the credentials carry the coarse one.
        record, copies = self.status.issue_copies(
            hosted.name,
            vct=vct,
            holder_thumbprints=[h.thumbprint() if h is not None else None for h in holders],
            iat=now,
            exp=iat + lifetime,
            sign=sign,
            conn=conn,
        )
        return [
            IssuedCredential(
                replace(record, list_id=list_id, idx=idx),
                credential,
                self.status_uri(hosted, list_id),
            )
            for credential, list_id, idx in copies
        ]

    def check_issuable(self, name: str, *, vct: str, claims: Mapping[str, Any]) -> None:
        """Raise what :meth:`issue` would raise for these claims (``out_of_scope``,
        ``invalid_credential``, ``untrusted_issuer``...), without signing anything: offers and
        applications are refused up front rather than at the end of a protocol run."""
        now = self.clock.now()
        hosted = self.store.get(name)
        if hosted.role != "authority":
            raise InputError("invalid_request", f"{name} is not an authority: it issues nothing")
        full = _complete_claims(vct, claims, hosted, now)
        registry = self.trust.registry()
        registry.issuer_key(hosted.identifier, hosted.active_key.kid, now)
        registry.check_scope(hosted.identifier, vct, frozenset(full), now)

    def revoke_credential(self, credential_id: str) -> IssuedRecord:
        """Revoke an issued credential, for good: its status becomes INVALID (Token Status List
        §7.1) and no later change is allowed (``conflict``)."""
        return self.set_status(credential_id, "revoked")

    def suspend_credential(self, credential_id: str) -> IssuedRecord:
        """Suspend an issued credential (SUSPENDED, §7.1), until
        :meth:`reinstate_credential`."""
        return self.set_status(credential_id, "suspended")

    def reinstate_credential(self, credential_id: str) -> IssuedRecord:
        """Lift a suspension: the credential is VALID again (``conflict`` once revoked)."""
        return self.set_status(credential_id, "valid")

    def set_status(self, credential_id: str, state: CredentialState) -> IssuedRecord:
        """Move an issued credential to ``state`` by name: :meth:`revoke_credential` (``revoked``),
        :meth:`suspend_credential` (``suspended``) or :meth:`reinstate_credential` (``valid``)."""
        return self.status.set_state(credential_id, state, now=self.clock.now())

    def credential(self, credential_id: str) -> IssuedRecord:
        """The record of an issued credential."""
        return self.status.credential(credential_id)

    def credentials(self, name: str | None = None) -> tuple[IssuedRecord, ...]:
        """Issued credentials (of ``name``), newest first."""
        if name is not None:
            self.store.get(name)
        return self.status.credentials(name)


def coarse_iat(now: int) -> int:
    """``now`` truncated to the start of its UTC day: the ``iat`` a credential carries, so that
    the copies of one batch, and a holder's credentials of the same day, are not told apart by
    the second they were issued."""
    return now - now % DAY


def _complete_claims(
    vct: str, claims: Mapping[str, Any], authority: HostedAuthority, now: int
) -> dict[str, Any]:
    if not isinstance(claims, Mapping):
        raise InputError("invalid_request", "claims must be a JSON object")
    try:
        size = len(json_dumps(dict(claims)))
    except TypeError as exc:
        raise InputError("invalid_request", "claims must be JSON values") from exc
    if size > MAX_CLAIMS_BYTES:
        raise InputError("too_large", f"claims larger than {MAX_CLAIMS_BYTES} bytes")
    full = dict(claims)
    if vct == PID_VCT:
        full.setdefault("issuing_authority", authority.display_name)
        birthdate = full.get("birthdate")
        if isinstance(birthdate, str):
            for name, value in age_predicates(birthdate, now, AGE_THRESHOLDS).items():
                given = full.setdefault(name, value)
                if given is not value:
                    raise InputError("invalid_request", f"{name} contradicts the birthdate")
    known = CREDENTIAL_TYPES.get(vct)
    if known is not None:
        known.check(full)
    return full
