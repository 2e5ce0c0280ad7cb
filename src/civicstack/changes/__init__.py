"""Tell us once: change reports and the rules that follow from them.

Pure, no storage: :mod:`.reports` (the kinds of change, their fields, the event type and DPV-PD
category each makes), :mod:`.signed` (the report as a JWS typed ``civicstack-change+jwt``,
signed by a citizen's PID-bound key or an accredited registrar), :mod:`.companies` (who may
report for a company: an officer the ``company`` register names) and :mod:`.electoral`
(automatic voter registration). The change service (:mod:`civicstack.services.changes`)
keeps them and publishes the events.
"""

from civicstack.changes.companies import OFFICER_CLAIMS, check_officer, officer_entry
from civicstack.changes.electoral import (
    ELECTORAL_SECTOR,
    Placement,
    RollEntry,
    RollMove,
    adult_at,
    authority_of_ero,
    ero_name,
    plan_move,
)
from civicstack.changes.reports import (
    AUTHORITY_KINDS,
    CITIZEN_KINDS,
    EVENT_CATEGORY,
    EVENT_TYPE,
    KINDS,
    Change,
    Kind,
    change_vct,
    parse_change,
)
from civicstack.changes.signed import (
    CHANGE_TYP,
    SignedChange,
    citizen_claims,
    read_change,
    registrar_claims,
)

#: The platform's change service as a data provider in consents: a consent whose provider is
#: ``tell-us-once`` lets its requester hear of the citizen's changes (see services/changes).
PROVIDER = "tell-us-once"
#: The provider's two data services a requester registers a purpose with
#: (``urn:civicstack:data:tell-us-once:<service>``): ``notices`` (thin: what changed and a
#: link to fetch it through the exchange) and ``values`` (full: the new value itself).
NOTICES_SERVICE = "notices"
VALUES_SERVICE = "values"

__all__ = [
    "AUTHORITY_KINDS",
    "CHANGE_TYP",
    "CITIZEN_KINDS",
    "ELECTORAL_SECTOR",
    "EVENT_CATEGORY",
    "EVENT_TYPE",
    "KINDS",
    "NOTICES_SERVICE",
    "OFFICER_CLAIMS",
    "PROVIDER",
    "VALUES_SERVICE",
    "Change",
    "Kind",
    "Placement",
    "RollEntry",
    "RollMove",
    "SignedChange",
    "adult_at",
    "authority_of_ero",
    "change_vct",
    "check_officer",
    "citizen_claims",
    "ero_name",
    "officer_entry",
    "parse_change",
    "plan_move",
    "read_change",
    "registrar_claims",
]
