"""The hosted authorities as Credential Issuers: who issues, the configurations they offer,
the metadata they publish (§12.2, RFC 8414, JWT VC Issuer Metadata) and what they issued.

:class:`HostedIssuers` is the base of :class:`~civicstack.services.issuer.CredentialIssuer`; the
endpoints build on it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from civicstack.credential_types import CREDENTIAL_TYPES
from civicstack.errors import CivicError
from civicstack.openid4vci.metadata import (
    DEFAULT_BATCH_SIZE,
    CredentialConfiguration,
    authorization_server_metadata,
    credential_issuer_metadata,
    jwt_vc_issuer_metadata,
)
from civicstack.services.authorities import Authorities
from civicstack.services.issuer.lifetimes import DEFAULT_INTERVAL
from civicstack.services.issuer.storage import ApplicationReader, IssuanceRecords
from civicstack.status import CredentialState, IssuedRecord
from civicstack.trust.parties import HostedAuthority
from civicstack.types import Clock


class HostedIssuers:
    """Every hosted authority as a Credential Issuer: who it is and what it publishes."""

    def __init__(
        self,
        *,
        authorities: Authorities,
        store: IssuanceRecords,
        applications: ApplicationReader,
        key: Callable[[], bytes],
        base_url: str,
        clock: Clock,
        interval: int = DEFAULT_INTERVAL,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        self.authorities = authorities
        self.store = store
        self.applications = applications
        self._key = key
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self.interval = interval
        self.batch_size = batch_size

    # --- who issues ---------------------------------------------------------------------

    def issuer(self, name: str) -> HostedAuthority:
        """The hosted authority ``name``; ``unknown_authority`` unless it is one (not the root,
        not a relying party)."""
        hosted = self.authorities.get(name)
        if hosted.role != "authority":
            raise CivicError("unknown_authority", f"{name} is not a credential issuer")
        return hosted

    def by_identifier(self, identifier: str) -> HostedAuthority:
        """The issuer whose Credential Issuer Identifier is ``identifier``."""
        hosted = self.authorities.by_identifier(identifier)
        if hosted is None or hosted.role != "authority":
            raise CivicError("not_found", f"no credential issuer {identifier!r} here")
        return hosted

    def endpoints(self, hosted: HostedAuthority) -> str:
        """Where ``hosted``'s endpoints live."""
        return f"{self.base_url}/issuers/{hosted.name}"

    def configurations(self, hosted: HostedAuthority) -> list[CredentialConfiguration]:
        """One configuration per ``vct`` the authority is accredited for now (none if its
        accreditation lapsed: it then offers nothing)."""
        now = self.clock.now()
        try:
            accreditations = self.authorities.registry().valid_accreditations(
                hosted.identifier, now
            )
        except CivicError:
            return []
        scopes: dict[str, set[str]] = {}
        for acc in accreditations:
            for vct, claims in acc.scope.items():
                scopes.setdefault(vct, set()).update(claims)
        algs = (hosted.active_key.alg,)
        out = []
        for vct in sorted(scopes):
            known = CREDENTIAL_TYPES.get(vct)
            out.append(
                CredentialConfiguration(
                    id=vct,
                    vct=vct,
                    name=known.name if known else vct,
                    claims=tuple(sorted(scopes[vct])),
                    signing_algs=algs,
                )
            )
        return out

    # --- metadata -----------------------------------------------------------------------

    def issuer_metadata(self, hosted: HostedAuthority) -> dict[str, Any]:
        """Credential Issuer Metadata (§12.2)."""
        return credential_issuer_metadata(
            hosted.identifier,
            endpoints=self.endpoints(hosted),
            display_name=hosted.display_name,
            configurations=self.configurations(hosted),
            batch_size=self.batch_size,
        )

    def authorization_server_metadata(self, hosted: HostedAuthority) -> dict[str, Any]:
        """RFC 8414 metadata (the issuer is its own Authorization Server)."""
        return authorization_server_metadata(hosted.identifier, endpoints=self.endpoints(hosted))

    def jwt_vc_issuer_metadata(self, hosted: HostedAuthority) -> dict[str, Any]:
        """JWT VC Issuer Metadata: the signing keys, and the statements that accredit them."""
        keys = [{**k.public_jwk, "kid": k.kid, "alg": k.alg, "use": "sig"} for k in hosted.keys]
        return jwt_vc_issuer_metadata(hosted.identifier, keys, trust=self.authorities.export())

    # --- issued credentials -----------------------------------------------------------------

    def credentials(self, name: str) -> tuple[IssuedRecord, ...]:
        """What ``name`` issued (never the claims)."""
        self.issuer(name)
        return self.authorities.credentials(name)

    def revoke_credential(self, name: str, credential_id: str) -> IssuedRecord:
        """Revoke one of ``name``'s credentials, for good."""
        return self.set_status(name, credential_id, "revoked")

    def suspend_credential(self, name: str, credential_id: str) -> IssuedRecord:
        """Suspend one of ``name``'s credentials (reversible)."""
        return self.set_status(name, credential_id, "suspended")

    def reinstate_credential(self, name: str, credential_id: str) -> IssuedRecord:
        """Lift the suspension of one of ``name``'s credentials."""
        return self.set_status(name, credential_id, "valid")

    def set_status(self, name: str, credential_id: str, state: CredentialState) -> IssuedRecord:
        """Revoke, suspend or reinstate one of ``name``'s credentials by the state's name (a
        status bit flip); ``not_found`` for a credential another issuer issued."""
        self.issuer(name)
        record = self.authorities.credential(credential_id)
        if record.authority != name:
            raise CivicError("not_found", f"{name} issued no credential {credential_id!r}")
        return self.authorities.set_status(credential_id, state)
