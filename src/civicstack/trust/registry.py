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
1.0 §10.2 (Validating a Trust Chain). For each accreditation of the subject:

1. refuse it if a revocation of it took effect at or before ``now`` (``accreditation_revoked``);
2. refuse it outside ``nbf <= now < exp`` (``accreditation_expired``);
3. if its accreditor is a root, accept it when signed by one of the root's configured keys;
4. otherwise resolve the accreditor in turn (bounded depth and no cycles, else
   ``untrusted_issuer``), and accept it when one of the accreditor's valid accreditations lists
   the key that signed it (``untrusted_issuer``), may accredit, and contains it: credential
   types, claims per type, validity period and rights (``out_of_scope``).

The subject is trusted if any of its accreditations is accepted. When none is, the most serious
failure is reported: revoked, then expired, then out of scope, then untrusted. Results are cached
for exactly the interval in which they cannot change (between the nearest validity or revocation
boundaries around ``now``); adding a statement drops the cache.

Relying parties: one is refused everywhere while a suspension stands (``relying_party_suspended``);
otherwise one of its registrations must be valid at ``now`` and signed by a root, or by an
authority whose valid accreditation may register and covers the registration's validity
(``unregistered_relying_party``); and a request must stay within the purpose it names
(``overasking``).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Set
from dataclasses import dataclass, field

from civicstack._crypto import PublicKey, json_dumps, json_loads_strict
from civicstack.errors import InputError, VerificationError
from civicstack.trust.fields import (
    TYP_ACCREDITATION,
    TYP_REGISTRATION,
    TYP_REVOCATION,
    TYP_SUSPENSION,
    KeySet,
    check_claim_path,
    check_identifier,
)
from civicstack.trust.statements import (
    Accreditation,
    RelyingPartyRegistration,
    Revocation,
    RootAuthority,
    Statement,
    Suspension,
    UnverifiedStatement,
    read_statement,
)

#: Longest chain of accreditations from a root to an issuer (the root itself not counted).
DEFAULT_MAX_CHAIN = 5
#: Caps on a registry loaded from JSON and on one request.
MAX_EXPORT_BYTES = 64 * 1024 * 1024
MAX_STATEMENTS = 100_000
MAX_REQUEST_CLAIMS = 256

_SEVERITY = {
    "accreditation_revoked": 3,
    "accreditation_expired": 2,
    "out_of_scope": 1,
    "untrusted_issuer": 0,
}
_FAR = 1 << 62
_MAX_KID_CANDIDATES = 4


@dataclass(frozen=True, slots=True)
class _Failure:
    code: str
    detail: str

    def worse_than(self, other: _Failure | None) -> bool:
        return other is None or _SEVERITY[self.code] > _SEVERITY[other.code]

    def error(self) -> VerificationError:
        return VerificationError(self.code, self.detail)


_Outcome = tuple[tuple[Accreditation, ...], _Failure | None]


@dataclass(slots=True)
class _Walk:
    """One resolution: the time, the time boundaries compared against, a memo."""

    now: int
    points: list[int] = field(default_factory=list)
    memo: dict[str, _Outcome] = field(default_factory=dict)
    cut: bool = False  # a cycle was cut somewhere: results may depend on the path taken

    def within(self, nbf: int, exp: int) -> bool:
        self.points += (nbf, exp)
        return nbf <= self.now < exp

    def reached(self, t: int) -> bool:
        self.points.append(t)
        return t <= self.now


@dataclass(frozen=True, slots=True)
class _Cached:
    version: int  # the registry's version it was computed at: stale after any add
    lo: int
    hi: int
    outcome: _Outcome


class TrustRegistry:
    """Accreditations, revocations and relying-party registrations, resolved to configured roots.

    Implements :class:`civicstack.types.IssuerTrust` (:meth:`issuer_key`, :meth:`check_scope`);
    wallets and verifiers call :meth:`check_request` before any presentation.
    """

    def __init__(
        self, roots: Iterable[RootAuthority], *, max_chain: int = DEFAULT_MAX_CHAIN
    ) -> None:
        self.roots: Mapping[str, RootAuthority] = {r.id: r for r in roots}
        if not self.roots:
            raise InputError("invalid_request", "a trust registry needs at least one root")
        self.max_chain = max_chain
        self._lock = threading.Lock()
        self._statements: list[Statement] = []
        self._by_jti: dict[str, Statement] = {}
        self._accreditations: dict[str, list[Accreditation]] = {}  # by authority
        self._revocations: dict[str, list[Revocation]] = {}  # by accreditation jti
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
        return self._add(read_statement(token))

    def add_accreditation(self, token: str) -> Accreditation:
        """Verify and record an ``accreditation+jwt``."""
        statement = self._add(_expect(token, TYP_ACCREDITATION))
        if isinstance(statement, Accreditation):
            return statement
        raise InputError("malformed", "not an accreditation")  # pragma: no cover - typ decides

    def revoke(self, token: str) -> Revocation:
        """Verify and record an ``accreditation-revocation+jwt`` (by the accreditor or a root)."""
        statement = self._add(_expect(token, TYP_REVOCATION))
        if isinstance(statement, Revocation):
            return statement
        raise InputError("malformed", "not a revocation")  # pragma: no cover - typ decides

    def register_relying_party(self, token: str) -> RelyingPartyRegistration:
        """Verify and record an ``rp-registration+jwt``."""
        statement = self._add(_expect(token, TYP_REGISTRATION))
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
        unverified = _expect(token, TYP_SUSPENSION)
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
        iss, kid = unverified.iss, unverified.kid
        root = self.roots.get(iss)
        if root is not None:
            keysets = [root.keys]
        else:
            keysets = [a.keys for a in self._accreditations.get(iss, ())]
            if not keysets:
                raise VerificationError("untrusted_issuer", f"{iss} is not a root nor accredited")
        # Several accreditations may name different keys with the same JWK kid: try each (a
        # few at most), so that one authority's odd kid cannot shadow another's real key.
        candidates = {k.thumbprint(): k for ks in keysets if (k := ks.find(kid)) is not None}
        if not candidates:
            raise VerificationError("invalid_signature", f"{iss} holds no key {kid!r}")
        for key in list(candidates.values())[:_MAX_KID_CANDIDATES]:
            try:
                return unverified.build(key)
            except VerificationError as exc:
                if exc.code not in ("invalid_signature", "unsupported_algorithm"):
                    raise
        raise VerificationError("invalid_signature", f"not signed by {iss}'s key {kid!r}")

    def _file(self, statement: Statement) -> None:
        """The checks that need the registry; then file the statement under its subject."""
        if isinstance(statement, Accreditation):
            if statement.authority in self.roots:
                raise InputError(
                    "invalid_request", "a root is a trust anchor: it is not accredited"
                )
            self._accreditations.setdefault(statement.authority, []).append(statement)
        elif isinstance(statement, Revocation):
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
        max_chain: int = DEFAULT_MAX_CHAIN,
    ) -> TrustRegistry:
        """Rebuild a registry from :meth:`to_json` output, verifying every statement again."""
        if len(data) > MAX_EXPORT_BYTES:
            raise InputError("too_large", "trust registry export too large")
        tokens = json_loads_strict(data)
        if not isinstance(tokens, list) or len(tokens) > MAX_STATEMENTS:
            raise InputError("malformed", "a trust registry export is a JSON list of statements")
        registry = cls(roots, max_chain=max_chain)
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

    def _outcome(self, authority: str, now: int) -> _Outcome:
        # A resolution racing an add may finish after the add cleared the cache: the version
        # read before resolving marks what it computed as stale, so it is never served.
        version = self._version
        cached = self._cache.get(authority)
        if cached is not None and cached.version == version and cached.lo <= now < cached.hi:
            return cached.outcome
        walk = _Walk(now)
        outcome = self._resolve(authority, walk, 1, frozenset())
        lo = max((t for t in walk.points if t <= now), default=-_FAR)
        hi = min((t for t in walk.points if t > now), default=_FAR)
        self._cache[authority] = _Cached(version, lo, hi, outcome)
        return outcome

    def _resolve(self, authority: str, walk: _Walk, depth: int, visiting: Set[str]) -> _Outcome:
        memo = walk.memo.get(authority)
        if memo is not None:
            return memo
        cut_before = walk.cut
        walk.cut = False
        candidates = self._accreditations.get(authority, [])
        valid: list[Accreditation] = []
        failure: _Failure | None = None
        if not candidates:
            failure = _Failure("untrusted_issuer", f"{authority} is not accredited")
        for acc in candidates:
            problem = self._check_link(acc, walk, depth, visiting | {authority})
            if problem is None:
                valid.append(acc)
            elif problem.worse_than(failure):
                failure = problem
        outcome: _Outcome = (tuple(valid), None if valid else failure)
        if not walk.cut:
            walk.memo[authority] = outcome
        walk.cut = walk.cut or cut_before
        return outcome

    def _check_link(
        self, acc: Accreditation, walk: _Walk, depth: int, visiting: Set[str]
    ) -> _Failure | None:
        # 1. a revocation that has taken effect
        for revocation in self._revocations.get(acc.jti, ()):
            if walk.reached(revocation.iat):
                return _Failure(
                    "accreditation_revoked",
                    f"{acc.accreditor} revoked {acc.authority}'s accreditation {acc.jti}"
                    if revocation.revoker == acc.accreditor
                    else f"the root revoked {acc.authority}'s accreditation {acc.jti}",
                )
        # 2. the validity period
        if not walk.within(acc.nbf, acc.exp):
            return _Failure(
                "accreditation_expired",
                f"{acc.authority}'s accreditation {acc.jti} is valid only from {acc.nbf} "
                f"until {acc.exp}",
            )
        return self._check_under(acc, walk, depth, visiting)

    def _check_under(
        self, acc: Accreditation, walk: _Walk, depth: int, visiting: Set[str]
    ) -> _Failure | None:
        # 3. directly under a root
        root = self.roots.get(acc.accreditor)
        if root is not None:
            if acc.signed_by in root.keys.thumbprints():
                return None
            return _Failure("untrusted_issuer", f"{acc.jti} is signed by a key the root lacks")
        # 4. under an accredited authority: resolve it, then check this link against it
        limit = self._chain_limit(acc, walk, depth, visiting)
        if limit is not None:
            return limit
        parents, parent_failure = self._resolve(acc.accreditor, walk, depth + 1, visiting)
        if not parents:
            cause = parent_failure or _Failure("untrusted_issuer", "no valid accreditation")
            return _Failure(cause.code, f"{acc.accreditor}: {cause.detail}")
        failure = _Failure("untrusted_issuer", f"{acc.jti} is signed by a key its accreditor lacks")
        for parent in parents:
            if acc.signed_by not in parent.keys.thumbprints():
                continue
            reason = acc.outside(parent)
            if reason is None:
                return None
            failure = _Failure("out_of_scope", reason)
        return failure

    def _chain_limit(
        self, acc: Accreditation, walk: _Walk, depth: int, visiting: Set[str]
    ) -> _Failure | None:
        # Both outcomes depend on the path taken, not only on the authority: never memoise them.
        if depth >= self.max_chain:
            walk.cut = True
            return _Failure("untrusted_issuer", f"chain longer than {self.max_chain} links")
        if acc.accreditor in visiting:
            walk.cut = True
            return _Failure("untrusted_issuer", f"accreditation cycle through {acc.accreditor}")
        return None

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
        return _pick_key(keysets, kid, "untrusted_issuer", iss)

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
        standing: set[str] = set()
        # sorted() is stable, so statements with the same iat keep the order they were added.
        for s in sorted(self._suspensions.get(relying_party, ()), key=lambda s: s.iat):
            if s.iat > now:
                break
            if s.suspended:
                standing.add(s.by)
            elif s.by in self.roots:
                standing.clear()
            else:
                standing.discard(s.by)
        return bool(standing)

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
            reason = self._registration_problem(reg, now)
            if reason is None:
                valid.append(reg)
            else:
                reasons.append(reason)
        if not valid:
            detail = "; ".join(reasons[:5]) or "no registration on record"
            raise VerificationError("unregistered_relying_party", f"{relying_party}: {detail}")
        return tuple(valid)

    def _registration_problem(self, reg: RelyingPartyRegistration, now: int) -> str | None:
        if not reg.valid_at(now):
            return f"registration {reg.jti} is valid only from {reg.nbf} until {reg.exp}"
        root = self.roots.get(reg.registrar)
        if root is not None:
            if reg.signed_by in root.keys.thumbprints():
                return None
            return f"registration {reg.jti} is signed by a key the root lacks"
        valid, failure = self._outcome(reg.registrar, now)
        if failure is not None:
            return f"registrar {failure.detail}"
        for acc in valid:
            if (
                acc.may_register
                and reg.signed_by in acc.keys.thumbprints()
                and acc.nbf <= reg.nbf
                and reg.exp <= acc.exp
            ):
                return None
        return f"{reg.registrar} is not accredited to make registration {reg.jti}"

    def relying_party_key(self, relying_party: str, kid: str | None, now: int) -> PublicKey:
        """A key ``relying_party`` signs its requests with (OpenID4VP request objects)."""
        keysets = [r.keys for r in self.relying_party(relying_party, now)]
        return _pick_key(keysets, kid, "unregistered_relying_party", relying_party)

    def registrar_key(self, registrar: str, kid: str | None, now: int) -> PublicKey:
        """A key ``registrar`` vouches for relying parties with at ``now`` (OpenID4VP Verifier
        Attestation JWTs): a root's, or one listed by a valid accreditation that may register.

        Raises ``untrusted_issuer`` (or the chain error met) otherwise.
        """
        root = self.roots.get(registrar)
        if root is not None:
            return _pick_key([root.keys], kid, "untrusted_issuer", registrar)
        keysets = [a.keys for a in self.valid_accreditations(registrar, now) if a.may_register]
        if not keysets:
            raise VerificationError(
                "untrusted_issuer", f"{registrar} is not accredited to register relying parties"
            )
        return _pick_key(keysets, kid, "untrusted_issuer", registrar)

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
        requested = _request_claims(claims)
        registrations = self.relying_party(relying_party, now)
        first: VerificationError | None = None
        for reg in registrations:
            try:
                reg.check(purpose, requested)
            except VerificationError as exc:
                first = first or exc
                continue
            return reg
        if first is None:  # pragma: no cover - relying_party() never returns an empty tuple
            raise VerificationError("unregistered_relying_party", relying_party)
        raise VerificationError(first.code, first.detail)


_TYPED = {
    TYP_ACCREDITATION: "an accreditation",
    TYP_REVOCATION: "an accreditation revocation",
    TYP_REGISTRATION: "a relying-party registration",
    TYP_SUSPENSION: "a relying-party suspension",
}


def _pick_key(keysets: list[KeySet], kid: str | None, code: str, who: str) -> PublicKey:
    if kid is not None:
        for keys in keysets:
            key = keys.find(kid)
            if key is not None:
                return key
        raise VerificationError(code, f"{who} holds no valid key {kid!r}")
    distinct = {k.thumbprint(): k for keys in keysets for k in keys.keys}
    if len(distinct) != 1:
        raise VerificationError(code, f"{who} holds {len(distinct)} keys: the JWS must name one")
    return next(iter(distinct.values()))


def _expect(token: str, typ: str) -> UnverifiedStatement:
    unverified = read_statement(token)
    if unverified.typ != typ:
        raise InputError("malformed", f"expected {_TYPED[typ]} ({typ}), got {unverified.typ}")
    return unverified


def _request_claims(claims: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    if not isinstance(claims, Mapping):
        raise InputError("malformed", "requested claims map credential types to claim paths")
    out: dict[str, tuple[str, ...]] = {}
    total = 0
    for vct, paths in claims.items():
        check_identifier(vct, "a credential type (vct)")
        if isinstance(paths, str):
            raise InputError("malformed", "claim paths come as a list, not a string")
        checked: list[str] = []
        for path in paths:
            total += 1
            if total > MAX_REQUEST_CLAIMS:
                raise InputError(
                    "too_large", f"a request names at most {MAX_REQUEST_CLAIMS} claims"
                )
            checked.append(check_claim_path(path))
        out[vct] = tuple(checked)
    return out
