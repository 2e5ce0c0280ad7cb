"""Consent for tell-us-once events: who hears of a citizen's change, thin or full.

The consent service answers the notifications service's question
(:class:`civicstack.services.notifications.EventConsents`): may ``organisation`` hear of an event
of ``type`` about ``subject`` now? A consent says so when all of these hold:

1. its requester is the organisation and its provider is the platform's change service,
   :data:`civicstack.changes.PROVIDER` (``tell-us-once``), and it names the citizen (the
   organisation's pairwise id for them);
2. it is given, valid at ``now``, and not a "once" consent (one event would use it up);
3. its categories hold the DPV-PD category of the event type
   (:data:`civicstack.changes.EVENT_CATEGORY`: an address change is ``dpv-pd:PhysicalAddress``).

Thin or full is the consent's *purpose*: the requester registers each tell-us-once purpose with
one of the provider's two data services, ``urn:civicstack:data:tell-us-once:notices`` (thin:
what changed and a link to fetch it through the access-logged exchange) or
``urn:civicstack:data:tell-us-once:values`` (full: the new value travels in the event). The
citizen consents to that purpose (the consent screen shows its registered description), and
the value travels only while the requester's registration of that purpose still names the
``values`` service for the category: a registration narrowed to ``notices`` makes the events
thin, one withdrawn or suspended stops them.
"""

from __future__ import annotations

from collections.abc import Callable

from civicstack.changes import EVENT_CATEGORY, NOTICES_SERVICE, PROVIDER, VALUES_SERVICE
from civicstack.errors import CivicError
from civicstack.events.notices import Representation
from civicstack.pairwise import ACCESS_LOG_SECTOR, Subject
from civicstack.services.consent.service import Consents, data_vct

__all__ = ["ConsentedEvents"]

_NOTICES = data_vct(PROVIDER, NOTICES_SERVICE)
_VALUES = data_vct(PROVIDER, VALUES_SERVICE)


class ConsentedEvents:
    """:class:`EventConsents` over the consent service's records (module docstring)."""

    def __init__(self, consents: Consents, pairwise: Callable[[str, Subject], str]) -> None:
        self.consents = consents
        self.pairwise = pairwise

    def covers(
        self, organisation: str, subject: Subject, event_type: str, *, now: int
    ) -> Representation | None:
        """``"full"``, ``"thin"`` or None (the steps of the module docstring)."""
        category = EVENT_CATEGORY.get(event_type)
        if category is None:
            return None
        log_subject = self.pairwise(ACCESS_LOG_SECTOR, subject)
        requester_subject = self.pairwise(organisation, subject)
        best: Representation | None = None
        records = self.consents.store.consents_about(
            log_subject, limit=self.consents.limits.page_size
        )
        for record in records:
            # 1. this organisation, the change service, this citizen
            if (
                record.requester != organisation
                or record.provider != PROVIDER
                or record.requester_subject != requester_subject
            ):
                continue
            # 2. active now, until withdrawn
            if record.state_at(now) != "given" or now < record.valid_from or record.once:
                continue
            # 3. the event's category
            if category not in record.categories:
                continue
            shown = self._representation(organisation, record.purpose, category, now)
            if shown == "full":
                return shown
            best = best or shown
        return best

    def _representation(
        self, organisation: str, purpose: str, category: str, now: int
    ) -> Representation | None:
        try:
            hosted = self.consents._registered(organisation, now)
            registrations = self.consents._registry(1).relying_party(hosted.identifier, now)
        except CivicError:
            return None  # unregistered or suspended: told nothing
        services = {
            vct
            for reg in registrations
            if purpose in reg.purposes
            for vct, claims in reg.purposes[purpose].claims.items()
            if category in claims
        }
        if _VALUES in services:
            return "full"
        if _NOTICES in services:
            return "thin"
        return None
