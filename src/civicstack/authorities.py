"""The platform's authorities at work: set up, accredit, register, issue, revoke, publish.

This is the composition layer, like :mod:`civicstack.platform` (it uses ``stores/``; the pure
core never imports it). Every adapter calls it: the ``civic authority`` commands, ``civic demo``,
and the HTTP issuer and trust-registry services. It adds no trust rules of its own: statements
are signed by :mod:`civicstack.trust.signing` (which refuses anything outside the signer's
accreditation), verified again by the :class:`~civicstack.trust.TrustRegistry` before they are
stored, and credentials are issued by :func:`civicstack.credentials.issue_credential`.

Two safety checks happen before an authority signs a credential: its signing key must resolve
through the trust registry to the root (``untrusted_issuer``, ``accreditation_revoked``...) and
the credential type and claims must lie within its accreditation (``out_of_scope``): the platform
never issues what a verifier would refuse.

Status List Tokens (draft-ietf-oauth-status-list §5.1) are signed on demand with the issuer's
active key, ``sub`` = ``{identifier}/status/{list_id}``, ``iss`` = the identifier, ``ttl`` 300 s
and ``exp`` one day ahead; the signed token is kept with the list's version, so it is re-signed
only after a change (or when it is an hour old) and every worker serves the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from civicstack._crypto import Alg, PrivateKey, PublicKey, json_dumps
from civicstack.credential_types import (
    AGE_THRESHOLDS,
    CREDENTIAL_TYPES,
    PID_VCT,
    age_predicates,
    pid_disclosable,
)
from civicstack.credentials import issue_credential
from civicstack.errors import CivicError, InputError
from civicstack.status import sign_status_list_token, status_reference
from civicstack.stores.authorities import (
    AuthorityStore,
    HostedAuthority,
    Role,
    check_slug,
)
from civicstack.stores.db import write_transaction
from civicstack.stores.status_lists import IssuedRecord, State, StatusListStore
from civicstack.stores.trust import TrustStore
from civicstack.trust import (
    Accreditation,
    Authority,
    Purpose,
    RelyingPartyRegistration,
    Revocation,
    Suspension,
    TrustRegistry,
    sign_accreditation,
    sign_registration,
    sign_revocation,
    sign_suspension,
)
from civicstack.trust.fields import TYP_REVOCATION
from civicstack.trust.statements import read_statement
from civicstack.types import Clock, Fetcher

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

S = TypeVar("S")

DAY = 86_400
DEFAULT_VALIDITY_DAYS = 365
MAX_VALIDITY_DAYS = 20 * 366
STATUS_TTL = 300
STATUS_TOKEN_LIFETIME = DAY
STATUS_RESIGN_AFTER = 3_600
MAX_CLAIMS_BYTES = 64 * 1024
_STATUS_URL = re.compile(r"(?P<identifier>.+)/status/(?P<list_id>[0-9]{1,6})")


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


def _validity(days: int) -> int:
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_VALIDITY_DAYS:
        raise InputError("invalid_request", f"validity is 1 to {MAX_VALIDITY_DAYS} days")
    return days * DAY


class Authorities:
    """The authorities and relying parties this platform holds keys for, and what they sign."""

    def __init__(
        self,
        *,
        store: AuthorityStore,
        trust: TrustStore,
        status: StatusListStore,
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
            raise CivicError(
                "no_root_authority", "no root authority yet: run `civic authority init`"
            )
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
        exp = now + _validity(valid_days)
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
        exp = now + _validity(valid_days)
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
            with write_transaction(self.store.engine) as conn:
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
    ) -> tuple[Revocation, ...]:
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
        out: list[Revocation] = []
        for acc in accreditations:
            statement = self.trust.add(
                sign_revocation(signer, acc, now=now, reason=reason), now=now
            )
            if isinstance(statement, Revocation):
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

    # --- credentials ----------------------------------------------------------------------

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
        lifetime = _validity(valid_days)
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

    def set_status(self, credential_id: str, state: State) -> IssuedRecord:
        """Revoke (final), suspend or reinstate an issued credential."""
        return self.status.set_state(credential_id, state, now=self.clock.now())

    def credential(self, credential_id: str) -> IssuedRecord:
        """The record of an issued credential."""
        return self.status.credential(credential_id)

    def credentials(self, name: str | None = None) -> tuple[IssuedRecord, ...]:
        """Issued credentials (of ``name``), newest first."""
        if name is not None:
            self.store.get(name)
        return self.status.credentials(name)

    # --- status lists ---------------------------------------------------------------------

    def status_uri(self, authority: HostedAuthority, list_id: str) -> str:
        """Where a list is published: ``{identifier}/status/{list_id}``."""
        return f"{authority.identifier}/status/{list_id}"

    def status_list_token(self, name: str, list_id: str) -> str:
        """The signed ``statuslist+jwt`` of ``name``'s list ``list_id``."""
        now = self.clock.now()
        try:
            state = self.status.state(name, list_id)
        except CivicError as exc:
            if exc.code == "not_found":
                self.store.get(name)  # an unknown authority says so
            raise
        if (
            state.token is not None
            and state.token_version == state.version
            and state.token_iat is not None
            and 0 <= now - state.token_iat < STATUS_RESIGN_AFTER
        ):
            return state.token
        hosted, key = self.store.signing_key(name)
        token = sign_status_list_token(
            key,
            state.status_list(),
            uri=self.status_uri(hosted, list_id),
            iat=now,
            exp=now + STATUS_TOKEN_LIFETIME,
            ttl=STATUS_TTL,
            iss=hosted.identifier,
            kid=key.public_key.thumbprint(),
        )
        self.status.save_token(state.pk, version=state.version, token=token, iat=now)
        return token

    def status_list_token_at(self, url: str) -> str | None:
        """The token published at ``url`` if it names one of this platform's lists, else None
        (``not_found`` for a list of a hosted authority that does not exist)."""
        match = _STATUS_URL.fullmatch(url) if isinstance(url, str) else None
        if match is None:
            return None
        hosted = self.store.by_identifier(match["identifier"])
        if hosted is None or hosted.role == "relying_party":
            return None
        return self.status_list_token(hosted.name, match["list_id"])

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


class StatusListFetcher:
    """A :class:`civicstack.types.Fetcher` serving this platform's status lists from the
    database (so the CLI verifies without a running server) and anything else through
    ``fallback`` (HTTP)."""

    def __init__(self, authorities: Authorities, fallback: Fetcher) -> None:
        self.authorities = authorities
        self.fallback = fallback

    def fetch(self, url: str, *, accept: str, max_bytes: int) -> bytes:
        """The list token for a local list URL; otherwise whatever ``fallback`` fetches."""
        try:
            token = self.authorities.status_list_token_at(url)
        except CivicError as exc:
            raise CivicError("fetch_failed", f"{url}: {exc.detail}") from exc
        if token is None:
            return self.fallback.fetch(url, accept=accept, max_bytes=max_bytes)
        raw = token.encode()
        if len(raw) > max_bytes:
            raise CivicError("fetch_failed", f"{url} is larger than {max_bytes} bytes")
        return raw
