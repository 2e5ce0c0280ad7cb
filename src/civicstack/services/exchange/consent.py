"""The seam to the consent service: what the exchange asks it (``ConsentCheck``).

The contract with the consent service (:mod:`civicstack.services.consent`):
:meth:`ConsentCheck.check_access` answers a ``civicstack.consent.CoveredAccess`` or raises
``consent_not_found`` (404), ``consent_not_active`` (403) or ``outside_consent`` (403), marking
a "once" consent used in the same call (unless asked only to look;
:meth:`ConsentCheck.check_access_async` only looks, on an event loop);
:meth:`ConsentCheck.log_subject_for` names the citizen's access-log handle so that refused
attempts are logged against them; :meth:`ConsentCheck.consent_for` finds the consent a link to
one category names implicitly. The exchange reads a covered access only through
:class:`Covered`, the fields it needs, so any implementation with those fields meets it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

__all__ = ["ConsentCheck", "Covered"]


class Covered(Protocol):
    """What the exchange reads of a ``civicstack.consent.CoveredAccess``."""

    @property
    def consent_id(self) -> str: ...
    @property
    def consent_version(self) -> int: ...
    @property
    def requester(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def purpose(self) -> str: ...
    @property
    def categories(self) -> tuple[str, ...]: ...
    @property
    def requester_subject(self) -> str: ...
    @property
    def provider_subject(self) -> str: ...
    @property
    def log_subject(self) -> str: ...
    @property
    def once(self) -> bool: ...


class ConsentCheck(Protocol):
    """Is this access covered by a consent the citizen gave? (the consent service)"""

    def check_access(
        self,
        consent_id: str,
        *,
        requester: str,
        requester_subject: str,
        provider: str,
        purpose: str,
        categories: Sequence[str],
        now: int,
        use: bool = True,
    ) -> Covered:
        """The covered access, or ``consent_not_found`` / ``consent_not_active`` /
        ``outside_consent``; a "once" consent is used up by this call unless ``use`` is
        false."""
        ...

    async def check_access_async(
        self,
        consent_id: str,
        *,
        requester: str,
        requester_subject: str,
        provider: str,
        purpose: str,
        categories: Sequence[str],
        now: int,
    ) -> Covered:
        """:meth:`check_access` with ``use=False``, on an event loop (the consent read with the
        others of the loop's turn)."""
        ...

    def log_subject_for(self, requester: str, requester_subject: str) -> str | None:
        """The access-log handle of the citizen ``requester`` knows as ``requester_subject``,
        if the platform has met them through a consent or consent request; else None."""
        ...

    def consent_for(
        self,
        *,
        requester: str,
        requester_subject: str,
        provider: str,
        purposes: Sequence[str],
        category: str,
        now: int,
    ) -> tuple[str, str] | None:
        """The citizen's consent (id, purpose) to ``requester`` for data of ``provider`` under
        one of ``purposes`` that names ``category``: one that covers it now if any, else the
        newest (so the exchange refuses, and logs, on the right grounds); None if none."""
        ...
