"""Who may be told about a notice, and by which pairwise id: the consent seam.

:class:`EventAudience` is what the notifications service asks at fan-out, for each organisation
with a live subscription to the notice's type. The default, :class:`ConsentedAudience`, tells
an organisation about a citizen only when that citizen's consent covers it (through
:class:`EventConsents`, the narrow question the consent service answers: does a consent of
``subject`` let ``organisation`` hear of ``event_type`` now, thin or full?) and names the
citizen by the organisation's pairwise id (:mod:`civicstack.pairwise`). Until the consent
service is wired in, :class:`NoConsents` answers "no" for every citizen: nobody hears about
anyone without consent. Notices about no citizen (the test event) reach their endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from civicstack.events.notices import Audience, Notice, Representation
from civicstack.pairwise import Subject
from civicstack.types import Clock


class EventAudience(Protocol):
    """Decides, per notice and organisation, whether it is told and how."""

    def audience(self, notice: Notice, organisation: str) -> Audience | None:
        """How ``organisation`` is told about ``notice``; None: it is not told."""


class EventConsents(Protocol):
    """The consent service's answer for events (the lead wires ``Platform.consents`` here)."""

    def covers(
        self, organisation: str, subject: Subject, event_type: str, *, now: int
    ) -> Representation | None:
        """``"full"`` or ``"thin"`` if a consent of ``subject`` lets ``organisation`` hear of
        ``event_type`` at ``now``; None otherwise."""


class NoConsents:
    """No consent exists yet: no organisation hears about any citizen."""

    def covers(
        self, organisation: str, subject: Subject, event_type: str, *, now: int
    ) -> Representation | None:
        """Always None."""
        return None


class AnyOf:
    """Several grounds for telling an organisation (a consent; a legal duty such as the
    electoral registration officer's): the most any of them allows (``full`` over ``thin``)."""

    def __init__(self, *grounds: EventConsents) -> None:
        self.grounds = grounds

    def covers(
        self, organisation: str, subject: Subject, event_type: str, *, now: int
    ) -> Representation | None:
        """``full`` if any ground allows it, else ``thin`` if any does, else None."""
        best: Representation | None = None
        for ground in self.grounds:
            shown = ground.covers(organisation, subject, event_type, now=now)
            if shown == "full":
                return shown
            best = best or shown
        return best


class ConsentedAudience:
    """The default audience: consent decides, the pairwise id names."""

    def __init__(
        self,
        consents: EventConsents,
        pairwise_id: Callable[[str, Subject], str],
        clock: Clock,
    ) -> None:
        self.consents = consents
        self.pairwise_id = pairwise_id
        self.clock = clock

    def audience(self, notice: Notice, organisation: str) -> Audience | None:
        """Told only under a consent that covers it, by the organisation's pairwise id."""
        if notice.subject is None:
            return Audience(subject=None, representation="full")
        covered = self.consents.covers(
            organisation, notice.subject, notice.type, now=self.clock.now()
        )
        if covered is None:
            return None
        return Audience(self.pairwise_id(organisation, notice.subject), covered)
