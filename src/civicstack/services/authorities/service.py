"""The :class:`Authorities` service: the hosted parties and the trust statements they sign.

Issuing credentials (:mod:`.issuing`) and publishing status lists (:mod:`.status_lists`) are
defined beside it, in the classes it builds on; the package docstring
(:mod:`civicstack.services.authorities`) gives the whole picture.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Literal, TypeVar

from civicstack._crypto import Alg, PrivateKey, PublicKey
from civicstack.errors import CivicError, InputError
from civicstack.services.authorities.issuing import CredentialIssuing
from civicstack.services.authorities.storage import (
    AuthorityRecords,
    StatusRecords,
    TrustStatements,
)
from civicstack.trust import (
    Accreditation,
    AccreditationRevocation,
    Authority,
    Purpose,
    RelyingPartyRegistration,
    Suspension,
    TrustRegistry,
    sign_accreditation,
    sign_registration,
    sign_revocation,
    sign_suspension,
)
from civicstack.trust.fields import TYP_REVOCATION
from civicstack.trust.parties import (
    DEFAULT_VALIDITY_DAYS,
    HostedAuthority,
    Role,
    check_slug,
    no_root_authority,
    validity_seconds,
)
from civicstack.trust.statements import read_statement
from civicstack.types import Clock

S = TypeVar("S")


class Authorities(CredentialIssuing):
    """The authorities and relying parties this platform holds keys for, and what they sign."""

    def __init__(
        self,
        *,
        store: AuthorityRecords,
        trust: TrustStatements,
        status: StatusRecords,
        base_url: str,
        clock: Clock,
    ) -> None:
        self.store = store
        self.trust = trust
        self.status = status
        self.base_url = base_url.rstrip("/")
        self.clock = clock

    # --- parties --------------------------------------------------------------------------

    def identifier_for(self, name: str, role: Role) -> str:
        """The default identifier of a party: ``{base_url}/trust/{name}`` for a root,
        ``/issuers/{name}`` for an authority, ``/verifiers/{name}`` for a relying party."""
        path = {"root": "trust", "authority": "issuers", "relying_party": "verifiers"}[role]
        return f"{self.base_url}/{path}/{check_slug(name, 'an authority name')}"

    def init_root(
        self,
        name: str = "root",
        display_name: str = "Root authority",
        *,
        identifier: str | None = None,
        alg: Alg = "EdDSA",
    ) -> HostedAuthority:
        """Create the root authority (the trust anchor); ``conflict`` if there is one already."""
        existing = self.store.list("root")
        if existing:
            raise CivicError("conflict", f"the root authority {existing[0].name} already exists")
        return self.store.create(
            name,
            identifier=identifier or self.identifier_for(name, "root"),
            display_name=display_name,
            role="root",
            key=PrivateKey.generate(alg),
            now=self.clock.now(),
        )

    def root(self) -> HostedAuthority:
        """The root authority; ``no_root_authority`` before ``init_root``."""
        roots = self.store.list("root")
        if not roots:
            raise no_root_authority()
        return roots[0]

    def create(
        self,
        name: str,
        display_name: str,
        *,
        role: Role = "authority",
        identifier: str | None = None,
        alg: Alg = "ES256",
    ) -> HostedAuthority:
        """Create an authority or relying party with a fresh key (not yet accredited)."""
        if role == "root":
            return self.init_root(name, display_name, identifier=identifier, alg=alg)
        return self.store.create(
            name,
            identifier=identifier or self.identifier_for(name, role),
            display_name=display_name,
            role=role,
            key=PrivateKey.generate(alg),
            now=self.clock.now(),
        )

    def get(self, name: str) -> HostedAuthority:
        """The party named ``name``; ``unknown_authority`` otherwise."""
        return self.store.get(name)

    def by_identifier(self, identifier: str) -> HostedAuthority | None:
        """The party whose identifier is ``identifier``, or None."""
        return self.store.by_identifier(identifier)

    def list(self, role: Role | None = None) -> tuple[HostedAuthority, ...]:
        """Every party (of ``role``), oldest first."""
        return self.store.list(role)

    def registry(self) -> TrustRegistry:
        """The trust registry as of now."""
        return self.trust.registry()

    # --- signing as an authority -----------------------------------------------------------

    def signer(
        self, name: str | None, *, now: int, right: Literal["accredit", "register"] | None = None
    ) -> Authority:
        """``name`` (default: the root) able to sign, under the accreditation that lists its key
        and grants ``right``. Raises ``untrusted_issuer``/``out_of_scope`` when it has none."""
        hosted, key = self.store.signing_key(name or self.root().name)
        if hosted.role == "root":
            return Authority(hosted.identifier, key)
        if hosted.role != "authority":
            raise InputError(
                "invalid_request", f"{hosted.name} is a relying party, not an authority"
            )
        thumb = key.public_key.thumbprint()
        held = [
            acc
            for acc in self.trust.registry().valid_accreditations(hosted.identifier, now)
            if thumb in acc.keys.thumbprints()
        ]
        if not held:
            raise CivicError(
                "untrusted_issuer", f"{hosted.name}'s signing key is in no valid accreditation"
            )
        fit = [
            acc
            for acc in held
            if right is None
            or (right == "accredit" and acc.may_accredit)
            or (right == "register" and acc.may_register)
        ]
        if not fit:
            raise CivicError("out_of_scope", f"{hosted.name} is not accredited to {right}")
        return Authority(hosted.identifier, key, max(fit, key=lambda acc: acc.exp))

    def _ensure(
        self, name: str, role: Role, display_name: str | None, identifier: str | None
    ) -> tuple[HostedAuthority | None, str, str]:
        """An existing party with its identifier and display name, or (None, the identifier
        and display name to create it with)."""
        try:
            hosted = self.store.get(name)
        except CivicError as exc:
            if exc.code != "unknown_authority":
                raise
            ident = identifier or self.identifier_for(name, role)
            return None, ident, display_name or name
        if hosted.role != role:
            raise InputError("invalid_request", f"{name} is a {hosted.role.replace('_', ' ')}")
        return hosted, hosted.identifier, hosted.display_name

    def accredit(
        self,
        name: str,
        *,
        scope: Mapping[str, Iterable[str]],
        by: str | None = None,
        display_name: str | None = None,
        may_accredit: bool = False,
        may_register: bool = False,
        valid_days: int = DEFAULT_VALIDITY_DAYS,
        identifier: str | None = None,
        alg: Alg = "ES256",
    ) -> Accreditation:
        """Accredit ``name`` (created if new) for ``scope`` (``{vct: [claim, ...]}``), signed by
        ``by`` (default: the root). The validity ends with the signer's own accreditation."""
        now = self.clock.now()
        signer = self.signer(by, now=now, right="accredit")
        exp = now + validity_seconds(valid_days)
        if signer.accreditation is not None:
            exp = min(exp, signer.accreditation.exp)
        return self._with_party(
            name,
            "authority",
            display_name=display_name,
            identifier=identifier,
            alg=alg,
            sign=lambda public, ident, shown: sign_accreditation(
                signer,
                authority=ident,
                name=shown,
                keys=[public],
                scope=scope,
                now=now,
                exp=exp,
                may_accredit=may_accredit,
                may_register=may_register,
            ),
            kind=Accreditation,
        )

    def register(
        self,
        name: str,
        *,
        purposes: Sequence[Purpose],
        by: str | None = None,
        display_name: str | None = None,
        valid_days: int = DEFAULT_VALIDITY_DAYS,
        identifier: str | None = None,
        alg: Alg = "ES256",
    ) -> RelyingPartyRegistration:
        """Register the relying party ``name`` (created if new) for ``purposes``, signed by
        ``by`` (default: the root)."""
        now = self.clock.now()
        signer = self.signer(by, now=now, right="register")
        exp = now + validity_seconds(valid_days)
        if signer.accreditation is not None:
            exp = min(exp, signer.accreditation.exp)
        return self._with_party(
            name,
            "relying_party",
            display_name=display_name,
            identifier=identifier,
            alg=alg,
            sign=lambda public, ident, shown: sign_registration(
                signer,
                relying_party=ident,
                name=shown,
                keys=[public],
                purposes=purposes,
                now=now,
                exp=exp,
            ),
            kind=RelyingPartyRegistration,
        )

    def _with_party(
        self,
        name: str,
        role: Role,
        *,
        display_name: str | None,
        identifier: str | None,
        alg: Alg,
        sign: Callable[[PublicKey, str, str], str],
        kind: type[S],
    ) -> S:
        hosted, ident, shown = self._ensure(name, role, display_name, identifier)
        now = self.clock.now()
        if hosted is not None:
            statement = self.trust.add(sign(hosted.active_key.public_key, ident, shown), now=now)
        else:
            # A new party and its first statement commit together, or neither does.
            key = PrivateKey.generate(alg)
            token = sign(key.public_key, ident, shown)
            with self.store.transaction() as conn:
                self.store.create(
                    name,
                    identifier=ident,
                    display_name=shown,
                    role=role,
                    key=key,
                    now=now,
                    conn=conn,
                )
                statement = self.trust.add(token, now=now, conn=conn)
        if not isinstance(statement, kind):
            raise CivicError("internal_error", "the registry filed another kind of statement")
        return statement

    def revoke_accreditation(
        self, name: str, *, by: str | None = None, reason: str | None = None
    ) -> tuple[AccreditationRevocation, ...]:
        """Revoke every standing accreditation of ``name`` that ``by`` (default: the root, which
        may revoke any) can revoke. ``not_found`` when there is none."""
        now = self.clock.now()
        target = self.store.get(name)
        signer = self.signer(by, now=now)
        registry = self.trust.registry()
        revoked_jtis = set(_revoked(registry))
        accreditations = [
            acc
            for acc in registry.accreditations
            if acc.authority == target.identifier
            and acc.jti not in revoked_jtis
            and (signer.accreditation is None or acc.accreditor == signer.id)
        ]
        if not accreditations:
            raise CivicError(
                "not_found", f"{name} has no accreditation {by or 'the root'} can revoke"
            )
        out: list[AccreditationRevocation] = []
        for acc in accreditations:
            statement = self.trust.add(
                sign_revocation(signer, acc, now=now, reason=reason), now=now
            )
            if isinstance(statement, AccreditationRevocation):
                out.append(statement)
        return tuple(out)

    def suspend(
        self,
        name: str,
        *,
        by: str | None = None,
        reason: str | None = None,
        suspended: bool = True,
    ) -> Suspension:
        """Suspend (or reinstate) the relying party ``name``; ``by`` defaults to the root."""
        now = self.clock.now()
        target = self.store.get(name)
        if target.role != "relying_party":
            raise InputError("invalid_request", f"{name} is not a relying party")
        signer = self.signer(by, now=now)
        token = sign_suspension(
            signer, target.identifier, now=now, suspended=suspended, reason=reason
        )
        statement = self.trust.add(token, now=now)
        if not isinstance(statement, Suspension):
            raise CivicError("internal_error", "the registry filed another kind of statement")
        return statement

    # --- publication ----------------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """What a verifier needs to trust this platform: the roots and every statement."""
        return {
            "roots": [r.to_json() for r in self.trust.roots()],
            "statements": list(self.trust.tokens()),
        }


def _revoked(registry: TrustRegistry) -> list[str]:
    revoked: list[str] = []
    for token in registry.statements():
        # Revocations name the jti they revoke; reading the envelope again keeps the
        # registry's internals private.
        statement = read_statement(token)
        accreditation = statement.payload.get("accreditation")
        if statement.typ == TYP_REVOCATION and isinstance(accreditation, str):
            revoked.append(accreditation)
    return revoked
