"""The trust registry: signed statements in, trust decisions out.

A :class:`TrustRegistry` is configured with its root authorities (trust anchors, out of band) and
fed signed statements. Adding a statement checks its envelope and its signature against a key
its issuer holds on record (a root's configured keys, or a key listed by an accreditation of the
issuer); a statement signed by any other key is refused. Everything that depends on time or on
the rest of the registry (validity, revocation, scope, the right to accredit or to register) is
decided at resolution, so a published registry can be loaded and re-verified by anyone, and a
forged link that slipped in (say, an over-scoped sub-accreditation signed with a real key) never
resolves.

Resolving an authority walks its accreditations up to a root, in the manner of OpenID Federation
1.0 §10.2 (:mod:`civicstack.trust.chains` lists the steps). Results are cached for exactly the
interval in which they cannot change (between the nearest validity or revocation boundaries
around ``now``); adding a statement drops the cache. Relying parties are checked as
:mod:`civicstack.trust.relying_parties` describes.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass

from civicstack._crypto import PublicKey, json_dumps, json_loads_strict
from civicstack.errors import InputError, VerificationError
from civicstack.trust.chains import DEFAULT_MAX_CHAIN, ChainOutcome, ChainWalk
from civicstack.trust.fields import (
    TYP_ACCREDITATION,
    TYP_REGISTRATION,
    TYP_REVOCATION,
    TYP_SUSPENSION,
    check_identifier,
)
from civicstack.trust.keys import pick_key, verify_on_record
from civicstack.trust.limits import DEFAULT_LIMITS, Limits
from civicstack.trust.relying_parties import (
    registration_allowing,
    registration_problem,
    request_claims,
    suspension_stands,
)
from civicstack.trust.statements import (
    Accreditation,
    AccreditationRevocation,
    RelyingPartyRegistration,
    RootAuthority,
    Statement,
    Suspension,
    UnverifiedStatement,
    read_statement,
)

__all__ = ["DEFAULT_MAX_CHAIN", "TrustRegistry"]


@dataclass(frozen=True, slots=True)
class _Cached:
    version: int  # the registry's version it was computed at: stale after any add
    lo: int
    hi: int
    outcome: ChainOutcome


class TrustRegistry:
    """Accreditations, revocations and relying-party registrations, resolved to configured roots.

    Implements :class:`civicstack.types.IssuerTrust` (:meth:`issuer_key`, :meth:`check_scope`);
    wallets and verifiers call :meth:`check_request` before any presentation. Statements and
    requests are read within ``limits`` (:class:`civicstack.trust.Limits`).
    """

    def __init__(self, roots: Iterable[RootAuthority], *, limits: Limits = DEFAULT_LIMITS) -> None:
        self.roots: Mapping[str, RootAuthority] = {r.id: r for r in roots}
        if not self.roots:
            raise InputError("invalid_request", "a trust registry needs at least one root")
        self.limits = limits
        self._lock = threading.Lock()
        self._statements: list[Statement] = []
        self._by_jti: dict[str, Statement] = {}
        self._accreditations: dict[str, list[Accreditation]] = {}  # by authority
        self._revocations: dict[str, list[AccreditationRevocation]] = {}  # by accreditation jti
        self._registrations: dict[str, list[RelyingPartyRegistration]] = {}  # by relying party
        self._suspensions: dict[str, list[Suspension]] = {}  # by relying party
        self._cache: dict[str, _Cached] = {}
        self._version = 0

    # --- adding statements ---------------------------------------------------------------

    def add(self, token: str) -> Statement:
        """Verify and record any trust statement, whatever its ``typ``; return it.

        Adding the very same token again is a no-op; another statement reusing a ``jti`` is a
        ``conflict``.
        """
        return self._add(read_statement(token, limits=self.limits))

    def add_accreditation(self, token: str) -> Accreditation:
        """Verify and record an ``accreditation+jwt``."""
        statement = self._add(_expect(token, TYP_ACCREDITATION, self.limits))
        if isinstance(statement, Accreditation):
            return statement
        raise InputError("malformed", "not an accreditation")  # pragma: no cover - typ decides

    def revoke(self, token: str) -> AccreditationRevocation:
        """Verify and record an ``accreditation-revocation+jwt`` (by the accreditor or a root)."""
        statement = self._add(_expect(token, TYP_REVOCATION, self.limits))
        if isinstance(statement, AccreditationRevocation):
            return statement
        raise InputError("malformed", "not a revocation")  # pragma: no cover - typ decides

    def register_relying_party(self, token: str) -> RelyingPartyRegistration:
        """Verify and record an ``rp-registration+jwt``."""
        statement = self._add(_expect(token, TYP_REGISTRATION, self.limits))
        if isinstance(statement, RelyingPartyRegistration):
            return statement
        raise InputError("malformed", "not a registration")  # pragma: no cover - typ decides

    def suspend_relying_party(self, token: str) -> Suspension:
        """Verify and record an ``rp-suspension+jwt`` that suspends."""
        return self._add_suspension(token, suspended=True)

    def reinstate_relying_party(self, token: str) -> Suspension:
        """Verify and record an ``rp-suspension+jwt`` that lifts a suspension."""
        return self._add_suspension(token, suspended=False)

    def _add_suspension(self, token: str, *, suspended: bool) -> Suspension:
        unverified = _expect(token, TYP_SUSPENSION, self.limits)
        if unverified.payload.get("suspended") is not suspended:
            raise InputError("malformed", f"expected a statement with suspended={suspended}")
        statement = self._add(unverified)
        if isinstance(statement, Suspension):
            return statement
        raise InputError("malformed", "not a suspension")  # pragma: no cover - typ decides

    def _add(self, unverified: UnverifiedStatement) -> Statement:
        with self._lock:
            existing = self._by_jti.get(str(unverified.payload.get("jti")))
            if existing is not None and existing.token == unverified.token:
                return existing
            statement = self._verify(unverified)
            if statement.jti in self._by_jti:
                raise InputError("conflict", f"another statement has jti {statement.jti!r}")
            self._file(statement)
            self._by_jti[statement.jti] = statement
            self._statements.append(statement)
            self._version += 1
            self._cache.clear()
        return statement

    def _verify(self, unverified: UnverifiedStatement) -> Statement:
        """Verify with a key ``iss`` holds on record (any validity) named by the ``kid``."""
        iss = unverified.iss
        root = self.roots.get(iss)
        if root is not None:
            keysets = [root.keys]
        else:
            keysets = [a.keys for a in self._accreditations.get(iss, ())]
            if not keysets:
                raise VerificationError("untrusted_issuer", f"{iss} is not a root nor accredited")
        return verify_on_record(unverified, keysets)

    def _file(self, statement: Statement) -> None:
        """The checks that need the registry; then file the statement under its subject."""
        if isinstance(statement, Accreditation):
            if statement.authority in self.roots:
                raise InputError(
                    "invalid_request", "a root is a trust anchor: it is not accredited"
                )
            self._accreditations.setdefault(statement.authority, []).append(statement)
        elif isinstance(statement, AccreditationRevocation):
            target = self._by_jti.get(statement.accreditation)
            if not isinstance(target, Accreditation) or target.authority != statement.authority:
                raise InputError("unknown_statement", "no such accreditation to revoke")
            if statement.revoker not in self.roots and statement.revoker != target.accreditor:
                raise VerificationError("forbidden", "only the accreditor or a root may revoke")
            self._revocations.setdefault(target.jti, []).append(statement)
        elif isinstance(statement, RelyingPartyRegistration):
            self._registrations.setdefault(statement.relying_party, []).append(statement)
        else:
            registrars = {r.registrar for r in self._registrations.get(statement.relying_party, [])}
            if not registrars:
                raise InputError("unknown_statement", f"no relying party {statement.relying_party}")
            if statement.by not in self.roots and statement.by not in registrars:
                raise VerificationError(
                    "forbidden", "only a root or a registrar of this relying party may do this"
                )
            self._suspensions.setdefault(statement.relying_party, []).append(statement)

    # --- publishing ----------------------------------------------------------------------

    def statements(self) -> tuple[str, ...]:
        """Every recorded statement, in the order added (an order that always re-verifies)."""
        return tuple(s.token for s in self._statements)

    def to_json(self) -> bytes:
        """The registry as a JSON list of its signed statements, for publication."""
        return json_dumps(list(self.statements()))

    @classmethod
    def from_json(
        cls,
        data: bytes | str,
        roots: Iterable[RootAuthority],
        *,
        limits: Limits = DEFAULT_LIMITS,
    ) -> TrustRegistry:
        """Rebuild a registry from :meth:`to_json` output, verifying every statement again."""
        if len(data) > limits.export_bytes:
            raise InputError("too_large", "trust registry export too large")
        tokens = json_loads_strict(data)
        if not isinstance(tokens, list) or len(tokens) > limits.statements:
            raise InputError("malformed", "a trust registry export is a JSON list of statements")
        registry = cls(roots, limits=limits)
        for token in tokens:
            registry.add(token)
        return registry

    @property
    def recorded(self) -> tuple[Statement, ...]:
        """Every recorded statement (each verified when added), in the order added."""
        return tuple(self._statements)

    @property
    def accreditations(self) -> tuple[Accreditation, ...]:
        """Every recorded accreditation (valid or not), in the order added."""
        return tuple(s for s in self._statements if isinstance(s, Accreditation))

    @property
    def registrations(self) -> tuple[RelyingPartyRegistration, ...]:
        """Every recorded relying-party registration (valid or not), in the order added."""
        return tuple(s for s in self._statements if isinstance(s, RelyingPartyRegistration))

    # --- resolving authorities -----------------------------------------------------------

    def valid_accreditations(self, authority: str, now: int) -> tuple[Accreditation, ...]:
        """The accreditations of ``authority`` that chain to a root at ``now``; raise otherwise.

        Raises ``untrusted_issuer``, ``accreditation_revoked``, ``accreditation_expired`` or
        ``out_of_scope`` (a link exceeding its accreditor's scope).
        """
        valid, failure = self._outcome(authority, now)
        if failure is not None:
            raise failure.error()
        return valid

    def _outcome(self, authority: str, now: int) -> ChainOutcome:
        # A resolution racing an add may finish after the add cleared the cache: the version
        # read before resolving marks what it computed as stale, so it is never served.
        version = self._version
        cached = self._cache.get(authority)
        if cached is not None and cached.version == version and cached.lo <= now < cached.hi:
            return cached.outcome
        walk = ChainWalk(
            now, self.roots, self._accreditations, self._revocations, self.limits.chain
        )
        outcome = walk.resolve(authority)
        lo, hi = walk.span()
        self._cache[authority] = _Cached(version, lo, hi, outcome)
        return outcome

    # --- IssuerTrust ---------------------------------------------------------------------

    def issuer_key(self, iss: str, kid: str | None, now: int) -> PublicKey:
        """The key ``iss`` signs credentials with at ``now`` (``kid`` from the JWS header).

        Without a ``kid`` the issuer must hold exactly one key. Raises ``untrusted_issuer``,
        ``accreditation_revoked``, ``accreditation_expired`` or ``out_of_scope``.
        """
        root = self.roots.get(iss)
        if root is not None:
            keysets = [root.keys]
        else:
            keysets = [a.keys for a in self.valid_accreditations(iss, now)]
        return pick_key(keysets, kid, "untrusted_issuer", iss)

    def check_scope(self, iss: str, vct: str | None, claim_names: Set[str], now: int) -> None:
        """Return if ``iss`` may attest ``vct`` with these claims at ``now``; else raise.

        ``out_of_scope`` when no valid accreditation covers the type and every claim (the SD-JWT
        VC structural claims, such as ``iss``, ``cnf`` or ``status``, need no cover); the chain
        errors of :meth:`valid_accreditations` otherwise. A root may attest anything.
        """
        if iss in self.roots:
            return
        valid = self.valid_accreditations(iss, now)
        if vct is None:
            raise VerificationError("out_of_scope", "accredited credentials must name their vct")
        nearest: list[str] | None = None
        for acc in valid:
            missing = acc.uncovered(vct, claim_names)
            if missing == []:
                return
            if missing is not None and (nearest is None or len(missing) < len(nearest)):
                nearest = missing
        if nearest is None:
            raise VerificationError("out_of_scope", f"{iss} is not accredited to issue {vct!r}")
        raise VerificationError("out_of_scope", f"{iss} may not attest {nearest} in {vct!r}")

    # --- relying parties -----------------------------------------------------------------

    def is_suspended(self, relying_party: str, now: int) -> bool:
        """Whether a suspension of ``relying_party`` stands at ``now``.

        Suspensions and reinstatements apply in time order; a reinstatement lifts its own
        signer's suspension, and a root's lifts every earlier one.
        """
        return suspension_stands(self._suspensions.get(relying_party, ()), self.roots, now)

    def relying_party(self, relying_party: str, now: int) -> tuple[RelyingPartyRegistration, ...]:
        """The registrations of ``relying_party`` valid at ``now``.

        Raises ``relying_party_suspended`` or ``unregistered_relying_party``.
        """
        check_identifier(relying_party, "relying party id")
        if self.is_suspended(relying_party, now):
            raise VerificationError("relying_party_suspended", f"{relying_party} is suspended")
        registrations = self._registrations.get(relying_party, [])
        valid: list[RelyingPartyRegistration] = []
        reasons: list[str] = []
        for reg in registrations:
            reason = registration_problem(reg, now, self.roots, self._outcome)
            if reason is None:
                valid.append(reg)
            else:
                reasons.append(reason)
        if not valid:
            detail = "; ".join(reasons[:5]) or "no registration on record"
            raise VerificationError("unregistered_relying_party", f"{relying_party}: {detail}")
        return tuple(valid)

    def registrations_on_record(
        self, relying_party: str, now: int
    ) -> tuple[RelyingPartyRegistration, ...]:
        """The registrations of ``relying_party`` valid at ``now`` but for a suspension: what a
        suspended relying party was registered for, so that its refused attempts can name
        their purpose in a log (never to let it act: :meth:`relying_party` refuses it)."""
        check_identifier(relying_party, "relying party id")
        return tuple(
            reg
            for reg in self._registrations.get(relying_party, [])
            if registration_problem(reg, now, self.roots, self._outcome) is None
        )

    def relying_party_key(self, relying_party: str, kid: str | None, now: int) -> PublicKey:
        """A key ``relying_party`` signs its requests with (OpenID4VP request objects)."""
        keysets = [r.keys for r in self.relying_party(relying_party, now)]
        return pick_key(keysets, kid, "unregistered_relying_party", relying_party)

    def registrar_key(self, registrar: str, kid: str | None, now: int) -> PublicKey:
        """A key ``registrar`` vouches for relying parties with at ``now`` (OpenID4VP Verifier
        Attestation JWTs): a root's, or one listed by a valid accreditation that may register.

        Raises ``untrusted_issuer`` (or the chain error met) otherwise.
        """
        root = self.roots.get(registrar)
        if root is not None:
            return pick_key([root.keys], kid, "untrusted_issuer", registrar)
        keysets = [a.keys for a in self.valid_accreditations(registrar, now) if a.may_register]
        if not keysets:
            raise VerificationError(
                "untrusted_issuer", f"{registrar} is not accredited to register relying parties"
            )
        return pick_key(keysets, kid, "untrusted_issuer", registrar)

    def check_request(
        self,
        relying_party: str,
        purpose: str,
        claims: Mapping[str, Iterable[str]],
        now: int,
    ) -> RelyingPartyRegistration:
        """Check a request for ``claims`` (claim paths per vct) made for ``purpose``.

        Returns the registration that allows it. Raises ``relying_party_suspended``,
        ``unregistered_relying_party`` or ``overasking`` (more than any registration allows).
        """
        requested = request_claims(claims, limits=self.limits)
        registrations = self.relying_party(relying_party, now)
        return registration_allowing(relying_party, registrations, purpose, requested)


_TYPED = {
    TYP_ACCREDITATION: "an accreditation",
    TYP_REVOCATION: "an accreditation revocation",
    TYP_REGISTRATION: "a relying-party registration",
    TYP_SUSPENSION: "a relying-party suspension",
}


def _expect(token: str, typ: str, limits: Limits) -> UnverifiedStatement:
    unverified = read_statement(token, limits=limits)
    if unverified.typ != typ:
        raise InputError("malformed", f"expected {_TYPED[typ]} ({typ}), got {unverified.typ}")
    return unverified
