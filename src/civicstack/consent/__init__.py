"""Consent for data exchange between organisations: records, requests, coverage decisions.

Pure rules, no storage: :mod:`.records` (consent requests and the ISO/IEC TS 27560 consent
record, with DPV terms, and their state transitions), :mod:`.coverage` (is one access covered?
:class:`CoveredAccess`), :mod:`.signed` (the citizen's signed decision and withdrawal, JWS typed
``civicstack-consent+jwt``), :mod:`.vocabulary` (the DPV terms used, with their labels) and
:mod:`.limits`. The consent service (:mod:`civicstack.services.consent`) keeps them.
"""

from civicstack.consent.coverage import CoveredAccess, decide_access
from civicstack.consent.limits import DEFAULT_LIMITS, Limits
from civicstack.consent.records import (
    ConsentRecord,
    ConsentRequest,
    ConsentState,
    Decision,
    RequestState,
    check_answerable,
    record_from_request,
    withdrawn,
)
from civicstack.consent.signed import (
    CONSENT_TYP,
    WITHDRAWAL_TYP,
    consent_claims,
    read_signed,
    withdrawal_claims,
)
from civicstack.consent.vocabulary import CATEGORIES, LEGAL_BASIS, PURPOSES

__all__ = [
    "CATEGORIES",
    "CONSENT_TYP",
    "DEFAULT_LIMITS",
    "LEGAL_BASIS",
    "PURPOSES",
    "WITHDRAWAL_TYP",
    "ConsentRecord",
    "ConsentRequest",
    "ConsentState",
    "CoveredAccess",
    "Decision",
    "Limits",
    "RequestState",
    "check_answerable",
    "consent_claims",
    "decide_access",
    "read_signed",
    "record_from_request",
    "withdrawal_claims",
    "withdrawn",
]
