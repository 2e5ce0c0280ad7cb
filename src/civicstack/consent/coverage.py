"""Is this access covered? The decision a data provider relies on before any data leaves.

The consent service answers for one access: a requester, about the citizen it knows by its
pairwise id, asks a provider for some data categories for a purpose, naming a consent. The
steps, in this order so that nobody learns anything about a consent that is not theirs:

1. the consent names this requester, this citizen (by the requester's pairwise id) and this
   provider, else ``outside_consent``;
2. it is active at ``now``: given (not refused or withdrawn), unexpired, already valid, and,
   for a "once" consent, not used yet, else ``consent_not_active`` (the detail says which);
3. the purpose is the consent's and the categories are among its categories, else
   ``outside_consent``.

On success the :class:`CoveredAccess` carries the pairwise ids the exchange needs: the
provider's (which it maps to its record) and the access log's subject handle.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from civicstack.consent.records import ConsentRecord
from civicstack.errors import CivicError

__all__ = ["CoveredAccess", "decide_access"]


@dataclass(frozen=True)
class CoveredAccess:
    """What a consent allows one access to carry, as the consent service found it at `now`."""

    consent_id: str
    consent_version: int
    requester: str  # registered relying party name (the requester's sector)
    provider: str  # the organisation holding the data (its sector)
    purpose: str  # the requester's registered purpose id (e.g. "insurance_quote")
    categories: tuple[str, ...]  # the categories this access asks for (subset of the consent's)
    requester_subject: str  # pairwise id at the requester
    provider_subject: str  # pairwise id at the provider: the provider maps it to its record
    log_subject: str  # pairwise id at civicstack.pairwise.ACCESS_LOG_SECTOR
    once: bool  # frequency "once": the consent is used up by this access


def decide_access(
    record: ConsentRecord,
    *,
    requester: str,
    requester_subject: str,
    provider: str,
    purpose: str,
    categories: Sequence[str],
    now: int,
) -> CoveredAccess:
    """The access ``record`` (the consent's latest version) covers, or the refusal (steps in
    the module docstring)."""
    # 1. the same parties: nothing more is said about someone else's consent
    if (
        requester != record.requester
        or requester_subject != record.requester_subject
        or provider != record.provider
    ):
        raise CivicError(
            "outside_consent", "the consent was given to another requester, provider or subject"
        )
    # 2. active now
    state = record.state_at(now)
    if state != "given":
        raise CivicError("consent_not_active", f"the consent is {state}")
    if now < record.valid_from:
        raise CivicError("consent_not_active", "the consent is not valid yet")
    if record.once and record.used_at is not None:
        raise CivicError("consent_not_active", "the consent was for one access, already made")
    # 3. within its purpose and categories
    if purpose != record.purpose:
        raise CivicError(
            "outside_consent", f"the consent is for {record.purpose!r}, not {purpose!r}"
        )
    asked = tuple(dict.fromkeys(categories))
    if isinstance(categories, str) or not asked:
        raise CivicError("outside_consent", "name at least one category of the consent")
    beyond = [c for c in asked if c not in record.categories]
    if beyond:
        shown = ", ".join(str(c)[:64] for c in beyond[:5])
        raise CivicError("outside_consent", f"the consent does not cover {shown}")
    return CoveredAccess(
        consent_id=record.id,
        consent_version=record.version,
        requester=record.requester,
        provider=record.provider,
        purpose=record.purpose,
        categories=asked,
        requester_subject=record.requester_subject,
        provider_subject=record.provider_subject,
        log_subject=record.log_subject,
        once=record.once,
    )
