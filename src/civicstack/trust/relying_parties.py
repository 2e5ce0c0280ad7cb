"""The trust registry's rules for relying parties: suspensions, registrations, requests.

A relying party is refused everywhere while a suspension stands (``relying_party_suspended``);
otherwise one of its registrations must be valid at ``now`` and signed by a root, or by an
authority whose valid accreditation may register and covers the registration's validity
(``unregistered_relying_party``); and a request must stay within the purpose it names
(``overasking``).
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Mapping, Sequence

from civicstack.errors import InputError, VerificationError
from civicstack.trust.chains import ChainOutcome
from civicstack.trust.fields import check_claim_path, check_identifier
from civicstack.trust.limits import DEFAULT_LIMITS, Limits
from civicstack.trust.statements import RelyingPartyRegistration, RootAuthority, Suspension


def suspension_stands(suspensions: Iterable[Suspension], roots: Container[str], now: int) -> bool:
    """Whether, among a relying party's suspensions and reinstatements, one stands at ``now``.

    Suspensions and reinstatements apply in time order; a reinstatement lifts its own
    signer's suspension, and a root's lifts every earlier one.
    """
    standing: set[str] = set()
    # sorted() is stable, so statements with the same iat keep the order they were added.
    for s in sorted(suspensions, key=lambda s: s.iat):
        if s.iat > now:
            break
        if s.suspended:
            standing.add(s.by)
        elif s.by in roots:
            standing.clear()
        else:
            standing.discard(s.by)
    return bool(standing)


def registration_problem(
    reg: RelyingPartyRegistration,
    now: int,
    roots: Mapping[str, RootAuthority],
    resolve: Callable[[str, int], ChainOutcome],
) -> str | None:
    """Why ``reg`` does not hold at ``now`` (``resolve`` resolves its registrar), or None."""
    if not reg.valid_at(now):
        return f"registration {reg.jti} is valid only from {reg.nbf} until {reg.exp}"
    root = roots.get(reg.registrar)
    if root is not None:
        if reg.signed_by in root.keys.thumbprints():
            return None
        return f"registration {reg.jti} is signed by a key the root lacks"
    valid, failure = resolve(reg.registrar, now)
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


def registration_allowing(
    relying_party: str,
    registrations: Sequence[RelyingPartyRegistration],
    purpose: str,
    requested: Mapping[str, tuple[str, ...]],
) -> RelyingPartyRegistration:
    """The first of ``relying_party``'s valid ``registrations`` that allows this request.

    Raises the first refusal met (``overasking`` and the like) when none does.
    """
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


def request_claims(
    claims: Mapping[str, Iterable[str]], *, limits: Limits = DEFAULT_LIMITS
) -> dict[str, tuple[str, ...]]:
    """The claim paths a request names per credential type, checked and bounded."""
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
            if total > limits.request_claims:
                raise InputError(
                    "too_large", f"a request names at most {limits.request_claims} claims"
                )
            checked.append(check_claim_path(path, limits=limits))
        out[vct] = tuple(checked)
    return out
