"""GP registration's values: a practice tied to an organisation, a registration and the
relatives asked (see :mod:`civicstack.services.gp_registration`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PracticeLink", "Registration", "RelativeAsked"]


@dataclass(frozen=True, slots=True)
class PracticeLink:
    """A registered organisation acting as the GP practice with this ODS code (a key of the
    ``gp-practice`` register)."""

    organisation: str
    ods_code: str


@dataclass(frozen=True, slots=True)
class RelativeAsked:
    """A relative the patient named, and the consent request the new practice sent them."""

    relationship: str
    practice: str  # the organisation holding the relative's record
    request: str  # the consent request's id


@dataclass(frozen=True, slots=True)
class Registration:
    """A patient registered with a practice: the record fetched from the previous one under
    the patient's consent (at ``log_index`` of the access log) and the relatives asked."""

    id: str
    practice: str
    ods_code: str
    previous: str
    subject: str  # the new practice's pairwise id of the patient
    consent: str
    log_index: int
    created_at: int
    relatives: tuple[RelativeAsked, ...]
