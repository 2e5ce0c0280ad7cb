"""The consent vocabulary: W3C Data Privacy Vocabulary terms, written as CURIEs.

Data categories are DPV personal-data terms (``dpv-pd:``, https://w3id.org/dpv/pd, DPV 2.0),
purposes are DPV purposes (``dpv:``, https://w3id.org/dpv, "Purposes" taxonomy), the legal basis
is ``dpv:Consent`` and a consent's states are DPV consent statuses (``dpv:ConsentGiven``...).
Only the terms the platform uses are listed, with the label the consent screen shows; a term
not listed here is refused (``invalid_request``), so a relying party cannot put words on the
citizen's screen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType

from civicstack.errors import InputError

__all__ = [
    "CATEGORIES",
    "DPV",
    "DPV_PD",
    "LEGAL_BASIS",
    "PURPOSES",
    "STATUS_TERMS",
    "check_categories",
    "check_purpose_term",
    "expand",
]

#: CURIE prefixes (DPV 2.0 namespaces).
DPV = "https://w3id.org/dpv#"
DPV_PD = "https://w3id.org/dpv/pd#"
_PREFIXES = {"dpv": DPV, "dpv-pd": DPV_PD}

#: Personal data categories (DPV-PD) -> the label shown to the citizen.
CATEGORIES: Mapping[str, str] = MappingProxyType(
    {
        # identity and residence
        "dpv-pd:Name": "Your name",
        "dpv-pd:BirthDate": "Your date of birth",
        "dpv-pd:PhysicalAddress": "Your address",
        "dpv-pd:Nationality": "Your nationality",
        "dpv-pd:Residency": "Where you are resident (immigration status)",
        "dpv-pd:OfficialID": "Your official identification documents",
        # driving (a DVLA-like driving record)
        "dpv-pd:VehicleLicense": "Your driving licence (number, categories, validity)",
        "dpv-pd:VehicleUsage": "Your driving record (penalty points, endorsements)",
        "dpv-pd:CriminalConviction": "Your motoring convictions",
        # tax (an HMRC-like tax summary)
        "dpv-pd:Income": "Your income",
        "dpv-pd:Tax": "Your tax records (tax paid and due)",
        # health (a GP practice's patient record)
        "dpv-pd:HealthRecord": "Your health record",
        "dpv-pd:HealthHistory": "Your health history",
        "dpv-pd:FamilyHealthHistory": "Your family's health history (hereditary conditions)",
        "dpv-pd:Prescription": "Your prescriptions",
        # contact and life events (tell us once: civicstack.changes)
        "dpv-pd:Contact": "Your contact details (email address, telephone number)",
        "dpv-pd:LifeHistory": "Life events registered about you (a birth, a death)",
    }
)

#: DPV purposes a data-exchange consent may name -> the label shown to the citizen.
PURPOSES: Mapping[str, str] = MappingProxyType(
    {
        "dpv:ServiceProvision": "Providing a service you asked for",
        "dpv:RequestedServiceProvision": "Providing a service you requested",
        "dpv:EstablishContractualAgreement": "Entering into a contract with you (e.g. a quote)",
        "dpv:LegalCompliance": "Complying with a legal obligation",
        "dpv:IdentityVerification": "Verifying who you are",
        "dpv:ImprovePublicServices": "Providing public services",
    }
)

#: The legal basis of every consent record (DPV legal basis taxonomy; GDPR Art. 6(1)(a)).
LEGAL_BASIS = "dpv:Consent"

#: A consent's state -> its DPV consent status term.
STATUS_TERMS: Mapping[str, str] = MappingProxyType(
    {
        "requested": "dpv:ConsentRequested",
        "given": "dpv:ConsentGiven",
        "refused": "dpv:ConsentRefused",
        "withdrawn": "dpv:ConsentWithdrawn",
        "expired": "dpv:ConsentExpired",
    }
)


def expand(curie: str) -> str:
    """The full IRI of a ``dpv:`` or ``dpv-pd:`` CURIE."""
    prefix, _, name = curie.partition(":")
    return _PREFIXES[prefix] + name


def check_categories(value: object, *, limit: int) -> tuple[str, ...]:
    """Known DPV-PD categories, each once, at most ``limit``, in a stable (sorted) order."""
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InputError("invalid_request", "categories are a list of dpv-pd: terms")
    items = list(value) if not isinstance(value, list) else value
    if not items:
        raise InputError("invalid_request", "name at least one data category")
    if len(items) > limit:
        raise InputError("too_large", f"at most {limit} data categories")
    out: set[str] = set()
    for item in items:
        if not isinstance(item, str) or item not in CATEGORIES:
            shown = repr(item)[:80]
            raise InputError(
                "invalid_request", f"{shown} is not a data category this platform knows"
            )
        if item in out:
            raise InputError("invalid_request", f"{item} is named twice")
        out.add(item)
    return tuple(sorted(out))


def check_purpose_term(value: object) -> str:
    """A DPV purpose this platform knows."""
    if not isinstance(value, str) or value not in PURPOSES:
        raise InputError("invalid_request", "dpv_purpose is one of " + ", ".join(PURPOSES))
    return value
