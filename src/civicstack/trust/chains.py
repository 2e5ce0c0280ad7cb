"""Resolving an authority's accreditations up to a root: one :class:`ChainWalk` per resolution.

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
failure is reported: revoked, then expired, then out of scope, then untrusted. A walk notes every
time boundary it compares against, so that the :class:`~civicstack.trust.TrustRegistry` can cache
its outcome for exactly the interval in which it cannot change (:meth:`ChainWalk.span`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field

from civicstack.errors import VerificationError
from civicstack.trust.limits import DEFAULT_LIMITS
from civicstack.trust.statements import Accreditation, AccreditationRevocation, RootAuthority

#: Longest chain of accreditations from a root to an issuer (the root itself not counted): the
#: default of :attr:`civicstack.trust.Limits.chain`.
DEFAULT_MAX_CHAIN = DEFAULT_LIMITS.chain

_SEVERITY = {
    "accreditation_revoked": 3,
    "accreditation_expired": 2,
    "out_of_scope": 1,
    "untrusted_issuer": 0,
}
_FAR = 1 << 62


@dataclass(frozen=True, slots=True)
class ChainFailure:
    """Why an accreditation (or every accreditation of an authority) does not chain to a root."""

    code: str
    detail: str

    def worse_than(self, other: ChainFailure | None) -> bool:
        """Whether this failure is more serious than ``other`` (any failure beats none)."""
        return other is None or _SEVERITY[self.code] > _SEVERITY[other.code]

    def error(self) -> VerificationError:
        """The failure as the error a caller raises."""
        return VerificationError(self.code, self.detail)


#: An authority's accreditations that chain to a root, and the most serious failure when none do.
ChainOutcome = tuple[tuple[Accreditation, ...], ChainFailure | None]


@dataclass(slots=True)
class ChainWalk:
    """One resolution: the time, the registry's records, the time boundaries compared against,
    a memo."""

    now: int
    roots: Mapping[str, RootAuthority]
    accreditations: Mapping[str, Sequence[Accreditation]]  # by authority
    revocations: Mapping[str, Sequence[AccreditationRevocation]]  # by accreditation jti
    max_chain: int = DEFAULT_MAX_CHAIN
    points: list[int] = field(default_factory=list)
    memo: dict[str, ChainOutcome] = field(default_factory=dict)
    cut: bool = False  # a cycle was cut somewhere: results may depend on the path taken

    def within(self, nbf: int, exp: int) -> bool:
        """Whether ``nbf <= now < exp``, noting both boundaries."""
        self.points += (nbf, exp)
        return nbf <= self.now < exp

    def reached(self, t: int) -> bool:
        """Whether ``t <= now``, noting the boundary."""
        self.points.append(t)
        return t <= self.now

    def span(self) -> tuple[int, int]:
        """The interval ``[lo, hi)`` around ``now`` in which no boundary compared against lies."""
        lo = max((t for t in self.points if t <= self.now), default=-_FAR)
        hi = min((t for t in self.points if t > self.now), default=_FAR)
        return lo, hi

    def resolve(
        self, authority: str, depth: int = 1, visiting: Set[str] = frozenset()
    ) -> ChainOutcome:
        """The accreditations of ``authority`` that chain to a root at ``now``."""
        memo = self.memo.get(authority)
        if memo is not None:
            return memo
        cut_before = self.cut
        self.cut = False
        candidates = self.accreditations.get(authority, [])
        valid: list[Accreditation] = []
        failure: ChainFailure | None = None
        if not candidates:
            failure = ChainFailure("untrusted_issuer", f"{authority} is not accredited")
        for acc in candidates:
            problem = self._check_link(acc, depth, visiting | {authority})
            if problem is None:
                valid.append(acc)
            elif problem.worse_than(failure):
                failure = problem
        outcome: ChainOutcome = (tuple(valid), None if valid else failure)
        if not self.cut:
            self.memo[authority] = outcome
        self.cut = self.cut or cut_before
        return outcome

    def _check_link(
        self, acc: Accreditation, depth: int, visiting: Set[str]
    ) -> ChainFailure | None:
        # 1. a revocation that has taken effect
        for revocation in self.revocations.get(acc.jti, ()):
            if self.reached(revocation.iat):
                return ChainFailure(
                    "accreditation_revoked",
                    f"{acc.accreditor} revoked {acc.authority}'s accreditation {acc.jti}"
                    if revocation.revoker == acc.accreditor
                    else f"the root revoked {acc.authority}'s accreditation {acc.jti}",
                )
        # 2. the validity period
        if not self.within(acc.nbf, acc.exp):
            return ChainFailure(
                "accreditation_expired",
                f"{acc.authority}'s accreditation {acc.jti} is valid only from {acc.nbf} "
                f"until {acc.exp}",
            )
        return self._check_under(acc, depth, visiting)

    def _check_under(
        self, acc: Accreditation, depth: int, visiting: Set[str]
    ) -> ChainFailure | None:
        # 3. directly under a root
        root = self.roots.get(acc.accreditor)
        if root is not None:
            if acc.signed_by in root.keys.thumbprints():
                return None
            return ChainFailure("untrusted_issuer", f"{acc.jti} is signed by a key the root lacks")
        # 4. under an accredited authority: resolve it, then check this link against it
        limit = self._chain_limit(acc, depth, visiting)
        if limit is not None:
            return limit
        parents, parent_failure = self.resolve(acc.accreditor, depth + 1, visiting)
        if not parents:
            cause = parent_failure or ChainFailure("untrusted_issuer", "no valid accreditation")
            return ChainFailure(cause.code, f"{acc.accreditor}: {cause.detail}")
        failure = ChainFailure(
            "untrusted_issuer", f"{acc.jti} is signed by a key its accreditor lacks"
        )
        for parent in parents:
            if acc.signed_by not in parent.keys.thumbprints():
                continue
            reason = acc.outside(parent)
            if reason is None:
                return None
            failure = ChainFailure("out_of_scope", reason)
        return failure

    def _chain_limit(
        self, acc: Accreditation, depth: int, visiting: Set[str]
    ) -> ChainFailure | None:
        # Both outcomes depend on the path taken, not only on the authority: never memoise them.
        if depth >= self.max_chain:
            self.cut = True
            return ChainFailure("untrusted_issuer", f"chain longer than {self.max_chain} links")
        if acc.accreditor in visiting:
            self.cut = True
            return ChainFailure("untrusted_issuer", f"accreditation cycle through {acc.accreditor}")
        return None
