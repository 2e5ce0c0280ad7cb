"""What the GP registration service needs of storage (:mod:`civicstack.stores.gp_registration`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


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


class GpStorage(Protocol):
    """Practice links and registrations."""

    def link(self, link: PracticeLink, *, now: int) -> None:
        """Tie an organisation to an ODS code (replacing its earlier link); ``conflict`` if
        another organisation holds the code."""
        ...

    def by_code(self, ods_code: str) -> PracticeLink | None:
        """The organisation linked to ``ods_code``."""
        ...

    def links(self) -> Sequence[PracticeLink]:
        """Every link, by ODS code."""
        ...

    def add(self, registration: Registration) -> None:
        """Keep a registration and its relatives in one transaction."""
        ...

    def get(self, registration_id: str) -> Registration:
        """A registration (``not_found`` otherwise)."""
        ...
