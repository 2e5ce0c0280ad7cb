"""Issuing credentials as a hosted authority, each with a status-list entry.

Two safety checks happen before an authority signs a credential: its signing key must resolve
through the trust registry to the root (``untrusted_issuer``, ``accreditation_revoked``...) and
the credential type and claims must lie within its accreditation (``out_of_scope``): the platform
never issues what a verifier would refuse.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
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
from civicstack.trust.parties import DEFAULT_VALIDITY_DAYS, HostedAuthority, validity_seconds

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

        A PID gets its ``age_over_*`` predicates from ``birthdate`` and ``issuing_authority``
        from the authority's name when absent, and discloses address members and nationalities
        one by one; other types disclose each top-level claim (unless ``disclosable`` says
        otherwise). With ``conn``, the credential is recorded inside the caller's write
        transaction (it commits or rolls back with the caller's other writes).
        """
        now = self.clock.now()
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

        def sign(list_id: str, idx: int) -> str:
            return issue_credential(
                key,
                iss=hosted.identifier,
                vct=vct,
                claims=full,
                holder=holder,
                disclosable=paths,
                status=status_reference(self.status_uri(hosted, list_id), idx),
                iat=now,
                exp=now + lifetime,
                kid=kid,
            )

        record, credential = self.status.issue(
            hosted.name,
            vct=vct,
            holder_thumbprint=holder.thumbprint() if holder is not None else None,
            iat=now,
            exp=now + lifetime,
            sign=sign,
            conn=conn,
        )
        return IssuedCredential(record, credential, self.status_uri(hosted, record.list_id))

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
